//! What differs between calendar providers, as one trait; everything else (leases, ingest,
//! own events, status, backoff) is the engine's and written once.

use std::time::Duration;

use jiff::Timestamp;
use pillow_store::{BookingId, CalendarConnection, NewCalendarEvent, StoreError};

/// Why a provider call did not succeed, as the engine acts on it.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The grant or password was refused: only the user connecting again fixes it.
    #[error("the provider refused our credentials: the user must connect this calendar again")]
    NeedsReauth,
    /// Too many requests or the provider is overloaded; try again after `retry_after` (or
    /// with the usual backoff when the provider did not say).
    #[error("the provider is throttling us; the next try waits out its Retry-After")]
    RateLimited { retry_after: Option<Duration> },
    /// A stored secret cannot be opened (a key was rotated away).
    #[error("a stored credential cannot be opened: {0}")]
    Sealed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else (transport, an unexpected answer); retried with backoff.
    #[error("{0}")]
    Other(String),
}

/// One of our bookings as the provider has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnEvent {
    pub booking: BookingId,
    /// Its span there; `None` when it was deleted (or cancelled) there.
    pub span: Option<(Timestamp, Timestamp)>,
}

/// What changed at the provider since a cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Everything was listed (no cursor, or the provider no longer accepted it): whatever of
    /// this connection is not in `upserts` is gone.
    pub full: bool,
    /// Busy time to store or update, keyed by `external_id`.
    pub upserts: Vec<NewCalendarEvent>,
    /// External ids of events that are gone (incremental changes only).
    pub deleted: Vec<String>,
    /// Our own events seen coming back.
    pub own: Vec<OwnEvent>,
    /// Where the next sync starts; `None` makes the next one full.
    pub cursor: Option<String>,
}

/// A booking as we want it in the member's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingEntry {
    pub booking: BookingId,
    pub title: String,
    pub description: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The adapter of one provider. Implementations are small: they translate, the engine decides.
#[async_trait::async_trait]
pub trait CalendarProvider: Send + Sync {
    /// The connection kind it serves (`caldav`, `microsoft`, `google`).
    fn kind(&self) -> &'static str;

    /// What people call it, for messages ("connect Google Calendar again").
    fn name(&self) -> &'static str;

    /// Connections whose notification channel ends within this are due for a sync (which
    /// renews it through [`CalendarProvider::ensure_notifications`]).
    fn renew_before(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(12)
    }

    /// Whether the provider's booking write-back runs from a deliverer of its own (which also
    /// writes jobs only it knows, such as Google's internal events) rather than from
    /// [`crate::sync::ProviderWriteBack`]. Either way the write-back is
    /// [`crate::sync::SyncEngine::write_back_to`].
    fn own_deliverer(&self) -> bool {
        false
    }

    /// Changes since `cursor` (the connection's stored one); a full listing when there is
    /// none or the provider no longer accepts it. Refreshing credentials on the way is the
    /// adapter's business.
    async fn changes(
        &self,
        connection: &CalendarConnection,
        cursor: Option<&str>,
    ) -> Result<ChangeSet, ProviderError>;

    /// Makes the booking's event exist as `entry` says, exactly once however often it is
    /// retried (creates are conditional; updates carry the precondition the provider offers
    /// and re-read on a conflict).
    async fn write_booking(
        &self,
        connection: &CalendarConnection,
        entry: &BookingEntry,
    ) -> Result<(), ProviderError>;

    /// Removes the booking's event; already gone is done.
    async fn delete_booking(
        &self,
        connection: &CalendarConnection,
        booking: BookingId,
    ) -> Result<(), ProviderError>;

    /// Opens or renews change notifications when the provider has them (nothing to do by
    /// default: the provider is polled).
    async fn ensure_notifications(
        &self,
        _connection: &CalendarConnection,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Stops notifications and gives the grant back on disconnect; best effort.
    async fn release(&self, _connection: &CalendarConnection) {}
}
