//! The in-call API (docs/contracts.md) and the publishable widget keys behind it.
//!
//! - `GET /api/v1/agents/{agentId}/calendar/slots?startDate&endDate` and
//!   `POST /api/v1/agents/{agentId}/calendar/book` answer the in-call envelope
//!   `{"success":true,"data":…}`; every failure is `{"success":false,"error":{"code","message"}}`
//!   (plus `field` or `alternatives` where they help), with the right status.
//! - Callers are the agent's tenant (a user's JWT or an API key), or a browser holding the
//!   agent's publishable widget key (`X-Pillow-Key: pk_…`) on an allowed origin. A widget key
//!   opens these two endpoints for its one agent and nothing else, and is rate limited per key
//!   and client address.
//! - Slot ids are the server-signed `CS_…` ids of [`crate::slot_id`]; booking ids are `BK_` +
//!   the confirmation code, so `GET /api/calendar/bookings/{code}` finds the booking. A booking
//!   held on Cal.com (agents on the `calcom` backend) is `BK_cal_` + its Cal.com uid: codes
//!   never contain `_`, so the two cannot be confused, and the uid is Cal.com's handle for it.
//! - Slot answers are cached briefly per agent and window, and reused only while the members'
//!   busy versions are unchanged: any booking, by any route or process, drops them.
//!
//! Agents whose calendar lives on Cal.com are routed to [`native_slots`] and [`native_book`]'s
//! Cal.com counterparts by their callers; those two functions are the native path only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::Interval;
use pillow_store::{Agent, AgentBackend, NewWidgetKey, TenantId, WidgetKey, WidgetKeyPatch};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::bookings::{AttendeeBody, check_attendee};
use super::{parse_bound, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::domain::bookings::{
    self as booking, BookingRequest, Subject, TeamContext, claim_key, request_hash,
};
use crate::domain::widget_keys::{hash_widget_key, mint_widget_key, widget_key_prefix};
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::RateLimiter;
use crate::slot_id::SlotRef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(slots))
        .routes(routes!(book))
        .route(SLOTS_PATH, axum::routing::options(preflight))
        .route(BOOK_PATH, axum::routing::options(preflight))
        .routes(routes!(list_widget_keys, create_widget_key))
        .routes(routes!(update_widget_key, revoke_widget_key))
        .routes(routes!(rotate_widget_key))
}

const SLOTS_PATH: &str = "/api/v1/agents/{agent_id}/calendar/slots";
const BOOK_PATH: &str = "/api/v1/agents/{agent_id}/calendar/book";

/// The header a browser sends its publishable key in.
pub const WIDGET_KEY_HEADER: &str = "x-pillow-key";
/// At most this many origins per key: an allow-list, not a directory.
const MAX_ORIGINS: usize = 50;

/// The longest window one slots request may ask for (3 months and a bit).
const MAX_WINDOW_DAYS: i64 = 93;
/// The default window when `endDate` is left out.
const DEFAULT_WINDOW_DAYS: i64 = 7;
/// How long a slots answer may be reused while the members' versions stay put.
const SLOT_CACHE_TTL: Duration = Duration::from_secs(20);

/// In-call state shared by the handlers: the slot cache and the widget keys' rate limits.
pub struct InCallState {
    pub slots: SlotCache,
    /// Slot reads per widget key and client address.
    pub slot_limiter: RateLimiter,
    /// Booking attempts per widget key and client address.
    pub book_limiter: RateLimiter,
}

