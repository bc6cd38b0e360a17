//! Two-way sync with Google Calendar: tokens, initial and incremental sync, push channels,
//! and write-back of our bookings and events.
//!
//! - Tokens are sealed with [`SecretBox`] at rest and refreshed a few minutes before they
//!   expire; `invalid_grant` marks the connection `needs_reauth` and nothing retries it until
//!   the user connects again.
//! - A sync holds the connection's lease in the database, so several processes never sync one
//!   connection at the same time. The first sync (and any after a 410) lists 30 days back and
//!   90 ahead page by page and then prunes what Google no longer has; later ones ask only for
//!   changes with the sync token.
//! - Events we wrote carry our ids in `extendedProperties.private`; when they come back, they
//!   are recognised and steer their booking (deleted in Google: cancelled here; moved: moved).
//! - [`Scheduler::try_execute_task`] syncs what is due, one small step that tests drive; the
//!   server runs it in a loop, and `GET /api/cron/calendar-sync` runs it on demand.

pub mod keys;
pub mod state;
mod writeback;

pub use writeback::{BOOKING_WRITE_JOB, EVENT_DELETE_JOB, EVENT_UPSERT_JOB, GoogleWriteBack};

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_providers::crypto::{CryptoError, SecretBox};
use pillow_providers::google::{
    self as g, GoogleCalendar, GoogleEndpoints, GoogleError, GoogleEvent, GoogleOAuth, ListEvents,
    RetryPolicy, WatchRequest,
};
use pillow_store::{
    BookingStatus, CalendarConnection, ConnectionPatch, ConnectionStatus, EventSource, EventStatus,
    NewCalendarEvent, NewJob, PushChannel, Store, StoreError, TenantId, Transparency,
};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{Config, GoogleConfig};
pub use state::{ConnectState, StateError, StateSigner};

/// The private extended property naming the booking an event in Google belongs to.
pub const BOOKING_PROPERTY: &str = "pillow_booking";
/// The private extended property naming the internal event an event in Google mirrors.
pub const EVENT_PROPERTY: &str = "pillow_event";
/// Refresh access tokens this long before they expire.
const REFRESH_AHEAD: SignedDuration = SignedDuration::from_mins(5);
/// How long a sync may hold a connection before another process may take it over; every page
/// extends it.
const LEASE: SignedDuration = SignedDuration::from_mins(5);
/// Renew push channels that end within this.
const CHANNEL_RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(2);
/// What we ask Google for as a channel's life (Google caps it, usually at a week).
const CHANNEL_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// The initial sync window.
const DAYS_BACK: i64 = 30;
const DAYS_AHEAD: i64 = 90;
/// Google's largest page.
const PAGE_SIZE: u32 = 2500;
/// The webhook path; `PUBLIC_URL` + this is the channel address.
pub const WEBHOOK_PATH: &str = "/api/calendar/google/webhook";

/// Why a sync or write-back did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored token cannot be opened: {0}")]
    Crypto(#[from] CryptoError),
    /// The user must connect again (Google refused our refresh token).
    #[error("Google refused our refresh token: the user must connect Google Calendar again")]
    NeedsReauth,
    /// Another process holds the connection's sync lease.
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
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether it listed everything (first sync, or after the sync token expired).
    pub full: bool,
    /// Events stored or updated.
    pub upserted: usize,
    /// Events removed (tombstones, and what a full sync no longer found).
    pub deleted: usize,
    /// Our own events seen coming back (bookings and internal events).
    pub own: usize,
    pub pages: usize,
}

/// Why a sync ran, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Connect,
    Poll,
    Push,
    Manual,
    /// Sync was turned back on.
    Resume,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Connect => "connect",
            Trigger::Poll => "poll",
            Trigger::Push => "push",
            Trigger::Manual => "manual",
            Trigger::Resume => "resume",
        }
    }
}

/// Everything Google sync needs; one per process, shared by handlers, the scheduler and the
/// outbox worker.
pub struct GoogleSync {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) secrets: SecretBox,
    pub oauth: GoogleOAuth,
    pub(crate) calendar: GoogleCalendar,
    pub states: StateSigner,
    webhook_address: String,
    push: bool,
    interval: SignedDuration,
    /// Names this process's leases.
    owner: String,
}

