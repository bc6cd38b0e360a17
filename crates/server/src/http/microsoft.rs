//! Microsoft Outlook / Microsoft 365 calendars: the OAuth web flow (authorization code with
//! PKCE on the identity platform's v2 endpoints), disconnect, and the Graph change-notification
//! webhook (validation handshake, `clientState` checked in constant time, lifecycle events).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use pillow_providers::google::pkce_pair;
use pillow_providers::microsoft::GraphError;
use pillow_providers::microsoft::notifications::{NotificationBatch, client_state_matches};
use pillow_store::{
    CalendarConnection, ConnectionId, ConnectionPatch, NewCalendarConnection, UserId,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::google::{StateError, StateSigner};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiQuery;
use crate::sync::microsoft::MicrosoftProvider;
use crate::sync::{SyncEngine, Trigger};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(microsoft_connect))
        .routes(routes!(microsoft_callback))
        .routes(routes!(microsoft_disconnect))
        .routes(routes!(microsoft_webhook))
}

fn microsoft(state: &AppState) -> ApiResult<Arc<MicrosoftProvider>> {
    state.sync.microsoft.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::MicrosoftNotConfigured,
            "Microsoft calendars are not configured on this server: set \
             MICROSOFT_OAUTH_CLIENT_ID and MICROSOFT_OAUTH_CLIENT_SECRET (and \
             MICROSOFT_OAUTH_REDIRECT_URI).",
        )
    })
}

fn states(state: &AppState) -> StateSigner {
    StateSigner::new(
        state.config.jwt_secret.expose_secret().as_bytes(),
        state.config.secrets.clone(),
    )
}

/// A Microsoft connection; never a token.
#[derive(Serialize, ToSchema)]
struct MicrosoftView {
    id: ConnectionId,
    user_id: UserId,
    /// `microsoft`.
    provider: String,
    /// `active`, `needs_reauth` or `error`.
    status: String,
    sync_enabled: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    token_expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_synced_at: Option<Timestamp>,
    last_error: Option<String>,
    scopes: Vec<String>,
    /// Until when the Graph subscription (change notifications) runs, if one is open.
    #[schema(value_type = Option<String>, format = DateTime)]
    push_channel_expires_at: Option<Timestamp>,
}

