//! Tenant API keys on SQLite.

use super::*;

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey> {
        fetch_one(
            &self.writes,
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
            key.insert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM api_keys WHERE prefix = $1",
            stored![prefix],
        )
        .await
    }
}