impl std::fmt::Debug for GoogleSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSync")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// SHA-256 in hex: what we keep of a channel token, which we only verify.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    hex::encode(bytes)
}

impl GoogleSync {
    pub fn new(store: Arc<dyn Store>, config: &Config, google: &GoogleConfig) -> Self {
        let endpoints = GoogleEndpoints {
            authorize_url: google.authorize_url.clone(),
            token_url: google.token_url.clone(),
            revoke_url: google.revoke_url.clone(),
            calendar_base: google.calendar_base.clone(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let calendar = GoogleCalendar::new(&endpoints, http.clone()).with_retry(RetryPolicy {
            max_attempts: google.retry_attempts,
            base_delay: google.retry_base_delay,
            max_delay: Duration::from_secs(32),
        });
        Self {
            oauth: GoogleOAuth::new(
                google.client_id.clone(),
                google.client_secret.clone(),
                google.redirect_uri.clone(),
                endpoints,
                http,
            ),
            calendar,
            states: StateSigner::new(
                config.jwt_secret.expose_secret().as_bytes(),
                config.secrets.clone(),
            ),
            secrets: config.secrets.clone(),
            store,
            webhook_address: format!("{}{WEBHOOK_PATH}", config.public_url),
            push: google.push,
            interval: SignedDuration::try_from(config.sync_interval)
                .unwrap_or(SignedDuration::from_mins(5)),
            owner: format!("pid{}", std::process::id()),
        }
    }

    /// A lease holder's name for one run: this process, and the run.
    fn run_owner(&self) -> String {
        format!("{}:{}", self.owner, Uuid::new_v4())
    }

    // ---- tokens ----

    /// A usable access token for the connection, refreshed first if it expires within
    /// [`REFRESH_AHEAD`] (or `force`, after a 401). A refresh that brings no new refresh token
    /// keeps the old one.
    ///
    /// # Errors
    /// [`SyncError::NeedsReauth`] when Google refuses the refresh token (the connection is
    /// marked so), or the refresh's own failure.
    pub async fn access_token(
        &self,
        connection: &CalendarConnection,
        force: bool,
    ) -> Result<SecretString, SyncError> {
        if connection.status == ConnectionStatus::NeedsReauth {
            return Err(SyncError::NeedsReauth);
        }
        let now = Timestamp::now();
        if !force
            && let (Some(sealed), Some(expires)) = (
                &connection.access_token_encrypted,
                connection.token_expires_at,
            )
            && expires > now + REFRESH_AHEAD
        {
            return Ok(SecretString::from(self.secrets.open(sealed)?));
        }
        let Some(sealed_refresh) = &connection.refresh_token_encrypted else {
            self.mark_needs_reauth(connection, "no refresh token is stored")
                .await?;
            return Err(SyncError::NeedsReauth);
        };
        let refresh = self.secrets.open(sealed_refresh)?;
        match self.oauth.refresh(&refresh).await {
            Ok(grant) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "success")
                    .increment(1);
                let patch = ConnectionPatch {
                    access_token_encrypted: Some(
                        self.secrets.seal(grant.access_token.expose_secret()),
                    ),
                    // Google usually sends no new refresh token: keep the old one.
                    refresh_token_encrypted: grant
                        .refresh_token
                        .as_ref()
                        .map(|t| self.secrets.seal(t.expose_secret())),
                    token_expires_at: Some(now + SignedDuration::from_secs(grant.expires_in)),
                    ..Default::default()
                };
                self.store
                    .update_calendar_connection(connection.tenant_id, connection.id, &patch)
                    .await?;
                Ok(grant.access_token)
            }
            Err(GoogleError::InvalidGrant) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "invalid_grant")
                    .increment(1);
                self.mark_needs_reauth(
                    connection,
                    "Google refused the refresh token (invalid_grant)",
                )
                .await?;
                Err(SyncError::NeedsReauth)
            }
            Err(error) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "error")
                    .increment(1);
                Err(error.into())
            }
        }
    }

    async fn mark_needs_reauth(
        &self,
        connection: &CalendarConnection,
        why: &str,
    ) -> Result<(), StoreError> {
        tracing::warn!(connection = %connection.id, why, "Google connection needs re-authorisation");
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    status: Some(ConnectionStatus::NeedsReauth),
                    last_error: Some(Some(format!("{why}; connect Google Calendar again"))),
                    ..Default::default()
                },
            )
            .await
            .map(drop)
    }

    /// Runs `call` with a fresh access token, refreshing once and retrying on a 401.
    async fn with_token<T, F, Fut>(
        &self,
        connection: &CalendarConnection,
        call: F,
    ) -> Result<T, SyncError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, GoogleError>>,
    {
        let token = self.access_token(connection, false).await?;
        match call(token).await {
            Err(GoogleError::Unauthorized) => {
                let token = self.access_token(connection, true).await?;
                Ok(call(token).await?)
            }
            other => Ok(other?),
        }
    }

    // ---- sync ----

    /// Leases and syncs one connection now, recording the outcome on it.
    ///
    /// # Errors
    /// [`SyncError::Busy`] when another sync holds it, [`SyncError::Missing`] when it is
    /// gone, [`SyncError::Disabled`] when its sync is turned off, and the sync's own failure
    /// (also recorded on the connection).
    pub async fn sync_now(
        &self,
        tenant: TenantId,
        id: Uuid,
        trigger: Trigger,
    ) -> Result<SyncReport, SyncError> {
        // Each run leases under a name of its own, so two runs in one process exclude each
        // other as runs in two processes do.
        let owner = self.run_owner();
        let leased = self
            .store
            .lease_calendar_connection(tenant, id, &owner, Timestamp::now(), LEASE)
            .await?;
        let Some(connection) = leased else {
            return match self.store.get_calendar_connection(tenant, id).await? {
                Some(_) => Err(SyncError::Busy),
                None => Err(SyncError::Missing),
            };
        };
        // Checked under the lease, so every trigger (push, manual, connect) obeys the toggle.
        if !connection.sync_enabled {
            self.store
                .release_calendar_connection(tenant, id, &owner)
                .await?;
            return Err(SyncError::Disabled);
        }
        self.run_leased(connection, trigger, &owner).await
    }

    /// Like [`GoogleSync::sync_now`], waiting (up to `patience`) for a running sync of the
    /// same connection to finish instead of giving up: a push notification must not be lost
    /// because a poll was under way.
    pub async fn sync_when_free(
        &self,
        tenant: TenantId,
        id: Uuid,
        trigger: Trigger,
        patience: Duration,
    ) -> Result<SyncReport, SyncError> {
        let started = std::time::Instant::now();
        loop {
            match self.sync_now(tenant, id, trigger).await {
                Err(SyncError::Busy) if started.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    /// Syncs a connection whose lease we hold, records the outcome and gives the lease back.
    async fn run_leased(
        &self,
        connection: CalendarConnection,
        trigger: Trigger,
        owner: &str,
    ) -> Result<SyncReport, SyncError> {
        let started = std::time::Instant::now();
        let result = self.sync_leased(&connection, owner).await;
        let now = Timestamp::now();
        let (outcome, patch) = match &result {
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
            Err(SyncError::NeedsReauth) => ("needs_reauth", ConnectionPatch::default()),
            Err(error) => {
                let failures = connection.failure_count.saturating_add(1);
                let backoff = crate::outbox::backoff(failures).min(self.interval);
                (
                    "error",
                    ConnectionPatch {
                        // A few failures in a row is an outage worth showing.
                        status: (failures >= 3).then_some(ConnectionStatus::Error),
                        last_error: Some(Some(error.to_string())),
                        failure_count: Some(failures),
                        next_sync_at: Some(now + backoff),
                        ..Default::default()
                    },
                )
            }
        };
        metrics::counter!("calendar_sync_runs_total", "provider" => "google",
            "trigger" => trigger.as_str(), "outcome" => outcome)
        .increment(1);
        metrics::histogram!("calendar_sync_duration_seconds", "provider" => "google")
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(report) => tracing::info!(connection = %connection.id, trigger = trigger.as_str(),
                full = report.full, upserted = report.upserted, deleted = report.deleted,
                own = report.own, "Google sync done"),
            Err(error) => tracing::warn!(connection = %connection.id, trigger = trigger.as_str(),
                %error, "Google sync failed"),
        }
        if patch != ConnectionPatch::default() {
            self.store
                .update_calendar_connection(connection.tenant_id, connection.id, &patch)
                .await?;
        }
        self.store
            .release_calendar_connection(connection.tenant_id, connection.id, owner)
            .await?;
        result
    }

    async fn sync_leased(
        &self,
        connection: &CalendarConnection,
        owner: &str,
    ) -> Result<SyncReport, SyncError> {
        let mut report = match &connection.sync_token {
            Some(token) => match self.incremental(connection, token, owner).await {
                Err(SyncError::Google(GoogleError::SyncTokenExpired)) => {
                    tracing::info!(connection = %connection.id, "sync token expired: full sync");
                    self.store
                        .update_calendar_connection(
                            connection.tenant_id,
                            connection.id,
                            &ConnectionPatch {
                                sync_token: Some(None),
                                ..Default::default()
                            },
                        )
                        .await?;
                    self.full(connection, owner).await
                }
                other => other,
            },
            None => self.full(connection, owner).await,
        }?;
        if self.push {
            self.ensure_channel(connection).await?;
        }
        report.pages = report.pages.max(1);
        Ok(report)
    }

    /// Lists the whole window, then prunes what Google no longer has.
    async fn full(
        &self,
        connection: &CalendarConnection,
        owner: &str,
    ) -> Result<SyncReport, SyncError> {
        let now = Timestamp::now();
        let request = ListEvents {
            time_min: Some(now - SignedDuration::from_hours(24 * DAYS_BACK)),
            time_max: Some(now + SignedDuration::from_hours(24 * DAYS_AHEAD)),
            max_results: Some(PAGE_SIZE),
            ..Default::default()
        };
        let mut keep = Vec::new();
        let mut report = SyncReport {
            full: true,
            ..Default::default()
        };
        let sync_token = self
            .pages(connection, request, &mut report, Some(&mut keep), owner)
            .await?;
        report.deleted += self
            .store
            .prune_synced_events(
                connection.tenant_id,
                connection.id,
                connection.user_id,
                &keep,
            )
            .await? as usize;
        self.save_sync_token(connection, sync_token).await?;
        Ok(report)
    }

    /// Asks only for what changed since the sync token.
    async fn incremental(
        &self,
        connection: &CalendarConnection,
        token: &str,
        owner: &str,
    ) -> Result<SyncReport, SyncError> {
        let request = ListEvents {
            sync_token: Some(token.to_string()),
            max_results: Some(PAGE_SIZE),
            ..Default::default()
        };
        let mut report = SyncReport::default();
        let sync_token = self
            .pages(connection, request, &mut report, None, owner)
            .await?;
        self.save_sync_token(connection, sync_token).await?;
        Ok(report)
    }

    async fn save_sync_token(
        &self,
        connection: &CalendarConnection,
        token: Option<String>,
    ) -> Result<(), StoreError> {
        if token.is_none() {
            tracing::warn!(connection = %connection.id, "Google sent no sync token; next sync is full");
        }
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    sync_token: Some(token),
                    ..Default::default()
                },
            )
            .await
            .map(drop)
    }

    /// Follows `nextPageToken` to the end (pages may be empty), applying each page as it
    /// comes; the last page's `nextSyncToken`. `keep` collects the ids a full sync saw.
    async fn pages(
        &self,
        connection: &CalendarConnection,
        mut request: ListEvents,
        report: &mut SyncReport,
        mut keep: Option<&mut Vec<String>>,
        owner: &str,
    ) -> Result<Option<String>, SyncError> {
        loop {
            let page = self
                .with_token(connection, |token| {
                    let request = request.clone();
                    async move {
                        self.calendar
                            .list_events(token.expose_secret(), &connection.calendar_id, &request)
                            .await
                    }
                })
                .await?;
            report.pages += 1;
            self.apply_page(connection, &page.items, report, keep.as_deref_mut())
                .await?;
            // Still ours: extend the lease for the next page.
            self.store
                .lease_calendar_connection(
                    connection.tenant_id,
                    connection.id,
                    owner,
                    Timestamp::now(),
                    LEASE,
                )
                .await?;
            match page.next_page_token {
                Some(next) => request.page_token = Some(next),
                None => return Ok(page.next_sync_token),
            }
        }
    }

    async fn apply_page(
        &self,
        connection: &CalendarConnection,
        items: &[GoogleEvent],
        report: &mut SyncReport,
        mut keep: Option<&mut Vec<String>>,
    ) -> Result<(), SyncError> {
        let mut upserts = Vec::with_capacity(items.len());
        let mut deleted = Vec::new();
        let mut own = Vec::new();
        for item in items {
            if item.private_property(BOOKING_PROPERTY).is_some()
                || item.private_property(EVENT_PROPERTY).is_some()
                || g::parse_event_id(&item.id).is_some()
            {
                own.push(item);
                continue;
            }
            if item.is_cancelled() {
                deleted.push(item.id.clone());
                continue;
            }
            match to_local(connection, item) {
                Some(event) => {
                    if let Some(keep) = keep.as_deref_mut() {
                        keep.push(item.id.clone());
                    }
                    upserts.push(event);
                }
                None => {
                    tracing::warn!(connection = %connection.id, event = %item.id,
                        "skipping a Google event without a usable start and end");
                }
            }
        }
        if !upserts.is_empty() || !deleted.is_empty() {
            self.store
                .apply_synced_events(
                    connection.tenant_id,
                    connection.id,
                    connection.user_id,
                    &upserts,
                    &deleted,
                )
                .await?;
        }
        metrics::counter!("calendar_sync_events_total", "provider" => "google")
            .increment((upserts.len() + deleted.len()) as u64);
        report.upserted += upserts.len();
        report.deleted += deleted.len();
        report.own += own.len();
        for item in own {
            self.own_event_came_back(connection, item).await?;
        }
        Ok(())
    }

    /// One of our events as Google has it now. A booking whose event the host deleted is
    /// cancelled; one the host moved follows; either way we remember the event's ETag.
    async fn own_event_came_back(
        &self,
        connection: &CalendarConnection,
        item: &GoogleEvent,
    ) -> Result<(), SyncError> {
        let tenant = connection.tenant_id;
        let (kind, id) = match (
            item.private_property(BOOKING_PROPERTY),
            item.private_property(EVENT_PROPERTY),
        ) {
            (Some(b), _) => ("booking".to_string(), Uuid::parse_str(b).ok()),
            (_, Some(e)) => ("event".to_string(), Uuid::parse_str(e).ok()),
            _ => match g::parse_event_id(&item.id) {
                Some((kind, id)) => (kind, Some(id)),
                None => return Ok(()),
            },
        };
        let Some(id) = id else { return Ok(()) };
        if kind == "event" {
            if !item.is_cancelled()
                && let Some(event) = self.store.get_event(tenant, id).await?
                && event.user_id == connection.user_id
            {
                self.store
                    .set_event_provider_ref(
                        tenant,
                        id,
                        Some(connection.id),
                        Some(&item.id),
                        item.etag.as_deref(),
                    )
                    .await?;
            }
            return Ok(());
        }
        let Some(booking) = self.store.get_booking(tenant, id).await? else {
            return Ok(());
        };
        if booking.user_id != connection.user_id || booking.status != BookingStatus::Confirmed {
            return Ok(());
        }
        if item.is_cancelled() {
            tracing::info!(booking = %booking.id, "the host deleted the booking's Google event: cancelling it");
            self.store
                .cancel_booking(
                    tenant,
                    booking.id,
                    Some("Deleted from the host's Google Calendar"),
                    &from_google("booking.cancelled", booking.id, booking.user_id),
                    None,
                )
                .await?;
            return Ok(());
        }
        if let Some((start, end)) = timed_span(item)
            && (start, end) != (booking.start, booking.end)
        {
            tracing::info!(booking = %booking.id, %start, %end, "the host moved the booking's Google event: moving it");
            match self
                .store
                .reschedule_booking(
                    tenant,
                    booking.id,
                    start,
                    end,
                    &from_google("booking.rescheduled", booking.id, booking.user_id),
                    None,
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::Conflict(constraint)) => {
                    tracing::warn!(booking = %booking.id, %constraint,
                        "the host moved a booking onto busy time; it stays where it was here");
                }
                Err(other) => return Err(other.into()),
            }
        }
        if let Some(event) = self.store.booking_event(tenant, booking.id).await? {
            self.store
                .set_event_provider_ref(
                    tenant,
                    event.id,
                    Some(connection.id),
                    Some(&item.id),
                    item.etag.as_deref(),
                )
                .await?;
        }
        Ok(())
    }

    // ---- push channels ----

    /// Opens a channel if there is none or it ends soon, then stops the old one. A channel
    /// Google refuses is not fatal: polling stays the safety net.
    async fn ensure_channel(&self, connection: &CalendarConnection) -> Result<(), SyncError> {
        let now = Timestamp::now();
        if connection
            .channel
            .as_ref()
            .is_some_and(|c| c.expires_at > now + CHANNEL_RENEW_BEFORE)
        {
            return Ok(());
        }
        let token = random_token();
        let request = WatchRequest {
            id: Uuid::new_v4().to_string(),
            address: self.webhook_address.clone(),
            token: token.clone(),
            ttl_seconds: Some(CHANNEL_TTL_SECONDS),
        };
        let opened = self
            .with_token(connection, |access| {
                let request = request.clone();
                async move {
                    self.calendar
                        .watch(access.expose_secret(), &connection.calendar_id, &request)
                        .await
                }
            })
            .await;
        let channel = match opened {
            Ok(channel) => Some(PushChannel {
                id: channel.id,
                resource_id: channel.resource_id,
                token_hash: hash_token(&token),
                expires_at: channel.expiration,
            }),
            Err(SyncError::NeedsReauth) => return Err(SyncError::NeedsReauth),
            Err(error) => {
                tracing::warn!(connection = %connection.id, %error,
                    "Google refused a push channel; polling only");
                None
            }
        };
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    channel: Some(channel),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(old) = &connection.channel {
            self.stop_channel(connection, old).await;
        }
        Ok(())
    }

    /// Asks Google to stop a channel; best effort (an unknown channel simply expires).
    pub async fn stop_channel(&self, connection: &CalendarConnection, channel: &PushChannel) {
        let stopped = self
            .with_token(connection, |access| async move {
                self.calendar
                    .stop_channel(access.expose_secret(), &channel.id, &channel.resource_id)
                    .await
            })
            .await;
        if let Err(error) = stopped {
            tracing::info!(connection = %connection.id, %error, "could not stop a push channel");
        }
    }

    /// Disconnect: stops the channel and revokes the grant at Google (best effort: the user
    /// wants us gone even when Google is down), then deletes the connection and its events.
    pub async fn disconnect(&self, connection: &CalendarConnection) -> Result<bool, SyncError> {
        if let Some(channel) = &connection.channel {
            self.stop_channel(connection, channel).await;
        }
        let token = connection
            .refresh_token_encrypted
            .as_ref()
            .or(connection.access_token_encrypted.as_ref())
            .and_then(|sealed| self.secrets.open(sealed).ok());
        if let Some(token) = token
            && let Err(error) = self.oauth.revoke(&token).await
        {
            tracing::info!(connection = %connection.id, %error, "could not revoke the Google grant");
        }
        Ok(self
            .store
            .delete_calendar_connection(connection.tenant_id, connection.id)
            .await?)
    }

    /// Leases and syncs up to a batch of due connections (of any tenant).
    async fn sync_due(&self) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let owner = self.run_owner();
        let due = self
            .store
            .lease_due_calendar_connections(&owner, now, LEASE, now + CHANNEL_RENEW_BEFORE, 8)
            .await?;
        let count = due.len();
        for connection in due {
            // The outcome is recorded on the connection; a store failure ends the step.
            if let Err(SyncError::Store(error)) =
                self.run_leased(connection, Trigger::Poll, &owner).await
            {
                return Err(error);
            }
        }
        Ok(count)
    }
}

