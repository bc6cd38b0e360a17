//! Publishable widget keys on PostgreSQL (the in-call widget).
//!
//! Tenant-scoped like everything else; the one cross-tenant read, by prefix, sets only
//! `app.widget_key_prefix`, which the `widget_keys_by_prefix` policy reads: it reveals the one
//! key presented and nothing more.

use super::*;

#[async_trait]
impl WidgetKeyStore for PostgresStore {
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey> {
        self.within(Scope::Tenant(tenant), async |tx| {
            fetch_one(
                tx,
                "INSERT INTO widget_keys (id, tenant_id, agent_id, name, prefix, secret_hash,
                                          allowed_origins, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 RETURNING *",
                key.insert_values(tenant, new_id(), Timestamp::now()),
            )
            .await
            .map_err(|e| e.missing_means(Entity::Agent))
        })
        .await
    }

    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Vec<WidgetKey>> {
        self.fetch_in(
            Scope::Tenant(tenant),
            "SELECT * FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2
              ORDER BY created_at, id",
            stored![tenant, agent_id],
        )
        .await
    }

    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>> {
        self.fetch_optional_in(
            Scope::Tenant(tenant),
            "UPDATE widget_keys
                SET name = COALESCE($4, name),
                    allowed_origins = COALESCE($5, allowed_origins),
                    prefix = COALESCE($6, prefix),
                    secret_hash = COALESCE($7, secret_hash),
                    updated_at = $8
              WHERE tenant_id = $1 AND agent_id = $2 AND id = $3
              RETURNING *",
            patch.update_values(tenant, agent_id, id, Timestamp::now()),
        )
        .await
    }

    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<bool> {
        let deleted = self
            .execute_in(
                Scope::Tenant(tenant),
                "DELETE FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
                stored![tenant, agent_id, id],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>> {
        let scope = Scope::Setting("app.widget_key_prefix", prefix);
        self.fetch_optional_in(
            scope,
            "SELECT * FROM widget_keys WHERE prefix = $1",
            stored![prefix],
        )
        .await
    }
}
