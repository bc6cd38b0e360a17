//! Removing a member. Their upcoming bookings are refused (named in the 409), handed to
//! teammates through the agent's distribution strategy, or cancelled the usual way; the member
//! is kept as a removed row, so every confirmation code a caller holds still finds its booking.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use pillow_engine::Interval;
use pillow_store::{
    Booking, BookingFilter, BookingStatus, Constraint, NewJob, Reassignment, StoreError, TenantId,
    UserId,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::availability::limits::{caps_at, team_calendars};
use super::bookings::{booking_jobs, cancel, rank_members};
use super::error::{DomainError, DomainResult, ErrorCode, ErrorKind};
use crate::AppState;
use crate::outbox::{BookingChange, JobKind, OutboxJob};

/// What happens to a leaving member's upcoming confirmed bookings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Upcoming {
    /// Each goes to a teammate of the agent it was booked through, free at its time and
    /// under their limits, picked by the agent's distribution strategy; all or none.
    Reassign,
    /// Each is cancelled, with the usual notifications and calendar write-back.
    Cancel,
}

/// The reason cancelled bookings carry.
pub const REMOVED_REASON: &str = "The host is no longer available.";

/// Removes member `id` of `tenant`. Without `upcoming`, a member with upcoming confirmed
/// bookings is refused; with it, those bookings are reassigned or cancelled first.
///
/// # Errors
/// 404 for a member not in the tenant; 409 `last_owner`; 409 `member_has_bookings` naming the
/// upcoming bookings; 409 `bookings_not_reassigned` naming those no teammate can take (then
/// nothing has changed).
pub async fn remove_member(
    state: &AppState,
    tenant: TenantId,
    id: UserId,
    upcoming: Option<Upcoming>,
) -> DomainResult<()> {
    let now = Timestamp::now();
    let bookings = upcoming_bookings(state, tenant, id, now).await?;
    let removed = match upcoming {
        _ if bookings.is_empty() => state.store.remove_user(tenant, id, &[], &[], now).await,
        None => return Err(has_bookings(&bookings)),
        Some(Upcoming::Cancel) => {
            for booking in &bookings {
                cancel(state, booking, Some(REMOVED_REASON.to_string()), None).await?;
            }
            state.store.remove_user(tenant, id, &[], &[], now).await
        }
        Some(Upcoming::Reassign) => {
            let (moves, jobs) = plan_handover(state, tenant, id, &bookings, now).await?;
            state
                .store
                .remove_user(tenant, id, &moves, &jobs, now)
                .await
        }
    };
    state.teams.invalidate(tenant);
    match removed {
        Ok(true) => Ok(()),
        Ok(false) => Err(DomainError::not_found("user")),
        // A booking was made for them meanwhile: name what is there now.
        Err(StoreError::Conflict(Constraint::MemberHasBookings)) => {
            let bookings = upcoming_bookings(state, tenant, id, Timestamp::now()).await?;
            Err(has_bookings(&bookings))
        }
        Err(StoreError::Conflict(Constraint::BookingOverlap | Constraint::BookingLimit)) => {
            Err(not_reassigned(
                &bookings,
                "A teammate's calendar changed while the bookings were being handed over; \
                 nothing changed, try again.",
            ))
        }
        Err(other) => Err(other.into()),
    }
}

/// The member's confirmed bookings that have not ended.
async fn upcoming_bookings(
    state: &AppState,
    tenant: TenantId,
    id: UserId,
    now: Timestamp,
) -> DomainResult<Vec<Booking>> {
    let filter = BookingFilter {
        status: Some(BookingStatus::Confirmed),
        user_id: Some(id),
        from: Some(now),
        ..BookingFilter::default()
    };
    Ok(state.store.list_bookings(tenant, &filter).await?)
}

/// Who takes each booking, with the jobs that tell calendars and people: all or none.
async fn plan_handover(
    state: &AppState,
    tenant: TenantId,
    leaving: UserId,
    bookings: &[Booking],
    now: Timestamp,
) -> DomainResult<(Vec<Reassignment>, Vec<NewJob>)> {
    // Bookings already planned for a teammate make them busy for the next ones.
    let mut planned: HashMap<UserId, Vec<Interval>> = HashMap::new();
    let mut moves = Vec::new();
    let mut jobs = Vec::new();
    let mut stuck = Vec::new();
    for booking in bookings {
        let Some(reassignment) = pick_host(state, tenant, leaving, booking, &planned, now).await?
        else {
            stuck.push(booking.clone());
            continue;
        };
        if let Some(occupied) = occupied(booking) {
            planned.entry(reassignment.to).or_default().push(occupied);
        }
        jobs.extend(handover_jobs(state, booking, reassignment.to).await?);
        moves.push(reassignment);
    }
    if !stuck.is_empty() {
        return Err(not_reassigned(
            &stuck,
            "No teammate is free for these bookings; cancel them, or free someone's time.",
        ));
    }
    Ok((moves, jobs))
}

