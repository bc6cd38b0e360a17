//! Booking endpoints: `POST /api/calendar/booking`, the bookings API, cancel and
//! reschedule, and self-service for callers holding a confirmation code.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::{SignedDuration, Timestamp};
use pillow_store::{
    Attendee, Booking, BookingFilter, BookingStatus, Constraint, IdempotentResponse, TenantId,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{parse_id, parse_instant};
use crate::AppState;
use crate::auth::Caller;
use crate::domain::bookings::{
    self as booking, BookingRequest, Subject, booking_view, claim_key, lifecycle_jobs,
    looks_like_code, request_hash, settle_key,
};
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, ApiQuery};
use crate::rate_limit::RateLimiter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_booking))
        .routes(routes!(list_bookings))
        .routes(routes!(get_booking))
        .routes(routes!(cancel_booking))
        .routes(routes!(reschedule_booking))
        .routes(routes!(self_service_cancel))
        .routes(routes!(self_service_reschedule))
}

#[derive(Debug, Deserialize, ToSchema, Clone, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttendeeBody {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// The calendar API's booking body, plus whom to book for.
#[derive(Debug, Deserialize, ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    /// RFC 3339, e.g. `2024-02-15T09:00:00Z`.
    start_time: String,
    /// Minutes; default the agent's event type or the rule's slot length.
    #[serde(default)]
    duration: Option<i64>,
    attendee: AttendeeBody,
    #[serde(default)]
    notes: Option<String>,
    /// Book with an agent's team (or send `X-Agent-ID`).
    #[serde(default)]
    agent_id: Option<String>,
    /// Book one member.
    #[serde(default)]
    user_id: Option<String>,
}

/// A phone number: an optional `+`, then 7 to 15 digits, with spaces, dots, dashes and
/// brackets allowed between them.
pub fn check_phone(field: &str, phone: &str) -> ApiResult<String> {
    let phone = phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0));
    if allowed && (7..=15).contains(&digits) {
        Ok(phone.to_string())
    } else {
        Err(ApiError::invalid(
            field,
            "invalid_phone",
            format!("{phone:?} is not a phone number such as +1 234 567 8900."),
        ))
    }
}

/// Checks an attendee; name required, e-mail and phone optional but well-formed.
pub fn check_attendee(body: &AttendeeBody) -> ApiResult<Attendee> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "attendee.name",
            "invalid_name",
            "The attendee's name is required (at most 200 characters).",
        ));
    }
    let email = body
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| super::users::check_email("attendee.email", e))
        .transpose()?;
    let phone = body
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| check_phone("attendee.phone", p))
        .transpose()?;
    Ok(Attendee {
        name: name.to_string(),
        email,
        phone,
    })
}

fn parse_duration(raw: Option<i64>) -> ApiResult<Option<SignedDuration>> {
    match raw {
        None => Ok(None),
        Some(minutes) if (5..=1440).contains(&minutes) => {
            Ok(Some(SignedDuration::from_mins(minutes)))
        }
        Some(_) => Err(ApiError::invalid(
            "duration",
            "invalid_duration",
            "`duration` is a whole number of minutes from 5 to 1440.",
        )),
    }
}

fn check_notes(notes: Option<String>) -> ApiResult<Option<String>> {
    match notes {
        Some(n) if n.chars().count() > 2000 => Err(ApiError::invalid(
            "notes",
            "too_long",
            "Notes may have at most 2000 characters.",
        )),
        other => Ok(other.filter(|n| !n.trim().is_empty())),
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "invalid_idempotency_key",
            "An Idempotency-Key has 1 to 255 visible characters.",
        ));
    }
    Ok(Some(key.to_string()))
}

