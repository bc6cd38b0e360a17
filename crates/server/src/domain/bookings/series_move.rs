//! Moving a recurring series as a whole, or this occurrence and the ones after it: each
//! occurrence moves by the same change of local date and wall time in the agent's zone (so
//! "Tuesdays at 15:00" becomes "Wednesdays at 16:00" across a DST change), all checked first
//! and written in one transaction, all or nothing.

use super::*;
use crate::domain::availability::limits::{caps_at, team_calendars};
use crate::domain::error::{Alternative, ErrorCode};
use crate::outbox::JobKind;
use pillow_store::{BookingStatus, Constraint, SeriesMove};

/// Moves `booking` to `start` and, by `scope`, the rest of its series (all of it, or the
/// occurrences from it on) by the same local shift. `SeriesScope::Occurrence` is an ordinary
/// reschedule. Answers the booking named, with the series' occurrences as they now stand.
///
/// # Errors
/// 422 for a series scope on a booking outside any series; 409 `series_conflict` listing
/// exactly the occurrences whose new time is not free (nothing moves); store failures.
pub async fn reschedule_in_series(
    state: &AppState,
    booking: &Booking,
    start: Timestamp,
    scope: SeriesScope,
    key: Option<String>,
) -> DomainResult<(StatusCode, BookingView)> {
    if scope == SeriesScope::Occurrence {
        return reschedule(state, booking, start, key).await;
    }
    let tenant = booking.tenant_id;
    let link = series_link(state, booking).await?;
    let hash = request_hash(
        "reschedule_series",
        &booking.id.to_string(),
        &json!({"start": start.to_string(), "scope": format!("{scope:?}")}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status != BookingStatus::Confirmed {
                return Err(DomainError::conflict(
                    ErrorCode::BookingNotConfirmed,
                    "A cancelled booking cannot be rescheduled; book a new time instead.",
                ));
            }
            let occurrences = state.store.series_bookings(tenant, link.series_id).await?;
            let targets: Vec<&Booking> = occurrences
                .iter()
                .filter(|o| {
                    o.status == BookingStatus::Confirmed
                        && (scope == SeriesScope::Series || o.start >= booking.start)
                })
                .collect();
            let context = agent_context(state, booking).await?;
            let team = context.as_ref().map(|c| &c.team);
            let now = Timestamp::now();
            let hosts: Vec<pillow_store::UserId> = {
                let mut hosts: Vec<_> = targets.iter().map(|t| t.user_id).collect();
                hosts.sort_by_key(|h| h.0);
                hosts.dedup();
                hosts
            };
            let moved_to =
                |at: Timestamp, zone: &jiff::tz::TimeZone| shifted(booking.start, start, at, zone);
            // The calendars cover every occurrence's old and new time.
            let zone_guess = context
                .as_ref()
                .map(|c| c.zone.clone())
                .unwrap_or(jiff::tz::TimeZone::UTC);
            let (mut lo, mut hi) = (start, start);
            for t in &targets {
                let to = moved_to(t.start, &zone_guess)?;
                lo = lo.min(t.start).min(to);
                hi = hi.max(t.end).max(to);
            }
            let window = pillow_engine::Interval::new(
                lo.saturating_sub(SignedDuration::from_hours(48))
                    .unwrap_or(lo),
                hi.saturating_add(SignedDuration::from_hours(24 * 8))
                    .unwrap_or(hi),
            )
            .ok_or_else(|| DomainError::internal("empty series window"))?;
            let calendars = team_calendars(state, tenant, team, &hosts, window, now).await?;
            // The zone the shift is made in: the agent's, else the host's rule's.
            let zone = context
                .as_ref()
                .map(|c| c.zone.clone())
                .or_else(|| calendars.first().map(|c| c.rule.time_zone().clone()))
                .unwrap_or(jiff::tz::TimeZone::UTC);
            let mut moves = Vec::new();
            let mut conflicts = Vec::new();
            for target in &targets {
                let to = moved_to(target.start, &zone)?;
                let duration = target.end.duration_since(target.start);
                let end = to.checked_add(duration).map_err(DomainError::internal)?;
                let Some(calendar) = calendars.iter().find(|c| c.user_id == target.user_id) else {
                    conflicts.push((to, end));
                    continue;
                };
                // The moving occurrences do not stand in each other's way.
                let busy: Vec<_> = calendar
                    .busy
                    .iter()
                    .filter(|b| {
                        !targets.iter().any(|t| {
                            (b.start, b.end) == t.occupied() && t.user_id == calendar.user_id
                        })
                    })
                    .copied()
                    .collect();
                match pillow_engine::check_slot(&calendar.rule, &busy, to, duration, now) {
                    Ok(_) => moves.push(SeriesMove {
                        id: target.id,
                        start: to,
                        end,
                        caps: caps_at(team, calendar, to),
                    }),
                    Err(pillow_engine::SlotRejection::Busy) => conflicts.push((to, end)),
                    Err(other) if targets.len() == 1 => return Err(rejection_to_error(other)),
                    Err(_) => conflicts.push((to, end)),
                }
            }
            if !conflicts.is_empty() {
                return Err(moved_conflict(&conflicts));
            }
            // Latest first when moving later, earliest first when moving earlier: occurrences
            // never pass through one another on the way.
            if start > booking.start {
                moves.sort_by_key(|m| std::cmp::Reverse(m.start));
            } else {
                moves.sort_by_key(|m| m.start);
            }
            let mut jobs = Vec::new();
            let mut after_all = Vec::new();
            for one in &moves {
                let Some(before) = targets.iter().find(|t| t.id == one.id) else {
                    continue;
                };
                let mut after = (*before).clone();
                after.start = one.start;
                after.end = one.end;
                after.updated_at = now;
                jobs.extend(booking_jobs(state, JobKind::BookingRescheduled, &after).await?);
                after_all.push(after);
            }
            let mut named = (*booking).clone();
            if let Some(after) = after_all.iter().find(|a| a.id == booking.id) {
                named = after.clone();
            }
            let mut body = view_of(state, &named).await?;
            let mut now_series: Vec<Booking> = occurrences.clone();
            for occurrence in &mut now_series {
                if let Some(after) = after_all.iter().find(|a| a.id == occurrence.id) {
                    *occurrence = after.clone();
                }
            }
            if let Some(series) = body.series.as_mut() {
                series.occurrences = now_series.iter().map(OccurrenceView::of).collect();
            }
            let response = recorded(record, &body);
            match state
                .store
                .move_series(tenant, &moves, &jobs, response.as_ref())
                .await
            {
                Ok(_) => {
                    metrics::counter!("bookings_total", "outcome" => "rescheduled")
                        .increment(moves.len() as u64);
                    Ok(body)
                }
                Err(pillow_store::StoreError::Conflict(
                    Constraint::BookingOverlap | Constraint::BookingLimit,
                )) => Err(DomainError::conflict(
                    ErrorCode::SlotUnavailable,
                    "One of the new times was just taken; nothing was moved.",
                )),
                Err(other) => Err(other.into()),
            }
        },
    )
    .await
}

