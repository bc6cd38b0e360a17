//! Webhook subscriptions, `/api/webhooks`: the tenant's admins subscribe URLs to booking
//! events, change and remove them, read each one's delivery log and send a test ping. The
//! signing secret is sealed at rest and shown only in the answer that set it. A logged event
//! can be sent again (replayed), e.g. after the subscriber lost it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pillow_store::{DeliveryStatus, NewWebhook, Webhook, WebhookDelivery, WebhookPatch};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;
use crate::notify::webhooks::TRIGGERS;
use crate::outbox::{OutboxJob, WebhookPing, WebhookReplay};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(ping_webhook))
        .routes(routes!(replay_delivery))
}

/// A secret shorter than this is refused: it would be guessable.
const MIN_SECRET: usize = 16;
/// How many deliveries the log answers.
const LOG_LIMIT: i64 = 100;

#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
struct WebhookView {
    id: Uuid,
    subscriber_url: String,
    events: Vec<String>,
    active: bool,
    created_at: String,
    updated_at: String,
    /// The signing secret: only in the answer that created or replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn view(webhook: Webhook, secret: Option<String>) -> WebhookView {
    WebhookView {
        id: webhook.id,
        subscriber_url: webhook.subscriber_url,
        events: webhook.events,
        active: webhook.active,
        created_at: webhook.created_at.to_string(),
        updated_at: webhook.updated_at.to_string(),
        secret,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    subscriber_url: String,
    /// Any of `BOOKING_CREATED`, `BOOKING_RESCHEDULED`, `BOOKING_CANCELLED`.
    events: Vec<String>,
    /// The signing secret; one is made when left out.
    #[serde(default)]
    secret: Option<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateWebhook {
    subscriber_url: Option<String>,
    events: Option<Vec<String>>,
    secret: Option<String>,
    active: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryView {
    id: Uuid,
    job_id: Uuid,
    booking_id: Option<String>,
    event: String,
    /// `delivered`, `retrying` or `failed`.
    status: &'static str,
    attempts: i32,
    response_code: Option<i32>,
    duration_ms: Option<i64>,
    error: Option<String>,
    /// When it is tried again, while retrying.
    next_attempt_at: Option<String>,
    created_at: String,
    updated_at: String,
}

fn delivery_view(d: WebhookDelivery) -> DeliveryView {
    DeliveryView {
        id: d.id,
        job_id: d.job_id,
        booking_id: d.booking_id.map(|b| b.to_string()),
        event: d.event,
        status: d.status.as_str(),
        attempts: d.attempts,
        response_code: d.response_code,
        duration_ms: d.duration_ms,
        error: d.error,
        next_attempt_at: d
            .next_attempt_at
            .filter(|_| d.status == DeliveryStatus::Retrying)
            .map(|t| t.to_string()),
        created_at: d.created_at.to_string(),
        updated_at: d.updated_at.to_string(),
    }
}

#[derive(Serialize, ToSchema)]
struct PingQueued {
    /// The delivery log's `job_id` of the ping, once sent.
    job_id: Uuid,
}

/// An http(s) URL with a host. Where it points is checked when posting, after resolving it.
fn check_url(raw: &str) -> ApiResult<String> {
    let bad = || {
        ApiError::invalid(
            "subscriber_url",
            ErrorCode::InvalidUrl,
            format!("{raw:?} is not an http or https URL such as https://hooks.example.com/in."),
        )
    };
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| bad())?;
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && raw.len() <= 2000;
    if fine {
        Ok(url.to_string())
    } else {
        Err(bad())
    }
}

fn check_events(events: &[String]) -> ApiResult<Vec<String>> {
    let mut checked = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if !TRIGGERS.contains(&event.as_str()) {
            return Err(ApiError::invalid(
                &format!("events[{i}]"),
                ErrorCode::InvalidEvents,
                format!("{event:?} is not one of {}.", TRIGGERS.join(", ")),
            ));
        }
        if !checked.contains(event) {
            checked.push(event.clone());
        }
    }
    if checked.is_empty() {
        return Err(ApiError::invalid(
            "events",
            ErrorCode::InvalidEvents,
            "Subscribe to at least one event.",
        ));
    }
    Ok(checked)
}

fn check_secret(secret: &str) -> ApiResult<()> {
    let length = secret.chars().count();
    if (MIN_SECRET..=256).contains(&length) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "secret",
            ErrorCode::InvalidSecret,
            format!("A secret has {MIN_SECRET} to 256 characters."),
        ))
    }
}

/// A fresh secret: 32 random bytes, hex.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    format!("whsec_{}", hex::encode(bytes))
}

async fn owned(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Webhook> {
    let id: Uuid = parse_id(id, "webhook")?;
    state
        .store
        .get_webhook(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// The tenant's subscriptions (without their secrets).
#[utoipa::path(get, path = "/api/webhooks", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = 403)))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<WebhookList>> {
    caller.require_admin()?;
    let webhooks = state.store.list_webhooks(caller.tenant).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(|w| view(w, None)).collect(),
    }))
}

