//! `/api/calendar/availability-rules`: working hours in the availability-rule JSON, per member.
//!
//! The body is exactly the availability-rule document (see `pillow_engine::RuleDocument`), plus an
//! optional `user_id` with which an admin manages a member's rules. The stored document is
//! returned with `id`, `user_id`, `created_at` and `updated_at` added. A user's first rule
//! becomes their default; a new default demotes the old one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pillow_engine::{Rule, RuleDocument, RuleError};
use pillow_store::{AvailabilityRule, NewAvailabilityRule, RuleId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{json_object, parse_id};
use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::json::from_value;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            list_rules,
            create_rule,
            update_rule_by_query,
            delete_rule_by_query
        ))
        .routes(routes!(get_rule, update_rule, delete_rule))
}

/// An availability rule as the API sends it: the stored rule document with its id, member and
/// times. The handlers build this struct, so the schema is what is sent.
#[derive(Serialize, ToSchema)]
struct RuleView {
    id: RuleId,
    user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Weekday name (`monday` … `sunday`) → ranges `{"start":"09:00","end":"17:00"}`.
    #[schema(value_type = Object)]
    schedule: Value,
    timezone: String,
    slot_duration: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot_interval: Option<i64>,
    buffer_before: i64,
    buffer_after: i64,
    min_booking_notice: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_booking_notice: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    date_overrides: Value,
    is_default: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
struct RuleList {
    rules: Vec<RuleView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only this member's rules (default: yours; every member's for an API key).
    user_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct IdQuery {
    /// The rule's id.
    id: String,
}

/// Engine validation errors are 422 and name the field.
fn rule_error(error: RuleError) -> ApiError {
    let code = ErrorCode::parse(error.code).unwrap_or(ErrorCode::InvalidRule);
    ApiError::invalid(&error.field, code, error.message)
}

/// The stored document with the row's own fields on top.
fn view(rule: AvailabilityRule) -> ApiResult<RuleView> {
    let document: RuleDocument =
        serde_json::from_value(rule.document).map_err(ApiError::internal)?;
    Ok(RuleView {
        id: rule.id,
        user_id: rule.user_id,
        name: document.name,
        schedule: serde_json::to_value(&document.schedule).map_err(ApiError::internal)?,
        timezone: document.timezone,
        slot_duration: document.slot_duration,
        slot_interval: document.slot_interval,
        buffer_before: document.buffer_before,
        buffer_after: document.buffer_after,
        min_booking_notice: document.min_booking_notice,
        max_booking_notice: document.max_booking_notice,
        date_overrides: serde_json::to_value(&document.date_overrides)
            .map_err(ApiError::internal)?,
        is_default: rule.is_default,
        created_at: rule.created_at.to_string(),
        updated_at: rule.updated_at.to_string(),
    })
}

/// Whose rule this is: the named member (admins only, for others) or the calling user.
async fn owner_of(state: &AppState, caller: &Caller, user_id: Option<&Value>) -> ApiResult<UserId> {
    match user_id {
        Some(Value::String(raw)) => {
            let id = parse_id(raw, "user")?;
            state
                .store
                .get_user(caller.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            if caller.user().is_none_or(|u| u.id != id) {
                caller.require_admin()?;
            }
            Ok(id)
        }
        Some(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "`user_id` must be a string.",
        )
        .with("field", "user_id")),
        None => caller.user().map(|u| u.id).ok_or_else(|| {
            ApiError::invalid(
                "user_id",
                ErrorCode::UserIdRequired,
                "An API key acts for no one in particular: name the member in `user_id`.",
            )
        }),
    }
}

/// Validates a document and returns it in canonical stored form.
fn validated(document: Value) -> ApiResult<(RuleDocument, Value)> {
    let parsed: RuleDocument = from_value(document)?;
    Rule::parse(&parsed).map_err(rule_error)?;
    let stored = serde_json::to_value(&parsed).map_err(ApiError::internal)?;
    Ok((parsed, stored))
}

/// Create a rule (the availability-rule JSON). 201 with the stored rule.
#[utoipa::path(post, path = "/api/calendar/availability-rules", tag = "availability",
    security(("bearer" = [])), request_body(content = Object, description = "The availability-rule JSON, optionally with `user_id`"),
    responses((status = 201, body = RuleView), (status = 400), (status = 422)))]
