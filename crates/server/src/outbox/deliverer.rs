//! What an integration implements to deliver outbox jobs, and the registry of them.

use std::collections::HashMap;
use std::sync::Arc;

use pillow_store::Job;

use super::jobs::{JobKind, JobReadError, OutboxJob};

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (the service is down, rate limiting, the database).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (the job names something that can never be delivered).
    #[error("{0}")]
    Permanent(String),
}

impl DeliveryError {
    /// A retryable error from anything displayable.
    pub fn retry(error: impl std::fmt::Display) -> Self {
        Self::Retry(error.to_string())
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retry(_))
    }
}

/// Delivers the outbox jobs of some kinds. Deliveries must be idempotent: a job is delivered
/// again if the process dies after delivering it but before recording that.
#[async_trait::async_trait]
pub trait Deliverer: Send + Sync {
    /// A short name for logs and metrics (`google`, `email`, …).
    fn name(&self) -> &'static str;

    /// The job kinds this deliverer handles.
    fn kinds(&self) -> Vec<JobKind>;

    /// Whether its receiver cannot tell a repeated delivery from a new one (an SMTP server, an
    /// SMS gateway): the worker then records each such job done as soon as it is delivered,
    /// instead of with the rest of its batch, so a crash repeats at most the message that was
    /// on the wire, not every message of the batch.
    fn settles_each_job(&self) -> bool {
        false
    }

    /// Delivers one job: `what` is its payload, read; `job` has its id, tenant and attempts.
    ///
    /// # Errors
    /// [`DeliveryError::Retry`] to be tried again with backoff, [`DeliveryError::Permanent`]
    /// to give the job up at once.
    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError>;
}

/// The deliverers registered at start-up, by job kind. A kind may have several (a booking
/// change is written to the member's calendar and, later, mailed); a job is done when all of
/// its kind's deliverers succeed, and is retried whole otherwise.
#[derive(Clone, Default)]
pub struct Deliverers {
    by_kind: HashMap<JobKind, Vec<Arc<dyn Deliverer>>>,
}

impl Deliverers {
    /// The deliverers every server has: the booking lifecycle log and the test jobs.
    pub fn standard() -> Self {
        let mut deliverers = Self::default();
        deliverers.register(Arc::new(LifecycleLog));
        deliverers.register(Arc::new(TestJobs));
        deliverers
    }

    /// Adds a deliverer for each of its kinds.
    pub fn register(&mut self, deliverer: Arc<dyn Deliverer>) {
        for kind in deliverer.kinds() {
            self.by_kind
                .entry(kind)
                .or_default()
                .push(deliverer.clone());
        }
    }

    /// Whether a job of `kind` is recorded done on its own as soon as it is delivered (see
    /// [`Deliverer::settles_each_job`]).
    pub fn settles_each_job(&self, kind: &str) -> bool {
        JobKind::parse(kind)
            .and_then(|kind| self.by_kind.get(&kind))
            .is_some_and(|deliverers| deliverers.iter().any(|d| d.settles_each_job()))
    }

    /// Reads `job` and delivers it through every deliverer of its kind, in the order they
    /// were registered.
    ///
    /// # Errors
    /// The first deliverer's error. A kind this build does not know, or nobody delivers, is
    /// retried (a newer process may know it); a payload that does not fit its kind is given up.
    pub async fn deliver(&self, job: &Job) -> Result<(), DeliveryError> {
        let what = OutboxJob::read(job).map_err(|error| match error {
            JobReadError::UnknownKind(_) => DeliveryError::retry(error),
            JobReadError::BadPayload { .. } => DeliveryError::Permanent(error.to_string()),
        })?;
        let Some(deliverers) = self.by_kind.get(&what.kind()) else {
            return Err(DeliveryError::Retry(format!(
                "no deliverer for job kind {:?}",
                job.kind
            )));
        };
        for deliverer in deliverers {
            deliverer.deliver(job, &what).await.map_err(|error| {
                tracing::debug!(deliverer = deliverer.name(), job = %job.id, %error, "delivery failed");
                error
            })?;
        }
        Ok(())
    }
}

/// Logs every booking change: the lifecycle's record in the server log.
pub struct LifecycleLog;

#[async_trait::async_trait]
impl Deliverer for LifecycleLog {
    fn name(&self) -> &'static str {
        "lifecycle_log"
    }

    fn kinds(&self) -> Vec<JobKind> {
        JobKind::BOOKING_LIFECYCLE.to_vec()
    }

    async fn deliver(&self, job: &Job, _: &OutboxJob) -> Result<(), DeliveryError> {
        tracing::info!(job = %job.id, kind = %job.kind, payload = %job.payload, "booking lifecycle");
        Ok(())
    }
}

/// `test` jobs fail on purpose while `attempts <= payload.fail_times`: they exercise the
/// retry machinery end to end.
pub struct TestJobs;

#[async_trait::async_trait]
impl Deliverer for TestJobs {
    fn name(&self) -> &'static str {
        "test"
    }

    fn kinds(&self) -> Vec<JobKind> {
        vec![JobKind::Test]
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        let OutboxJob::Test(test) = what else {
            return Ok(());
        };
        if i64::from(job.attempts) <= test.fail_times {
            Err(DeliveryError::Retry(format!(
                "test job failing on purpose (attempt {})",
                job.attempts
            )))
        } else {
            Ok(())
        }
    }
}
