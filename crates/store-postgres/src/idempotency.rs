//! Idempotency keys on PostgreSQL.

use super::*;

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn begin_idempotent(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_after: jiff::SignedDuration,
    ) -> StoreResult<IdempotencyState> {
        let values = claim_key_values(tenant, key, request_hash, now, stale_after);
        let mut tx = self.scoped(tenant).await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        // On a conflict the row is locked either way, so the read below sees it as it stays.
        let claimed: Option<bool> = sqlx::query_scalar_with(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at,
                                           updated_at)
             VALUES ($1, $2, $3, 'in_progress', $4, $4)
             ON CONFLICT (tenant_id, key) DO UPDATE
                SET request_hash = excluded.request_hash, created_at = excluded.created_at,
                    updated_at = excluded.updated_at
              WHERE idempotency_keys.state = 'in_progress'
                AND idempotency_keys.updated_at <= $5
             RETURNING true",
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
                    "SELECT request_hash, state, status, body FROM idempotency_keys
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
        self.within(Scope::Tenant(tenant), async |tx| {
            record_response(tx, tenant, Some(response)).await
        })
        .await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        self.execute_in(
            Scope::Tenant(tenant),
            "DELETE FROM idempotency_keys
              WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
            stored![tenant, key],
        )
        .await?;
        Ok(())
    }
}
