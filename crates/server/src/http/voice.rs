//! Endpoints voice platforms call, and the settings that make them work.
//!
//! - Retell custom functions: `POST /api/calendar/{availability,booking,find-booking,cancel,
//!   reschedule,show-calendar,call-booking-state}/retell`, either body shape, authenticated by the internal key (or the
//!   tenant's own API key) plus `X-Agent-ID`, or by `X-Retell-Signature` under the tenant's
//!   Retell API key.
//! - Vapi server tools: `POST /api/voice/vapi`, internal key (or the tenant's API key) plus
//!   `X-Agent-ID`.
//! - Tool definitions: `GET /api/agents/{id}/tools?platform=retell|vapi|openai`.
//! - Settings: the tenant's Retell API key (`/api/voice/retell-key`, sealed at rest) and an
//!   agent's Retell agent id (`/api/agents/{id}/retell`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use pillow_store::{Agent, AgentId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::agents::AgentView;
use super::parse_id;
use crate::AppState;
use crate::http::caller::{Caller, VoiceCaller};
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::voice::definitions::{Platform, definitions};
use crate::voice::retell::{self, SignatureError};
use crate::voice::tools::{ToolContext, call_tool, read_args};
use crate::voice::vapi::{self, VapiResult};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(voice_agent))
        .routes(routes!(retell_availability))
        .routes(routes!(retell_booking))
        .routes(routes!(retell_find_booking))
        .routes(routes!(retell_cancel))
        .routes(routes!(retell_reschedule))
        .routes(routes!(retell_show_calendar))
        .routes(routes!(retell_call_booking_state))
        .routes(routes!(vapi_tool_calls))
        .routes(routes!(agent_tools))
        .routes(routes!(get_retell_key, put_retell_key, delete_retell_key))
        .routes(routes!(get_agent_retell, put_agent_retell))
}

/// The agent a voice platform is calling for: lets a platform check its key and agent id.
#[utoipa::path(get, path = "/api/voice/agent", tag = "voice",
    params(("X-Agent-ID" = Uuid, Header, description = "The agent's id")),
    security(("bearer" = [])),
    responses((status = 200, body = AgentView), (status = 401), (status = 404)))]
async fn voice_agent(caller: VoiceCaller) -> Json<AgentView> {
    Json(caller.agent.into())
}

/// Bodies of voice requests are small; this bounds what we read before authenticating.
const MAX_VOICE_BODY: usize = 256 * 1024;

/// Splits a request into the internal-key caller (if it authenticates that way), its headers
/// and its raw body. The raw bytes matter: Retell signs them exactly as sent.
async fn read_request(
    state: &AppState,
    request: Request,
    key_auth: bool,
) -> ApiResult<(Option<VoiceCaller>, HeaderMap, Bytes)> {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = request.into_parts();
    let caller = if key_auth {
        Some(VoiceCaller::from_request_parts(&mut parts, state).await?)
    } else {
        None
    };
    let bytes = axum::body::to_bytes(body, MAX_VOICE_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("A voice request's body is at most {MAX_VOICE_BODY} bytes."),
            )
        })?;
    Ok((caller, parts.headers, bytes))
}

fn signature_error(error: SignatureError) -> ApiError {
    let code = match error {
        SignatureError::Stale => ErrorCode::StaleSignature,
        SignatureError::Malformed | SignatureError::Mismatch => ErrorCode::InvalidSignature,
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, error.to_string())
}

/// The agent a signed Retell request is for: `X-Agent-ID`, or else every agent whose Retell
/// agent id is the call's; the one whose tenant's key verifies the signature wins.
async fn signed_retell_agent(
    state: &AppState,
    headers: &HeaderMap,
    header: &str,
    body: &[u8],
    retell_agent_id: Option<&str>,
) -> ApiResult<Agent> {
    let (timestamp, digest) = retell::parse_header(header).map_err(signature_error)?;
    retell::check_fresh(timestamp, jiff::Timestamp::now().as_millisecond())
        .map_err(signature_error)?;
    let candidates = match headers.get("x-agent-id").and_then(|v| v.to_str().ok()) {
        Some(raw) => {
            let id = raw
                .trim()
                .parse::<AgentId>()
                .map_err(|_| ApiError::not_found("agent"))?;
            state.store.find_agent(id).await?.into_iter().collect()
        }
        None => match retell_agent_id {
            Some(retell_id) => state.store.find_agents_by_retell_id(retell_id).await?,
            None => {
                return Err(ApiError::unauthorized(
                    "Send X-Agent-ID, or the call's agent_id in the envelope, with a signed request.",
                ));
            }
        },
    };
    for agent in candidates {
        let Some(sealed) = state.store.get_retell_key(agent.tenant_id).await? else {
            continue;
        };
        let key = state
            .config
            .secrets
            .open(&sealed)
            .map_err(ApiError::internal)?;
        if retell::check_digest(body, &key, timestamp, &digest).is_ok() {
            return Ok(agent);
        }
    }
    Err(signature_error(SignatureError::Mismatch))
}

