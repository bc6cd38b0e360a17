//! The voice tools as MCP tools. Each call goes to the same function the Retell and Vapi endpoints
//! use ([`crate::voice::tools`]); this module only finds the agent and shapes the answer for MCP:
//! a one-line text an agent can read out, the answer itself as structured content, and failures
//! as `isError` results carrying the speakable message.

use pillow_store::AgentId;
use std::sync::Arc;

use axum::http::HeaderMap;
use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, JsonObject, Tool};
use serde_json::{Value, json};

use super::McpCaller;
use crate::AppState;
use crate::domain::bookings::TeamContext;
use crate::voice::tools as voice;

/// Told to clients at `initialize` and `server/discover`.
pub const INSTRUCTIONS: &str = "Scheduling for a business's team. Call check_availability for a \
    date, offer the caller at most three of the returned options, then book_appointment with the \
    chosen option's slot_id and the caller's name and phone. Read confirmation codes back \
    character by character. find_booking, cancel_booking and reschedule_booking work from the \
    confirmation code. Every tool acts for the voice agent named by the X-Agent-ID header, or by \
    the agent_id argument when one is given.";

const AGENT_NOTE: &str = " Acts for the voice agent named by the `X-Agent-ID` HTTP header, or by \
    the `agent_id` argument when one is given; either must be an agent of the API key's tenant.";

/// The argument that names the agent; taken out before the voice tool reads the rest.
const AGENT_ARGUMENT: &str = "agent_id";

/// The tools, from the voice layer's specs, each with the `agent_id` argument added.
pub fn catalog() -> Vec<Tool> {
    voice::tool_specs()
        .into_iter()
        .map(|spec| {
            let mut schema = match (spec.schema)() {
                Value::Object(schema) => schema,
                _ => JsonObject::new(),
            };
            schema.insert("type".into(), "object".into());
            let properties = schema
                .entry("properties")
                .or_insert_with(|| Value::Object(JsonObject::new()));
            if let Value::Object(properties) = properties {
                properties.insert(
                    AGENT_ARGUMENT.into(),
                    json!({
                        "type": "string",
                        "format": "uuid",
                        "description": "The voice agent to act for; defaults to the X-Agent-ID header."
                    }),
                );
            }
            let tool = Tool::new(
                spec.name,
                format!("{}{AGENT_NOTE}", spec.description),
                Arc::new(schema),
            );
            match spec.name {
                CHECK_AVAILABILITY => tool.with_output_schema::<voice::AvailabilityAnswer>(),
                BOOK_APPOINTMENT => tool.with_output_schema::<voice::BookingAnswer>(),
                _ => tool,
            }
        })
        .collect()
}

const CHECK_AVAILABILITY: &str = "check_availability";
const BOOK_APPOINTMENT: &str = "book_appointment";

/// Runs one `tools/call`.
///
/// # Errors
/// Only an unknown tool name is a protocol error; everything a caller can fix or should hear
/// (bad arguments, no agent, a taken slot) is an `isError` result.
pub async fn call(
    state: &AppState,
    caller: McpCaller,
    headers: &HeaderMap,
    request: CallToolRequestParams,
) -> Result<CallToolResult, ErrorData> {
    let name = request.name.as_ref();
    if !voice::tool_specs().iter().any(|spec| spec.name == name) {
        return Err(ErrorData::invalid_params(
            format!("There is no tool named {name:?}."),
            None,
        ));
    }
    let mut arguments = request.arguments.unwrap_or_default();
    let agent_argument = arguments.remove(AGENT_ARGUMENT);
    let team = match agent_for(state, caller, headers, agent_argument).await {
        Ok(team) => team,
        Err(failure) => return Ok(failure.into_result()),
    };
    let ctx = voice::ToolContext {
        state,
        tenant: caller.tenant,
        agent: &team.agent,
        call_id: None,
        caller_number: None,
        channel: pillow_store::BookingChannel::Mcp,
    };
    let outcome = voice::call_tool(&ctx, name, Value::Object(arguments)).await;
    Ok(match outcome {
        Ok(answer) => answer_result(answer),
        Err(error) => Failure::from(error).into_result(),
    })
}

/// A tool call that did not succeed, as the caller should hear it.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
struct Failure {
    code: String,
    message: String,
    alternatives: Value,
    field: Option<String>,
}

impl Failure {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            alternatives: Value::Array(Vec::new()),
            field: None,
        }
    }

    fn into_result(self) -> CallToolResult {
        let mut result = CallToolResult::error(vec![ContentBlock::text(self.message.clone())]);
        result.structured_content = Some(json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "alternatives": self.alternatives,
                "field": self.field,
            }
        }));
        result
    }
}

impl From<voice::ToolError> for Failure {
    fn from(error: voice::ToolError) -> Self {
        Self {
            alternatives: serde_json::to_value(&error.alternatives)
                .unwrap_or_else(|_| Value::Array(Vec::new())),
            code: error.code.to_string(),
            message: error.message,
            field: error.field,
        }
    }
}

/// The agent the call acts for: the `agent_id` argument, else the `X-Agent-ID` header; always
/// looked up inside the key's tenant, so another tenant's agent is simply not found.
async fn agent_for(
    state: &AppState,
    caller: McpCaller,
    headers: &HeaderMap,
    argument: Option<Value>,
) -> Result<Arc<TeamContext>, Failure> {
    let raw = match argument {
        Some(Value::String(raw)) => raw,
        Some(_) => {
            return Err(Failure::new(
                "invalid_agent_id",
                "agent_id must be the agent's id as a string.",
            ));
        }
        None => headers
            .get("x-agent-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::new(
                    "missing_agent",
                    "Say which agent to act for: send the X-Agent-ID header or an agent_id argument.",
                )
            })?,
    };
    let not_found = || {
        Failure::new(
            "agent_not_found",
            "There is no such agent for this API key.",
        )
    };
    let id = raw.trim().parse::<AgentId>().map_err(|_| not_found())?;
    state
        .teams
        .get(state, caller.tenant, id)
        .await
        .map_err(|error| {
            if error.kind == crate::domain::error::ErrorKind::NotFound {
                not_found()
            } else {
                Failure::new(error.code.as_str(), error.message)
            }
        })
}

/// A successful answer: its one-line summary as text, the whole answer as structured content.
fn answer_result(answer: Value) -> CallToolResult {
    let line = ["summary", "spoken", "message"]
        .iter()
        .find_map(|key| answer.get(*key).and_then(Value::as_str))
        .map_or_else(|| answer.to_string(), str::to_owned);
    let mut result = CallToolResult::success(vec![ContentBlock::text(line)]);
    result.structured_content = Some(answer);
    result
}
