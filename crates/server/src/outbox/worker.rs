//! The outbox worker: delivers the durable jobs that booking changes write in their own
//! transaction through the registered [`Deliverers`], retrying with backoff until they succeed
//! or are given up loudly.
//!
//! Built as a small loop around [`Worker::try_execute_task`], which tests drive step by step.
//! On PostgreSQL, jobs are claimed with `FOR UPDATE SKIP LOCKED`, so several processes share
//! the work without doing any job twice at once; a job whose worker died is claimed again when
//! its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_store::{Job, Store, StoreError};

use super::deliverer::{Deliverer, Deliverers, DeliveryError};
use super::jobs::{JobKind, OutboxJob};
use super::retry;
use crate::load::RequestLoad;

/// How long a claimed job is ours before another worker may take it, unless set otherwise
/// ([`Worker::with_lease`], `OUTBOX_LEASE_SECONDS`).
pub const LEASE: SignedDuration = SignedDuration::from_secs(120);
const BATCH: u32 = 64;
/// How long the worker lets jobs gather after a batch that was not full.
const GATHER: Duration = Duration::from_millis(50);
/// How long the worker waits before each job while the server is busy with requests: under a
/// booking storm, confirmations go out a little later instead of slowing the bookings (the
/// database's one writer and the CPU are shared); each job still goes, so nothing starves.
pub const GIVE_WAY: Duration = Duration::from_millis(20);
/// While the server is busy, a job is left until it has been due this long: a storm's
/// confirmations wait for the first lull instead of taking the CPU and the database's writer
/// from the bookings still coming in. Load that never lets up still gets them, this much late.
pub const HOLD_WHILE_BUSY: SignedDuration = SignedDuration::from_secs(10);
/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);
/// How long an idempotency key is remembered: a retry later than this is a new request.
pub const KEY_RETENTION: SignedDuration = SignedDuration::from_hours(24);
/// How long done jobs are kept, for looking into what was delivered.
pub const DONE_JOB_RETENTION: SignedDuration = SignedDuration::from_hours(24 * 7);
/// How often expired keys and jobs are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

tokio::task_local! {
    /// The instant the worker's current step runs as.
    static STEP_NOW: Timestamp;
}

/// The instant the outbox step delivering the current job runs as (the clock, outside one): a
/// deliverer compares due times with this, so a step run "hours later" by a test, or by a
/// worker back from an outage, sees what has become too late.
pub fn step_now() -> Timestamp {
    STEP_NOW
        .try_with(|now| *now)
        .unwrap_or_else(|_| Timestamp::now())
}

/// How a job was handled.
enum Handled {
    /// Delivered; the worker records it done.
    Delivered,
    /// Already recorded done, with what it led to.
    Settled,
}

/// What one step did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Some jobs were handled (delivered or rescheduled).
    Done(usize),
    /// Nothing was due.
    Empty,
}

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    deliverers: Arc<Deliverers>,
    lease: SignedDuration,
    /// The requests being answered, given way to; `None` delivers at full speed.
    load: Option<RequestLoad>,
}

