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
        let until = lease_until(now, lease);
        let values = stored![now, until, i64::from(limit), Timestamp::now()];
        // SKIP LOCKED: a job another process is claiming right now is left to it, so
        // concurrent claims neither wait on each other nor return the same job.
        let mut jobs: Vec<Job> = self
            .fetch_in(
                Scope::Worker,
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
                values,
            )
            .await?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        self.execute_in(
            Scope::Worker,
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
        // The worker's scope reveals both tables across tenants (migration 0007).
        self.within(Scope::Worker, async |tx| {
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
            Ok((keys, jobs))
        })
        .await
    }

    async fn complete_job_queuing(
        &self,
        tenant: TenantId,
        id: Uuid,
        jobs: &[NewJob],
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        execute(
            &mut *tx,
            "UPDATE outbox SET status = 'done', updated_at = $3 WHERE id = $1 AND tenant_id = $2",
            stored![id, tenant, Timestamp::now()],
        )
        .await?;
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, ()).await
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.execute_in(
            Scope::Worker,
            "UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = ANY($1)",
            stored![ids, Timestamp::now()],
        )
        .await?;
        Ok(())
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let values = stored![id, error, retry_at, Timestamp::now()];
        self.execute_in(
            Scope::Worker,
            "UPDATE outbox
                SET status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = COALESCE($3::timestamptz, next_attempt_at),
                    last_error = $2, updated_at = $4
              WHERE id = $1",
            values,
        )
        .await?;
        Ok(())
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        self.fetch_in(
            Scope::Tenant(tenant),
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2)
              ORDER BY created_at, id",
            stored![tenant, kind],
        )
        .await
    }

    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<Timestamp>)> {
        self.within(Scope::Worker, async |tx| {
            let (count, oldest): (i64, Option<jiff_sqlx::Timestamp>) = sqlx::query_as(
                "SELECT count(*), min(created_at) FILTER (WHERE status = 'pending') FROM outbox
                  WHERE status IN ('pending', 'running')",
            )
            .fetch_one(tx)
            .await
            .map_err(db)?;
            Ok((count, oldest.map(|t| t.to_jiff())))
        })
        .await
    }
}