fn view(c: &CalendarConnection) -> MicrosoftView {
    MicrosoftView {
        id: c.id,
        user_id: c.user_id,
        provider: c.kind.clone(),
        status: c.status.as_str().to_string(),
        sync_enabled: c.sync_enabled,
        token_expires_at: c.token_expires_at,
        last_synced_at: c.last_synced_at,
        last_error: c.last_error.clone(),
        scopes: c.scopes.clone(),
        push_channel_expires_at: c.channel.as_ref().map(|ch| ch.expires_at),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConnectQuery {
    /// The member to connect (admins and API keys); yourself by default.
    user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ConnectUrl {
    url: String,
}

/// Start connecting Outlook: a redirect to Microsoft's sign-in and consent page
/// (`offline_access` and `Calendars.ReadWrite`, PKCE S256, a signed expiring state bound to the
/// member), or `{"url"}` for callers that send `Accept: application/json`.
#[utoipa::path(get, path = "/api/calendar/microsoft/connect", tag = "calendar sync",
    security(("bearer" = [])), params(ConnectQuery),
    responses((status = 303, description = "To Microsoft's consent page"),
        (status = 200, body = ConnectUrl),
        (status = 503, description = "`microsoft_not_configured`")))]
async fn microsoft_connect(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ConnectQuery>,
) -> ApiResult<Response> {
    let microsoft = microsoft(&state)?;
    let user = super::caldav::member(&state, &caller, query.user_id.as_deref()).await?;
    let url = connect_url(&state, &microsoft, caller.tenant, user.id);
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

/// Microsoft's consent page for `user` (PKCE S256, a signed expiring state bound to the
/// member); the dashboard's "Connect Outlook" starts here too.
pub(crate) fn connect_url(
    state: &AppState,
    microsoft: &MicrosoftProvider,
    tenant: pillow_store::TenantId,
    user: UserId,
) -> String {
    let (verifier, challenge) = pkce_pair();
    let signed = states(state).sign(tenant, user, &verifier, Timestamp::now());
    microsoft.oauth.authorization_url(&signed, &challenge)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set by Microsoft when the user declined or sign-in failed.
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct MicrosoftConnected {
    connected: bool,
    provider: MicrosoftView,
}

/// Where Microsoft sends the user back: checks the state, exchanges the code with the PKCE
/// verifier, stores the connection with its tokens sealed, queues the catch-up of upcoming
/// bookings and runs the first sync (which also opens the change subscription).
#[utoipa::path(get, path = "/api/calendar/microsoft/callback", tag = "calendar sync",
    params(CallbackQuery),
    responses((status = 200, body = MicrosoftConnected),
        (status = 400, description = "`invalid_state`, `state_expired`, `consent_denied`, \
            `missing_code`, `invalid_grant`"),
        (status = 502, description = "`microsoft_unavailable`"), (status = 503)))]
async fn microsoft_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> ApiResult<Response> {
    let outcome = complete_connect(&state, query).await;
    super::google::callback_answer(&headers, outcome, "connected_microsoft")
}

async fn complete_connect(state: &AppState, query: CallbackQuery) -> ApiResult<MicrosoftConnected> {
    let microsoft = microsoft(state)?;
    if let Some(error) = query.error {
        return Err(ApiError::bad_request(
            ErrorCode::ConsentDenied,
            format!("Microsoft did not grant access ({error}); nothing was connected."),
        ));
    }
    let raw_state = query
        .state
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidState, "The state is missing."))?;
    let flow = states(state)
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
    let grant = microsoft
        .oauth
        .exchange_code(&code, &flow.verifier)
        .await
        .map_err(|e| match e {
            GraphError::InvalidGrant => ApiError::bad_request(
                ErrorCode::InvalidGrant,
                "Microsoft refused the code (used, expired, or not from this flow).",
            ),
            other => {
                tracing::warn!(error = %other, "Microsoft failed during the connect flow");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorCode::MicrosoftUnavailable,
                    "Microsoft did not answer as expected; try connecting again in a moment.",
                )
            }
        })?;
    let (access, refresh, expires) = microsoft.sealed(&grant);
    let connection = state
        .store
        .upsert_calendar_connection(
            flow.tenant,
            &NewCalendarConnection {
                user_id: user.id,
                kind: "microsoft".into(),
                calendar_id: "primary".into(),
                account_email: String::new(),
                access_token_encrypted: access,
                refresh_token_encrypted: refresh,
                token_expires_at: expires,
                scopes: grant.scopes.clone(),
            },
        )
        .await?;
    crate::sync::connections::queue_catch_up(&state.sync, flow.tenant, user.id).await?;
    let _ = state
        .sync
        .sync_when_free(
            flow.tenant,
            connection.id,
            Trigger::Connect,
            Duration::from_secs(30),
        )
        .await;
    let connection = state
        .store
        .get_calendar_connection(flow.tenant, connection.id)
        .await?
        .unwrap_or(connection);
    Ok(MicrosoftConnected {
        connected: true,
        provider: view(&connection),
    })
}

/// Disconnect Outlook: ends the change subscription (best effort), deletes the sealed tokens
/// and removes the busy time synced from it.
#[utoipa::path(delete, path = "/api/calendar/microsoft/disconnect/{id}", tag = "calendar sync",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn microsoft_disconnect(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let connection = super::caldav::connection_of(&state, &caller, &id, Some("microsoft")).await?;
    if crate::sync::connections::disconnect(&state.sync, &connection).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("calendar connection"))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WebhookQuery {
    /// Graph's validation request when a subscription is created: echoed as `text/plain`.
    #[serde(rename = "validationToken")]
    validation_token: Option<String>,
}

