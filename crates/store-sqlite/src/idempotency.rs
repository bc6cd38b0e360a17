//! Idempotency keys on SQLite.

use super::*;

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin_idempotent(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_after: jiff::SignedDuration,
    ) -> StoreResult<IdempotencyState> {
        let values = claim_key_values(tenant, key, request_hash, now, stale_after);
        let mut tx = self.write().await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        let claimed = sqlx::query_with(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at, \
             updated_at) VALUES ($1, $2, $3, 'in_progress', $4, $4) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
             created_at = excluded.created_at, updated_at = excluded.updated_at \
             WHERE idempotency_keys.state = 'in_progress' \
               AND idempotency_keys.updated_at <= $5 \
             RETURNING 1",
            arguments(values)?,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let state = match claimed {
            Some(_) => IdempotencyState::Started,
            None => {
                fetch_one(
                    &mut *tx,
                    "SELECT request_hash, state, status, body FROM idempotency_keys \
                     WHERE tenant_id = $1 AND key = $2",
                    stored![tenant, key],
                )
                .await?
            }
        };
        commit(tx, state).await
    }

    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        let mut conn = self.writes.acquire().await.map_err(db)?;
        record_response(&mut conn, tenant, Some(response), Timestamp::now()).await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        execute(
            &self.writes,
            "DELETE FROM idempotency_keys \
             WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
            stored![tenant, key],
        )
        .await?;
        Ok(())
    }
}
