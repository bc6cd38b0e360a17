//! Google Calendar as an adapter of the shared sync engine (`crate::sync`): tokens, the
//! listing of changes, push channels, and write-back of our bookings and internal events.
//! Leases, ingest as busy time, steering our bookings, status, backoff and polling are the
//! engine's, as for every provider.
//!
//! - Tokens are sealed with [`SecretBox`] at rest and refreshed a few minutes before they
//!   expire; `invalid_grant` marks the connection `needs_reauth` and nothing retries it until
//!   the user connects again.
//! - The first sync (and any after a 410) lists 30 days back and 90 ahead page by page (the
//!   engine then prunes what Google no longer has); later ones ask only for changes with the
//!   sync token.
//! - Events we wrote carry our ids in `extendedProperties.private`; when they come back, they
//!   are recognised and handed to the engine, which steers their booking (deleted in Google:
//!   cancelled here; moved: moved).
//! - [`Scheduler::try_execute_task`] is the engine's poller step, kept here for callers that
//!   hold Google; `GET /api/cron/calendar-sync` runs it on demand.

mod busy;
mod channels;
mod scheduler;
mod sync;
pub mod toggle;
mod tokens;

use busy::*;
pub use scheduler::*;

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

pub use crate::sync::{SyncReport, Trigger};
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
pub(crate) const REFRESH_AHEAD: SignedDuration = SignedDuration::from_mins(5);
/// Renew push channels that end within this.
pub(crate) const CHANNEL_RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(2);
/// What we ask Google for as a channel's life (Google caps it, usually at a week).
pub(crate) const CHANNEL_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// The initial sync window.
pub(crate) const DAYS_BACK: i64 = 30;
pub(crate) const DAYS_AHEAD: i64 = 90;
/// Google's largest page.
pub(crate) const PAGE_SIZE: u32 = 2500;
/// The webhook path; `PUBLIC_URL` + this is the channel address.
pub const WEBHOOK_PATH: &str = "/api/calendar/google/webhook";

/// Why a Google call of a sync or write-back did not succeed (the engine reads it as a
/// `ProviderError`).
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
}

/// Everything Google sync needs; one per process, shared by handlers, the engine and the
/// outbox worker.
pub struct GoogleSync {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) secrets: SecretBox,
    pub oauth: GoogleOAuth,
    pub(crate) calendar: GoogleCalendar,
    pub states: StateSigner,
    webhook_address: String,
    push: bool,
    /// The engine this adapter is registered with (weak: the engine holds the adapter).
    engine: std::sync::OnceLock<std::sync::Weak<crate::sync::SyncEngine>>,
}

impl std::fmt::Debug for GoogleSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSync")
            .field("push", &self.push)
            .finish_non_exhaustive()
    }
}

/// SHA-256 in hex: what we keep of a channel token, which we only verify.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_token() -> String {
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
            engine: std::sync::OnceLock::new(),
        }
    }

    /// Remembers the engine this adapter was registered with (at start-up).
    pub fn registered_with(&self, engine: &Arc<crate::sync::SyncEngine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    /// The engine that syncs Google's connections; `None` before registration or once the
    /// server's state is gone.
    pub fn engine(&self) -> Option<Arc<crate::sync::SyncEngine>> {
        self.engine.get().and_then(std::sync::Weak::upgrade)
    }
}

/// What one scheduler step did.
pub use crate::outbox::Step;

#[cfg(test)]
mod tests {
    use super::*;
    use pillow_store::{ConnectionId, UserId};

    fn connection() -> CalendarConnection {
        CalendarConnection {
            id: ConnectionId::new(),
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
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
