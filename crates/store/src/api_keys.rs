//! Tenant API keys.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// Public part shown in listings and used to find the key; the secret part is only hashed.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
}

/// Tenant API keys, stored hashed and found by their public prefix.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey>;
    /// Looks a key up by its public prefix, in any tenant: the key itself names its tenant.
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;
}

impl FromStored for ApiKey {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            name: row.get("name")?,
            prefix: row.get("prefix")?,
            secret_hash: row.get("secret_hash")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl NewApiKey {
    /// `$1` to `$6` of both backends' `INSERT INTO api_keys`: id, tenant, name, prefix, secret
    /// hash and `now`.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 6] {
        [
            id.into(),
            tenant.into(),
            (&self.name).into(),
            (&self.prefix).into(),
            (&self.secret_hash).into(),
            now.into(),
        ]
    }
}