/// Runs `work` under an optional idempotency key: replays a finished answer, records client
/// errors, releases the key on server errors. `work` gets the key and hash to record its
/// success atomically.
async fn idempotent<F, Fut>(
    state: &AppState,
    tenant: TenantId,
    key: Option<String>,
    hash: String,
    success: StatusCode,
    work: F,
) -> ApiResult<(StatusCode, Json<Value>)>
where
    F: FnOnce(Option<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = ApiResult<Value>>,
{
    let Some(key) = key else {
        return work(None).await.map(|body| (success, Json(body)));
    };
    if let Some((status, body)) = claim_key(state, tenant, &key, &hash).await? {
        if status.is_success() {
            return Ok((status, Json(body)));
        }
        // A recorded client error: answer it again, exactly.
        let error = &body["error"];
        let mut replayed = ApiError::new(
            status,
            "replayed",
            error["message"].as_str().unwrap_or_default(),
        );
        replayed.code = static_code(error["code"].as_str().unwrap_or("replayed"));
        if let Some(details) = error.as_object() {
            for (k, v) in details {
                if k != "code" && k != "message" {
                    replayed = replayed.with(k, v.clone());
                }
            }
        }
        return Err(replayed);
    }
    match work(Some((key.clone(), hash.clone()))).await {
        Ok(body) => Ok((success, Json(body))),
        Err(error) => {
            settle_key(state, tenant, &key, &hash, &error).await;
            Err(error)
        }
    }
}

/// Error codes are `&'static str`; a replayed one is mapped back onto the known set.
fn static_code(code: &str) -> &'static str {
    const KNOWN: [&str; 16] = [
        "slot_unavailable",
        "in_the_past",
        "too_soon",
        "too_far_ahead",
        "duration_not_allowed",
        "outside_working_hours",
        "off_grid",
        "invalid_time",
        "invalid_duration",
        "invalid_name",
        "invalid_email",
        "invalid_phone",
        "not_found",
        "no_working_hours",
        "booking_not_confirmed",
        "subject_required",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == code)
        .unwrap_or("replayed_error")
}

async fn subject_for(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    agent_id: Option<&str>,
    user_id: Option<&str>,
) -> ApiResult<Subject> {
    let header_agent = headers.get("x-agent-id").and_then(|v| v.to_str().ok());
    if let Some(raw) = agent_id.or(header_agent) {
        let id = parse_id(raw.trim(), "agent")?;
        return Ok(Subject::Agent(
            state.teams.get(state, caller.tenant, id).await?,
        ));
    }
    if let Some(raw) = user_id {
        let id = parse_id(raw, "user")?;
        let user = state
            .store
            .get_user(caller.tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        return Ok(Subject::User(Box::new(user)));
    }
    caller
        .user()
        .cloned()
        .map(|u| Subject::User(Box::new(u)))
        .ok_or_else(|| {
            ApiError::invalid(
                "agent_id",
                "subject_required",
                "An API key acts for no one in particular: give `agent_id` (or X-Agent-ID) or `user_id`.",
            )
        })
}

/// Book an appointment (the API's body). With a user's token and no agent or user named, books
/// that user. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/calendar/booking", tag = "bookings", security(("bearer" = [])),
    request_body = CreateBooking,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key"),
           ("X-Agent-ID" = Option<Uuid>, Header, description = "Book with this agent's team")),
    responses((status = 201, description = "The booking, with its confirmation_code"),
              (status = 409, description = "slot_unavailable, with up to three alternatives"),
              (status = 422, description = "Invalid field or a time that cannot be booked")))]
async fn create_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateBooking>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let duration = parse_duration(body.duration)?;
    let attendee = check_attendee(&body.attendee)?;
    let notes = check_notes(body.notes.clone())?;
    let subject = subject_for(
        &state,
        &caller,
        &headers,
        body.agent_id.as_deref(),
        body.user_id.as_deref(),
    )
    .await?;
    let subject_name = match &subject {
        Subject::Agent(context) => format!("agent:{}", context.agent.id),
        Subject::User(u) => format!("user:{}", u.id),
    };
    let hash = request_hash(
        "book",
        &subject_name,
        &serde_json::to_value(&body).unwrap_or_default(),
    );
    let request = BookingRequest {
        start,
        duration,
        attendee,
        notes,
        call_id: None,
    };
    let tenant = caller.tenant;
    let (state_ref, subject, request) = (&state, &subject, &request);
    idempotent(
        &state,
        tenant,
        key,
        hash,
        StatusCode::CREATED,
        |record| async move {
            let record = record.as_ref().map(|(k, h)| (k.as_str(), h.as_str()));
            booking::book(state_ref, tenant, subject, request, record).await
        },
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `confirmed` or `cancelled`.
    status: Option<String>,
    /// The assigned member.
    user_id: Option<String>,
    agent_id: Option<String>,
    /// Bookings overlapping [start, end) (RFC 3339).
    start: Option<String>,
    end: Option<String>,
    /// At most this many (default 500).
    limit: Option<u32>,
}

