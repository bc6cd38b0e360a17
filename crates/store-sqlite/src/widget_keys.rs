//! Publishable widget keys on SQLite (the in-call widget).

use super::*;

#[async_trait]
impl WidgetKeyStore for SqliteStore {
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey> {
        fetch_one(
            &self.writes,
            "INSERT INTO widget_keys (id, tenant_id, agent_id, name, prefix, secret_hash, \
             allowed_origins, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
            key.insert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
        // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
        .map_err(|e| e.missing_means(Entity::Agent))
    }

    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Vec<WidgetKey>> {
        fetch(
            &self.pool,
            "SELECT * FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 \
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
        fetch_optional(
            &self.writes,
            "UPDATE widget_keys SET name = COALESCE($4, name), \
             allowed_origins = COALESCE($5, allowed_origins), prefix = COALESCE($6, prefix), \
             secret_hash = COALESCE($7, secret_hash), updated_at = $8 \
             WHERE tenant_id = $1 AND agent_id = $2 AND id = $3 RETURNING *",
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
        let deleted = execute(
            &self.writes,
            "DELETE FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
            stored![tenant, agent_id, id],
        )
        .await?;
        Ok(deleted > 0)
    }

    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM widget_keys WHERE prefix = $1",
            stored![prefix],
        )
        .await
    }
}
