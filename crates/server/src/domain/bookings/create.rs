//! Creating a booking: check the slot, pick a member, write it with its jobs in one transaction.

use super::*;
use crate::domain::appointment_types::Offered;
use crate::domain::availability::limits::{caps_at, team_calendars};
use crate::domain::error::Alternative;
use crate::domain::error::ErrorCode;
use crate::outbox::{BookingChange, Change, JobKind, NotificationPlan, OutboxJob};
use pillow_store::{BookingId, UserId};

/// A rejected time as a 422 naming the field.
pub fn rejection_to_error(rejection: SlotRejection) -> DomainError {
    let (field, message) = match rejection {
        SlotRejection::InThePast => ("start_time", "That time is in the past."),
        SlotRejection::TooSoon => (
            "start_time",
            "That time is too soon: the minimum booking notice applies.",
        ),
        SlotRejection::TooFarAhead => (
            "start_time",
            "That time is too far ahead: the maximum booking notice applies.",
        ),
        SlotRejection::DurationNotAllowed => (
            "duration",
            "That duration is not offered: use a multiple of the slot length.",
        ),
        SlotRejection::OutsideWorkingHours => ("start_time", "That time is outside working hours."),
        SlotRejection::OffGrid => (
            "start_time",
            "Appointments start on the slot grid; ask for availability to see the times offered.",
        ),
        SlotRejection::Busy => ("start_time", "That time is no longer available."),
    };
    DomainError::invalid(field, ErrorCode::of_rejection(rejection), message)
}

/// Up to three free slots nearest to `wanted`, for a 409's `alternatives`.
pub fn nearest_alternatives(
    calendars: &[MemberCalendar],
    wanted: Timestamp,
    duration: SignedDuration,
    now: Timestamp,
) -> Vec<Alternative> {
    let from = wanted
        .saturating_sub(SignedDuration::from_hours(48))
        .unwrap_or(wanted)
        .max(now);
    let to = wanted
        .saturating_add(SignedDuration::from_hours(24 * 7))
        .unwrap_or(wanted);
    let Some(window) = Interval::new(from, to) else {
        return Vec::new();
    };
    let mut slots = team_availability(calendars, window, duration, now);
    slots.sort_by_key(|s| s.slot.start.duration_since(wanted).abs());
    let mut nearest: Vec<_> = slots.into_iter().take(3).collect();
    nearest.sort_by_key(|s| s.slot.start);
    nearest
        .into_iter()
        .map(|s| Alternative {
            start: s.slot.start,
            end: s.slot.end,
        })
        .collect()
}

pub(crate) fn slot_unavailable(alternatives: Vec<Alternative>) -> DomainError {
    DomainError::conflict(
        ErrorCode::SlotUnavailable,
        "That time was just taken or is not free; choose one of the alternatives.",
    )
    .with_alternatives(alternatives)
}

/// Books `request` for `subject`, answering the 201 body. `record` is the idempotency key and
/// request hash whose answer is stored in the same transaction as the booking.
pub async fn book(
    state: &AppState,
    tenant: TenantId,
    subject: &Subject,
    request: &BookingRequest,
    record: Option<(&str, &str)>,
) -> DomainResult<BookingView> {
    book_typed(state, tenant, subject, request, None, record).await
}

