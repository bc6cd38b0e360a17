//! Cancelling a booking: frees its time and tells the outbox, once however often it is retried.

use super::*;
use crate::outbox::JobKind;
use pillow_store::BookingStatus;

/// Cancels; shared by the authenticated and the self-service routes.
pub async fn cancel(
    state: &AppState,
    booking: &Booking,
    reason: Option<String>,
    key: Option<String>,
) -> DomainResult<(StatusCode, BookingView)> {
    let tenant = booking.tenant_id;
    let hash = request_hash(
        "cancel",
        &booking.id.to_string(),
        &json!({"reason": reason}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status == BookingStatus::Cancelled {
                return view_of(state, booking).await;
            }
            let mut after = booking.clone();
            after.status = BookingStatus::Cancelled;
            after.cancel_reason = reason.clone();
            let now = Timestamp::now();
            after.cancelled_at = Some(now);
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let jobs = booking_jobs(JobKind::BookingCancelled, booking);
            state
                .store
                .cancel_booking(
                    tenant,
                    booking.id,
                    reason.as_deref(),
                    &jobs,
                    response.as_ref(),
                )
                .await?
                .ok_or_else(|| DomainError::not_found("booking"))?;
            metrics::counter!("bookings_total", "outcome" => "cancelled").increment(1);
            // The answer recorded for the key, so a retry gets exactly this.
            Ok(body)
        },
    )
    .await
}

/// The lifecycle jobs of a change to an existing booking.
pub(crate) fn booking_jobs(kind: JobKind, booking: &Booking) -> Vec<pillow_store::NewJob> {
    lifecycle_jobs(kind, booking.id, booking.user_id, None)
}
