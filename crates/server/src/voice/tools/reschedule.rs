//! `reschedule_booking`: moves the caller's appointment to a time that is free.

use super::*;

/// Moves the caller's appointment; the old time is released only if the new one is taken.
///
/// # Errors
/// `not_found` (404); `slot_unavailable` (409) with alternatives; `booking_not_confirmed`
/// (409) for a cancelled booking; the engine's rejections (422).
pub async fn reschedule_booking(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<RescheduleAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return reschedule_booking_calcom(ctx, args).await;
    }
    reschedule_booking_native(ctx, args).await
}
/// Reschedules for agents whose calendar lives here.
pub async fn reschedule_booking_native(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<RescheduleAnswer, ToolError> {
    let booking = booking_by_code(ctx, &args.confirmation_code).await?;
    let (start, _) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let scope = crate::domain::bookings::SeriesScope::parse(
        given(&args.scope).map(str::to_ascii_lowercase).as_deref(),
    )?;
    let (_, view) =
        crate::domain::bookings::reschedule_in_series(ctx.state, &booking, start, scope, None)
            .await
            .map_err(|e| ToolError::from_domain(e, ctx))?;
    let moved_with = view
        .series
        .as_ref()
        .filter(|_| scope != crate::domain::bookings::SeriesScope::Occurrence)
        .map(|series| {
            series
                .occurrences
                .iter()
                .filter(|o| o.status == pillow_store::BookingStatus::Confirmed)
                .filter(|o| {
                    scope == crate::domain::bookings::SeriesScope::Series || o.start_time >= start
                })
                .count()
        });
    let host = view.user_name;
    let mut moved = booking.clone();
    moved.end = start
        .checked_add(booking.end.duration_since(booking.start))
        .unwrap_or(booking.end);
    moved.start = start;
    let when = speech::spoken_time(start, &agent_zone(ctx.agent), Timestamp::now());
    let with = if host.is_empty() {
        String::new()
    } else {
        format!(" with {host}")
    };
    Ok(RescheduleAnswer {
        rescheduled: true,
        previous_confirmation_code: None,
        booking: voice_view(ctx, &moved, &host),
        summary: match moved_with {
            Some(n) if n > 1 => format!(
                "Your {n} appointments are moved, the first to {when}{with}; your confirmation \
                 code stays {}.",
                speech::spell_code(&booking.confirmation_code)
            ),
            _ => format!(
                "Your appointment is moved to {when}{with}; your confirmation code stays {}.",
                speech::spell_code(&booking.confirmation_code)
            ),
        },
    })
}
