//! A tool failure the agent can say out loud.

use super::*;
use crate::error::ErrorCode;

/// A tool failure the agent can say out loud, with a stable `code` and, when a time was taken,
/// nearby alternatives to offer instead.
#[derive(Debug, Clone, thiserror::Error, Serialize, JsonSchema)]
#[error("{code}: {message}")]
pub struct ToolError {
    pub code: String,
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
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            alternatives: Vec::new(),
            status: status.as_u16(),
            field: None,
        }
    }

    /// 422 for an argument that is not acceptable.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        error.field = Some(field.to_string());
        error
    }

    /// The plain JSON endpoints' error: `{"error":{"code","message","alternatives"}}`.
    pub fn into_api_error(self) -> ApiError {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = ApiError::new(status, ErrorCode::ToolError, self.message);
        error.code = ErrorCode::parse(&self.code).unwrap_or(ErrorCode::ToolError);
        if let Some(field) = self.field {
            error = error.with("field", field);
        }
        if !self.alternatives.is_empty() {
            error = error.with(
                "alternatives",
                serde_json::to_value(&self.alternatives).unwrap_or_default(),
            );
        }
        error
    }

    /// From the booking layer's error, with its alternatives turned into bookable options.
    pub(crate) fn from_api(error: ApiError, ctx: &ToolContext<'_>) -> Self {
        let field = error
            .details
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_string);
        let alternatives = error
            .details
            .get("alternatives")
            .map(|alternatives| options_from_json(ctx, alternatives))
            .unwrap_or_default();
        Self {
            code: error.code.to_string(),
            message: error.message,
            alternatives,
            status: error.status.as_u16(),
            field,
        }
    }

    pub(crate) fn from_recorded(status: StatusCode, body: &Value, ctx: &ToolContext<'_>) -> Self {
        let error = &body["error"];
        let mut api = ApiError::new(
            status,
            ErrorCode::Replayed,
            error["message"].as_str().unwrap_or_default(),
        );
        for (k, v) in error.as_object().into_iter().flatten() {
            if k != "code" && k != "message" {
                api = api.with(k, v.clone());
            }
        }
        let mut tool = Self::from_api(api, ctx);
        tool.code = error["code"].as_str().unwrap_or("replayed").to_string();
        tool
    }
}
impl From<ApiError> for ToolError {
    fn from(error: ApiError) -> Self {
        let field = error
            .details
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self {
            code: error.code.to_string(),
            message: error.message,
            alternatives: Vec::new(),
            status: error.status.as_u16(),
            field,
        }
    }
}
impl From<crate::domain::error::DomainError> for ToolError {
    fn from(error: crate::domain::error::DomainError) -> Self {
        ApiError::from(error).into()
    }
}
impl From<pillow_store::StoreError> for ToolError {
    fn from(error: pillow_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}
