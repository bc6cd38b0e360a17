//! Collective bookings: one appointment with every required host and every optional host free
//! at the time. Each host's time is held by a booking row of that host, written together in
//! one transaction, so each is protected exactly as a single-host booking is.

use super::*;
use crate::domain::availability::limits::caps_at;
use crate::domain::error::ErrorCode;
use crate::outbox::{Change, JobKind};
use pillow_store::{BookingId, HostBooking, UserId};

/// What a collective write needs besides the request: the free hosts (list order, the lead
/// first) and their calendars.
pub(crate) struct CollectiveWrite<'a> {
    pub tenant: TenantId,
    pub team: &'a Team,
    pub agent: Option<&'a Agent>,
    pub request: &'a BookingRequest,
    pub calendars: &'a [MemberCalendar],
    pub hosts: &'a [UserId],
    pub names: &'a HashMap<UserId, String>,
    pub duration: SignedDuration,
    pub now: Timestamp,
}

/// Whether a collective team can book `free` (the members free at the slot): every required
/// host among them. The caller answers 409 with alternatives otherwise.
pub(crate) fn all_required_free(calendars: &[MemberCalendar], free: &[UserId]) -> bool {
    calendars
        .iter()
        .filter(|c| c.required)
        .all(|c| free.contains(&c.user_id))
}

/// Books every host of `write` at once. `Ok(None)` when a host was taken (or reached a limit)
/// between the check and the write: the caller answers 409 with fresh alternatives.
///
/// # Errors
/// Store failures other than a lost race.
pub(crate) async fn book_collective(
    state: &AppState,
    write: &CollectiveWrite<'_>,
    record: Option<(&str, &str)>,
) -> DomainResult<Option<BookingView>> {
    let request = write.request;
    let end = request
        .start
        .checked_add(write.duration)
        .map_err(DomainError::internal)?;
    let lead = *write
        .hosts
        .first()
        .ok_or_else(|| DomainError::internal("a collective booking without hosts"))?;
    let lead_name = write.names.get(&lead).cloned().unwrap_or_default();
    let notifications = Some(&write.team.settings.notifications);
    // A code collision in the tenant is astronomically rare; try a few fresh ones.
    for _ in 0..4 {
        let mut hosts = Vec::with_capacity(write.hosts.len());
        for member in write.hosts {
            let Some(calendar) = write.calendars.iter().find(|c| c.user_id == *member) else {
                continue;
            };
            let host_name = write.names.get(member).cloned().unwrap_or_default();
            let (title, description) = render_texts(
                Some(&write.team.settings.event_type_config),
                request,
                &host_name,
                write.agent,
                calendar.rule.time_zone(),
                write.duration,
            );
            hosts.push(HostBooking {
                booking: NewBooking {
                    id: BookingId::new(),
                    agent_id: write.agent.map(|a| a.id),
                    user_id: *member,
                    confirmation_code: new_confirmation_code(),
                    start: request.start,
                    end,
                    buffer_before_minutes: calendar.rule.buffer_before().as_mins() as i32,
                    buffer_after_minutes: calendar.rule.buffer_after().as_mins() as i32,
                    attendee: request.attendee.clone(),
                    notes: request.notes.clone(),
                    title,
                    description,
                    call_id: request.call_id.clone(),
                    channel: Some(request.channel),
                },
                caps: caps_at(Some(write.team), calendar, request.start),
            });
        }
        let Some(first) = hosts.first() else {
            return Err(DomainError::internal("no calendar for a collective host"));
        };
        let plan = notifications.map(|n| n.notices(Change::Created, first.booking.id, lead, 0));
        let mut jobs = lifecycle_jobs(JobKind::BookingCreated, first.booking.id, lead, plan);
        // Every other host gets the appointment in their own connected calendars too.
        jobs.extend(other_hosts_write_back(
            hosts
                .iter()
                .skip(1)
                .map(|h| (h.booking.id, h.booking.user_id)),
        ));
        let mut view = BookingView::new(
            &preview(write.tenant, &first.booking, write.now),
            &lead_name,
        );
        view.hosts = host_views(write.hosts, write.names);
        let response = record.map(|(key, hash)| IdempotentResponse {
            key: key.to_string(),
            request_hash: hash.to_string(),
            status: StatusCode::CREATED.as_u16(),
            body: serde_json::to_value(&view).expect("a view serialises"),
        });
        let _writing: Vec<_> = write
            .hosts
            .iter()
            .map(|h| state.calendars.begin_booking_write(write.tenant, *h))
            .collect();
        match state
            .store
            .create_collective_booking(write.tenant, &hosts, &jobs, response.as_ref())
            .await
        {
            Ok(created) => {
                metrics::counter!("bookings_total", "outcome" => "confirmed").increment(1);
                for booking in &created {
                    let (start, end) = booking.occupied();
                    if let Some(occupied) = Interval::new(start, end) {
                        state.calendars.record_booking(
                            write.tenant,
                            booking.user_id,
                            occupied,
                            booking.created_at,
                            booking.start >= write.now,
                        );
                    }
                }
                return Ok(Some(view));
            }
            Err(StoreError::Conflict(Constraint::BookingCode)) => continue,
            Err(StoreError::Conflict(Constraint::BookingOverlap | Constraint::BookingLimit)) => {
                metrics::counter!("bookings_total", "outcome" => "lost_race").increment(1);
                return Ok(None);
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(None)
}

/// Calendar write-back for the hosts of a collective booking besides its lead (whose
/// lifecycle job writes theirs): one job per host's row, writing the row as it is when the job
/// runs (the event when confirmed, its removal when cancelled), without the lifecycle's
/// e-mails, texts or webhooks, which go out once for the whole booking.
pub(crate) fn other_hosts_write_back(
    rows: impl Iterator<Item = (BookingId, UserId)>,
) -> Vec<pillow_store::NewJob> {
    rows.map(|(booking_id, user_id)| {
        crate::outbox::OutboxJob::booking(
            JobKind::GoogleBookingWrite,
            crate::outbox::BookingChange {
                booking_id,
                user_id,
                origin: None,
                send_email: false,
                send_sms: false,
            },
        )
        .to_new_job()
    })
    .collect()
}

/// The hosts of a collective booking as its view lists them, in order.
pub(crate) fn host_views(hosts: &[UserId], names: &HashMap<UserId, String>) -> Vec<AssignedUser> {
    hosts
        .iter()
        .map(|id| AssignedUser {
            id: *id,
            name: names.get(id).cloned().unwrap_or_default(),
        })
        .collect()
}

/// A collective booking is moved by cancelling it and booking a new time: moving every host's
/// row together is not supported yet, and moving one would split the appointment.
pub(crate) fn refuse_move() -> DomainError {
    DomainError::conflict(
        ErrorCode::CollectiveBooking,
        "A booking with several hosts cannot be moved; cancel it and book a new time.",
    )
}