async fn names(
    state: &AppState,
    tenant: TenantId,
) -> ApiResult<std::collections::HashMap<Uuid, String>> {
    Ok(state
        .store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// List bookings, filtered by status, member, agent and time range.
#[utoipa::path(get, path = "/api/calendar/bookings", tag = "bookings", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, description = "`{\"bookings\": [...]}`")))]
async fn list_bookings(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            BookingStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "invalid_status",
                    "A status is confirmed or cancelled.",
                )
            })
        })
        .transpose()?;
    let filter = BookingFilter {
        status,
        user_id: query
            .user_id
            .as_deref()
            .map(|u| parse_id(u, "user"))
            .transpose()?,
        agent_id: query
            .agent_id
            .as_deref()
            .map(|a| parse_id(a, "agent"))
            .transpose()?,
        from: query
            .start
            .as_deref()
            .map(|s| parse_instant("start", s))
            .transpose()?,
        to: query
            .end
            .as_deref()
            .map(|e| parse_instant("end", e))
            .transpose()?,
        limit: query.limit.map(|l| l.clamp(1, 5000)),
    };
    let bookings = state.store.list_bookings(caller.tenant, &filter).await?;
    let names = names(&state, caller.tenant).await?;
    let views: Vec<Value> = bookings
        .iter()
        .map(|b| booking_view(b, names.get(&b.user_id).map_or("", String::as_str)))
        .collect();
    Ok(Json(json!({ "bookings": views })))
}

/// Finds a booking by id or confirmation code, in the caller's tenant. The in-call API's
/// booking ids (`BK_` + the code) are accepted as they are, so a client can use what it got.
async fn find(state: &AppState, tenant: TenantId, id_or_code: &str) -> ApiResult<Booking> {
    let id_or_code = id_or_code.strip_prefix("BK_").unwrap_or(id_or_code);
    let found = if let Ok(id) = Uuid::parse_str(id_or_code) {
        state.store.get_booking(tenant, id).await?
    } else if looks_like_code(id_or_code) {
        state
            .store
            .find_booking_by_code(tenant, &id_or_code.to_ascii_uppercase())
            .await?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::not_found("booking"))
}

async fn view_of(state: &AppState, booking: &Booking) -> ApiResult<Value> {
    let host = state
        .store
        .get_user(booking.tenant_id, booking.user_id)
        .await?;
    Ok(booking_view(
        booking,
        host.as_ref().map_or("", |u| u.name.as_str()),
    ))
}

/// One booking, by id or confirmation code.
#[utoipa::path(get, path = "/api/calendar/bookings/{id_or_code}", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)),
    responses((status = 200, description = "The booking"), (status = 404)))]
async fn get_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id_or_code): Path<String>,
) -> ApiResult<Json<Value>> {
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    Ok(Json(view_of(&state, &booking).await?))
}

#[derive(Debug, Deserialize, ToSchema, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    /// The new start (RFC 3339); the duration stays.
    start_time: String,
}

/// Members act on their own bookings; admins and API keys on any in the tenant.
fn may_change(caller: &Caller, booking: &Booking) -> ApiResult<()> {
    if caller.user().is_some_and(|u| u.id == booking.user_id) {
        Ok(())
    } else {
        caller.require_admin()
    }
}

/// Cancels; shared by the authenticated and the self-service routes.
pub(crate) async fn do_cancel(
    state: &AppState,
    booking: &Booking,
    reason: Option<String>,
    key: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let tenant = booking.tenant_id;
    let hash = request_hash(
        "cancel",
        &booking.id.to_string(),
        &json!({"reason": reason}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status == BookingStatus::Cancelled {
                return view_of(state, booking).await;
            }
            let mut after = booking.clone();
            after.status = BookingStatus::Cancelled;
            after.cancel_reason = reason.clone();
            let now = Timestamp::now();
            after.cancelled_at = Some(now);
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let jobs = booking_jobs("booking.cancelled", booking);
            state
                .store
                .cancel_booking(
                    tenant,
                    booking.id,
                    reason.as_deref(),
                    &jobs,
                    response.as_ref(),
                )
                .await?
                .ok_or_else(|| ApiError::not_found("booking"))?;
            metrics::counter!("bookings_total", "outcome" => "cancelled").increment(1);
            // The answer recorded for the key, so a retry gets exactly this.
            Ok(body)
        },
    )
    .await
}

