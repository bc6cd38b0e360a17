//! `show_booking_calendar` and `get_call_booking_state`: the agent and the caller's browser on
//! one web call. The first opens the in-call calendar on the caller's screen, set to what they
//! asked for; the second tells the agent what the caller booked in it, so it need not ask.

use super::*;
use crate::live::{CalendarPreset, CallEvent, CallKey, SuggestedTime};

/// What `show_booking_calendar` takes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ShowCalendarArgs {
    /// The first day to show: YYYY-MM-DD, "today", "tomorrow", a weekday name or "next week".
    /// Default today.
    #[serde(default)]
    pub date: Option<String>,
    /// The last day the caller asked about (YYYY-MM-DD), included. Default a week from `date`.
    #[serde(default)]
    pub end_date: Option<String>,
    /// Only this part of the day: morning, afternoon or evening.
    #[serde(default, deserialize_with = "lenient_part_of_day")]
    #[schemars(with = "Option<PartOfDay>")]
    pub part_of_day: Option<PartOfDay>,
    /// The call's id, for clients that do not send the call with the request (MCP); Retell and
    /// Vapi send it themselves.
    #[serde(default)]
    pub call_id: Option<String>,
    /// What to put first: "earliest" or "same_time_as_last" (the time of the caller's previous
    /// appointment). The caller's previous host comes first anyway when they are known.
    #[serde(default, deserialize_with = "lenient_preference")]
    #[schemars(with = "Option<Preference>")]
    pub prefer: Option<Preference>,
    /// A day of the week the caller prefers within the days shown, e.g. "tuesday".
    #[serde(default)]
    pub weekday: Option<String>,
    /// The caller's phone number, when they gave one (the call's own number is used anyway).
    #[serde(default)]
    pub caller_phone: Option<String>,
    /// The caller's e-mail, when they gave it.
    #[serde(default)]
    pub caller_email: Option<String>,
}

/// What `show_booking_calendar` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct ShowCalendarAnswer {
    /// Whether a browser on this call was listening and got the calendar: when false, offer
    /// times by voice (check_availability).
    pub browser_listening: bool,
    /// The days shown, `first/last` (YYYY-MM-DD, the business's zone).
    pub date: String,
    /// One line the agent can read out.
    pub summary: String,
    /// The times the calendar puts first, best first, as the agent may say them ("Tuesday at
    /// 2 PM"); empty when the caller asked for nothing to rank by.
    pub suggested: Vec<String>,
}

/// What `get_call_booking_state` takes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CallBookingStateArgs {
    /// The call's id, for clients that do not send the call with the request (MCP).
    #[serde(default)]
    pub call_id: Option<String>,
}

/// What `get_call_booking_state` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct CallBookingState {
    /// Whether the caller booked during this call (in the calendar on their screen or by voice).
    pub booked: bool,
    /// The call's bookings, soonest first.
    pub bookings: Vec<AppointmentView>,
    /// One line the agent can read out, e.g. "I see you've booked Tuesday at 2 PM with Dr. Lee."
    pub summary: String,
}

/// The call a tool acts on: the platform's, else the `call_id` argument.
fn call_of(ctx: &ToolContext<'_>, argument: &Option<String>) -> Result<CallKey, ToolError> {
    let raw = given(&ctx.call_id).or(given(argument)).ok_or_else(|| {
        ToolError::invalid(
            "call_id",
            ErrorCode::MissingParameter,
            "This works during a web call: the call's id is missing, so offer times by voice.",
        )
    })?;
    let call_id = CallKey::check_call_id(raw).ok_or_else(|| {
        ToolError::invalid(
            "call_id",
            ErrorCode::InvalidCallId,
            "The call id is 1 to 128 visible characters.",
        )
    })?;
    Ok(CallKey {
        tenant: ctx.tenant,
        agent: ctx.agent.id,
        call_id: call_id.to_string(),
    })
}

/// The hours `[first, end)` of a part of the day, as the widget keeps them.
pub(crate) fn part_hours(part: PartOfDay) -> [u8; 2] {
    match part {
        PartOfDay::Morning => [0, 12],
        PartOfDay::Afternoon => [12, 17],
        PartOfDay::Evening => [17, 24],
    }
}

