//! Reading JSON whose failures name the offending field, for request bodies and tool
//! arguments alike.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::error::{DomainError, ErrorCode};

/// Parses a JSON body, reporting the path of the offending field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DomainError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DomainError::bad_request(
            ErrorCode::InvalidBody,
            "The request body is empty; a JSON object was expected.",
        ));
    }
    // The escape is the only way a NUL reaches a string (a raw one is not JSON); only a body
    // that has one pays for the walk.
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<Value>(bytes)
    {
        refuse_nul(&value)?;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(body_error)
}

/// Converts an already parsed JSON value, with the same error reporting as [`parse`].
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, DomainError> {
    refuse_nul(&value)?;
    serde_path_to_error::deserialize(value).map_err(body_error)
}

/// Refuses a NUL character (`\u0000`) in any string or key: PostgreSQL cannot store one in
/// text, and no name, e-mail or note needs one, so both stores refuse it alike, here.
fn refuse_nul(value: &Value) -> Result<(), DomainError> {
    fn find(value: &Value, path: &mut Vec<String>) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                path.push(i.to_string());
                let found = find(item, path);
                if !found {
                    path.pop();
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                path.push(key.clone());
                let found = key.contains('\0') || find(item, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    if !find(value, &mut path) {
        return Ok(());
    }
    let error = DomainError::bad_request(
        ErrorCode::InvalidBody,
        "The request body holds a NUL character (\\u0000), which no field accepts.",
    );
    Err(if path.is_empty() {
        error
    } else {
        error.with("field", path.join("."))
    })
}

fn body_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> DomainError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let field = unknown_field_name(&inner.to_string())
        .map(|name| join_path(&path, &name))
        .unwrap_or(path);
    let message = if field == "." || field.is_empty() {
        format!("The request body is not valid: {inner}.")
    } else {
        format!("The request body is not valid at `{field}`: {inner}.")
    };
    let error = DomainError::bad_request(ErrorCode::InvalidBody, message);
    if field == "." || field.is_empty() {
        error
    } else {
        error.with("field", field)
    }
}

/// serde reports unknown and missing fields at their parent's path; pull the name out of the
/// message.
fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    Some(rest[..rest.find('`')?].to_string())
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == name || parent.ends_with(&format!(".{name}")) {
        parent.to_string()
    } else if parent == "." || parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(body: &str) -> Option<String> {
        let error = parse::<Body>(body.as_bytes()).unwrap_err();
        assert_eq!(error.code, "invalid_body");
        error
            .details
            .get("field")
            .and_then(|f| f.as_str())
            .map(String::from)
    }

    #[test]
    fn a_nul_character_anywhere_is_refused_and_named() {
        assert_eq!(field_of(r#"{"name":"a\u0000b"}"#).as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"name":"a","inner":{"count":1,"x\u0000":2}}"#).as_deref(),
            Some("inner.x\u{0}")
        );
        // An escaped backslash followed by the letters u0000 is not a NUL.
        assert!(parse::<Body>(br#"{"name":"a\\u0000"}"#).is_ok());
    }

    #[test]
    fn errors_name_the_offending_field() {
        assert_eq!(field_of(r#"{"name": 5}"#).as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"name":"a","inner":{"count":"x"}}"#).as_deref(),
            Some("inner.count")
        );
        assert_eq!(
            field_of(r#"{"name":"a","colour":"red"}"#).as_deref(),
            Some("colour")
        );
        assert_eq!(
            field_of(r#"{"name":"a","inner":{"count":1,"x":2}}"#).as_deref(),
            Some("inner.x")
        );
        assert_eq!(field_of(r#"{"inner":null}"#).as_deref(), Some("name"));
        assert_eq!(field_of("not json"), None);
        assert_eq!(field_of(""), None);
    }
}
