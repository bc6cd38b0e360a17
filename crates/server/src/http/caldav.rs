//! CalDAV calendars (iCloud, Fastmail, Nextcloud, any RFC 4791 server): connect with a user
//! name and app password, disconnect, and sync one connection of any engine-synced kind now;
//! and the kinds of calendar this server can connect.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use pillow_store::{CalendarConnection, ConnectionId, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::parse_id;
use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;
use crate::sync::connections::{self, CalDavConnect, ConnectError};
use crate::sync::{EngineError, Trigger};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(caldav_connect))
        .routes(routes!(caldav_disconnect))
        .routes(routes!(sync_provider))
        .routes(routes!(provider_kinds))
}

/// A kind of calendar a member can connect.
#[derive(Serialize, ToSchema)]
struct KindView {
    /// `google`, `caldav` or `microsoft`.
    kind: &'static str,
    /// Whether connecting it works on this server (Google and Microsoft need their OAuth
    /// clients; CalDAV needs nothing).
    configured: bool,
    /// Where connecting starts.
    connect: &'static str,
}

#[derive(Serialize, ToSchema)]
struct KindList {
    kinds: Vec<KindView>,
}

/// Every kind of calendar and whether this server can connect it now (a page shows the
/// connect buttons from this).
#[utoipa::path(get, path = "/api/calendar/providers/kinds", tag = "calendar sync",
    security(("bearer" = [])), responses((status = 200, body = KindList)))]
async fn provider_kinds(State(state): State<AppState>, _caller: Caller) -> Json<KindList> {
    Json(KindList {
        kinds: vec![
            KindView {
                kind: "google",
                configured: state.google.is_some(),
                connect: "GET /api/calendar/google/connect",
            },
            KindView {
                kind: "caldav",
                configured: state.sync.provider("caldav").is_some(),
                connect: "POST /api/calendar/caldav/connect",
            },
            KindView {
                kind: "microsoft",
                configured: state.sync.microsoft.is_some(),
                connect: "GET /api/calendar/microsoft/connect",
            },
        ],
    })
}

/// A CalDAV connection; never the password.
#[derive(Serialize, ToSchema)]
struct CalDavView {
    id: ConnectionId,
    user_id: UserId,
    /// `caldav`.
    provider: String,
    /// The calendar's URL.
    calendar_id: String,
    /// The user name.
    account_email: String,
    /// `active`, `needs_reauth` or `error`.
    status: String,
    sync_enabled: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_synced_at: Option<Timestamp>,
    last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

fn view(c: &CalendarConnection) -> CalDavView {
    CalDavView {
        id: c.id,
        user_id: c.user_id,
        provider: c.kind.clone(),
        calendar_id: c.calendar_id.clone(),
        account_email: c.account_email.clone(),
        status: c.status.as_str().to_string(),
        sync_enabled: c.sync_enabled,
        last_synced_at: c.last_synced_at,
        last_error: c.last_error.clone(),
        created_at: c.created_at,
    }
}

#[derive(Serialize, ToSchema)]
struct CaldavConnected {
    provider: CalDavView,
}

/// What connecting a CalDAV calendar takes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectRequest {
    /// `https://…` (any URL on the server), or `icloud` / `fastmail`.
    server_url: String,
    username: String,
    /// An app-specific password.
    password: String,
    /// The calendar's URL; by default the account's first event calendar, found through
    /// `/.well-known/caldav`, the principal and its calendar home.
    calendar_url: Option<String>,
    /// The member to connect (admins and API keys); yourself by default.
    user_id: Option<String>,
}

/// The member acted for: the caller, or (admins and API keys) the one named by `user_id`.
pub(super) async fn member(
    state: &AppState,
    caller: &Caller,
    user_id: Option<&str>,
) -> ApiResult<User> {
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

fn required(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(
            field,
            ErrorCode::Required,
            format!("`{field}` is required."),
        ));
    }
    Ok(())
}

fn connect_failed(error: ConnectError) -> ApiError {
    match error {
        ConnectError::Unauthorized => ApiError::invalid(
            "password",
            ErrorCode::CaldavUnauthorized,
            "The CalDAV server refused this user name and password. Use an app-specific \
             password (iCloud and Fastmail require one).",
        ),
        ConnectError::BadUrl(message) => {
            ApiError::invalid("server_url", ErrorCode::InvalidUrl, message)
        }
        ConnectError::NoCalendar(message) => {
            ApiError::invalid("calendar_url", ErrorCode::NoCalendar, message)
        }
        ConnectError::Unavailable(message) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::CaldavUnavailable,
            message,
        ),
        ConnectError::Store(e) => e.into(),
    }
}

