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
        commit(tx, ()).await
    }

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = lease_until(now, lease);
        // One writer at a time: a job is claimed by exactly one caller until its lease ends.
        let mut tx = self.write().await?;
        let mut jobs: Vec<Job> = fetch(
            &mut *tx,
            "UPDATE outbox SET status = 'running', attempts = attempts + 1, \
             next_attempt_at = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox \
                           WHERE status IN ('pending', 'running') AND next_attempt_at <= $1 \
                           ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING *",
            stored![now, until, Timestamp::now(), i64::from(limit)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        execute(
            &self.writes,
            "UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1",
            stored![id, Timestamp::now()],
        )
        .await?;
        Ok(())
    }

    async fn purge_expired(
        &self,
        keys_before: Timestamp,
        jobs_before: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.write().await?;
        let keys = execute(
            &mut *tx,
            "DELETE FROM idempotency_keys WHERE updated_at < $1",
            stored![keys_before],
        )
        .await?;
        let jobs = execute(
            &mut *tx,
            "DELETE FROM outbox WHERE status = 'done' AND updated_at < $1",
            stored![jobs_before],
        )
        .await?;
        commit(tx, (keys, jobs)).await
    }

    async fn complete_job_queuing(
        &self,
        tenant: TenantId,
        id: Uuid,
        jobs: &[NewJob],
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        execute(
            &mut *tx,
            "UPDATE outbox SET status = 'done', updated_at = $3 WHERE id = $1 AND tenant_id = $2",
            stored![id, tenant, now],
        )
        .await?;
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        commit(tx, ()).await
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        for id in ids {
            execute(
                &mut *tx,
                "UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1",
                stored![*id, now],
            )
            .await?;
        }
        commit(tx, ()).await
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        execute(
            &self.writes,
            "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = $2, updated_at = $4 \
             WHERE id = $1",
            stored![id, error, retry_at, Timestamp::now()],
        )
        .await?;
        Ok(())
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        fetch(
            &self.pool,
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
             ORDER BY created_at, id",
            stored![tenant, kind],
        )
        .await
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
