//! Sealed secrets, for key rotation on SQLite.

use super::*;

#[async_trait]
impl SecretStore for SqliteStore {
    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>> {
        let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
            "SELECT 'access', id, access_token_encrypted FROM calendar_providers \
              WHERE access_token_encrypted IS NOT NULL \
             UNION ALL SELECT 'refresh', id, refresh_token_encrypted FROM calendar_providers \
              WHERE refresh_token_encrypted IS NOT NULL \
             UNION ALL SELECT 'agent', id, cal_api_key_encrypted FROM agents \
              WHERE cal_api_key_encrypted IS NOT NULL \
             UNION ALL SELECT 'webhook', id, secret_sealed FROM webhooks",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(SealedSecret::from_labelled).collect())
    }

    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool> {
        let sql = match secret.column {
            SealedColumn::ConnectionAccessToken => {
                "UPDATE calendar_providers SET access_token_encrypted = $2 \
                 WHERE id = $1 AND access_token_encrypted = $3"
            }
            SealedColumn::ConnectionRefreshToken => {
                "UPDATE calendar_providers SET refresh_token_encrypted = $2 \
                 WHERE id = $1 AND refresh_token_encrypted = $3"
            }
            SealedColumn::AgentCalApiKey => {
                "UPDATE agents SET cal_api_key_encrypted = $2 \
                 WHERE id = $1 AND cal_api_key_encrypted = $3"
            }
            SealedColumn::WebhookSecret => {
                "UPDATE webhooks SET secret_sealed = $2 WHERE id = $1 AND secret_sealed = $3"
            }
        };
        let values = stored![secret.id, &secret.value, old];
        Ok(execute(&self.writes, sql, values).await? > 0)
    }
}
