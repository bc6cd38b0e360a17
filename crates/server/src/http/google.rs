//! Google Calendar connections: the OAuth web flow, the connection list the documented
//! troubleshooting reads, the sync toggle, manual and cron syncs, and the push-notification
//! webhook.

use pillow_store::{CalendarConnection, ConnectionId, NewCalendarConnection, User, UserId};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use pillow_providers::google::{CALENDAR_EVENTS_SCOPE, GoogleError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::parse_id;
use crate::AppState;
use crate::google::toggle::{connect_url, set_sync_enabled, sync_in_background};
use crate::google::{GoogleSync, Scheduler, StateError, Trigger, hash_token};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::json::parse;
use crate::sync::EngineError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(callback))
        .routes(routes!(disconnect))
        .routes(routes!(providers))
        .routes(routes!(update_provider))
        .routes(routes!(sync))
        .routes(routes!(cron_sync))
        .routes(routes!(webhook))
}

fn google(state: &AppState) -> ApiResult<Arc<GoogleSync>> {
    state.google.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::GoogleNotConfigured,
            "Google Calendar is not configured on this server: set GOOGLE_OAUTH_CLIENT_ID and \
             GOOGLE_OAUTH_CLIENT_SECRET (and GOOGLE_OAUTH_REDIRECT_URI).",
        )
    })
}

