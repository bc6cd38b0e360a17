//! Google as an adapter of the shared sync engine (`crate::sync`): what Google's listing
//! changed since a sync token, and our own events recognised on the way. Leases, ingest,
//! steering our bookings, status, backoff and `needs_reauth` are the engine's.

use super::*;
use crate::sync::{BookingEntry, CalendarProvider, ChangeSet, OwnEvent, ProviderError};
use pillow_store::{BookingId, EventId};

impl From<SyncError> for ProviderError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::NeedsReauth => ProviderError::NeedsReauth,
            SyncError::Store(e) => ProviderError::Store(e),
            SyncError::Crypto(e) => ProviderError::Sealed(e.to_string()),
            other => ProviderError::Other(other.to_string()),
        }
    }
}

#[async_trait::async_trait]
impl CalendarProvider for GoogleSync {
    fn kind(&self) -> &'static str {
        "google"
    }

    fn name(&self) -> &'static str {
        "Google Calendar"
    }

    fn renew_before(&self) -> SignedDuration {
        CHANNEL_RENEW_BEFORE
    }

    /// Internal events are written to Google too: `GoogleWriteBack` delivers both.
    fn own_deliverer(&self) -> bool {
        true
    }

    /// The first sync (and any after a 410) lists 30 days back and 90 ahead; later ones ask
    /// only for what changed since the sync token.
    async fn changes(
        &self,
        connection: &CalendarConnection,
        cursor: Option<&str>,
    ) -> Result<ChangeSet, ProviderError> {
        let listed = match cursor {
            Some(token) => match self.list(connection, Some(token)).await {
                Err(SyncError::Google(GoogleError::SyncTokenExpired)) => {
                    tracing::info!(connection = %connection.id, "sync token expired: full sync");
                    self.list(connection, None).await
                }
                other => other,
            },
            None => self.list(connection, None).await,
        };
        Ok(listed?)
    }

    async fn write_booking(
        &self,
        connection: &CalendarConnection,
        entry: &BookingEntry,
    ) -> Result<(), ProviderError> {
        Ok(self.write_booking_event(connection, entry).await?)
    }

    async fn delete_booking(
        &self,
        connection: &CalendarConnection,
        booking: BookingId,
    ) -> Result<(), ProviderError> {
        let event_id = g::event_id_for("booking", booking.0);
        Ok(self.delete_remote(connection, &event_id).await?)
    }

    async fn ensure_notifications(
        &self,
        connection: &CalendarConnection,
    ) -> Result<(), ProviderError> {
        if self.push {
            self.ensure_channel(connection).await?;
        }
        Ok(())
    }

    /// Stops the channel and revokes the grant at Google (best effort: the user wants us gone
    /// even when Google is down).
    async fn release(&self, connection: &CalendarConnection) {
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
    }
}

impl GoogleSync {
    /// Follows `nextPageToken` to the end (pages may be empty) from the sync token, or over
    /// the whole window without one; the last page's `nextSyncToken` is the next cursor.
    async fn list(
        &self,
        connection: &CalendarConnection,
        sync_token: Option<&str>,
    ) -> Result<ChangeSet, SyncError> {
        let now = Timestamp::now();
        let mut request = match sync_token {
            Some(token) => ListEvents {
                sync_token: Some(token.to_string()),
                max_results: Some(PAGE_SIZE),
                ..Default::default()
            },
            None => ListEvents {
                time_min: Some(now - SignedDuration::from_hours(24 * DAYS_BACK)),
                time_max: Some(now + SignedDuration::from_hours(24 * DAYS_AHEAD)),
                max_results: Some(PAGE_SIZE),
                ..Default::default()
            },
        };
        let mut changes = ChangeSet {
            full: sync_token.is_none(),
            ..Default::default()
        };
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
            for item in &page.items {
                self.classify(connection, item, &mut changes).await?;
            }
            match page.next_page_token {
                Some(next) => request.page_token = Some(next),
                None => {
                    if page.next_sync_token.is_none() {
                        tracing::warn!(connection = %connection.id,
                            "Google sent no sync token; next sync is full");
                    }
                    changes.cursor = page.next_sync_token;
                    return Ok(changes);
                }
            }
        }
    }

    /// Sorts one listed item: busy time, a tombstone, or one of our own events (whose Google
    /// id and ETag are remembered on the local event it mirrors).
    async fn classify(
        &self,
        connection: &CalendarConnection,
        item: &GoogleEvent,
        changes: &mut ChangeSet,
    ) -> Result<(), SyncError> {
        if let Some((kind, id)) = ours(item) {
            return match id {
                Some(id) => {
                    self.own_event_came_back(connection, item, &kind, id, changes)
                        .await
                }
                None => Ok(()),
            };
        }
        if item.is_cancelled() {
            changes.deleted.push(item.id.clone());
            return Ok(());
        }
        match to_local(connection, item) {
            Some(event) => changes.upserts.push(event),
            None => tracing::warn!(connection = %connection.id, event = %item.id,
                "skipping a Google event without a usable start and end"),
        }
        Ok(())
    }

    /// One of our events as Google has it now. A booking's goes to the engine to steer its
    /// booking (deleted there: cancelled; moved: moved); either way the Google id and ETag
    /// are remembered.
    async fn own_event_came_back(
        &self,
        connection: &CalendarConnection,
        item: &GoogleEvent,
        kind: &str,
        id: Uuid,
        changes: &mut ChangeSet,
    ) -> Result<(), SyncError> {
        let tenant = connection.tenant_id;
        let local = if kind == "event" {
            if item.is_cancelled() {
                return Ok(());
            }
            self.store
                .get_event(tenant, EventId(id))
                .await?
                .filter(|e| e.user_id == connection.user_id)
                .map(|e| e.id)
        } else {
            let booking = BookingId(id);
            let ours = self.store.get_booking(tenant, booking).await?.filter(|b| {
                b.user_id == connection.user_id && b.status == BookingStatus::Confirmed
            });
            if ours.is_none() {
                return Ok(());
            }
            if item.is_cancelled() {
                changes.own.push(OwnEvent {
                    booking,
                    span: None,
                });
                return Ok(());
            }
            // An all-day copy of a booking says nothing about its time: it stays.
            if let Some(span) = timed_span(item) {
                changes.own.push(OwnEvent {
                    booking,
                    span: Some(span),
                });
            }
            self.store
                .booking_event(tenant, booking)
                .await?
                .map(|e| e.id)
        };
        if let Some(local) = local {
            self.store
                .set_event_provider_ref(
                    tenant,
                    local,
                    Some(connection.id),
                    Some(&item.id),
                    item.etag.as_deref(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Which of our objects an event names (`booking` or `event`, and its id): our private
/// extended properties, or our deterministic event id. The id is `None` when a property of
/// ours holds no id we could have written: ours, but naming nothing.
fn ours(item: &GoogleEvent) -> Option<(String, Option<Uuid>)> {
    if let Some(b) = item.private_property(BOOKING_PROPERTY) {
        return Some(("booking".into(), b.parse().ok()));
    }
    if let Some(e) = item.private_property(EVENT_PROPERTY) {
        return Some(("event".into(), e.parse().ok()));
    }
    g::parse_event_id(&item.id).map(|(kind, id)| (kind, Some(id)))
}
