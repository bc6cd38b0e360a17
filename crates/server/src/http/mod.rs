//! Routes. Each resource module owns its routes and its request and response types; this module
//! only merges them, adds the cross-cutting layers, and publishes the OpenAPI document that
//! `utoipa` derives from the handlers themselves.

pub mod agents;
pub mod auth;
pub mod availability;
pub mod booking_settings;
pub mod bookings;
pub mod events;
pub mod ops;
pub mod rules;
pub mod users;
pub mod voice;

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

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
}

pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request is counted.
    crate::telemetry::prometheus();
    let (routes, document) = api_router().split_for_parts();
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
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// Checks an IANA zone name with the same database the engine uses.
pub fn check_time_zone(field: &str, zone: &str) -> Result<(), ApiError> {
    jiff::tz::TimeZone::get(zone).map(|_| ()).map_err(|_| {
        ApiError::invalid(
            field,
            "invalid_timezone",
            format!("{zone:?} is not an IANA time zone such as America/New_York."),
        )
    })
}
