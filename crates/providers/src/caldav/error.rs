//! What can go wrong talking to a CalDAV server, as the caller acts on it.

use libdav::dav::{RequestError, WebDavError};

use super::http::DavHttpError;

/// One error type for the CalDAV client; each variant asks the caller for a different action
/// (ask for a new password, fix the URL, try later, give up on one resource).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalDavError {
    /// 401: the user name or app password is wrong or was revoked; the user must reconnect.
    #[error("the CalDAV server rejected the user name or password (401)")]
    Unauthorized,
    /// 403 outside a sync: the account may not do this.
    #[error("the CalDAV server refused the request (403)")]
    Forbidden,
    /// The server's address is internal (loopback, private, link-local) and the client was
    /// not configured to allow that.
    #[error("{0} is not a public address; CalDAV servers on private networks must be allowed")]
    Blocked(String),
    /// The server URL is unusable.
    #[error("bad CalDAV server URL: {0}")]
    BadUrl(String),
    /// Discovery found no event calendar (or none with the requested name).
    #[error("no event calendar found: {0}")]
    NoCalendar(String),
    /// 404: no such resource or collection.
    #[error("not found on the CalDAV server (404)")]
    NotFound,
    /// A create found a resource at our deterministic name that is not the same booking.
    #[error("another event already exists at {0}")]
    Conflict(String),
    /// Another status we do not expect (5xx after our attempt, 3xx where none is allowed, ...).
    #[error("the CalDAV server answered {0}")]
    Status(u16),
    /// The request never got an answer (connection refused, timeout, TLS).
    #[error("could not reach the CalDAV server: {0}")]
    Transport(String),
    /// The server answered something we could not read (XML or iCalendar).
    #[error("could not read the CalDAV server's answer: {0}")]
    Invalid(String),
}

impl CalDavError {
    /// Whether trying the same request again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status(s) => *s >= 500 || *s == 429,
            _ => false,
        }
    }

    pub(crate) fn from_status(status: http::StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            s => Self::Status(s),
        }
    }
}

impl From<WebDavError<DavHttpError>> for CalDavError {
    fn from(error: WebDavError<DavHttpError>) -> Self {
        match error {
            WebDavError::Request(RequestError::Client(DavHttpError::Blocked(ip))) => {
                Self::Blocked(ip)
            }
            WebDavError::Request(RequestError::Client(DavHttpError::Http(e))) => {
                // The resolver's refusal is the source of a connect error.
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    message = format!("{message}: {s}");
                    source = s.source();
                }
                Self::Transport(message)
            }
            WebDavError::Request(RequestError::Http(e)) => Self::Transport(e.to_string()),
            WebDavError::BadStatusCode(status) => Self::from_status(status),
            WebDavError::Xml(e) => Self::Invalid(e.to_string()),
            WebDavError::InvalidResponse(e) => Self::Invalid(e.to_string()),
            WebDavError::InvalidInput(e) => Self::BadUrl(e.to_string()),
            // A precondition outside the cases each caller handles itself.
            WebDavError::PreconditionFailed(p) => Self::Invalid(format!("precondition {p}")),
        }
    }
}
