//! Availability rules on PostgreSQL.

use super::*;

#[async_trait]
impl RuleStore for PostgresStore {
    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule> {
        let id = new_id();
        let mut tx = self.scoped(tenant).await?;
        // The bump also proves the user is in this tenant, and locks the user.
        if !bump(&mut tx, tenant, rule.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        if rule.is_default {
            demote(&mut tx, tenant, rule.user_id, id).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "INSERT INTO availability_rules (id, tenant_id, user_id, name, is_default, document,
                                             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             RETURNING *",
        )
        .bind(id)
        .bind(tenant.0)
        .bind(rule.user_id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(&rule.document)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: Uuid,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Rule, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        if rule.is_default {
            demote(&mut tx, tenant, user, id).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "UPDATE availability_rules
                SET name = $3, is_default = $4, document = $5, updated_at = $6
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(&rule.document)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Deleted between the look-up and the update: undo the bump.
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        commit(tx, Some(row.into_model()?)).await
    }

    async fn get_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(RuleRow::into_model).transpose()?).await
    }

    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
              ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, RuleRow::into_model)?).await
    }

    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Rule, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        };
        bump(&mut tx, tenant, user).await?;
        let done = sqlx::query("DELETE FROM availability_rules WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        commit(tx, true).await
    }

    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<AvailabilityRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND user_id = ANY($2) AND is_default",
        )
        .bind(tenant.0)
        .bind(user_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, RuleRow::into_model)?).await
    }

    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.scoped(tenant).await?;
        let users = sqlx::query_scalar(
            "SELECT user_id FROM availability_rules
              WHERE tenant_id = $1 AND is_default
              ORDER BY user_id",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, users).await
    }
}

/// Ends the user's current default rule, except `keep`: the first step of making another one
/// the default (the partial unique index allows one at a time).
async fn demote(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    keep: Uuid,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE availability_rules SET is_default = false, updated_at = $4
          WHERE tenant_id = $1 AND user_id = $2 AND is_default AND id <> $3",
    )
    .bind(tenant.0)
    .bind(user)
    .bind(keep)
    .bind(now())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[derive(FromRow)]
struct RuleRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    is_default: bool,
    /// `sqlx::types::JsonValue` is `serde_json::Value`.
    document: sqlx::types::JsonValue,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
}

impl RuleRow {
    fn into_model(self) -> StoreResult<AvailabilityRule> {
        Ok(AvailabilityRule {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            name: self.name,
            is_default: self.is_default,
            document: self.document,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
