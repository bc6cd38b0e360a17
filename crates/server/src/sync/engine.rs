//! The shared sync: lease, ask the provider for changes, apply them, record the outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_providers::caldav::AddressPolicy;
use pillow_store::{
    BookingId, BookingStatus, CalendarConnection, ConnectionId, ConnectionPatch, ConnectionStatus,
    NewJob, Store, StoreError, TenantId, UserId,
};
use uuid::Uuid;

use super::caldav::CalDavProvider;
use super::microsoft::MicrosoftProvider;
use super::provider::{CalendarProvider, ChangeSet, OwnEvent, ProviderError};
use super::{SyncReport, Trigger, origin_of};
use crate::outbox::{BookingChange, JobKind, OutboxJob};

/// How long a sync may hold a connection before another process may take it over, unless
/// `SYNC_LEASE_SECONDS` says otherwise ([`crate::Config::sync_lease`]).
pub const LEASE: SignedDuration = SignedDuration::from_mins(5);
/// Synced events are written in batches of this many, each extending the lease.
const BATCH: usize = 500;

/// Why a sync did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another sync of the connection is running (in this process or another).
    #[error("another sync of this connection is running")]
    Busy,
    /// Sync is turned off for the connection (`sync_enabled: false`).
    #[error(
        "sync is turned off for this connection; turn it on with PATCH \
         /api/calendar/providers/{{id}} and {{\"sync_enabled\": true}}"
    )]
    Disabled,
    #[error("the connection does not exist")]
    Missing,
    /// No adapter for this kind on this server (Google or Outlook when not configured).
    #[error("connections of kind {0:?} are not synced by this engine")]
    Unsupported(String),
}

impl EngineError {
    pub fn needs_reauth(&self) -> bool {
        matches!(self, EngineError::Provider(ProviderError::NeedsReauth))
    }
}

