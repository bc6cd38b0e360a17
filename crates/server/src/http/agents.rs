//! `/api/agents`: voice agents of the caller's tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use pillow_store::{Agent, AgentBackend, AgentId, AgentPatch, NewAgent};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_time_zone, parse_id};
use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, update_agent, delete_agent))
}

/// An agent as the API shows it. The Cal.com key is write-only: we say whether one is set.
#[derive(Serialize, ToSchema)]
pub struct AgentView {
    id: AgentId,
    #[schema(value_type = String, format = Uuid)]
    tenant_id: pillow_store::TenantId,
    name: String,
    time_zone: String,
    /// `native` or `calcom`.
    #[schema(value_type = String, example = "native")]
    backend: AgentBackend,
    cal_enabled: bool,
    cal_api_key_set: bool,
    cal_event_type_slug: Option<String>,
    cal_timezone: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Agent> for AgentView {
    fn from(agent: Agent) -> Self {
        Self {
            id: agent.id,
            tenant_id: agent.tenant_id,
            name: agent.name,
            time_zone: agent.time_zone,
            backend: agent.backend,
            cal_enabled: agent.cal_enabled,
            cal_api_key_set: agent.cal_api_key_encrypted.is_some(),
            cal_event_type_slug: agent.cal_event_type_slug,
            cal_timezone: agent.cal_timezone,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct AgentList {
    agents: Vec<AgentView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAgent {
    name: String,
    /// IANA zone the agent speaks times in.
    time_zone: String,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    cal_enabled: Option<bool>,
    #[serde(default)]
    cal_api_key: Option<String>,
    #[serde(default)]
    cal_event_type_slug: Option<String>,
    #[serde(default)]
    cal_timezone: Option<String>,
}

/// `null` clears a clearable field; leaving it out leaves it alone.
fn clearable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAgent {
    name: Option<String>,
    time_zone: Option<String>,
    backend: Option<String>,
    cal_enabled: Option<bool>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    cal_api_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    cal_event_type_slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    cal_timezone: Option<Option<String>>,
}

pub(crate) fn check_backend(value: &str) -> Result<AgentBackend, ApiError> {
    AgentBackend::parse(value).ok_or_else(|| {
        ApiError::invalid(
            "backend",
            ErrorCode::InvalidBackend,
            "A backend is native or calcom.",
        )
    })
}

pub(crate) fn check_agent_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            ErrorCode::InvalidName,
            "A name must have 1 to 200 characters.",
        ));
    }
    Ok(name.to_string())
}

pub(crate) fn check_slug(slug: &str) -> Result<String, ApiError> {
    let ok = !slug.is_empty()
        && slug.len() <= 100
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(slug.to_string())
    } else {
        Err(ApiError::invalid(
            "cal_event_type_slug",
            ErrorCode::InvalidSlug,
            "An event type slug has letters, digits, '-' and '_' only.",
        ))
    }
}

/// A Cal.com agent cannot work without a key and an event type.
pub(crate) fn check_calcom_complete(agent: &Agent) -> Result<(), ApiError> {
    if agent.backend != AgentBackend::Calcom {
        return Ok(());
    }
    if agent.cal_api_key_encrypted.is_none() {
        return Err(ApiError::invalid(
            "cal_api_key",
            ErrorCode::CalcomIncomplete,
            "The calcom backend needs cal_api_key.",
        ));
    }
    if agent.cal_event_type_slug.is_none() {
        return Err(ApiError::invalid(
            "cal_event_type_slug",
            ErrorCode::CalcomIncomplete,
            "The calcom backend needs cal_event_type_slug.",
        ));
    }
    Ok(())
}

/// List your tenant's voice agents.
#[utoipa::path(get, path = "/api/agents", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = AgentList)))]
async fn list_agents(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AgentList>> {
    let agents = state.store.list_agents(caller.tenant).await?;
    Ok(Json(AgentList {
        agents: agents.into_iter().map(AgentView::from).collect(),
    }))
}

/// Create a voice agent (owners and admins).
#[utoipa::path(post, path = "/api/agents", tag = "agents", security(("bearer" = [])),
    request_body = CreateAgent, responses((status = 201, body = AgentView)))]
