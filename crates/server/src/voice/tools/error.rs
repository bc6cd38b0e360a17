//! A tool failure the agent can say out loud.

use super::*;

/// A tool failure the agent can say out loud, with a stable `code` and, when a time was taken,
/// nearby alternatives to offer instead.
#[derive(Debug, Clone, thiserror::Error, Serialize, JsonSchema)]
#[error("{code}: {message}")]
pub struct ToolError {
    #[schemars(with = "String")]
    pub code: ErrorCode,
    /// A sentence to speak.
    pub message: String,
    pub alternatives: Vec<SlotOption>,
    /// The HTTP status the plain JSON endpoints answer with.
    #[serde(skip)]
    pub status: u16,
    /// The offending argument, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
impl ToolError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            alternatives: Vec::new(),
            status: status.as_u16(),
            field: None,
        }
    }

    /// 422 for an argument that is not acceptable.
    pub fn invalid(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        error.field = Some(field.to_string());
        error
    }

    /// From the domain's error, with its alternatives turned into bookable options.
    pub(crate) fn from_domain(error: DomainError, ctx: &ToolContext<'_>) -> Self {
        Self::from_typed_domain(error, ctx, None)
    }

    /// [`Self::from_domain`] for a booking of an appointment type: the alternatives book it too.
    pub(crate) fn from_typed_domain(
        error: DomainError,
        ctx: &ToolContext<'_>,
        appointment_type: Option<uuid::Uuid>,
    ) -> Self {
        let alternatives = options_from_alternatives(ctx, &error.alternatives, appointment_type);
        Self {
            alternatives,
            ..Self::from(error)
        }
    }
}
impl From<DomainError> for ToolError {
    fn from(error: DomainError) -> Self {
        let field = error
            .details
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self {
            code: error.code,
            message: error.message,
            alternatives: Vec::new(),
            status: error.kind.status().as_u16(),
            field,
        }
    }
}
impl From<pillow_store::StoreError> for ToolError {
    fn from(error: pillow_store::StoreError) -> Self {
        DomainError::from(error).into()
    }
}
