//! Moving a booking: the new time is checked like a new booking of the same member, its
//! per-day and per-week limits included (the booking moved does not count against itself).

use super::*;
use crate::domain::availability::limits::{caps_at, team_calendars_except};
use crate::domain::error::ErrorCode;
use crate::domain::error::ErrorKind;
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
            if !state
                .store
                .booking_group(tenant, booking.id)
                .await?
                .is_empty()
            {
                return Err(super::collective::refuse_move());
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
            let context = agent_context(state, booking).await?;
            let team = context.as_ref().map(|c| &c.team);
            let calendars = team_calendars_except(
                state,
                tenant,
                team,
                &[booking.user_id],
                probe,
                now,
                Some(booking.id),
            )
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
            // A member at a booking limit on the new day or week (this booking aside) is busy.
            if pillow_engine::in_full_period(&calendar.full, start) {
                return Err(slot_unavailable(nearest_alternatives(
                    &calendars, start, duration, now,
                )));
            }
            let caps = caps_at(team, calendar, start);
            let mut after = booking.clone();
            after.start = start;
            after.end = end;
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let jobs = booking_jobs(state, JobKind::BookingRescheduled, &after).await?;
            match state
                .store
                .reschedule_capped_booking(
                    tenant,
                    booking.id,
                    start,
                    end,
                    &caps,
                    &jobs,
                    response.as_ref(),
                )
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
                Err(pillow_store::StoreError::Conflict(Constraint::BookingLimit)) => {
                    // Another move or booking filled the day first: fresh alternatives.
                    let calendars = team_calendars_except(
                        state,
                        tenant,
                        team,
                        &[booking.user_id],
                        probe,
                        now,
                        Some(booking.id),
                    )
                    .await?;
                    Err(slot_unavailable(nearest_alternatives(
                        &calendars, start, duration, now,
                    )))
                }
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

/// The team of the agent the booking was made through, for its limits; `None` for a booking
/// made directly for a member, or whose agent is gone.
pub(super) async fn agent_context(
    state: &AppState,
    booking: &Booking,
) -> DomainResult<Option<std::sync::Arc<TeamContext>>> {
    let Some(agent) = booking.agent_id else {
        return Ok(None);
    };
    match state.teams.get(state, booking.tenant_id, agent).await {
        Ok(context) => Ok(Some(context)),
        Err(error) if error.kind == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}
