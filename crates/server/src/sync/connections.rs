//! Connecting and disconnecting calendars without going through HTTP, so the API and the
//! dashboard's calendars page call the same functions.

use std::time::Duration;

use jiff::Timestamp;
use pillow_providers::caldav::{CalDavAccount, CalDavError};
use pillow_store::{
    BookingFilter, CalendarConnection, NewCalendarConnection, NewJob, StoreError, TenantId, UserId,
};
use secrecy::SecretString;

use super::caldav::{preset, split_url};
use super::{SyncEngine, Trigger};
use crate::outbox::{BookingChange, JobKind, OutboxJob};

/// What connecting a CalDAV calendar takes.
#[derive(Debug, Clone)]
pub struct CalDavConnect {
    /// The server (`https://…`, or `icloud` / `fastmail`).
    pub server_url: String,
    pub username: String,
    /// An app-specific password; sealed at rest, never shown again.
    pub password: SecretString,
    /// The calendar's own URL; found by discovery when absent.
    pub calendar_url: Option<String>,
}

/// Why a calendar could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused the user name or password.
    #[error("the CalDAV server refused the user name or password")]
    Unauthorized,
    /// The server URL or calendar URL is unusable (or not allowed).
    #[error("{0}")]
    BadUrl(String),
    /// The account has no event calendar (or not the one named).
    #[error("{0}")]
    NoCalendar(String),
    /// The server could not be reached or answered something unexpected.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CalDavError> for ConnectError {
    fn from(error: CalDavError) -> Self {
        match error {
            CalDavError::Unauthorized | CalDavError::Forbidden => ConnectError::Unauthorized,
            CalDavError::BadUrl(_) | CalDavError::Blocked(_) => {
                ConnectError::BadUrl(error.to_string())
            }
            CalDavError::NoCalendar(_) | CalDavError::NotFound => {
                ConnectError::NoCalendar(error.to_string())
            }
            other => ConnectError::Unavailable(other.to_string()),
        }
    }
}

/// App passwords do not expire; the stored expiry says "never" in a form both stores keep.
fn never() -> Timestamp {
    "9999-01-01T00:00:00Z".parse().expect("a valid instant")
}

/// Connects `user`'s CalDAV calendar: checks the credentials and finds the calendar (the one
/// at `calendar_url`, else the first event calendar), stores the connection with the
/// password sealed, queues the catch-up of upcoming bookings and runs the first sync. The
/// connection as it is after that sync (its `last_error` says if the sync failed).
///
/// # Errors
/// [`ConnectError`]; nothing is stored then.
pub async fn connect_caldav(
    engine: &SyncEngine,
    tenant: TenantId,
    user: UserId,
    request: CalDavConnect,
) -> Result<CalendarConnection, ConnectError> {
    let account = CalDavAccount {
        server_url: preset(&request.server_url).to_string(),
        username: request.username.clone(),
        password: request.password.clone(),
    };
    let mut client = engine.caldav.client(&account)?;
    let calendars = client.event_calendars().await?;
    let calendar = match &request.calendar_url {
        None => calendars.into_iter().next(),
        Some(url) => {
            let path = if url.starts_with('/') {
                url.clone()
            } else {
                split_url(url)
                    .ok_or_else(|| ConnectError::BadUrl(format!("{url} is not a calendar URL")))?
                    .1
            };
            let same = |href: &str| href.trim_end_matches('/') == path.trim_end_matches('/');
            calendars.into_iter().find(|c| same(&c.href))
        }
    }
    .ok_or_else(|| {
        ConnectError::NoCalendar(match &request.calendar_url {
            Some(url) => format!("{url} is not one of this account's event calendars"),
            None => "the account has no event calendar".into(),
        })
    })?;
    let (server, _) = split_url(&account.server_url)
        .ok_or_else(|| ConnectError::BadUrl(format!("{} is not a URL", account.server_url)))?;
    let calendar_url = format!("{server}{}", calendar.href);
    let connection = engine
        .store
        .upsert_calendar_connection(
            tenant,
            &NewCalendarConnection {
                user_id: user,
                kind: "caldav".into(),
                calendar_id: calendar_url,
                account_email: request.username,
                access_token_encrypted: engine
                    .secrets
                    .seal(secrecy::ExposeSecret::expose_secret(&request.password)),
                refresh_token_encrypted: None,
                token_expires_at: never(),
                scopes: Vec::new(),
            },
        )
        .await?;
    queue_catch_up(engine, tenant, user).await?;
    let _ = engine
        .sync_when_free(
            tenant,
            connection.id,
            Trigger::Connect,
            Duration::from_secs(30),
        )
        .await;
    Ok(engine
        .store
        .get_calendar_connection(tenant, connection.id)
        .await?
        .unwrap_or(connection))
}

/// Disconnects a connection the engine syncs: stops what the provider keeps for us (best
/// effort), then deletes the connection, its sealed secrets and the busy time synced from it.
/// False if it was already gone.
///
/// # Errors
/// Database failures.
pub async fn disconnect(
    engine: &SyncEngine,
    connection: &CalendarConnection,
) -> Result<bool, StoreError> {
    if let Some(provider) = engine.provider(&connection.kind) {
        provider.release(connection).await;
    }
    engine
        .store
        .delete_calendar_connection(connection.tenant_id, connection.id)
        .await
}

/// The tenant's connections of every kind, or one member's.
///
/// # Errors
/// Database failures.
pub async fn list(
    engine: &SyncEngine,
    tenant: TenantId,
    user: Option<UserId>,
) -> Result<Vec<CalendarConnection>, StoreError> {
    engine.store.list_calendar_connections(tenant, user).await
}

/// Queues a write of every upcoming booking of `user` (bookings changed while the calendar
/// was not connected or paused were never written): confirmed ones are written, cancelled
/// ones removed. The writes are idempotent, so what the calendar already has is not
/// duplicated, and removing what is not there is done at once.
///
/// # Errors
/// Database failures.
pub async fn queue_catch_up(
    engine: &SyncEngine,
    tenant: TenantId,
    user: UserId,
) -> Result<(), StoreError> {
    let bookings = engine
        .store
        .list_bookings(
            tenant,
            &BookingFilter {
                user_id: Some(user),
                from: Some(Timestamp::now()),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await?;
    let jobs: Vec<NewJob> = bookings
        .iter()
        .map(|b| {
            let change = BookingChange {
                booking_id: b.id,
                user_id: user,
                origin: None,
                send_email: false,
                send_sms: false,
            };
            OutboxJob::booking(JobKind::GoogleBookingWrite, change).to_new_job()
        })
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    engine.store.enqueue_jobs(tenant, &jobs).await
}
