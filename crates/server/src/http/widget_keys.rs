//! Publishable widget keys, `/api/agents/{id}/widget-keys`: the tenant's admins create, list,
//! rename, rotate and revoke the `pk_…` keys the in-call widget carries. The whole key is shown
//! once, on creation and rotation; the store keeps its hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pillow_store::{AgentId, NewWidgetKey, WidgetKey, WidgetKeyPatch};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::AppState;
use crate::credentials::WIDGET_KEY;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_widget_keys, create_widget_key))
        .routes(routes!(update_widget_key, revoke_widget_key))
        .routes(routes!(rotate_widget_key))
}

/// At most this many origins per key: an allow-list, not a directory.
const MAX_ORIGINS: usize = 50;

/// `{"widget_keys": [...]}`.
#[derive(serde::Serialize, ToSchema)]
struct WidgetKeyList {
    widget_keys: Vec<WidgetKeyView>,
}

#[derive(serde::Serialize, ToSchema)]
struct WidgetKeyView {
    id: Uuid,
    agent_id: AgentId,
    name: String,
    /// The public part of the key; the whole key is shown only when created or rotated.
    prefix: String,
    allowed_origins: Vec<String>,
    created_at: String,
    updated_at: String,
    /// The whole key: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn key_view(key: WidgetKey, whole: Option<String>) -> WidgetKeyView {
    WidgetKeyView {
        id: key.id,
        agent_id: key.agent_id,
        name: key.name,
        prefix: key.prefix,
        allowed_origins: key.allowed_origins,
        created_at: key.created_at.to_string(),
        updated_at: key.updated_at.to_string(),
        key: whole,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWidgetKey {
    #[serde(default)]
    name: Option<String>,
    /// Origins whose pages may use the key, e.g. `https://shop.example`; the server's own
    /// pages always may.
    #[serde(default)]
    allowed_origins: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateWidgetKey {
    name: Option<String>,
    allowed_origins: Option<Vec<String>>,
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port; nothing else.
pub fn check_origin(index: usize, raw: &str) -> ApiResult<String> {
    let field = format!("allowed_origins[{index}]");
    let bad = || {
        ApiError::invalid(
            &field,
            ErrorCode::InvalidOrigin,
            format!(
                "{raw:?} is not an origin such as https://shop.example or http://localhost:8080."
            ),
        )
    };
    let origin = raw.trim().to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(origin)
    } else {
        Err(bad())
    }
}

pub(crate) fn check_origins(origins: &[String]) -> ApiResult<Vec<String>> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::invalid(
            "allowed_origins",
            ErrorCode::TooManyOrigins,
            format!("A key allows at most {MAX_ORIGINS} origins."),
        ));
    }
    let mut checked: Vec<String> = Vec::new();
    for (i, origin) in origins.iter().enumerate() {
        let origin = check_origin(i, origin)?;
        if !checked.contains(&origin) {
            checked.push(origin);
        }
    }
    Ok(checked)
}

pub(crate) fn check_key_name(name: Option<&str>) -> ApiResult<Option<String>> {
    match name.map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 100 => Err(ApiError::invalid(
            "name",
            ErrorCode::InvalidName,
            "A key's name has 1 to 100 characters.",
        )),
        other => Ok(other.map(String::from)),
    }
}

async fn admin_agent(state: &AppState, caller: &Caller, agent_id: &str) -> ApiResult<AgentId> {
    caller.require_admin()?;
    let id = parse_id(agent_id, "agent")?;
    state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(id)
}

/// The agent's widget keys (without their secrets).
#[utoipa::path(get, path = "/api/agents/{id}/widget-keys", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = WidgetKeyList), (status = 404)))]
async fn list_widget_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WidgetKeyList>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let widget_keys: Vec<WidgetKeyView> = state
        .store
        .list_widget_keys(caller.tenant, agent_id)
        .await?
        .into_iter()
        .map(|k| key_view(k, None))
        .collect();
    Ok(Json(WidgetKeyList { widget_keys }))
}

/// Creates a publishable widget key for the agent; the whole key is in this answer only.
#[utoipa::path(post, path = "/api/agents/{id}/widget-keys", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateWidgetKey,
    responses((status = 201, body = WidgetKeyView), (status = 403), (status = 404), (status = 422)))]
async fn create_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    crate::http::extract::ApiJson(body): crate::http::extract::ApiJson<CreateWidgetKey>,
) -> ApiResult<(StatusCode, Json<WidgetKeyView>)> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let name = check_key_name(body.name.as_deref())?.unwrap_or_else(|| "widget".into());
    let allowed_origins = check_origins(&body.allowed_origins)?;
    let minted = WIDGET_KEY.mint();
    let key = state
        .store
        .create_widget_key(
            caller.tenant,
            &NewWidgetKey {
                agent_id,
                name,
                prefix: minted.prefix,
                secret_hash: minted.secret_hash,
                allowed_origins,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key_view(key, Some(minted.key)))))
}

/// Changes a key's name or allowed origins; the key itself stays valid.
#[utoipa::path(patch, path = "/api/agents/{id}/widget-keys/{key_id}", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    request_body = UpdateWidgetKey,
    responses((status = 200, body = WidgetKeyView), (status = 404), (status = 422)))]
async fn update_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
    crate::http::extract::ApiJson(body): crate::http::extract::ApiJson<UpdateWidgetKey>,
) -> ApiResult<Json<WidgetKeyView>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    let patch = WidgetKeyPatch {
        name: check_key_name(body.name.as_deref())?,
        allowed_origins: body
            .allowed_origins
            .as_deref()
            .map(check_origins)
            .transpose()?,
        secret: None,
    };
    let key = state
        .store
        .update_widget_key(caller.tenant, agent_id, key_id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("widget key"))?;
    Ok(Json(key_view(key, None)))
}

/// Replaces the key's secret: the old key stops working at once; the new one is in this
/// answer only.
#[utoipa::path(post, path = "/api/agents/{id}/widget-keys/{key_id}/rotate", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 200, body = WidgetKeyView), (status = 404)))]
async fn rotate_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<WidgetKeyView>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    let minted = WIDGET_KEY.mint();
    let patch = WidgetKeyPatch {
        name: None,
        allowed_origins: None,
        secret: Some((minted.prefix, minted.secret_hash)),
    };
    let key = state
        .store
        .update_widget_key(caller.tenant, agent_id, key_id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("widget key"))?;
    Ok(Json(key_view(key, Some(minted.key))))
}

/// Revokes a key: it stops working at once.
#[utoipa::path(delete, path = "/api/agents/{id}/widget-keys/{key_id}", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn revoke_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    if state
        .store
        .delete_widget_key(caller.tenant, agent_id, key_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("widget key"))
    }
}
