//! Booking endpoints: `POST /api/calendar/booking`, the bookings API, cancel and
//! reschedule, and self-service for callers holding a confirmation code.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use pillow_store::{AgentId, Booking, BookingFilter, BookingStatus, TenantId, UserId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{parse_id, parse_instant};
use crate::AppState;
use crate::domain::bookings::{
    self as booking, AttendeeBody, BookingList, BookingRequest, BookingView, Subject,
    check_attendee, check_notes, find, idempotent, looks_like_code, parse_duration, request_hash,
    view_of,
};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};
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
    /// With an agent: one of its appointment types (id, slug or name). Default the agent's
    /// `event_type_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    appointment_type: Option<String>,
    /// A recurring series: an RFC 5545 RRULE string, or `{"frequency": "daily" | "weekly" |
    /// "monthly", "interval", "count" | "until", "by_day"}`, expanded in the agent's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    recurrence: Option<serde_json::Value>,
    /// With `recurrence`: book the occurrences that are free and list the rest as `skipped`,
    /// instead of refusing the whole series (409 `series_conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_partial: Option<bool>,
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            ErrorCode::InvalidIdempotencyKey,
            "An Idempotency-Key has 1 to 255 visible characters.",
        ));
    }
    Ok(Some(key.to_string()))
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
                ErrorCode::SubjectRequired,
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
    responses((status = 201, body = BookingView, description = "The booking, with its confirmation_code"),
              (status = 404, description = "The agent or member named is not in your tenant"),
              (status = 409, description = "slot_unavailable, with up to three alternatives"),
              (status = 422, description = "Invalid field or a time that cannot be booked")))]
async fn create_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateBooking>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let duration = parse_duration(body.duration)?;
    let attendee = check_attendee(&body.attendee)?;
    let notes = check_notes(body.notes.clone())?;
    let series = body
        .recurrence
        .as_ref()
        .map(|r| {
            booking::parse_recurrence(r).map(|rrule| booking::SeriesRequest {
                rrule,
                allow_partial: body.allow_partial.unwrap_or(false),
            })
        })
        .transpose()?;
    let subject = subject_for(
        &state,
        &caller,
        &headers,
        body.agent_id.as_deref(),
        body.user_id.as_deref(),
    )
    .await?;
    let offered = match (&body.appointment_type, &subject) {
        (None, _) => None,
        (Some(raw), Subject::Agent(context)) => Some(
            crate::domain::appointment_types::resolve(
                &state,
                caller.tenant,
                context.agent.id,
                "appointment_type",
                raw,
            )
            .await?,
        ),
        (Some(_), Subject::User(_)) => {
            return Err(ApiError::invalid(
                "appointment_type",
                ErrorCode::ConflictingParameters,
                "Appointment types belong to agents: give `agent_id` with `appointment_type`.",
            ));
        }
    };
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
        preferred_host: None,
        start,
        duration,
        attendee,
        notes,
        call_id: None,
        channel: pillow_store::BookingChannel::Api,
    };
    let tenant = caller.tenant;
    let (state_ref, subject, request, offered) = (&state, &subject, &request, offered.as_ref());
    let series = series.as_ref();
    idempotent(
        &state,
        tenant,
        key,
        hash,
        StatusCode::CREATED,
        |record| async move {
            let record = record.as_ref().map(|(k, h)| (k.as_str(), h.as_str()));
            match series {
                Some(series) => {
                    booking::book_series(
                        state_ref, tenant, subject, request, offered, series, record,
                    )
                    .await
                }
                None => {
                    booking::book_typed(state_ref, tenant, subject, request, offered, record).await
                }
            }
        },
    )
    .await
    .map(|(status, body)| (status, Json(body)))
    .map_err(ApiError::from)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `confirmed` or `cancelled`.
    status: Option<String>,
    /// The assigned member.
    user_id: Option<String>,
    agent_id: Option<String>,
    /// Where the bookings were made: `retell`, `vapi`, `mcp`, `widget`, `hosted`, `api` or
    /// `dashboard`.
    channel: Option<String>,
    /// Bookings overlapping [start, end) (RFC 3339).
    start: Option<String>,
    end: Option<String>,
    /// At most this many (default 500; above 5,000 reads as 5,000).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

async fn names(
    state: &AppState,
    tenant: TenantId,
) -> ApiResult<std::collections::HashMap<UserId, String>> {
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
    params(ListQuery), responses((status = 200, body = BookingList)))]
