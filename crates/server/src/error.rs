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

/// Every machine-readable error code a client can see, serialised as today's snake_case
/// strings. Adding a code is adding a line here; a replayed or foreign code that is not listed
/// parses to nothing rather than passing through unchecked.
macro_rules! error_codes {
    ($($variant:ident = $code:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, for tests and documentation.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The code with this wire name, if it is one of ours.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    InvalidSignature = "invalid_signature",
    StaleSignature = "stale_signature",
    NotAvailable = "not_available",
    BookingNotConfirmed = "booking_not_confirmed",
    Busy = "busy",
    CalcomBadResponse = "calcom_bad_response",
    CalcomEventTypeNotFound = "calcom_event_type_not_found",
    CalcomIncomplete = "calcom_incomplete",
    CalcomNotConfigured = "calcom_not_configured",
    CalcomRejected = "calcom_rejected",
    CalcomUnauthorized = "calcom_unauthorized",
    CalcomUnavailable = "calcom_unavailable",
    CannotDeleteSelf = "cannot_delete_self",
    Conflict = "conflict",
    ConflictingFields = "conflicting_fields",
    ConflictingParameters = "conflicting_parameters",
    ConsentDenied = "consent_denied",
    CronNotConfigured = "cron_not_configured",
    DatabaseUnavailable = "database_unavailable",
    DuplicateOverride = "duplicate_override",
    DuplicateUser = "duplicate_user",
    DurationNotAllowed = "duration_not_allowed",
    EventTooLong = "event_too_long",
    Forbidden = "forbidden",
    GoogleNotConfigured = "google_not_configured",
    GoogleUnavailable = "google_unavailable",
    IdempotencyInProgress = "idempotency_in_progress",
    IdempotencyKeyReused = "idempotency_key_reused",
    Immutable = "immutable",
    InThePast = "in_the_past",
    InsufficientScope = "insufficient_scope",
    InternalError = "internal_error",
    InvalidApiKey = "invalid_api_key",
    InvalidArguments = "invalid_arguments",
    InvalidBackend = "invalid_backend",
    InvalidBody = "invalid_body",
    InvalidBoolean = "invalid_boolean",
    InvalidBuffer = "invalid_buffer",
    InvalidDate = "invalid_date",
    InvalidDescription = "invalid_description",
    InvalidDuration = "invalid_duration",
    InvalidEmail = "invalid_email",
    InvalidGrant = "invalid_grant",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    InvalidName = "invalid_name",
    InvalidNotice = "invalid_notice",
    InvalidOrigin = "invalid_origin",
    InvalidPhone = "invalid_phone",
    InvalidQuery = "invalid_query",
    InvalidRange = "invalid_range",
    InvalidRetellAgentId = "invalid_retell_agent_id",
    InvalidRole = "invalid_role",
    InvalidRule = "invalid_rule",
    InvalidSlot = "invalid_slot",
    InvalidSlotDuration = "invalid_slot_duration",
    InvalidSlotInterval = "invalid_slot_interval",
    InvalidSlug = "invalid_slug",
    InvalidState = "invalid_state",
    InvalidStatus = "invalid_status",
    InvalidTemplate = "invalid_template",
    InvalidTime = "invalid_time",
    InvalidTimezone = "invalid_timezone",
    InvalidTitle = "invalid_title",
    InvalidTransparency = "invalid_transparency",
    InvalidWeekday = "invalid_weekday",
    ManagedByBooking = "managed_by_booking",
    ManagedByProvider = "managed_by_provider",
    MissingChannel = "missing_channel",
    MissingCode = "missing_code",
    MissingParameter = "missing_parameter",
    MissingRanges = "missing_ranges",
    MissingReference = "missing_reference",
    NoMembers = "no_members",
    NoWorkingHours = "no_working_hours",
    NotFound = "not_found",
    OffGrid = "off_grid",
    OriginNotAllowed = "origin_not_allowed",
    OutsideWorkingHours = "outside_working_hours",
    OverlappingRanges = "overlapping_ranges",
    ProofRequired = "proof_required",
    RateLimited = "rate_limited",
    Replayed = "replayed",
    ReplayedError = "replayed_error",
    Required = "required",
    ResourceMismatch = "resource_mismatch",
    RetellAgentIdTaken = "retell_agent_id_taken",
    SlotUnavailable = "slot_unavailable",
    StateExpired = "state_expired",
    SubjectRequired = "subject_required",
    TenantRequired = "tenant_required",
    TooFarAhead = "too_far_ahead",
    TooLong = "too_long",
    TooManyOrigins = "too_many_origins",
    TooSoon = "too_soon",
    ToolError = "tool_error",
    Unauthorized = "unauthorized",
    UnexpectedRanges = "unexpected_ranges",
    UnknownPlatform = "unknown_platform",
    UnknownStrategy = "unknown_strategy",
    UnknownTemplateVariable = "unknown_template_variable",
    UnknownTool = "unknown_tool",
    UnknownUser = "unknown_user",
    UserIdRequired = "user_id_required",
    WeakPassword = "weak_password",
    WindowTooLong = "window_too_long",
}

impl ErrorCode {
    /// The code of an engine's slot rejection.
    pub fn of_rejection(rejection: pillow_engine::SlotRejection) -> ErrorCode {
        use pillow_engine::SlotRejection as R;
        match rejection {
            R::InThePast => ErrorCode::InThePast,
            R::TooSoon => ErrorCode::TooSoon,
            R::TooFarAhead => ErrorCode::TooFarAhead,
            R::DurationNotAllowed => ErrorCode::DurationNotAllowed,
            R::OutsideWorkingHours => ErrorCode::OutsideWorkingHours,
            R::OffGrid => ErrorCode::OffGrid,
            R::Busy => ErrorCode::Busy,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<ErrorCode> for Value {
    fn from(code: ErrorCode) -> Value {
        Value::String(code.as_str().to_string())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

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
    pub fn from_user(field: &str, error: UserError) -> Self {
        let code = match error {
            UserError::InvalidEmail(_) => ErrorCode::InvalidEmail,
            UserError::InvalidTimeZone(_) => ErrorCode::InvalidTimezone,
            UserError::WeakPassword => ErrorCode::WeakPassword,
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
                ApiError::conflict(ErrorCode::Conflict, message)
            }
            StoreError::MissingReference(what) => ApiError::invalid(
                what.name(),
                ErrorCode::MissingReference,
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

#[cfg(test)]
mod tests {
    use super::*;
    use pillow_engine::SlotRejection;

    #[test]
    fn every_code_reads_back_from_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn wire_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} is listed twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn an_engine_rejection_keeps_the_engines_code() {
        for rejection in [
            SlotRejection::InThePast,
            SlotRejection::TooSoon,
            SlotRejection::TooFarAhead,
            SlotRejection::DurationNotAllowed,
            SlotRejection::OutsideWorkingHours,
            SlotRejection::OffGrid,
            SlotRejection::Busy,
        ] {
            assert_eq!(ErrorCode::of_rejection(rejection), rejection.code());
        }
    }
}
