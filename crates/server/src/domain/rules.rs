//! Saving a member's working hours as their default availability rule, checked by the engine
//! exactly as the API checks a rule document.

use pillow_engine::{Rule, RuleDocument, RuleError};
use pillow_store::{AvailabilityRule, NewAvailabilityRule, TenantId, UserId};

use crate::AppState;
use crate::domain::error::{DomainError, DomainResult, ErrorCode};

/// The engine's refusal as a domain error naming the document's field (`schedule.monday[0].end`).
pub fn rule_error(error: RuleError) -> DomainError {
    let code = ErrorCode::parse(error.code).unwrap_or(ErrorCode::InvalidRule);
    DomainError::invalid(&error.field, code, error.message)
}

/// The member's default rule, if they have one.
///
/// # Errors
/// Only if the store fails.
pub async fn default_rule(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
) -> DomainResult<Option<AvailabilityRule>> {
    Ok(state
        .store
        .default_rules(tenant, &[user])
        .await?
        .into_iter()
        .next())
}

/// Validates `document` and saves it as the member's default rule: it replaces the current
/// default, or becomes the first. Nothing is written when the engine refuses it.
///
/// # Errors
/// An `invalid_*` error naming the refused field; a store failure.
pub async fn save_default_rule(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
    mut document: RuleDocument,
) -> DomainResult<AvailabilityRule> {
    document.is_default = true;
    Rule::parse(&document).map_err(rule_error)?;
    let stored = serde_json::to_value(&document).map_err(DomainError::internal)?;
    let rule = NewAvailabilityRule {
        user_id: user,
        name: document.name.clone(),
        is_default: true,
        document: stored,
    };
    let saved = match default_rule(state, tenant, user).await? {
        Some(current) => state
            .store
            .replace_rule(tenant, current.id, &rule)
            .await?
            .ok_or_else(|| DomainError::not_found("availability rule"))?,
        None => state.store.create_rule(tenant, &rule).await?,
    };
    // A first rule can add a member to an agent's default team.
    state.teams.invalidate(tenant);
    Ok(saved)
}
