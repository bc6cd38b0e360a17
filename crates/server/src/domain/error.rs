//! The domain's one error type: what went wrong, said without HTTP.
//!
//! A [`DomainError`] has a [`ErrorKind`] (not found, a conflict, a value not accepted, …), a
//! stable machine-readable [`ErrorCode`], a message for people and details such as the
//! offending `field` or a conflict's `alternatives`. The edge (`http::error::ApiError`, the
//! voice tools, MCP) turns it into its own answer; the kind's HTTP status is decided in
//! [`ErrorKind::status`] alone.

use axum::http::StatusCode;
use pillow_store::{Constraint, StoreError};
use serde_json::{Map, Value};

use crate::domain::users::UserError;

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
    BookingsNotReassigned = "bookings_not_reassigned",
    Busy = "busy",
    CalcomBadResponse = "calcom_bad_response",
    CalcomEventTypeNotFound = "calcom_event_type_not_found",
    CalcomIncomplete = "calcom_incomplete",
    CalcomNotConfigured = "calcom_not_configured",
    CalcomRejected = "calcom_rejected",
    CalcomUnauthorized = "calcom_unauthorized",
    CalcomUnavailable = "calcom_unavailable",
    CannotDeleteSelf = "cannot_delete_self",
    CollectiveBooking = "collective_booking",
    CaldavUnauthorized = "caldav_unauthorized",
    CaldavUnavailable = "caldav_unavailable",
    NoCalendar = "no_calendar",
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
    InvalidCallId = "invalid_call_id",
    InvalidBoolean = "invalid_boolean",
    InvalidBuffer = "invalid_buffer",
    InvalidDate = "invalid_date",
    InvalidDescription = "invalid_description",
    InvalidDuration = "invalid_duration",
    InvalidEmail = "invalid_email",
    InvalidEvents = "invalid_events",
    InvalidGrant = "invalid_grant",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    InvalidLimit = "invalid_limit",
    InvalidLink = "invalid_link",
    InvalidName = "invalid_name",
    InvalidNotice = "invalid_notice",
    InvalidOrigin = "invalid_origin",
    InvalidPhone = "invalid_phone",
    InvalidQuery = "invalid_query",
    InvalidRange = "invalid_range",
    InvalidRecurrence = "invalid_recurrence",
    InvalidReminders = "invalid_reminders",
    InvalidRetellAgentId = "invalid_retell_agent_id",
    InvalidRole = "invalid_role",
    InvalidRule = "invalid_rule",
    InvalidSecret = "invalid_secret",
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
    InvalidUrl = "invalid_url",
    InvalidWeekday = "invalid_weekday",
    LastOwner = "last_owner",
    LinkExpired = "link_expired",
    LinkUsed = "link_used",
    InvalidWeight = "invalid_weight",
    ManagedByBooking = "managed_by_booking",
    ManagedByProvider = "managed_by_provider",
    MemberHasBookings = "member_has_bookings",
    MethodNotAllowed = "method_not_allowed",
    MicrosoftNotConfigured = "microsoft_not_configured",
    MicrosoftUnavailable = "microsoft_unavailable",
    MissingChannel = "missing_channel",
    MissingCode = "missing_code",
    MissingParameter = "missing_parameter",
    MissingRanges = "missing_ranges",
    MissingReference = "missing_reference",
    NoMembers = "no_members",
    NoRequiredHost = "no_required_host",
    NoWorkingHours = "no_working_hours",
    NotFound = "not_found",
    OffGrid = "off_grid",
    OriginNotAllowed = "origin_not_allowed",
    OutsideWorkingHours = "outside_working_hours",
    Overloaded = "overloaded",
    OverlappingRanges = "overlapping_ranges",
    PayloadTooLarge = "payload_too_large",
    ProofRequired = "proof_required",
    RateLimited = "rate_limited",
    ReplayedError = "replayed_error",
    RequestTimeout = "request_timeout",
    Required = "required",
    ResourceMismatch = "resource_mismatch",
    RetellAgentIdTaken = "retell_agent_id_taken",
    SeriesBeyondWindow = "series_beyond_booking_window",
    SeriesConflict = "series_conflict",
    SlotUnavailable = "slot_unavailable",
    StateExpired = "state_expired",
    SubjectRequired = "subject_required",
    TenantRequired = "tenant_required",
    TooFarAhead = "too_far_ahead",
    TooLong = "too_long",
    TooManyOccurrences = "too_many_occurrences",
    TooManyOrigins = "too_many_origins",
    TooSoon = "too_soon",
    ToolError = "tool_error",
    Unauthorized = "unauthorized",
    UnexpectedRanges = "unexpected_ranges",
    UnknownAppointmentType = "unknown_appointment_type",
    AppointmentTypeRequired = "appointment_type_required",
    TypeDoesNotFit = "type_does_not_fit",
    UnknownPlatform = "unknown_platform",
    UnknownStrategy = "unknown_strategy",
    UnknownTemplateVariable = "unknown_template_variable",
    UnknownTool = "unknown_tool",
    UnknownUser = "unknown_user",
    UnsupportedMediaType = "unsupported_media_type",
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