impl Default for InCallState {
    fn default() -> Self {
        Self {
            slots: SlotCache::default(),
            slot_limiter: RateLimiter::new(120, Duration::from_secs(60)),
            book_limiter: RateLimiter::new(10, Duration::from_secs(10 * 60)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The error envelope.

/// An [`ApiError`] in the in-call envelope, `{"success":false,"error":{…}}`, with the CORS
/// header a widget needs to read it.
pub struct InCallError {
    error: ApiError,
    cors: Option<HeaderValue>,
}

impl From<ApiError> for InCallError {
    fn from(error: ApiError) -> Self {
        Self { error, cors: None }
    }
}

impl From<pillow_store::StoreError> for InCallError {
    fn from(error: pillow_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for InCallError {
    fn into_response(self) -> Response {
        let mut body = self.error.details;
        body.insert("code".into(), self.error.code.into());
        body.insert("message".into(), self.error.message.into());
        let mut response = (
            self.error.status,
            Json(json!({"success": false, "error": body})),
        )
            .into_response();
        add_cors(response.headers_mut(), self.cors);
        response
    }
}

fn add_cors(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}

fn success(status: StatusCode, data: Value, cors: Option<HeaderValue>) -> Response {
    let mut response = (status, Json(json!({"success": true, "data": data}))).into_response();
    add_cors(response.headers_mut(), cors);
    response
}

type InCallResult = Result<Response, InCallError>;

// ---------------------------------------------------------------------------------------------
// Who is calling.

/// The client's address, when the server was started with connection info.
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The origins of the server's own pages (`/book`, `/demo/call`), which may always use a key.
fn own_origins(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let mut own = vec![state.config.public_url.trim_end_matches('/').to_string()];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        own.push(format!("http://{host}"));
        own.push(format!("https://{host}"));
    }
    own
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
}

/// Whether a page on `origin` may use `allowed`.
fn origin_allowed(state: &AppState, headers: &HeaderMap, origin: &str, allowed: &[String]) -> bool {
    let origin = origin.to_ascii_lowercase();
    allowed.contains(&origin) || own_origins(state, headers).contains(&origin)
}

/// Which limit a request counts against.
#[derive(Clone, Copy)]
enum Operation {
    Slots,
    Book,
}

/// The tenant an in-call request acts in, and the CORS origin to answer with.
struct Access {
    tenant: TenantId,
    cors: Option<HeaderValue>,
}

/// Authenticates an in-call request for `agent_id`: a widget key (checked against the agent,
/// the origin and its rate limit) or, without one, a user's JWT or an API key of the tenant.
async fn access(
    state: &AppState,
    headers: &HeaderMap,
    peer: &PeerIp,
    agent_id: Uuid,
    operation: Operation,
) -> Result<Access, InCallError> {
    // Error bodies carry nothing secret, so they are readable from any page: an embedder
    // sees "origin not allowed" rather than an opaque CORS failure.
    let reflected = origin_of(headers).and_then(|o| HeaderValue::from_str(o).ok());
    let fail = |error: ApiError| InCallError {
        error,
        cors: reflected.clone(),
    };
    let Some(presented) = headers.get(WIDGET_KEY_HEADER) else {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.headers = headers.clone();
        let caller = Caller::from_request_parts(&mut parts, state)
            .await
            .map_err(fail)?;
        return Ok(Access {
            tenant: caller.tenant,
            cors: None,
        });
    };
    let invalid = || {
        fail(ApiError::unauthorized(
            "The widget key is not valid; ask the site owner for a current one.",
        ))
    };
    let presented = presented.to_str().map_err(|_| invalid())?.trim();
    let prefix = widget_key_prefix(presented).ok_or_else(invalid)?;
    let key: WidgetKey = state
        .store
        .find_widget_key(prefix)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(invalid)?;
    let hash = hash_widget_key(presented);
    if !bool::from(hash.as_bytes().ct_eq(key.secret_hash.as_bytes())) {
        return Err(invalid());
    }
    if key.agent_id != agent_id {
        return Err(fail(ApiError::forbidden(
            "This widget key belongs to another agent.",
        )));
    }
    if let Some(origin) = origin_of(headers)
        && !origin_allowed(state, headers, origin, &key.allowed_origins)
    {
        return Err(fail(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!(
                "Pages on {origin} may not use this widget key; add the origin to the key's \
                 allowed_origins."
            ),
        )));
    }
    let ip = peer
        .0
        .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let (limiter, what) = match operation {
        Operation::Slots => (&state.incall.slot_limiter, "slots"),
        Operation::Book => (&state.incall.book_limiter, "book"),
    };
    if !limiter.allow(&format!("{what}:{}:{ip}", key.id)) {
        return Err(fail(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests from this page; wait a minute and try again.",
        )));
    }
    Ok(Access {
        tenant: key.tenant_id,
        cors: reflected,
    })
}

/// Answers CORS preflights: only origins some key of the agent allows (or the server's own)
/// get the `Access-Control-Allow-*` headers; any other origin gets a 403.
async fn preflight(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    headers: HeaderMap,
) -> InCallResult {
    let refuse = |message: &str| {
        InCallError::from(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            message,
        ))
    };
    let origin = origin_of(&headers)
        .ok_or_else(|| refuse("A preflight names its Origin."))?
        .to_string();
    let agent = match Uuid::parse_str(&agent_id) {
        Ok(id) => state.store.find_agent(id).await?,
        Err(_) => None,
    };
    let allowed = match agent {
        Some(agent) => state
            .store
            .list_widget_keys(agent.tenant_id, agent.id)
            .await?
            .iter()
            .any(|key| origin_allowed(&state, &headers, &origin, &key.allowed_origins)),
        None => false,
    };
    if !allowed {
        return Err(refuse(&format!(
            "Pages on {origin} may not call this agent's calendar; add the origin to a widget \
             key's allowed_origins."
        )));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    add_cors(h, HeaderValue::from_str(&origin).ok());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-pillow-key, idempotency-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Slots.

/// One slot as the in-call API shows it, plus its local date for grouping by day.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct InCallSlot {
    /// Opaque and signed by the server: hand it back to book.
    id: String,
    /// UTC, e.g. `2024-01-15T15:00:00Z`.
    start_time: String,
    duration_min: i64,
    /// In the agent's zone, e.g. `Mon, Jan 15, 2024 at 10:00 AM`.
    local_time: String,
    /// The local date in the agent's zone, `YYYY-MM-DD`.
    local_date: String,
}

/// "Mon, Jan 15, 2024 at 10:00 AM" in `zone`.
pub fn local_time(start: Timestamp, zone: &TimeZone) -> String {
    start
        .to_zoned(zone.clone())
        .strftime("%a, %b %-d, %Y at %-I:%M %p")
        .to_string()
}

fn agent_zone(context: &TeamContext) -> TimeZone {
    TimeZone::get(&context.agent.time_zone).unwrap_or(TimeZone::UTC)
}

fn slot_view(
    state: &AppState,
    agent_id: Uuid,
    start: Timestamp,
    duration: SignedDuration,
    zone: &TimeZone,
) -> InCallSlot {
    InCallSlot {
        id: state.slot_ids.sign(&SlotRef {
            agent_id,
            start,
            duration,
        }),
        start_time: start.to_string(),
        duration_min: duration.as_mins(),
        local_time: local_time(start, zone),
        local_date: start.to_zoned(zone.clone()).date().to_string(),
    }
}

/// The agent's free slots in `window` from its own team's calendars: the native path.
pub async fn native_slots(
    state: &AppState,
    tenant: TenantId,
    context: &TeamContext,
    window: Interval,
    now: Timestamp,
) -> ApiResult<Vec<InCallSlot>> {
    let calendars = state
        .calendars
        .calendars(
            state.store.as_ref(),
            tenant,
            &context.team.members,
            window,
            now,
        )
        .await?;
    let duration = context
        .team
        .settings
        .event_type_config
        .duration
        .map(SignedDuration::from_mins)
        .or_else(|| calendars.first().map(|c| c.rule.slot_duration()))
        .unwrap_or(SignedDuration::from_mins(30));
    let zone = agent_zone(context);
    Ok(
        crate::domain::availability::team_availability(&calendars, window, duration, now)
            .into_iter()
            .map(|slot| {
                slot_view(
                    state,
                    context.agent.id,
                    slot.slot.start,
                    slot.slot.end.duration_since(slot.slot.start),
                    &zone,
                )
            })
            .collect(),
    )
}

/// The agent's slots as Cal.com offers them: the `calcom` backend. Not cached, since our busy
/// versions say nothing about bookings made on Cal.com.
pub async fn calcom_slots(
    state: &AppState,
    agent: &Agent,
    window: Interval,
    zone: &TimeZone,
) -> ApiResult<Vec<InCallSlot>> {
    let offered =
        crate::calcom::offered_slots(state, agent, window.start, window.end, None).await?;
    Ok(offered
        .into_iter()
        .map(|slot| {
            slot_view(
                state,
                agent.id,
                slot.start,
                slot.end.duration_since(slot.start),
                zone,
            )
        })
        .collect())
}

/// One cached slots answer and what it was computed from.
struct CachedSlots {
    at: Instant,
    versions: Vec<(Uuid, i64)>,
    slots: Arc<Vec<InCallSlot>>,
}

/// Slot answers per agent and window, reused while the members' busy versions are unchanged
/// (a booking through any route or process bumps them) and for at most [`SLOT_CACHE_TTL`].
#[derive(Default)]
pub struct SlotCache {
    entries: Mutex<HashMap<(TenantId, Uuid, Timestamp, Timestamp), CachedSlots>>,
    hits: std::sync::atomic::AtomicU64,
}

impl SlotCache {
    fn get(
        &self,
        key: &(TenantId, Uuid, Timestamp, Timestamp),
        versions: &[(Uuid, i64)],
    ) -> Option<Arc<Vec<InCallSlot>>> {
        let entries = self.entries.lock().expect("slot cache lock");
        let cached = entries.get(key)?;
        (cached.at.elapsed() < SLOT_CACHE_TTL && cached.versions == versions).then(|| {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            cached.slots.clone()
        })
    }

    fn put(
        &self,
        key: (TenantId, Uuid, Timestamp, Timestamp),
        versions: Vec<(Uuid, i64)>,
        slots: Arc<Vec<InCallSlot>>,
    ) {
        let mut entries = self.entries.lock().expect("slot cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, c| c.at.elapsed() < SLOT_CACHE_TTL);
        }
        entries.insert(
            key,
            CachedSlots {
                at: Instant::now(),
                versions,
                slots,
            },
        );
    }

    /// Drops every answer of a tenant's agents (after a booking through the in-call API: the
    /// versions would catch it too, but the Cal.com path has none).
    pub fn forget_tenant(&self, tenant: TenantId) {
        self.entries
            .lock()
            .expect("slot cache lock")
            .retain(|(t, ..), _| *t != tenant);
    }

    /// Answers served from the cache so far (for tests and metrics).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
struct SlotsQuery {
    /// A date `YYYY-MM-DD` in the agent's zone (its start) or an RFC 3339 instant; default now.
    startDate: Option<String>,
    /// A date (included whole) or an instant; default a week after the start; at most 93 days.
    endDate: Option<String>,
}

fn slots_window(query: &SlotsQuery, zone: &TimeZone, now: Timestamp) -> ApiResult<Interval> {
    let start = match &query.startDate {
        Some(raw) => parse_bound("startDate", raw.trim(), zone, false)?,
        None => now,
    };
    let end = match &query.endDate {
        Some(raw) => parse_bound("endDate", raw.trim(), zone, true)?,
        None => start
            .checked_add(SignedDuration::from_hours(24 * DEFAULT_WINDOW_DAYS))
            .map_err(ApiError::internal)?,
    };
    let window = Interval::new(start, end).ok_or_else(|| {
        ApiError::invalid(
            "endDate",
            "invalid_range",
            "endDate must be after startDate.",
        )
    })?;
    if window.duration() > SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) {
        return Err(ApiError::invalid(
            "endDate",
            "window_too_long",
            format!("Ask for at most {MAX_WINDOW_DAYS} days at once."),
        ));
    }
    Ok(window)
}

/// The agent's free slots (the in-call API's `GET …/calendar/slots`).
///
/// Authenticated by the tenant's JWT or API key, or a publishable widget key in
/// `X-Pillow-Key` from an allowed origin.
#[utoipa::path(get, path = "/api/v1/agents/{agent_id}/calendar/slots", tag = "in-call",
    security(("bearer" = [])),
    params(("agent_id" = Uuid, Path), SlotsQuery,
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key")),
    responses((status = 200, description = "`{\"success\":true,\"data\":{\"slots\":[{id, start_time, duration_min, local_time}],\"agent\":{name, timezone}}}`"),
              (status = 401), (status = 403), (status = 404), (status = 422), (status = 429)))]
async fn slots(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    headers: HeaderMap,
    query: Result<Query<SlotsQuery>, axum::extract::rejection::QueryRejection>,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let access = access(&state, &headers, &peer, agent_id, Operation::Slots).await?;
    let cors = access.cors.clone();
    slots_for(&state, access, agent_id, query)
        .await
        .map_err(|error| InCallError { error, cors })
}

async fn slots_for(
    state: &AppState,
    access: Access,
    agent_id: Uuid,
    query: Result<Query<SlotsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let now = Timestamp::now();
    let context = state.teams.get(state, access.tenant, agent_id).await?;
    let zone = agent_zone(&context);
    let window = slots_window(&query, &zone, now)?;
    let slots = if context.agent.backend == AgentBackend::Calcom {
        Arc::new(calcom_slots(state, &context.agent, window, &zone).await?)
    } else {
        let mut versions = state
            .store
            .busy_versions(access.tenant, &context.team.members)
            .await?;
        versions.sort();
        let key = (access.tenant, agent_id, window.start, window.end);
        match state.incall.slots.get(&key, &versions) {
            Some(slots) => slots,
            None => {
                let slots =
                    Arc::new(native_slots(state, access.tenant, &context, window, now).await?);
                state.incall.slots.put(key, versions, slots.clone());
                slots
            }
        }
    };
    // Slots that became too soon since they were cached are left out.
    let slots: Vec<&InCallSlot> = slots
        .iter()
        .filter(|s| s.start_time.parse::<Timestamp>().is_ok_and(|t| t > now))
        .collect();
    Ok(success(
        StatusCode::OK,
        json!({
            "slots": slots,
            "agent": {
                "name": context.agent.name,
                "timezone": zone.iana_name().unwrap_or("UTC"),
            },
        }),
        access.cors,
    ))
}

// ---------------------------------------------------------------------------------------------
// Booking.

/// The in-call API's booking body.
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct BookBody {
    /// A `CS_…` id from the slots answer.
    slotId: String,
    attendeeName: String,
    attendeeEmail: Option<String>,
    #[serde(default)]
    attendeePhone: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// The attendee checks of the bookings API, reported under the in-call API's field names.
fn check_book_body(body: &BookBody) -> ApiResult<(pillow_store::Attendee, Option<String>)> {
    if body
        .attendeeEmail
        .as_deref()
        .is_none_or(|e| e.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "attendeeEmail",
            "invalid_email",
            "The attendee's e-mail address is required.",
        ));
    }
    let attendee = check_attendee(&AttendeeBody {
        name: body.attendeeName.clone(),
        email: body.attendeeEmail.clone(),
        phone: body.attendeePhone.clone(),
    })
    .map_err(|mut e| {
        let renamed = match e.details.get("field").and_then(Value::as_str) {
            Some("attendee.name") => Some("attendeeName"),
            Some("attendee.email") => Some("attendeeEmail"),
            Some("attendee.phone") => Some("attendeePhone"),
            _ => None,
        };
        if let Some(field) = renamed {
            e.details.insert("field".into(), field.into());
        }
        e
    })?;
    let notes = match &body.notes {
        Some(n) if n.chars().count() > 2000 => {
            return Err(ApiError::invalid(
                "notes",
                "too_long",
                "Notes may have at most 2000 characters.",
            ));
        }
        other => other.clone().filter(|n| !n.trim().is_empty()),
    };
    Ok((attendee, notes))
}

/// Books a slot with the agent's own team: the native path. Answers the bookings API's view of
/// the new booking (what the idempotency record keeps).
pub async fn native_book(
    state: &AppState,
    tenant: TenantId,
    context: Arc<TeamContext>,
    request: &BookingRequest,
    record: Option<(&str, &str)>,
) -> ApiResult<Value> {
    let subject = Subject::Agent(context);
    booking::book(state, tenant, &subject, request, record).await
}

/// The `BK_…` id of a booking: its confirmation code, which the bookings API also finds.
pub fn booking_id(code: &str) -> String {
    format!("BK_{code}")
}

/// Book a slot (the in-call API's `POST …/calendar/book`).
///
/// A slot taken meanwhile is a 409 `slot_unavailable` with up to three `alternatives` (slots
/// like those of the slots answer). Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/agents/{agent_id}/calendar/book", tag = "in-call",
    security(("bearer" = [])), request_body = BookBody,
    params(("agent_id" = Uuid, Path),
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    responses((status = 201, description = "`{\"success\":true,\"data\":{\"booking\":{bookingId, slotId, attendeeName, attendeeEmail, attendeePhone, notes, status, …},\"message\"}}`"),
              (status = 409, description = "slot_unavailable"), (status = 422), (status = 429)))]
