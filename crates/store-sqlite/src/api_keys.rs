//! Tenant API keys on SQLite.

use super::*;

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey> {
        sqlx::query_as::<_, ApiKeyRow>(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(ApiKeyRow::into_model)
            .transpose()
    }
}

#[derive(FromRow)]
struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    created_at: i64,
}

impl ApiKeyRow {
    fn into_model(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: instant(self.created_at)?,
        })
    }
}