/// [`book`] as one of the agent's appointment types (`offered`): its hosts, length, buffers
/// and notice apply.
pub async fn book_typed(
    state: &AppState,
    tenant: TenantId,
    subject: &Subject,
    request: &BookingRequest,
    offered: Option<&Offered>,
    record: Option<(&str, &str)>,
) -> DomainResult<BookingView> {
    let now = Timestamp::now();
    let (members, team, agent) = match subject {
        Subject::Agent(context) => (
            context.team.members.clone(),
            Some(&context.team),
            Some(&context.agent),
        ),
        Subject::User(user) => (vec![user.id], None, None),
    };
    let members = match offered {
        Some(offered) => offered.members(&members),
        None => members,
    };
    let shaped = |calendars: Vec<MemberCalendar>| match offered {
        Some(offered) => offered.shape_calendars(calendars),
        None => calendars,
    };
    let duration = request
        .duration
        .or(offered.map(Offered::duration))
        .or_else(|| {
            team.as_ref()
                .and_then(|t| t.settings.event_type_config.duration)
                .map(SignedDuration::from_mins)
        });
    let probe = Interval::new(
        request
            .start
            .saturating_sub(SignedDuration::from_hours(48))
            .unwrap_or(request.start),
        request
            .start
            .saturating_add(SignedDuration::from_hours(24 * 8))
            .unwrap_or(request.start),
    )
    .ok_or_else(|| DomainError::internal("empty probe window"))?;
    let calendars = shaped(team_calendars(state, tenant, team, &members, probe, now).await?);
    if calendars.is_empty() {
        return Err(DomainError::conflict(
            ErrorCode::NoWorkingHours,
            "Nobody who could take this booking has working hours set.",
        ));
    }
    let duration = duration.unwrap_or_else(|| calendars[0].rule.slot_duration());

    // Who could take it, by the engine's rules.
    let mut free = Vec::new();
    let mut first_rejection = None;
    let mut any_busy = false;
    for calendar in &calendars {
        match pillow_engine::check_slot(
            &calendar.rule,
            &calendar.busy,
            request.start,
            duration,
            now,
        ) {
            // A member at a booking limit that day or week is busy for this booking.
            Ok(_) if pillow_engine::in_full_period(&calendar.full, request.start) => {
                any_busy = true;
            }
            Ok(_) => free.push(calendar.user_id),
            Err(SlotRejection::Busy) => any_busy = true,
            Err(other) => {
                first_rejection.get_or_insert(other);
            }
        }
    }
    if free.is_empty() {
        if any_busy {
            return Err(slot_unavailable(nearest_alternatives(
                &calendars,
                request.start,
                duration,
                now,
            )));
        }
        return Err(rejection_to_error(
            first_rejection.unwrap_or(SlotRejection::Busy),
        ));
    }
    if let Some(team) = team.filter(|t| t.collective.is_some()) {
        return book_all_hosts(
            state,
            tenant,
            team,
            agent,
            subject,
            request,
            &calendars,
            &free,
            duration,
            now,
            record,
            (&members, probe, offered),
        )
        .await;
    }
    let mut order = rank_members(team, &free, &calendars);
    if let Some(at) = request
        .preferred_host
        .and_then(|host| order.iter().position(|m| *m == host))
    {
        let host = order.remove(at);
        order.insert(0, host);
    }
    if order.is_empty() {
        return Err(slot_unavailable(nearest_alternatives(
            &calendars,
            request.start,
            duration,
            now,
        )));
    }
    let names: HashMap<UserId, String> = match subject {
        Subject::Agent(context) => context.names.clone(),
        Subject::User(user) => HashMap::from([(user.id, user.name.clone())]),
    };
    let end = request
        .start
        .checked_add(duration)
        .map_err(DomainError::internal)?;

    for member in order {
        let Some(calendar) = calendars.iter().find(|c| c.user_id == member) else {
            continue;
        };
        let host_name = names.get(&member).cloned().unwrap_or_default();
        let (title, description) = render_texts(
            team.as_ref().map(|t| &t.settings.event_type_config),
            request,
            &host_name,
            agent,
            calendar.rule.time_zone(),
            duration,
        );
        let notifications = team.as_ref().map(|t| &t.settings.notifications);
        // A code collision in the tenant is astronomically rare; try a few fresh ones.
        for _ in 0..4 {
            let new = NewBooking {
                id: BookingId::new(),
                agent_id: agent.map(|a| a.id),
                user_id: member,
                confirmation_code: new_confirmation_code(),
                start: request.start,
                end,
                buffer_before_minutes: calendar.rule.buffer_before().as_mins() as i32,
                buffer_after_minutes: calendar.rule.buffer_after().as_mins() as i32,
                attendee: request.attendee.clone(),
                notes: request.notes.clone(),
                title: title.clone(),
                description: description.clone(),
                call_id: request.call_id.clone(),
                channel: Some(request.channel),
            };
            let plan = notifications.map(|n| NotificationPlan {
                reminders: Some(n.reminder_plan(new.id, member, new.start, now)),
                ..n.notices(Change::Created, new.id, member, 0)
            });
            let jobs = lifecycle_jobs(JobKind::BookingCreated, new.id, member, plan);
            let view = BookingView::new(&preview(tenant, &new, now), &host_name);
            let response = record.map(|(key, hash)| IdempotentResponse {
                key: key.to_string(),
                request_hash: hash.to_string(),
                status: StatusCode::CREATED.as_u16(),
                body: serde_json::to_value(&view).expect("a view serialises"),
            });
            let caps = caps_at(team, calendar, request.start);
            let _writing = state.calendars.begin_booking_write(tenant, member);
            match state
                .store
                .create_capped_booking(tenant, &new, &caps, &jobs, response.as_ref())
                .await
            {
                Ok(booking) => {
                    metrics::counter!("bookings_total", "outcome" => "confirmed").increment(1);
                    let (start, end) = booking.occupied();
                    if let Some(occupied) = Interval::new(start, end) {
                        state.calendars.record_booking(
                            tenant,
                            member,
                            occupied,
                            booking.created_at,
                            booking.start >= now,
                        );
                    }
                    return Ok(view);
                }
                Err(StoreError::Conflict(Constraint::BookingCode)) => continue,
                Err(StoreError::Conflict(
                    Constraint::BookingOverlap | Constraint::BookingLimit,
                )) => {
                    metrics::counter!("bookings_total", "outcome" => "lost_race").increment(1);
                    break;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
    metrics::counter!("bookings_total", "outcome" => "conflict").increment(1);
    // Everyone lost the race: answer with fresh alternatives.
    let calendars = shaped(team_calendars(state, tenant, team, &members, probe, now).await?);
    Err(slot_unavailable(nearest_alternatives(
        &calendars,
        request.start,
        duration,
        now,
    )))
}

/// A collective team's booking: every required host free, then all free hosts in one write.
#[allow(clippy::too_many_arguments)]
async fn book_all_hosts(
    state: &AppState,
    tenant: TenantId,
    team: &Team,
    agent: Option<&Agent>,
    subject: &Subject,
    request: &BookingRequest,
    calendars: &[MemberCalendar],
    free: &[UserId],
    duration: SignedDuration,
    now: Timestamp,
    record: Option<(&str, &str)>,
    (members, probe, offered): (&[UserId], Interval, Option<&Offered>),
) -> DomainResult<BookingView> {
    let alternatives = |calendars: &[MemberCalendar]| {
        slot_unavailable(nearest_alternatives(
            calendars,
            request.start,
            duration,
            now,
        ))
    };
    if !super::collective::all_required_free(calendars, free) {
        metrics::counter!("bookings_total", "outcome" => "conflict").increment(1);
        return Err(alternatives(calendars));
    }
    let names: HashMap<UserId, String> = match subject {
        Subject::Agent(context) => context.names.clone(),
        Subject::User(user) => HashMap::from([(user.id, user.name.clone())]),
    };
    // The lead is the first required host in the team's list; then everyone else free.
    let mut hosts: Vec<UserId> = calendars
        .iter()
        .filter(|c| c.required && free.contains(&c.user_id))
        .map(|c| c.user_id)
        .take(1)
        .collect();
    let others: Vec<UserId> = free
        .iter()
        .filter(|id| !hosts.contains(id))
        .copied()
        .collect();
    hosts.extend(others);
    let write = super::collective::CollectiveWrite {
        tenant,
        team,
        agent,
        request,
        calendars,
        hosts: &hosts,
        names: &names,
        duration,
        now,
    };
    if let Some(view) = super::collective::book_collective(state, &write, record).await? {
        return Ok(view);
    }
    metrics::counter!("bookings_total", "outcome" => "conflict").increment(1);
    let calendars = team_calendars(state, tenant, Some(team), members, probe, now).await?;
    let calendars = match offered {
        Some(offered) => offered.shape_calendars(calendars),
        None => calendars,
    };
    Err(alternatives(&calendars))
}

/// The booking row as it will be once committed, for rendering the answer before the commit.
pub(crate) fn preview(tenant: TenantId, new: &NewBooking, now: Timestamp) -> Booking {
    Booking {
        id: new.id,
        tenant_id: tenant,
        agent_id: new.agent_id,
        user_id: new.user_id,
        confirmation_code: new.confirmation_code.clone(),
        start: new.start,
        end: new.end,
        buffer_before_minutes: new.buffer_before_minutes,
        buffer_after_minutes: new.buffer_after_minutes,
        attendee: new.attendee.clone(),
        notes: new.notes.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        status: pillow_store::BookingStatus::Confirmed,
        cancel_reason: None,
        cancelled_at: None,
        call_id: new.call_id.clone(),
        channel: new.channel,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn render_texts(
    config: Option<&EventTypeConfig>,
    request: &BookingRequest,
    host_name: &str,
    agent: Option<&Agent>,
    zone: &TimeZone,
    duration: SignedDuration,
) -> (String, Option<String>) {
    let local = request.start.to_zoned(zone.clone());
    let values: HashMap<&str, String> = HashMap::from([
        ("customer_name", request.attendee.name.clone()),
        (
            "customer_phone",
            request.attendee.phone.clone().unwrap_or_default(),
        ),
        (
            "customer_email",
            request.attendee.email.clone().unwrap_or_default(),
        ),
        ("notes", request.notes.clone().unwrap_or_default()),
        ("host_name", host_name.to_string()),
        (
            "agent_name",
            agent.map(|a| a.name.clone()).unwrap_or_default(),
        ),
        ("date", local.strftime("%A, %B %-d, %Y").to_string()),
        ("time", local.strftime("%-I:%M %p").to_string()),
        ("duration", duration.as_mins().to_string()),
        ("confirmation_code", String::new()),
    ]);
    let title_template = config
        .and_then(|c| c.title_template.as_deref())
        .unwrap_or(DEFAULT_TITLE);
    let description_template = config
        .and_then(|c| c.description_template.as_deref())
        .unwrap_or(DEFAULT_DESCRIPTION);
    let description = render_template(description_template, &values);
    (
        render_template(title_template, &values),
        (!description.trim().is_empty()).then_some(description),
    )
}

/// The outbox jobs of a booking change: the lifecycle event, which calendar write-back acts
/// on; the plan of its messages and reminders, when it has any; and its webhook event.
pub fn lifecycle_jobs(
    kind: JobKind,
    booking: BookingId,
    user: UserId,
    plan: Option<NotificationPlan>,
) -> Vec<NewJob> {
    let change = BookingChange {
        booking_id: booking,
        user_id: user,
        origin: None,
        send_email: plan.as_ref().is_some_and(|p| p.email_sequence.is_some()),
        send_sms: plan.as_ref().is_some_and(|p| p.sms),
    };
    let mut jobs = vec![OutboxJob::booking(kind, change).to_new_job()];
    jobs.extend(plan.and_then(NotificationPlan::job));
    jobs.extend(crate::outbox::WebhookEvent::job(kind, booking));
    jobs
}
