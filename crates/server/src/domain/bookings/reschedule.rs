//! Moving a booking: the new time is checked like a new booking of the same member.

use super::*;
use crate::domain::error::ErrorCode;
use crate::outbox::JobKind;
use pillow_store::{BookingStatus, Constraint};

/// Moves a booking; the new time is checked like a new booking for the same member.
pub async fn reschedule(
    state: &AppState,
    booking: &Booking,
    start: Timestamp,
    key: Option<String>,
) -> DomainResult<(StatusCode, BookingView)> {
    let tenant = booking.tenant_id;
    let hash = request_hash(
        "reschedule",
        &booking.id.to_string(),
        &json!({"start": start.to_string()}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status != BookingStatus::Confirmed {
                return Err(DomainError::conflict(
                    ErrorCode::BookingNotConfirmed,
                    "A cancelled booking cannot be rescheduled; book a new time instead.",
                ));
            }
            let duration = booking.end.duration_since(booking.start);
            let end = start.checked_add(duration).map_err(DomainError::internal)?;
            let now = Timestamp::now();
            let probe = pillow_engine::Interval::new(
                start
                    .saturating_sub(SignedDuration::from_hours(48))
                    .unwrap_or(start),
                start
                    .saturating_add(SignedDuration::from_hours(24 * 8))
                    .unwrap_or(start),
            )
            .ok_or_else(|| DomainError::internal("empty probe window"))?;
            let calendars = state
                .calendars
                .calendars(state.store.as_ref(), tenant, &[booking.user_id], probe, now)
                .await?;
            let calendar = calendars.first().ok_or_else(|| {
                DomainError::conflict(
                    ErrorCode::NoWorkingHours,
                    "The member has no working hours set.",
                )
            })?;
            // The booking's own time does not stand in its own way.
            let (own_start, own_end) = booking.occupied();
            let mut busy: Vec<_> = calendar.busy.as_ref().clone();
            if let Some(i) = busy
                .iter()
                .position(|b| b.start == own_start && b.end == own_end)
            {
                busy.swap_remove(i);
            }
            if let Err(rejection) =
                pillow_engine::check_slot(&calendar.rule, &busy, start, duration, now)
            {
                return Err(if rejection == pillow_engine::SlotRejection::Busy {
                    DomainError::conflict(ErrorCode::SlotUnavailable, "That time is not free.")
                        .with_alternatives(nearest_alternatives(&calendars, start, duration, now))
                } else {
                    crate::domain::bookings::rejection_to_error(rejection)
                });
            }
            let mut after = booking.clone();
            after.start = start;
            after.end = end;
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let jobs = booking_jobs(state, JobKind::BookingRescheduled, booking).await?;
            match state
                .store
                .reschedule_booking(tenant, booking.id, start, end, &jobs, response.as_ref())
                .await
            {
                Ok(Some(_)) => {
                    metrics::counter!("bookings_total", "outcome" => "rescheduled").increment(1);
                    // The answer recorded for the key, so a retry gets exactly this.
                    Ok(body)
                }
                Ok(None) => Err(DomainError::not_found("booking")),
                Err(pillow_store::StoreError::Conflict(Constraint::BookingOverlap)) => Err(
                    DomainError::conflict(ErrorCode::SlotUnavailable, "That time was just taken."),
                ),
                Err(pillow_store::StoreError::Conflict(Constraint::BookingNotConfirmed)) => {
                    Err(DomainError::conflict(
                        ErrorCode::BookingNotConfirmed,
                        "A cancelled booking cannot be rescheduled; book a new time instead.",
                    ))
                }
                Err(other) => Err(other.into()),
            }
        },
    )
    .await
}