/// Where an occurrence at `at` goes when `from` moves to `to`: the same change of local date
/// and wall time in `zone` (days, then hours and minutes), so the wall time stays put across
/// a DST change between occurrences.
fn shifted(
    from: Timestamp,
    to: Timestamp,
    at: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> DomainResult<Timestamp> {
    let (from, to, at) = (
        from.to_zoned(zone.clone()),
        to.to_zoned(zone.clone()),
        at.to_zoned(zone.clone()),
    );
    let days = (to.date() - from.date()).get_days();
    let wall = to.time().duration_since(from.time());
    let date = at
        .date()
        .checked_add(jiff::Span::new().days(days))
        .map_err(DomainError::internal)?;
    let time = at.time().checked_add(wall).map_err(|_| {
        DomainError::invalid(
            "start_time",
            ErrorCode::InvalidTime,
            "The whole series cannot move past midnight this way; move it a day at a time.",
        )
    })?;
    date.to_datetime(time)
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(DomainError::internal)
}

/// 409 listing exactly the occurrences whose new time is not free.
fn moved_conflict(conflicts: &[(Timestamp, Timestamp)]) -> DomainError {
    let listed: Vec<Value> = conflicts
        .iter()
        .map(|(start, end)| {
            serde_json::to_value(Alternative {
                start: *start,
                end: *end,
            })
            .unwrap_or_default()
        })
        .collect();
    DomainError::conflict(
        ErrorCode::SeriesConflict,
        format!(
            "{} of the occurrences' new times are not free; nothing was moved.",
            conflicts.len()
        ),
    )
    .with("conflicts", listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_occurrence_across_a_dst_change_keeps_its_new_wall_time() {
        // New York leaves DST on 2026-11-01. A series on Tuesdays at 15:00 moved to
        // Wednesdays at 16:00: the occurrence after the change is at 16:00 EST (21:00 UTC),
        // not 16:00 EDT, because the shift is a day and an hour of wall time.
        let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let at = |s: &str| -> Timestamp {
            s.parse::<jiff::civil::DateTime>()
                .unwrap()
                .to_zoned(zone.clone())
                .unwrap()
                .timestamp()
        };
        let from = at("2026-10-27T15:00");
        let to = at("2026-10-28T16:00");
        let later = at("2026-11-03T15:00");
        assert_eq!(
            shifted(from, to, later, &zone).unwrap(),
            "2026-11-04T21:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