async fn book(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let access = access(&state, &headers, &peer, agent_id, Operation::Book).await?;
    let cors = access.cors.clone();
    let tenant = access.tenant;
    match book_for(&state, tenant, agent_id, &headers, &body).await {
        Ok(data) => Ok(success(StatusCode::CREATED, data, cors)),
        Err(error) => Err(InCallError { error, cors }),
    }
}

async fn book_for(
    state: &AppState,
    tenant: TenantId,
    agent_id: Uuid,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<Value> {
    let body: BookBody = crate::json::parse(raw)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().map(str::trim).unwrap_or_default();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "invalid_idempotency_key",
                    "An Idempotency-Key has 1 to 255 visible characters.",
                ));
            }
            Some(key.to_string())
        }
    };
    let slot = state.slot_ids.verify(body.slotId.trim()).map_err(|e| {
        ApiError::invalid(
            "slotId",
            "invalid_slot",
            format!("{e}; fetch the slots again and use one of their ids."),
        )
    })?;
    if slot.agent_id != agent_id {
        return Err(ApiError::invalid(
            "slotId",
            "invalid_slot",
            "This slot id belongs to another agent; fetch this agent's slots.",
        ));
    }
    let (attendee, notes) = check_book_body(&body)?;
    let context = state.teams.get(state, tenant, agent_id).await?;
    let zone = agent_zone(&context);
    if context.agent.backend == AgentBackend::Calcom {
        // The Idempotency-Key becomes the adapter's hint: a retry finds the booking it made.
        let hint = key.map(|key| format!("incall:{agent_id}:{key}"));
        let booked = crate::calcom::book(
            state,
            &context.agent,
            slot.start,
            Some(slot.duration),
            &attendee,
            notes.as_deref(),
            hint.as_deref(),
        )
        .await?;
        return Ok(calcom_booking_data(
            &booked,
            &attendee,
            notes.as_deref(),
            &body.slotId,
            &zone,
        ));
    }
    let request = BookingRequest {
        start: slot.start,
        duration: Some(slot.duration),
        attendee,
        notes,
        call_id: None,
    };
    let hash = request_hash(
        "incall-book",
        &format!("agent:{agent_id}"),
        &serde_json::to_value(&body).unwrap_or_default(),
    );
    let view = booked(state, tenant, context, &request, key, &hash)
        .await
        .map_err(|e| with_incall_alternatives(state, agent_id, &zone, e))?;
    state.incall.slots.forget_tenant(tenant);
    Ok(booking_data(&view, &body.slotId, &zone))
}

