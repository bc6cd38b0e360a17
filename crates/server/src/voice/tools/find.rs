//! `find_booking`: the caller's appointment by code, phone or e-mail.

use super::*;

/// A booking as the voice tools show it.
pub(crate) fn voice_view(
    ctx: &ToolContext<'_>,
    booking: &Booking,
    host_name: &str,
) -> AppointmentView {
    let zone = agent_zone(ctx.agent);
    AppointmentView {
        confirmation_code: booking.confirmation_code.clone(),
        spoken_code: Some(speech::spell_code(&booking.confirmation_code)),
        status: booking.status.as_str().to_string(),
        start_time: speech::iso_with_offset(booking.start, &zone),
        end_time: speech::iso_with_offset(booking.end, &zone),
        spoken: speech::spoken_time(booking.start, &zone, Timestamp::now()),
        host_name: host_name.to_string(),
        attendee_name: booking.attendee.name.clone(),
    }
}
pub(crate) fn booking_not_found() -> ToolError {
    ToolError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "I couldn't find an appointment with that confirmation code.",
    )
}
/// The agent's booking with this code. Bookings of the tenant's other agents are not found:
/// each line answers for its own appointments.
pub(crate) async fn booking_by_code(
    ctx: &ToolContext<'_>,
    raw: &str,
) -> Result<Booking, ToolError> {
    let code: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    if !looks_like_code(&code) {
        return Err(booking_not_found());
    }
    ctx.state
        .store
        .find_booking_by_code(ctx.tenant, &code)
        .await?
        .filter(|b| b.agent_id == Some(ctx.agent.id))
        .ok_or_else(booking_not_found)
}
pub(crate) fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}
/// Finds the caller's appointment.
///
/// # Errors
/// `missing_parameter` (422) without a code, phone or e-mail; `not_found` (404).
pub async fn find_booking(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<FindAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return find_booking_calcom(ctx, args).await;
    }
    find_booking_native(ctx, args).await
}
/// Finds appointments of agents whose calendar lives here.
pub async fn find_booking_native(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<FindAnswer, ToolError> {
    let context = team(ctx).await?;
    let host = |b: &Booking| context.names.get(&b.user_id).cloned().unwrap_or_default();
    let found: Vec<Booking> = if let Some(code) = given(&args.confirmation_code) {
        vec![booking_by_code(ctx, code).await?]
    } else {
        let caller = CallerLookup::from_args(&args)?;
        caller
            .bookings(ctx, Timestamp::now(), Some(MAX_OPTIONS))
            .await?
    };
    if found.is_empty() {
        return Err(nothing_upcoming());
    }
    let views = found.iter().map(|b| voice_view(ctx, b, &host(b))).collect();
    let lines: Vec<String> = found
        .iter()
        .map(|b| {
            let when = speech::spoken_time(b.start, &agent_zone(ctx.agent), Timestamp::now());
            let with = host(b);
            let state = if b.status == BookingStatus::Cancelled {
                " (cancelled)"
            } else {
                ""
            };
            if with.is_empty() {
                format!("{when}{state}")
            } else {
                format!("{when} with {with}{state}")
            }
        })
        .collect();
    Ok(FindAnswer {
        found: true,
        bookings: views,
        summary: found_summary(&lines),
    })
}
/// How many pages of an agent's bookings a caller lookup reads at most.
pub(crate) const MAX_LOOKUP_PAGES: usize = 20;

/// Who a caller looking for their appointment without its code is: the digits of their phone
/// (at least seven, matched at the end) and their e-mail (any case), one of them at least.
pub(crate) struct CallerLookup {
    phone: Option<String>,
    email: Option<String>,
}
impl CallerLookup {
    pub(crate) fn from_args(args: &FindBookingArgs) -> Result<Self, ToolError> {
        let phone = given(&args.phone).map(digits).filter(|d| d.len() >= 7);
        let email = given(&args.email).map(str::to_string);
        if phone.is_none() && email.is_none() {
            return Err(ToolError::invalid(
                "confirmation_code",
                ErrorCode::MissingParameter,
                "I need the confirmation code, or the phone number or e-mail the appointment \
                 was booked with.",
            ));
        }
        Ok(Self { phone, email })
    }

    /// The caller's confirmed bookings with this agent that end after `since`, soonest first,
    /// at most `enough` of them when given. Reads the agent's bookings a page at a time, so a
    /// busy agent's caller is found although thousands of bookings come before theirs (up to
    /// [`MAX_LOOKUP_PAGES`] pages, which bounds what one spoken question costs).
    pub(crate) async fn bookings(
        &self,
        ctx: &ToolContext<'_>,
        since: Timestamp,
        enough: Option<usize>,
    ) -> Result<Vec<Booking>, ToolError> {
        let page = pillow_store::DEFAULT_BOOKING_LIMIT;
        let mut seen = std::collections::HashSet::new();
        let mut mine = Vec::new();
        let mut from = since;
        for _ in 0..MAX_LOOKUP_PAGES {
            let listed = ctx
                .state
                .store
                .list_bookings(
                    ctx.tenant,
                    &BookingFilter {
                        status: Some(BookingStatus::Confirmed),
                        agent_id: Some(ctx.agent.id),
                        from: Some(from),
                        limit: Some(page),
                        ..BookingFilter::default()
                    },
                )
                .await?;
            let full = listed.len() >= page as usize;
            let mut fresh = false;
            let mut last_end = from;
            for booking in listed {
                last_end = last_end.max(booking.end);
                if !seen.insert(booking.id) {
                    continue;
                }
                fresh = true;
                if self.matches(
                    booking.attendee.phone.as_deref(),
                    booking.attendee.email.as_deref(),
                ) {
                    mine.push(booking);
                }
            }
            if enough.is_some_and(|n| mine.len() >= n) || !full || !fresh {
                break;
            }
            // The next page: bookings ending after the last end seen, less a moment so that
            // those ending with it are read again (and skipped) rather than missed.
            from = last_end
                .checked_sub(SignedDuration::from_nanos(1))
                .unwrap_or(last_end);
        }
        mine.sort_by_key(|b| (b.start, b.id));
        if let Some(n) = enough {
            mine.truncate(n);
        }
        Ok(mine)
    }

    /// Whether an attendee with this phone and e-mail is the caller.
    pub(crate) fn matches(&self, phone: Option<&str>, email: Option<&str>) -> bool {
        let phone_ok = self
            .phone
            .as_ref()
            .is_some_and(|given| phone.is_some_and(|p| digits(p).ends_with(given.as_str())));
        let email_ok = self
            .email
            .as_ref()
            .is_some_and(|given| email.is_some_and(|e| e.eq_ignore_ascii_case(given)));
        phone_ok || email_ok
    }
}
pub(crate) fn nothing_upcoming() -> ToolError {
    ToolError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "I couldn't find an upcoming appointment under that phone number or e-mail.",
    )
}
/// "I found your appointment …" for one appointment's spoken line, or a list of several.
pub(crate) fn found_summary(lines: &[String]) -> String {
    match lines {
        [one] => format!("I found your appointment {one}."),
        _ => format!(
            "I found {} appointments: {}.",
            lines.len(),
            speech::join_and(lines)
        ),
    }
}
