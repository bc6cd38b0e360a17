//! The `/mcp` route: API-key auth in front of the `rmcp` streamable-HTTP service that serves
//! [`crate::mcp`]'s tools.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::AppState;
use crate::http::caller::{Actor, Caller};
use crate::http::error::ApiError;
use crate::mcp::{McpCaller, PATH, server};

/// The `/mcp` route: API-key auth in front of the `rmcp` streamable-HTTP service.
pub fn router(state: &AppState) -> Router<AppState> {
    let handler_state = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(server::PillowMcp::new(handler_state.clone())),
        std::sync::Arc::new(LocalSessionManager::default()),
        http_config().with_cancellation_token(state.shutdown.child_token()),
    );
    Router::new()
        .route_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
}

fn http_config() -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        // rmcp accepts only loopback `Host`s by default, against DNS rebinding of a local server
        // that trusts its network. Ours trusts nothing but the bearer key, which a rebinding page
        // cannot know, and it is served under whatever host name the deployment has.
        .disable_allowed_hosts()
        // Plain JSON for session-less (2026-07-28) requests whose answer is a single message;
        // sessions still stream, as their clients expect.
        .with_json_response(true)
}

/// Middleware: admits only requests with a valid API key and records its tenant.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(error) => return challenge(error),
    };
    if !matches!(caller.actor, Actor::ApiKey { .. }) {
        return challenge(ApiError::unauthorized(
            "MCP needs an API key: send `Authorization: Bearer pcal_…`.",
        ));
    }
    parts.extensions.insert(McpCaller {
        tenant: caller.tenant,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A 401 or 403 in our JSON shape, with the `WWW-Authenticate` challenge HTTP clients (MCP
/// SDKs among them) look for.
fn challenge(error: ApiError) -> Response {
    let mut response = error.into_response();
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"pillow-calendar\""),
        );
    }
    response
}
