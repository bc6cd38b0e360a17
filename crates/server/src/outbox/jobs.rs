//! Every kind of outbox job and its payload, typed.
//!
//! The store keeps a job as its kind's name and a JSON payload, so it stays generic; this module
//! is the one place that names the kinds and reads or writes their payloads. A deliverer gets an
//! [`OutboxJob`] already read, never a `serde_json::Value` to pick apart. The payloads' field
//! names are the ones jobs already in a database carry, so a job written before an upgrade is
//! delivered after it.

use pillow_store::{BookingId, EventId, Job, NewJob, UserId};

pub use super::plans::{NotificationPlan, ReminderPlan};
use serde::{Deserialize, Serialize};

macro_rules! job_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What a job asks its deliverers to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum JobKind {
            $($(#[$doc])* $variant,)*
        }

        impl JobKind {
            /// Every kind, for tests and the registry.
            pub const ALL: &[JobKind] = &[$(JobKind::$variant,)*];

            /// The kind's name as the store keeps it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(JobKind::$variant => $name,)*
                }
            }

            /// The kind with this stored name, if this build knows it.
            pub fn parse(name: &str) -> Option<JobKind> {
                match name {
                    $($name => Some(JobKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

job_kinds! {
    /// A booking was made; written with it.
    BookingCreated = "booking.created",
    /// A booking was cancelled.
    BookingCancelled = "booking.cancelled",
    /// A booking moved.
    BookingRescheduled = "booking.rescheduled",
    /// Write a booking to its member's Google calendar (catch-up after connecting).
    GoogleBookingWrite = "google.booking_write",
    /// Write an internal event to its member's Google calendar.
    GoogleEventUpsert = "google.event_upsert",
    /// Remove an internal event from its member's Google calendar.
    GoogleEventDelete = "google.event_delete",
    /// E-mail one recipient about a booking change, with its calendar invite.
    EmailBooking = "email.booking",
    /// Remind the caller of a booking by e-mail, due some time before its start.
    EmailReminder = "email.reminder",
    /// Text the caller about a booking change.
    SmsBooking = "sms.booking",
    /// Remind the caller of a booking by text, due some time before its start.
    SmsReminder = "sms.reminder",
    /// Queue a booking's reminder jobs ([`ReminderPlan`]). Written by earlier builds; now part
    /// of a [`JobKind::NotificationPlan`].
    ReminderPlan = "reminders.plan",
    /// Queue a booking change's e-mails, text and reminders ([`NotificationPlan`]). Written
    /// with the change in their place, one row instead of up to thirteen, so the booking's own
    /// write stays small; the worker turns it into them and records it done in one
    /// transaction.
    NotificationPlan = "notifications.plan",
    /// Post a booking change to the tenant's webhook subscribers.
    WebhookBooking = "webhook.booking",
    /// Post a test ping to one webhook subscriber.
    WebhookPing = "webhook.ping",
    /// Post an event from a subscriber's delivery log to it again.
    WebhookReplay = "webhook.replay",
    /// Fails on purpose a given number of times: exercises the retry machinery end to end.
    Test = "test",
}

impl JobKind {
    /// Whether the worker turns jobs of this kind into the jobs they stand for, rather than
    /// hand them to deliverers.
    pub fn is_plan(self) -> bool {
        matches!(self, JobKind::ReminderPlan | JobKind::NotificationPlan)
    }

    /// The three kinds every booking change writes; the hook that calendar write-back and
    /// notifications attach to.
    pub const BOOKING_LIFECYCLE: [JobKind; 3] = [
        JobKind::BookingCreated,
        JobKind::BookingCancelled,
        JobKind::BookingRescheduled,
    ];
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a change came from, when not from us: write-back must not echo it to where it came
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Google,
    /// A CalDAV calendar (the host moved or deleted the booking's event there).
    Caldav,
    /// Microsoft Outlook (Graph).
    Microsoft,
}

/// The payload of a booking's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingChange {
    pub booking_id: BookingId,
    /// The booking's member.
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Whether the agent's booking settings ask for an e-mail and an SMS.
    #[serde(default)]
    pub send_email: bool,
    #[serde(default)]
    pub send_sms: bool,
}

/// Which change of a booking a notice tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Rescheduled,
    Cancelled,
}

impl Change {
    /// The booking lifecycle kind of the change.
    pub fn kind(self) -> JobKind {
        match self {
            Change::Created => JobKind::BookingCreated,
            Change::Rescheduled => JobKind::BookingRescheduled,
            Change::Cancelled => JobKind::BookingCancelled,
        }
    }

    /// The change a booking lifecycle kind stands for.
    pub fn of(kind: JobKind) -> Option<Change> {
        match kind {
            JobKind::BookingCreated => Some(Change::Created),
            JobKind::BookingRescheduled => Some(Change::Rescheduled),
            JobKind::BookingCancelled => Some(Change::Cancelled),
            _ => None,
        }
    }
}

/// Who a notice goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    /// The attendee who booked.
    Caller,
    /// The member whose time is booked.
    Member,
}

/// The payload of a notice job: one message to one recipient about one change, so a failure
/// to reach one recipient never sends the other's message again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingNotice {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub change: Change,
    pub recipient: Recipient,
    /// The invite's iCalendar `SEQUENCE`: 0 when booked, higher on every later change. Fixed
    /// when the change is written, so a late or retried message never outranks a newer one.
    pub sequence: i32,
}

impl BookingNotice {
    /// The e-mail jobs of one change of a booking: one per recipient. Empty for a kind that is
    /// not a booking change.
    pub fn email_jobs(
        kind: JobKind,
        booking_id: BookingId,
        user_id: UserId,
        sequence: i32,
    ) -> Vec<NewJob> {
        let Some(change) = Change::of(kind) else {
            return Vec::new();
        };
        [Recipient::Caller, Recipient::Member]
            .into_iter()
            .map(|recipient| {
                OutboxJob::Notice(
                    JobKind::EmailBooking,
                    BookingNotice {
                        booking_id,
                        user_id,
                        change,
                        recipient,
                        sequence,
                    },
                )
                .to_new_job()
            })
            .collect()
    }
}

/// The payload of a reminder job: due `before_minutes` before `start`, the start it was set
/// for. A booking moved since has newer reminders, so one for an old start is dropped when due,
/// as is one for a cancelled booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub start: jiff::Timestamp,
    pub before_minutes: i64,
}

