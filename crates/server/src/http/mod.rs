//! Routes. Each resource module owns its routes and its request and response types; this module
//! only merges them, adds the cross-cutting layers, and publishes the OpenAPI document that
//! `utoipa` derives from the handlers themselves.

pub mod agents;
pub mod auth;
pub mod availability;
pub mod booking_settings;
pub mod bookings;
pub mod caller;
pub mod error;
pub mod events;
pub mod extract;
pub mod google;
pub mod incall;
pub mod mcp;
pub mod notification_templates;
pub mod ops;
pub mod rules;
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
    api_router().split_for_parts().1
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
        .merge(voice::router())
        .merge(ops::router())
        .merge(incall::router())
        .merge(widget_keys::router())
        .merge(google::router())
        .merge(notification_templates::router())
        .merge(webhooks::router())
}

pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request is counted.
    crate::telemetry::prometheus();
    let (routes, document) = api_router().split_for_parts();
    // Merged here, not in `api_router`, so the layers below (request ids, tracing, metrics)
    // cover it too; it has no OpenAPI operations.
    let routes = routes.merge(mcp::router(&state));
    let document = std::sync::Arc::new(document);
    let request_id = HeaderName::from_static("x-request-id");
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
        .fallback(|| async { ApiError::not_found("route") })
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

/// A local date, `YYYY-MM-DD`.
pub fn parse_date(field: &str, raw: &str) -> Result<jiff::civil::Date, ApiError> {
    raw.parse::<jiff::civil::Date>().map_err(|_| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidDate,
            format!("{raw:?} is not a date like 2024-02-15."),
        )
    })
}

/// An RFC 3339 instant with an offset or `Z`.
pub fn parse_instant(field: &str, raw: &str) -> Result<jiff::Timestamp, ApiError> {
    raw.parse::<jiff::Timestamp>().map_err(|_| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidTime,
            format!(
                "{raw:?} is not an RFC 3339 time with an offset, like 2024-02-15T09:00:00-08:00 \
                 or 2024-02-15T17:00:00Z."
            ),
        )
    })
}

/// A window bound: an instant, or a local date in `zone` meaning its start (or, for an end,
/// the start of the next day, so the window includes that whole date).
pub fn parse_bound(
    field: &str,
    raw: &str,
    zone: &jiff::tz::TimeZone,
    is_end: bool,
) -> Result<jiff::Timestamp, ApiError> {
    if let Ok(instant) = raw.parse::<jiff::Timestamp>() {
        return Ok(instant);
    }
    let date = raw.parse::<jiff::civil::Date>().map_err(|_| {
        ApiError::invalid(
            field,
            ErrorCode::InvalidTime,
            format!("{raw:?} is neither an RFC 3339 instant nor a date like 2024-02-15."),
        )
    })?;
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