/// The teammate the agent's strategy picks among those free at the booking's time and under
/// their limits; `None` for a booking made directly for the member (no team) or when no one is.
async fn pick_host(
    state: &AppState,
    tenant: TenantId,
    leaving: UserId,
    booking: &Booking,
    planned: &HashMap<UserId, Vec<Interval>>,
    now: Timestamp,
) -> DomainResult<Option<Reassignment>> {
    let Some(agent) = booking.agent_id else {
        return Ok(None);
    };
    let context = match state.teams.get(state, tenant, agent).await {
        Ok(context) => context,
        Err(error) if error.kind == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let team = &context.team;
    let candidates: Vec<UserId> = team
        .members
        .iter()
        .copied()
        .filter(|m| *m != leaving)
        .collect();
    let (Some(slot), Some(occupied)) =
        (Interval::new(booking.start, booking.end), occupied(booking))
    else {
        return Ok(None);
    };
    if candidates.is_empty() {
        return Ok(None);
    }
    let probe = Interval::new(
        occupied
            .start
            .saturating_sub(SignedDuration::from_hours(48))
            .unwrap_or(occupied.start),
        occupied
            .end
            .saturating_add(SignedDuration::from_hours(24 * 8))
            .unwrap_or(occupied.end),
    )
    .ok_or_else(|| DomainError::internal("empty probe window"))?;
    let calendars = team_calendars(state, tenant, Some(team), &candidates, probe, now).await?;
    let free: Vec<UserId> = calendars
        .iter()
        .filter(|c| !pillow_engine::in_full_period(&c.full, booking.start))
        .filter(|c| {
            let mut busy = c.busy.as_ref().clone();
            busy.extend(planned.get(&c.user_id).into_iter().flatten().copied());
            pillow_engine::can_host(&c.rule, &busy, slot, occupied).is_ok()
        })
        .map(|c| c.user_id)
        .collect();
    let order = rank_members(Some(team), &free, &calendars);
    let Some(to) = order.first().copied() else {
        return Ok(None);
    };
    let caps = calendars
        .iter()
        .find(|c| c.user_id == to)
        .map(|c| caps_at(Some(team), c, booking.start))
        .unwrap_or_default();
    Ok(Some(Reassignment {
        booking: booking.id,
        to,
        caps,
    }))
}

/// A handed-over booking's jobs: one for the leaving member's calendar (write-back removes the
/// booking from it, as it is no longer theirs), and the new member's usual change jobs
/// (their calendar, e-mails naming the new host, webhooks).
async fn handover_jobs(
    state: &AppState,
    booking: &Booking,
    to: UserId,
) -> DomainResult<Vec<NewJob>> {
    let leaving = BookingChange {
        booking_id: booking.id,
        user_id: booking.user_id,
        origin: None,
        send_email: false,
        send_sms: false,
    };
    let mut jobs = vec![OutboxJob::booking(JobKind::BookingRescheduled, leaving).to_new_job()];
    let mut after = booking.clone();
    after.user_id = to;
    jobs.extend(booking_jobs(state, JobKind::BookingRescheduled, &after).await?);
    Ok(jobs)
}

/// The booking's time with its buffers.
fn occupied(booking: &Booking) -> Option<Interval> {
    let (start, end) = booking.occupied();
    Interval::new(start, end)
}

fn named(bookings: &[Booking]) -> Vec<Value> {
    bookings
        .iter()
        .map(|b| {
            json!({
                "id": b.id,
                "confirmation_code": b.confirmation_code,
                "start_time": b.start.to_string(),
            })
        })
        .collect()
}

/// 409 `member_has_bookings`, naming the upcoming bookings.
fn has_bookings(bookings: &[Booking]) -> DomainError {
    DomainError::conflict(
        ErrorCode::MemberHasBookings,
        format!(
            "This member has {} upcoming confirmed booking(s); remove them with \
             `upcoming=reassign` or `upcoming=cancel`, or move them first.",
            bookings.len()
        ),
    )
    .with("bookings", named(bookings))
}

/// 409 `bookings_not_reassigned`, naming the bookings no teammate could take.
fn not_reassigned(bookings: &[Booking], message: &str) -> DomainError {
    DomainError::conflict(ErrorCode::BookingsNotReassigned, message)
        .with("bookings", named(bookings))
}
