//! Find, cancel and reschedule for agents whose calendar is on Cal.com. A Cal.com booking's
//! confirmation code is its uid: what Cal.com's own e-mails show and what cancelling or moving it
//! needs. It is too long to read out, so summaries don't; the agent keeps it from `find_booking`'s
//! answer. The in-call API's `BK_cal_` form is taken too.

use super::*;

/// The uid a caller or agent gave: trimmed, without the in-call `BK_cal_` prefix. Uids are
/// case-sensitive, so the case is kept.
pub(crate) fn calcom_uid(raw: &str) -> Result<&str, ToolError> {
    let uid = raw.trim();
    let uid = uid.strip_prefix("BK_cal_").unwrap_or(uid);
    if uid.is_empty() {
        return Err(ToolError::invalid(
            "confirmation_code",
            ErrorCode::MissingParameter,
            "I need the confirmation code of the appointment.",
        ));
    }
    Ok(uid)
}
/// A Cal.com failure about one booking: an unknown (or another agent's) uid is the same
/// "couldn't find" as on the native path.
pub(crate) fn calcom_booking_error(error: crate::domain::calcom::CalcomBackendError) -> ToolError {
    let error = calcom_error(error);
    if error.code == ErrorCode::NotFound {
        booking_not_found()
    } else {
        error
    }
}
/// A Cal.com booking as the voice tools show it (the native view's fields; no host name).
pub(crate) fn calcom_view(
    ctx: &ToolContext<'_>,
    booking: &crate::domain::calcom::CalcomBooked,
) -> AppointmentView {
    let zone = agent_zone(ctx.agent);
    let status = match booking.status.as_str() {
        "accepted" => "confirmed",
        other => other,
    };
    AppointmentView {
        confirmation_code: booking.uid.clone(),
        spoken_code: None,
        status: status.to_string(),
        start_time: speech::iso_with_offset(booking.start, &zone),
        end_time: speech::iso_with_offset(booking.end, &zone),
        spoken: speech::spoken_time(booking.start, &zone, Timestamp::now()),
        host_name: String::new(),
        attendee_name: booking
            .attendee
            .as_ref()
            .map_or_else(String::new, |a| a.name.clone()),
    }
}
/// Finds the caller's Cal.com appointments: by uid, or among the agent's upcoming bookings by
/// the attendee's e-mail (any case) or phone (the last digits given, at least seven).
pub(crate) async fn find_booking_calcom(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<FindAnswer, ToolError> {
    let found = if let Some(code) = given(&args.confirmation_code) {
        vec![
            crate::domain::calcom::booking(ctx.state, ctx.agent, calcom_uid(code)?)
                .await
                .map_err(calcom_booking_error)?,
        ]
    } else {
        let caller = CallerLookup::from_args(&args)?;
        crate::domain::calcom::upcoming(ctx.state, ctx.agent)
            .await
            .map_err(calcom_error)?
            .into_iter()
            .filter(|booking| {
                booking
                    .attendee
                    .as_ref()
                    .is_some_and(|a| caller.matches(a.phone_number.as_deref(), a.email.as_deref()))
            })
            .take(MAX_OPTIONS)
            .collect()
    };
    if found.is_empty() {
        return Err(nothing_upcoming());
    }
    let zone = agent_zone(ctx.agent);
    let lines: Vec<String> = found
        .iter()
        .map(|b| {
            let when = speech::spoken_time(b.start, &zone, Timestamp::now());
            if b.status == "cancelled" {
                format!("{when} (cancelled)")
            } else {
                when
            }
        })
        .collect();
    Ok(FindAnswer {
        found: true,
        bookings: found.iter().map(|b| calcom_view(ctx, b)).collect(),
        summary: found_summary(&lines),
    })
}
/// Cancels a Cal.com appointment of this agent's. Cancelling twice answers the same.
pub(crate) async fn cancel_booking_calcom(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<CancelAnswer, ToolError> {
    let uid = calcom_uid(&args.confirmation_code)?;
    let (before, cancelled) =
        crate::domain::calcom::cancel(ctx.state, ctx.agent, uid, given(&args.reason))
            .await
            .map_err(calcom_booking_error)?;
    let when = speech::spoken_time(before.start, &agent_zone(ctx.agent), Timestamp::now());
    Ok(CancelAnswer {
        cancelled: true,
        booking: calcom_view(ctx, &cancelled),
        summary: cancel_summary(&when, before.status == "cancelled"),
    })
}
/// Moves a Cal.com appointment of this agent's. Cal.com gives the moved booking a new uid,
/// which the answer carries as the new confirmation code.
pub(crate) async fn reschedule_booking_calcom(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<RescheduleAnswer, ToolError> {
    let uid = calcom_uid(&args.confirmation_code)?;
    let (start, _) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let moved = crate::domain::calcom::reschedule(ctx.state, ctx.agent, uid, start, None)
        .await
        .map_err(calcom_booking_error)?;
    let when = speech::spoken_time(moved.start, &agent_zone(ctx.agent), Timestamp::now());
    Ok(RescheduleAnswer {
        rescheduled: true,
        previous_confirmation_code: Some(uid.to_string()),
        booking: calcom_view(ctx, &moved),
        summary: format!(
            "Your appointment is moved to {when}; you'll get an updated confirmation by e-mail."
        ),
    })
}
