//! Availability rules on PostgreSQL.

use super::*;

/// The user a rule belongs to, for [`PostgresStore::scoped_owned`].
const RULE_OWNER: &str = "SELECT user_id FROM availability_rules WHERE tenant_id = $1 AND id = $2";

#[async_trait]
impl RuleStore for PostgresStore {
    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule> {
        let id = RuleId::new();
        let mut tx = self.scoped(tenant).await?;
        // The bump also proves the user is in this tenant, and locks the user.
        if !bump(&mut tx, tenant, rule.user_id).await? {
            return rollback(tx, Err(missing_user())).await;
        }
        if rule.is_default {
            demote(&mut tx, tenant, rule.user_id, id).await?;
        }
        let created = fetch_one(
            &mut *tx,
            "INSERT INTO availability_rules (id, tenant_id, user_id, name, is_default, document,
                                             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             RETURNING *",
            rule.insert_values(tenant, id, Timestamp::now()),
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
        let Some((mut tx, user)) = self.scoped_owned(RULE_OWNER, tenant, id).await? else {
            return Ok(None);
        };
        if rule.is_default {
            demote(&mut tx, tenant, user, id).await?;
        }
        let replaced = fetch_optional(
            &mut *tx,
            "UPDATE availability_rules
                SET name = $3, is_default = $4, document = $5, updated_at = $6
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
            rule.replace_values(tenant, id, Timestamp::now()),
        )
        .await?;
        if replaced.is_none() {
            // Deleted between the look-up and the update: undo the bump.
            return rollback(tx, Ok(None)).await;
        }
        commit(tx, replaced).await
    }

    async fn get_rule(
        &self,
        tenant: TenantId,
        id: RuleId,
    ) -> StoreResult<Option<AvailabilityRule>> {
        self.fetch_optional_in(
            Scope::Tenant(tenant),
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
        self.fetch_in(
            Scope::Tenant(tenant),
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
              ORDER BY created_at, id",
            stored![tenant, user_id],
        )
        .await
    }

    async fn delete_rule(&self, tenant: TenantId, id: RuleId) -> StoreResult<bool> {
        let Some((mut tx, _)) = self.scoped_owned(RULE_OWNER, tenant, id).await? else {
            return Ok(false);
        };
        let deleted = execute(
            &mut *tx,
            "DELETE FROM availability_rules WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await?;
        if deleted == 0 {
            return rollback(tx, Ok(false)).await;
        }
        commit(tx, true).await
    }

    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
    ) -> StoreResult<Vec<AvailabilityRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.fetch_in(
            Scope::Tenant(tenant),
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND user_id = ANY($2) AND is_default",
            stored![tenant, user_ids],
        )
        .await
    }

    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<UserId>> {
        self.within(Scope::Tenant(tenant), async |tx| {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT user_id FROM availability_rules
                  WHERE tenant_id = $1 AND is_default
                  ORDER BY user_id",
            )
            .bind(tenant.0)
            .fetch_all(tx)
            .await
            .map_err(db)
            .map(|ids| ids.into_iter().map(UserId).collect())
        })
        .await
    }
}

/// Ends the user's current default rule, except `keep`: the first step of making another one
/// the default (the partial unique index allows one at a time).
async fn demote(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    keep: RuleId,
) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE availability_rules SET is_default = false, updated_at = $4
          WHERE tenant_id = $1 AND user_id = $2 AND is_default AND id <> $3",
        stored![tenant, user, keep, Timestamp::now()],
    )
    .await?;
    Ok(())
}