/// A Retell custom-function call, authenticated: the agent it is for, the call it came from
/// and the tool's arguments.
struct RetellCall {
    agent: Agent,
    call_id: Option<String>,
    from_number: Option<String>,
    args: Value,
}

impl RetellCall {
    fn context<'a>(&'a self, state: &'a AppState) -> ToolContext<'a> {
        ToolContext {
            state,
            tenant: self.agent.tenant_id,
            agent: &self.agent,
            call_id: self.call_id.clone(),
            caller_number: self.from_number.clone(),
            channel: pillow_store::BookingChannel::Retell,
        }
    }
}

/// One Retell custom function: authenticate and read either body shape. The handler runs its
/// tool and answers the tool's typed answer (or the error in our format, with alternatives
/// when a time was taken).
async fn retell_call(state: &AppState, request: Request) -> ApiResult<RetellCall> {
    let signature = request
        .headers()
        .get("x-retell-signature")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    // A signature that is malformed or stale is refused before the body is looked at: nothing
    // of an unauthenticated request is parsed but the header.
    if let Some(header) = &signature {
        let (timestamp, _) = retell::parse_header(header).map_err(signature_error)?;
        retell::check_fresh(timestamp, jiff::Timestamp::now().as_millisecond())
            .map_err(signature_error)?;
    }
    let (caller, headers, bytes) = read_request(state, request, signature.is_none()).await?;
    let body: Value = crate::json::parse(&bytes)?;
    if !body.is_object() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "A JSON object was expected: the function's arguments, or {\"name\", \"call\", \"args\"}.",
        ));
    }
    let call = retell::parse_call(body);
    let agent = match (caller, signature) {
        (Some(caller), _) => caller.agent,
        (None, Some(header)) => {
            signed_retell_agent(
                state,
                &headers,
                &header,
                &bytes,
                call.retell_agent_id.as_deref(),
            )
            .await?
        }
        (None, None) => return Err(ApiError::unauthorized("No credentials.")),
    };
    Ok(RetellCall {
        agent,
        call_id: call.call_id,
        from_number: call.from_number,
        args: call.args,
    })
}

/// Retell custom function: open times, made for speech (voice contract).
#[utoipa::path(post, path = "/api/calendar/availability/retell", tag = "voice",
    request_body(content = Value, description = "`{name, call, args}` or the bare arguments: \
        date | start_date+end_date, part_of_day, duration, timezone"),
    params(("X-Agent-ID" = Option<Uuid>, Header, description = "Our agent's id"),
           ("X-Retell-Signature" = Option<String>, Header, description = "v=<unix ms>,d=<hex>")),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::AvailabilityAnswer),
              (status = 401), (status = 422)))]
async fn retell_availability(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::AvailabilityAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::check_availability(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: book for the caller (voice contract); idempotent per call and
/// slot, since Retell retries.
#[utoipa::path(post, path = "/api/calendar/booking/retell", tag = "voice",
    request_body(content = Value, description = "`{name, call, args}` or the bare arguments: \
        slot_id | start_time, name, phone, email, notes"),
    params(("X-Agent-ID" = Option<Uuid>, Header, description = "Our agent's id"),
           ("X-Retell-Signature" = Option<String>, Header, description = "v=<unix ms>,d=<hex>")),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::BookingAnswer),
              (status = 401), (status = 409, description = "slot_unavailable with alternatives"),
              (status = 422)))]
async fn retell_booking(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::BookingAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::book_appointment(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: find the caller's appointment by code, phone or e-mail.
#[utoipa::path(post, path = "/api/calendar/find-booking/retell", tag = "voice",
    request_body(content = Value, description = "confirmation_code | phone | email"),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::FindAnswer), (status = 401), (status = 404)))]
async fn retell_find_booking(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::FindAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::find_booking(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: cancel the caller's appointment by its code.
#[utoipa::path(post, path = "/api/calendar/cancel/retell", tag = "voice",
    request_body(content = Value, description = "confirmation_code, reason"),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::CancelAnswer), (status = 401), (status = 404)))]
async fn retell_cancel(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::CancelAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::cancel_booking(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: move the caller's appointment to a new time.
#[utoipa::path(post, path = "/api/calendar/reschedule/retell", tag = "voice",
    request_body(content = Value, description = "confirmation_code, slot_id | start_time"),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::RescheduleAnswer), (status = 401), (status = 404),
              (status = 409)))]