/// Connect a CalDAV calendar: checks the user name and password, finds the calendar, stores
/// the password sealed, and runs the first sync before answering.
#[utoipa::path(post, path = "/api/calendar/caldav/connect", tag = "calendar sync",
    security(("bearer" = [])), request_body = ConnectRequest,
    responses((status = 201, body = CaldavConnected),
        (status = 404, description = "`not_found`: the member named by `user_id`"),
        (status = 422, description = "`required`, `caldav_unauthorized`, `invalid_url` or \
            `no_calendar`"),
        (status = 502, description = "`caldav_unavailable`")))]
async fn caldav_connect(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ConnectRequest>,
) -> ApiResult<(StatusCode, Json<CaldavConnected>)> {
    required("server_url", &request.server_url)?;
    required("username", &request.username)?;
    required("password", &request.password)?;
    let user = member(&state, &caller, request.user_id.as_deref()).await?;
    let connection = connections::connect_caldav(
        &state.sync,
        caller.tenant,
        user.id,
        CalDavConnect {
            server_url: request.server_url,
            username: request.username,
            password: request.password.into(),
            calendar_url: request.calendar_url.filter(|u| !u.trim().is_empty()),
        },
    )
    .await
    .map_err(connect_failed)?;
    Ok((
        StatusCode::CREATED,
        Json(CaldavConnected {
            provider: view(&connection),
        }),
    ))
}

pub(super) async fn connection_of(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    kind: Option<&str>,
) -> ApiResult<CalendarConnection> {
    let id = parse_id(raw, "calendar connection")?;
    let connection = state
        .store
        .get_calendar_connection(caller.tenant, id)
        .await?
        .filter(|c| kind.is_none_or(|k| c.kind == k))
        .ok_or_else(|| ApiError::not_found("calendar connection"))?;
    if caller.user().is_none_or(|u| u.id != connection.user_id) {
        caller.require_admin()?;
    }
    Ok(connection)
}

/// Disconnect a CalDAV calendar: deletes the sealed password and the busy time synced from it.
#[utoipa::path(delete, path = "/api/calendar/caldav/disconnect/{id}", tag = "calendar sync",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn caldav_disconnect(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let connection = connection_of(&state, &caller, &id, Some("caldav")).await?;
    if connections::disconnect(&state.sync, &connection).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("calendar connection"))
    }
}

#[derive(Serialize, ToSchema)]
struct SyncOutcome {
    provider_id: ConnectionId,
    /// `synced`; failures answer an error instead.
    outcome: &'static str,
    full: bool,
    upserted: usize,
    deleted: usize,
}

/// Sync one CalDAV (or other engine-synced) connection now. Google connections sync through
/// `POST /api/calendar/sync`.
#[utoipa::path(post, path = "/api/calendar/providers/{id}/sync", tag = "calendar sync",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SyncOutcome), (status = 404),
        (status = 409, description = "`busy` (another sync is running), or `conflict` (sync \
            is off, or a Google connection)"),
        (status = 422, description = "`caldav_unauthorized`: connect again"),
        (status = 502, description = "`caldav_unavailable`")))]
async fn sync_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SyncOutcome>> {
    let connection = connection_of(&state, &caller, &id, None).await?;
    match state
        .sync
        .sync_now(caller.tenant, connection.id, Trigger::Manual)
        .await
    {
        Ok(report) => Ok(Json(SyncOutcome {
            provider_id: connection.id,
            outcome: "synced",
            full: report.full,
            upserted: report.upserted,
            deleted: report.deleted,
        })),
        Err(EngineError::Busy) => Err(ApiError::conflict(
            ErrorCode::Busy,
            "Another sync of this connection is running; try again shortly.",
        )),
        Err(EngineError::Missing) => Err(ApiError::not_found("calendar connection")),
        Err(error @ (EngineError::Disabled | EngineError::Unsupported(_))) => {
            Err(ApiError::conflict(ErrorCode::Conflict, error.to_string()))
        }
        Err(error) if error.needs_reauth() => Err(ApiError::invalid(
            "password",
            ErrorCode::CaldavUnauthorized,
            "The calendar refused our credentials: connect it again.",
        )),
        Err(EngineError::Store(e)) => Err(e.into()),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::CaldavUnavailable,
            error.to_string(),
        )),
    }
}