/// The engine: one per process, shared by handlers, the scheduler and the outbox worker.
pub struct SyncEngine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) secrets: pillow_providers::crypto::SecretBox,
    providers: HashMap<&'static str, Arc<dyn CalendarProvider>>,
    pub(crate) caldav: Arc<CalDavProvider>,
    /// Outlook, when `MICROSOFT_OAUTH_*` is configured.
    pub microsoft: Option<Arc<MicrosoftProvider>>,
    interval: SignedDuration,
    /// How long each lease lasts (extended batch by batch while a sync runs).
    lease: SignedDuration,
    /// Names this process's leases.
    owner: String,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("owner", &self.owner)
            .field("kinds", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SyncEngine {
    pub fn new(store: Arc<dyn Store>, config: &crate::Config) -> Self {
        let policy = if config.caldav_allow_private_networks {
            AddressPolicy::AllowPrivate
        } else {
            AddressPolicy::PublicOnly
        };
        let caldav = Arc::new(CalDavProvider::new(
            store.clone(),
            config.secrets.clone(),
            policy,
        ));
        let mut providers: HashMap<&'static str, Arc<dyn CalendarProvider>> = HashMap::new();
        providers.insert(caldav.kind(), caldav.clone());
        let microsoft = config
            .microsoft
            .as_ref()
            .map(|m| Arc::new(MicrosoftProvider::new(store.clone(), config, m)));
        if let Some(microsoft) = &microsoft {
            providers.insert(microsoft.kind(), microsoft.clone());
        }
        Self {
            store,
            secrets: config.secrets.clone(),
            providers,
            caldav,
            microsoft,
            interval: SignedDuration::try_from(config.sync_interval)
                .unwrap_or(SignedDuration::from_mins(5)),
            lease: SignedDuration::try_from(config.sync_lease).unwrap_or(LEASE),
            owner: format!("pid{}", std::process::id()),
        }
    }

    /// Registers the adapter of a provider that lives outside `sync/` (an integration above
    /// it, such as Google), at start-up.
    #[must_use]
    pub fn with_provider(mut self, provider: Arc<dyn CalendarProvider>) -> Self {
        self.providers.insert(provider.kind(), provider);
        self
    }

    /// The adapter for connections of `kind`, if this engine syncs them.
    pub fn provider(&self, kind: &str) -> Option<Arc<dyn CalendarProvider>> {
        self.providers.get(kind).cloned()
    }

    /// The kinds this engine syncs.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.providers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// A lease holder's name for one run: this process, and the run.
    pub fn run_owner(&self) -> String {
        format!("{}:{}", self.owner, Uuid::new_v4())
    }

    /// Leases and syncs one connection now, recording the outcome on it.
    ///
    /// # Errors
    /// [`EngineError::Busy`] when another sync holds it, [`EngineError::Missing`],
    /// [`EngineError::Disabled`], and the sync's own failure (also recorded).
    pub async fn sync_now(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        trigger: Trigger,
    ) -> Result<SyncReport, EngineError> {
        // Each run leases under a name of its own, so two runs in one process exclude each
        // other as runs in two processes do.
        let owner = self.run_owner();
        let leased = self
            .store
            .lease_calendar_connection(tenant, id, &owner, Timestamp::now(), self.lease)
            .await?;
        let Some(connection) = leased else {
            return match self.store.get_calendar_connection(tenant, id).await? {
                Some(_) => Err(EngineError::Busy),
                None => Err(EngineError::Missing),
            };
        };
        // Checked under the lease, so every trigger (push, manual, connect) obeys the toggle.
        let refused = if !connection.sync_enabled {
            Some(EngineError::Disabled)
        } else if self.provider(&connection.kind).is_none() {
            Some(EngineError::Unsupported(connection.kind.clone()))
        } else {
            None
        };
        if let Some(error) = refused {
            self.store
                .release_calendar_connection(tenant, id, &owner)
                .await?;
            return Err(error);
        }
        self.run_leased(connection, trigger, &owner).await
    }

    /// [`SyncEngine::sync_now`], waiting up to `patience` for a running sync to finish.
    ///
    /// # Errors
    /// As [`SyncEngine::sync_now`].
    pub async fn sync_when_free(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        trigger: Trigger,
        patience: Duration,
    ) -> Result<SyncReport, EngineError> {
        let started = std::time::Instant::now();
        loop {
            match self.sync_now(tenant, id, trigger).await {
                Err(EngineError::Busy) if started.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    /// Leases and syncs up to a batch of due connections of any tenant. Connections of kinds
    /// this engine does not sync (Google, when it is not configured) are put off by one
    /// interval.
    ///
    /// # Errors
    /// Only database failures; a failing sync is recorded on its connection.
    pub async fn sync_due(&self) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let owner = self.run_owner();
        // The shortest notice any provider renews at: one that renews later would otherwise
        // be due on every step until it does.
        let renew = self
            .providers
            .values()
            .map(|p| p.renew_before())
            .min()
            .unwrap_or(SignedDuration::from_hours(2));
        let due = self
            .store
            .lease_due_calendar_connections(&owner, now, self.lease, now + renew, 8)
            .await?;
        let count = due.len();
        for connection in due {
            if self.provider(&connection.kind).is_none() {
                self.put_off(&connection, &owner).await?;
                continue;
            }
            if let Err(EngineError::Store(error)) =
                self.run_leased(connection, Trigger::Poll, &owner).await
            {
                return Err(error);
            }
        }
        Ok(count)
    }

    /// Gives back the lease of a connection nothing here can sync, due again one interval on.
    async fn put_off(
        &self,
        connection: &CalendarConnection,
        owner: &str,
    ) -> Result<(), StoreError> {
        let patch = ConnectionPatch {
            next_sync_at: Some(Timestamp::now() + self.interval),
            ..Default::default()
        };
        self.store
            .update_calendar_connection(connection.tenant_id, connection.id, &patch)
            .await?;
        self.store
            .release_calendar_connection(connection.tenant_id, connection.id, owner)
            .await
    }

    /// Syncs a connection whose lease `owner` holds, records the outcome and gives the lease
    /// back.
    ///
    /// # Errors
    /// The sync's failure, after recording it.
    pub async fn run_leased(
        &self,
        connection: CalendarConnection,
        trigger: Trigger,
        owner: &str,
    ) -> Result<SyncReport, EngineError> {
        let started = std::time::Instant::now();
        let result = match self.provider(&connection.kind) {
            Some(provider) => {
                self.sync_leased(provider.as_ref(), &connection, owner)
                    .await
            }
            None => Err(EngineError::Unsupported(connection.kind.clone())),
        };
        let now = Timestamp::now();
        let (outcome, patch) = self.outcome(&connection, &result, now);
        let kind = connection.kind.clone();
        metrics::counter!("calendar_sync_runs_total", "provider" => kind.clone(),
            "trigger" => trigger.as_str(), "outcome" => outcome)
        .increment(1);
        metrics::histogram!("calendar_sync_duration_seconds", "provider" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(report) => tracing::info!(connection = %connection.id, provider = %kind,
                trigger = trigger.as_str(), full = report.full, upserted = report.upserted,
                deleted = report.deleted, own = report.own, "calendar sync done"),
            Err(error) => tracing::warn!(connection = %connection.id, provider = %kind,
                trigger = trigger.as_str(), %error, "calendar sync failed"),
        }
        self.store
            .update_calendar_connection(connection.tenant_id, connection.id, &patch)
            .await?;
        self.store
            .release_calendar_connection(connection.tenant_id, connection.id, owner)
            .await?;
        result
    }

    /// What a sync's result changes on its connection, and its outcome for metrics.
    fn outcome(
        &self,
        connection: &CalendarConnection,
        result: &Result<SyncReport, EngineError>,
        now: Timestamp,
    ) -> (&'static str, ConnectionPatch) {
        match result {
            Ok(_) => (
                "success",
                ConnectionPatch {
                    status: Some(ConnectionStatus::Active),
                    last_synced_at: Some(now),
                    last_error: Some(None),
                    failure_count: Some(0),
                    next_sync_at: Some(now + self.interval),
                    ..Default::default()
                },
            ),
            Err(error) if error.needs_reauth() => {
                let name = self
                    .provider(&connection.kind)
                    .map_or("the calendar", |p| p.name());
                (
                    "needs_reauth",
                    ConnectionPatch {
                        status: Some(ConnectionStatus::NeedsReauth),
                        last_error: Some(Some(format!(
                            "{name} refused our credentials; connect {name} again"
                        ))),
                        ..Default::default()
                    },
                )
            }
            Err(error) => {
                let failures = connection.failure_count.saturating_add(1);
                let wait = match error {
                    EngineError::Provider(ProviderError::RateLimited {
                        retry_after: Some(after),
                    }) => SignedDuration::try_from(*after).unwrap_or(self.interval),
                    _ => crate::outbox::backoff(failures).min(self.interval),
                };
                (
                    if matches!(
                        error,
                        EngineError::Provider(ProviderError::RateLimited { .. })
                    ) {
                        "rate_limited"
                    } else {
                        "error"
                    },
                    ConnectionPatch {
                        // A few failures in a row is an outage worth showing.
                        status: (failures >= 3).then_some(ConnectionStatus::Error),
                        last_error: Some(Some(error.to_string())),
                        failure_count: Some(failures),
                        next_sync_at: Some(now + wait),
                        ..Default::default()
                    },
                )
            }
        }
    }

    async fn sync_leased(
        &self,
        provider: &dyn CalendarProvider,
        connection: &CalendarConnection,
        owner: &str,
    ) -> Result<SyncReport, EngineError> {
        let changes = provider
            .changes(connection, connection.sync_token.as_deref())
            .await?;
        let report = self.apply(connection, changes, owner).await?;
        provider.ensure_notifications(connection).await?;
        Ok(report)
    }

    /// Stores a change set: busy time in batches (each extending the lease), pruning after a
    /// full listing, our own bookings steered, and the cursor saved last (so a sync that dies
    /// half-way starts again from the previous cursor, and applying twice is harmless).
    pub(crate) async fn apply(
        &self,
        connection: &CalendarConnection,
        changes: ChangeSet,
        owner: &str,
    ) -> Result<SyncReport, EngineError> {
        let (tenant, user) = (connection.tenant_id, connection.user_id);
        let mut report = SyncReport {
            full: changes.full,
            upserted: changes.upserts.len(),
            deleted: changes.deleted.len(),
            own: changes.own.len(),
        };
        for batch in changes.upserts.chunks(BATCH) {
            self.store
                .apply_synced_events(tenant, connection.id, user, batch, &[])
                .await?;
            self.extend(connection, owner).await?;
        }
        if !changes.deleted.is_empty() {
            self.store
                .apply_synced_events(tenant, connection.id, user, &[], &changes.deleted)
                .await?;
        }
        if changes.full {
            let keep: Vec<String> = changes
                .upserts
                .iter()
                .filter_map(|e| e.external_id.clone())
                .collect();
            report.deleted += self
                .store
                .prune_synced_events(tenant, connection.id, user, &keep)
                .await? as usize;
        }
        metrics::counter!("calendar_sync_events_total", "provider" => connection.kind.clone())
            .increment((report.upserted + report.deleted) as u64);
        for own in &changes.own {
            self.own_event_came_back(connection, own).await?;
        }
        self.store
            .update_calendar_connection(
                tenant,
                connection.id,
                &ConnectionPatch {
                    sync_token: Some(changes.cursor),
                    ..Default::default()
                },
            )
            .await?;
        Ok(report)
    }

    async fn extend(&self, connection: &CalendarConnection, owner: &str) -> Result<(), StoreError> {
        self.store
            .lease_calendar_connection(
                connection.tenant_id,
                connection.id,
                owner,
                Timestamp::now(),
                self.lease,
            )
            .await
            .map(drop)
    }

    /// One of our bookings as the provider has it now: deleted there cancels it; moved there
    /// moves it (unless that clashes, when it stays and the clash is logged).
    async fn own_event_came_back(
        &self,
        connection: &CalendarConnection,
        own: &OwnEvent,
    ) -> Result<(), StoreError> {
        let tenant = connection.tenant_id;
        let Some(booking) = self.store.get_booking(tenant, own.booking).await? else {
            return Ok(());
        };
        if booking.user_id != connection.user_id || booking.status != BookingStatus::Confirmed {
            return Ok(());
        }
        let jobs =
            |kind: JobKind| from_provider(&connection.kind, kind, booking.id, booking.user_id);
        match own.span {
            None => {
                tracing::info!(booking = %booking.id, provider = %connection.kind,
                    "the host deleted the booking's event: cancelling it");
                let name = self
                    .provider(&connection.kind)
                    .map_or("calendar", |p| p.name());
                let reason = format!("Deleted from the host's {name}");
                self.store
                    .cancel_booking(
                        tenant,
                        booking.id,
                        Some(reason.as_str()),
                        &jobs(JobKind::BookingCancelled),
                        None,
                    )
                    .await?;
            }
            Some((start, end)) if (start, end) != (booking.start, booking.end) => {
                tracing::info!(booking = %booking.id, %start, %end, provider = %connection.kind,
                    "the host moved the booking's event: moving it");
                match self
                    .store
                    .reschedule_booking(
                        tenant,
                        booking.id,
                        start,
                        end,
                        &jobs(JobKind::BookingRescheduled),
                        None,
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict(constraint)) => {
                        tracing::warn!(booking = %booking.id, %constraint,
                            "the host moved a booking onto busy time; it stays where it was here");
                    }
                    Err(other) => return Err(other),
                }
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// The jobs of a booking change that came from a provider: the lifecycle job still runs for
/// notifications, marked so write-back does not echo it there.
fn from_provider(kind: &str, job: JobKind, booking: BookingId, user: UserId) -> Vec<NewJob> {
    let change = BookingChange {
        booking_id: booking,
        user_id: user,
        origin: origin_of(kind),
        send_email: false,
        send_sms: false,
    };
    vec![OutboxJob::booking(job, change).to_new_job()]
}
