//! Publishable widget keys on SQLite (the in-call widget).

use async_trait::async_trait;
use jiff::Timestamp;
use pillow_store::*;
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::{SqliteStore, db, instant, micros};

#[derive(FromRow)]
struct WidgetKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    allowed_origins: Json<Vec<String>>,
    created_at: i64,
    updated_at: i64,
}

impl WidgetKeyRow {
    fn into_model(self) -> StoreResult<WidgetKey> {
        Ok(WidgetKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            allowed_origins: self.allowed_origins.0,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

fn origins_text(origins: &[String]) -> StoreResult<String> {
    serde_json::to_string(origins).map_err(|e| StoreError::Database(e.to_string()))
}

#[async_trait]
impl WidgetKeyStore for SqliteStore {
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey> {
        sqlx::query_as::<_, WidgetKeyRow>(
            "INSERT INTO widget_keys (id, tenant_id, agent_id, name, prefix, secret_hash, \
             allowed_origins, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(key.agent_id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(origins_text(&key.allowed_origins)?)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match db(e) {
            // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
            StoreError::MissingReference(_) => StoreError::MissingReference(Entity::Agent),
            other => other,
        })?
        .into_model()
    }

    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Vec<WidgetKey>> {
        sqlx::query_as::<_, WidgetKeyRow>(
            "SELECT * FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 \
             ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .into_iter()
        .map(WidgetKeyRow::into_model)
        .collect()
    }

    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>> {
        let (prefix, hash) = patch.secret.clone().unzip();
        let origins = patch
            .allowed_origins
            .as_deref()
            .map(origins_text)
            .transpose()?;
        sqlx::query_as::<_, WidgetKeyRow>(
            "UPDATE widget_keys SET name = COALESCE($4, name), \
             allowed_origins = COALESCE($5, allowed_origins), prefix = COALESCE($6, prefix), \
             secret_hash = COALESCE($7, secret_hash), updated_at = $8 \
             WHERE tenant_id = $1 AND agent_id = $2 AND id = $3 RETURNING *",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(id)
        .bind(&patch.name)
        .bind(origins)
        .bind(prefix)
        .bind(hash)
        .bind(micros(Timestamp::now()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(WidgetKeyRow::into_model)
        .transpose()
    }

    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>> {
        sqlx::query_as::<_, WidgetKeyRow>("SELECT * FROM widget_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(WidgetKeyRow::into_model)
            .transpose()
    }
}
