//! The outbox on PostgreSQL.

use super::*;

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.scoped(tenant).await?;
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, ()).await
    }

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let mut tx = self.begin(Scope::Worker).await?;
        // SKIP LOCKED: a job another process is claiming right now is left to it, so
        // concurrent claims neither wait on each other nor return the same job.
        let rows = sqlx::query_as::<_, JobRow>(
            "WITH due AS (
                 SELECT id FROM outbox
                  WHERE status IN ('pending', 'running') AND next_attempt_at <= $1
                  ORDER BY next_attempt_at, id
                  LIMIT $3
                    FOR UPDATE SKIP LOCKED)
             UPDATE outbox o
                SET status = 'running', attempts = o.attempts + 1, next_attempt_at = $2,
                    updated_at = $4
               FROM due
              WHERE o.id = due.id
             RETURNING o.*",
        )
        .bind(now.to_sqlx())
        .bind(until.to_sqlx())
        .bind(i64::from(limit))
        .bind(self::now())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut jobs = all(rows, JobRow::into_model)?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        commit(tx, jobs).await
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, ()).await
    }

    async fn purge_expired(
        &self,
        keys_before: Timestamp,
        jobs_before: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        // The worker's scope reveals both tables across tenants (migration 0007).
        let mut tx = self.begin(Scope::Worker).await?;
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE updated_at < $1")
            .bind(keys_before.to_sqlx())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM outbox WHERE status = 'done' AND updated_at < $1")
            .bind(jobs_before.to_sqlx())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        commit(tx, (keys, jobs)).await
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = ANY($1)")
            .bind(ids)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, ()).await
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query(
            "UPDATE outbox
                SET status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = COALESCE($3::timestamptz, next_attempt_at),
                    last_error = $2, updated_at = $4
              WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.map(|t| t.to_sqlx()))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2)
              ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, JobRow::into_model)?).await
    }

    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<Timestamp>)> {
        let mut tx = self.begin(Scope::Worker).await?;
        let (count, oldest): (i64, Option<jiff_sqlx::Timestamp>) = sqlx::query_as(
            "SELECT count(*), min(created_at) FILTER (WHERE status = 'pending') FROM outbox
              WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, (count, oldest.map(|t| t.to_jiff()))).await
    }
}

#[derive(FromRow)]
struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    kind: String,
    payload: sqlx::types::JsonValue,
    status: String,
    attempts: i32,
    next_attempt_at: jiff_sqlx::Timestamp,
    last_error: Option<String>,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
}

impl JobRow {
    fn into_model(self) -> StoreResult<Job> {
        Ok(Job {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            kind: self.kind,
            payload: self.payload,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| corrupt("job status", &self.status))?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.to_jiff(),
            last_error: self.last_error,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
