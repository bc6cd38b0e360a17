//! MCP over streamable HTTP at `/mcp`: the voice tools for any MCP client.
//!
//! The protocol is the official `rmcp` crate's streamable-HTTP server, mounted as one route of
//! our axum app, so it shares the request ids, tracing and metrics of every other route.
//!
//! - **Auth**: every HTTP request to `/mcp` carries `Authorization: Bearer <API key>`, checked by
//!   the same code as the rest of the API (`http::caller::Caller`, in `http/mcp.rs`); anything else is a 401 in
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

use pillow_store::TenantId;

/// The path the MCP endpoint is served at.
pub const PATH: &str = "/mcp";

/// Who an authenticated MCP request comes from; put into the request's extensions by
/// [`authenticate`] and read back by the tool handlers.
#[derive(Debug, Clone, Copy)]
pub struct McpCaller {
    pub tenant: TenantId,
}