/// The idempotency record of a 200 answer, when the request carried a key.
fn recorded(record: Option<(String, String)>, body: &Value) -> Option<IdempotentResponse> {
    record.map(|(key, request_hash)| IdempotentResponse {
        key,
        request_hash,
        status: 200,
        body: body.clone(),
    })
}

fn booking_jobs(kind: &str, booking: &Booking) -> Vec<pillow_store::NewJob> {
    lifecycle_jobs(kind, None)
        .into_iter()
        .map(|mut job| {
            if let Value::Object(map) = &mut job.payload {
                map.insert("booking_id".into(), booking.id.to_string().into());
                map.insert("user_id".into(), booking.user_id.to_string().into());
            }
            job
        })
        .collect()
}

/// Moves a booking; the new time is checked like a new booking for the same member.
pub(crate) async fn do_reschedule(
    state: &AppState,
    booking: &Booking,
    start: Timestamp,
    key: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let tenant = booking.tenant_id;
    let hash = request_hash(
        "reschedule",
        &booking.id.to_string(),
        &json!({"start": start.to_string()}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status != BookingStatus::Confirmed {
                return Err(ApiError::conflict(
                    "booking_not_confirmed",
                    "A cancelled booking cannot be rescheduled; book a new time instead.",
                ));
            }
            let duration = booking.end.duration_since(booking.start);
            let end = start.checked_add(duration).map_err(ApiError::internal)?;
            let now = Timestamp::now();
            let probe = pillow_engine::Interval::new(
                start
                    .saturating_sub(SignedDuration::from_hours(48))
                    .unwrap_or(start),
                start
                    .saturating_add(SignedDuration::from_hours(24 * 8))
                    .unwrap_or(start),
            )
            .ok_or_else(|| ApiError::internal("empty probe window"))?;
            let calendars = state
                .calendars
                .calendars(state.store.as_ref(), tenant, &[booking.user_id], probe, now)
                .await?;
            let calendar = calendars.first().ok_or_else(|| {
                ApiError::conflict("no_working_hours", "The member has no working hours set.")
            })?;
            // The booking's own time does not stand in its own way.
            let (own_start, own_end) = booking.occupied();
            let mut busy: Vec<_> = calendar.busy.as_ref().clone();
            if let Some(i) = busy
                .iter()
                .position(|b| b.start == own_start && b.end == own_end)
            {
                busy.swap_remove(i);
            }
            if let Err(rejection) =
                pillow_engine::check_slot(&calendar.rule, &busy, start, duration, now)
            {
                return Err(if rejection == pillow_engine::SlotRejection::Busy {
                    ApiError::conflict("slot_unavailable", "That time is not free.").with(
                        "alternatives",
                        booking::nearest_alternatives(&calendars, start, duration, now),
                    )
                } else {
                    crate::domain::bookings::rejection_to_error(rejection)
                });
            }
            let mut after = booking.clone();
            after.start = start;
            after.end = end;
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let jobs = booking_jobs("booking.rescheduled", booking);
            match state
                .store
                .reschedule_booking(tenant, booking.id, start, end, &jobs, response.as_ref())
                .await
            {
                Ok(Some(_)) => {
                    metrics::counter!("bookings_total", "outcome" => "rescheduled").increment(1);
                    // The answer recorded for the key, so a retry gets exactly this.
                    Ok(body)
                }
                Ok(None) => Err(ApiError::not_found("booking")),
                Err(pillow_store::StoreError::Conflict(Constraint::BookingOverlap)) => Err(
                    ApiError::conflict("slot_unavailable", "That time was just taken."),
                ),
                Err(pillow_store::StoreError::Conflict(Constraint::BookingNotConfirmed)) => {
                    Err(ApiError::conflict(
                        "booking_not_confirmed",
                        "A cancelled booking cannot be rescheduled; book a new time instead.",
                    ))
                }
                Err(other) => Err(other.into()),
            }
        },
    )
    .await
}

