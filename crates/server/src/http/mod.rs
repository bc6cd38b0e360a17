//! Routes. Each resource module owns its routes and its request and response types; this module
//! only merges them, adds the cross-cutting layers, and publishes the OpenAPI document that
//! `utoipa` derives from the handlers themselves.

pub mod agents;
pub mod appointment_types;
pub mod auth;
pub mod availability;
pub mod booking_settings;
pub mod bookings;
pub mod caldav;
pub mod caller;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod extract;
pub mod google;
pub mod incall;
pub mod limits;
pub mod manage_links;
pub mod mcp;
pub mod microsoft;
pub mod notification_templates;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod rules;
pub mod sms;
pub mod uniform;
pub mod users;
pub mod voice;
pub mod web;
pub mod webhooks;
pub mod widget_keys;

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::http::error::{ApiError, ErrorCode};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pillow Calendar API",
        description = "Scheduling for people, teams and AI voice agents."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Log in and get a token"),
        (name = "users", description = "Members of your tenant"),
        (name = "agents", description = "Voice agents"),
        (name = "availability", description = "Working hours and free slots"),
        (name = "events", description = "Calendar events"),
        (name = "bookings", description = "Book, cancel and reschedule"),
        (name = "voice", description = "Endpoints voice platforms call"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "in-call", description = "The in-call calendar API and publishable widget keys"),
        (name = "notifications", description = "Notification e-mails and webhooks"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document, derived from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api_router().split_for_parts().1;
    openapi::complete(&mut document);
    document
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(agents::router())
        .merge(rules::router())
        .merge(availability::router())
        .merge(events::router())
        .merge(bookings::router())
        .merge(booking_settings::router())
        .merge(appointment_types::router())
        .merge(voice::router())
        .merge(ops::router())
        .merge(incall::router())
        .merge(widget_keys::router())
        .merge(google::router())
        .merge(caldav::router())
        .merge(microsoft::router())
        .merge(notification_templates::router())
        .merge(webhooks::router())
        .merge(manage_links::router())
        .merge(outbox::router())
}

pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request is counted.
    crate::telemetry::prometheus();
    let (routes, mut document) = api_router().split_for_parts();
    openapi::complete(&mut document);
    // Merged here, not in `api_router`, so the layers below (request ids, tracing, metrics)
    // cover it too; it has no OpenAPI operations.
    let routes = routes.merge(mcp::router(&state));
    let document = std::sync::Arc::new(document);
    let request_id = HeaderName::from_static("x-request-id");
    let limits = limits::Limits::new(&state.config.http, state.load.clone());
    routes
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .route("/docs", get(ops::api_reference))
        .merge(web::router())
        .merge(sms::router())
        .merge(dashboard::router(&state))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn_with_state(limits, limits::guard))
        .layer(axum::middleware::from_fn(uniform::json_errors))
        .layer(axum::middleware::from_fn(crate::telemetry::track_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %id,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Reads an id from a path; a malformed id is simply a resource that does not exist.
pub fn parse_id<Id: std::str::FromStr>(raw: &str, what: &str) -> Result<Id, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Checks an IANA zone name with the same database the engine uses.
pub fn check_time_zone(field: &str, zone: &str) -> Result<crate::domain::time::Zone, ApiError> {
    crate::domain::users::check_time_zone(zone).map_err(|e| ApiError::from_user(field, e))
}

/// Refuses a date outside `domain::time::in_range` with a 422 naming `field`.
fn check_range(field: &str, date: jiff::civil::Date, code: ErrorCode) -> Result<(), ApiError> {
    use crate::domain::time::{FIRST_DATE, LAST_DATE, in_range};
    if in_range(date) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            code,
            format!("{date} is out of range: dates from {FIRST_DATE} to {LAST_DATE} are accepted."),
        ))
    }
}

/// An instant's date, for [`check_range`]: its UTC date.
fn utc_date(instant: jiff::Timestamp) -> jiff::civil::Date {
    instant.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// A local date, `YYYY-MM-DD`, between 1900 and 2199.
pub fn parse_date(field: &str, raw: &str) -> Result<jiff::civil::Date, ApiError> {
    let date = strict_date(raw).ok_or_else(|| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidDate,
            format!("{raw:?} is not a date like 2024-02-15."),
        )
    })?;
    check_range(field, date, ErrorCode::InvalidDate)?;
    Ok(date)
}

/// An RFC 3339 instant with an offset or `Z`, between 1900 and 2199.
pub fn parse_instant(field: &str, raw: &str) -> Result<jiff::Timestamp, ApiError> {
    let instant = strict_instant(raw).ok_or_else(|| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidTime,
            format!(
                "{raw:?} is not an RFC 3339 time with an offset, like 2024-02-15T09:00:00-08:00 \
                 or 2024-02-15T17:00:00Z."
            ),
        )
    })?;
    check_range(field, utc_date(instant), ErrorCode::InvalidTime)?;
    Ok(instant)
}

/// A date written exactly `YYYY-MM-DD`: jiff would also read the date out of a longer string
/// (a whole date-time), which must not slip past the stricter instant check that way.
fn strict_date(raw: &str) -> Option<jiff::civil::Date> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape.then(|| raw.parse().ok()).flatten()
}

/// An instant written exactly as RFC 3339 has it (`2024-02-15T09:00:00.5-08:00`): `T` between
/// date and time, seconds, and an offset of `Z` or `±HH:MM` under 24 hours. jiff's parser is
/// more lenient (a space for `T`, `+24:00`, seconds in the offset); the API promises RFC 3339,
/// so a value another RFC 3339 reader would refuse is refused here too.
fn strict_instant(raw: &str) -> Option<jiff::Timestamp> {
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.len() == range.len() && d.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut rest = &raw[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset_ok = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let hours = (h1.wrapping_sub(b'0'), h2.wrapping_sub(b'0'));
            let minutes = (m1.wrapping_sub(b'0'), m2.wrapping_sub(b'0'));
            hours.0 <= 2
                && hours.1 <= 9
                && hours.0 * 10 + hours.1 <= 23
                && minutes.0 <= 5
                && minutes.1 <= 9
        }
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    raw.parse::<jiff::Timestamp>().ok()
}

/// A window bound: an instant, or a local date in `zone` meaning its start (or, for an end,
/// the start of the next day, so the window includes that whole date).
pub fn parse_bound(
    field: &str,
    raw: &str,
    zone: &jiff::tz::TimeZone,
    is_end: bool,
) -> Result<jiff::Timestamp, ApiError> {
    if let Some(instant) = strict_instant(raw) {
        check_range(field, utc_date(instant), ErrorCode::InvalidTime)?;
        return Ok(instant);
    }
    let date = strict_date(raw).ok_or_else(|| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidTime,
            format!("{raw:?} is neither an RFC 3339 instant nor a date like 2024-02-15."),
        )
    })?;
    check_range(field, date, ErrorCode::InvalidTime)?;
    let date = if is_end {
        date.tomorrow().ok()
    } else {
        Some(date)
    };
    date.and_then(|d| d.to_zoned(zone.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            ApiError::invalid(field, ErrorCode::InvalidTime, "The date is out of range.")
        })
}

/// A request body that must be a JSON object.
pub fn json_object(
    body: serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match body {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "A JSON object was expected.",
        )),
    }
}
