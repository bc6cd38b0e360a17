//! The one door to persistence.
//!
//! [`Store`] is implemented by `pillow-store-sqlite` and `pillow-store-postgres`; the server picks
//! one at start-up from the database URL's scheme and never learns which. Every method that
//! touches tenant-owned data takes the [`TenantId`] first, so forgetting the tenant is a compile
//! error rather than a data leak.

mod error;
mod models;
pub mod story;

pub use error::StoreError;
pub use models::*;

use async_trait::async_trait;
use uuid::Uuid;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Persistence for everything the server keeps.
///
/// Implementations must scope every tenant-owned query by the given tenant: a row of another
/// tenant behaves exactly as a row that does not exist.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Cheap round trip to the database, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // ---- tenants ----
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant>;
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Finds a tenant by its exact name; used by `demo` to reuse what it made before.
    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>>;

    // ---- users ----
    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User>;
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    async fn get_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<User>>;
    async fn update_user(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>>;
    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Every user with this e-mail address, in any tenant, with the password hash: the one
    /// cross-tenant read, used only by login.
    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>>;
    /// Finds a user by id in any tenant: a JWT's `sub` names the user, and the user names the
    /// tenant.
    async fn find_user(&self, id: Uuid) -> StoreResult<Option<User>>;

    // ---- API keys ----
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey>;
    /// Looks a key up by its public prefix, in any tenant: the key itself names its tenant.
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;

    // ---- voice agents ----
    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent>;
    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>>;
    async fn get_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Agent>>;
    async fn update_agent(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>>;
    async fn delete_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Finds an agent by id in any tenant: the internal voice key names the agent, and the agent
    /// names its tenant.
    async fn find_agent(&self, id: Uuid) -> StoreResult<Option<Agent>>;
}
