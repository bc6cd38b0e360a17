//! `cancel_booking`: cancels the caller's appointment; twice answers the same.

use super::*;

/// The answer to a cancellation: done now, or done before.
pub(crate) fn cancel_summary(when: &str, already: bool) -> String {
    if already {
        format!("That appointment, {when}, was already cancelled.")
    } else {
        format!("Your appointment {when} is cancelled.")
    }
}
/// Cancels the caller's appointment. Cancelling twice answers the same.
///
/// # Errors
/// `not_found` (404) for a code this agent did not book.
pub async fn cancel_booking(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<CancelAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return cancel_booking_calcom(ctx, args).await;
    }
    cancel_booking_native(ctx, args).await
}
/// Cancels for agents whose calendar lives here.
pub async fn cancel_booking_native(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<CancelAnswer, ToolError> {
    let booking = booking_by_code(ctx, &args.confirmation_code).await?;
    let already = booking.status == BookingStatus::Cancelled;
    let reason = given(&args.reason).map(str::to_string);
    let (_, view) = crate::domain::bookings::cancel(ctx.state, &booking, reason, None)
        .await
        .map_err(|e| ToolError::from_domain(e, ctx))?;
    let host = view.user_name;
    let when = speech::spoken_time(booking.start, &agent_zone(ctx.agent), Timestamp::now());
    let summary = cancel_summary(&when, already);
    let mut cancelled = booking.clone();
    cancelled.status = BookingStatus::Cancelled;
    Ok(CancelAnswer {
        cancelled: true,
        booking: voice_view(ctx, &cancelled, &host),
        summary,
    })
}
