//! The outbox: durable jobs that booking and event changes write in their own transaction,
//! delivered after the commit by whichever [`Deliverer`]s are registered for their kind.
//!
//! - [`worker`]: claims due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes
//!   share the work), hands each to its deliverers, and records the outcome. It knows no
//!   integration by name; the kinds it handles itself are plans ([`plans`]), which become
//!   the jobs they stand for.
//! - [`retry`]: the one retry policy: backoff with jitter, attempts, giving up.
//! - [`jobs`]: every job kind and its typed payload; the one place that reads or writes them.
//! - [`plans`]: the one row a booking change writes for all its messages and reminders.
//! - [`deliverer`]: the trait each integration implements, and the registry filled at
//!   start-up. Adding e-mail, SMS or webhooks is a new deliverer; the worker does not change.

pub mod deliverer;
pub mod jobs;
pub mod plans;
pub mod retry;
pub mod worker;

pub use deliverer::{Deliverer, Deliverers, DeliveryError, LifecycleLog, TestJobs};
pub use jobs::{
    BookingChange, BookingNotice, Change, EventChange, JobKind, NotificationPlan, Origin,
    OutboxJob, Recipient, Reminder, ReminderPlan, WebhookEvent, WebhookPing, WebhookReplay,
};
pub use retry::{MAX_ATTEMPTS, backoff};
pub use worker::{DONE_JOB_RETENTION, KEY_RETENTION, LEASE, Step, Worker, step_now};