impl Worker {
    /// A worker with the [standard](Deliverers::standard) deliverers.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            deliverers: Arc::new(Deliverers::standard()),
            lease: LEASE,
            load: None,
        }
    }

    /// While `load` says the server is busy, holds jobs for [`HOLD_WHILE_BUSY`] past their due
    /// time and waits [`GIVE_WAY`] before each one it delivers.
    #[must_use]
    pub fn giving_way_to(mut self, load: RequestLoad) -> Self {
        self.load = Some(load);
        self
    }

    /// Claims jobs for `lease` at a time: how long after this process dies its jobs wait for
    /// another. It must outlast a batch's deliveries, or a slow batch is delivered twice.
    #[must_use]
    pub fn with_lease(mut self, lease: SignedDuration) -> Self {
        self.lease = lease;
        self
    }

    /// Also delivers through `deliverer` (registered at start-up, before [`Worker::spawn`]).
    pub fn with(mut self, deliverer: Arc<dyn Deliverer>) -> Self {
        Arc::make_mut(&mut self.deliverers).register(deliverer);
        self
    }

    /// Claims what is due and handles it.
    ///
    /// # Errors
    /// Only database failures; a failing job is recorded on the job.
    pub async fn try_execute_task(&self) -> Result<Step, StoreError> {
        self.try_execute_task_at(Timestamp::now()).await
    }

    /// [`Worker::try_execute_task`] as if it were `now`: tests use a later `now` to run jobs
    /// whose backoff has not ended yet.
    ///
    /// # Errors
    /// As [`Worker::try_execute_task`].
    pub async fn try_execute_task_at(&self, now: Timestamp) -> Result<Step, StoreError> {
        let busy = self.load.as_ref().is_some_and(RequestLoad::is_busy);
        let hold = if busy {
            HOLD_WHILE_BUSY
        } else {
            SignedDuration::ZERO
        };
        // Claimed as if it were `hold` earlier, with the lease still ending `lease` from now.
        let due_by = now.checked_sub(hold).unwrap_or(now);
        let jobs = self
            .store
            .claim_jobs(due_by, self.lease + hold, BATCH)
            .await?;
        if jobs.is_empty() {
            return Ok(Step::Empty);
        }
        let count = jobs.len();
        let mut done = Vec::with_capacity(count);
        for job in jobs {
            if self.load.as_ref().is_some_and(RequestLoad::is_busy) {
                tokio::time::sleep(GIVE_WAY).await;
            }
            let error = match STEP_NOW.scope(now, self.handle(&job)).await {
                Ok(Handled::Settled) => {
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "done")
                        .increment(1);
                    continue;
                }
                Ok(Handled::Delivered) => {
                    if self.deliverers.settles_each_job(&job.kind) {
                        self.store.complete_jobs(&[job.id]).await?;
                    } else {
                        done.push(job.id);
                    }
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "done")
                        .increment(1);
                    continue;
                }
                Err(error) => error,
            };
            let message = error.to_string();
            match retry::next_attempt(now, job.attempts, error.is_retryable()) {
                None => {
                    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message,
                        "outbox job given up");
                    self.store.fail_job(job.id, &message, None).await?;
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "given_up")
                        .increment(1);
                }
                Some(retry_at) => {
                    tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message,
                        %retry_at, "outbox job failed; will retry");
                    self.store
                        .fail_job(job.id, &message, Some(retry_at))
                        .await?;
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "retry")
                        .increment(1);
                }
            }
        }
        // A crash before this line delivers the batch again: deliverers are idempotent (or
        // settle each job as they go, when their receiver cannot recognise a repeat).
        self.store.complete_jobs(&done).await?;
        Ok(Step::Done(count))
    }

    /// Delivers `job` through its deliverers, or, for a plan, queues the jobs it stands for
    /// and records the plan done in one write: run twice, it would queue them twice.
    async fn handle(&self, job: &Job) -> Result<Handled, DeliveryError> {
        if !JobKind::parse(&job.kind).is_some_and(JobKind::is_plan) {
            return self
                .deliverers
                .deliver(job)
                .await
                .map(|()| Handled::Delivered);
        }
        let Some(mut jobs) = OutboxJob::read(job).ok().and_then(|j| j.planned_jobs()) else {
            return Err(DeliveryError::Permanent(format!(
                "the payload of a {} job does not fit",
                job.kind
            )));
        };
        // A message is due when its change was made, so one held back while the server was
        // busy is not held again, and the changes of a booking are told in their order.
        for planned in &mut jobs {
            planned.run_after.get_or_insert(job.created_at);
        }
        self.store
            .complete_job_queuing(job.tenant_id, job.id, &jobs)
            .await
            .map_err(DeliveryError::retry)?;
        Ok(Handled::Settled)
    }

    /// Forgets idempotency keys older than [`KEY_RETENTION`] and jobs done longer than
    /// [`DONE_JOB_RETENTION`] before `now`, in every tenant; answers how many of each.
    ///
    /// # Errors
    /// Database failures.
    pub async fn purge_expired_at(&self, now: Timestamp) -> Result<(u64, u64), StoreError> {
        let keys_before = now.checked_sub(KEY_RETENTION).unwrap_or(Timestamp::MIN);
        let jobs_before = now
            .checked_sub(DONE_JOB_RETENTION)
            .unwrap_or(Timestamp::MIN);
        let (keys, jobs) = self.store.purge_expired(keys_before, jobs_before).await?;
        if keys > 0 || jobs > 0 {
            tracing::info!(keys, jobs, "purged expired idempotency keys and done jobs");
        }
        Ok((keys, jobs))
    }

    /// Runs until the process ends, sleeping while nothing is due.
    ///
    /// After a short batch it pauses briefly too: under a booking storm, claiming each job as
    /// it lands would cost the database three extra commits per booking, while a pause lets
    /// jobs gather into batches claimed and completed in one commit each.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut backlog_read: Option<std::time::Instant> = None;
            let mut purged: Option<std::time::Instant> = None;
            loop {
                if purged.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                    purged = Some(std::time::Instant::now());
                    if let Err(error) = self.purge_expired_at(Timestamp::now()).await {
                        tracing::warn!(%error, "could not purge expired keys and jobs");
                    }
                }
                match self.try_execute_task().await {
                    Ok(Step::Done(count)) if count >= BATCH as usize => {}
                    Ok(Step::Done(_)) => tokio::time::sleep(GATHER).await,
                    Ok(Step::Empty) => tokio::time::sleep(Duration::from_millis(500)).await,
                    Err(error) => {
                        tracing::warn!(%error, "outbox worker could not reach the database");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
                if backlog_read.is_some_and(|at| at.elapsed() < BACKLOG_EVERY) {
                    continue;
                }
                backlog_read = Some(std::time::Instant::now());
                if let Ok((backlog, oldest)) = self.store.outbox_backlog().await {
                    metrics::gauge!("outbox_backlog").set(backlog as f64);
                    let age = oldest.map_or(0.0, |t| {
                        Timestamp::now().duration_since(t).as_secs_f64().max(0.0)
                    });
                    metrics::gauge!("outbox_oldest_pending_age_seconds").set(age);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::load::BUSY_ABOVE;

    /// A store with `count` test jobs queued now, that succeed at once.
    async fn store_with_test_jobs(count: usize) -> Arc<dyn Store> {
        let store = crate::open_store("sqlite::memory:").await.unwrap();
        let tenant = store.create_tenant("Acme").await.unwrap();
        let job = pillow_store::NewJob {
            kind: "test".into(),
            payload: json!({"fail_times": 0}),
            run_after: None,
        };
        store
            .enqueue_jobs(tenant.id, &vec![job; count])
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_busy_server_holds_fresh_jobs_until_they_are_overdue_and_a_quiet_one_sends_them_at_once()
     {
        let load = RequestLoad::default();
        let callers: Vec<_> = (0..=BUSY_ABOVE).map(|_| load.enter()).collect();
        let store = store_with_test_jobs(2).await;
        let busy = Worker::new(store).giving_way_to(load.clone());
        let now = Timestamp::now();
        assert_eq!(busy.try_execute_task_at(now).await.unwrap(), Step::Empty);
        let almost = now + HOLD_WHILE_BUSY - SignedDuration::from_secs(1);
        assert_eq!(busy.try_execute_task_at(almost).await.unwrap(), Step::Empty);
        let overdue = now + HOLD_WHILE_BUSY + SignedDuration::from_secs(1);
        assert_eq!(
            busy.try_execute_task_at(overdue).await.unwrap(),
            Step::Done(2)
        );

        let store = store_with_test_jobs(1).await;
        let quiet = Worker::new(store).giving_way_to(load.clone());
        assert_eq!(quiet.try_execute_task().await.unwrap(), Step::Empty);
        drop(callers);
        assert_eq!(quiet.try_execute_task().await.unwrap(), Step::Done(1));
    }

    #[tokio::test]
    async fn a_reminder_plan_becomes_its_reminders_in_the_write_that_records_it_done() {
        let store = crate::open_store("sqlite::memory:").await.unwrap();
        let tenant = store.create_tenant("Acme").await.unwrap();
        let now = Timestamp::now();
        // Whole seconds: the store keeps instants to the microsecond.
        let start = Timestamp::from_second(now.as_second() + 30 * 3600).unwrap();
        let plan = crate::outbox::ReminderPlan {
            booking_id: pillow_store::BookingId::new(),
            user_id: pillow_store::UserId::new(),
            start,
            offsets: vec![1440, 60],
            email: true,
            sms: false,
            planned_at: now,
        };
        store
            .enqueue_jobs(tenant.id, &[plan.job().unwrap()])
            .await
            .unwrap();
        let worker = Worker::new(store.clone());

        assert_eq!(worker.try_execute_task().await.unwrap(), Step::Done(1));
        let planned = store
            .list_jobs(tenant.id, Some("reminders.plan"))
            .await
            .unwrap();
        assert_eq!(planned[0].status, pillow_store::JobStatus::Done);
        let reminders = store
            .list_jobs(tenant.id, Some("email.reminder"))
            .await
            .unwrap();
        let due: Vec<_> = reminders.iter().map(|j| j.next_attempt_at).collect();
        assert_eq!(
            due,
            [
                start - SignedDuration::from_hours(24),
                start - SignedDuration::from_hours(1)
            ]
        );
        assert_eq!(
            worker.try_execute_task().await.unwrap(),
            Step::Empty,
            "queued once"
        );
    }

    #[tokio::test]
    async fn a_notification_plan_s_messages_are_due_when_its_change_was_made() {
        let store = crate::open_store("sqlite::memory:").await.unwrap();
        let tenant = store.create_tenant("Acme").await.unwrap();
        let plan = crate::outbox::NotificationPlan {
            email_sequence: Some(0),
            sms: true,
            ..crate::outbox::NotificationPlan::new(
                crate::outbox::Change::Created,
                pillow_store::BookingId::new(),
                pillow_store::UserId::new(),
            )
        };
        store
            .enqueue_jobs(tenant.id, &[plan.job().unwrap()])
            .await
            .unwrap();
        let load = RequestLoad::default();
        let _callers: Vec<_> = (0..=BUSY_ABOVE).map(|_| load.enter()).collect();
        let worker = Worker::new(store.clone()).giving_way_to(load);

        let overdue = Timestamp::now() + HOLD_WHILE_BUSY + SignedDuration::from_secs(1);
        assert_eq!(
            worker.try_execute_task_at(overdue).await.unwrap(),
            Step::Done(1)
        );
        let jobs = store.list_jobs(tenant.id, None).await.unwrap();
        let planned = jobs
            .iter()
            .find(|j| j.kind == "notifications.plan")
            .unwrap();
        assert_eq!(planned.status, pillow_store::JobStatus::Done);
        // Held back once already, the messages are not held again: they are due as the plan
        // was, ahead of anything queued since.
        let mut messages: Vec<_> = jobs
            .iter()
            .filter(|j| j.kind != "notifications.plan")
            .map(|j| (j.kind.as_str(), j.next_attempt_at))
            .collect();
        messages.sort();
        let made = planned.created_at;
        assert_eq!(
            messages,
            [
                ("email.booking", made),
                ("email.booking", made),
                ("sms.booking", made)
            ]
        );
    }

    #[tokio::test]
    async fn a_busy_server_gets_a_pause_before_each_job_and_every_job_still_goes() {
        let store = store_with_test_jobs(3).await;
        let load = RequestLoad::default();
        let _callers: Vec<_> = (0..=BUSY_ABOVE).map(|_| load.enter()).collect();
        let worker = Worker::new(store).giving_way_to(load);

        let started = std::time::Instant::now();
        let overdue = Timestamp::now() + HOLD_WHILE_BUSY;
        assert_eq!(
            worker.try_execute_task_at(overdue).await.unwrap(),
            Step::Done(3)
        );
        assert!(started.elapsed() >= 3 * GIVE_WAY, "{:?}", started.elapsed());
    }
}
