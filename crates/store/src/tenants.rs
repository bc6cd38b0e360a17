//! Tenants: the walls every other row lives inside.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

/// Tenants, and the health of the database behind them.
#[async_trait]
pub trait TenantStore: Send + Sync {
    fn backend(&self) -> Backend;
    /// Cheap round trip to the database, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant>;
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Finds a tenant by its exact name; used by `demo` to reuse what it made before.
    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>>;
}

impl FromStored for Tenant {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(Tenant {
            id: row.get("id")?,
            name: row.get("name")?,
            created_at: row.get("created_at")?,
        })
    }
}
