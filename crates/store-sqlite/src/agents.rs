//! Voice agents, their booking settings and Retell identity on SQLite.

use super::*;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent> {
        fetch_one(
            &self.writes,
            "INSERT INTO agents (id, tenant_id, name, time_zone, backend, cal_enabled, \
             cal_api_key_encrypted, cal_event_type_slug, cal_timezone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING *",
            agent.insert_values(tenant, AgentId::new(), Timestamp::now()),
        )
        .await
    }

    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>> {
        fetch(
            &self.pool,
            "SELECT * FROM agents WHERE tenant_id = $1 ORDER BY created_at, id",
            stored![tenant],
        )
        .await
    }

    async fn get_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<Agent>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM agents WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await
    }

    async fn update_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>> {
        // For the clearable fields, a flag says whether to touch the column at all.
        fetch_optional(
            &self.writes,
            "UPDATE agents SET name = COALESCE($3, name), time_zone = COALESCE($4, time_zone), \
             backend = COALESCE($5, backend), cal_enabled = COALESCE($6, cal_enabled), \
             cal_api_key_encrypted = CASE WHEN $7 THEN $8 ELSE cal_api_key_encrypted END, \
             cal_event_type_slug = CASE WHEN $9 THEN $10 ELSE cal_event_type_slug END, \
             cal_timezone = CASE WHEN $11 THEN $12 ELSE cal_timezone END, updated_at = $13 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
            patch.update_values(tenant, id, Timestamp::now()),
        )
        .await
    }

    async fn delete_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<bool> {
        let deleted = execute(
            &self.writes,
            "DELETE FROM agents WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await?;
        Ok(deleted > 0)
    }

    async fn find_agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM agents WHERE id = $1",
            stored![id],
        )
        .await
    }

    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT settings FROM booking_settings WHERE tenant_id = $1 AND agent_id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        text.map(|t| json_value("booking settings", &t)).transpose()
    }

    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        settings: &serde_json::Value,
    ) -> StoreResult<()> {
        execute(
            &self.writes,
            "INSERT INTO booking_settings (tenant_id, agent_id, settings, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET settings = excluded.settings, \
             updated_at = excluded.updated_at",
            stored![tenant, agent_id, settings, Timestamp::now()],
        )
        .await
        // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
        .map_err(|e| e.missing_means(Entity::Agent))?;
        Ok(())
    }

    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool> {
        let updated = execute(
            &self.writes,
            "UPDATE agents SET retell_agent_id = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
            stored![tenant, agent_id, retell_agent_id, Timestamp::now()],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(Constraint::RetellAgentId),
            other => other,
        })?;
        Ok(updated > 0)
    }

    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_agent_id FROM agents WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(found.flatten())
    }

    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>> {
        fetch(
            &self.pool,
            "SELECT * FROM agents WHERE retell_agent_id = $1 ORDER BY id",
            stored![retell_agent_id],
        )
        .await
    }

    async fn get_retell_key(&self, tenant: TenantId) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_api_key_encrypted FROM voice_settings WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(found.flatten())
    }

    async fn set_retell_key(&self, tenant: TenantId, sealed: Option<&str>) -> StoreResult<()> {
        execute(
            &self.writes,
            "INSERT INTO voice_settings (tenant_id, retell_api_key_encrypted, created_at, \
             updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             retell_api_key_encrypted = excluded.retell_api_key_encrypted, \
             updated_at = excluded.updated_at",
            stored![tenant, sealed, Timestamp::now()],
        )
        .await?;
        Ok(())
    }
}
