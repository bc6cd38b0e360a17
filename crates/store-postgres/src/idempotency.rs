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
        let stale_before = now.checked_sub(stale_after).unwrap_or(Timestamp::MIN);
        let mut tx = self.scoped(tenant).await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        // On a conflict the row is locked either way, so the read below sees it as it stays.
        let claimed: Option<bool> = sqlx::query_scalar(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at,
                                           updated_at)
             VALUES ($1, $2, $3, 'in_progress', $4, $4)
             ON CONFLICT (tenant_id, key) DO UPDATE
                SET request_hash = excluded.request_hash, created_at = excluded.created_at,
                    updated_at = excluded.updated_at
              WHERE idempotency_keys.state = 'in_progress'
                AND idempotency_keys.updated_at <= $5
             RETURNING true",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(request_hash)
        .bind(now.to_sqlx())
        .bind(stale_before.to_sqlx())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let state = if claimed.is_some() {
            IdempotencyState::Started
        } else {
            sqlx::query_as::<_, IdempotencyRow>(
                "SELECT request_hash, state, status, body FROM idempotency_keys
                  WHERE tenant_id = $1 AND key = $2",
            )
            .bind(tenant.0)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .into_model()?
        };
        commit(tx, state).await
    }

    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        record_response(&mut tx, tenant, Some(response)).await?;
        commit(tx, ()).await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "DELETE FROM idempotency_keys
              WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(tenant.0)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }
}

#[derive(FromRow)]
struct IdempotencyRow {
    request_hash: String,
    state: String,
    status: Option<i32>,
    body: Option<sqlx::types::JsonValue>,
}

impl IdempotencyRow {
    fn into_model(self) -> StoreResult<IdempotencyState> {
        match (self.state.as_str(), self.status, self.body) {
            ("in_progress", _, _) => Ok(IdempotencyState::InProgress {
                request_hash: self.request_hash,
            }),
            ("done", Some(status), Some(body)) => Ok(IdempotencyState::Done {
                request_hash: self.request_hash,
                status: u16::try_from(status)
                    .map_err(|_| corrupt("response status", &status.to_string()))?,
                body,
            }),
            (state, _, _) => Err(corrupt("idempotency state", state)),
        }
    }
}
