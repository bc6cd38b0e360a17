//! Plans: one outbox row, written with a booking change, that stands for the jobs the change
//! needs later (its e-mails, its text, its reminders), so the booking's own write stays small
//! whatever the agent's notifications ask for. The worker turns a plan into its jobs and
//! records it done in one transaction, so they are queued exactly once.

use pillow_store::{BookingId, NewJob, UserId};
use serde::{Deserialize, Serialize};

use super::jobs::{BookingNotice, Change, JobKind, OutboxJob, Reminder};

/// The payload of a notification plan: a booking change's messages (an e-mail to the caller
/// and one to the member, a text to the caller) and, for a booking made or moved, its
/// reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPlan {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub change: Change,
    /// The e-mails' invite `SEQUENCE`, fixed when the change was written; `None`: no e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_sequence: Option<i32>,
    /// Whether the caller gets a text.
    #[serde(default)]
    pub sms: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<ReminderPlan>,
}

impl NotificationPlan {
    /// The plan of `change` with no message and no reminder yet.
    pub fn new(change: Change, booking_id: BookingId, user_id: UserId) -> NotificationPlan {
        NotificationPlan {
            booking_id,
            user_id,
            change,
            email_sequence: None,
            sms: false,
            reminders: None,
        }
    }

    /// The plan's job, or `None` when it stands for no job.
    pub fn job(self) -> Option<NewJob> {
        let reminders = self.reminders.as_ref().is_some_and(ReminderPlan::any_ahead);
        let wanted = self.email_sequence.is_some() || self.sms || reminders;
        wanted.then(|| OutboxJob::Notifications(self).to_new_job())
    }

    /// The jobs the plan stands for: the text, the e-mails, then the reminders.
    pub fn jobs(&self) -> Vec<NewJob> {
        let kind = self.change.kind();
        let mut jobs = Vec::new();
        if self.sms {
            jobs.extend(BookingNotice::sms_job(kind, self.booking_id, self.user_id));
        }
        if let Some(sequence) = self.email_sequence {
            jobs.extend(BookingNotice::email_jobs(
                kind,
                self.booking_id,
                self.user_id,
                sequence,
            ));
        }
        if let Some(reminders) = &self.reminders {
            jobs.extend(reminders.reminder_jobs());
        }
        jobs
    }
}

/// The payload of a reminder plan: the reminders a booking was given when it was made or
/// moved, to be queued by the worker ([`ReminderPlan::reminder_jobs`]). Written on its own by
/// earlier builds; now a part of a [`NotificationPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderPlan {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub start: jiff::Timestamp,
    /// Minutes before the start.
    pub offsets: Vec<i64>,
    pub email: bool,
    pub sms: bool,
    /// When the booking was made or moved: reminders due before then are not queued; later
    /// ones are, even if the plan itself runs late (a reminder's own delivery skips one whose
    /// time has passed).
    pub planned_at: jiff::Timestamp,
}

impl ReminderPlan {
    /// The plan's job, or `None` when no reminder of it is still ahead.
    #[cfg(test)]
    pub fn job(self) -> Option<NewJob> {
        let wanted = self.any_ahead();
        wanted.then(|| OutboxJob::Plan(self).to_new_job())
    }

    /// Whether any reminder of a channel that is on is due after [`ReminderPlan::planned_at`]:
    /// checked on the booking's own path, so it builds no job to find out.
    fn any_ahead(&self) -> bool {
        (self.email || self.sms)
            && self.offsets.iter().any(|&before_minutes| {
                let reminder = Reminder {
                    booking_id: self.booking_id,
                    user_id: self.user_id,
                    start: self.start,
                    before_minutes,
                };
                reminder.due() > self.planned_at
            })
    }

