//! A booking as clients see it, and finding one by id or confirmation code.

use super::*;

/// A booking as the API shows it.
pub fn booking_view(booking: &Booking, host_name: &str) -> Value {
    json!({
        "id": booking.id,
        "confirmation_code": booking.confirmation_code,
        "status": booking.status,
        "start_time": booking.start.to_string(),
        "end_time": booking.end.to_string(),
        "duration": booking.end.duration_since(booking.start).as_mins(),
        "user_id": booking.user_id,
        "user_name": host_name,
        "assigned_user": {"id": booking.user_id, "name": host_name},
        "agent_id": booking.agent_id,
        "attendee": booking.attendee,
        "notes": booking.notes,
        "title": booking.title,
        "description": booking.description,
        "cancel_reason": booking.cancel_reason,
        "cancelled_at": booking.cancelled_at.map(|t| t.to_string()),
        "created_at": booking.created_at.to_string(),
        "updated_at": booking.updated_at.to_string(),
    })
}

/// Finds a booking by id or confirmation code, in the caller's tenant. The in-call API's
/// booking ids (`BK_` + the code) are accepted as they are, so a client can use what it got.
pub(crate) async fn find(
    state: &AppState,
    tenant: TenantId,
    id_or_code: &str,
) -> ApiResult<Booking> {
    let id_or_code = id_or_code.strip_prefix("BK_").unwrap_or(id_or_code);
    let found = if let Ok(id) = Uuid::parse_str(id_or_code) {
        state.store.get_booking(tenant, id).await?
    } else if looks_like_code(id_or_code) {
        state
            .store
            .find_booking_by_code(tenant, &id_or_code.to_ascii_uppercase())
            .await?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::not_found("booking"))
}

pub(crate) async fn view_of(state: &AppState, booking: &Booking) -> ApiResult<Value> {
    let host = state
        .store
        .get_user(booking.tenant_id, booking.user_id)
        .await?;
    Ok(booking_view(
        booking,
        host.as_ref().map_or("", |u| u.name.as_str()),
    ))
}
