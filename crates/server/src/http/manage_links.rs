//! The signed links in callers' messages (`ML_…`, see [`crate::manage_link`]): the hosted page
//! hands the link's token here to show the booking, then to reschedule or cancel it without
//! the confirmation code. A link does its one action once: after it the booking's version has
//! moved on and the link answers `410 link_used`; past its expiry, `410 link_expired`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use pillow_store::{Booking, BookingStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::parse_instant;
use crate::AppState;
use crate::domain::bookings::{self as booking, BookingView};
use crate::http::bookings::idempotency_key;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;
use crate::http::incall::manage::{FoundBooking, found};
use crate::manage_link::{Action, LinkError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_link))
        .routes(routes!(cancel_by_link))
        .routes(routes!(reschedule_by_link))
        .routes(routes!(calendar_file))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// The `manage` parameter of the link, `ML_…`.
    token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkCancel {
    token: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkReschedule {
    token: String,
    start_time: String,
}

/// What a link opens: the action it allows and the booking with its host's open times.
#[derive(Debug, Serialize, ToSchema)]
struct LinkedBooking {
    /// `reschedule` or `cancel`.
    action: &'static str,
    #[serde(flatten)]
    found: FoundBooking,
}

/// The booking a still-valid link names, if it allows `wanted` (any, with `None`).
async fn resolve(
    state: &AppState,
    token: &str,
    wanted: Option<Action>,
) -> ApiResult<(Booking, Action)> {
    let claims =
        state
            .manage_links
            .verify(token, Timestamp::now())
            .map_err(|error| match error {
                LinkError::Expired => ApiError::new(
                    StatusCode::GONE,
                    ErrorCode::LinkExpired,
                    "This link has expired; use the confirmation code on the booking page instead.",
                ),
                LinkError::Malformed | LinkError::BadSignature => invalid(),
            })?;
    // A calendar link only downloads; it opens nothing to change.
    let allowed = match wanted {
        Some(action) => action == claims.action,
        None => claims.action != Action::Calendar,
    };
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidLink,
            format!("This link is for {} only.", claims.action.as_str()),
        ));
    }
    let booking = state
        .store
        .get_booking(claims.tenant_id, claims.booking_id)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))?;
    if booking.status == BookingStatus::Cancelled || !claims.is_current(&booking) {
        return Err(ApiError::new(
            StatusCode::GONE,
            ErrorCode::LinkUsed,
            "This link has been used, or the booking changed after it was sent; use the link \
             in the latest message or the confirmation code.",
        ));
    }
    Ok((booking, claims.action))
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::InvalidLink,
        "This link is not valid; use the confirmation code on the booking page instead.",
    )
}

/// The booking a link opens, its action, and the host's open times.
#[utoipa::path(post, path = "/api/public/bookings/link", tag = "bookings",
    request_body = LinkBody,
    responses((status = 200, body = LinkedBooking), (status = 403), (status = 404), (status = 410)))]
async fn read_link(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LinkBody>,
) -> ApiResult<Json<LinkedBooking>> {
    let (booking, action) = resolve(&state, &body.token, None).await?;
    Ok(Json(LinkedBooking {
        action: action.as_str(),
        found: found(&state, &booking).await?,
    }))
}

/// Cancels the booking a cancel link names; the link is used up.
#[utoipa::path(post, path = "/api/public/bookings/link/cancel", tag = "bookings",
    request_body = LinkCancel,
    responses((status = 200, body = BookingView), (status = 403), (status = 404), (status = 410)))]
async fn cancel_by_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LinkCancel>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    let key = idempotency_key(&headers)?;
    let (booking, _) = resolve(&state, &body.token, Some(Action::Cancel)).await?;
    booking::cancel(&state, &booking, body.reason, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
}

/// Moves the booking a reschedule link names to `start_time`; the link is used up.
#[utoipa::path(post, path = "/api/public/bookings/link/reschedule", tag = "bookings",
    request_body = LinkReschedule,
    responses((status = 200, body = BookingView), (status = 403), (status = 404), (status = 409), (status = 410)))]
async fn reschedule_by_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LinkReschedule>,
) -> ApiResult<(StatusCode, Json<BookingView>)> {
    let key = idempotency_key(&headers)?;
    let start = parse_instant("start_time", &body.start_time)?;
    let (booking, _) = resolve(&state, &body.token, Some(Action::Reschedule)).await?;
    booking::reschedule(&state, &booking, start, key)
        .await
        .map(|(status, body)| (status, Json(body)))
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CalendarQuery {
    /// The `ML_…` token of the confirmation's "Add to calendar" link.
    token: String,
}

/// The booking as an `.ics` file to add to one's calendar (`METHOD:PUBLISH`, the invite's
/// `UID`), for the link in a booking's confirmation; it works until the appointment ends and
/// may be used again (it changes nothing).
#[utoipa::path(get, path = "/api/public/bookings/link/ics", tag = "bookings",
    params(CalendarQuery),
    responses((status = 200, content_type = "text/calendar", body = String,
               description = "The appointment as iCalendar text"),
              (status = 403), (status = 404), (status = 410)))]
async fn calendar_file(
    State(state): State<AppState>,
    crate::http::extract::ApiQuery(query): crate::http::extract::ApiQuery<CalendarQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let claims = state
        .manage_links
        .verify(&query.token, Timestamp::now())
        .map_err(|error| match error {
            LinkError::Expired => ApiError::new(
                StatusCode::GONE,
                ErrorCode::LinkExpired,
                "This link has expired: the appointment is over.",
            ),
            LinkError::Malformed | LinkError::BadSignature => invalid(),
        })?;
    if claims.action != Action::Calendar {
        return Err(invalid());
    }
    let booking = state
        .store
        .get_booking(claims.tenant_id, claims.booking_id)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let host = state
        .store
        .get_user(booking.tenant_id, booking.user_id)
        .await?
        .map(|user| user.name)
        .unwrap_or_default();
    let domain = state
        .config
        .email
        .as_ref()
        .map(|email| email.domain())
        .unwrap_or_else(|| crate::notify::confirmation::public_host(&state.config.public_url));
    let text = crate::notify::confirmation::download(&booking, &domain, &host);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"appointment-{}.ics\"",
                    booking.confirmation_code
                ),
            ),
        ],
        text,
    )
        .into_response())
}
