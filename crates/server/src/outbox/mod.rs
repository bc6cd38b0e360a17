//! The outbox: durable jobs that booking and event changes write in their own transaction,
//! delivered after the commit by whichever [`Deliverer`]s are registered for their kind.
//!
//! - [`worker`]: claims due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes
//!   share the work), hands each to its deliverers, and records the outcome. It knows no
//!   integration by name.
//! - [`retry`]: the one retry policy: backoff with jitter, attempts, giving up.
//! - [`deliverer`]: the trait each integration implements, and the registry filled at
//!   start-up. Adding e-mail, SMS or webhooks is a new deliverer; the worker does not change.

pub mod deliverer;
pub mod retry;
pub mod worker;

pub use deliverer::{Deliverer, Deliverers, DeliveryError, LifecycleLog, TestJobs};
pub use retry::{MAX_ATTEMPTS, backoff};
pub use worker::{DONE_JOB_RETENTION, KEY_RETENTION, Step, Worker};

/// The booking lifecycle's job kinds, written with every booking change; the hook that
/// calendar write-back and notifications attach to.
pub const BOOKING_CREATED: &str = "booking.created";
pub const BOOKING_CANCELLED: &str = "booking.cancelled";
pub const BOOKING_RESCHEDULED: &str = "booking.rescheduled";
/// All three lifecycle kinds, for deliverers that handle every booking change alike.
pub const BOOKING_LIFECYCLE: [&str; 3] = [BOOKING_CREATED, BOOKING_CANCELLED, BOOKING_RESCHEDULED];