/// Books under an optional idempotency key: replays a recorded answer, records client errors,
/// releases the key on server errors.
async fn booked(
    state: &AppState,
    tenant: TenantId,
    context: Arc<TeamContext>,
    request: &BookingRequest,
    key: Option<String>,
    hash: &str,
) -> ApiResult<Value> {
    Ok(match key {
        None => native_book(state, tenant, context, request, None).await?,
        Some(key) => {
            if let Some((status, recorded)) = claim_key(state, tenant, &key, hash).await? {
                if status.is_success() {
                    recorded
                } else {
                    return Err(replayed_error(status, &recorded["error"]));
                }
            } else {
                match native_book(state, tenant, context, request, Some((&key, hash))).await {
                    Ok(view) => view,
                    Err(error) => {
                        booking::settle_key(state, tenant, &key, hash, &error).await;
                        return Err(error);
                    }
                }
            }
        }
    })
}

/// The in-call API's booking block from the bookings API's view of the booking.
fn booking_data(view: &Value, slot_id: &str, zone: &TimeZone) -> Value {
    let code = view["confirmation_code"].as_str().unwrap_or_default();
    let start = view["start_time"]
        .as_str()
        .and_then(|s| s.parse::<Timestamp>().ok());
    json!({
        "booking": {
            "bookingId": booking_id(code),
            "slotId": slot_id,
            "attendeeName": view["attendee"]["name"],
            "attendeeEmail": view["attendee"]["email"],
            "attendeePhone": view["attendee"]["phone"],
            "notes": view["notes"],
            "status": view["status"],
            "confirmationCode": code,
            "startTime": view["start_time"],
            "endTime": view["end_time"],
            "durationMin": view["duration"],
            "localTime": start.map(|s| local_time(s, zone)),
            "timezone": zone.iana_name().unwrap_or("UTC"),
            "hostName": view["user_name"],
        },
        "message": "Appointment booked successfully",
    })
}