/// Subscribes a URL to booking events; the secret is in this answer only.
#[utoipa::path(post, path = "/api/webhooks", tag = "notifications", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 403), (status = 422)))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    caller.require_admin()?;
    let subscriber_url = check_url(&body.subscriber_url)?;
    let events = check_events(&body.events)?;
    let secret = match body.secret {
        Some(secret) => {
            check_secret(&secret)?;
            secret
        }
        None => new_secret(),
    };
    let webhook = state
        .store
        .create_webhook(
            caller.tenant,
            &NewWebhook {
                subscriber_url,
                events,
                secret_sealed: state.config.secrets.seal(&secret),
                active: body.active,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(webhook, Some(secret)))))
}

/// One subscription (without its secret).
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 404)))]
async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin()?;
    Ok(Json(view(owned(&state, &caller, &id).await?, None)))
}

/// Changes what the body names; a new secret is in this answer only.
#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView), (status = 404), (status = 422)))]
async fn update_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin()?;
    let webhook = owned(&state, &caller, &id).await?;
    let subscriber_url = body.subscriber_url.as_deref().map(check_url).transpose()?;
    let events = body.events.as_deref().map(check_events).transpose()?;
    if let Some(secret) = &body.secret {
        check_secret(secret)?;
    }
    let patch = WebhookPatch {
        subscriber_url,
        events,
        secret_sealed: body.secret.as_deref().map(|s| state.config.secrets.seal(s)),
        active: body.active,
    };
    let updated = state
        .store
        .update_webhook(caller.tenant, webhook.id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(Json(view(updated, body.secret)))
}

/// Removes a subscription and its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    let webhook = owned(&state, &caller, &id).await?;
    state
        .store
        .delete_webhook(caller.tenant, webhook.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The subscription's latest deliveries, newest first: status, response code, duration and,
/// while retrying, the next attempt.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryList), (status = 404)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryList>> {
    caller.require_admin()?;
    let webhook = owned(&state, &caller, &id).await?;
    let deliveries = state
        .store
        .list_webhook_deliveries(caller.tenant, webhook.id, LOG_LIMIT)
        .await?;
    Ok(Json(DeliveryList {
        deliveries: deliveries.into_iter().map(delivery_view).collect(),
    }))
}

/// Queues a test ping (`triggerEvent: PING`) to the subscriber; its outcome appears in the
/// delivery log under the answered `job_id`.
#[utoipa::path(post, path = "/api/webhooks/{id}/ping", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = PingQueued), (status = 404)))]
async fn ping_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<PingQueued>)> {
    caller.require_admin()?;
    let webhook = owned(&state, &caller, &id).await?;
    let job = OutboxJob::Ping(WebhookPing {
        webhook_id: webhook.id,
    })
    .to_new_job();
    state.store.enqueue_jobs(caller.tenant, &[job]).await?;
    let queued = state
        .store
        .list_jobs(caller.tenant, Some("webhook.ping"))
        .await?
        .into_iter()
        .filter(|j| j.payload["webhook_id"] == serde_json::json!(webhook.id))
        .max_by_key(|j| (j.created_at, j.id))
        .ok_or_else(|| ApiError::not_found("ping"))?;
    Ok((StatusCode::ACCEPTED, Json(PingQueued { job_id: queued.id })))
}

/// Sends a logged event to the subscriber again, signed afresh, with the booking as it is now;
/// the replay is a new entry of the log under the answered `job_id`.
#[utoipa::path(post, path = "/api/webhooks/{id}/deliveries/{delivery_id}/replay",
    tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 202, body = PingQueued), (status = 403), (status = 404)))]
async fn replay_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<PingQueued>)> {
    caller.require_admin()?;
    let webhook = owned(&state, &caller, &id).await?;
    let delivery_id = delivery_id
        .parse::<Uuid>()
        .map_err(|_| ApiError::not_found("delivery"))?;
    let delivery = state
        .store
        .list_webhook_deliveries(caller.tenant, webhook.id, LOG_LIMIT)
        .await?
        .into_iter()
        .find(|d| d.id == delivery_id)
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let job = OutboxJob::Replay(WebhookReplay {
        webhook_id: webhook.id,
        event: delivery.event,
        booking_id: delivery.booking_id,
    })
    .to_new_job();
    let marker = job.payload.clone();
    state.store.enqueue_jobs(caller.tenant, &[job]).await?;
    let queued = state
        .store
        .list_jobs(caller.tenant, Some("webhook.replay"))
        .await?
        .into_iter()
        .filter(|j| j.payload == marker)
        .max_by_key(|j| (j.created_at, j.id))
        .ok_or_else(|| ApiError::not_found("replay"))?;
    Ok((StatusCode::ACCEPTED, Json(PingQueued { job_id: queued.id })))
}
