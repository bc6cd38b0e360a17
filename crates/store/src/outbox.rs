//! Outbox jobs.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::*;

/// A job for the outbox, written in the transaction of the change it follows from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What the worker does with it, e.g. `google.write_event`, `webhook.booking_created`.
    pub kind: String,
    pub payload: serde_json::Value,
    /// Not to be run before this instant (a reminder's due time); `None` runs it at once.
    pub run_after: Option<Timestamp>,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker whose lease ends at `next_attempt_at`.
    Running,
    Done,
    /// Given up for good.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<JobStatus> {
        match value {
            "pending" => Some(JobStatus::Pending),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// A durable job of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    /// Claims so far, including the current one.
    pub attempts: i32,
    /// Pending: when the job may run. Running: when the lease ends and another worker may
    /// claim it (its worker is presumed dead).
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The outbox: jobs written in the same transaction as the change that needs them, claimed and
/// retried by the worker.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues jobs on their own (the changes above queue theirs in their own transaction).
    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()>;
    /// Claims up to `limit` jobs of any tenant that are pending with `next_attempt_at <= now`,
    /// or running with an expired lease (their worker died), oldest due first: marks them
    /// running with a lease until `now + lease` and counts the attempt. Concurrent claims, in
    /// this process or another, never return the same job twice while its lease lasts.
    async fn claim_jobs(
        &self,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Deletes what is kept only for a while, in every tenant: idempotency records last
    /// touched before `keys_before` (a retry that late is a new request) and jobs done before
    /// `jobs_before`. Failed jobs stay for inspection. Answers how many records and jobs went.
    async fn purge_expired(
        &self,
        keys_before: jiff::Timestamp,
        jobs_before: jiff::Timestamp,
    ) -> StoreResult<(u64, u64)>;
    /// Marks a job done.
    async fn complete_job(&self, id: Uuid) -> StoreResult<()>;
    /// Marks job `id` of `tenant` done and queues `jobs` in the same transaction: a job that
    /// stands for others (a reminder plan) is never half done, nor done twice.
    async fn complete_job_queuing(
        &self,
        tenant: TenantId,
        id: Uuid,
        jobs: &[NewJob],
    ) -> StoreResult<()>;
    /// Marks jobs done in one write: the worker's way, so a busy outbox costs one commit per
    /// batch rather than one per job.
    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()>;
    /// Records a failure: back to pending at `retry_at`, or failed for good when `None`.
    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> StoreResult<()>;
    /// The tenant's jobs, of one kind or all, by created_at then id.
    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>>;
    /// Pending plus running jobs of every tenant, and the oldest pending job's created_at: for
    /// metrics.
    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<jiff::Timestamp>)>;
}

/// When a lease taken at `now` for `lease` ends: the end of time when it would overflow.
pub fn lease_until(now: Timestamp, lease: jiff::SignedDuration) -> Timestamp {
    now.checked_add(lease).unwrap_or(Timestamp::MAX)
}

impl FromStored for Job {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(Job {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            kind: row.get("kind")?,
            payload: row.get("payload")?,
            status: row.get_parsed("status", "job status", JobStatus::parse)?,
            attempts: row.get("attempts")?,
            next_attempt_at: row.get("next_attempt_at")?,
            last_error: row.get_optional("last_error")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}