/// Cancel a booking (by id or confirmation code).
#[utoipa::path(post, path = "/api/calendar/bookings/{id_or_code}/cancel", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)), request_body = CancelBody,
    responses((status = 200, description = "The cancelled booking"), (status = 404)))]
async fn cancel_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id_or_code): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = idempotency_key(&headers)?;
    // The body is optional: an empty one cancels without a reason.
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        crate::json::parse(&body)?
    };
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    may_change(&caller, &booking)?;
    let reason = body.reason;
    do_cancel(&state, &booking, reason, key).await
}

/// Move a booking to a new start; atomic: the old time is released only if the new one is
/// taken.
#[utoipa::path(post, path = "/api/calendar/bookings/{id_or_code}/reschedule", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)), request_body = RescheduleBody,
    responses((status = 200, description = "The moved booking"), (status = 404), (status = 409)))]
async fn reschedule_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id_or_code): Path<String>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    may_change(&caller, &booking)?;
    do_reschedule(&state, &booking, start, key).await
}

// ---- self-service: the caller holds the code and the e-mail or phone it was booked with ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SelfServiceCancel {
    agent_id: String,
    confirmation_code: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SelfServiceReschedule {
    agent_id: String,
    confirmation_code: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    start_time: String,
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Finds the booking a caller proves they hold. Every failure is the same 404, so the
/// endpoint reveals nothing about which part was wrong; attempts are rate limited per code.
async fn self_service_booking(
    state: &AppState,
    limiter: &RateLimiter,
    agent_id: &str,
    code: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> ApiResult<Booking> {
    let code = code.trim().to_ascii_uppercase();
    if !limiter.allow(&format!("self-service:{code}")) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts for this confirmation code; try again in 15 minutes.",
        ));
    }
    if email.is_none() && phone.is_none() {
        return Err(ApiError::invalid(
            "email",
            "proof_required",
            "Give the e-mail address or phone number the booking was made with.",
        ));
    }
    let not_found = || ApiError::not_found("booking");
    let agent_id = Uuid::parse_str(agent_id.trim()).map_err(|_| not_found())?;
    let agent = state
        .store
        .find_agent(agent_id)
        .await?
        .ok_or_else(not_found)?;
    if !looks_like_code(&code) {
        return Err(not_found());
    }
    let booking = state
        .store
        .find_booking_by_code(agent.tenant_id, &code)
        .await?
        .filter(|b| b.agent_id == Some(agent.id))
        .ok_or_else(not_found)?;
    let email_ok = email.is_some_and(|e| {
        booking
            .attendee
            .email
            .as_deref()
            .is_some_and(|b| b.eq_ignore_ascii_case(e.trim()))
    });
    let phone_ok =
        phone.is_some_and(|p| {
            let given = digits(p);
            booking.attendee.phone.as_deref().is_some_and(|b| {
                !given.is_empty() && digits(b).ends_with(&given) && given.len() >= 7
            })
        });
    if email_ok || phone_ok {
        Ok(booking)
    } else {
        Err(not_found())
    }
}

/// Self-service cancel for callers: confirmation code plus the booking's e-mail or phone.
#[utoipa::path(post, path = "/api/public/bookings/cancel", tag = "bookings",
    request_body = SelfServiceCancel,
    responses((status = 200, description = "The cancelled booking"), (status = 404), (status = 429)))]
async fn self_service_cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SelfServiceCancel>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = idempotency_key(&headers)?;
    let booking = self_service_booking(
        &state,
        &state.self_service_limiter,
        &body.agent_id,
        &body.confirmation_code,
        body.email.as_deref(),
        body.phone.as_deref(),
    )
    .await?;
    do_cancel(&state, &booking, body.reason, key).await
}

/// Self-service reschedule for callers: confirmation code plus the booking's e-mail or phone.
#[utoipa::path(post, path = "/api/public/bookings/reschedule", tag = "bookings",
    request_body = SelfServiceReschedule,
    responses((status = 200, description = "The moved booking"), (status = 404), (status = 409), (status = 429)))]
async fn self_service_reschedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SelfServiceReschedule>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let booking = self_service_booking(
        &state,
        &state.self_service_limiter,
        &body.agent_id,
        &body.confirmation_code,
        body.email.as_deref(),
        body.phone.as_deref(),
    )
    .await?;
    do_reschedule(&state, &booking, start, key).await
}