/// What kind of failure a [`DomainError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request could not be read.
    BadRequest,
    /// A value was read but is not acceptable.
    Invalid,
    Unauthorized,
    Forbidden,
    /// Absent, or in another tenant (the two are indistinguishable on purpose).
    NotFound,
    /// Clashes with existing state (a taken slot, a cancelled booking).
    Conflict,
    RateLimited,
    /// A service we depend on answered wrongly (Cal.com refused our key, an odd reply).
    Upstream,
    /// A service we depend on is down or rate limiting us.
    Unavailable,
    /// Our fault; logged where it happened.
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind: the one table of it.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind of a recorded answer's status, for replaying it.
    pub fn of_status(status: StatusCode) -> ErrorKind {
        match status {
            StatusCode::BAD_REQUEST => ErrorKind::BadRequest,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorKind::Invalid,
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::CONFLICT => ErrorKind::Conflict,
            StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
            StatusCode::BAD_GATEWAY => ErrorKind::Upstream,
            StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
            s if s.is_client_error() => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        }
    }

    /// Whether retrying the same request could succeed (the failure was ours or a service's).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Internal | ErrorKind::Upstream | ErrorKind::Unavailable
        )
    }
}

/// A free time offered instead of one that was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alternative {
    #[serde(rename = "start_time")]
    pub start: jiff::Timestamp,
    #[serde(rename = "end_time")]
    pub end: jiff::Timestamp,
}

/// A failure of the domain.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} {code}: {message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    /// Extra members of the error, e.g. `field`.
    pub details: Map<String, Value>,
    /// What a conflict offers instead, nearest first in time order; sent as `alternatives`.
    pub alternatives: Vec<Alternative>,
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details: Map::new(),
            alternatives: Vec::new(),
        }
    }

    /// Offers these times instead.
    pub fn with_alternatives(mut self, alternatives: Vec<Alternative>) -> Self {
        self.alternatives = alternatives;
        self
    }

    /// The details as sent: [`DomainError::details`] plus any `alternatives`.
    pub fn sent_details(&self) -> Map<String, Value> {
        let mut details = self.details.clone();
        if !self.alternatives.is_empty() {
            details.insert(
                "alternatives".into(),
                serde_json::to_value(&self.alternatives).expect("alternatives serialise"),
            );
        }
        details
    }

    /// Adds a detail.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// A value that is not acceptable; `field` names it.
    pub fn invalid(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message).with("field", field)
    }

    /// A request that could not be read.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, ErrorCode::Forbidden, message)
    }

    /// Logged here with its cause; callers see only that something failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ErrorKind::Internal,
            ErrorCode::InternalError,
            "Something went wrong on our side; it has been logged.",
        )
    }

    /// Refused user details, naming the request `field` they came from.
    pub fn from_user(field: &str, error: UserError) -> Self {
        let code = match error {
            UserError::InvalidEmail(_) => ErrorCode::InvalidEmail,
            UserError::InvalidTimeZone(_) => ErrorCode::InvalidTimezone,
            UserError::WeakPassword => ErrorCode::WeakPassword,
        };
        Self::invalid(field, code, error.to_string())
    }
}

impl From<StoreError> for DomainError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(Constraint::LastOwner) => Self::conflict(
                ErrorCode::LastOwner,
                "This is the tenant's only owner; make another member owner first.",
            ),
            StoreError::Conflict(Constraint::MemberHasBookings) => Self::conflict(
                ErrorCode::MemberHasBookings,
                "This member has upcoming confirmed bookings; reassign or cancel them first.",
            ),
            StoreError::Conflict(constraint) => {
                let message = if constraint == Constraint::UserEmail {
                    "A user with this e-mail address already exists.".to_string()
                } else {
                    format!("This clashes with existing data ({constraint}).")
                };
                Self::conflict(ErrorCode::Conflict, message)
            }
            StoreError::MissingReference(what) => Self::invalid(
                what.name(),
                ErrorCode::MissingReference,
                format!("The referenced {what} does not exist."),
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    ErrorCode::DatabaseUnavailable,
                    "The database is busy or unreachable; try again shortly.",
                )
            }
            other => Self::internal(other),
        }
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
    fn a_conflicts_alternatives_are_sent_as_start_and_end_times() {
        let start: jiff::Timestamp = "2026-03-10T14:00:00Z".parse().unwrap();
        let end: jiff::Timestamp = "2026-03-10T14:30:00Z".parse().unwrap();
        let error = DomainError::conflict(ErrorCode::SlotUnavailable, "taken")
            .with_alternatives(vec![Alternative { start, end }]);
        assert_eq!(
            error.sent_details()["alternatives"],
            serde_json::json!([{"start_time": "2026-03-10T14:00:00Z", "end_time": "2026-03-10T14:30:00Z"}])
        );
        assert!(
            DomainError::conflict(ErrorCode::Conflict, "x")
                .sent_details()
                .get("alternatives")
                .is_none()
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_status() {
        for kind in [
            ErrorKind::BadRequest,
            ErrorKind::Invalid,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::RateLimited,
            ErrorKind::Upstream,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ] {
            assert_eq!(ErrorKind::of_status(kind.status()), kind);
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

    #[test]
    fn a_database_that_gives_no_connection_is_unavailable_not_internal() {
        let error = DomainError::from(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(error.kind, ErrorKind::Unavailable);
        assert_eq!(error.code, ErrorCode::DatabaseUnavailable);
        assert_eq!(error.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
