//! Ready-to-paste tool definitions for an agent: the equivalent of the original platform's
//! `generateTools({booking, availability}, {agentId})`, for Retell, Vapi and OpenAI-style
//! function calling. Names, descriptions and schemas come from [`super::tools::tool_specs`], so
//! every platform (and MCP) describes the same tools.
//!
//! The internal key is one secret for the whole deployment, so it is never written into a
//! tenant's definitions: they carry the placeholder [`INTERNAL_KEY_PLACEHOLDER`]. Retell needs
//! no key at all once the tenant's Retell API key is set, since Retell signs every request.

use pillow_store::AgentId;
use serde::Serialize;
use serde_json::{Value, json};

use super::tools::tool_specs;

/// Where the operator substitutes `INTERNAL_API_KEY`.
pub const INTERNAL_KEY_PLACEHOLDER: &str = "Bearer <INTERNAL_API_KEY>";

/// A platform definitions are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Retell,
    Vapi,
    Openai,
}

impl Platform {
    pub fn parse(text: &str) -> Option<Platform> {
        match text.trim().to_ascii_lowercase().as_str() {
            "retell" => Some(Platform::Retell),
            "vapi" => Some(Platform::Vapi),
            "openai" => Some(Platform::Openai),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Retell => "retell",
            Platform::Vapi => "vapi",
            Platform::Openai => "openai",
        }
    }
}

/// The Retell-style URL of a tool: also what OpenAI-style callers post bare arguments to.
pub fn retell_path(tool: &str) -> &'static str {
    match tool {
        "check_availability" => "/api/calendar/availability/retell",
        "book_appointment" => "/api/calendar/booking/retell",
        "find_booking" => "/api/calendar/find-booking/retell",
        "cancel_booking" => "/api/calendar/cancel/retell",
        "show_booking_calendar" => "/api/calendar/show-calendar/retell",
        "get_call_booking_state" => "/api/calendar/call-booking-state/retell",
        _ => "/api/calendar/reschedule/retell",
    }
}

/// What the agent says while a tool runs, so the caller never hears silence.
fn filler(tool: &str) -> &'static str {
    match tool {
        "check_availability" => "Let me check the calendar.",
        "book_appointment" => "One moment while I book that.",
        "find_booking" => "Let me look that up.",
        "cancel_booking" => "One moment while I cancel that.",
        "show_booking_calendar" => "I'll put the calendar on your screen.",
        "get_call_booking_state" => "Let me see what you picked.",
        _ => "One moment while I move that.",
    }
}

/// The definitions for `agent_id`. `signed_retell` says the tenant has a Retell API key, so
/// Retell's signature authenticates and no key header is needed.
pub fn definitions(
    platform: Platform,
    agent_id: AgentId,
    public_url: &str,
    signed_retell: bool,
) -> ToolDefinitions {
    let agent = agent_id.to_string();
    let key_headers = json!({"Authorization": INTERNAL_KEY_PLACEHOLDER, "X-Agent-ID": agent});
    let (auth, headers) = match platform {
        Platform::Retell if signed_retell => ("retell_signature", json!({"X-Agent-ID": agent})),
        _ => ("internal_key", key_headers),
    };
    let tools: Vec<Value> = tool_specs()
        .into_iter()
        .map(|spec| {
            let parameters = (spec.schema)();
            match platform {
                Platform::Retell => json!({
                    "type": "custom",
                    "name": spec.name,
                    "description": spec.description,
                    "url": format!("{public_url}{}", retell_path(spec.name)),
                    "method": "POST",
                    "headers": headers,
                    "parameters": parameters,
                    "speak_during_execution": true,
                    "execution_message_description": filler(spec.name),
                    "speak_after_execution": true,
                    "timeout_ms": 10000,
                }),
                Platform::Vapi => json!({
                    "type": "function",
                    "async": false,
                    "function": {
                        "name": spec.name,
                        "description": spec.description,
                        "parameters": parameters,
                    },
                    "server": {
                        "url": format!("{public_url}/api/voice/vapi"),
                        "headers": headers,
                        "timeoutSeconds": 10,
                    },
                    "messages": [{"type": "request-start", "content": filler(spec.name)}],
                }),
                Platform::Openai => json!({
                    "type": "function",
                    "function": {
                        "name": spec.name,
                        "description": spec.description,
                        "parameters": parameters,
                    },
                }),
            }
        })
        .collect();
    // Function calling leaves the HTTP call to the host: post the arguments, bare, here.
    let endpoints = (platform == Platform::Openai).then(|| {
        tool_specs()
            .into_iter()
            .map(|spec| {
                let endpoint = ToolEndpoint {
                    method: "POST",
                    url: format!("{public_url}{}", retell_path(spec.name)),
                    headers: headers.clone(),
                };
                (spec.name.to_string(), endpoint)
            })
            .collect()
    });
    ToolDefinitions {
        platform: platform.as_str(),
        agent_id,
        auth,
        tools,
        endpoints,
    }
}

