//! Dashboard sessions on SQLite.

use super::*;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, tenant: TenantId, session: &NewSession) -> StoreResult<Session> {
        fetch_one(
            &self.writes,
            "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            session.insert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
        // The (tenant_id, user_id) foreign key: no such user in this tenant.
        .map_err(|e| e.missing_means(Entity::User))
    }

    async fn find_live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Session>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM sessions \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
            stored![token_hash, now],
        )
        .await
    }

    async fn revoke_session(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let revoked = execute(
            &self.writes,
            "UPDATE sessions SET revoked_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            stored![tenant, id, now],
        )
        .await?;
        Ok(revoked > 0)
    }
}
