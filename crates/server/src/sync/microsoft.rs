//! The Microsoft Graph adapter (Outlook, Microsoft 365), through the client in
//! `pillow_providers::microsoft`.
//!
//! Tokens are sealed like Google's and refreshed a few minutes before they expire (Microsoft
//! rotates refresh tokens: the new one replaces the old); `invalid_grant` means the user must
//! connect again. Sync is `calendarView/delta` over the window, its `@odata.deltaLink` the
//! cursor. Our bookings are created with a `transactionId` derived from the booking (a retried
//! create answers the event already made) and our booking property, and are recognised by
//! either when they come back. Change notifications use `/subscriptions`: the subscription is
//! the connection's channel, its `clientState` derived from the connection so it is never
//! stored, and it is renewed before it expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_providers::crypto::SecretBox;
use pillow_providers::google::RetryPolicy;
use pillow_providers::microsoft::{
    DateTimeTimeZone, GraphCalendar, GraphError, GraphEvent, MicrosoftOAuth, NewEvent, ShowAs,
    SubscriptionRequest, TokenGrant,
};
use pillow_store::{
    BookingId, CalendarConnection, ConnectionPatch, EventFilter, EventSource, EventStatus,
    NewCalendarEvent, PushChannel, Store, Transparency,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::provider::{BookingEntry, CalendarProvider, ChangeSet, OwnEvent, ProviderError};
use crate::config::MicrosoftConfig;
use crate::domain::time::AllDayDate;

/// Refresh access tokens this long before they expire.
const REFRESH_AHEAD: SignedDuration = SignedDuration::from_mins(5);
/// The sync window, as for CalDAV.
const DAYS_BACK: i64 = 30;
const DAYS_AHEAD: i64 = 180;
/// What we ask for as a subscription's life (Graph allows up to 10,080 minutes for events).
const SUBSCRIPTION_LIFE: SignedDuration = SignedDuration::from_hours(72);
/// Renew subscriptions that end within this.
pub const RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(12);
/// How often a write re-reads after a 412 before giving up until the outbox retries.
const WRITE_ATTEMPTS: usize = 3;
/// The webhook path; `PUBLIC_URL` + this is the notification URL.
pub const WEBHOOK_PATH: &str = "/api/calendar/microsoft/webhook";

/// The Microsoft [`CalendarProvider`].
pub struct MicrosoftProvider {
    store: Arc<dyn Store>,
    secrets: SecretBox,
    pub oauth: MicrosoftOAuth,
    graph: GraphCalendar,
    /// Derives each subscription's `clientState`.
    state_key: [u8; 32],
    /// `None`: no subscriptions (no public URL to receive them).
    webhook: Option<String>,
}

impl MicrosoftProvider {
    pub fn new(store: Arc<dyn Store>, config: &crate::Config, microsoft: &MicrosoftConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let graph =
            GraphCalendar::new(&microsoft.endpoints, http.clone()).with_retry(RetryPolicy {
                max_attempts: microsoft.retry_attempts,
                base_delay: microsoft.retry_base_delay,
                max_delay: Duration::from_secs(32),
            });
        let mut mac = Hmac::<Sha256>::new_from_slice(config.jwt_secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"pillow-calendar microsoft client state v1");
        Self {
            store,
            secrets: config.secrets.clone(),
            oauth: MicrosoftOAuth::new(
                microsoft.client_id.clone(),
                microsoft.client_secret.clone(),
                microsoft.redirect_uri.clone(),
                microsoft.endpoints.clone(),
                http,
            ),
            graph,
            state_key: mac.finalize().into_bytes().into(),
            webhook: (config.public_url.starts_with("https://")
                || config.public_url.starts_with("http://127.0.0.1")
                || config.public_url.starts_with("http://localhost"))
            .then(|| format!("{}{WEBHOOK_PATH}", config.public_url)),
        }
    }

    /// The `clientState` of a connection's subscriptions: derived, so never stored.
    pub fn client_state(&self, connection: &CalendarConnection) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.state_key).expect("any key length");
        mac.update(connection.id.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The sealed tokens and expiry to store for a grant.
    pub fn sealed(&self, grant: &TokenGrant) -> (String, Option<String>, Timestamp) {
        (
            self.secrets.seal(grant.access_token.expose_secret()),
            grant
                .refresh_token
                .as_ref()
                .map(|t| self.secrets.seal(t.expose_secret())),
            Timestamp::now() + SignedDuration::from_secs(grant.expires_in),
        )
    }

    /// A usable access token: the stored one, or a refreshed one (stored, with the rotated
    /// refresh token) when it is about to expire or `force`.
    async fn token(
        &self,
        connection: &CalendarConnection,
        force: bool,
    ) -> Result<SecretString, ProviderError> {
        // Another process may have refreshed since this copy was read.
        let current = self
            .store
            .get_calendar_connection(connection.tenant_id, connection.id)
            .await?
            .ok_or_else(|| ProviderError::Other("the connection is gone".into()))?;
        let fresh = current
            .token_expires_at
            .is_some_and(|at| at > Timestamp::now() + REFRESH_AHEAD);
        if fresh
            && !force
            && let Some(sealed) = &current.access_token_encrypted
        {
            return self.open(sealed).map(SecretString::from);
        }
        let refresh = current
            .refresh_token_encrypted
            .as_deref()
            .ok_or(ProviderError::NeedsReauth)?;
        let refresh = SecretString::from(self.open(refresh)?);
        let grant = self.oauth.refresh(&refresh).await.map_err(failed)?;
        let (access, rotated, expires) = self.sealed(&grant);
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    access_token_encrypted: Some(access),
                    refresh_token_encrypted: rotated,
                    token_expires_at: Some(expires),
                    ..Default::default()
                },
            )
            .await?;
        Ok(grant.access_token)
    }

    fn open(&self, sealed: &str) -> Result<String, ProviderError> {
        self.secrets
            .open(sealed)
            .map_err(|e| ProviderError::Sealed(e.to_string()))
    }

    /// Runs `call` with an access token; a 401 refreshes the token once and tries again.
    /// The outer error is about the token; the inner one is Graph's answer, for callers that
    /// act on a 404 or a 412.
    async fn attempt<T, F, Fut>(
        &self,
        connection: &CalendarConnection,
        call: F,
    ) -> Result<Result<T, GraphError>, ProviderError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, GraphError>>,
    {
        let token = self.token(connection, false).await?;
        match call(token).await {
            Err(GraphError::Unauthorized) => {
                let token = self.token(connection, true).await?;
                Ok(call(token).await)
            }
            other => Ok(other),
        }
    }

    /// [`MicrosoftProvider::attempt`] with Graph's errors as the engine acts on them.
    async fn with_token<T, F, Fut>(
        &self,
        connection: &CalendarConnection,
        call: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, GraphError>>,
    {
        self.attempt(connection, call).await?.map_err(failed)
    }

    /// Our bookings' Graph event ids on this connection, as recorded when we wrote them.
    async fn written(
        &self,
        connection: &CalendarConnection,
    ) -> Result<HashMap<String, BookingId>, ProviderError> {
        let events = self
            .store
            .list_events(
                connection.tenant_id,
                &EventFilter {
                    user_ids: vec![connection.user_id],
                    from: Some(Timestamp::now() - SignedDuration::from_hours(24 * DAYS_BACK)),
                    to: None,
                    include_cancelled: true,
                },
            )
            .await?;
        Ok(events
            .into_iter()
            .filter(|e| e.source == EventSource::Booking && e.provider_id == Some(connection.id))
            .filter_map(|e| Some((e.external_id?, e.booking_id?)))
            .collect())
    }

    /// Records the Graph id and ETag of a booking's event on its local event.
    async fn remember(
        &self,
        connection: &CalendarConnection,
        booking: BookingId,
        event: &GraphEvent,
    ) -> Result<(), ProviderError> {
        if let Some(local) = self
            .store
            .booking_event(connection.tenant_id, booking)
            .await?
        {
            self.store
                .set_event_provider_ref(
                    connection.tenant_id,
                    local.id,
                    Some(connection.id),
                    Some(&event.id),
                    event.etag.as_deref(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A Graph failure as the engine acts on it.
pub fn failed(error: GraphError) -> ProviderError {
    match error {
        GraphError::InvalidGrant => ProviderError::NeedsReauth,
        GraphError::Throttled { retry_after, .. } => ProviderError::RateLimited { retry_after },
        other => ProviderError::Other(other.to_string()),
    }
}

/// The booking an event of ours names: its `transactionId` or our extended property.
fn booking_of(event: &GraphEvent) -> Option<BookingId> {
    let from_transaction = event
        .transaction_id
        .as_deref()
        .and_then(|t| t.strip_prefix("pillow-booking-"));
    from_transaction
        .or(event.booking_id())
        .and_then(|id| id.parse().ok())
        .map(BookingId)
}

fn span(event: &GraphEvent) -> Option<(Timestamp, Timestamp, bool)> {
    let (start, end) = (event.start.as_ref()?, event.end.as_ref()?);
    if event.is_all_day {
        let start = AllDayDate(start.date()?).carrier()?;
        let end = AllDayDate(end.date()?).carrier()?;
        Some((start, end, true))
    } else {
        Some((start.instant()?, end.instant()?, false))
    }
}

fn to_local(connection: &CalendarConnection, event: &GraphEvent) -> Option<NewCalendarEvent> {
    let (start, end, all_day) = span(event)?;
    if end < start {
        return None;
    }
    Some(NewCalendarEvent {
        user_id: connection.user_id,
        provider_id: Some(connection.id),
        external_id: Some(event.id.clone()),
        etag: event.etag.clone(),
        title: event
            .subject
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "(busy)".to_string()),
        description: None,
        start,
        end,
        all_day,
        status: match event.show_as {
            Some(ShowAs::Tentative) => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        },
        transparency: if event.is_busy() {
            Transparency::Opaque
        } else {
            Transparency::Transparent
        },
        source: EventSource::Microsoft,
        booking_id: None,
    })
}

#[async_trait::async_trait]
impl CalendarProvider for MicrosoftProvider {
    fn kind(&self) -> &'static str {
        "microsoft"
    }

    fn name(&self) -> &'static str {
        "Outlook"
    }

    fn renew_before(&self) -> SignedDuration {
        RENEW_BEFORE
    }

    async fn changes(
        &self,
        connection: &CalendarConnection,
        cursor: Option<&str>,
    ) -> Result<ChangeSet, ProviderError> {
        let now = Timestamp::now();
        let (start, end) = (
            now - SignedDuration::from_hours(24 * DAYS_BACK),
            now + SignedDuration::from_hours(24 * DAYS_AHEAD),
        );
        let round = self
            .with_token(connection, |token| async move {
                self.graph
                    .delta(token.expose_secret(), cursor, start, end)
                    .await
            })
            .await?;
        let written = if round.removed.is_empty() {
            HashMap::new()
        } else {
            self.written(connection).await?
        };
        let mut set = ChangeSet {
            full: round.full,
            cursor: Some(round.delta_link),
            ..Default::default()
        };
        for event in &round.changed {
            if event.kind.as_deref() == Some("seriesMaster") {
                continue;
            }
            if let Some(booking) = booking_of(event) {
                let span = span(event)
                    .filter(|(_, _, all_day)| !all_day && !event.is_cancelled)
                    .map(|(s, e, _)| (s, e));
                set.own.push(OwnEvent { booking, span });
                continue;
            }
            if event.is_cancelled {
                set.deleted.push(event.id.clone());
                continue;
            }
            match to_local(connection, event) {
                Some(local) => set.upserts.push(local),
                None => tracing::warn!(connection = %connection.id, event = %event.id,
                    "skipping a Graph event without a usable start and end"),
            }
        }
        for id in round.removed {
            if let Some(booking) = written.get(&id) {
                set.own.push(OwnEvent {
                    booking: *booking,
                    span: None,
                });
            }
            set.deleted.push(id);
        }
        Ok(set)
    }

    async fn write_booking(
        &self,
        connection: &CalendarConnection,
        entry: &BookingEntry,
    ) -> Result<(), ProviderError> {
        let new = NewEvent {
            booking_id: entry.booking.0,
            subject: entry.title.clone(),
            body: entry.description.clone(),
            start: entry.start,
            end: entry.end,
        };
        let new = &new;
        // A retried create answers the event made the first time (same transactionId).
        let mut current = self
            .with_token(connection, |token| async move {
                self.graph.create_event(token.expose_secret(), new).await
            })
            .await?;
        for _ in 0..WRITE_ATTEMPTS {
            let shown = span(&current)
                .is_some_and(|(s, e, all_day)| !all_day && (s, e) == (entry.start, entry.end));
            if shown && !current.is_cancelled {
                return self.remember(connection, entry.booking, &current).await;
            }
            let patch = serde_json::json!({
                "subject": entry.title,
                "start": DateTimeTimeZone::utc(entry.start),
                "end": DateTimeTimeZone::utc(entry.end),
            });
            let (id, etag) = (current.id.clone(), current.etag.clone().unwrap_or_default());
            let (id, etag, patch) = (&id, &etag, &patch);
            match self
                .attempt(connection, |token| async move {
                    self.graph
                        .update_event(token.expose_secret(), id, etag, patch)
                        .await
                })
                .await?
            {
                Ok(updated) => return self.remember(connection, entry.booking, &updated).await,
                // Changed in Outlook since we read it: read again and decide again.
                Err(GraphError::PreconditionFailed) => {
                    current = self
                        .with_token(connection, |token| async move {
                            self.graph.get_event(token.expose_secret(), id).await
                        })
                        .await?;
                }
                Err(other) => return Err(failed(other)),
            }
        }
        Err(ProviderError::Other(
            "the booking's Outlook event kept changing under our writes".into(),
        ))
    }

    async fn delete_booking(
        &self,
        connection: &CalendarConnection,
        booking: BookingId,
    ) -> Result<(), ProviderError> {
        let Some(local) = self
            .store
            .booking_event(connection.tenant_id, booking)
            .await?
        else {
            return Ok(());
        };
        let Some(id) = local
            .external_id
            .filter(|_| local.provider_id == Some(connection.id))
        else {
            // Never written to this calendar.
            return Ok(());
        };
        let id = &id;
        for _ in 0..WRITE_ATTEMPTS {
            let current = match self
                .attempt(connection, |token| async move {
                    self.graph.get_event(token.expose_secret(), id).await
                })
                .await?
            {
                Ok(current) => current,
                Err(GraphError::NotFound) => return Ok(()),
                Err(other) => return Err(failed(other)),
            };
            let etag = current.etag.clone().unwrap_or_default();
            let etag = &etag;
            match self
                .attempt(connection, |token| async move {
                    self.graph
                        .delete_event(token.expose_secret(), id, etag)
                        .await
                })
                .await?
            {
                Ok(()) | Err(GraphError::NotFound) => return Ok(()),
                // Changed in Outlook since we read it: read again.
                Err(GraphError::PreconditionFailed) => continue,
                Err(other) => return Err(failed(other)),
            }
        }
        Err(ProviderError::Other(
            "the booking's Outlook event kept changing under our delete".into(),
        ))
    }

    async fn ensure_notifications(
        &self,
        connection: &CalendarConnection,
    ) -> Result<(), ProviderError> {
        let Some(webhook) = &self.webhook else {
            return Ok(());
        };
        let now = Timestamp::now();
        let expiration = now + SUBSCRIPTION_LIFE;
        let current = self
            .store
            .get_calendar_connection(connection.tenant_id, connection.id)
            .await?
            .and_then(|c| c.channel);
        if let Some(channel) = &current {
            if channel.expires_at > now + RENEW_BEFORE {
                return Ok(());
            }
            let id = channel.id.as_str();
            let renewed = self
                .with_token(connection, |token| async move {
                    self.graph
                        .renew_subscription(token.expose_secret(), id, expiration)
                        .await
                })
                .await;
            if let Ok(subscription) = renewed {
                let channel = PushChannel {
                    expires_at: subscription.expiration_date_time,
                    ..channel.clone()
                };
                return self.save_channel(connection, Some(channel)).await;
            }
            // Gone at Graph (or failing): make a new one below.
        }
        let client_state = self.client_state(connection);
        let request = SubscriptionRequest {
            notification_url: webhook.clone(),
            lifecycle_notification_url: Some(webhook.clone()),
            resource: "me/events".into(),
            expiration,
            client_state: client_state.clone(),
        };
        let request = &request;
        let subscription = self
            .attempt(connection, |token| async move {
                self.graph
                    .create_subscription(token.expose_secret(), request)
                    .await
            })
            .await?;
        match subscription {
            Ok(subscription) => {
                let channel = PushChannel {
                    id: subscription.id,
                    resource_id: subscription.resource,
                    token_hash: hex::encode(Sha256::digest(client_state.as_bytes())),
                    expires_at: subscription.expiration_date_time,
                };
                self.save_channel(connection, Some(channel)).await
            }
            Err(error @ (GraphError::InvalidGrant | GraphError::Throttled { .. })) => {
                Err(failed(error))
            }
            Err(error) => {
                // Polling still works; the next sync tries again.
                tracing::warn!(connection = %connection.id, %error,
                    "could not open a Graph subscription");
                self.save_channel(connection, None).await
            }
        }
    }

    async fn release(&self, connection: &CalendarConnection) {
        if let Some(channel) = &connection.channel {
            let id = channel.id.as_str();
            let _ = self
                .with_token(connection, |token| async move {
                    self.graph
                        .delete_subscription(token.expose_secret(), id)
                        .await
                })
                .await;
        }
    }
}

impl MicrosoftProvider {
    async fn save_channel(
        &self,
        connection: &CalendarConnection,
        channel: Option<PushChannel>,
    ) -> Result<(), ProviderError> {
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
        Ok(())
    }
}