/// Adds an `appointment_type` argument to `check_availability` and `book_appointment` when
/// the agent offers several kinds of appointment (`types` as name and slug), naming each, so
/// the model can pass what the caller asked for. With one type or none the definitions stay as
/// they were: the agent's default applies.
pub fn with_appointment_types(definitions: &mut ToolDefinitions, types: &[(String, String)]) {
    if types.len() < 2 {
        return;
    }
    let listed: Vec<String> = types
        .iter()
        .map(|(name, slug)| format!("{name} ({slug})"))
        .collect();
    let property = json!({
        "type": "string",
        "description": format!(
            "The kind of appointment the caller wants, by name or slug: {}. Ask if unclear.",
            listed.join(", ")
        ),
        "enum": types.iter().map(|(_, slug)| slug.clone()).collect::<Vec<_>>(),
    });
    for tool in &mut definitions.tools {
        let (name, parameters) = match tool.get("function") {
            Some(function) => (function["name"].clone(), "/function/parameters"),
            None => (tool["name"].clone(), "/parameters"),
        };
        if !matches!(
            name.as_str(),
            Some("check_availability" | "book_appointment")
        ) {
            continue;
        }
        if let Some(Value::Object(properties)) = tool
            .pointer_mut(parameters)
            .and_then(|p| p.get_mut("properties"))
        {
            properties.insert("appointment_type".into(), property.clone());
        }
    }
}

/// The tool definitions of one agent for one platform (`GET /api/agents/{id}/tools`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolDefinitions {
    /// `retell`, `vapi` or `openai`.
    pub platform: &'static str,
    pub agent_id: AgentId,
    /// How the platform authenticates: `retell_signature` or `internal_key`.
    pub auth: &'static str,
    /// Each tool in the platform's own format (a Retell custom function, a Vapi tool, an
    /// OpenAI function), ready to paste.
    #[schema(value_type = Vec<Object>)]
    pub tools: Vec<Value>,
    /// OpenAI only: where to post each function's arguments, by tool name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<std::collections::BTreeMap<String, ToolEndpoint>>,
}

/// Where the host posts a function's arguments.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolEndpoint {
    pub method: &'static str,
    pub url: String,
    /// The headers to send: the agent's id, and the key placeholder unless Retell signs.
    #[schema(value_type = Object)]
    pub headers: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn every_platform_lists_every_tool_with_urls_and_the_agent() {
        let agent = AgentId(Uuid::from_u128(7));
        for platform in [Platform::Retell, Platform::Vapi, Platform::Openai] {
            let defs =
                serde_json::to_value(definitions(platform, agent, "https://cal.example", false))
                    .unwrap();
            let tools = defs["tools"].as_array().unwrap();
            assert_eq!(tools.len(), 7, "{platform:?}");
            let text = defs.to_string();
            if platform != Platform::Openai {
                assert!(text.contains("https://cal.example/api/"), "{platform:?}");
            }
            assert!(text.contains(&agent.to_string()) || platform == Platform::Openai);
        }
        let retell = serde_json::to_value(definitions(
            Platform::Retell,
            agent,
            "https://cal.example",
            true,
        ))
        .unwrap();
        assert_eq!(retell["auth"], "retell_signature");
        assert!(retell["tools"][0]["headers"].get("Authorization").is_none());
        assert_eq!(
            retell["tools"][1]["url"],
            "https://cal.example/api/calendar/booking/retell"
        );
    }

    #[test]
    fn several_appointment_types_become_an_argument_of_the_two_booking_tools_only() {
        let agent = AgentId(Uuid::from_u128(7));
        let types = [
            ("Check-up".to_string(), "check-up".to_string()),
            ("Cleaning".to_string(), "cleaning".to_string()),
        ];
        for platform in [Platform::Retell, Platform::Vapi, Platform::Openai] {
            let mut defs = definitions(platform, agent, "https://cal.example", false);
            let before = serde_json::to_value(&defs).unwrap();
            with_appointment_types(&mut defs, &types[..1]);
            assert_eq!(
                serde_json::to_value(&defs).unwrap(),
                before,
                "one type adds nothing"
            );
            with_appointment_types(&mut defs, &types);
            let text: Vec<String> = defs.tools.iter().map(Value::to_string).collect();
            for (i, tool) in text.iter().enumerate() {
                assert_eq!(
                    tool.contains("appointment_type"),
                    i < 2,
                    "{platform:?}: {tool}"
                );
            }
            assert!(text[0].contains("Cleaning (cleaning)"), "{}", text[0]);
        }
    }
}
