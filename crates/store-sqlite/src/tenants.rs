//! Tenants on SQLite.

use super::*;

#[async_trait]
impl TenantStore for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        execute(&self.pool, "SELECT 1", []).await?;
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        fetch_one(
            &self.writes,
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
            stored![new_id(), name, Timestamp::now()],
        )
        .await
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM tenants WHERE id = $1",
            stored![id],
        )
        .await
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at LIMIT 1",
            stored![name],
        )
        .await
    }
}