/// The member acted for: the caller, or (admins and API keys) the one named by `user_id`.
async fn member(state: &AppState, caller: &Caller, user_id: Option<&str>) -> ApiResult<User> {
    let Some(raw) = user_id else {
        return caller.user().cloned().ok_or_else(|| {
            ApiError::invalid(
                "user_id",
                ErrorCode::UserIdRequired,
                "An API key acts for no one in particular: name the member in `user_id`.",
            )
        });
    };
    let id = parse_id(raw, "user")?;
    if let Some(me) = caller.user().filter(|u| u.id == id) {
        return Ok(me.clone());
    }
    caller.require_admin()?;
    state
        .store
        .get_user(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

/// A connection as the troubleshooting guide reads it; never a token.
#[derive(Serialize, ToSchema)]
struct ProviderView {
    id: ConnectionId,
    user_id: UserId,
    /// `google`.
    provider: String,
    calendar_id: String,
    account_email: String,
    /// `active`, `needs_reauth` or `error`.
    status: String,
    /// Whether polling, push notifications, the cron and on-demand syncs bring this calendar's
    /// changes in; `PATCH /api/calendar/providers/{id}` turns it off and on.
    sync_enabled: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    token_expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_synced_at: Option<Timestamp>,
    last_error: Option<String>,
    scopes: Vec<String>,
    /// Whether a push channel is open, and until when.
    #[schema(value_type = Option<String>, format = DateTime)]
    push_channel_expires_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

fn view(c: &CalendarConnection) -> ProviderView {
    ProviderView {
        id: c.id,
        user_id: c.user_id,
        provider: c.kind.clone(),
        calendar_id: c.calendar_id.clone(),
        account_email: c.account_email.clone(),
        status: c.status.as_str().to_string(),
        sync_enabled: c.sync_enabled,
        token_expires_at: c.token_expires_at,
        last_synced_at: c.last_synced_at,
        last_error: c.last_error.clone(),
        scopes: c.scopes.clone(),
        push_channel_expires_at: c.channel.as_ref().map(|ch| ch.expires_at),
        created_at: c.created_at,
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConnectQuery {
    /// The member to connect (admins and API keys); yourself by default.
    user_id: Option<String>,
    /// Pre-fills the Google account on the consent page.
    login_hint: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ConnectUrl {
    url: String,
}

/// Start connecting Google Calendar: a redirect to Google's consent page (offline access,
/// PKCE S256, the calendar events scope, a signed expiring state bound to the member), or
/// `{"url"}` for callers that send `Accept: application/json`.
#[utoipa::path(get, path = "/api/calendar/google/connect", tag = "calendar sync",
    security(("bearer" = [])), params(ConnectQuery),
    responses((status = 303, description = "To Google's consent page"),
        (status = 200, body = ConnectUrl), (status = 503, description = "`google_not_configured`")))]
async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ConnectQuery>,
) -> ApiResult<Response> {
    let google = google(&state)?;
    let user = member(&state, &caller, query.user_id.as_deref()).await?;
    let url = connect_url(&google, caller.tenant, user.id, query.login_hint.as_deref());
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        Ok(Json(ConnectUrl { url }).into_response())
    } else {
        Ok(Redirect::to(&url).into_response())
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set by Google when the user declined.
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Connected {
    connected: bool,
    provider: ProviderView,
}

/// Where Google sends the user back: checks the state, exchanges the code (with the PKCE
/// verifier), checks the granted scopes, stores the connection with its tokens sealed, and
/// starts the initial sync.
#[utoipa::path(get, path = "/api/calendar/google/callback", tag = "calendar sync",
    params(CallbackQuery),
    responses((status = 200, body = Connected),
        (status = 400, description = "`invalid_state`, `state_expired`, `consent_denied`, `invalid_grant`"),
        (status = 403, description = "`insufficient_scope`"),
        (status = 502, description = "Google failed"), (status = 503)))]
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> ApiResult<Response> {
    let outcome = complete_connect(&state, query).await;
    callback_answer(&headers, outcome, "connected")
}

/// The answer of an OAuth callback: JSON for programs; a person coming back from the
/// provider's consent page in a browser goes to the dashboard's calendars page with the
/// outcome (`done`, or only the error's code: a link cannot inject a message).
pub(super) fn callback_answer<T: Serialize>(
    headers: &HeaderMap,
    outcome: ApiResult<T>,
    done: &str,
) -> ApiResult<Response> {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    match (outcome, browser) {
        (Ok(connected), false) => Ok(Json(connected).into_response()),
        (Err(error), false) => Err(error),
        (Ok(_), true) => {
            Ok(Redirect::to(&format!("/dashboard/calendars?done={done}")).into_response())
        }
        (Err(error), true) => Ok(Redirect::to(&format!(
            "/dashboard/calendars?failed={}",
            error.code.as_str()
        ))
        .into_response()),
    }
}

async fn complete_connect(state: &AppState, query: CallbackQuery) -> ApiResult<Connected> {
    let google = google(state)?;
    if let Some(error) = query.error {
        return Err(ApiError::bad_request(
            ErrorCode::ConsentDenied,
            format!("Google did not grant access ({error}); nothing was connected."),
        ));
    }
    let raw_state = query
        .state
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidState, "The state is missing."))?;
    let flow = google
        .states
        .verify(&raw_state, Timestamp::now())
        .map_err(|e| match e {
            StateError::Invalid => {
                ApiError::bad_request(ErrorCode::InvalidState, "The state is not one we signed.")
            }
            StateError::Expired => ApiError::bad_request(
                ErrorCode::StateExpired,
                "The connect link expired; start connecting again.",
            ),
        })?;
    let code = query
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request(ErrorCode::MissingCode, "The code is missing."))?;
    let user = state
        .store
        .get_user(flow.tenant, flow.user)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let grant = google
        .oauth
        .exchange_code(&code, &flow.verifier)
        .await
        .map_err(|e| match e {
            GoogleError::InvalidGrant => ApiError::bad_request(
                ErrorCode::InvalidGrant,
                "Google refused the code (used, expired, or not from this flow).",
            ),
            other => google_failed(other),
        })?;
    let writes_events = grant
        .scopes
        .iter()
        .any(|s| s == CALENDAR_EVENTS_SCOPE || s == "https://www.googleapis.com/auth/calendar");
    if !writes_events {
        // Without the events scope we can neither read busy time nor write bookings: give the
        // grant back rather than keep a token we cannot use.
        let _ = google
            .oauth
            .revoke(grant.access_token.expose_secret())
            .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InsufficientScope,
            format!(
                "Google Calendar access was not granted ({CALENDAR_EVENTS_SCOPE}); connect again \
                 and allow it."
            ),
        ));
    }
    let now = Timestamp::now();
    let connection = state
        .store
        .upsert_calendar_connection(
            flow.tenant,
            &NewCalendarConnection {
                user_id: user.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: grant.email.clone().unwrap_or_default(),
                access_token_encrypted: state
                    .config
                    .secrets
                    .seal(grant.access_token.expose_secret()),
                refresh_token_encrypted: grant
                    .refresh_token
                    .as_ref()
                    .map(|t| state.config.secrets.seal(t.expose_secret())),
                token_expires_at: now + jiff::SignedDuration::from_secs(grant.expires_in),
                scopes: grant.scopes.clone(),
            },
        )
        .await?;
    // What was booked or planned here before the calendar was connected goes to it too.
    crate::google::queue_catch_up(state, flow.tenant, user.id).await?;
    sync_in_background(
        state.sync.clone(),
        &connection,
        Trigger::Connect,
        Duration::from_secs(60),
    );
    Ok(Connected {
        connected: true,
        provider: view(&connection),
    })
}

fn google_failed(error: GoogleError) -> ApiError {
    tracing::warn!(%error, "Google failed during the connect flow");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::GoogleUnavailable,
        "Google did not answer as expected; try connecting again in a moment.",
    )
}

