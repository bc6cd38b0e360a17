//! Tenants on SQLite.

use super::*;

#[async_trait]
impl TenantStore for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(new_id())
        .bind(name)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(TenantRow::into_model)
            .transpose()
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(TenantRow::into_model)
        .transpose()
    }
}

#[derive(FromRow)]
struct TenantRow {
    id: Uuid,
    name: String,
    created_at: i64,
}

impl TenantRow {
    fn into_model(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            created_at: instant(self.created_at)?,
        })
    }
}
