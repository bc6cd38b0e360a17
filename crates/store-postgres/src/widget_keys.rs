//! Publishable widget keys on PostgreSQL (the in-call widget).
//!
//! Tenant-scoped like everything else; the one cross-tenant read, by prefix, sets only
//! `app.widget_key_prefix`, which the `widget_keys_by_prefix` policy reads: it reveals the one
//! key presented and nothing more.

use async_trait::async_trait;
use pillow_store::*;
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::{PostgresStore, commit, db, now};

#[derive(FromRow)]
pub(crate) struct WidgetKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    allowed_origins: Json<Vec<String>>,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
}

impl WidgetKeyRow {
    fn into_model(self) -> WidgetKey {
        WidgetKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            allowed_origins: self.allowed_origins.0,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        }
    }
}

fn missing_agent(error: sqlx::Error) -> StoreError {
    match db(error) {
        StoreError::MissingReference(_) => StoreError::MissingReference(Entity::Agent),
        other => other,
    }
}

#[async_trait]
impl WidgetKeyStore for PostgresStore {
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, WidgetKeyRow>(
            "INSERT INTO widget_keys (id, tenant_id, agent_id, name, prefix, secret_hash,
                                      allowed_origins, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(key.agent_id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(Json(&key.allowed_origins))
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(missing_agent)?;
        commit(tx, row.into_model()).await
    }

    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Vec<WidgetKey>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, WidgetKeyRow>(
            "SELECT * FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2
             ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, rows.into_iter().map(WidgetKeyRow::into_model).collect()).await
    }

    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>> {
        let mut tx = self.scoped(tenant).await?;
        let (prefix, hash) = patch.secret.clone().unzip();
        let row = sqlx::query_as::<_, WidgetKeyRow>(
            "UPDATE widget_keys
                SET name = COALESCE($4, name),
                    allowed_origins = COALESCE($5, allowed_origins),
                    prefix = COALESCE($6, prefix),
                    secret_hash = COALESCE($7, secret_hash),
                    updated_at = $8
              WHERE tenant_id = $1 AND agent_id = $2 AND id = $3
              RETURNING *",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(id)
        .bind(&patch.name)
        .bind(patch.allowed_origins.as_ref().map(Json))
        .bind(prefix)
        .bind(hash)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(WidgetKeyRow::into_model)).await
    }

    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "DELETE FROM widget_keys WHERE tenant_id = $1 AND agent_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }

    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Transaction-local, so a pooled connection never carries it to the next caller.
        sqlx::query("SELECT set_config('app.widget_key_prefix', $1, true)")
            .bind(prefix)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let row = sqlx::query_as::<_, WidgetKeyRow>("SELECT * FROM widget_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(WidgetKeyRow::into_model)).await
    }
}
