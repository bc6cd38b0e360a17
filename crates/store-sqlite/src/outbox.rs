//! The outbox on SQLite.

use super::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        insert_jobs(&mut tx, tenant, jobs, Timestamp::now()).await?;
        tx.commit().await.map_err(db)
    }

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        // One writer at a time: a job is claimed by exactly one caller until its lease ends.
        let mut tx = self.write().await?;
        let rows = sqlx::query_as::<_, JobRow>(
            "UPDATE outbox SET status = 'running', attempts = attempts + 1, \
             next_attempt_at = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox \
                           WHERE status IN ('pending', 'running') AND next_attempt_at <= $1 \
                           ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING *",
        )
        .bind(micros(now))
        .bind(micros(until))
        .bind(micros(Timestamp::now()))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut jobs = all(rows, JobRow::into_model)?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(micros(Timestamp::now()))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_expired(
        &self,
        keys_before: Timestamp,
        jobs_before: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.write().await?;
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE updated_at < $1")
            .bind(micros(keys_before))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM outbox WHERE status = 'done' AND updated_at < $1")
            .bind(micros(jobs_before))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok((keys, jobs))
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let now = micros(Timestamp::now());
        sqlx::query(
            "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = $2, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.map(micros))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
             ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, JobRow::into_model)
    }

    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<Timestamp>)> {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), min(created_at) FILTER (WHERE status = 'pending') FROM outbox \
             WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((count, oldest.map(instant).transpose()?))
    }
}

#[derive(FromRow)]
struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    kind: String,
    payload: String,
    status: String,
    attempts: i32,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl JobRow {
    fn into_model(self) -> StoreResult<Job> {
        Ok(Job {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            kind: self.kind,
            payload: json_value("job payload", &self.payload)?,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("job status {:?}", self.status)))?,
            attempts: self.attempts,
            next_attempt_at: instant(self.next_attempt_at)?,
            last_error: self.last_error,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}