    /// The reminder jobs the plan stands for: one per channel and offset still ahead of
    /// [`ReminderPlan::planned_at`].
    pub fn reminder_jobs(&self) -> Vec<NewJob> {
        let channels = [
            (self.email, JobKind::EmailReminder),
            (self.sms, JobKind::SmsReminder),
        ];
        channels
            .into_iter()
            .filter(|(on, _)| *on)
            .flat_map(|(_, kind)| {
                Reminder::jobs(
                    kind,
                    self.booking_id,
                    self.user_id,
                    self.start,
                    &self.offsets,
                    self.planned_at,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::jobs::stored_job as stored;
    use jiff::Timestamp;

    #[test]
    fn a_reminder_plan_stands_for_each_channel_s_reminders_still_ahead_when_it_was_made() {
        let now: Timestamp = "2026-03-10T09:00:00Z".parse().unwrap();
        let plan = |start: &str, email, sms| ReminderPlan {
            booking_id: BookingId::new(),
            user_id: UserId::new(),
            start: start.parse().unwrap(),
            offsets: vec![1440, 60],
            email,
            sms,
            planned_at: now,
        };
        let both = plan("2026-03-11T10:00:00Z", true, true);
        let kinds: Vec<_> = both.reminder_jobs().into_iter().map(|j| j.kind).collect();
        assert_eq!(
            kinds,
            [
                "email.reminder",
                "email.reminder",
                "sms.reminder",
                "sms.reminder"
            ]
        );
        let job = both.clone().job().expect("reminders ahead");
        assert_eq!((job.kind.as_str(), job.run_after), ("reminders.plan", None));
        let read = OutboxJob::read(&stored(&job.kind, job.payload)).unwrap();
        assert_eq!(read, OutboxJob::Plan(both));
        // Run late, a plan still queues what was ahead when the booking was made: the
        // reminder's own delivery decides whether it is too late.
        let soon = plan("2026-03-10T11:00:00Z", false, true);
        assert_eq!(soon.reminder_jobs().len(), 1);
        assert!(plan("2026-03-10T09:30:00Z", true, true).job().is_none());
        // A reminder due the moment the booking is made is not ahead of it.
        let at_the_boundary = plan("2026-03-10T10:00:00Z", true, false);
        assert!(at_the_boundary.reminder_jobs().is_empty());
        assert!(at_the_boundary.job().is_none());
        assert!(plan("2026-03-11T10:00:00Z", false, false).job().is_none());
    }

    #[test]
    fn a_notification_plan_stands_for_the_change_s_text_e_mails_and_reminders_in_one_row() {
        let now: Timestamp = "2026-03-10T09:00:00Z".parse().unwrap();
        let (booking, user) = (BookingId::new(), UserId::new());
        let plan = NotificationPlan {
            email_sequence: Some(2),
            sms: true,
            reminders: Some(ReminderPlan {
                booking_id: booking,
                user_id: user,
                start: "2026-03-11T10:00:00Z".parse().unwrap(),
                offsets: vec![1440, 60],
                email: true,
                sms: false,
                planned_at: now,
            }),
            ..NotificationPlan::new(Change::Rescheduled, booking, user)
        };
        let jobs = plan.jobs();
        let kinds: Vec<_> = jobs.iter().map(|j| j.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "sms.booking",
                "email.booking",
                "email.booking",
                "email.reminder",
                "email.reminder"
            ]
        );
        let due: Vec<_> = jobs.iter().map(|j| j.run_after).collect();
        assert_eq!(due[..3], [None, None, None]);
        assert_eq!(due[3], Some("2026-03-10T10:00:00Z".parse().unwrap()));
        let read = OutboxJob::read(&stored(&jobs[1].kind, jobs[1].payload.clone())).unwrap();
        let OutboxJob::Notice(_, notice) = read else {
            panic!("not a notice: {read:?}");
        };
        assert_eq!((notice.change, notice.sequence), (Change::Rescheduled, 2));

        let job = plan.clone().job().expect("the plan stands for jobs");
        assert_eq!(job.kind, "notifications.plan");
        let read = OutboxJob::read(&stored(&job.kind, job.payload)).unwrap();
        assert_eq!(read.planned_jobs(), Some(jobs));
        assert_eq!(read, OutboxJob::Notifications(plan));
    }

    #[test]
    fn a_plan_with_nothing_to_send_is_not_written() {
        let now: Timestamp = "2026-03-10T09:00:00Z".parse().unwrap();
        let (booking, user) = (BookingId::new(), UserId::new());
        let nothing = NotificationPlan::new(Change::Created, booking, user);
        assert!(nothing.clone().job().is_none());
        // Reminders all behind the booking, or on no channel, are nothing either.
        let reminders = ReminderPlan {
            booking_id: booking,
            user_id: user,
            start: "2026-03-10T09:30:00Z".parse().unwrap(),
            offsets: vec![1440, 60],
            email: true,
            sms: true,
            planned_at: now,
        };
        let behind = NotificationPlan {
            reminders: Some(reminders.clone()),
            ..nothing.clone()
        };
        assert!(behind.job().is_none());
        let ahead = ReminderPlan {
            start: "2026-03-11T10:00:00Z".parse().unwrap(),
            email: false,
            sms: false,
            ..reminders
        };
        let silent = NotificationPlan {
            reminders: Some(ahead),
            ..nothing
        };
        assert!(silent.job().is_none());
    }
}
