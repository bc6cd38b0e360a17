//! The in-call API's envelope: `{"success": true, "data"}` or `{"success": false, "error"}`, with
//! CORS headers for the widget's origin.

use super::*;
use pillow_store::AgentId;

/// An [`ApiError`] in the in-call envelope, `{"success":false,"error":{…}}`, with the CORS
/// header a widget needs to read it.
pub struct InCallError {
    pub(crate) error: ApiError,
    pub(crate) cors: Option<HeaderValue>,
}
impl From<ApiError> for InCallError {
    fn from(error: ApiError) -> Self {
        Self { error, cors: None }
    }
}
impl From<pillow_store::StoreError> for InCallError {
    fn from(error: pillow_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}
impl IntoResponse for InCallError {
    fn into_response(self) -> Response {
        let mut body = self.error.details;
        body.insert("code".into(), self.error.code.into());
        body.insert("message".into(), self.error.message.into());
        let mut response = (
            self.error.status,
            Json(json!({"success": false, "error": body})),
        )
            .into_response();
        add_cors(response.headers_mut(), self.cors);
        response
    }
}
pub(crate) fn add_cors(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}
pub(crate) fn success(
    status: StatusCode,
    data: impl Serialize,
    cors: Option<HeaderValue>,
) -> Response {
    let mut response = (status, Json(json!({"success": true, "data": data}))).into_response();
    add_cors(response.headers_mut(), cors);
    response
}
/// Turns a conflict's `alternatives` (start and end times) into bookable in-call slots.
pub(crate) fn with_incall_alternatives(
    state: &AppState,
    agent_id: AgentId,
    appointment_type: Option<uuid::Uuid>,
    zone: &TimeZone,
    mut error: ApiError,
) -> ApiError {
    if let Some(Value::Array(alternatives)) = error.details.get("alternatives") {
        let converted: Vec<Value> = alternatives
            .iter()
            .filter_map(|a| {
                let start = a["start_time"].as_str()?.parse::<Timestamp>().ok()?;
                let end = a["end_time"].as_str()?.parse::<Timestamp>().ok()?;
                serde_json::to_value(slot_view(
                    state,
                    agent_id,
                    start,
                    end.duration_since(start),
                    appointment_type,
                    zone,
                ))
                .ok()
            })
            .collect();
        error
            .details
            .insert("alternatives".into(), converted.into());
    }
    error
}