/// The `BK_…` id of a booking held on Cal.com.
pub fn calcom_booking_id(uid: &str) -> String {
    format!("BK_cal_{uid}")
}

/// The in-call booking block for a Cal.com booking. Cal.com's `accepted` is reported as
/// our `confirmed`, so widgets need not know which backend answered; the confirmation code is
/// the Cal.com uid.
fn calcom_booking_data(
    booked: &crate::calcom::CalcomBooked,
    attendee: &pillow_store::Attendee,
    notes: Option<&str>,
    slot_id: &str,
    zone: &TimeZone,
) -> Value {
    let status = match booked.status.as_str() {
        "accepted" => "confirmed",
        other => other,
    };
    json!({
        "booking": {
            "bookingId": calcom_booking_id(&booked.uid),
            "slotId": slot_id,
            "attendeeName": attendee.name,
            "attendeeEmail": attendee.email,
            "attendeePhone": attendee.phone,
            "notes": notes,
            "status": status,
            "confirmationCode": booked.uid,
            "startTime": booked.start.to_string(),
            "endTime": booked.end.to_string(),
            "durationMin": booked.end.duration_since(booked.start).as_mins(),
            "localTime": local_time(booked.start, zone),
            "timezone": zone.iana_name().unwrap_or("UTC"),
            "hostName": Value::Null,
        },
        "message": "Appointment booked successfully",
    })
}

