//! Appointment types of agents on SQLite.

use super::*;

#[async_trait]
impl AppointmentTypeStore for SqliteStore {
    async fn create_appointment_type(
        &self,
        tenant: TenantId,
        id: Uuid,
        new: &NewAppointmentType,
    ) -> StoreResult<AppointmentType> {
        fetch_one(
            &self.writes,
            "INSERT INTO appointment_types (id, tenant_id, agent_id, slug, document, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *",
            new.insert_values(tenant, id, Timestamp::now()),
        )
        .await
        // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
        .map_err(|e| e.missing_means(Entity::Agent))
    }

    async fn list_appointment_types(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Vec<AppointmentType>> {
        fetch(
            &self.pool,
            "SELECT * FROM appointment_types WHERE tenant_id = $1 AND agent_id = $2 \
             ORDER BY created_at, id",
            stored![tenant, agent_id],
        )
        .await
    }

    async fn get_appointment_type(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<Option<AppointmentType>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM appointment_types WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
            stored![tenant, agent_id, id],
        )
        .await
    }

    async fn replace_appointment_type(
        &self,
        tenant: TenantId,
        id: Uuid,
        new: &NewAppointmentType,
    ) -> StoreResult<Option<AppointmentType>> {
        fetch_optional(
            &self.writes,
            "UPDATE appointment_types SET slug = $4, document = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND agent_id = $2 AND id = $3 RETURNING *",
            stored![
                tenant,
                new.agent_id,
                id,
                &new.slug,
                &new.document,
                Timestamp::now()
            ],
        )
        .await
    }

    async fn delete_appointment_type(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<bool> {
        let deleted = execute(
            &self.writes,
            "DELETE FROM appointment_types WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
            stored![tenant, agent_id, id],
        )
        .await?;
        Ok(deleted > 0)
    }
}