impl Reminder {
    /// When the reminder is due.
    pub fn due(&self) -> jiff::Timestamp {
        self.start
            .checked_sub(jiff::SignedDuration::from_mins(self.before_minutes))
            .unwrap_or(self.start)
    }

    /// The reminders of `kind` (e-mail or SMS) of a booking starting at `start`, one per
    /// offset (minutes before the start) that is still ahead of `now`: a booking made an hour
    /// ahead gets no 24-hour reminder.
    pub fn jobs(
        kind: JobKind,
        booking_id: BookingId,
        user_id: UserId,
        start: jiff::Timestamp,
        offsets: &[i64],
        now: jiff::Timestamp,
    ) -> Vec<NewJob> {
        offsets
            .iter()
            .map(|&before_minutes| Reminder {
                booking_id,
                user_id,
                start,
                before_minutes,
            })
            .filter(|reminder| reminder.due() > now)
            .map(|reminder| {
                let due = reminder.due();
                NewJob {
                    run_after: Some(due),
                    ..OutboxJob::Reminder(kind, reminder).to_new_job()
                }
            })
            .collect()
    }
}

impl BookingNotice {
    /// The text to the caller about one change of a booking; `None` for a kind that is not a
    /// booking change.
    pub fn sms_job(kind: JobKind, booking_id: BookingId, user_id: UserId) -> Option<NewJob> {
        let change = Change::of(kind)?;
        let notice = BookingNotice {
            booking_id,
            user_id,
            change,
            recipient: Recipient::Caller,
            sequence: 0,
        };
        Some(OutboxJob::Notice(JobKind::SmsBooking, notice).to_new_job())
    }
}