async fn connection_of(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<CalendarConnection> {
    let id = parse_id(raw, "calendar connection")?;
    let connection = state
        .store
        .get_calendar_connection(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("calendar connection"))?;
    if caller.user().is_none_or(|u| u.id != connection.user_id) {
        caller.require_admin()?;
    }
    Ok(connection)
}

/// Disconnect Google Calendar: stops the push channel, revokes the grant at Google, deletes
/// the sealed tokens and removes the events synced from it.
#[utoipa::path(delete, path = "/api/calendar/google/disconnect/{id}", tag = "calendar sync",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let connection = connection_of(&state, &caller, &id).await?;
    // Without Google configured there is no adapter to release it: it is simply deleted.
    let gone = crate::sync::connections::disconnect(&state.sync, &connection).await?;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("calendar connection"))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ProvidersQuery {
    /// One member's connections (admins); yours by default, or the whole tenant's for API keys.
    user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderView>,
}

/// Calendar connections with what troubleshooting needs: status, token expiry, sync enabled,
/// last sync and last error.
#[utoipa::path(get, path = "/api/calendar/providers", tag = "calendar sync",
    security(("bearer" = [])), params(ProvidersQuery),
    responses((status = 200, body = ProviderList)))]
async fn providers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ProvidersQuery>,
) -> ApiResult<Json<ProviderList>> {
    let user = match (query.user_id.as_deref(), caller.user()) {
        (None, None) => None,
        (raw, _) => Some(member(&state, &caller, raw).await?.id),
    };
    let connections = state
        .store
        .list_calendar_connections(caller.tenant, user)
        .await?;
    Ok(Json(ProviderList {
        providers: connections.iter().map(view).collect(),
    }))
}

/// A change to a connection: for now only whether it syncs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProviderChange {
    /// `false` pauses sync (the calendar's events stay as last synced, so its busy time still
    /// blocks); `true` resumes it at once from where it stopped.
    sync_enabled: Option<bool>,
}

/// Turn a connection's sync off or on (its member, or an admin). Turning it off also stops
/// its push channel; turning it on syncs at once in the background.
#[utoipa::path(patch, path = "/api/calendar/providers/{id}", tag = "calendar sync",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ProviderChange,
    responses((status = 200, body = ProviderView),
        (status = 400, description = "`invalid_body`: malformed JSON, a wrong type or an unknown field"),
        (status = 403), (status = 404),
        (status = 422, description = "`required`: `sync_enabled` is missing or null")))]
async fn update_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<ProviderChange>,
) -> ApiResult<Json<ProviderView>> {
    let connection = connection_of(&state, &caller, &id).await?;
    let enabled = change.sync_enabled.ok_or_else(|| {
        ApiError::invalid(
            "sync_enabled",
            ErrorCode::Required,
            "`sync_enabled` is required: `true` to sync this calendar, `false` to pause it.",
        )
    })?;
    let updated = set_sync_enabled(&state, &connection, enabled)
        .await?
        .ok_or_else(|| ApiError::not_found("calendar connection"))?;
    Ok(Json(view(&updated)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct SyncRequest {
    /// One connection; by default every connection of the member.
    provider_id: Option<String>,
    /// The member (admins and API keys); yourself by default.
    user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SyncResult {
    provider_id: ConnectionId,
    /// `synced`, `busy` (another sync is running), `disabled` (sync is turned off for the
    /// connection), `needs_reauth` or `failed`.
    outcome: &'static str,
    full: bool,
    upserted: usize,
    deleted: usize,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SyncResults {
    results: Vec<SyncResult>,
}

/// Sync now (the calendar API's manual sync): the member's connections, or one of them.
#[utoipa::path(post, path = "/api/calendar/sync", tag = "calendar sync",
    security(("bearer" = [])), request_body(content = Option<SyncRequest>,
        description = "Optional: without a body, every connection of the caller"),
    responses((status = 200, body = SyncResults), (status = 404), (status = 503)))]
async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<SyncResults>> {
    google(&state)?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let request: SyncRequest = match first {
        None => SyncRequest::default(),
        // serde would read a struct from an array too; the document says an object.
        Some(b'{') => parse(&body)?,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBody,
                "The request body must be a JSON object, or empty.",
            ));
        }
    };
    let connections = match &request.provider_id {
        Some(raw) => vec![connection_of(&state, &caller, raw).await?],
        None => {
            let user = member(&state, &caller, request.user_id.as_deref()).await?;
            state
                .store
                .list_calendar_connections(caller.tenant, Some(user.id))
                .await?
        }
    };
    let mut results = Vec::new();
    for connection in connections.iter().filter(|c| c.kind == "google") {
        let outcome = state
            .sync
            .sync_now(caller.tenant, connection.id, Trigger::Manual)
            .await;
        results.push(match outcome {
            Ok(report) => SyncResult {
                provider_id: connection.id,
                outcome: "synced",
                full: report.full,
                upserted: report.upserted,
                deleted: report.deleted,
                error: None,
            },
            Err(error) => SyncResult {
                provider_id: connection.id,
                outcome: match error {
                    EngineError::Busy => "busy",
                    EngineError::Disabled => "disabled",
                    ref e if e.needs_reauth() => "needs_reauth",
                    _ => "failed",
                },
                full: false,
                upserted: 0,
                deleted: 0,
                error: Some(error.to_string()),
            },
        });
    }
    Ok(Json(SyncResults { results }))
}

