//! Publishable widget keys of the in-call calendar.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::*;

/// A publishable widget key (`pk_…`): lets browsers on its allowed origins read one agent's
/// slots and book with that agent, nothing else. Public-ish, but still only hashed at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub name: String,
    /// Public part, used to find the key; the rest is only hashed.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// Origins (`scheme://host[:port]`) whose pages may use the key; the server's own pages
    /// always may.
    pub allowed_origins: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWidgetKey {
    pub agent_id: AgentId,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub allowed_origins: Vec<String>,
}

/// A partial update; `None` leaves the field alone. `secret` (prefix, hash) rotates the key.
#[derive(Debug, Clone, Default)]
pub struct WidgetKeyPatch {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub secret: Option<(String, String)>,
}

/// Publishable widget keys of the in-call calendar.
#[async_trait]
pub trait WidgetKeyStore: Send + Sync {
    /// Creates a publishable widget key for one of the tenant's agents.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::Agent`] when the agent is not in this
    /// tenant.
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey>;
    /// An agent's widget keys, by created_at then id.
    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> StoreResult<Vec<WidgetKey>>;
    /// Changes a key of the agent (name, origins, or a new secret); `None` if absent.
    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>>;
    /// Revokes (deletes) a key of the agent; false if absent.
    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
    ) -> StoreResult<bool>;
    /// Looks a key up by its public prefix, in any tenant: the key itself names its agent.
    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>>;
}

impl FromStored for WidgetKey {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        let origins = row.get("allowed_origins")?;
        Ok(WidgetKey {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            agent_id: row.get("agent_id")?,
            name: row.get("name")?,
            prefix: row.get("prefix")?,
            secret_hash: row.get("secret_hash")?,
            allowed_origins: serde_json::from_value(origins)
                .map_err(|e| StoreError::Corrupt(format!("allowed origins: {e}")))?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// Allowed origins as stored: a JSON array of strings.
fn origins_json(origins: &[String]) -> serde_json::Value {
    serde_json::Value::from(origins.to_vec())
}

impl NewWidgetKey {
    /// `$1` to `$8` of both backends' `INSERT INTO widget_keys`: id, tenant, the key's fields in
    /// declaration order, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 8] {
        [
            id.into(),
            tenant.into(),
            self.agent_id.into(),
            (&self.name).into(),
            (&self.prefix).into(),
            (&self.secret_hash).into(),
            origins_json(&self.allowed_origins).into(),
            now.into(),
        ]
    }
}

impl WidgetKeyPatch {
    /// `$1` to `$8` of both backends' `UPDATE widget_keys`: tenant, agent and id, then name,
    /// origins, prefix and secret hash (`NULL` leaves a column alone), and `now`.
    pub fn update_values(
        &self,
        tenant: TenantId,
        agent_id: AgentId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 8] {
        let (prefix, hash) = self.secret.clone().unzip();
        [
            tenant.into(),
            agent_id.into(),
            id.into(),
            (&self.name).into(),
            self.allowed_origins.as_deref().map(origins_json).into(),
            prefix.into(),
            hash.into(),
            now.into(),
        ]
    }
}