/// The payload of a booking change's webhook job: one per change, delivered to each subscriber
/// of the tenant that wants its trigger (the delivery log remembers who already has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub booking_id: BookingId,
    pub change: Change,
}

impl WebhookEvent {
    /// The webhook job of a booking change; `None` for a kind that is not one.
    pub fn job(kind: JobKind, booking_id: BookingId) -> Option<NewJob> {
        let change = Change::of(kind)?;
        Some(
            OutboxJob::Webhook(JobKind::WebhookBooking, WebhookEvent { booking_id, change })
                .to_new_job(),
        )
    }
}

/// The payload of a replay: one logged event, sent again to one subscriber as the booking is
/// now, under the replay job's own entry in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookReplay {
    pub webhook_id: uuid::Uuid,
    /// `BOOKING_CREATED`, … or `PING`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<BookingId>,
}

/// The payload of a test ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPing {
    pub webhook_id: uuid::Uuid,
}

/// The payload of an internal event's write-back jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventChange {
    pub event_id: EventId,
    /// The event's owner.
    pub user_id: UserId,
}

/// The payload of a test job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestJob {
    /// How many attempts fail before one succeeds.
    #[serde(default)]
    pub fail_times: i64,
}

/// A job with its payload read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxJob {
    /// One of the booking lifecycle kinds, or [`JobKind::GoogleBookingWrite`].
    Booking(JobKind, BookingChange),
    /// [`JobKind::GoogleEventUpsert`] or [`JobKind::GoogleEventDelete`].
    Event(JobKind, EventChange),
    /// [`JobKind::EmailBooking`] or [`JobKind::SmsBooking`].
    Notice(JobKind, BookingNotice),
    /// [`JobKind::WebhookBooking`].
    Webhook(JobKind, WebhookEvent),
    /// [`JobKind::EmailReminder`] or [`JobKind::SmsReminder`].
    Reminder(JobKind, Reminder),
    /// [`JobKind::ReminderPlan`]: handled by the worker itself.
    Plan(ReminderPlan),
    /// [`JobKind::NotificationPlan`]: handled by the worker itself.
    Notifications(NotificationPlan),
    Ping(WebhookPing),
    Replay(WebhookReplay),
    Test(TestJob),
}

/// Why a stored job cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum JobReadError {
    /// Written by a newer build, perhaps: worth keeping for one that knows it.
    #[error("no job kind is called {0:?}")]
    UnknownKind(String),
    /// A known kind whose payload does not fit: no retry will change it.
    #[error("the payload of a {kind} job does not fit: {error}")]
    BadPayload {
        kind: JobKind,
        error: serde_json::Error,
    },
}

impl OutboxJob {
    /// The jobs a plan stands for; `None` for a job that is not a plan.
    pub fn planned_jobs(&self) -> Option<Vec<NewJob>> {
        match self {
            OutboxJob::Plan(plan) => Some(plan.reminder_jobs()),
            OutboxJob::Notifications(plan) => Some(plan.jobs()),
            _ => None,
        }
    }

    /// A booking change's job of `kind`.
    pub fn booking(kind: JobKind, change: BookingChange) -> OutboxJob {
        OutboxJob::Booking(kind, change)
    }

    /// An internal event's write-back job of `kind`.
    pub fn event(kind: JobKind, change: EventChange) -> OutboxJob {
        OutboxJob::Event(kind, change)
    }

