//! Voice agents and their booking settings.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

/// Where an agent's calendar lives: here, or still on Cal.com (the in-call API's Cal.com fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentBackend {
    Native,
    Calcom,
}

impl AgentBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentBackend::Native => "native",
            AgentBackend::Calcom => "calcom",
        }
    }

    pub fn parse(value: &str) -> Option<AgentBackend> {
        match value {
            "native" => Some(AgentBackend::Native),
            "calcom" => Some(AgentBackend::Calcom),
            _ => None,
        }
    }
}

/// A voice agent. `cal_api_key` is stored encrypted; the store only ever sees ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
}

/// A partial update. The doubly optional fields distinguish "leave alone" (`None`) from
/// "clear" (`Some(None)`).
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub backend: Option<AgentBackend>,
    pub cal_enabled: Option<bool>,
    pub cal_api_key_encrypted: Option<Option<String>>,
    pub cal_event_type_slug: Option<Option<String>>,
    pub cal_timezone: Option<Option<String>>,
}

/// Voice agents with their booking settings and Retell identity.
#[async_trait]
pub trait AgentStore: Send + Sync {
    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent>;
    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>>;
    async fn get_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn update_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>>;
    async fn delete_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<bool>;
    /// Finds an agent by id in any tenant: the internal voice key names the agent, and the agent
    /// names its tenant.
    async fn find_agent(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    /// An agent's booking settings: the documented JSON, kept whole.
    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Creates or replaces an agent's booking settings.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::Agent`] when the agent is not in this
    /// tenant.
    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        settings: &serde_json::Value,
    ) -> StoreResult<()>;
    /// Sets (or clears, with `None`) the Retell agent id of an agent, which lets a signed Retell
    /// call name our agent by Retell's own id. `false` when the agent is not in this tenant.
    ///
    /// # Errors
    /// [`Constraint::RetellAgentId`] when another agent of the tenant
    /// already has this Retell id.
    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// The Retell agent id of an agent of this tenant, if it has one.
    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Option<String>>;
    /// Agents in any tenant whose Retell agent id is exactly this: a signed Retell call names
    /// only Retell's id, and each candidate's tenant key then decides which one signed it.
    /// Ordered by id.
    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>>;
    /// The tenant's Retell API key, sealed (the store never sees it in clear).
    async fn get_retell_key(&self, tenant: TenantId) -> StoreResult<Option<String>>;
    /// Stores (or clears, with `None`) the tenant's sealed Retell API key.
    async fn set_retell_key(&self, tenant: TenantId, sealed: Option<&str>) -> StoreResult<()>;
}

impl FromStored for Agent {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(Agent {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            name: row.get("name")?,
            time_zone: row.get("time_zone")?,
            backend: row.get_parsed("backend", "backend", AgentBackend::parse)?,
            cal_enabled: row.get("cal_enabled")?,
            cal_api_key_encrypted: row.get_optional("cal_api_key_encrypted")?,
            cal_event_type_slug: row.get_optional("cal_event_type_slug")?,
            cal_timezone: row.get_optional("cal_timezone")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl NewAgent {
    /// `$1` to `$10` of both backends' `INSERT INTO agents`: id, tenant, the agent's fields in
    /// declaration order, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: AgentId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 10] {
        [
            id.into(),
            tenant.into(),
            (&self.name).into(),
            (&self.time_zone).into(),
            self.backend.as_str().into(),
            self.cal_enabled.into(),
            (&self.cal_api_key_encrypted).into(),
            (&self.cal_event_type_slug).into(),
            (&self.cal_timezone).into(),
            now.into(),
        ]
    }
}

impl AgentPatch {
    /// `$1` to `$13` of both backends' `UPDATE agents`: tenant and id, the plain fields (`NULL`
    /// leaves a column alone), then each clearable field as a flag saying whether to write it
    /// and its value (`NULL` clears), and `now`.
    pub fn update_values(
        &self,
        tenant: TenantId,
        id: AgentId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 13] {
        let clearable = |field: &Option<Option<String>>| field.is_some().into();
        let value = |field: &Option<Option<String>>| field.clone().flatten().into();
        [
            tenant.into(),
            id.into(),
            (&self.name).into(),
            (&self.time_zone).into(),
            self.backend.map(AgentBackend::as_str).into(),
            self.cal_enabled.into(),
            clearable(&self.cal_api_key_encrypted),
            value(&self.cal_api_key_encrypted),
            clearable(&self.cal_event_type_slug),
            value(&self.cal_event_type_slug),
            clearable(&self.cal_timezone),
            value(&self.cal_timezone),
            now.into(),
        ]
    }
}
