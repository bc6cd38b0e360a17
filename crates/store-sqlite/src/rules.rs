//! Availability rules on SQLite.

use super::*;

/// The user a rule belongs to, for [`SqliteStore::write_owned`].
const RULE_OWNER: &str = "SELECT user_id FROM availability_rules WHERE tenant_id = $1 AND id = $2";

#[async_trait]
impl RuleStore for SqliteStore {
    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule> {
        let id = RuleId::new();
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        // The bump also proves the user is in this tenant.
        if !bump(&mut tx, tenant, rule.user_id).await? {
            return rollback(tx, Err(missing_user())).await;
        }
        if rule.is_default {
            demote(&mut tx, tenant, rule.user_id, id, now).await?;
        }
        let created = fetch_one(
            &mut *tx,
            "INSERT INTO availability_rules (id, tenant_id, user_id, name, is_default, document, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *",
            rule.insert_values(tenant, id, now),
        )
        .await?;
        commit(tx, created).await
    }

    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: RuleId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>> {
        let now = Timestamp::now();
        let Some((mut tx, user)) = self.write_owned(RULE_OWNER, tenant, id).await? else {
            return Ok(None);
        };
        if rule.is_default {
            demote(&mut tx, tenant, user, id, now).await?;
        }
        let replaced = fetch_optional(
            &mut *tx,
            "UPDATE availability_rules SET name = $3, is_default = $4, document = $5, \
             updated_at = $6 WHERE tenant_id = $1 AND id = $2 RETURNING *",
            rule.replace_values(tenant, id, now),
        )
        .await?;
        commit(tx, replaced).await
    }

    async fn get_rule(
        &self,
        tenant: TenantId,
        id: RuleId,
    ) -> StoreResult<Option<AvailabilityRule>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await
    }

    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<UserId>,
    ) -> StoreResult<Vec<AvailabilityRule>> {
        fetch(
            &self.pool,
            "SELECT * FROM availability_rules \
             WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
            stored![tenant, user_id],
        )
        .await
    }

    async fn delete_rule(&self, tenant: TenantId, id: RuleId) -> StoreResult<bool> {
        let Some((mut tx, _)) = self.write_owned(RULE_OWNER, tenant, id).await? else {
            return Ok(false);
        };
        let deleted = execute(
            &mut *tx,
            "DELETE FROM availability_rules WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await?;
        commit(tx, deleted > 0).await
    }

    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
    ) -> StoreResult<Vec<AvailabilityRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        fetch(
            &self.pool,
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND is_default \
             AND user_id IN (SELECT unhex(value) FROM json_each($2))",
            stored![tenant, user_ids],
        )
        .await
    }

    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<UserId>> {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT user_id FROM availability_rules WHERE tenant_id = $1 AND is_default \
             ORDER BY user_id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
        .map(|ids| ids.into_iter().map(UserId).collect())
    }
}

/// Ends the user's current default rule, except `keep`: the first step of making another one
/// the default (the partial unique index allows one at a time).
async fn demote(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    keep: RuleId,
    now: Timestamp,
) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE availability_rules SET is_default = 0, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND is_default AND id <> $3",
        stored![tenant, user, keep, now],
    )
    .await?;
    Ok(())
}