    pub fn kind(&self) -> JobKind {
        match self {
            OutboxJob::Booking(kind, _)
            | OutboxJob::Event(kind, _)
            | OutboxJob::Notice(kind, _)
            | OutboxJob::Webhook(kind, _)
            | OutboxJob::Reminder(kind, _) => *kind,
            OutboxJob::Plan(_) => JobKind::ReminderPlan,
            OutboxJob::Notifications(_) => JobKind::NotificationPlan,
            OutboxJob::Ping(_) => JobKind::WebhookPing,
            OutboxJob::Replay(_) => JobKind::WebhookReplay,
            OutboxJob::Test(_) => JobKind::Test,
        }
    }

    /// The job as the store keeps it.
    pub fn to_new_job(&self) -> NewJob {
        let payload = match self {
            OutboxJob::Booking(_, change) => serde_json::to_value(change),
            OutboxJob::Event(_, change) => serde_json::to_value(change),
            OutboxJob::Notice(_, notice) => serde_json::to_value(notice),
            OutboxJob::Webhook(_, event) => serde_json::to_value(event),
            OutboxJob::Reminder(_, reminder) => serde_json::to_value(reminder),
            OutboxJob::Plan(plan) => serde_json::to_value(plan),
            OutboxJob::Notifications(plan) => serde_json::to_value(plan),
            OutboxJob::Ping(ping) => serde_json::to_value(ping),
            OutboxJob::Replay(replay) => serde_json::to_value(replay),
            OutboxJob::Test(test) => serde_json::to_value(test),
        };
        NewJob {
            kind: self.kind().as_str().to_string(),
            payload: payload.expect("job payloads are plain structs"),
            run_after: None,
        }
    }

