//! Voice agents, their booking settings and Retell identity on SQLite.

use super::*;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent> {
        sqlx::query_as::<_, AgentRow>(
            "INSERT INTO agents (id, tenant_id, name, time_zone, backend, cal_enabled, \
             cal_api_key_encrypted, cal_event_type_slug, cal_timezone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&agent.name)
        .bind(&agent.time_zone)
        .bind(agent.backend.as_str())
        .bind(agent.cal_enabled)
        .bind(&agent.cal_api_key_encrypted)
        .bind(&agent.cal_event_type_slug)
        .bind(&agent.cal_timezone)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>> {
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, AgentRow::into_model)
    }

    async fn get_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(AgentRow::into_model)
            .transpose()
    }

    async fn update_agent(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>> {
        // For the clearable fields, a flag says whether to touch the column at all.
        sqlx::query_as::<_, AgentRow>(
            "UPDATE agents SET name = COALESCE($3, name), time_zone = COALESCE($4, time_zone), \
             backend = COALESCE($5, backend), cal_enabled = COALESCE($6, cal_enabled), \
             cal_api_key_encrypted = CASE WHEN $7 THEN $8 ELSE cal_api_key_encrypted END, \
             cal_event_type_slug = CASE WHEN $9 THEN $10 ELSE cal_event_type_slug END, \
             cal_timezone = CASE WHEN $11 THEN $12 ELSE cal_timezone END, updated_at = $13 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&patch.name)
        .bind(&patch.time_zone)
        .bind(patch.backend.map(AgentBackend::as_str))
        .bind(patch.cal_enabled)
        .bind(patch.cal_api_key_encrypted.is_some())
        .bind(patch.cal_api_key_encrypted.clone().flatten())
        .bind(patch.cal_event_type_slug.is_some())
        .bind(patch.cal_event_type_slug.clone().flatten())
        .bind(patch.cal_timezone.is_some())
        .bind(patch.cal_timezone.clone().flatten())
        .bind(micros(Timestamp::now()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(AgentRow::into_model)
        .transpose()
    }

    async fn delete_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_agent(&self, id: Uuid) -> StoreResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(AgentRow::into_model)
            .transpose()
    }

    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT settings FROM booking_settings WHERE tenant_id = $1 AND agent_id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        text.map(|t| json_value("booking settings", &t)).transpose()
    }

    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        settings: &serde_json::Value,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO booking_settings (tenant_id, agent_id, settings, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET settings = excluded.settings, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(json_text(settings)?)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| match db(e) {
            // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
            StoreError::MissingReference(_) => StoreError::MissingReference(Entity::Agent),
            other => other,
        })?;
        Ok(())
    }

    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agents SET retell_agent_id = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(retell_agent_id)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| match db(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Constraint::RetellAgentId),
            other => other,
        })?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_agent_id FROM agents WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(found.flatten())
    }

    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>> {
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE retell_agent_id = $1 ORDER BY id",
        )
        .bind(retell_agent_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, AgentRow::into_model)
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
        sqlx::query(
            "INSERT INTO voice_settings (tenant_id, retell_api_key_encrypted, created_at, \
             updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             retell_api_key_encrypted = excluded.retell_api_key_encrypted, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(sealed)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[derive(FromRow)]
struct AgentRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    time_zone: String,
    backend: String,
    cal_enabled: bool,
    cal_api_key_encrypted: Option<String>,
    cal_event_type_slug: Option<String>,
    cal_timezone: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl AgentRow {
    fn into_model(self) -> StoreResult<Agent> {
        Ok(Agent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            time_zone: self.time_zone,
            backend: AgentBackend::parse(&self.backend)
                .ok_or_else(|| StoreError::Corrupt(format!("backend {:?}", self.backend)))?,
            cal_enabled: self.cal_enabled,
            cal_api_key_encrypted: self.cal_api_key_encrypted,
            cal_event_type_slug: self.cal_event_type_slug,
            cal_timezone: self.cal_timezone,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}