async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let mut body = json_object(body)?;
    let user_id = owner_of(&state, &caller, body.remove("user_id").as_ref()).await?;
    let (document, stored) = validated(Value::Object(body))?;
    // A member's first rule is their default: otherwise they would have no working hours.
    let has_default = !state
        .store
        .default_rules(caller.tenant, &[user_id])
        .await?
        .is_empty();
    let rule = state
        .store
        .create_rule(
            caller.tenant,
            &NewAvailabilityRule {
                user_id,
                name: document.name.clone(),
                is_default: document.is_default || !has_default,
                document: stored,
            },
        )
        .await?;
    // A first rule can add a member to an agent's default team.
    state.teams.invalidate(caller.tenant);
    Ok((StatusCode::CREATED, Json(view(rule)?)))
}

/// List rules: yours, or a member's with `user_id`.
#[utoipa::path(get, path = "/api/calendar/availability-rules", tag = "availability",
    security(("bearer" = [])), params(ListQuery), responses((status = 200, body = RuleList)))]
async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<RuleList>> {
    let user = match query.user_id.as_deref() {
        Some(raw) => Some(parse_id(raw, "user")?),
        None => caller.user().map(|u| u.id),
    };
    let rules = state.store.list_rules(caller.tenant, user).await?;
    let rules = rules.into_iter().map(view).collect::<ApiResult<_>>()?;
    Ok(Json(RuleList { rules }))
}

async fn load(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<AvailabilityRule> {
    let id = parse_id(raw_id, "availability rule")?;
    state
        .store
        .get_rule(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("availability rule"))
}

/// Members change their own rules; admins change anyone's.
fn may_change(caller: &Caller, rule: &AvailabilityRule) -> ApiResult<()> {
    if caller.user().is_some_and(|u| u.id == rule.user_id) {
        Ok(())
    } else {
        caller.require_admin()
    }
}

/// One rule.
#[utoipa::path(get, path = "/api/calendar/availability-rules/{id}", tag = "availability",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RuleView), (status = 404)))]
async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(view(load(&state, &caller, &id).await?)?))
}

async fn patch(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    body: Value,
) -> ApiResult<RuleView> {
    let current = load(state, caller, raw_id).await?;
    may_change(caller, &current)?;
    let changes = json_object(body)?;
    if changes.contains_key("user_id") {
        return Err(ApiError::invalid(
            "user_id",
            ErrorCode::Immutable,
            "A rule cannot move to another member; create one for them instead.",
        ));
    }
    // Top-level merge: a field given replaces the stored one; `null` resets it to its default.
    let mut merged = json_object(current.document.clone())?;
    merged.insert("is_default".into(), current.is_default.into());
    for (key, value) in changes {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    let (document, stored) = validated(Value::Object(merged))?;
    let rule = state
        .store
        .replace_rule(
            caller.tenant,
            current.id,
            &NewAvailabilityRule {
                user_id: current.user_id,
                name: document.name.clone(),
                is_default: document.is_default,
                document: stored,
            },
        )
        .await?
        .ok_or_else(|| ApiError::not_found("availability rule"))?;
    state.teams.invalidate(caller.tenant);
    view(rule)
}

/// Change a rule: the fields given replace the stored ones, and the result is validated whole.
#[utoipa::path(patch, path = "/api/calendar/availability-rules/{id}", tag = "availability",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = Object,
    responses((status = 200, body = RuleView), (status = 404), (status = 422)))]
async fn update_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(patch(&state, &caller, &id, body).await?))
}

/// As `PATCH /api/calendar/availability-rules/{id}`, with the id in the query.
#[utoipa::path(patch, path = "/api/calendar/availability-rules", tag = "availability",
    security(("bearer" = [])), params(IdQuery), request_body = Object,
    responses((status = 200, body = RuleView), (status = 404), (status = 422)))]
async fn update_rule_by_query(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<IdQuery>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(patch(&state, &caller, &query.id, body).await?))
}

async fn remove(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<StatusCode> {
    let rule = load(state, caller, raw_id).await?;
    may_change(caller, &rule)?;
    state.teams.invalidate(caller.tenant);
    if state.store.delete_rule(caller.tenant, rule.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("availability rule"))
    }
}

/// Delete a rule. Deleting the default leaves the member without working hours until another
/// rule is made the default.
#[utoipa::path(delete, path = "/api/calendar/availability-rules/{id}", tag = "availability",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    remove(&state, &caller, &id).await
}

/// As `DELETE /api/calendar/availability-rules/{id}`, with the id in the query.
#[utoipa::path(delete, path = "/api/calendar/availability-rules", tag = "availability",
    security(("bearer" = [])), params(IdQuery), responses((status = 204), (status = 404)))]
async fn delete_rule_by_query(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<IdQuery>,
) -> ApiResult<StatusCode> {
    remove(&state, &caller, &query.id).await
}
