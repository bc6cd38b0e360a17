//! Vapi server tools: the `tool-calls` message in, `{"results": [...]}` out.
//!
//! Vapi wants HTTP 200 whatever happened to the individual tools, one result per call in the
//! order of `toolCallList`, and single-line strings.
//!
//! Each `result` is the tool's answer as compact JSON text rather than a sentence: the model
//! needs the slot ids and ISO times to act on the answer (book the option the caller picks),
//! and every answer carries a `summary` sentence to speak, so nothing is lost either way. JSON
//! text is one line by construction (newlines inside strings are escaped). Errors go in `error`
//! as the same kind of JSON text: `{"code","message","alternatives"}`, where `message` is the
//! sentence to speak and `alternatives` are bookable options.

use serde::Serialize;
use serde_json::Value;

use crate::domain::error::{DomainError, ErrorCode};

/// One entry of `toolCallList`.
#[derive(Debug, Clone, PartialEq)]
pub struct VapiToolCall {
    pub id: String,
    pub name: String,
    /// The parsed arguments, or why they could not be read.
    pub arguments: Result<Value, String>,
}

/// A `tool-calls` message.
#[derive(Debug, Clone, PartialEq)]
pub struct VapiToolCalls {
    pub calls: Vec<VapiToolCall>,
    /// `message.call.id`: makes a booking idempotent per call.
    pub call_id: Option<String>,
    /// `message.call.customer.number`: who is calling, to recognise a returning caller.
    pub from_number: Option<String>,
}

/// The answer to a server message: `{"results": [...]}` for `tool-calls`, `{}` for the rest.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VapiAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<VapiResult>>,
}

/// One entry of the answer's `results`: the tool's answer or its error, each as one line of
/// JSON text, as Vapi reads them.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VapiResult {
    pub tool_call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Arguments arrive as a JSON object or as a string holding one (or nothing).
fn arguments(value: Option<&Value>) -> Result<Value, String> {
    match value {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(Value::Object(map)) => Ok(Value::Object(map.clone())),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Ok(Value::Object(Default::default()))
        }
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Value::Object(map)),
            Ok(_) => Err("The arguments must be a JSON object.".to_string()),
            Err(e) => Err(format!("The arguments are not valid JSON: {e}.")),
        },
        Some(_) => Err("The arguments must be a JSON object or a string holding one.".to_string()),
    }
}

/// Reads a Vapi server message. `Ok(None)` for messages other than `tool-calls` (status
/// updates, reports), which need no answer.
///
/// # Errors
/// 400 `invalid_body` when the body is not a Vapi message or its `toolCallList` is missing.
pub fn parse_message(body: &Value) -> Result<Option<VapiToolCalls>, DomainError> {
    let message = body
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| {
            DomainError::bad_request(
            ErrorCode::InvalidBody,
            "A Vapi server message {\"message\": {\"type\": \"tool-calls\", ...}} was expected.",
        )
        .with("field", "message")
        })?;
    if message.get("type").and_then(Value::as_str) != Some("tool-calls") {
        return Ok(None);
    }
    let list = message
        .get("toolCallList")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DomainError::bad_request(
                ErrorCode::InvalidBody,
                "A tool-calls message needs a toolCallList array.",
            )
            .with("field", "message.toolCallList")
        })?;
    let calls = list
        .iter()
        .map(|call| {
            let function = call.get("function");
            VapiToolCall {
                id: call
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name: function
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: arguments(function.and_then(|f| f.get("arguments"))),
            }
        })
        .collect();
    let call_id = message
        .get("call")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string);
    let from_number = message
        .pointer("/call/customer/number")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string);
    Ok(Some(VapiToolCalls {
        calls,
        call_id,
        from_number,
    }))
}

/// Compact JSON text: always a single line.
pub fn one_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_may_be_a_string_or_an_object() {
        let message = json!({"message": {
            "type": "tool-calls",
            "call": {"id": "call-7"},
            "toolCallList": [
                {"id": "a", "function": {"name": "check_availability", "arguments": "{\"date\":\"tomorrow\"}"}},
                {"id": "b", "function": {"name": "check_availability", "arguments": {"date": "today"}}},
                {"id": "c", "function": {"name": "find_booking", "arguments": "{not json"}},
                {"id": "d", "function": {"name": "find_booking"}}
            ]
        }});
        let parsed = parse_message(&message).unwrap().unwrap();
        assert_eq!(parsed.call_id.as_deref(), Some("call-7"));
        assert_eq!(parsed.calls[0].arguments, Ok(json!({"date": "tomorrow"})));
        assert_eq!(parsed.calls[1].arguments, Ok(json!({"date": "today"})));
        assert!(parsed.calls[2].arguments.is_err());
        assert_eq!(parsed.calls[3].arguments, Ok(json!({})));
        assert_eq!(
            parsed
                .calls
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn other_messages_need_no_answer_and_non_messages_are_refused() {
        assert_eq!(
            parse_message(&json!({"message": {"type": "status-update"}})).unwrap(),
            None
        );
        assert!(parse_message(&json!({"type": "tool-calls"})).is_err());
        assert!(parse_message(&json!({"message": {"type": "tool-calls"}})).is_err());
    }

    #[test]
    fn results_are_single_lines() {
        let text = one_line(&json!({"summary": "line one\nline two"}));
        assert!(!text.contains('\n'));
        let result = VapiResult {
            tool_call_id: "a".into(),
            result: Some(text),
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"toolCallId": "a", "result": "{\"summary\":\"line one\\nline two\"}"})
        );
    }
}
