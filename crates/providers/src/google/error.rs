//! What can go wrong talking to Google, and how Google's error bodies map onto it.

use std::time::Duration;

use serde::Deserialize;

/// One error type for the OAuth and Calendar clients; each variant is something the caller
/// acts on differently (re-consent, back off, resync, treat as done, give up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// 400 `invalid_grant`: the refresh token was revoked or expired, or the code/verifier is
    /// wrong. Only a new consent helps, so the connection becomes `needs_reauth`.
    #[error("Google rejected the grant (invalid_grant): the user must connect again")]
    InvalidGrant,
    /// 401: the access token is expired or unknown; refresh it and try again.
    #[error("Google rejected the access token (401)")]
    Unauthorized,
    /// 403 `rateLimitExceeded`/`userRateLimitExceeded` or 429, after our own retries.
    #[error("Google rate limit exceeded")]
    RateLimited {
        /// Google's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// 410 `fullSyncRequired`: drop the sync token and do a full sync.
    #[error("the sync token is no longer valid; a full sync is required")]
    SyncTokenExpired,
    /// 409 `duplicate`: an event with this id already exists (a retried insert).
    #[error("an event with this id already exists (409)")]
    Duplicate,
    /// 412 `conditionNotMet`: the event changed since the ETag we sent.
    #[error("the event changed since we read it (412)")]
    PreconditionFailed,
    /// 410 `deleted`: the event is already deleted.
    #[error("the event is already deleted (410)")]
    Gone,
    /// 404: no such event, calendar or channel (or no access to it).
    #[error("not found (404)")]
    NotFound,
    /// 403 for any reason but rate limiting (e.g. `insufficientPermissions`); the reason.
    #[error("forbidden by Google: {0}")]
    Forbidden(String),
    /// 400 from the Calendar API: our request was malformed; Google's message.
    #[error("Google rejected the request: {0}")]
    BadRequest(String),
    /// Any other OAuth error (`invalid_client`, `invalid_request`, …).
    #[error("OAuth error {error}: {description}")]
    OAuth { error: String, description: String },
    /// 5xx, after our own retries.
    #[error("Google answered {0}")]
    Server(u16),
    /// The request never got an answer (connection refused, timeout, TLS).
    #[error("could not reach Google: {0}")]
    Transport(String),
    /// Google answered something we could not read.
    #[error("could not read Google's answer: {0}")]
    Decode(String),
}

impl GoogleError {
    /// Whether trying the same request again later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server(_) | Self::Transport(_)
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
    message: String,
    #[serde(default)]
    errors: Vec<ApiErrorItem>,
    /// Newer Google APIs put the reason in `details[].reason` (`google.rpc.ErrorInfo`).
    #[serde(default)]
    details: Vec<ApiErrorItem>,
}

#[derive(Deserialize)]
struct ApiErrorItem {
    #[serde(default)]
    reason: Option<String>,
}

/// The `reason` and `message` of a Calendar API error body, if it is one.
pub(crate) fn api_error_reason(body: &[u8]) -> (Option<String>, String) {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) => {
            let reason = b
                .error
                .errors
                .iter()
                .chain(&b.error.details)
                .find_map(|e| e.reason.clone());
            (reason, b.error.message)
        }
        Err(_) => (
            None,
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    }
}

