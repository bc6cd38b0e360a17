//! The outbox worker: delivers the durable jobs that booking changes write in their own
//! transaction, retrying with backoff until they succeed or are given up loudly.
//!
//! Built as a small loop around [`Worker::try_execute_task`], which tests drive step by step.
//! On PostgreSQL, jobs are claimed with `FOR UPDATE SKIP LOCKED`, so several processes share
//! the work without doing any job twice at once; a job whose worker died is claimed again when
//! its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_store::{Job, Store, StoreError};
use rand::Rng;

/// How long a claimed job is ours before another worker may take it.
const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// After this many attempts a job is marked failed for good.
pub const MAX_ATTEMPTS: i32 = 12;
const BATCH: u32 = 64;
/// How long the worker lets jobs gather after a batch that was not full.
const GATHER: Duration = Duration::from_millis(50);
/// How often the backlog gauges are refreshed.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);
/// How long an idempotency key is remembered: a retry later than this is a new request.
pub const KEY_RETENTION: SignedDuration = SignedDuration::from_hours(24);
/// How long done jobs are kept, for looking into what was delivered.
pub const DONE_JOB_RETENTION: SignedDuration = SignedDuration::from_hours(24 * 7);
/// How often expired keys and jobs are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

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
    /// Writes bookings and events to members' Google Calendars; `None` without Google.
    google: Option<Arc<crate::google::GoogleSync>>,
}

/// Exponential backoff with jitter: about 2^attempts seconds, capped at an hour.
pub fn backoff(attempts: i32) -> SignedDuration {
    let base = 2_i64.saturating_pow(attempts.clamp(0, 12) as u32).min(3600);
    let jitter = rand::thread_rng().gen_range(0..=base / 4 + 1);
    SignedDuration::from_secs(base + jitter)
}

impl Worker {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            google: None,
        }
    }

    /// Delivers calendar write-back through `google` too.
    pub fn with_google(mut self, google: Option<Arc<crate::google::GoogleSync>>) -> Self {
        self.google = google;
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
        let jobs = self.store.claim_jobs(now, LEASE, BATCH).await?;
        if jobs.is_empty() {
            return Ok(Step::Empty);
        }
        let count = jobs.len();
        let mut done = Vec::with_capacity(count);
        for job in jobs {
            match deliver(&job, self.google.as_deref()).await {
                Ok(()) => {
                    done.push(job.id);
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "done")
                        .increment(1);
                }
                Err(error) if job.attempts >= MAX_ATTEMPTS => {
                    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, %error,
                        "outbox job given up after its last attempt");
                    self.store.fail_job(job.id, &error, None).await?;
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "given_up")
                        .increment(1);
                }
                Err(error) => {
                    let retry_at = now
                        .max(Timestamp::now())
                        .saturating_add(backoff(job.attempts))
                        .unwrap_or(now);
                    tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, %error,
                        %retry_at, "outbox job failed; will retry");
                    self.store.fail_job(job.id, &error, Some(retry_at)).await?;
                    metrics::counter!("outbox_jobs_total", "kind" => job.kind.clone(), "outcome" => "retry")
                        .increment(1);
                }
            }
        }
        // A crash before this line delivers the batch again: deliverers are idempotent.
        self.store.complete_jobs(&done).await?;
        Ok(Step::Done(count))
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

/// Delivers one job. Booking lifecycle jobs are the hook deliverers (calendar write-back,
/// e-mail, SMS, webhooks) attach to: with Google configured, they are written to the member's
/// Google Calendar. `test` jobs fail on purpose while `attempts <= payload.fail_times`, to
/// exercise retries.
async fn deliver(job: &Job, google: Option<&crate::google::GoogleSync>) -> Result<(), String> {
    match job.kind.as_str() {
        "booking.created" | "booking.cancelled" | "booking.rescheduled" => {
            tracing::info!(job = %job.id, kind = %job.kind, payload = %job.payload, "booking lifecycle");
            if let Some(google) = google {
                google.write_back(job).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        crate::google::EVENT_UPSERT_JOB
        | crate::google::EVENT_DELETE_JOB
        | crate::google::BOOKING_WRITE_JOB => match google {
            Some(google) => google.write_back(job).await.map_err(|e| e.to_string()),
            None => Ok(()),
        },
        "test" => {
            let fail_times = job.payload["fail_times"].as_i64().unwrap_or(0);
            if i64::from(job.attempts) <= fail_times {
                Err(format!(
                    "test job failing on purpose (attempt {})",
                    job.attempts
                ))
            } else {
                Ok(())
            }
        }
        other => Err(format!("no deliverer for job kind {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= SignedDuration::from_secs(2));
        assert!(backoff(5) >= SignedDuration::from_secs(32));
        assert!(backoff(30) <= SignedDuration::from_secs(3600 + 901));
    }
}
