//! `GET`/`PUT /api/agents/{id}/booking-settings`: an agent's booking settings (docs/contracts.md).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::parse_id;
use crate::AppState;
use crate::domain::bookings::{BookingSettings, agent_team, validate_settings};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::json::from_value;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

async fn agent(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<pillow_store::Agent> {
    let id = parse_id(raw, "agent")?;
    state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// The agent's booking settings; an agent without any answers the defaults in use (every
/// member with working hours, round robin).
#[utoipa::path(get, path = "/api/agents/{id}/booking-settings", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingSettings), (status = 404)))]
async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BookingSettings>> {
    let agent = agent(&state, &caller, &id).await?;
    if let Some(stored) = state
        .store
        .get_booking_settings(caller.tenant, agent.id)
        .await?
    {
        // Stored as this struct serialised, so it reads back whole.
        return Ok(Json(
            serde_json::from_value(stored).map_err(ApiError::internal)?,
        ));
    }
    let team = agent_team(&state, &agent).await?;
    let mut settings = team.settings;
    settings.assignable_users = team
        .members
        .iter()
        .map(|id| crate::domain::bookings::AssignableUser {
            user_id: id.to_string(),
            priority: None,
            calendar_provider_id: None,
            max_bookings_per_day: None,
            max_bookings_per_week: None,
            weight: None,
            required: None,
        })
        .collect();
    Ok(Json(settings))
}

/// Replace the agent's booking settings (owners and admins). Unknown or duplicate users, an
/// unknown strategy and unknown template variables are 422.
#[utoipa::path(put, path = "/api/agents/{id}/booking-settings", tag = "agents",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = BookingSettings,
    responses((status = 200, body = BookingSettings), (status = 404), (status = 422)))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<BookingSettings>> {
    let agent = agent(&state, &caller, &id).await?;
    caller.require_admin()?;
    let settings: BookingSettings = from_value(body)?;
    validate_settings(&state, caller.tenant, &settings).await?;
    let stored = serde_json::to_value(&settings).map_err(ApiError::internal)?;
    state
        .store
        .put_booking_settings(caller.tenant, agent.id, &stored)
        .await?;
    state.teams.invalidate(caller.tenant);
    Ok(Json(settings))
}
