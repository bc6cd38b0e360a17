//! The MCP server handler: what `rmcp` calls for `initialize`, `server/discover`, `tools/list`
//! and `tools/call`.

use std::borrow::Cow;

use axum::http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::McpCaller;
use super::tools;
use crate::AppState;

/// One handler per MCP session (or per session-less request); cheap, it only holds the state.
#[derive(Clone)]
pub struct PillowMcp {
    state: AppState,
}

impl PillowMcp {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// What the HTTP layer's `authenticate` (`http/mcp.rs`) established for the HTTP request behind an MCP request.
fn http_request(context: &RequestContext<RoleServer>) -> Result<(&Parts, McpCaller), ErrorData> {
    let parts = context
        .extensions
        .get::<Parts>()
        .ok_or_else(|| ErrorData::internal_error("the MCP request has no HTTP request", None))?;
    let caller = parts
        .extensions
        .get::<McpCaller>()
        .copied()
        .ok_or_else(|| ErrorData::internal_error("the MCP request was not authenticated", None))?;
    Ok((parts, caller))
}

impl ServerHandler for PillowMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "pillow-calendar",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(tools::INSTRUCTIONS)
    }

    /// The revisions we test against real clients, named so that a newer `rmcp` does not start
    /// agreeing to a revision nobody has tried here.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2026_07_28))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::catalog()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::catalog().into_iter().find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (parts, caller) = http_request(&context)?;
        tools::call(&self.state, caller, &parts.headers, request)
            .await
            .map(CallToolResponse::from)
    }
}