/// The jobs of a booking change that came from Google: the lifecycle job still runs for
/// notifications, but marked so write-back does not echo it to Google.
fn from_google(kind: &str, booking: Uuid, user: Uuid) -> Vec<NewJob> {
    vec![NewJob {
        kind: kind.to_string(),
        payload: serde_json::json!({
            "booking_id": booking.to_string(),
            "user_id": user.to_string(),
            "origin": "google",
            "send_email": false,
            "send_sms": false,
        }),
    }]
}

/// A timed event's `[start, end)`; `None` for all-day or incomplete events.
fn timed_span(item: &GoogleEvent) -> Option<(Timestamp, Timestamp)> {
    Some((
        item.start.as_ref()?.date_time?,
        item.end.as_ref()?.date_time?,
    ))
}

/// A Google event as a local busy event: timed events keep their instants, all-day events
/// carry their dates at 00:00 UTC (end exclusive), as [`pillow_store::CalendarEvent`] does.
fn to_local(connection: &CalendarConnection, item: &GoogleEvent) -> Option<NewCalendarEvent> {
    let (start, end, all_day) = match (item.start.as_ref()?, item.end.as_ref()) {
        (s, e) if s.date_time.is_some() => {
            let start = s.date_time?;
            let end = e.and_then(|e| e.date_time).unwrap_or(start);
            (start, end, false)
        }
        (s, e) => {
            let carrier = |d: jiff::civil::Date| {
                d.to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| z.timestamp())
            };
            let start_date = s.date?;
            let end_date = e
                .and_then(|e| e.date)
                .unwrap_or_else(|| start_date.tomorrow().unwrap_or(start_date));
            (carrier(start_date)?, carrier(end_date)?, true)
        }
    };
    if end < start {
        return None;
    }
    Some(NewCalendarEvent {
        user_id: connection.user_id,
        provider_id: Some(connection.id),
        external_id: Some(item.id.clone()),
        etag: item.etag.clone(),
        title: item
            .summary
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "(busy)".to_string()),
        description: item.description.clone(),
        start,
        end,
        all_day,
        status: match item.status {
            Some(g::EventStatus::Tentative) => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        },
        transparency: match item.transparency {
            Some(g::Transparency::Transparent) => Transparency::Transparent,
            _ => Transparency::Opaque,
        },
        source: EventSource::Google,
        booking_id: None,
    })
}

