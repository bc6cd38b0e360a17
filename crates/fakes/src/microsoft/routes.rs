//! The fake's HTTP surface: the router, Graph's error bodies, and the Graph handlers.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::events::{self, GraphFailure};
use super::oauth::{self, random_token};
use super::{
    Call, DeltaState, FakeState, MAX_SUBSCRIPTION_MINUTES, Pending, Shared, SubscriptionInfo,
};

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(oauth::authorize))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::token))
        .route("/v1.0/me/calendarView/delta", get(delta))
        .route("/v1.0/me/events", post(create_event))
        .route(
            "/v1.0/me/events/{id}",
            get(get_event).patch(update_event).delete(delete_event),
        )
        .route("/v1.0/subscriptions", post(create_subscription))
        .route(
            "/v1.0/subscriptions/{id}",
            axum::routing::patch(renew_subscription).delete(delete_subscription),
        )
        .layer(axum::middleware::from_fn_with_state(shared.clone(), timed))
        .with_state(shared)
}

/// Adds each request's handling time to [`super::FakeMicrosoft::busy_time`].
async fn timed(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    crate::timing::add_handling_time(&shared.0.busy_nanos, request, next).await
}

/// Graph's error body: `{"error":{"code","message","innerError":{...}}}`.
fn graph_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {"date": Timestamp::now().to_string(), "request-id": uuid::Uuid::new_v4()},
    }});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn failure((status, code, message): GraphFailure) -> Response {
    graph_error(status, code, &message)
}

/// Counting, injected failures and Bearer auth: what every Graph call goes through first.
fn begin<'a>(
    shared: &'a Shared,
    call: Call,
    headers: &HeaderMap,
) -> Result<(std::sync::MutexGuard<'a, FakeState>, String), Box<Response>> {
    let mut state = shared.lock();
    *state.counts.entry(call).or_default() += 1;
    state.request_times.push((call, std::time::Instant::now()));
    if let Some((status, retry_after)) = state.failures.pop_front() {
        let (code, message) = match status {
            429 => (
                "TooManyRequests",
                "Too many requests; retry after the time in Retry-After.",
            ),
            503 => (
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            ),
            _ => ("generalException", "An injected failure."),
        };
        let mut response = graph_error(status, code, message);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        return Err(Box::new(response));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = state.oauth.user_of(token) else {
        return Err(Box::new(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        )));
    };
    Ok((state, user))
}

fn page_size(state: &FakeState, headers: &HeaderMap) -> usize {
    let preferred = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix("odata.maxpagesize=")?
                .parse::<usize>()
                .ok()
        });
    preferred
        .unwrap_or(state.page_size)
        .min(state.page_size)
        .max(1)
}

/// One delta request being answered; counted in and out of its user's in-flight number,
/// whatever way the handler returns.
struct DeltaInFlight {
    shared: Shared,
    user: String,
}

impl DeltaInFlight {
    fn enter(shared: &Shared, user: &str) -> Self {
        let mut state = shared.lock();
        let now = state.deltas_in_flight.entry(user.to_owned()).or_default();
        *now += 1;
        let now = *now;
        let max = state
            .max_deltas_in_flight
            .entry(user.to_owned())
            .or_default();
        *max = (*max).max(now);
        Self {
            shared: shared.clone(),
            user: user.to_owned(),
        }
    }
}

impl Drop for DeltaInFlight {
    fn drop(&mut self) {
        if let Some(n) = self.shared.lock().deltas_in_flight.get_mut(&self.user) {
            *n = n.saturating_sub(1);
        }
    }
}

