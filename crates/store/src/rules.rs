//! Availability rules of one user.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

/// An availability rule of one user. `document` is the rule JSON exactly as validated by the
/// engine (`pillow_engine::RuleDocument` serialised), kept whole so a stored rule reads back
/// identical (as a JSON value: PostgreSQL keeps it as `jsonb`, which does not keep key order or
/// whitespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityRule {
    pub id: RuleId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub name: Option<String>,
    /// At most one rule per user is the default; making one the default demotes the other.
    pub is_default: bool,
    pub document: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAvailabilityRule {
    pub user_id: UserId,
    pub name: Option<String>,
    pub is_default: bool,
    pub document: serde_json::Value,
}

/// Availability rules.
///
/// Every write also bumps the rule's user's busy version (see [`EventStore::busy_versions`]) in
/// the same transaction.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Creates a rule. With `is_default`, the user's previous default (if any) stops being the
    /// default in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant.
    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule>;
    /// Replaces name, is_default and document (`rule.user_id` is ignored: the user stays).
    /// With `is_default`, the user's previous default is demoted as in `create_rule`. `None` if
    /// absent in this tenant.
    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: RuleId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>>;
    async fn get_rule(&self, tenant: TenantId, id: RuleId)
    -> StoreResult<Option<AvailabilityRule>>;
    /// All rules of the tenant, or of one user; ordered by created_at, id.
    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<UserId>,
    ) -> StoreResult<Vec<AvailabilityRule>>;
    /// Deletes a rule; deleting a user's default leaves the user without one.
    async fn delete_rule(&self, tenant: TenantId, id: RuleId) -> StoreResult<bool>;
    /// The default rule of each listed user that has one (any order).
    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
    ) -> StoreResult<Vec<AvailabilityRule>>;
    /// Users of the tenant that have a default rule (for "all members with a default rule"),
    /// ordered by id.
    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<UserId>>;
}

impl FromStored for AvailabilityRule {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(AvailabilityRule {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            name: row.get_optional("name")?,
            is_default: row.get("is_default")?,
            document: row.get("document")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl NewAvailabilityRule {
    /// `$1` to `$7` of both backends' `INSERT INTO availability_rules`: id, tenant, user, name,
    /// default flag, document, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: RuleId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 7] {
        [
            id.into(),
            tenant.into(),
            self.user_id.into(),
            (&self.name).into(),
            self.is_default.into(),
            (&self.document).into(),
            now.into(),
        ]
    }

    /// `$1` to `$6` of both backends' `UPDATE availability_rules` of a whole rule: tenant and
    /// id, name, default flag, document and `now`.
    pub fn replace_values(
        &self,
        tenant: TenantId,
        id: RuleId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 6] {
        [
            tenant.into(),
            id.into(),
            (&self.name).into(),
            self.is_default.into(),
            (&self.document).into(),
            now.into(),
        ]
    }
}