    /// Reads a stored job.
    ///
    /// # Errors
    /// [`JobReadError::UnknownKind`] for a kind this build does not know,
    /// [`JobReadError::BadPayload`] for a payload that does not fit its kind.
    pub fn read(job: &Job) -> Result<OutboxJob, JobReadError> {
        let kind =
            JobKind::parse(&job.kind).ok_or_else(|| JobReadError::UnknownKind(job.kind.clone()))?;
        // Read from the stored value in place: no copy of the payload per delivery.
        let payload = &job.payload;
        let bad = |error| JobReadError::BadPayload { kind, error };
        Ok(match kind {
            JobKind::BookingCreated
            | JobKind::BookingCancelled
            | JobKind::BookingRescheduled
            | JobKind::GoogleBookingWrite => {
                OutboxJob::Booking(kind, Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::GoogleEventUpsert | JobKind::GoogleEventDelete => {
                OutboxJob::Event(kind, Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::EmailBooking | JobKind::SmsBooking => {
                OutboxJob::Notice(kind, Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::WebhookBooking => {
                OutboxJob::Webhook(kind, Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::EmailReminder | JobKind::SmsReminder => {
                OutboxJob::Reminder(kind, Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::ReminderPlan => {
                OutboxJob::Plan(Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::NotificationPlan => {
                OutboxJob::Notifications(Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::WebhookPing => {
                OutboxJob::Ping(Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::WebhookReplay => {
                OutboxJob::Replay(Deserialize::deserialize(payload).map_err(bad)?)
            }
            JobKind::Test => OutboxJob::Test(Deserialize::deserialize(payload).map_err(bad)?),
        })
    }
}

/// A job as the store hands it out, for tests that read payloads back.
#[cfg(test)]
pub(crate) fn stored_job(kind: &str, payload: serde_json::Value) -> Job {
    use pillow_store::{JobStatus, TenantId};
    Job {
        id: uuid::Uuid::nil(),
        tenant_id: TenantId(uuid::Uuid::nil()),
        kind: kind.into(),
        payload,
        status: JobStatus::Pending,
        attempts: 0,
        next_attempt_at: jiff::Timestamp::UNIX_EPOCH,
        last_error: None,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        updated_at: jiff::Timestamp::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;
    use stored_job as stored;

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(JobKind::parse("email.send"), None);
    }

    #[test]
    fn a_booking_change_is_mailed_to_each_recipient_in_its_own_job() {
        let (booking, user) = (BookingId::new(), UserId::new());
        let jobs = BookingNotice::email_jobs(JobKind::BookingRescheduled, booking, user, 3);
        let read: Vec<_> = jobs
            .iter()
            .map(|job| OutboxJob::read(&stored(&job.kind, job.payload.clone())).unwrap())
            .collect();
        let recipients: Vec<_> = read
            .iter()
            .map(|job| match job {
                OutboxJob::Notice(JobKind::EmailBooking, notice) => {
                    assert_eq!((notice.change, notice.sequence), (Change::Rescheduled, 3));
                    notice.recipient
                }
                other => panic!("not a notice: {other:?}"),
            })
            .collect();
        assert_eq!(recipients, [Recipient::Caller, Recipient::Member]);
        assert!(BookingNotice::email_jobs(JobKind::Test, booking, user, 0).is_empty());
    }

    #[test]
    fn reminders_are_due_before_the_start_and_only_those_still_ahead_are_queued() {
        let (booking, user) = (BookingId::new(), UserId::new());
        let now: Timestamp = "2026-03-10T09:00:00Z".parse().unwrap();
        let start: Timestamp = "2026-03-11T10:00:00Z".parse().unwrap();
        let jobs = Reminder::jobs(
            JobKind::EmailReminder,
            booking,
            user,
            start,
            &[1440, 60],
            now,
        );
        let due: Vec<_> = jobs
            .iter()
            .map(|job| job.run_after.unwrap().to_string())
            .collect();
        assert_eq!(due, ["2026-03-10T10:00:00Z", "2026-03-11T09:00:00Z"]);
        let read = OutboxJob::read(&stored(&jobs[1].kind, jobs[1].payload.clone())).unwrap();
        assert_eq!(
            read,
            OutboxJob::Reminder(
                JobKind::EmailReminder,
                Reminder {
                    booking_id: booking,
                    user_id: user,
                    start,
                    before_minutes: 60
                }
            )
        );
        // Two hours ahead: the day-before reminder is already past.
        let soon = Reminder::jobs(
            JobKind::SmsReminder,
            booking,
            user,
            now + jiff::SignedDuration::from_hours(2),
            &[1440, 60],
            now,
        );
        assert_eq!(soon.len(), 1);
    }

    #[test]
    fn a_booking_job_written_before_the_typed_payloads_still_reads() {
        let booking = BookingId::new();
        let user = UserId::new();
        let job = stored(
            "booking.cancelled",
            json!({"booking_id": booking.to_string(), "user_id": user.to_string(),
                   "origin": "google", "send_email": false, "send_sms": false}),
        );
        assert_eq!(
            OutboxJob::read(&job).unwrap(),
            OutboxJob::Booking(
                JobKind::BookingCancelled,
                BookingChange {
                    booking_id: booking,
                    user_id: user,
                    origin: Some(Origin::Google),
                    send_email: false,
                    send_sms: false,
                }
            )
        );
    }

    #[test]
    fn a_job_round_trips_through_the_store_shape() {
        let job = OutboxJob::event(
            JobKind::GoogleEventDelete,
            EventChange {
                event_id: EventId::new(),
                user_id: UserId::new(),
            },
        );
        let new = job.to_new_job();
        assert_eq!(new.kind, "google.event_delete");
        assert_eq!(
            OutboxJob::read(&stored(&new.kind, new.payload)).unwrap(),
            job
        );
    }

    #[test]
    fn an_unknown_kind_and_a_bad_payload_are_told_apart() {
        assert!(matches!(
            OutboxJob::read(&stored("sms.send", json!({}))),
            Err(JobReadError::UnknownKind(_))
        ));
        assert!(matches!(
            OutboxJob::read(&stored("google.event_upsert", json!({"event_id": 7}))),
            Err(JobReadError::BadPayload { .. })
        ));
    }
}
