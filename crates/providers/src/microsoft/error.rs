//! What can go wrong talking to Microsoft, and how its error bodies map onto it.

use std::time::Duration;

use serde::Deserialize;

/// One error type for the OAuth and Graph clients; each variant is something the caller acts
/// on differently (re-consent, back off, resync, re-read, give up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// `invalid_grant` from the token endpoint: the refresh token was revoked or expired, or
    /// the code/verifier is wrong. Only a new consent helps (`needs_reauth`).
    #[error("Microsoft rejected the grant (invalid_grant): the user must connect again")]
    InvalidGrant,
    /// 401: the access token is expired or unknown; refresh it and try again.
    #[error("Microsoft rejected the access token (401)")]
    Unauthorized,
    /// 429 or 503 after our own retries, with the last `Retry-After`.
    #[error("Microsoft is throttling us ({status})")]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// 410 on a delta link (`syncStateNotFound`, `resyncRequired`): sync again from scratch.
    #[error("the delta token is no longer valid; a full sync is required")]
    SyncStateNotFound,
    /// 412: the event changed since the ETag we sent.
    #[error("the event changed since we read it (412)")]
    PreconditionFailed,
    /// 404: no such event or subscription.
    #[error("not found (404)")]
    NotFound,
    /// 403: not allowed (e.g. a scope was not granted).
    #[error("forbidden by Microsoft: {0}")]
    Forbidden(String),
    /// 400: our request was malformed, or a subscription's validation failed; Graph's message.
    #[error("Microsoft rejected the request: {code}: {message}")]
    BadRequest { code: String, message: String },
    /// Any other OAuth error (`invalid_client`, `invalid_request`, …).
    #[error("OAuth error {error}: {description}")]
    OAuth { error: String, description: String },
    /// Another 5xx, after our own retries.
    #[error("Microsoft answered {0}")]
    Server(u16),
    /// The request never got an answer.
    #[error("could not reach Microsoft: {0}")]
    Transport(String),
    /// Microsoft answered something we could not read.
    #[error("could not read Microsoft's answer: {0}")]
    Decode(String),
}

impl GraphError {
    /// Whether trying the same request again later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Server(_) | Self::Transport(_)
        )
    }
}

#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Maps a Graph error response (`{"error":{"code","message"}}`) to a [`GraphError`].
pub(crate) fn from_api_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> GraphError {
    let (code, message) = match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    match status {
        401 => GraphError::Unauthorized,
        403 => GraphError::Forbidden(if code.is_empty() { message } else { code }),
        404 => GraphError::NotFound,
        410 => GraphError::SyncStateNotFound,
        412 => GraphError::PreconditionFailed,
        429 | 503 => GraphError::Throttled {
            status,
            retry_after,
        },
        s if s >= 500 => GraphError::Server(s),
        _ => GraphError::BadRequest { code, message },
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Maps a token endpoint error response to a [`GraphError`].
pub(crate) fn from_oauth_response(status: u16, body: &[u8]) -> GraphError {
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(b) if b.error == "invalid_grant" => GraphError::InvalidGrant,
        Ok(b) => GraphError::OAuth {
            error: b.error,
            description: b.error_description.unwrap_or_default(),
        },
        Err(_) if status >= 500 => GraphError::Server(status),
        Err(_) => GraphError::Decode(format!("{status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_error_bodies_map_to_what_the_caller_does_next() {
        let body = br#"{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found."}}"#;
        assert_eq!(
            from_api_response(410, None, body),
            GraphError::SyncStateNotFound
        );
        let body = br#"{"error":{"code":"ErrorIrresolvableConflict","message":"The change key does not match."}}"#;
        assert_eq!(
            from_api_response(412, None, body),
            GraphError::PreconditionFailed
        );
        let wait = Some(Duration::from_secs(3));
        assert_eq!(
            from_api_response(429, wait, b"{}"),
            GraphError::Throttled {
                status: 429,
                retry_after: wait
            }
        );
        assert_eq!(from_api_response(502, None, b""), GraphError::Server(502));
        assert_eq!(
            from_api_response(
                400,
                None,
                br#"{"error":{"code":"InvalidRequest","message":"bad"}}"#
            ),
            GraphError::BadRequest {
                code: "InvalidRequest".into(),
                message: "bad".into()
            }
        );
    }

    #[test]
    fn an_invalid_grant_from_the_token_endpoint_is_recognised() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS70000: The provided value for the 'refresh_token' is not valid.","error_codes":[70000]}"#;
        assert_eq!(from_oauth_response(400, body), GraphError::InvalidGrant);
    }
}