/// A client error recorded under an idempotency key, answered again exactly.
fn replayed_error(status: StatusCode, error: &Value) -> ApiError {
    const KNOWN: [&str; 12] = [
        "slot_unavailable",
        "in_the_past",
        "too_soon",
        "too_far_ahead",
        "duration_not_allowed",
        "outside_working_hours",
        "off_grid",
        "invalid_name",
        "invalid_email",
        "invalid_phone",
        "no_working_hours",
        "not_found",
    ];
    let code = error["code"].as_str().unwrap_or_default();
    let code = KNOWN
        .into_iter()
        .find(|k| *k == code)
        .unwrap_or("replayed_error");
    let mut replayed = ApiError::new(status, code, error["message"].as_str().unwrap_or_default());
    if let Some(details) = error.as_object() {
        for (k, v) in details {
            if k != "code" && k != "message" {
                replayed = replayed.with(k, v.clone());
            }
        }
    }
    replayed
}

/// Turns a conflict's `alternatives` (start and end times) into bookable in-call slots.
fn with_incall_alternatives(
    state: &AppState,
    agent_id: Uuid,
    zone: &TimeZone,
    mut error: ApiError,
) -> ApiError {
    if let Some(Value::Array(alternatives)) = error.details.get("alternatives") {
        let converted: Vec<Value> = alternatives
            .iter()
            .filter_map(|a| {
                let start = a["start_time"].as_str()?.parse::<Timestamp>().ok()?;
                let end = a["end_time"].as_str()?.parse::<Timestamp>().ok()?;
                serde_json::to_value(slot_view(
                    state,
                    agent_id,
                    start,
                    end.duration_since(start),
                    zone,
                ))
                .ok()
            })
            .collect();
        error
            .details
            .insert("alternatives".into(), converted.into());
    }
    error
}

