//! The one place where failures become HTTP responses.
//!
//! Every error leaves as `{"error":{"code","message",...}}` with a stable machine-readable
//! `code`. Server-side failures are logged in full and shown to the client only as
//! `internal_error`, so no internals leak.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pillow_store::{Constraint, StoreError};

use crate::domain::users::UserError;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra members of the `error` object, e.g. `field` or `alternatives`.
    pub details: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request was read but a value is not acceptable; `field` names it.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with("field", field)
    }

    /// 401: no usable credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: absent, or in another tenant (the two are indistinguishable on purpose).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409: the request clashes with existing state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500: logged here with its cause; the client sees only that something failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; it has been logged.",
        )
    }
}

impl ApiError {
    /// 422 for refused user details, naming the request `field` they came from.
    pub fn from_user(field: &str, error: UserError) -> Self {
        let code = match error {
            UserError::InvalidEmail(_) => "invalid_email",
            UserError::InvalidTimeZone(_) => "invalid_timezone",
            UserError::WeakPassword => "weak_password",
        };
        ApiError::invalid(field, code, error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(constraint) => {
                let message = if constraint == Constraint::UserEmail {
                    "A user with this e-mail address already exists.".to_string()
                } else {
                    format!("This clashes with existing data ({constraint}).")
                };
                ApiError::conflict("conflict", message)
            }
            StoreError::MissingReference(what) => ApiError::invalid(
                what.name(),
                "missing_reference",
                format!("The referenced {what} does not exist."),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = self.details;
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
