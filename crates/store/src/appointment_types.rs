//! Appointment types: the kinds of appointment an agent offers (a 30-minute check-up, a
//! 60-minute cleaning), each with its own length, buffers, notice and hosts.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::*;

/// One appointment type of an agent. The store keeps the slug (unique per agent) as a column
/// and the rest as the documented JSON `document`, which the server validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentType {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub slug: String,
    pub document: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAppointmentType {
    pub agent_id: AgentId,
    pub slug: String,
    pub document: serde_json::Value,
}

/// The appointment types of agents.
#[async_trait]
pub trait AppointmentTypeStore: Send + Sync {
    /// Creates a type for one of the tenant's agents.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::Agent`] when the agent is not in this
    /// tenant; [`Constraint::AppointmentTypeSlug`] when the agent has a type with this slug.
    async fn create_appointment_type(
        &self,
        tenant: TenantId,
        id: Uuid,
        new: &NewAppointmentType,
    ) -> StoreResult<AppointmentType>;
    /// An agent's types, by creation time then id.
    async fn list_appointment_types(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Vec<AppointmentType>>;
    /// One type of the agent; `None` if absent (or another agent's, or another tenant's).
    async fn get_appointment_type(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<Option<AppointmentType>>;
    /// Replaces the slug and document of the type `id` of `new.agent_id`; `None` if absent.
    ///
    /// # Errors
    /// [`Constraint::AppointmentTypeSlug`] when another type of the agent has the slug.
    async fn replace_appointment_type(
        &self,
        tenant: TenantId,
        id: Uuid,
        new: &NewAppointmentType,
    ) -> StoreResult<Option<AppointmentType>>;
    /// Deletes a type of the agent; false if absent. Bookings made with it keep their times.
    async fn delete_appointment_type(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<bool>;
}

impl FromStored for AppointmentType {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(AppointmentType {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            agent_id: row.get("agent_id")?,
            slug: row.get("slug")?,
            document: row.get("document")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl NewAppointmentType {
    /// `$1` to `$6` of both backends' `INSERT INTO appointment_types`: id, tenant, agent,
    /// slug, document, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 6] {
        [
            id.into(),
            tenant.into(),
            self.agent_id.into(),
            (&self.slug).into(),
            (&self.document).into(),
            now.into(),
        ]
    }
}
