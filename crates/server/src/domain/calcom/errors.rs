//! Cal.com failures, and the one place they become API errors: a refused key is a 502 naming the
//! agent, a taken slot a 409, Cal.com down or rate limiting a 503.

use super::*;
use crate::domain::error::ErrorCode;
use crate::domain::error::ErrorKind;
use pillow_store::AgentId;

/// Why the Cal.com backend could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CalcomBackendError {
    /// The agent's backend is `native`: the caller should not have come here.
    #[error("agent {agent} does not use the Cal.com backend")]
    NotCalcom { agent: AgentId },
    /// The agent is `calcom` but lacks a setting.
    #[error("agent {agent} has no {missing}")]
    Incomplete {
        agent: AgentId,
        missing: &'static str,
    },
    /// The sealed key cannot be opened (wrong `CALENDAR_ENCRYPTION_KEY`, or tampering).
    #[error("the Cal.com key of agent {agent} cannot be opened: {source}")]
    KeyUnreadable {
        agent: AgentId,
        #[source]
        source: CryptoError,
    },
    /// The key's owner has no event type with the agent's slug.
    #[error("Cal.com has no event type {slug:?} for the key of agent {agent_name:?}")]
    EventTypeNotFound { agent_name: String, slug: String },
    /// Cal.com takes lengths in whole minutes.
    #[error("a Cal.com booking lasts whole minutes, not {0}")]
    InvalidDuration(SignedDuration),
    /// Only accepted bookings can be moved.
    #[error("Cal.com booking {uid} is {status}, so it cannot be moved")]
    NotConfirmed { uid: String, status: String },
    /// Cal.com answered with an error, or not at all.
    #[error("Cal.com, for agent {agent_name:?}: {source}")]
    Calcom {
        agent_name: String,
        #[source]
        source: CalcomError,
    },
}
impl From<CalcomBackendError> for DomainError {
    fn from(error: CalcomBackendError) -> Self {
        match error {
            CalcomBackendError::NotCalcom { .. } | CalcomBackendError::Incomplete { .. } => {
                DomainError::conflict(
                    ErrorCode::CalcomNotConfigured,
                    format!("{error}. Set backend, cal_api_key and cal_event_type_slug."),
                )
            }
            CalcomBackendError::KeyUnreadable { .. } => DomainError::internal(error),
            CalcomBackendError::EventTypeNotFound { .. } => DomainError::new(
                ErrorKind::Upstream,
                ErrorCode::CalcomEventTypeNotFound,
                format!("{error}. Check the agent's cal_event_type_slug."),
            ),
            CalcomBackendError::InvalidDuration(_) => {
                DomainError::invalid("duration", ErrorCode::InvalidDuration, error.to_string())
            }
            CalcomBackendError::NotConfirmed { .. } => {
                DomainError::conflict(ErrorCode::BookingNotConfirmed, error.to_string())
            }
            CalcomBackendError::Calcom { agent_name, source } => {
                calcom_to_api_error(&agent_name, source)
            }
        }
    }
}
pub(crate) fn calcom_to_api_error(agent_name: &str, error: CalcomError) -> DomainError {
    match error {
        CalcomError::Unauthorized | CalcomError::Forbidden { .. } => DomainError::new(
            ErrorKind::Upstream,
            ErrorCode::CalcomUnauthorized,
            format!(
                "Cal.com refused the API key of agent {agent_name:?}; \
                 update the agent's cal_api_key."
            ),
        ),
        CalcomError::SlotUnavailable { .. } => DomainError::conflict(
            ErrorCode::SlotUnavailable,
            "That time is no longer available; please choose another.",
        ),
        CalcomError::NotFound { .. } => DomainError::not_found("Cal.com booking"),
        CalcomError::RateLimited { retry_after } => {
            let error = unavailable("Cal.com is limiting our requests; try again shortly.");
            match retry_after {
                Some(after) => error.with("retry_after_seconds", after.as_secs()),
                None => error,
            }
        }
        CalcomError::Server(_) | CalcomError::Transport(_) => {
            tracing::warn!(error = %error, agent = agent_name, "Cal.com unavailable");
            unavailable("Cal.com is not answering; try again shortly.")
        }
        CalcomError::Decode(_) => {
            tracing::error!(error = %error, agent = agent_name, "unreadable Cal.com answer");
            DomainError::new(
                ErrorKind::Upstream,
                ErrorCode::CalcomBadResponse,
                "Cal.com answered in a way we could not read.",
            )
        }
        CalcomError::BadRequest { message, .. } => DomainError::new(
            ErrorKind::Invalid,
            ErrorCode::CalcomRejected,
            format!("Cal.com rejected the request: {message}"),
        ),
    }
}
pub(crate) fn unavailable(message: &str) -> DomainError {
    DomainError::new(
        ErrorKind::Unavailable,
        ErrorCode::CalcomUnavailable,
        message,
    )
}