#[derive(Serialize, ToSchema)]
struct CronResult {
    /// Connections synced in this run.
    synced: usize,
}

/// For an external cron: syncs every connection that is due, in every tenant. Protected by
/// `CRON_SECRET` (`Authorization: Bearer <CRON_SECRET>`, as Vercel Cron sends it).
#[utoipa::path(get, path = "/api/cron/calendar-sync", tag = "calendar sync",
    responses((status = 200, body = CronResult), (status = 401), (status = 503)))]
async fn cron_sync(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<CronResult>> {
    let Some(secret) = &state.config.cron_secret else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::CronNotConfigured,
            "Set CRON_SECRET to enable the cron endpoint.",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(
        secret
            .expose_secret()
            .as_bytes()
            .ct_eq(presented.as_bytes()),
    ) {
        return Err(ApiError::unauthorized(
            "Send `Authorization: Bearer <CRON_SECRET>`.",
        ));
    }
    let google = google(&state)?;
    let scheduler = Scheduler::new(google);
    let mut synced = 0;
    // Bounded, so one request cannot run forever; what is left waits for the next run.
    for _ in 0..50 {
        match scheduler.try_execute_task().await? {
            crate::outbox::Step::Done(n) => synced += n,
            crate::outbox::Step::Empty => break,
        }
    }
    Ok(Json(CronResult { synced }))
}

#[derive(Serialize, ToSchema)]
struct WebhookAck {
    /// `sync_started`, `channel_opened` (Google's `sync` hello) or `sync_disabled` (the
    /// notification is genuine but sync is turned off for the connection: nothing runs).
    outcome: &'static str,
}

/// Google's push notification (`events.watch`): an empty body with `X-Goog-Channel-ID`,
/// `X-Goog-Channel-Token`, `X-Goog-Resource-ID` and `X-Goog-Resource-State`. The token (against
/// its stored hash) and the resource id (against the one `events.watch` returned) are both
/// checked, in constant time; a notification failing either is refused and syncs nothing.
/// Then the connection syncs at once, in the background, unless its sync is turned off.
#[utoipa::path(post, path = "/api/calendar/google/webhook", tag = "calendar sync",
    responses((status = 200, body = WebhookAck),
        (status = 400, description = "`missing_channel`"),
        (status = 401, description = "`unauthorized`: the channel token does not match"),
        (status = 403, description = "`resource_mismatch`: X-Goog-Resource-ID is missing or \
            not the channel's resource"),
        (status = 404), (status = 503)))]
async fn webhook(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<WebhookAck>> {
    google(&state)?;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let channel_id = text("x-goog-channel-id").ok_or_else(|| {
        ApiError::bad_request(ErrorCode::MissingChannel, "X-Goog-Channel-ID is missing.")
    })?;
    let token = text("x-goog-channel-token").unwrap_or("");
    let resource = text("x-goog-resource-id").unwrap_or("");
    let connection = state
        .store
        .find_calendar_connection_by_channel(channel_id)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let (stored_hash, stored_resource) = connection
        .channel
        .as_ref()
        .map(|c| (c.token_hash.as_str(), c.resource_id.as_str()))
        .unwrap_or_default();
    // Both compared before either is acted on, so timing tells nothing about which failed.
    let token_ok = hash_token(token).as_bytes().ct_eq(stored_hash.as_bytes());
    let resource_ok = resource.as_bytes().ct_eq(stored_resource.as_bytes());
    if !bool::from(token_ok) {
        return Err(ApiError::unauthorized("The channel token does not match."));
    }
    if stored_resource.is_empty() || !bool::from(resource_ok) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ResourceMismatch,
            "X-Goog-Resource-ID is missing or is not the resource this channel watches; the \
             notification is ignored.",
        ));
    }
    // `sync` is Google's hello when a channel opens; anything else means something changed.
    if text("x-goog-resource-state") == Some("sync") {
        return Ok(Json(WebhookAck {
            outcome: "channel_opened",
        }));
    }
    if !connection.sync_enabled {
        return Ok(Json(WebhookAck {
            outcome: "sync_disabled",
        }));
    }
    metrics::counter!("calendar_push_notifications_total", "provider" => "google").increment(1);
    sync_in_background(
        state.sync.clone(),
        &connection,
        Trigger::Push,
        Duration::from_secs(30),
    );
    Ok(Json(WebhookAck {
        outcome: "sync_started",
    }))
}
