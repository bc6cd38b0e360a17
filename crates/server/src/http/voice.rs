//! Endpoints voice platforms call with the internal key. The Retell, Vapi and MCP tools build on
//! the same [`crate::auth::VoiceCaller`].

use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::agents::AgentView;
use crate::AppState;
use crate::auth::VoiceCaller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(voice_agent))
}

/// The agent a voice platform is calling for: lets a platform check its key and agent id.
#[utoipa::path(get, path = "/api/voice/agent", tag = "voice",
    params(("X-Agent-ID" = Uuid, Header, description = "The agent's id")),
    security(("bearer" = [])),
    responses((status = 200, body = AgentView), (status = 401), (status = 404)))]
async fn voice_agent(caller: VoiceCaller) -> Json<AgentView> {
    Json(caller.agent.into())
}