async fn list_bookings(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<BookingList>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            BookingStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    ErrorCode::InvalidStatus,
                    "A status is confirmed or cancelled.",
                )
            })
        })
        .transpose()?;
    let channel = query
        .channel
        .as_deref()
        .map(|c| {
            pillow_store::BookingChannel::parse(c).ok_or_else(|| {
                ApiError::invalid(
                    "channel",
                    ErrorCode::InvalidQuery,
                    "A channel is retell, vapi, mcp, widget, hosted, api or dashboard.",
                )
            })
        })
        .transpose()?;
    let filter = BookingFilter {
        status,
        channel,
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
    let bookings = bookings
        .iter()
        .map(|b| BookingView::new(b, names.get(&b.user_id).map_or("", String::as_str)))
        .collect();
    Ok(Json(BookingList { bookings }))
}

/// One booking, by id or confirmation code.
#[utoipa::path(get, path = "/api/calendar/bookings/{id_or_code}", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)),
    responses((status = 200, body = BookingView), (status = 404)))]
async fn get_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id_or_code): Path<String>,
) -> ApiResult<Json<BookingView>> {
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    Ok(Json(view_of(&state, &booking).await?))
}

#[derive(Debug, Deserialize, ToSchema, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
    /// For an occurrence of a recurring series: `occurrence` (default, this one only),
    /// `series` (every occurrence) or `following` (this one and every later one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    /// The new start (RFC 3339); the duration stays.
    start_time: String,
    /// For an occurrence of a recurring series: `occurrence` (default, this one only),
    /// `series` (every occurrence moves by the same local shift) or `following` (this one and
    /// every later one). All move or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// Members act on their own bookings; admins and API keys on any in the tenant.
fn may_change(caller: &Caller, booking: &Booking) -> ApiResult<()> {
    if caller.user().is_some_and(|u| u.id == booking.user_id) {
        Ok(())
    } else {
        caller.require_admin()
    }
}

/// Cancel a booking (by id or confirmation code).
#[utoipa::path(post, path = "/api/calendar/bookings/{id_or_code}/cancel", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)), request_body = CancelBody,
    responses((status = 200, body = BookingView, description = "The cancelled booking"), (status = 404)))]
async fn cancel_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id_or_code): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    let key = idempotency_key(&headers)?;
    // The body is optional: an empty one cancels without a reason.
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        crate::json::parse(&body)?
    };
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    may_change(&caller, &booking)?;
    let scope = booking::SeriesScope::parse(body.scope.as_deref())?;
    booking::cancel_in_series(&state, &booking, scope, body.reason, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
}

/// Move a booking to a new start; atomic: the old time is released only if the new one is
/// taken.
#[utoipa::path(post, path = "/api/calendar/bookings/{id_or_code}/reschedule", tag = "bookings",
    security(("bearer" = [])), params(("id_or_code" = String, Path)), request_body = RescheduleBody,
    responses((status = 200, body = BookingView, description = "The moved booking"), (status = 404), (status = 409)))]
async fn reschedule_booking(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id_or_code): Path<String>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let scope = booking::SeriesScope::parse(body.scope.as_deref())?;
    let booking = find(&state, caller.tenant, &id_or_code).await?;
    may_change(&caller, &booking)?;
    booking::reschedule_in_series(&state, &booking, start, scope, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
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
pub(crate) async fn self_service_booking(
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
            ErrorCode::RateLimited,
            "Too many attempts for this confirmation code; try again in 15 minutes.",
        ));
    }
    if email.is_none() && phone.is_none() {
        return Err(ApiError::invalid(
            "email",
            ErrorCode::ProofRequired,
            "Give the e-mail address or phone number the booking was made with.",
        ));
    }
    let not_found = || ApiError::not_found("booking");
    let agent_id = agent_id
        .trim()
        .parse::<AgentId>()
        .map_err(|_| not_found())?;
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
    responses((status = 200, body = BookingView, description = "The cancelled booking"), (status = 404), (status = 429)))]
async fn self_service_cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SelfServiceCancel>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
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
    booking::cancel(&state, &booking, body.reason, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
}

/// Self-service reschedule for callers: confirmation code plus the booking's e-mail or phone.
#[utoipa::path(post, path = "/api/public/bookings/reschedule", tag = "bookings",
    request_body = SelfServiceReschedule,
    responses((status = 200, body = BookingView, description = "The moved booking"), (status = 404), (status = 409), (status = 429)))]
async fn self_service_reschedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SelfServiceReschedule>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
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
    booking::reschedule(&state, &booking, start, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
}
