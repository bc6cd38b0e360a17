//! Tenants on PostgreSQL.

use super::*;

#[async_trait]
impl TenantStore for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let id = TenantId(new_id());
        // Scoped to the new id, so the insert passes the policy and RETURNING may read it back.
        let mut tx = self.scoped(id).await?;
        let row = sqlx::query_as::<_, TenantRow>(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(id.0)
        .bind(name)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let mut tx = self.scoped(id).await?;
        let row = sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(TenantRow::into_model).transpose()?).await
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        let mut tx = self.begin(Scope::TenantName(name)).await?;
        let row = sqlx::query_as::<_, TenantRow>(
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(TenantRow::into_model).transpose()?).await
    }
}

#[derive(FromRow)]
struct TenantRow {
    id: Uuid,
    name: String,
    created_at: jiff_sqlx::Timestamp,
}

impl TenantRow {
    fn into_model(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            created_at: self.created_at.to_jiff(),
        })
    }
}
