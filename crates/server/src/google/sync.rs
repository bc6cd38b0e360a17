//! Full and incremental sync of one connection, under a lease so two workers never sync it at
//! once.

use super::*;
use crate::outbox::{BookingChange, JobKind, Origin, OutboxJob};
use pillow_store::{BookingId, ConnectionId, EventId, UserId};

/// The jobs of a booking change that came from Google: the lifecycle job still runs for
/// notifications, but marked so write-back does not echo it to Google.
pub(crate) fn from_google(kind: JobKind, booking: BookingId, user: UserId) -> Vec<NewJob> {
    let change = BookingChange {
        booking_id: booking,
        user_id: user,
        origin: Some(Origin::Google),
        send_email: false,
        send_sms: false,
    };
    vec![OutboxJob::booking(kind, change).to_new_job()]
}

impl GoogleSync {
    /// Leases and syncs one connection now, recording the outcome on it.
    ///
    /// # Errors
    /// [`SyncError::Busy`] when another sync holds it, [`SyncError::Missing`] when it is
    /// gone, [`SyncError::Disabled`] when its sync is turned off, and the sync's own failure
    /// (also recorded on the connection).
    pub async fn sync_now(
        &self,
        tenant: TenantId,
        id: ConnectionId,
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
        id: ConnectionId,
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
    pub(crate) async fn run_leased(
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

    pub(crate) async fn sync_leased(
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
    pub(crate) async fn full(
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
    pub(crate) async fn incremental(
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

    pub(crate) async fn save_sync_token(
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
    pub(crate) async fn pages(
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

    pub(crate) async fn apply_page(
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
    pub(crate) async fn own_event_came_back(
        &self,
        connection: &CalendarConnection,
        item: &GoogleEvent,
    ) -> Result<(), SyncError> {
        let tenant = connection.tenant_id;
        let (kind, id) = match (
            item.private_property(BOOKING_PROPERTY),
            item.private_property(EVENT_PROPERTY),
        ) {
            (Some(b), _) => ("booking".to_string(), b.parse::<Uuid>().ok()),
            (_, Some(e)) => ("event".to_string(), e.parse::<Uuid>().ok()),
            _ => match g::parse_event_id(&item.id) {
                Some((kind, id)) => (kind, Some(id)),
                None => return Ok(()),
            },
        };
        let Some(id) = id else { return Ok(()) };
        if kind == "event" {
            if !item.is_cancelled()
                && let Some(event) = self.store.get_event(tenant, EventId(id)).await?
                && event.user_id == connection.user_id
            {
                self.store
                    .set_event_provider_ref(
                        tenant,
                        EventId(id),
                        Some(connection.id),
                        Some(&item.id),
                        item.etag.as_deref(),
                    )
                    .await?;
            }
            return Ok(());
        }
        let Some(booking) = self.store.get_booking(tenant, BookingId(id)).await? else {
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
                    &from_google(JobKind::BookingCancelled, booking.id, booking.user_id),
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
                    &from_google(JobKind::BookingRescheduled, booking.id, booking.user_id),
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
}