/// Opens the calendar in the caller's browser on this call, set to the days and part of the
/// day asked about; answers whether a browser was listening.
///
/// # Errors
/// `missing_parameter` or `invalid_call_id` (422) without a usable call id; the date errors of
/// `check_availability`.
pub async fn show_booking_calendar(
    ctx: &ToolContext<'_>,
    args: ShowCalendarArgs,
) -> Result<ShowCalendarAnswer, ToolError> {
    let call = call_of(ctx, &args.call_id)?;
    let zone = agent_zone(ctx.agent);
    let today = local_date(Timestamp::now(), &zone);
    let days = CheckAvailabilityArgs {
        start_date: args.date.clone().or_else(|| Some("today".into())),
        end_date: args.end_date.clone(),
        ..CheckAvailabilityArgs::default()
    };
    let (first, last, _) = requested_days(&days, today)?;
    let part = args.part_of_day;
    let asked = describe_request(first, last, first == last, today, part);
    let ranked = suggestions(ctx, &args, first, last).await;
    let preset = CalendarPreset {
        from: first.to_string(),
        to: last.to_string(),
        hours: part.map(part_hours),
        note: format!("Showing times {asked}, as asked on the call."),
        suggested: ranked.iter().map(|(time, _)| time.clone()).collect(),
    };
    let listening = match ctx.state.bus.publish(&call, CallEvent::Show(preset)).await {
        Ok(delivered) => delivered > 0,
        Err(error) => {
            tracing::warn!(%error, "show_booking_calendar: the live-call bus failed");
            false
        }
    };
    let spoken: Vec<String> = ranked.into_iter().map(|(_, spoken)| spoken).collect();
    let summary = if listening && !spoken.is_empty() {
        format!(
            "I've opened the calendar on your screen with the times {asked}, and put {} first; \
             pick one there, or tell me which you'd like.",
            speech::join_and(&spoken)
        )
    } else if listening {
        format!(
            "I've opened the calendar on your screen with the times {asked}; pick one there, or \
             tell me which you'd like."
        )
    } else {
        "I can't show the calendar on your screen right now, so let me read you some times \
         instead."
            .to_string()
    };
    Ok(ShowCalendarAnswer {
        browser_listening: listening,
        date: format!("{first}/{last}"),
        summary,
        suggested: spoken,
    })
}

/// The times to put first in the calendar, ranked as `check_availability` ranks its options
/// (what the caller asked for, then their history), each with how to say it. Nothing when the
/// caller asked for nothing to rank by and has no history, and nothing when ranking fails: the
/// calendar still opens, soonest first.
async fn suggestions(
    ctx: &ToolContext<'_>,
    args: &ShowCalendarArgs,
    first: Date,
    last: Date,
) -> Vec<(SuggestedTime, String)> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return Vec::new();
    }
    let question = CheckAvailabilityArgs {
        start_date: Some(first.to_string()),
        end_date: Some(last.to_string()),
        part_of_day: args.part_of_day,
        prefer: args.prefer,
        weekday: args.weekday.clone(),
        caller_phone: args.caller_phone.clone(),
        caller_email: args.caller_email.clone(),
        ..CheckAvailabilityArgs::default()
    };
    let answer = match super::availability::check_availability_native(ctx, question).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::debug!(?error, "show_booking_calendar: no suggestions");
            return Vec::new();
        }
    };
    // Without a wish or a reason the options are only spread over the days: not a ranking.
    let asked = args.prefer.is_some() || given(&args.weekday).is_some();
    if !asked && answer.reason.is_none() {
        return Vec::new();
    }
    answer
        .options
        .into_iter()
        .enumerate()
        .filter_map(|(i, option)| {
            let start: Timestamp = option.start_time.parse().ok()?;
            let time = SuggestedTime {
                start_time: start.to_string(),
                reason: if i == 0 { answer.reason.clone() } else { None },
            };
            Some((time, option.spoken))
        })
        .collect()
}

/// What was booked during this call, however it was booked (the widget sends the call's id
/// with its booking): read from the bookings, so any server process answers the same.
///
/// # Errors
/// `missing_parameter` or `invalid_call_id` (422) without a usable call id.
pub async fn get_call_booking_state(
    ctx: &ToolContext<'_>,
    args: CallBookingStateArgs,
) -> Result<CallBookingState, ToolError> {
    let call = call_of(ctx, &args.call_id)?;
    let context = team(ctx).await?;
    // A call books minutes before it ends: its bookings are still ahead.
    let upcoming = ctx
        .state
        .store
        .list_bookings(
            ctx.tenant,
            &BookingFilter {
                status: Some(BookingStatus::Confirmed),
                agent_id: Some(ctx.agent.id),
                from: Some(Timestamp::now()),
                ..BookingFilter::default()
            },
        )
        .await?;
    let mine: Vec<&Booking> = upcoming
        .iter()
        .filter(|b| b.call_id.as_deref() == Some(call.call_id.as_str()))
        .collect();
    let host = |b: &Booking| context.names.get(&b.user_id).cloned().unwrap_or_default();
    let bookings: Vec<AppointmentView> =
        mine.iter().map(|b| voice_view(ctx, b, &host(b))).collect();
    let summary = match bookings.as_slice() {
        [] => "Nothing has been booked on this call yet.".to_string(),
        views => {
            let lines: Vec<String> = views
                .iter()
                .map(|v| {
                    let with = if v.host_name.is_empty() {
                        String::new()
                    } else {
                        format!(" with {}", v.host_name)
                    };
                    format!(
                        "{}{with} (confirmation code {})",
                        v.spoken,
                        v.spoken_code.clone().unwrap_or_default()
                    )
                })
                .collect();
            format!("I see you've booked {}.", speech::join_and(&lines))
        }
    };
    Ok(CallBookingState {
        booked: !bookings.is_empty(),
        bookings,
        summary,
    })
}