async fn retell_reschedule(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::RescheduleAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::reschedule_booking(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: open the booking calendar in the caller's browser on this web call,
/// pre-set to what they asked; answers whether a browser was listening.
#[utoipa::path(post, path = "/api/calendar/show-calendar/retell", tag = "voice",
    request_body(content = Value, description = "`{name, call, args}` or the bare arguments: \
        date, end_date, part_of_day (and call_id without an envelope)"),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::ShowCalendarAnswer), (status = 401),
              (status = 422)))]
async fn retell_show_calendar(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::ShowCalendarAnswer>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::show_booking_calendar(&call.context(&state), args).await?,
    ))
}

/// Retell custom function: what the caller booked during this call (in the widget or by voice).
#[utoipa::path(post, path = "/api/calendar/call-booking-state/retell", tag = "voice",
    request_body(content = Value, description = "`{name, call, args}`, or `{call_id}` bare"),
    security(("bearer" = [])),
    responses((status = 200, body = crate::voice::CallBookingState), (status = 401),
              (status = 422)))]
async fn retell_call_booking_state(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<crate::voice::CallBookingState>> {
    let mut call = retell_call(&state, request).await?;
    let args = read_args(std::mem::take(&mut call.args))?;
    Ok(Json(
        crate::voice::get_call_booking_state(&call.context(&state), args).await?,
    ))
}

/// Vapi server tools: runs each call of a `tool-calls` message in order and answers HTTP 200
/// with `{"results": [{"toolCallId", "result" | "error"}]}`; other messages get `{}`.
#[utoipa::path(post, path = "/api/voice/vapi", tag = "voice",
    request_body(content = Value, description = "`{\"message\":{\"type\":\"tool-calls\",\"toolCallList\":[...],\"call\":{...}}}`"),
    params(("X-Agent-ID" = Uuid, Header, description = "Our agent's id")),
    security(("bearer" = [])),
    responses((status = 200, body = vapi::VapiAnswer), (status = 400), (status = 401)))]
async fn vapi_tool_calls(
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Json<vapi::VapiAnswer>> {
    let (caller, _, bytes) = read_request(&state, request, true).await?;
    let caller = caller.ok_or_else(|| ApiError::unauthorized("No credentials."))?;
    let body: Value = crate::json::parse(&bytes)?;
    let Some(message) = vapi::parse_message(&body)? else {
        return Ok(Json(vapi::VapiAnswer::default()));
    };
    let ctx = ToolContext {
        state: &state,
        tenant: caller.tenant,
        agent: &caller.agent,
        call_id: message.call_id.clone(),
        caller_number: message.from_number.clone(),
        channel: pillow_store::BookingChannel::Vapi,
    };
    let mut results = Vec::with_capacity(message.calls.len());
    // In order, one after another: a booking may follow the availability check it came from.
    for call in message.calls {
        let outcome = match call.arguments {
            Ok(args) => call_tool(&ctx, &call.name, args).await,
            Err(why) => Err(crate::voice::ToolError::invalid(
                "arguments",
                ErrorCode::InvalidArguments,
                why,
            )),
        };
        results.push(match outcome {
            Ok(answer) => VapiResult {
                tool_call_id: call.id,
                result: Some(vapi::one_line(&answer)),
                error: None,
            },
            Err(error) => VapiResult {
                tool_call_id: call.id,
                result: None,
                error: Some(vapi::one_line(&error)),
            },
        });
    }
    Ok(Json(vapi::VapiAnswer {
        results: Some(results),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ToolsQuery {
    /// `retell`, `vapi` or `openai`.
    platform: String,
}

/// Ready-to-paste tool definitions for an agent (like `generateTools`): names,
/// descriptions, JSON schemas, URLs from `PUBLIC_URL`, headers.
#[utoipa::path(get, path = "/api/agents/{id}/tools", tag = "voice", security(("bearer" = [])),
    params(("id" = Uuid, Path), ToolsQuery),
    responses((status = 200, body = crate::voice::definitions::ToolDefinitions),
              (status = 404), (status = 422)))]
async fn agent_tools(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ToolsQuery>,
) -> ApiResult<Json<crate::voice::definitions::ToolDefinitions>> {
    let platform = Platform::parse(&query.platform).ok_or_else(|| {
        ApiError::invalid(
            "platform",
            ErrorCode::UnknownPlatform,
            "The platform is retell, vapi or openai.",
        )
    })?;
    let agent = agent_of(&state, caller.tenant, &id).await?;
    let signed = state.store.get_retell_key(caller.tenant).await?.is_some();
    let mut defined = definitions(platform, agent.id, &state.config.public_url, signed);
    let types = crate::domain::appointment_types::list(&state, caller.tenant, agent.id).await?;
    let named: Vec<(String, String)> = types
        .into_iter()
        .map(|t| (t.body.name, t.body.slug))
        .collect();
    crate::voice::definitions::with_appointment_types(&mut defined, &named);
    Ok(Json(defined))
}

async fn agent_of(state: &AppState, tenant: TenantId, raw: &str) -> ApiResult<Agent> {
    let id = parse_id(raw, "agent")?;
    state
        .store
        .get_agent(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Whether the tenant has a Retell API key; the key itself is never shown again.
#[derive(Serialize, ToSchema)]
struct RetellKeyStatus {
    configured: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RetellKeyBody {
    /// The Retell API key that signs this tenant's Retell requests.
    api_key: String,
}

/// Whether a Retell API key is set for the tenant.
#[utoipa::path(get, path = "/api/voice/retell-key", tag = "voice", security(("bearer" = [])),
    responses((status = 200, body = RetellKeyStatus), (status = 403)))]
async fn get_retell_key(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<RetellKeyStatus>> {
    caller.require_admin()?;
    let configured = state.store.get_retell_key(caller.tenant).await?.is_some();
    Ok(Json(RetellKeyStatus { configured }))
}

/// Set the tenant's Retell API key (admins): stored encrypted, used to verify
/// `X-Retell-Signature`, never shown again.
#[utoipa::path(put, path = "/api/voice/retell-key", tag = "voice", security(("bearer" = [])),
    request_body = RetellKeyBody,
    responses((status = 200, body = RetellKeyStatus), (status = 403), (status = 422)))]
async fn put_retell_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RetellKeyBody>,
) -> ApiResult<Json<RetellKeyStatus>> {
    caller.require_admin()?;
    let key = body.api_key.trim();
    if key.len() < 8 || key.len() > 512 || key.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            "api_key",
            ErrorCode::InvalidApiKey,
            "A Retell API key is 8 to 512 characters without spaces.",
        ));
    }
    let sealed = state.config.secrets.seal(key);
    state
        .store
        .set_retell_key(caller.tenant, Some(&sealed))
        .await?;
    Ok(Json(RetellKeyStatus { configured: true }))
}

