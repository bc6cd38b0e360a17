//! Tenants on PostgreSQL.

use super::*;

#[async_trait]
impl TenantStore for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        execute(&self.pool, "SELECT 1", []).await?;
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let id = TenantId(new_id());
        // Scoped to the new id, so the insert passes the policy and RETURNING may read it back.
        self.fetch_one_in(
            Scope::Tenant(id),
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
            stored![id, name, Timestamp::now()],
        )
        .await
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.fetch_optional_in(
            Scope::Tenant(id),
            "SELECT * FROM tenants WHERE id = $1",
            stored![id],
        )
        .await
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        self.fetch_optional_in(
            Scope::TenantName(name),
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1",
            stored![name],
        )
        .await
    }
}
