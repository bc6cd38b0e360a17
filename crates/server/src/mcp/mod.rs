//! MCP over streamable HTTP at `/mcp`: the voice tools for any MCP client.
//!
//! The protocol is the official `rmcp` crate's streamable-HTTP server, mounted as one route of
//! our axum app, so it shares the request ids, tracing and metrics of every other route.
//!
//! - **Auth**: every HTTP request to `/mcp` carries `Authorization: Bearer <API key>`, checked by
//!   the same code as the rest of the API ([`crate::auth::Caller`]); anything else is a 401 in
//!   our JSON error shape before the MCP layer sees the request. Only API keys open `/mcp`: the
//!   tools act for a tenant's voice agent, which is a program's job, not a logged-in person's.
//! - **Agent**: the tools act for the agent named by the `X-Agent-ID` header, or by an
//!   `agent_id` tool argument (for clients that cannot set headers); it must be one of the key's
//!   tenant's agents. Listing tools needs no agent.
//! - **Protocol versions**: clients on the handshake revisions (up to 2025-11-25) `initialize`
//!   and get an `Mcp-Session-Id`; clients on 2026-07-28 send self-contained requests (protocol
//!   version and client info in each request's `_meta`, `server/discover` instead of
//!   `initialize`) and are served without a session. `rmcp` routes each request to the right
//!   path; [`server::PillowMcp::supported_protocol_versions`] bounds what it may agree to.

pub mod server;
pub mod tools;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pillow_store::TenantId;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::AppState;
use crate::auth::{Actor, Caller};
use crate::error::ApiError;

/// The path the MCP endpoint is served at.
pub const PATH: &str = "/mcp";

/// Who an authenticated MCP request comes from; put into the request's extensions by
/// [`authenticate`] and read back by the tool handlers.
#[derive(Debug, Clone, Copy)]
pub struct McpCaller {
    pub tenant: TenantId,
}

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