// ---------------------------------------------------------------------------------------------
// Widget keys: `/api/agents/{id}/widget-keys`, for the tenant's admins.

#[derive(serde::Serialize, ToSchema)]
struct WidgetKeyView {
    id: Uuid,
    agent_id: Uuid,
    name: String,
    /// The public part of the key; the whole key is shown only when created or rotated.
    prefix: String,
    allowed_origins: Vec<String>,
    created_at: String,
    updated_at: String,
    /// The whole key: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn key_view(key: WidgetKey, whole: Option<String>) -> WidgetKeyView {
    WidgetKeyView {
        id: key.id,
        agent_id: key.agent_id,
        name: key.name,
        prefix: key.prefix,
        allowed_origins: key.allowed_origins,
        created_at: key.created_at.to_string(),
        updated_at: key.updated_at.to_string(),
        key: whole,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWidgetKey {
    #[serde(default)]
    name: Option<String>,
    /// Origins whose pages may use the key, e.g. `https://shop.example`; the server's own
    /// pages always may.
    #[serde(default)]
    allowed_origins: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateWidgetKey {
    name: Option<String>,
    allowed_origins: Option<Vec<String>>,
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port; nothing else.
pub fn check_origin(index: usize, raw: &str) -> ApiResult<String> {
    let field = format!("allowed_origins[{index}]");
    let bad = || {
        ApiError::invalid(
            &field,
            "invalid_origin",
            format!(
                "{raw:?} is not an origin such as https://shop.example or http://localhost:8080."
            ),
        )
    };
    let origin = raw.trim().to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(origin)
    } else {
        Err(bad())
    }
}

fn check_origins(origins: &[String]) -> ApiResult<Vec<String>> {
    if origins.len() > MAX_ORIGINS {
        return Err(ApiError::invalid(
            "allowed_origins",
            "too_many_origins",
            format!("A key allows at most {MAX_ORIGINS} origins."),
        ));
    }
    let mut checked: Vec<String> = Vec::new();
    for (i, origin) in origins.iter().enumerate() {
        let origin = check_origin(i, origin)?;
        if !checked.contains(&origin) {
            checked.push(origin);
        }
    }
    Ok(checked)
}

fn check_key_name(name: Option<&str>) -> ApiResult<Option<String>> {
    match name.map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 100 => Err(ApiError::invalid(
            "name",
            "invalid_name",
            "A key's name has 1 to 100 characters.",
        )),
        other => Ok(other.map(String::from)),
    }
}

async fn admin_agent(state: &AppState, caller: &Caller, agent_id: &str) -> ApiResult<Uuid> {
    caller.require_admin()?;
    let id = parse_id(agent_id, "agent")?;
    state
        .store
        .get_agent(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(id)
}

/// The agent's widget keys (without their secrets).
#[utoipa::path(get, path = "/api/agents/{id}/widget-keys", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`{\"widget_keys\": [...]}`"), (status = 404)))]
async fn list_widget_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let keys: Vec<WidgetKeyView> = state
        .store
        .list_widget_keys(caller.tenant, agent_id)
        .await?
        .into_iter()
        .map(|k| key_view(k, None))
        .collect();
    Ok(Json(json!({ "widget_keys": keys })))
}

/// Creates a publishable widget key for the agent; the whole key is in this answer only.
#[utoipa::path(post, path = "/api/agents/{id}/widget-keys", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateWidgetKey,
    responses((status = 201, body = WidgetKeyView), (status = 403), (status = 404), (status = 422)))]
