//! `book_appointment`: books for the caller, idempotent per call and slot.

use super::*;

/// Books for the caller. On a call, idempotent per call and slot: a platform retrying the same
/// request gets the same booking back, never a second one.
///
/// # Errors
/// `invalid_name`, `invalid_phone`, `invalid_email`, `invalid_slot`, `invalid_time` (422);
/// `slot_unavailable` (409) with up to three alternatives; the engine's rejections (422).
pub async fn book_appointment(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return book_appointment_calcom(ctx, args).await;
    }
    book_appointment_native(ctx, args).await
}
/// The caller's details and notes, checked as the bookings API checks them.
pub(crate) fn caller_details(
    args: &BookAppointmentArgs,
) -> Result<(Attendee, Option<String>), ToolError> {
    let attendee = check_attendee(&AttendeeBody {
        name: args.name.clone(),
        phone: given(&args.phone).map(str::to_string),
        email: given(&args.email).map(str::to_string),
    })
    .map_err(|e| {
        let mut error = ToolError::from(e);
        if let Some(field) = &mut error.field {
            *field = field.trim_start_matches("attendee.").to_string();
        }
        error
    })?;
    let notes = match given(&args.notes) {
        Some(notes) if notes.chars().count() > 2000 => {
            return Err(ToolError::invalid(
                "notes",
                ErrorCode::TooLong,
                "Notes may have at most 2000 characters.",
            ));
        }
        other => other.map(str::to_string),
    };
    Ok((attendee, notes))
}
/// Books on Cal.com for agents on the `calcom` backend. On a call, the call's key (call id,
/// agent and slot) is the adapter's idempotency hint, so a platform's retry finds the booking
/// the first attempt made instead of a "slot taken" or a second booking.
///
/// The confirmation code is Cal.com's booking uid: it is what Cal.com's own e-mails and pages
/// show, and what cancelling or rescheduling on Cal.com needs. It is too long to read out, so
/// the summary does not.
pub(crate) async fn book_appointment_calcom(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    let (attendee, notes) = caller_details(&args)?;
    if args.recurrence.is_some() {
        return Err(ToolError::invalid(
            "recurrence",
            ErrorCode::ConflictingParameters,
            "Recurring appointments can't be booked on this line; book each time on its own.",
        ));
    }
    let (start, slot_duration) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let duration = match slot_duration {
        Some(duration) => Some(duration),
        None => parse_minutes(args.duration)?,
    };
    let hint = given(&ctx.call_id).map(|call_id| call_key(call_id, ctx.agent, start, duration));
    let booked = crate::domain::calcom::book(
        ctx.state,
        ctx.agent,
        start,
        duration,
        &attendee,
        notes.as_deref(),
        hint.as_deref(),
    )
    .await
    .map_err(calcom_error)?;
    let zone = agent_zone(ctx.agent);
    let spoken = speech::spoken_time(booked.start, &zone, Timestamp::now());
    Ok(BookingAnswer {
        booked: true,
        summary: format!(
            "You're booked {spoken}; you'll get a confirmation by e-mail with the details."
        ),
        spoken_code: speech::spell_code(&booked.uid),
        confirmation_code: booked.uid,
        start_time: speech::iso_with_offset(booked.start, &zone),
        spoken,
        host_name: String::new(),
        occurrences: None,
    })
}
/// The idempotency key of a booking from a call: the call, the agent and the slot, hashed so
/// any call id fits.
pub(crate) fn call_key(
    call_id: &str,
    agent: &Agent,
    start: Timestamp,
    duration: Option<SignedDuration>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(call_id.as_bytes());
    hasher.update([0]);
    hasher.update(agent.id.0.as_bytes());
    hasher.update([0]);
    hasher.update(start.as_second().to_be_bytes());
    hasher.update(duration.map_or(0, |d| d.as_mins()).to_be_bytes());
    format!("voice-book:{}", hex::encode(hasher.finalize()))
}
/// Books for agents whose calendar lives here.
pub async fn book_appointment_native(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    // Everything about the caller is checked before the call's key is claimed, so a corrected
    // phone number on a retry is not answered with the first attempt's error.
    let (attendee, notes) = caller_details(&args)?;
    let series = args
        .recurrence
        .as_ref()
        .map(|r| {
            booking::parse_recurrence(r).map(|rrule| booking::SeriesRequest {
                rrule,
                allow_partial: args.allow_partial.unwrap_or(false),
            })
        })
        .transpose()?;
    let slot = requested_typed_slot(ctx, &args.slot_id, &args.start_time)?;
    let start = slot.start;
    let duration = match slot.duration {
        Some(duration) => Some(duration),
        None => parse_minutes(args.duration)?,
    };
    let context = team(ctx).await?;
    let offered =
        typed_request(ctx, args.appointment_type.as_deref(), slot.appointment_type).await?;
    // A type named over a slot offered for another kind takes its own length.
    let duration = match &offered {
        Some(o) if slot.duration.is_some() && slot.appointment_type != Some(o.id) => None,
        _ => duration,
    };
    let subject = Subject::Agent(context);
    // A returning caller keeps their previous host when that host is free (what
    // check_availability offered first).
    let history = caller_history(ctx, &args.phone, &args.email, Timestamp::now()).await?;
    let request = BookingRequest {
        start,
        duration,
        attendee,
        notes,
        call_id: ctx.call_id.clone(),
        preferred_host: history.previous.map(|b| b.user_id),
        channel: ctx.channel,
    };
    // On a live call the call and the slot make the key: a retry with the caller's details
    // spelled differently still gets the one booking.
    // A series is keyed apart from a single booking at its first time.
    let key = given(&ctx.call_id).map(|call_id| {
        let key = call_key(call_id, ctx.agent, start, duration);
        match &series {
            Some(series) => format!("{key}:series:{}", series.rrule),
            None => key,
        }
    });
    let mut hashed = json!({"start": start.to_string(), "duration": duration.map(|d| d.as_mins())});
    if let Some(offered) = &offered {
        hashed["appointment_type"] = json!(offered.id);
    }
    if let Some(series) = &series {
        hashed["recurrence"] = json!(series.rrule);
        hashed["allow_partial"] = json!(series.allow_partial);
    }
    let hash = request_hash("voice-book", &ctx.agent.id.to_string(), &hashed);
    let (subject, request, offered) = (&subject, &request, offered.as_ref());
    let series = series.as_ref();
    let (_, view) = booking::idempotent(
        ctx.state,
        ctx.tenant,
        key,
        hash,
        StatusCode::CREATED,
        |record| async move {
            let record = record.as_ref().map(|(k, h)| (k.as_str(), h.as_str()));
            match series {
                Some(series) => {
                    booking::book_series(
                        ctx.state, ctx.tenant, subject, request, offered, series, record,
                    )
                    .await
                }
                None => {
                    booking::book_typed(ctx.state, ctx.tenant, subject, request, offered, record)
                        .await
                }
            }
        },
    )
    .await
    .map_err(|e| ToolError::from_typed_domain(e, ctx, offered.map(|o| o.id)))?;
    Ok(booking_answer(ctx, &view))
}
/// The spoken confirmation of a booking from the booking layer's view of it.
pub(crate) fn booking_answer(ctx: &ToolContext<'_>, view: &BookingView) -> BookingAnswer {
    let zone = agent_zone(ctx.agent);
    let code = view.confirmation_code.clone();
    let start = view.start_time;
    let host_name = view.user_name.clone();
    let spoken = speech::spoken_time(start, &zone, Timestamp::now());
    let spoken_code = speech::spell_code(&code);
    let with = if host_name.is_empty() {
        String::new()
    } else {
        format!(" with {host_name}")
    };
    let occurrences = view
        .series
        .as_ref()
        .map(|series| series.occurrences.len())
        .filter(|n| *n > 0);
    let summary = match (occurrences, view.series.as_ref()) {
        (Some(n), Some(series)) => {
            let skipped = match series.skipped.len() {
                0 => String::new(),
                1 => " One of the times was taken, so it was left out.".to_string(),
                k => format!(" {k} of the times were taken, so they were left out."),
            };
            format!(
                "You're booked{with} for {n} appointments starting {spoken}; your confirmation \
                 code is {spoken_code}.{skipped}"
            )
        }
        _ => format!("You're booked{with} {spoken}; your confirmation code is {spoken_code}."),
    };
    BookingAnswer {
        booked: true,
        summary,
        confirmation_code: code,
        spoken_code,
        start_time: speech::iso_with_offset(start, &zone),
        spoken,
        host_name,
        occurrences,
    }
}
