//! The one place where failures become HTTP responses.
//!
//! Every error leaves as `{"error":{"code","message",...}}` with a stable machine-readable
//! `code`. Server-side failures are logged in full and shown to the client only as
//! `internal_error`, so no internals leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pillow_store::StoreError;

use crate::domain::error::DomainError;
pub use crate::domain::error::ErrorCode;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Extra members of the `error` object, e.g. `field` or `alternatives`.
    pub details: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Adds a member to the error object.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// 400: the request could not be read (malformed JSON, wrong types, unknown fields).
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request was read but a value is not acceptable; `field` names it.
    pub fn invalid(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with("field", field)
    }

    /// 401: no usable credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 404: absent, or in another tenant (the two are indistinguishable on purpose).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    /// 409: the request clashes with existing state.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500: logged here with its cause; the client sees only that something failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Something went wrong on our side; it has been logged.",
        )
    }
}

impl ApiError {
    /// 422 for refused user details, naming the request `field` they came from.
    pub fn from_user(field: &str, error: crate::domain::users::UserError) -> Self {
        DomainError::from_user(field, error).into()
    }
}

/// The one place a domain failure becomes an HTTP status: its kind decides.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        ApiError {
            status: error.kind.status(),
            code: error.code,
            details: error.sent_details(),
            message: error.message,
        }
    }
}

impl From<crate::domain::calcom::CalcomBackendError> for ApiError {
    fn from(error: crate::domain::calcom::CalcomBackendError) -> Self {
        DomainError::from(error).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        DomainError::from(error).into()
    }
}

/// The plain JSON voice endpoints' error: `{"error":{"code","message","field","alternatives"}}`.
impl From<crate::voice::tools::ToolError> for ApiError {
    fn from(error: crate::voice::tools::ToolError) -> Self {
        let status =
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut api = ApiError::new(status, error.code, error.message);
        if let Some(field) = error.field {
            api = api.with("field", field);
        }
        if !error.alternatives.is_empty() {
            api = api.with(
                "alternatives",
                serde_json::to_value(&error.alternatives).unwrap_or_default(),
            );
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = self.details;
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        // Overload and a database that does not answer pass: say when to come back.
        if matches!(
            self.code,
            ErrorCode::Overloaded | ErrorCode::DatabaseUnavailable
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
