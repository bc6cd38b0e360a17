//! Per-member booking limits on top of the calendar cache: which local days and weeks a member
//! has filled, so they are not offered there, and the caps the store re-checks on write.
//!
//! The cache's busy time merges bookings with events, so it cannot count bookings; members
//! with a limit have their confirmed bookings around the window read on each request. Members
//! without one cost nothing extra.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pillow_engine::Interval;
use pillow_store::{
    BookingCap, BookingFilter, BookingId, BookingStatus, StoreError, TenantId, UserId,
};

use super::MemberCalendar;
use crate::AppState;
use crate::domain::bookings::Team;

/// A local week reaches this far either side of any instant in it.
const WEEK: SignedDuration = SignedDuration::from_hours(24 * 8);

/// Enough bookings of one member around one window for any sane limit.
const MAX_COUNTED: u32 = 20_000;

/// The calendars of `members` covering `window` (see [`super::CalendarCache::calendars`]), with
/// each limited member's full days and weeks filled in from their confirmed bookings.
///
/// # Errors
/// A database failure or a corrupt stored rule.
pub async fn team_calendars(
    state: &AppState,
    tenant: TenantId,
    team: Option<&Team>,
    members: &[UserId],
    window: Interval,
    now: Timestamp,
) -> Result<Vec<MemberCalendar>, StoreError> {
    team_calendars_except(state, tenant, team, members, window, now, None).await
}

/// [`team_calendars`], leaving `except` out of the counts: a booking being moved does not fill
/// a day or week for itself.
///
/// # Errors
/// A database failure or a corrupt stored rule.
pub async fn team_calendars_except(
    state: &AppState,
    tenant: TenantId,
    team: Option<&Team>,
    members: &[UserId],
    window: Interval,
    now: Timestamp,
    except: Option<BookingId>,
) -> Result<Vec<MemberCalendar>, StoreError> {
    let mut calendars = state
        .calendars
        .calendars(state.store.as_ref(), tenant, members, window, now)
        .await?;
    if let Some(required) = team.and_then(|t| t.collective.as_ref()) {
        // A collective team: its required hosts (of those asked for) must all be free. One
        // without working hours is never free, so nothing can be offered.
        let required: Vec<UserId> = required
            .iter()
            .filter(|r| members.contains(r))
            .copied()
            .collect();
        if required
            .iter()
            .any(|r| !calendars.iter().any(|c| c.user_id == *r))
        {
            return Ok(Vec::new());
        }
        for calendar in &mut calendars {
            calendar.required = required.contains(&calendar.user_id);
        }
    }
    let Some(team) = team.filter(|t| !t.limits.is_empty()) else {
        return Ok(calendars);
    };
    for calendar in &mut calendars {
        let Some(limits) = team.limits.get(&calendar.user_id) else {
            continue;
        };
        let filter = BookingFilter {
            status: Some(BookingStatus::Confirmed),
            user_id: Some(calendar.user_id),
            from: window.start.checked_sub(WEEK).ok(),
            to: window.end.checked_add(WEEK).ok(),
            limit: Some(MAX_COUNTED),
            ..BookingFilter::default()
        };
        let starts: Vec<Timestamp> = state
            .store
            .list_bookings(tenant, &filter)
            .await?
            .into_iter()
            .filter(|b| Some(b.id) != except)
            .map(|b| b.start)
            .collect();
        calendar.full = Arc::new(limits.full_periods(calendar.rule.time_zone(), &starts));
    }
    Ok(calendars)
}

/// The caps the store re-counts when it books `calendar`'s member at `start`: their day and
/// week in the member's zone. Empty for a member without limits.
pub fn caps_at(
    team: Option<&Team>,
    calendar: &MemberCalendar,
    start: Timestamp,
) -> Vec<BookingCap> {
    let Some(limits) = team.and_then(|t| t.limits.get(&calendar.user_id)) else {
        return Vec::new();
    };
    limits
        .windows_at(calendar.rule.time_zone(), start)
        .into_iter()
        .map(|w| BookingCap {
            from: w.window.start,
            to: w.window.end,
            max: w.max,
        })
        .collect()
}