/// Graph's change or lifecycle notification batch, as documented for the OpenAPI document; the
/// handler reads the raw body itself (the handshake has none).
#[derive(ToSchema)]
#[allow(dead_code)]
struct GraphNotificationBatch {
    /// The notifications, each with `subscriptionId`, `clientState` and `changeType` or
    /// `lifecycleEvent`.
    value: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
struct MicrosoftWebhookAck {
    /// Notifications acted on.
    accepted: usize,
}

/// Syncs a connection in the background once its lease is free: Graph wants an answer within
/// seconds.
fn sync_in_background(engine: Arc<SyncEngine>, connection: &CalendarConnection) {
    let (tenant, id) = (connection.tenant_id, connection.id);
    tokio::spawn(async move {
        let _ = engine
            .sync_when_free(tenant, id, Trigger::Push, Duration::from_secs(30))
            .await;
    });
}

/// Graph's change notifications. With `?validationToken=` (a subscription being created) the
/// token is echoed as `text/plain`. Otherwise each notification's `clientState` must be the
/// one we gave its subscription (compared in constant time), or it is refused and syncs
/// nothing; a change or a `missed` lifecycle event syncs the connection at once,
/// `reauthorizationRequired` renews the subscription, `subscriptionRemoved` forgets it (the
/// next sync opens a new one).
#[utoipa::path(post, path = "/api/calendar/microsoft/webhook", tag = "calendar sync",
    params(WebhookQuery),
    request_body(content = Option<GraphNotificationBatch>, content_type = "application/json",
        description = "Graph's notification batch `{\"value\": [...]}`; empty for the handshake"),
    responses((status = 200, body = String, content_type = "text/plain",
            description = "The validation token, echoed"),
        (status = 202, body = MicrosoftWebhookAck),
        (status = 400, description = "`invalid_body`"),
        (status = 401, description = "`unauthorized`: a clientState does not match"),
        (status = 503)))]
async fn microsoft_webhook(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WebhookQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    // Graph's handshake posts the token with an empty body; a body is a notification batch.
    if let Some(token) = query
        .validation_token
        .filter(|_| body.iter().all(u8::is_ascii_whitespace))
    {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            token,
        )
            .into_response());
    }
    let microsoft = microsoft(&state)?;
    let batch: NotificationBatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidBody,
            format!("Not a Graph notification batch: {e}"),
        )
    })?;
    let mut accepted = 0;
    let mut refused = 0;
    for notification in batch.value {
        let connection = state
            .store
            .find_calendar_connection_by_channel(&notification.subscription_id)
            .await?
            .filter(|c| c.kind == "microsoft");
        let Some(connection) = connection else {
            refused += 1;
            continue;
        };
        let expected = microsoft.client_state(&connection);
        if !client_state_matches(&expected, notification.client_state.as_deref()) {
            tracing::warn!(connection = %connection.id, "a Graph notification with a wrong clientState");
            refused += 1;
            continue;
        }
        accepted += 1;
        metrics::counter!("calendar_push_notifications_total", "provider" => "microsoft")
            .increment(1);
        match notification.lifecycle_event.as_deref() {
            Some("reauthorizationRequired") => {
                // Due for renewal now: the next sync renews it.
                if let Some(channel) = connection.channel.clone() {
                    let patch = ConnectionPatch {
                        channel: Some(Some(pillow_store::PushChannel {
                            expires_at: Timestamp::now(),
                            ..channel
                        })),
                        ..Default::default()
                    };
                    state
                        .store
                        .update_calendar_connection(connection.tenant_id, connection.id, &patch)
                        .await?;
                }
                sync_in_background(state.sync.clone(), &connection);
            }
            Some("subscriptionRemoved") => {
                let patch = ConnectionPatch {
                    channel: Some(None),
                    ..Default::default()
                };
                state
                    .store
                    .update_calendar_connection(connection.tenant_id, connection.id, &patch)
                    .await?;
                sync_in_background(state.sync.clone(), &connection);
            }
            _ if connection.sync_enabled => sync_in_background(state.sync.clone(), &connection),
            _ => {}
        }
    }
    if accepted == 0 && refused > 0 {
        return Err(ApiError::unauthorized(
            "The notification's clientState does not match its subscription.",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(MicrosoftWebhookAck { accepted })).into_response())
}