async fn create_agent(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateAgent>,
) -> ApiResult<(StatusCode, Json<AgentView>)> {
    caller.require_admin()?;
    let name = check_agent_name(&body.name)?;
    check_time_zone("time_zone", &body.time_zone)?;
    if let Some(zone) = &body.cal_timezone {
        check_time_zone("cal_timezone", zone)?;
    }
    let backend = body.backend.as_deref().map(check_backend).transpose()?;
    let new = NewAgent {
        name,
        time_zone: body.time_zone,
        backend: backend.unwrap_or(AgentBackend::Native),
        cal_enabled: body.cal_enabled.unwrap_or(false),
        cal_api_key_encrypted: body
            .cal_api_key
            .as_deref()
            .map(|k| state.config.secrets.seal(k)),
        cal_event_type_slug: body
            .cal_event_type_slug
            .as_deref()
            .map(check_slug)
            .transpose()?,
        cal_timezone: body.cal_timezone,
    };
    let preview = Agent {
        id: AgentId(Uuid::nil()),
        tenant_id: caller.tenant,
        name: new.name.clone(),
        time_zone: new.time_zone.clone(),
        backend: new.backend,
        cal_enabled: new.cal_enabled,
        cal_api_key_encrypted: new.cal_api_key_encrypted.clone(),
        cal_event_type_slug: new.cal_event_type_slug.clone(),
        cal_timezone: new.cal_timezone.clone(),
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    };
    check_calcom_complete(&preview)?;
    let agent = state.store.create_agent(caller.tenant, &new).await?;
    Ok((StatusCode::CREATED, Json(agent.into())))
}

/// One agent.
#[utoipa::path(get, path = "/api/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = AgentView), (status = 404)))]
async fn get_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    let id = parse_id(&id, "agent")?;
    let agent = state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(Json(agent.into()))
}

/// Change an agent (owners and admins). Switching `backend` between `calcom` and `native` is
/// the gradual migration off Cal.com, one update per agent.
#[utoipa::path(patch, path = "/api/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateAgent,
    responses((status = 200, body = AgentView), (status = 404)))]
async fn update_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAgent>,
) -> ApiResult<Json<AgentView>> {
    let id = parse_id(&id, "agent")?;
    let current = state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    caller.require_admin()?;
    if let Some(zone) = &body.time_zone {
        check_time_zone("time_zone", zone)?;
    }
    if let Some(Some(zone)) = &body.cal_timezone {
        check_time_zone("cal_timezone", zone)?;
    }
    let patch = AgentPatch {
        name: body.name.as_deref().map(check_agent_name).transpose()?,
        time_zone: body.time_zone,
        backend: body.backend.as_deref().map(check_backend).transpose()?,
        cal_enabled: body.cal_enabled,
        cal_api_key_encrypted: body
            .cal_api_key
            .map(|key| key.map(|k| state.config.secrets.seal(&k))),
        cal_event_type_slug: body
            .cal_event_type_slug
            .map(|slug| slug.as_deref().map(check_slug).transpose())
            .transpose()?,
        cal_timezone: body.cal_timezone,
    };
    let mut preview = current;
    if let Some(backend) = patch.backend {
        preview.backend = backend;
    }
    if let Some(key) = &patch.cal_api_key_encrypted {
        preview.cal_api_key_encrypted = key.clone();
    }
    if let Some(slug) = &patch.cal_event_type_slug {
        preview.cal_event_type_slug = slug.clone();
    }
    check_calcom_complete(&preview)?;
    let agent = state
        .store
        .update_agent(caller.tenant, id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    state.teams.invalidate(caller.tenant);
    Ok(Json(agent.into()))
}

/// Delete an agent (owners and admins).
#[utoipa::path(delete, path = "/api/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
async fn delete_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "agent")?;
    state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    caller.require_admin()?;
    state.teams.invalidate(caller.tenant);
    if state.store.delete_agent(caller.tenant, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("agent"))
    }
}