async fn create_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    crate::json::ApiJson(body): crate::json::ApiJson<CreateWidgetKey>,
) -> ApiResult<(StatusCode, Json<WidgetKeyView>)> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let name = check_key_name(body.name.as_deref())?.unwrap_or_else(|| "widget".into());
    let allowed_origins = check_origins(&body.allowed_origins)?;
    let minted = mint_widget_key();
    let key = state
        .store
        .create_widget_key(
            caller.tenant,
            &NewWidgetKey {
                agent_id,
                name,
                prefix: minted.prefix,
                secret_hash: minted.secret_hash,
                allowed_origins,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key_view(key, Some(minted.key)))))
}

/// Changes a key's name or allowed origins; the key itself stays valid.
#[utoipa::path(patch, path = "/api/agents/{id}/widget-keys/{key_id}", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    request_body = UpdateWidgetKey,
    responses((status = 200, body = WidgetKeyView), (status = 404), (status = 422)))]
async fn update_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
    crate::json::ApiJson(body): crate::json::ApiJson<UpdateWidgetKey>,
) -> ApiResult<Json<WidgetKeyView>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    let patch = WidgetKeyPatch {
        name: check_key_name(body.name.as_deref())?,
        allowed_origins: body
            .allowed_origins
            .as_deref()
            .map(check_origins)
            .transpose()?,
        secret: None,
    };
    let key = state
        .store
        .update_widget_key(caller.tenant, agent_id, key_id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("widget key"))?;
    Ok(Json(key_view(key, None)))
}

/// Replaces the key's secret: the old key stops working at once; the new one is in this
/// answer only.
#[utoipa::path(post, path = "/api/agents/{id}/widget-keys/{key_id}/rotate", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 200, body = WidgetKeyView), (status = 404)))]
async fn rotate_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<WidgetKeyView>> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    let minted = mint_widget_key();
    let patch = WidgetKeyPatch {
        name: None,
        allowed_origins: None,
        secret: Some((minted.prefix, minted.secret_hash)),
    };
    let key = state
        .store
        .update_widget_key(caller.tenant, agent_id, key_id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("widget key"))?;
    Ok(Json(key_view(key, Some(minted.key))))
}

/// Revokes a key: it stops working at once.
#[utoipa::path(delete, path = "/api/agents/{id}/widget-keys/{key_id}", tag = "in-call",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn revoke_widget_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let agent_id = admin_agent(&state, &caller, &id).await?;
    let key_id = parse_id(&key_id, "widget key")?;
    if state
        .store
        .delete_widget_key(caller.tenant, agent_id, key_id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("widget key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_read_like_the_seed() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let start: Timestamp = "2024-01-15T15:00:00Z".parse().unwrap();
        assert_eq!(local_time(start, &zone), "Mon, Jan 15, 2024 at 10:00 AM");
        let afternoon: Timestamp = "2024-07-04T18:30:00Z".parse().unwrap();
        assert_eq!(local_time(afternoon, &zone), "Thu, Jul 4, 2024 at 2:30 PM");
    }

    #[test]
    fn widget_keys_have_their_shape_and_hash() {
        let minted = mint_widget_key();
        assert!(minted.key.starts_with("pk_"));
        assert_eq!(widget_key_prefix(&minted.key), Some(minted.prefix.as_str()));
        assert_eq!(hash_widget_key(&minted.key), minted.secret_hash);
        assert_eq!(widget_key_prefix("pk_short_x"), None);
        assert_eq!(widget_key_prefix(&minted.key.replace("pk_", "pcal_")), None);
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            check_origin(0, "https://Shop.Example").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            check_origin(0, "http://localhost:8080").unwrap(),
            "http://localhost:8080"
        );
        for bad in [
            "shop.example",
            "https://shop.example/path",
            "ftp://x",
            "https://",
            "http://a:99999",
            "*",
        ] {
            assert!(check_origin(0, bad).is_err(), "{bad}");
        }
    }
}
