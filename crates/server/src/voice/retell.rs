//! Retell custom functions: the request envelope and the `X-Retell-Signature` check.
//!
//! Retell posts either `{"name", "call", "args"}` or, for tools set to send arguments at the
//! root, the bare arguments. It signs the raw body with the account's API key:
//! `X-Retell-Signature: v=<unix ms>,d=<hex HMAC-SHA256(key, body ‖ v)>`. We accept a signature
//! only within five minutes of its timestamp, so a captured request cannot be replayed later,
//! and compare digests in constant time.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signature's timestamp may be from our clock, either way.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("X-Retell-Signature must look like v=<unix ms>,d=<hex digest>")]
    Malformed,
    #[error("the signature's timestamp is more than five minutes from now")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// The timestamp and digest of a signature header.
pub fn parse_header(header: &str) -> Result<(i64, Vec<u8>), SignatureError> {
    let mut timestamp = None;
    let mut digest = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("v", v)) => timestamp = v.trim().parse::<i64>().ok(),
            Some(("d", d)) => digest = hex::decode(d.trim()).ok(),
            _ => {}
        }
    }
    match (timestamp, digest) {
        (Some(timestamp), Some(digest)) if !digest.is_empty() => Ok((timestamp, digest)),
        _ => Err(SignatureError::Malformed),
    }
}

fn mac(body: &[u8], api_key: &str, timestamp_ms: i64) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(api_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    mac
}

/// The header Retell would send for `body` at `timestamp_ms` (for tests and local tools).
pub fn sign(body: &[u8], api_key: &str, timestamp_ms: i64) -> String {
    let digest = mac(body, api_key, timestamp_ms).finalize().into_bytes();
    format!("v={timestamp_ms},d={}", hex::encode(digest))
}

/// Checks that the timestamp is fresh at `now_ms`.
///
/// # Errors
/// [`SignatureError::Stale`] more than [`MAX_SKEW_MS`] away.
pub fn check_fresh(timestamp_ms: i64, now_ms: i64) -> Result<(), SignatureError> {
    if (now_ms - timestamp_ms).abs() > MAX_SKEW_MS {
        Err(SignatureError::Stale)
    } else {
        Ok(())
    }
}

/// Checks a parsed signature against `body` with one API key, in constant time.
///
/// # Errors
/// [`SignatureError::Mismatch`] when the digest is not the body's under this key.
pub fn check_digest(
    body: &[u8],
    api_key: &str,
    timestamp_ms: i64,
    digest: &[u8],
) -> Result<(), SignatureError> {
    mac(body, api_key, timestamp_ms)
        .verify_slice(digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// Verifies a whole header: format, freshness at `now_ms`, digest.
///
/// # Errors
/// The first [`SignatureError`] that applies.
pub fn verify(body: &[u8], api_key: &str, header: &str, now_ms: i64) -> Result<(), SignatureError> {
    let (timestamp, digest) = parse_header(header)?;
    check_fresh(timestamp, now_ms)?;
    check_digest(body, api_key, timestamp, &digest)
}

/// A Retell function call, whichever shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct RetellCall {
    /// The function's arguments.
    pub args: Value,
    /// `call.call_id`: makes a booking idempotent per call.
    pub call_id: Option<String>,
    /// `call.agent_id`: Retell's id of the agent, which names ours when no `X-Agent-ID` is sent.
    pub retell_agent_id: Option<String>,
    /// The function name Retell sent, if any.
    pub name: Option<String>,
    /// `call.from_number`: who is calling (phone calls), to recognise a returning caller.
    pub from_number: Option<String>,
}

/// Reads either body shape. The envelope is recognised by an `args` member next to `call` or
/// `name`; none of our tools has an argument called `args`, so bare arguments never look like
/// one.
pub fn parse_call(body: Value) -> RetellCall {
    let is_envelope = body
        .get("args")
        .is_some_and(|a| a.is_object() || a.is_null())
        && (body.get("call").is_some() || body.get("name").is_some());
    if !is_envelope {
        return RetellCall {
            args: body,
            call_id: None,
            retell_agent_id: None,
            name: None,
            from_number: None,
        };
    }
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let call = body.get("call");
    RetellCall {
        call_id: text(call.and_then(|c| c.get("call_id"))),
        retell_agent_id: text(call.and_then(|c| c.get("agent_id"))),
        name: text(body.get("name")),
        from_number: text(call.and_then(|c| c.get("from_number"))),
        args: match body.get("args") {
            Some(Value::Object(args)) => Value::Object(args.clone()),
            _ => Value::Object(Default::default()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE_BODY: &str = r#"{"event":"call_ended"}"#;
    const EXAMPLE_KEY: &str = "test-api-key";
    const EXAMPLE_HEADER: &str =
        "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e";

    #[test]
    fn retells_published_example_reproduces_exactly() {
        assert_eq!(
            sign(EXAMPLE_BODY.as_bytes(), EXAMPLE_KEY, 1_700_000_000_000),
            EXAMPLE_HEADER
        );
        assert_eq!(
            verify(
                EXAMPLE_BODY.as_bytes(),
                EXAMPLE_KEY,
                EXAMPLE_HEADER,
                1_700_000_000_000 + 1_000
            ),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_or_another_key_does_not_verify() {
        let now = 1_700_000_000_000;
        assert_eq!(
            verify(
                br#"{"event":"call_started"}"#,
                EXAMPLE_KEY,
                EXAMPLE_HEADER,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(EXAMPLE_BODY.as_bytes(), "other-key", EXAMPLE_HEADER, now),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the digest.
        let moved = EXAMPLE_HEADER.replace("v=1700000000000", "v=1700000001000");
        assert_eq!(
            verify(EXAMPLE_BODY.as_bytes(), EXAMPLE_KEY, &moved, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let signed = 1_700_000_000_000;
        let body = EXAMPLE_BODY.as_bytes();
        assert_eq!(
            verify(body, EXAMPLE_KEY, EXAMPLE_HEADER, signed + MAX_SKEW_MS),
            Ok(())
        );
        assert_eq!(
            verify(body, EXAMPLE_KEY, EXAMPLE_HEADER, signed + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(body, EXAMPLE_KEY, EXAMPLE_HEADER, signed - MAX_SKEW_MS - 1),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "v=1", "d=abcd", "v=x,d=abcd", "v=1,d=zz", "sha256=abcd"] {
            assert_eq!(
                verify(b"{}", EXAMPLE_KEY, header, 1),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn both_body_shapes_are_read() {
        let envelope = parse_call(json!({
            "name": "check_availability",
            "call": {"call_id": "call_1", "agent_id": "agent_9"},
            "args": {"date": "tomorrow"}
        }));
        assert_eq!(envelope.args, json!({"date": "tomorrow"}));
        assert_eq!(envelope.call_id.as_deref(), Some("call_1"));
        assert_eq!(envelope.retell_agent_id.as_deref(), Some("agent_9"));
        assert_eq!(envelope.name.as_deref(), Some("check_availability"));

        // Booking arguments have a `name` of their own; without `args` they are bare.
        let bare = parse_call(json!({"name": "Ada Lovelace", "slot_id": "CS_x"}));
        assert_eq!(
            bare.args,
            json!({"name": "Ada Lovelace", "slot_id": "CS_x"})
        );
        assert_eq!(bare.call_id, None);
    }
}
