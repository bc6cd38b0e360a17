//! Dashboard sessions on PostgreSQL.
//!
//! Tenant-scoped like everything else; the one cross-tenant read, by token hash, sets only
//! `app.session_token_hash`, which the `sessions_by_token` policy reads: it reveals the one
//! session presented and nothing more.

use super::*;

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, tenant: TenantId, session: &NewSession) -> StoreResult<Session> {
        self.fetch_one_in(
            Scope::Tenant(tenant),
            "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING *",
            session.insert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
        .map_err(|e| e.missing_means(Entity::User))
    }

    async fn find_live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Session>> {
        self.fetch_optional_in(
            Scope::Setting("app.session_token_hash", token_hash),
            "SELECT * FROM sessions
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
        let revoked = self
            .execute_in(
                Scope::Tenant(tenant),
                "UPDATE sessions SET revoked_at = $3
                  WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                stored![tenant, id, now],
            )
            .await?;
        Ok(revoked > 0)
    }
}