/// Maps a Calendar API error response to a [`GoogleError`].
pub(crate) fn from_api_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> GoogleError {
    let (reason, message) = api_error_reason(body);
    let reason = reason.unwrap_or_default();
    match status {
        401 => GoogleError::Unauthorized,
        403 if matches!(
            reason.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED"
        ) =>
        {
            GoogleError::RateLimited { retry_after }
        }
        403 => GoogleError::Forbidden(if reason.is_empty() { message } else { reason }),
        429 => GoogleError::RateLimited { retry_after },
        404 => GoogleError::NotFound,
        409 => GoogleError::Duplicate,
        410 if reason == "fullSyncRequired" => GoogleError::SyncTokenExpired,
        410 => GoogleError::Gone,
        412 => GoogleError::PreconditionFailed,
        400 => GoogleError::BadRequest(message),
        s if s >= 500 => GoogleError::Server(s),
        s => GoogleError::BadRequest(format!("{s}: {message}")),
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Maps an OAuth token/revoke endpoint error response to a [`GoogleError`].
pub(crate) fn from_oauth_response(status: u16, body: &[u8]) -> GoogleError {
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(b) if b.error == "invalid_grant" => GoogleError::InvalidGrant,
        Ok(b) => GoogleError::OAuth {
            error: b.error,
            description: b.error_description.unwrap_or_default(),
        },
        Err(_) if status >= 500 => GoogleError::Server(status),
        Err(_) => GoogleError::Decode(format!(
            "{status}: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_410_full_sync_required_body_is_an_expired_sync_token() {
        let body = br#"{"error":{"errors":[{"domain":"global","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required.","locationType":"parameter","location":"syncToken"}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}}"#;
        assert_eq!(
            from_api_response(410, None, body),
            GoogleError::SyncTokenExpired
        );
    }

    #[test]
    fn a_410_deleted_body_is_gone() {
        let body = br#"{"error":{"errors":[{"domain":"global","reason":"deleted","message":"Resource has been deleted"}],"code":410,"message":"Resource has been deleted"}}"#;
        assert_eq!(from_api_response(410, None, body), GoogleError::Gone);
    }

    #[test]
    fn rate_limit_403s_are_rate_limits_and_other_403s_are_not() {
        for reason in ["rateLimitExceeded", "userRateLimitExceeded"] {
            let body = format!(
                r#"{{"error":{{"errors":[{{"domain":"usageLimits","reason":"{reason}","message":"Rate Limit Exceeded"}}],"code":403,"message":"Rate Limit Exceeded"}}}}"#
            );
            assert_eq!(
                from_api_response(403, None, body.as_bytes()),
                GoogleError::RateLimited { retry_after: None }
            );
        }
        let body = br#"{"error":{"errors":[{"domain":"global","reason":"insufficientPermissions","message":"Insufficient Permission"}],"code":403,"message":"Insufficient Permission"}}"#;
        assert_eq!(
            from_api_response(403, None, body),
            GoogleError::Forbidden("insufficientPermissions".into())
        );
    }

    #[test]
    fn a_429_keeps_its_retry_after_even_without_a_json_body() {
        let wait = Some(Duration::from_secs(7));
        assert_eq!(
            from_api_response(429, wait, b"Too Many Requests"),
            GoogleError::RateLimited { retry_after: wait }
        );
    }

    #[test]
    fn the_newer_details_shape_is_read_too() {
        let body = br#"{"error":{"code":403,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"}]}}"#;
        assert!(matches!(
            from_api_response(403, None, body),
            GoogleError::RateLimited { .. }
        ));
    }

    #[test]
    fn conflict_precondition_and_server_statuses_map_directly() {
        assert_eq!(from_api_response(409, None, b"{}"), GoogleError::Duplicate);
        assert_eq!(
            from_api_response(412, None, b"{}"),
            GoogleError::PreconditionFailed
        );
        assert_eq!(from_api_response(503, None, b""), GoogleError::Server(503));
        assert_eq!(from_api_response(401, None, b""), GoogleError::Unauthorized);
    }

    #[test]
    fn oauth_invalid_grant_is_recognised() {
        let body = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        assert_eq!(from_oauth_response(400, body), GoogleError::InvalidGrant);
        let body = br#"{"error":"invalid_client","error_description":"Unauthorized"}"#;
        assert_eq!(
            from_oauth_response(401, body),
            GoogleError::OAuth {
                error: "invalid_client".into(),
                description: "Unauthorized".into()
            }
        );
    }
}