/// What one scheduler step did.
pub use crate::outbox::Step;

/// The internal sync scheduler: polls due connections and renews push channels.
#[derive(Clone)]
pub struct Scheduler {
    sync: Arc<GoogleSync>,
}

impl Scheduler {
    pub fn new(sync: Arc<GoogleSync>) -> Self {
        Self { sync }
    }

    /// Syncs a batch of due connections.
    ///
    /// # Errors
    /// Only database failures; a failing sync is recorded on its connection.
    pub async fn try_execute_task(&self) -> Result<Step, StoreError> {
        match self.sync.sync_due().await? {
            0 => Ok(Step::Empty),
            n => Ok(Step::Done(n)),
        }
    }

    /// Runs until the process ends, checking for due connections every few seconds.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.try_execute_task().await {
                    Ok(Step::Done(_)) => continue,
                    Ok(Step::Empty) => tokio::time::sleep(Duration::from_secs(5)).await,
                    Err(error) => {
                        tracing::warn!(%error, "sync scheduler could not reach the database");
                        tokio::time::sleep(Duration::from_secs(15)).await;
                    }
                }
            }
        })
    }
}

/// Queues the write-back jobs that bring a member's Google Calendar up to date with what is
/// here from now on: every upcoming booking (written, or removed if it was cancelled) and
/// internal event. Called when a calendar is connected, and when its sync resumes, since
/// changes made meanwhile were not written. Writes are idempotent (our deterministic event
/// ids), so what Google already has is not duplicated.
///
/// # Errors
/// Database failures.
pub async fn queue_catch_up(
    state: &crate::AppState,
    tenant: TenantId,
    user: Uuid,
) -> Result<(), StoreError> {
    let now = jiff::Timestamp::now();
    let bookings = state
        .store
        .list_bookings(
            tenant,
            &pillow_store::BookingFilter {
                user_id: Some(user),
                from: Some(now),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await?;
    let events = state
        .store
        .list_events(
            tenant,
            &pillow_store::EventFilter {
                user_ids: vec![user],
                from: Some(now),
                to: None,
                include_cancelled: false,
            },
        )
        .await?;
    let job = |kind: &str, key: &str, id: Uuid| NewJob {
        kind: kind.to_string(),
        payload: serde_json::json!({key: id.to_string(), "user_id": user.to_string()}),
    };
    let jobs: Vec<NewJob> = bookings
        .iter()
        .map(|b| job(BOOKING_WRITE_JOB, "booking_id", b.id))
        .chain(
            events
                .iter()
                .filter(|e| e.source == pillow_store::EventSource::Internal)
                .map(|e| job(EVENT_UPSERT_JOB, "event_id", e.id)),
        )
        .collect();
    state.store.enqueue_jobs(tenant, &jobs).await
}

/// The write-back job of an internal event change (`delete` when the event goes), or none
/// when Google is not configured or the member has no Google connection. The caller hands it
/// to the store with the change itself, so the change and its write-back commit together.
pub async fn event_write_jobs(
    state: &crate::AppState,
    tenant: TenantId,
    user: Uuid,
    event: Uuid,
    delete: bool,
) -> Result<Vec<NewJob>, StoreError> {
    if state.google.is_none() {
        return Ok(Vec::new());
    }
    let connected = state
        .store
        .list_calendar_connections(tenant, Some(user))
        .await?
        .iter()
        .any(|c| c.kind == "google");
    if !connected {
        return Ok(Vec::new());
    }
    let kind = if delete {
        EVENT_DELETE_JOB
    } else {
        EVENT_UPSERT_JOB
    };
    Ok(vec![NewJob {
        kind: kind.to_string(),
        payload: serde_json::json!({
            "event_id": event.to_string(),
            "user_id": user.to_string(),
        }),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> CalendarConnection {
        CalendarConnection {
            id: Uuid::now_v7(),
            tenant_id: TenantId(Uuid::now_v7()),
            user_id: Uuid::now_v7(),
            kind: "google".into(),
            calendar_id: "primary".into(),
            account_email: String::new(),
            access_token_encrypted: None,
            refresh_token_encrypted: None,
            token_expires_at: None,
            scopes: vec![],
            sync_token: None,
            sync_enabled: true,
            status: ConnectionStatus::Active,
            last_synced_at: None,
            last_error: None,
            next_sync_at: Timestamp::now(),
            failure_count: 0,
            channel: None,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn all_day_events_carry_their_dates_and_transparency_and_status_map() {
        let item: GoogleEvent = serde_json::from_value(serde_json::json!({
            "id": "abc", "status": "tentative", "summary": "Offsite",
            "start": {"date": "2030-05-01"}, "end": {"date": "2030-05-03"},
            "transparency": "transparent"
        }))
        .unwrap();
        let local = to_local(&connection(), &item).unwrap();
        assert!(local.all_day);
        assert_eq!(local.start.to_string(), "2030-05-01T00:00:00Z");
        assert_eq!(local.end.to_string(), "2030-05-03T00:00:00Z");
        assert_eq!(local.status, EventStatus::Tentative);
        assert_eq!(local.transparency, Transparency::Transparent);
        assert_eq!(local.source, EventSource::Google);
    }

    #[test]
    fn timed_events_keep_their_instants_and_untitled_ones_say_busy() {
        let item: GoogleEvent = serde_json::from_value(serde_json::json!({
            "id": "abc", "start": {"dateTime": "2030-05-01T09:00:00-07:00"},
            "end": {"dateTime": "2030-05-01T10:00:00-07:00"}
        }))
        .unwrap();
        let local = to_local(&connection(), &item).unwrap();
        assert!(!local.all_day);
        assert_eq!(local.start.to_string(), "2030-05-01T16:00:00Z");
        assert_eq!(local.title, "(busy)");
        let backwards: GoogleEvent = serde_json::from_value(serde_json::json!({
            "id": "x", "start": {"dateTime": "2030-05-01T10:00:00Z"},
            "end": {"dateTime": "2030-05-01T09:00:00Z"}
        }))
        .unwrap();
        assert!(to_local(&connection(), &backwards).is_none());
    }
}
