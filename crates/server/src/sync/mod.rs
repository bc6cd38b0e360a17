//! The calendar sync engine every provider sits on: what differs per provider is a small
//! [`CalendarProvider`] adapter (`caldav.rs`, `microsoft.rs`, and Google's in `google/`,
//! registered at start-up with [`SyncEngine::with_provider`]); what is the same is written
//! once here.
//!
//! - A sync holds the connection's lease in the database, so two processes never sync one
//!   connection at once; every applied batch extends it.
//! - Changes become busy time through the store's synced-event methods (one transaction per
//!   batch, bumping the member's busy version); a full listing prunes what is gone.
//! - Our own bookings coming back steer their booking: deleted there cancels it, moved there
//!   moves it (with an [`Origin`] so write-back does not echo the change).
//! - The outcome is recorded per connection: `needs_reauth` when the provider refuses our
//!   credentials (nothing retries it until the user connects again), backoff on failures,
//!   `Retry-After` on rate limits.
//! - Write-back goes through the outbox (`writeback.rs`), and connecting queues the catch-up
//!   of upcoming bookings.
//!
//! One poller ([`Scheduler`]) serves every kind. The engine knows no provider by name.

pub mod caldav;
pub mod connections;
mod engine;
pub mod microsoft;
pub mod provider;
mod scheduler;
mod writeback;

pub use engine::*;
pub use provider::{BookingEntry, CalendarProvider, ChangeSet, OwnEvent, ProviderError};
pub use scheduler::Scheduler;
pub use writeback::ProviderWriteBack;

use crate::outbox::Origin;

/// Why a sync ran, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Connect,
    Poll,
    Manual,
    Resume,
    /// A change notification.
    Push,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Connect => "connect",
            Trigger::Poll => "poll",
            Trigger::Manual => "manual",
            Trigger::Resume => "resume",
            Trigger::Push => "push",
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub full: bool,
    pub upserted: usize,
    pub deleted: usize,
    /// Our own bookings seen coming back.
    pub own: usize,
}

/// Where a booking change made by a sync of `kind` came from, so write-back to that kind
/// skips it.
pub fn origin_of(kind: &str) -> Option<Origin> {
    match kind {
        "google" => Some(Origin::Google),
        "caldav" => Some(Origin::Caldav),
        "microsoft" => Some(Origin::Microsoft),
        _ => None,
    }
}
