//! Appointment types, `/api/agents/{id}/appointment-types`: the kinds of appointment an agent
//! offers. Members read them; owners and admins change them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pillow_store::AgentId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::AppState;
use crate::domain::appointment_types::{
    self as types, AppointmentTypeBody, AppointmentTypePatch, AppointmentTypeView,
};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_types, create_type))
        .routes(routes!(get_type, update_type, delete_type))
}

/// `{"appointment_types": [...]}`, oldest first.
#[derive(Serialize, ToSchema)]
struct AppointmentTypeList {
    appointment_types: Vec<AppointmentTypeView>,
}

async fn agent(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<AgentId> {
    let id = parse_id(raw, "agent")?;
    state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(id)
}

fn type_id(raw: &str) -> ApiResult<Uuid> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::not_found("appointment type"))
}

/// The agent's appointment types.
#[utoipa::path(get, path = "/api/agents/{id}/appointment-types", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AppointmentTypeList), (status = 404)))]
async fn list_types(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AppointmentTypeList>> {
    let agent = agent(&state, &caller, &id).await?;
    let appointment_types = types::list_views(&state, caller.tenant, agent).await?;
    Ok(Json(AppointmentTypeList { appointment_types }))
}

/// Adds an appointment type (owners and admins). Fields are checked in order and the first
/// problem is a 422 naming it; a slug the agent already uses is a 409.
#[utoipa::path(post, path = "/api/agents/{id}/appointment-types", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = AppointmentTypeBody,
    responses((status = 201, body = AppointmentTypeView), (status = 403), (status = 404),
              (status = 409), (status = 422)))]
async fn create_type(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AppointmentTypeBody>,
) -> ApiResult<(StatusCode, Json<AppointmentTypeView>)> {
    caller.require_admin()?;
    let agent = agent(&state, &caller, &id).await?;
    let created = types::create(&state, caller.tenant, agent, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One appointment type of the agent.
#[utoipa::path(get, path = "/api/agents/{id}/appointment-types/{type_id}", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("type_id" = Uuid, Path)),
    responses((status = 200, body = AppointmentTypeView), (status = 404)))]
async fn get_type(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, type_id_raw)): Path<(String, String)>,
) -> ApiResult<Json<AppointmentTypeView>> {
    let agent = agent(&state, &caller, &id).await?;
    let found = types::get(&state, caller.tenant, agent, type_id(&type_id_raw)?).await?;
    Ok(Json(found))
}

/// Changes the fields sent (owners and admins); `null` clears an optional one.
#[utoipa::path(patch, path = "/api/agents/{id}/appointment-types/{type_id}", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("type_id" = Uuid, Path)),
    request_body = AppointmentTypePatch,
    responses((status = 200, body = AppointmentTypeView), (status = 403), (status = 404),
              (status = 409), (status = 422)))]
async fn update_type(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, type_id_raw)): Path<(String, String)>,
    ApiJson(patch): ApiJson<AppointmentTypePatch>,
) -> ApiResult<Json<AppointmentTypeView>> {
    caller.require_admin()?;
    let agent = agent(&state, &caller, &id).await?;
    let updated =
        types::update(&state, caller.tenant, agent, type_id(&type_id_raw)?, patch).await?;
    Ok(Json(updated))
}

/// Deletes an appointment type (owners and admins); bookings made with it stay.
#[utoipa::path(delete, path = "/api/agents/{id}/appointment-types/{type_id}", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("type_id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_type(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, type_id_raw)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    let agent = agent(&state, &caller, &id).await?;
    types::delete(&state, caller.tenant, agent, type_id(&type_id_raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