/// Remove the tenant's Retell API key (admins): signed Retell requests are refused after.
#[utoipa::path(delete, path = "/api/voice/retell-key", tag = "voice", security(("bearer" = [])),
    responses((status = 200, body = RetellKeyStatus), (status = 403)))]
async fn delete_retell_key(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<RetellKeyStatus>> {
    caller.require_admin()?;
    state.store.set_retell_key(caller.tenant, None).await?;
    Ok(Json(RetellKeyStatus { configured: false }))
}

#[derive(Serialize, ToSchema)]
struct AgentRetell {
    agent_id: String,
    /// Retell's id of the agent (`call.agent_id` in Retell's requests), or null.
    retell_agent_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AgentRetellBody {
    /// Retell's agent id, or null to clear it.
    retell_agent_id: Option<String>,
}

/// An agent's Retell agent id.
#[utoipa::path(get, path = "/api/agents/{id}/retell", tag = "voice", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentRetell), (status = 404)))]
async fn get_agent_retell(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentRetell>> {
    let agent = agent_of(&state, caller.tenant, &id).await?;
    let retell_agent_id = state
        .store
        .get_retell_agent_id(caller.tenant, agent.id)
        .await?;
    Ok(Json(AgentRetell {
        agent_id: agent.id.to_string(),
        retell_agent_id,
    }))
}

/// Set (or clear) an agent's Retell agent id (admins), so signed Retell calls that name only
/// Retell's agent find ours.
#[utoipa::path(put, path = "/api/agents/{id}/retell", tag = "voice", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AgentRetellBody,
    responses((status = 200, body = AgentRetell), (status = 403), (status = 404),
              (status = 409), (status = 422)))]
async fn put_agent_retell(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AgentRetellBody>,
) -> ApiResult<Json<AgentRetell>> {
    caller.require_admin()?;
    let agent = agent_of(&state, caller.tenant, &id).await?;
    let retell_agent_id = body
        .retell_agent_id
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if let Some(r) = &retell_agent_id
        && (r.len() > 200 || r.chars().any(char::is_whitespace))
    {
        return Err(ApiError::invalid(
            "retell_agent_id",
            ErrorCode::InvalidRetellAgentId,
            "A Retell agent id has at most 200 characters and no spaces.",
        ));
    }
    let done = state
        .store
        .set_retell_agent_id(caller.tenant, agent.id, retell_agent_id.as_deref())
        .await
        .map_err(|e| match e {
            pillow_store::StoreError::Conflict(_) => ApiError::conflict(
                ErrorCode::RetellAgentIdTaken,
                "Another agent of this tenant already has this Retell agent id.",
            ),
            other => other.into(),
        })?;
    if !done {
        return Err(ApiError::not_found("agent"));
    }
    Ok(Json(AgentRetell {
        agent_id: agent.id.to_string(),
        retell_agent_id,
    }))
}
