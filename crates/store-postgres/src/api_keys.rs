//! Tenant API keys on PostgreSQL.

use super::*;

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        let mut tx = self.begin(Scope::ApiKeyPrefix(prefix)).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(ApiKeyRow::into_model).transpose()?).await
    }
}

#[derive(FromRow)]
struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    created_at: jiff_sqlx::Timestamp,
}

impl ApiKeyRow {
    fn into_model(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: self.created_at.to_jiff(),
        })
    }
}