/// `GET /me/calendarView/delta`: a round's first page (`startDateTime`, `endDateTime`), its
/// next pages (`$skiptoken`), or a new round from a `$deltatoken`.
async fn delta(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // The state's guard ends with this block, before the wait below.
    let (user, delay) = match begin(&shared, Call::Delta, &headers) {
        Ok((state, user)) => (user, state.delta_delay),
        Err(r) => return *r,
    };
    let _in_flight = DeltaInFlight::enter(&shared, &user);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = shared.lock();
    let size = page_size(&state, &headers);
    let pending = if let Some(skip) = q.get("$skiptoken") {
        match state.pending.remove(skip) {
            Some(p) if p.user == user => p,
            _ => return graph_error(400, "ErrorInvalidParameter", "The skip token is not valid."),
        }
    } else {
        let (window, since) = if let Some(token) = q.get("$deltatoken") {
            match state.delta_tokens.get(token) {
                Some(d) if d.user == user => (d.window, Some(d.clone())),
                _ => {
                    return graph_error(
                        410,
                        "syncStateNotFound",
                        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
                    );
                }
            }
        } else {
            let read = |k: &str| {
                q.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .and_then(|(_, v)| v.parse::<Timestamp>().ok())
            };
            match (read("startDateTime"), read("endDateTime")) {
                (Some(s), Some(e)) if s < e => ((s, e), None),
                _ => {
                    return graph_error(
                        400,
                        "ErrorInvalidParameter",
                        "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                    );
                }
            }
        };
        let Some(mailbox) = state.mailboxes.get(&user) else {
            return graph_error(404, "ErrorItemNotFound", "The mailbox was not found.");
        };
        let (items, seen) = events::delta_items(mailbox, window, since.as_ref());
        Pending {
            user: user.clone(),
            items,
            offset: 0,
            window,
            seq: mailbox.seq,
            seen,
            empty_next: false,
        }
    };
    serve_page(&mut state, &shared.0.base, pending, size)
}

fn serve_page(state: &mut FakeState, base: &str, mut p: Pending, size: usize) -> Response {
    let link = format!("{base}/v1.0/me/calendarView/delta");
    let mut body = json!({"@odata.context": format!("{base}/v1.0/$metadata#Collection(event)")});
    if p.empty_next {
        p.empty_next = false;
        body["value"] = json!([]);
    } else {
        let end = (p.offset + size).min(p.items.len());
        body["value"] = Value::Array(p.items[p.offset..end].to_vec());
        p.offset = end;
        p.empty_next = state.empty_pages && p.offset < p.items.len();
    }
    if p.offset < p.items.len() || p.empty_next {
        let skip = random_token("");
        body["@odata.nextLink"] = json!(format!("{link}?$skiptoken={skip}"));
        state.pending.insert(skip, p);
    } else {
        let token = random_token("");
        body["@odata.deltaLink"] = json!(format!("{link}?$deltatoken={token}"));
        state.delta_tokens.insert(
            token,
            DeltaState {
                user: p.user,
                window: p.window,
                seq: p.seq,
                seen: p.seen,
            },
        );
    }
    axum::Json(body).into_response()
}

async fn create_event(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::CreateEvent, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let before = state.mailboxes.get(&user).map_or(0, |m| m.seq);
    match events::insert(&mut state, &user, body) {
        Ok(event) => {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            if state.mailboxes.get(&user).map_or(0, |m| m.seq) != before {
                shared.changed(&state, &user, &id, "created");
            }
            (StatusCode::CREATED, axum::Json(event)).into_response()
        }
        Err(f) => failure(f),
    }
}

async fn get_event(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::GetEvent, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(mailbox) = state.mailboxes.get_mut(&user) else {
        return graph_error(404, "ErrorItemNotFound", "The mailbox was not found.");
    };
    match events::live(mailbox, &id) {
        Ok(e)
            if q.get("$expand")
                .is_some_and(|x| x.starts_with("singleValueExtendedProperties")) =>
        {
            axum::Json(events::expanded(e)).into_response()
        }
        Ok(e) => axum::Json(e.json.clone()).into_response(),
        Err(f) => failure(f),
    }
}

/// The `If-Match` check of PATCH and DELETE: Graph answers 412 when the ETag is not current.
fn check_etag(
    state: &mut FakeState,
    user: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(), Box<Response>> {
    let Some(mailbox) = state.mailboxes.get_mut(user) else {
        return Err(Box::new(graph_error(
            404,
            "ErrorItemNotFound",
            "The mailbox was not found.",
        )));
    };
    let event = events::live(mailbox, id).map_err(|f| Box::new(failure(f)))?;
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(etag) if etag != "*" && Some(etag) != event.json["@odata.etag"].as_str() => {
            Err(Box::new(graph_error(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current change key for the item.",
            )))
        }
        _ => Ok(()),
    }
}

async fn update_event(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(patch): axum::Json<Value>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::UpdateEvent, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if let Err(r) = check_etag(&mut state, &user, &id, &headers) {
        return *r;
    }
    match events::update(&mut state, &user, &id, &patch) {
        Ok(event) => {
            shared.changed(&state, &user, &id, "updated");
            axum::Json(event).into_response()
        }
        Err(f) => failure(f),
    }
}

async fn delete_event(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::DeleteEvent, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if let Err(r) = check_etag(&mut state, &user, &id, &headers) {
        return *r;
    }
    events::delete(&mut state, &user, &id);
    shared.changed(&state, &user, &id, "deleted");
    StatusCode::NO_CONTENT.into_response()
}

/// An expiry Graph accepts: in the future and at most 10,080 minutes away.
fn check_expiry(value: Option<&Value>) -> Result<Timestamp, Box<Response>> {
    let expiry = value
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .ok_or_else(|| {
            Box::new(graph_error(
                400,
                "InvalidRequest",
                "expirationDateTime is required.",
            ))
        })?;
    let now = Timestamp::now();
    if expiry <= now || expiry > now + SignedDuration::from_mins(MAX_SUBSCRIPTION_MINUTES) {
        return Err(Box::new(graph_error(
            400,
            "ExtensionError",
            "Subscription expiration can only be 10080 minutes in the future.",
        )));
    }
    Ok(expiry)
}

/// Graph's validation request: POST `url?validationToken=...` (text/plain); the answer must
/// be 200 with exactly the token, within 10 seconds.
async fn validate(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let Ok(mut target) = reqwest::Url::parse(url) else {
        return false;
    };
    target
        .query_pairs_mut()
        .append_pair("validationToken", &token);
    let answer = reqwest::Client::new()
        .post(target)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match answer {
        Ok(r) if r.status() == StatusCode::OK => {
            let text_plain = r
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain"));
            text_plain && r.text().await.is_ok_and(|body| body == token)
        }
        _ => false,
    }
}

async fn create_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let user = match begin(&shared, Call::CreateSubscription, &headers) {
        Ok((_, user)) => user,
        Err(r) => return *r,
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(notification_url), Some(resource), Some(change_type)) = (
        text("notificationUrl"),
        text("resource"),
        text("changeType"),
    ) else {
        return graph_error(
            400,
            "InvalidRequest",
            "notificationUrl, resource and changeType are required.",
        );
    };
    let expiration = match check_expiry(body.get("expirationDateTime")) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let lifecycle = text("lifecycleNotificationUrl");
    for url in std::iter::once(&notification_url).chain(lifecycle.as_ref()) {
        if !validate(url).await {
            return graph_error(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Response must exactly match validationToken query parameter.",
            );
        }
    }
    let info = SubscriptionInfo {
        id: uuid::Uuid::new_v4().to_string(),
        user,
        resource,
        notification_url,
        lifecycle_notification_url: lifecycle,
        client_state: text("clientState"),
        expiration,
    };
    let answer = subscription_json(&shared.0.base, &info, &change_type);
    shared.lock().subscriptions.insert(info.id.clone(), info);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

fn subscription_json(base: &str, s: &SubscriptionInfo, change_type: &str) -> Value {
    json!({
        "@odata.context": format!("{base}/v1.0/$metadata#subscriptions/$entity"),
        "id": s.id,
        "resource": s.resource,
        "applicationId": "24d3b144-21ae-4080-943f-7067b395b913",
        "changeType": change_type,
        "clientState": s.client_state,
        "notificationUrl": s.notification_url,
        "lifecycleNotificationUrl": s.lifecycle_notification_url,
        "expirationDateTime": s.expiration.to_string(),
        "creatorId": "8ee44408-0679-472c-bc2a-692812af3437",
        "latestSupportedTlsVersion": "v1_2",
        "notificationContentType": "application/json",
    })
}

async fn renew_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::RenewSubscription, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let expiration = match check_expiry(body.get("expirationDateTime")) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match state.subscriptions.get_mut(&id) {
        Some(s) if s.user == user && s.expiration > Timestamp::now() => {
            s.expiration = expiration;
            let answer = subscription_json(&shared.0.base, s, "created,updated,deleted");
            axum::Json(answer).into_response()
        }
        _ => graph_error(404, "ResourceNotFound", "The object was not found."),
    }
}

async fn delete_subscription(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (mut state, user) = match begin(&shared, Call::DeleteSubscription, &headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match state.subscriptions.get(&id) {
        Some(s) if s.user == user => {
            state.subscriptions.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => graph_error(404, "ResourceNotFound", "The object was not found."),
    }
}
