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
        let stale_before = now.checked_sub(stale_after).unwrap_or(Timestamp::MIN);
        let mut tx = self.write().await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at, \
             updated_at) VALUES ($1, $2, $3, 'in_progress', $4, $4) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
             created_at = excluded.created_at, updated_at = excluded.updated_at \
             WHERE idempotency_keys.state = 'in_progress' \
               AND idempotency_keys.updated_at <= $5 \
             RETURNING 1",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(request_hash)
        .bind(micros(now))
        .bind(micros(stale_before))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let state = if claimed.is_some() {
            IdempotencyState::Started
        } else {
            sqlx::query_as::<_, IdempotencyRow>(
                "SELECT request_hash, state, status, body FROM idempotency_keys \
                 WHERE tenant_id = $1 AND key = $2",
            )
            .bind(tenant.0)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .into_model()?
        };
        tx.commit().await.map_err(db)?;
        Ok(state)
    }

    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        record_response(&mut conn, tenant, Some(response), Timestamp::now()).await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys \
             WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(tenant.0)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[derive(FromRow)]
struct IdempotencyRow {
    request_hash: String,
    state: String,
    status: Option<i64>,
    body: Option<String>,
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
                    .map_err(|_| StoreError::Corrupt(format!("response status {status}")))?,
                body: json_value("response body", &body)?,
            }),
            (state, _, _) => Err(StoreError::Corrupt(format!("idempotency state {state:?}"))),
        }
    }
}
