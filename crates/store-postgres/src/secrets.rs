//! Sealed secrets, for key rotation on PostgreSQL.

use super::*;

#[async_trait]
impl SecretStore for PostgresStore {
    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>> {
        let mut tx = self.begin_setting("app.maintenance", "on").await?;
        let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
            "SELECT 'access', id, access_token_encrypted FROM calendar_providers
              WHERE access_token_encrypted IS NOT NULL
             UNION ALL SELECT 'refresh', id, refresh_token_encrypted FROM calendar_providers
              WHERE refresh_token_encrypted IS NOT NULL
             UNION ALL SELECT 'agent', id, cal_api_key_encrypted FROM agents
              WHERE cal_api_key_encrypted IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, rows.into_iter().map(sealed_secret).collect()).await
    }

    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool> {
        let sql = match secret.column {
            SealedColumn::ConnectionAccessToken => {
                "UPDATE calendar_providers SET access_token_encrypted = $2
                  WHERE id = $1 AND access_token_encrypted = $3"
            }
            SealedColumn::ConnectionRefreshToken => {
                "UPDATE calendar_providers SET refresh_token_encrypted = $2
                  WHERE id = $1 AND refresh_token_encrypted = $3"
            }
            SealedColumn::AgentCalApiKey => {
                "UPDATE agents SET cal_api_key_encrypted = $2
                  WHERE id = $1 AND cal_api_key_encrypted = $3"
            }
        };
        let mut tx = self.begin_setting("app.maintenance", "on").await?;
        let done = sqlx::query(sql)
            .bind(secret.id)
            .bind(&secret.value)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }
}

fn sealed_secret((column, id, value): (String, Uuid, String)) -> SealedSecret {
    let column = match column.as_str() {
        "access" => SealedColumn::ConnectionAccessToken,
        "refresh" => SealedColumn::ConnectionRefreshToken,
        _ => SealedColumn::AgentCalApiKey,
    };
    SealedSecret { column, id, value }
}
