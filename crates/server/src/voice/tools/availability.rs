//! `check_availability`: open times for the agent's team, at most three, made for speech.

use super::*;

/// Open times for the agent's team, made for speech.
///
/// # Errors
/// `invalid_date`, `invalid_range`, `invalid_duration`, `invalid_timezone`,
/// `conflicting_parameters` (422) for arguments that cannot be used; `no_working_hours` (409)
/// when nobody on the team has working hours.
pub async fn check_availability(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return check_availability_calcom(ctx, args).await;
    }
    check_availability_native(ctx, args).await
}
/// A Cal.com backend failure as a tool error (through [`DomainError`], so the codes match).
pub(crate) fn calcom_error(error: crate::domain::calcom::CalcomBackendError) -> ToolError {
    DomainError::from(error).into()
}
/// What an availability question asks about, read the same way for every backend: the zone
/// (the caller's or the agent's), the length, the local days and their window in instants.
pub(crate) struct RequestedTime {
    zone: TimeZone,
    requested: Option<SignedDuration>,
    today: Date,
    first: Date,
    last: Date,
    single: bool,
    window: Interval,
}
pub(crate) fn requested_time(
    ctx: &ToolContext<'_>,
    args: &CheckAvailabilityArgs,
    now: Timestamp,
) -> Result<RequestedTime, ToolError> {
    let zone = match given(&args.timezone) {
        Some(name) => crate::domain::time::Zone::parse(name)
            .map_err(|e| ToolError::invalid("timezone", ErrorCode::InvalidTimezone, e.to_string()))?
            .tz()
            .clone(),
        None => agent_zone(ctx.agent),
    };
    let requested = parse_minutes(args.duration)?;
    let today = local_date(now, &zone);
    let (first, last, single) = requested_days(args, today)?;
    let window = Interval::new(
        local_midnight(first, &zone)?,
        local_midnight(last.tomorrow().map_err(|_| out_of_range("date"))?, &zone)?,
    )
    .ok_or_else(|| out_of_range("date"))?;
    Ok(RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    })
}
/// Open times for agents on the `calcom` backend: the same answer as the native path, from
/// Cal.com's `GET /v2/slots` for the days asked about. Nearest open days are not searched
/// (that would be a second Cal.com request per question), so `nearest_available_days` is empty.
pub(crate) async fn check_availability_calcom(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    let now = Timestamp::now();
    let RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    } = requested_time(ctx, &args, now)?;
    let part = args.part_of_day;
    let slots: Vec<crate::domain::calcom::CalcomSlot> = crate::domain::calcom::offered_slots(
        ctx.state,
        ctx.agent,
        window.start,
        window.end,
        requested,
    )
    .await
    .map_err(calcom_error)?
    .into_iter()
    .filter(|s| {
        s.start > now && part.is_none_or(|p| p.contains(s.start.to_zoned(zone.clone()).time()))
    })
    .collect();
    // Cal.com's slots carry the event type's length; without any, the asked length (or 30 min).
    let duration = slots
        .first()
        .map(|s| s.end.duration_since(s.start))
        .or(requested)
        .unwrap_or(SignedDuration::from_mins(30));
    let starts: Vec<Timestamp> = slots.iter().map(|s| s.start).collect();
    let picked: Vec<Timestamp> = speech::spread(&starts, MAX_OPTIONS)
        .into_iter()
        .map(|i| starts[i])
        .collect();
    let options: Vec<SlotOption> = picked
        .iter()
        .map(|start| option(ctx, *start, duration, &zone, now))
        .collect();
    let summary = if options.is_empty() {
        format!(
            "Nothing is open {}.",
            describe_request(first, last, single, today, part)
        )
    } else {
        summarize_options(&options, &picked, starts.len(), &zone, today)
    };
    Ok(AvailabilityAnswer {
        date: if first == last {
            first.to_string()
        } else {
            format!("{first}/{last}")
        },
        timezone: zone_name(&zone),
        options,
        summary,
        nearest_available_days: Vec::new(),
        duration_minutes: duration.as_mins(),
        reason: None,
        upcoming_booking: None,
    })
}
/// The days an availability question covers, in `zone`: first and last, included.
pub(crate) fn requested_days(
    args: &CheckAvailabilityArgs,
    today: Date,
) -> Result<(Date, Date, bool), ToolError> {
    let (first, last, single) = match (
        given(&args.date),
        given(&args.start_date),
        given(&args.end_date),
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ToolError::invalid(
                "date",
                ErrorCode::ConflictingParameters,
                "Give either a date or a start_date and end_date, not both.",
            ));
        }
        (Some(date), None, None) => {
            let day = parse_day("date", date, today)?;
            (day, day, true)
        }
        (None, Some(start), end) => {
            let first = parse_day("start_date", start, today)?;
            let last = match end {
                Some(end) => parse_day("end_date", end, today)?,
                None => first
                    .checked_add(6.days())
                    .map_err(|_| out_of_range("start_date"))?,
            };
            (first, last, first == last)
        }
        (None, None, Some(end)) => {
            let last = parse_day("end_date", end, today)?;
            (today, last, today == last)
        }
        (None, None, None) => (
            today,
            today
                .checked_add(6.days())
                .map_err(|_| out_of_range("date"))?,
            false,
        ),
    };
    if last < first {
        return Err(ToolError::invalid(
            "end_date",
            ErrorCode::InvalidRange,
            "The end date is before the start date.",
        ));
    }
    if last < today {
        return Err(ToolError::invalid(
            if single { "date" } else { "end_date" },
            ErrorCode::InThePast,
            format!(
                "{} has already passed; today is {}.",
                last.strftime("%A, %B %-d"),
                today.strftime("%A, %B %-d")
            ),
        ));
    }
    if (last - first).get_days() >= MAX_RANGE_DAYS {
        return Err(ToolError::invalid(
            "end_date",
            ErrorCode::WindowTooLong,
            format!("Ask about at most {MAX_RANGE_DAYS} days at once."),
        ));
    }
    Ok((first.max(today), last, single))
}
/// The local date of an instant.
pub(crate) fn local_date(at: Timestamp, zone: &TimeZone) -> Date {
    at.to_zoned(zone.clone()).date()
}
/// Open times for agents whose calendar lives here.
pub async fn check_availability_native(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    let now = Timestamp::now();
    let RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    } = requested_time(ctx, &args, now)?;

    // One load covers the window and the days around it searched when it is full.
    let search_from = first
        .checked_sub(NEAREST_DAYS_SEARCH.days())
        .unwrap_or(first)
        .max(today);
    let search_to = last.checked_add(NEAREST_DAYS_SEARCH.days()).unwrap_or(last);
    let search = Interval::new(
        local_midnight(search_from, &zone)?,
        local_midnight(search_to.tomorrow().unwrap_or(search_to), &zone)?,
    )
    .unwrap_or(window);

    let context = team(ctx).await?;
    let offered = appointment_type(ctx, args.appointment_type.as_deref()).await?;
    let members = match &offered {
        Some(offered) => offered.members(&context.team.members),
        None => context.team.members.clone(),
    };
    let calendars = crate::domain::availability::limits::team_calendars(
        ctx.state,
        ctx.tenant,
        Some(&context.team),
        &members,
        search,
        now,
    )
    .await?;
    // Slots come from the calendars as cached (kept lists are tied to them); the default
    // length reads them as the appointment type shapes them.
    let shape = offered.as_ref().map(|o| o.shape());
    let shaped = offered
        .as_ref()
        .map(|offered| offered.shape_calendars(calendars.clone()));
    let cached = calendars;
    let calendars = shaped.as_deref().unwrap_or(&cached);
    let slots_in = |window: Interval, duration: SignedDuration| {
        ctx.state.calendars.slots.team_slots(
            ctx.tenant,
            &cached,
            shape.as_ref(),
            window,
            duration,
            now,
        )
    };
    if calendars.is_empty() {
        return Err(ToolError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoWorkingHours,
            "Nobody here has working hours set up yet, so I can't offer times.",
        ));
    }
    let duration = requested
        .or(offered.as_ref().map(|o| o.duration()))
        .or_else(|| {
            context
                .team
                .settings
                .event_type_config
                .duration
                .map(SignedDuration::from_mins)
        })
        .unwrap_or_else(|| calendars[0].rule.slot_duration());
    let part = args.part_of_day;
    let fits =
        |start: Timestamp| part.is_none_or(|p| p.contains(start.to_zoned(zone.clone()).time()));

    let open: Vec<_> = slots_in(window, duration)
        .iter()
        .filter(|s| fits(s.slot.start))
        .cloned()
        .collect();
    let history = caller_history(ctx, &args.caller_phone, &args.caller_email, now).await?;
    let wishes = wishes(&args, &history, &zone)?;
    let (picked, reason) = choose(&open, &wishes, &zone, &context.names);
    let kind = offered.as_ref().map(|o| o.id);
    let options: Vec<SlotOption> = picked
        .iter()
        .map(|start| typed_option(ctx, *start, duration, kind, &zone, now))
        .collect();

    let asked = describe_request(first, last, single, today, part);
    let mut nearest_available_days = Vec::new();
    let summary = if options.is_empty() {
        let open_days: BTreeSet<Date> = slots_in(search, duration)
            .iter()
            .map(|s| s.slot.start)
            .filter(|s| fits(*s))
            .map(|s| local_date(s, &zone))
            .filter(|d| *d < first || *d > last)
            .collect();
        let distance = |d: &Date| {
            if *d < first {
                (first - *d).get_days()
            } else {
                (*d - last).get_days()
            }
        };
        let mut nearest: Vec<Date> = open_days.into_iter().collect();
        nearest.sort_by_key(|d| (distance(d), *d));
        nearest.truncate(MAX_OPTIONS);
        nearest.sort();
        nearest_available_days = nearest.iter().map(Date::to_string).collect();
        let spoken: Vec<String> = nearest
            .iter()
            .map(|d| speech::spoken_date(*d, today))
            .collect();
        if spoken.is_empty() {
            format!("Nothing is open {asked}, nor in the two weeks around it.")
        } else {
            format!(
                "Nothing is open {asked}. The nearest days with openings are {}.",
                speech::join_and(&spoken)
            )
        }
    } else {
        summarize_options(&options, &picked, open.len(), &zone, today)
    };
    let host = |b: &Booking| context.names.get(&b.user_id).cloned().unwrap_or_default();
    let upcoming_booking = history
        .upcoming
        .as_ref()
        .map(|b| voice_view(ctx, b, &host(b)));
    let mut said = Vec::new();
    if let Some(upcoming) = &upcoming_booking {
        let with = if upcoming.host_name.is_empty() {
            String::new()
        } else {
            format!(" with {}", upcoming.host_name)
        };
        said.push(format!(
            "I see you already have an appointment: {}{with}.",
            upcoming.spoken
        ));
    }
    said.extend(reason.clone());
    said.push(summary);
    Ok(AvailabilityAnswer {
        date: if first == last {
            first.to_string()
        } else {
            format!("{first}/{last}")
        },
        timezone: zone_name(&zone),
        options,
        summary: said.join(" "),
        nearest_available_days,
        duration_minutes: duration.as_mins(),
        reason,
        upcoming_booking,
    })
}
/// "on Tuesday, March 12 in the morning", "between today and Sunday".
pub(crate) fn describe_request(
    first: Date,
    last: Date,
    single: bool,
    today: Date,
    part: Option<PartOfDay>,
) -> String {
    let days = if single || first == last {
        let day = speech::spoken_date(first, today);
        if first == today || first.checked_sub(1.day()).ok() == Some(today) {
            day
        } else {
            format!("on {day}")
        }
    } else {
        format!(
            "between {} and {}",
            speech::spoken_date(first, today),
            speech::spoken_date(last, today)
        )
    };
    match part {
        Some(part) => format!("{days} {}", part.phrase()),
        None => days,
    }
}
/// One line: "Tuesday I have 9 AM, 1 PM or 4:30 PM." when the options share a day, else
/// "I have today at 2 PM, Thursday at 10 AM or Friday at 4 PM."
pub(crate) fn summarize_options(
    options: &[SlotOption],
    picked: &[Timestamp],
    total: usize,
    zone: &TimeZone,
    today: Date,
) -> String {
    let dates: BTreeSet<Date> = picked.iter().map(|s| local_date(*s, zone)).collect();
    let more = if total > options.len() {
        format!(" ({total} openings in all)")
    } else {
        String::new()
    };
    if let [date] = dates.into_iter().collect::<Vec<_>>()[..] {
        let times: Vec<String> = picked
            .iter()
            .map(|s| speech::clock(s.to_zoned(zone.clone()).time()))
            .collect();
        let mut day = speech::spoken_date(date, today);
        if let Some(first) = day.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{day} I have {}{more}.", speech::join_or(&times))
    } else {
        let spoken: Vec<String> = options.iter().map(|o| o.spoken.clone()).collect();
        format!("I have {}{more}.", speech::join_or(&spoken))
    }
}
