//! Slot computation: working intervals, free slots for one person, the union
//! for a team, and the check of one concrete booking request.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::Interval;
use crate::interval::{add_clamped, is_normalized, normalize};
use crate::rule::Rule;

/// What to search for: slots of `duration` whose start lies in `window`,
/// judged at instant `now` (an input, so results are reproducible).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotQuery {
    /// Offered slots start in `[window.start, window.end)`; they may end
    /// after `window.end`.
    pub window: Interval,
    /// Length of each offered slot; see [`duration_allowed`].
    pub duration: SignedDuration,
    /// The current instant, for booking-notice limits.
    pub now: Timestamp,
}

/// One team member as seen by [`team_slots`].
#[derive(Clone, Debug)]
pub struct Member<'a, Id> {
    /// Caller's identifier, echoed in [`TeamSlot::free`].
    pub id: Id,
    /// The member's availability rule.
    pub rule: &'a Rule,
    /// Occupied intervals, as for [`free_slots`].
    pub busy: &'a [Interval],
}

/// A slot at least one team member can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamSlot<Id> {
    /// The slot itself.
    pub slot: Interval,
    /// Members free for it, in the order they were given.
    pub free: Vec<Id>,
}

/// Why [`check_slot`] refused a booking request.
///
/// [`check_slot`] documents the order in which the reasons are checked; the
/// reported reason is the first rule broken.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotRejection {
    /// The start is before "now".
    #[error("the requested start time is in the past")]
    InThePast,
    /// The start is sooner than the minimum booking notice.
    #[error("the requested start time is sooner than the minimum booking notice")]
    TooSoon,
    /// The start is later than the maximum booking notice.
    #[error("the requested start time is further ahead than bookings are allowed")]
    TooFarAhead,
    /// The duration is not a positive multiple of the slot duration, or is
    /// longer than a day.
    #[error("the requested duration is not allowed by the availability rule")]
    DurationNotAllowed,
    /// The slot does not lie inside a single working range.
    #[error("the requested time is outside working hours")]
    OutsideWorkingHours,
    /// The slot lies inside working hours but does not start on the slot grid.
    #[error("the requested start time is not on the slot grid")]
    OffGrid,
    /// The slot, widened by the rule's buffers, overlaps a busy interval.
    #[error("the requested time is already taken")]
    Busy,
}

impl SlotRejection {
    /// Stable machine-readable code, e.g. `too_soon`, for API error bodies.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            SlotRejection::InThePast => "in_the_past",
            SlotRejection::TooSoon => "too_soon",
            SlotRejection::TooFarAhead => "too_far_ahead",
            SlotRejection::DurationNotAllowed => "duration_not_allowed",
            SlotRejection::OutsideWorkingHours => "outside_working_hours",
            SlotRejection::OffGrid => "off_grid",
            SlotRejection::Busy => "busy",
        }
    }
}

/// Whether a booking may last `duration` under `rule`: a positive multiple of
/// the rule's `slot_duration`, at most 24 hours.
///
/// # Example
///
/// ```
/// # use pillow_engine::{Rule, RuleDocument, duration_allowed};
/// # use jiff::SignedDuration;
/// let rule = Rule::parse(&serde_json::from_str::<RuleDocument>(
///     r#"{"timezone": "UTC", "slot_duration": 30}"#,
/// )?)?;
/// assert!(duration_allowed(&rule, SignedDuration::from_mins(60)));
/// assert!(!duration_allowed(&rule, SignedDuration::from_mins(45)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn duration_allowed(rule: &Rule, duration: SignedDuration) -> bool {
    let unit = rule.slot_duration().as_nanos();
    duration.is_positive()
        && duration <= SignedDuration::from_hours(24)
        && duration.as_nanos() % unit == 0
}

/// The instant interval an all-day event covers in zone `tz`:
/// `[start 00:00 local, end_exclusive 00:00 local)`, end exclusive as in
/// Google Calendar. On a DST day this is 23 or 25 hours, not 24.
///
/// Returns `None` when `end_exclusive` is not after `start` (or the dates are
/// at the edge of jiff's range).
///
/// # Example
///
/// ```
/// # use pillow_engine::all_day_interval;
/// # use jiff::{civil::date, tz::TimeZone, SignedDuration};
/// let la = TimeZone::get("America/Los_Angeles")?;
/// // 2024-03-10 is the spring-forward day in Los Angeles: 23 hours long.
/// let day = all_day_interval(date(2024, 3, 10), date(2024, 3, 11), &la).unwrap();
/// assert_eq!(day.duration(), SignedDuration::from_hours(23));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn all_day_interval(start: Date, end_exclusive: Date, tz: &TimeZone) -> Option<Interval> {
    let midnight = |d: Date| tz.to_timestamp(d.to_datetime(Time::midnight())).ok();
    Interval::new(midnight(start)?, midnight(end_exclusive)?)
}

/// Whether the rule has any working time on this local date, after date
/// overrides. A range that falls entirely into a DST gap does not count.
#[must_use]
pub fn works_on(rule: &Rule, date: Date) -> bool {
    rule.ranges_on(date)
        .iter()
        .any(|r| r.on(date, rule.time_zone()).is_some())
}

/// The rule's working ranges, as instants, that overlap `window`.
///
/// Ranges are **not clipped** to the window: the slot grid is anchored at
/// each range's real start, so callers need the whole range. Each range is
/// returned separately (touching ranges such as 09:00–12:00 and 12:00–17:00
/// are not merged, since each starts its own grid). The result is sorted by
/// start, then end. Ranges that cover no real time (inside a DST gap) are
/// left out.
///
/// Every local date whose ranges could reach the window is examined: from the
/// day before the window's first local date to the window's last local date.
#[must_use]
pub fn working_intervals(rule: &Rule, window: Interval) -> Vec<Interval> {
    let tz = rule.time_zone();
    let first_local = tz.to_datetime(window.start).date();
    let mut date = first_local.yesterday().unwrap_or(first_local);
    let last = tz.to_datetime(window.end).date();
    let mut out = Vec::new();
    loop {
        for range in rule.ranges_on(date) {
            if let Some(iv) = range.on(date, tz)
                && iv.overlaps(&window)
            {
                out.push(iv);
            }
        }
        if date >= last {
            break;
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    // Already sorted except when DST gaps squeeze two wall-clock ranges onto
    // overlapping instants; sorting only then keeps the common path cheap.
    if !out.is_sorted() {
        out.sort_unstable();
    }
    out
}

/// Start-time limits shared by [`free_slots`] and [`check_slot`].
struct StartLimits {
    /// Earliest allowed start (inclusive): `now + min_booking_notice`.
    earliest: Timestamp,
    /// Latest allowed start (inclusive): `now + max_booking_notice`.
    latest: Timestamp,
}

impl StartLimits {
    fn new(rule: &Rule, now: Timestamp) -> StartLimits {
        StartLimits {
            // min_booking_notice is never negative, so this is never before now.
            earliest: add_clamped(now, rule.min_booking_notice()),
            latest: rule
                .max_booking_notice()
                .map_or(Timestamp::MAX, |max| add_clamped(now, max)),
        }
    }
}

/// Free slots of one person, sorted by start.
///
/// A slot is offered when all of these hold:
///
/// - it lies on the grid of one working range: starts at the range's start
///   plus a whole number of `slot_step`s (real elapsed time) and ends at or
///   before the range's end;
/// - its start is in `[query.window.start, query.window.end)`;
/// - its start is at least `now + min_booking_notice`, at most
///   `now + max_booking_notice` (if set), and never before `now`;
/// - `query.duration` is allowed ([`duration_allowed`]); otherwise nothing is
///   offered;
/// - its occupied range `[start − buffer_before, end + buffer_after)`, using
///   this rule's buffers, overlaps no interval of `busy`.
///
/// `busy` holds already-occupied intervals (existing bookings already widened
/// by their own buffers, busy calendar events as they are), in any order,
/// possibly overlapping.
///
/// Cost: busy intervals are sorted and merged once, then each working range
/// is swept with a moving pointer, so the work is O(b log b + slots).
///
/// # Example
///
/// ```
/// use pillow_engine::{Interval, Rule, RuleDocument, SlotQuery, free_slots};
/// use jiff::{SignedDuration, Timestamp};
///
/// let rule = Rule::parse(&serde_json::from_str::<RuleDocument>(r#"{
///     "schedule": {"monday": [{"start": "09:00", "end": "11:00"}]},
///     "timezone": "Europe/London",
///     "slot_duration": 30,
///     "buffer_after": 15
/// }"#)?)?;
/// let ts = |s: &str| s.parse::<Timestamp>();
/// // London is on GMT (+00:00) in January, so local 09:00 is 09:00Z.
/// let busy = [Interval::new(ts("2024-01-08T09:30Z")?, ts("2024-01-08T10:00Z")?).unwrap()];
/// let query = SlotQuery {
///     window: Interval::new(ts("2024-01-08T00:00Z")?, ts("2024-01-09T00:00Z")?).unwrap(),
///     duration: SignedDuration::from_mins(30),
///     now: ts("2024-01-01T00:00Z")?,
/// };
/// let starts: Vec<String> = free_slots(&rule, &busy, &query)
///     .iter()
///     .map(|s| s.start.to_string())
///     .collect();
/// // 09:00 is refused: its 15-minute after-buffer runs into the 09:30 event.
/// assert_eq!(starts, ["2024-01-08T10:00:00Z", "2024-01-08T10:30:00Z"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn free_slots(rule: &Rule, busy: &[Interval], query: &SlotQuery) -> Vec<Interval> {
    if !duration_allowed(rule, query.duration) {
        return Vec::new();
    }
    // Callers that cache busy time normalised (the server does) skip the copy and sort.
    let normalized;
    let busy = if is_normalized(busy) {
        busy
    } else {
        normalized = normalize(busy);
        &normalized
    };
    let limits = StartLimits::new(rule, query.now);
    let earliest = limits.earliest.max(query.window.start);
    let mut out = Vec::new();
    for range in working_intervals(rule, query.window) {
        sweep_range(rule, range, busy, query, earliest, limits.latest, &mut out);
    }
    // Overlapping ranges (only possible around DST gaps) can produce
    // out-of-order or repeated slots; the usual case needs neither step.
    if !out.is_sorted() {
        out.sort_unstable();
    }
    out.dedup();
    out
}

/// Pushes the free grid slots of one working range onto `out`.
///
/// `earliest` is inclusive, `latest` inclusive; the window end is exclusive.
fn sweep_range(
    rule: &Rule,
    range: Interval,
    busy: &[Interval],
    query: &SlotQuery,
    earliest: Timestamp,
    latest: Timestamp,
    out: &mut Vec<Interval>,
) {
    let step = rule.slot_step();
    // A slot must end by the range end, so no start may pass this.
    let Ok(last_fit) = range.end.checked_sub(query.duration) else {
        return;
    };
    let last_start = last_fit.min(latest);
    if last_start < range.start || last_start < earliest {
        return;
    }
    // First grid start at or after `earliest`. The gap is below a day plus
    // an hour here (earliest <= last_start < range.end), so the step count
    // fits an i32 easily.
    let mut start = range.start;
    if earliest > start {
        let gap = earliest.duration_since(start).as_nanos();
        let step_ns = step.as_nanos();
        let steps = (gap + step_ns - 1) / step_ns;
        let Some(offset) = i32::try_from(steps).ok().and_then(|n| step.checked_mul(n)) else {
            return;
        };
        let Ok(first) = start.checked_add(offset) else {
            return;
        };
        start = first;
    }
    let (before, after) = (rule.buffer_before(), rule.buffer_after());
    let mut p = busy.partition_point(|b| b.end <= add_clamped(start, -before));
    while start <= last_start && start < query.window.end {
        let end = add_clamped(start, query.duration);
        let occupied_start = add_clamped(start, -before);
        let occupied_end = add_clamped(end, after);
        while p < busy.len() && busy[p].end <= occupied_start {
            p += 1;
        }
        if p == busy.len() || busy[p].start >= occupied_end {
            out.push(Interval { start, end });
        }
        match start.checked_add(step) {
            Ok(next) => start = next,
            Err(_) => break,
        }
    }
}

/// Free slots of a whole team: the union of every member's [`free_slots`],
/// sorted by start then end, each with the members free for it (in the
/// order `members` lists them).
///
/// Each member is judged by their own rule (zone, grid, buffers, notice), so
/// members on different grids contribute different slots.
///
/// # Example
///
/// ```
/// use pillow_engine::{Interval, Member, Rule, RuleDocument, SlotQuery, team_slots};
/// use jiff::{SignedDuration, Timestamp};
///
/// let rule = Rule::parse(&serde_json::from_str::<RuleDocument>(r#"{
///     "schedule": {"monday": [{"start": "09:00", "end": "10:00"}]},
///     "timezone": "UTC"
/// }"#)?)?;
/// let ts = |s: &str| s.parse::<Timestamp>();
/// let meeting = [Interval::new(ts("2024-01-08T09:00Z")?, ts("2024-01-08T09:30Z")?).unwrap()];
/// let members = [
///     Member { id: "ana", rule: &rule, busy: &meeting },
///     Member { id: "bo", rule: &rule, busy: &[] },
/// ];
/// let query = SlotQuery {
///     window: Interval::new(ts("2024-01-08T00:00Z")?, ts("2024-01-09T00:00Z")?).unwrap(),
///     duration: SignedDuration::from_mins(30),
///     now: ts("2024-01-01T00:00Z")?,
/// };
/// let slots = team_slots(&members, &query);
/// assert_eq!(slots[0].free, ["bo"]);
/// assert_eq!(slots[1].free, ["ana", "bo"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn team_slots<Id: Clone>(members: &[Member<'_, Id>], query: &SlotQuery) -> Vec<TeamSlot<Id>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let lists: Vec<Vec<Interval>> = members
        .iter()
        .map(|member| free_slots(member.rule, member.busy, query))
        .collect();
    // Each member's slots are sorted: a k-way merge by (slot, member index) groups equal slots
    // and keeps members in input order within each group, without sorting everything again.
    let mut heads: BinaryHeap<Reverse<(Interval, usize, usize)>> = lists
        .iter()
        .enumerate()
        .filter_map(|(index, list)| list.first().map(|slot| Reverse((*slot, index, 0))))
        .collect();
    let mut out: Vec<TeamSlot<Id>> = Vec::new();
    while let Some(Reverse((slot, index, position))) = heads.pop() {
        let id = members[index].id.clone();
        match out.last_mut() {
            Some(last) if last.slot == slot => last.free.push(id),
            _ => out.push(TeamSlot {
                slot,
                free: vec![id],
            }),
        }
        if let Some(next) = lists[index].get(position + 1) {
            heads.push(Reverse((*next, index, position + 1)));
        }
    }
    out
}

/// Checks one concrete booking request against the same rules as
/// [`free_slots`]; on success returns the booked interval
/// `[start, start + duration)` (without buffers).
///
/// # Errors
///
/// The first broken rule, checked in this order:
/// [`SlotRejection::DurationNotAllowed`], [`SlotRejection::InThePast`],
/// [`SlotRejection::TooSoon`], [`SlotRejection::TooFarAhead`],
/// [`SlotRejection::OutsideWorkingHours`] (not inside any single working
/// range), [`SlotRejection::OffGrid`] (inside a range but not on its grid),
/// [`SlotRejection::Busy`] (the buffered slot overlaps `busy`).
///
/// # Example
///
/// ```
/// use pillow_engine::{Rule, RuleDocument, SlotRejection, check_slot};
/// use jiff::{SignedDuration, Timestamp};
///
/// let rule = Rule::parse(&serde_json::from_str::<RuleDocument>(r#"{
///     "schedule": {"monday": [{"start": "09:00", "end": "17:00"}]},
///     "timezone": "UTC"
/// }"#)?)?;
/// let now: Timestamp = "2024-01-01T00:00Z".parse()?;
/// let half_hour = SignedDuration::from_mins(30);
/// assert!(check_slot(&rule, &[], "2024-01-08T09:30Z".parse()?, half_hour, now).is_ok());
/// assert_eq!(
///     check_slot(&rule, &[], "2024-01-08T09:10Z".parse()?, half_hour, now),
///     Err(SlotRejection::OffGrid),
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_slot(
    rule: &Rule,
    busy: &[Interval],
    start: Timestamp,
    duration: SignedDuration,
    now: Timestamp,
) -> Result<Interval, SlotRejection> {
    if !duration_allowed(rule, duration) {
        return Err(SlotRejection::DurationNotAllowed);
    }
    if start < now {
        return Err(SlotRejection::InThePast);
    }
    let limits = StartLimits::new(rule, now);
    if start < limits.earliest {
        return Err(SlotRejection::TooSoon);
    }
    if start > limits.latest {
        return Err(SlotRejection::TooFarAhead);
    }
    let slot = start
        .checked_add(duration)
        .ok()
        .and_then(|end| Interval::new(start, end))
        .ok_or(SlotRejection::OutsideWorkingHours)?;
    let step = rule.slot_step().as_nanos();
    let mut inside = false;
    let mut on_grid = false;
    for range in working_intervals(rule, slot) {
        if range.contains(&slot) {
            inside = true;
            on_grid |= start.duration_since(range.start).as_nanos() % step == 0;
        }
    }
    if !inside {
        return Err(SlotRejection::OutsideWorkingHours);
    }
    if !on_grid {
        return Err(SlotRejection::OffGrid);
    }
    let occupied = Interval {
        start: add_clamped(slot.start, -rule.buffer_before()),
        end: add_clamped(slot.end, rule.buffer_after()),
    };
    if busy.iter().any(|b| b.overlaps(&occupied)) {
        return Err(SlotRejection::Busy);
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{iv, mins, rule, starts, ts};

    /// Monday 09:00–17:00 UTC, 30-minute slots, no buffers or notice.
    fn nine_to_five() -> Rule {
        rule(r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC"}"#)
    }

    /// 2024-01-08 is a Monday.
    const MONDAY: &str = "2024-01-08";

    fn at(hm: &str) -> Timestamp {
        ts(&format!("{MONDAY}T{hm}Z"))
    }

    fn between(a: &str, b: &str) -> Interval {
        Interval::new(at(a), at(b)).unwrap()
    }

    fn query(window: Interval, duration: i64, now: Timestamp) -> SlotQuery {
        SlotQuery {
            window,
            duration: mins(duration),
            now,
        }
    }

    fn monday_query(duration: i64) -> SlotQuery {
        query(
            iv("2024-01-08T00:00Z", "2024-01-09T00:00Z"),
            duration,
            ts("2024-01-01T00:00Z"),
        )
    }

    fn hms(slots: &[Interval]) -> Vec<String> {
        slots
            .iter()
            .map(|s| s.start.strftime("%H:%M").to_string())
            .collect()
    }

    #[test]
    fn an_empty_calendar_offers_every_slot_of_the_working_day() {
        let slots = free_slots(&nine_to_five(), &[], &monday_query(30));
        assert_eq!(slots.len(), 16);
        assert_eq!(slots[0], between("09:00", "09:30"));
        assert_eq!(slots[15], between("16:30", "17:00"));
    }

    #[test]
    fn a_day_without_ranges_offers_nothing() {
        let q = query(
            iv("2024-01-09T00:00Z", "2024-01-10T00:00Z"),
            30,
            ts("2024-01-01T00:00Z"),
        );
        assert!(free_slots(&nine_to_five(), &[], &q).is_empty());
    }

    #[test]
    fn a_slot_overlapping_a_busy_interval_is_not_offered() {
        let busy = [between("10:00", "11:00")];
        let slots = free_slots(&nine_to_five(), &busy, &monday_query(30));
        assert!(!hms(&slots).contains(&"10:00".to_string()));
        assert!(!hms(&slots).contains(&"10:30".to_string()));
        assert!(
            hms(&slots).contains(&"09:30".to_string()),
            "touching before is fine"
        );
        assert!(
            hms(&slots).contains(&"11:00".to_string()),
            "touching after is fine"
        );
    }

    #[test]
    fn a_slot_inside_the_buffer_of_a_booking_is_not_offered() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC",
                "buffer_before": 10, "buffer_after": 15}"#,
        );
        let busy = [between("12:00", "12:30")];
        let slots = hms(&free_slots(&rule, &busy, &monday_query(30)));
        // 11:30 ends at 12:00 but needs 15 minutes after; 12:30 needs 10 before.
        assert!(!slots.contains(&"11:30".to_string()));
        assert!(!slots.contains(&"12:30".to_string()));
        assert!(slots.contains(&"11:00".to_string()));
        assert!(slots.contains(&"13:00".to_string()));
    }

    #[test]
    fn buffers_may_reach_outside_working_hours() {
        // The buffer protects time around the slot; it does not itself have
        // to be working time, so 09:00 is offered with a 10-minute buffer.
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "10:00"}]}, "timezone": "UTC",
                "buffer_before": 10}"#,
        );
        assert_eq!(
            hms(&free_slots(&rule, &[], &monday_query(30))),
            ["09:00", "09:30"]
        );
        // ...but it must not overlap an event just before working hours.
        let busy = [between("08:00", "08:55")];
        assert_eq!(hms(&free_slots(&rule, &busy, &monday_query(30))), ["09:30"]);
    }

    #[test]
    fn busy_intervals_may_be_unsorted_and_overlapping() {
        let busy = [
            between("15:00", "16:00"),
            between("09:10", "09:20"),
            between("15:30", "15:45"),
            between("09:00", "09:15"),
        ];
        let slots = hms(&free_slots(&nine_to_five(), &busy, &monday_query(30)));
        assert!(!slots.contains(&"09:00".to_string()));
        assert!(!slots.contains(&"15:00".to_string()));
        assert!(!slots.contains(&"15:30".to_string()));
        assert_eq!(slots.len(), 13);
    }

    #[test]
    fn longer_bookings_use_the_same_grid_and_must_fit_the_range() {
        let slots = free_slots(&nine_to_five(), &[], &monday_query(90));
        // Starts every 30 minutes, last one 15:30 (ends 17:00).
        assert_eq!(slots.len(), 14);
        assert_eq!(slots.last(), Some(&between("15:30", "17:00")));
    }

    #[test]
    fn slot_interval_sets_the_grid_step() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "11:00"}]}, "timezone": "UTC",
                "slot_duration": 60, "slot_interval": 20}"#,
        );
        assert_eq!(
            hms(&free_slots(&rule, &[], &monday_query(60))),
            ["09:00", "09:20", "09:40", "10:00"]
        );
    }

    #[test]
    fn touching_ranges_each_start_their_own_grid() {
        // With a 40-minute grid, 09:00-10:00 offers 09:00 only (09:40 would end
        // at 10:10, past its range), and 10:00-11:00 starts afresh at 10:00.
        // One merged 09:00-11:00 range would have offered 09:00, 09:40, 10:20.
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "10:00"},
                                        {"start": "10:00", "end": "11:00"}]},
                "timezone": "UTC", "slot_duration": 30, "slot_interval": 40}"#,
        );
        assert_eq!(
            hms(&free_slots(&rule, &[], &monday_query(30))),
            ["09:00", "10:00"]
        );
    }

    #[test]
    fn a_slot_is_in_the_window_when_its_start_is() {
        let rule = nine_to_five();
        let q = query(between("09:15", "10:30"), 60, ts("2024-01-01T00:00Z"));
        // 09:00 starts before the window; 10:30 starts at its (exclusive) end;
        // 10:00 ends after the window but starts inside it.
        assert_eq!(hms(&free_slots(&rule, &[], &q)), ["09:30", "10:00"]);
    }

    #[test]
    fn slots_before_now_are_never_offered() {
        let q = query(
            iv("2024-01-08T00:00Z", "2024-01-09T00:00Z"),
            30,
            at("12:10"),
        );
        let slots = free_slots(&nine_to_five(), &[], &q);
        assert_eq!(slots[0], between("12:30", "13:00"));
        let q = query(
            iv("2024-01-08T00:00Z", "2024-01-09T00:00Z"),
            30,
            at("12:00"),
        );
        assert_eq!(
            free_slots(&nine_to_five(), &[], &q)[0],
            between("12:00", "12:30")
        );
    }

    #[test]
    fn the_minimum_notice_pushes_the_first_slot_back() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC",
                "min_booking_notice": 120}"#,
        );
        let q = query(
            iv("2024-01-08T00:00Z", "2024-01-09T00:00Z"),
            30,
            at("09:00"),
        );
        // now + 2 h = 11:00 exactly, which is allowed.
        assert_eq!(free_slots(&rule, &[], &q)[0], between("11:00", "11:30"));
    }

    #[test]
    fn the_maximum_notice_cuts_off_later_slots() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC",
                "max_booking_notice": 60}"#,
        );
        let q = query(
            iv("2024-01-08T00:00Z", "2024-01-09T00:00Z"),
            30,
            at("09:00"),
        );
        // now + 1 h = 10:00 exactly, which is still allowed.
        assert_eq!(
            hms(&free_slots(&rule, &[], &q)),
            ["09:00", "09:30", "10:00"]
        );
    }

    #[test]
    fn a_duration_that_is_not_allowed_yields_no_slots() {
        assert!(free_slots(&nine_to_five(), &[], &monday_query(45)).is_empty());
    }

    #[test]
    fn an_unavailable_override_removes_the_local_date() {
        // Los Angeles, 2024-12-25 is a Wednesday; 09:00 PST is 17:00Z.
        let rule = rule(
            r#"{"schedule": {"wednesday": [{"start": "09:00", "end": "17:00"}]},
                "timezone": "America/Los_Angeles",
                "date_overrides": [{"date": "2024-12-25", "available": false, "reason": "Holiday"}]}"#,
        );
        let q = query(
            iv("2024-12-22T00:00Z", "2025-01-05T00:00Z"),
            30,
            ts("2024-12-01T00:00Z"),
        );
        let slots = free_slots(&rule, &[], &q);
        assert_eq!(slots.len(), 16, "only 2025-01-01 remains");
        assert_eq!(slots[0].start, ts("2025-01-01T17:00Z"));
        assert!(!works_on(&rule, jiff::civil::date(2024, 12, 25)));
        assert!(works_on(&rule, jiff::civil::date(2025, 1, 1)));
    }

    #[test]
    fn an_available_override_replaces_the_weekly_ranges() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC",
                "date_overrides": [
                    {"date": "2024-01-08", "available": true, "ranges": [{"start": "20:00", "end": "21:00"}]},
                    {"date": "2024-01-13", "available": true, "ranges": [{"start": "10:00", "end": "10:30"}]}
                ]}"#,
        );
        assert_eq!(
            hms(&free_slots(&rule, &[], &monday_query(30))),
            ["20:00", "20:30"]
        );
        // Saturday 2024-01-13 normally has no hours; the override adds some.
        assert!(works_on(&rule, jiff::civil::date(2024, 1, 13)));
        assert!(!works_on(&rule, jiff::civil::date(2024, 1, 14)));
    }

    #[test]
    fn working_intervals_are_whole_ranges_that_overlap_the_window() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "17:00"}],
                             "tuesday": [{"start": "09:00", "end": "17:00"}]},
                "timezone": "UTC"}"#,
        );
        assert_eq!(
            working_intervals(&rule, between("11:00", "11:30")),
            [between("09:00", "12:00")],
            "not clipped to the window"
        );
        assert_eq!(
            working_intervals(&rule, iv("2024-01-08T11:00Z", "2024-01-09T10:00Z")),
            [
                between("09:00", "12:00"),
                between("12:00", "17:00"),
                iv("2024-01-09T09:00Z", "2024-01-09T17:00Z"),
            ]
        );
        assert!(working_intervals(&rule, between("17:00", "23:00")).is_empty());
    }

    #[test]
    fn a_range_ending_at_midnight_runs_into_the_next_date() {
        let rule = rule(
            r#"{"schedule": {"monday": [{"start": "23:00", "end": "24:00"}],
                             "tuesday": [{"start": "00:00", "end": "01:00"}]},
                "timezone": "Asia/Kolkata"}"#,
        );
        // Kolkata is +05:30: Monday 23:00 = 17:30Z, Tuesday 01:00 = 19:30Z.
        let q = query(
            iv("2024-01-08T00:00Z", "2024-01-10T00:00Z"),
            30,
            ts("2024-01-01T00:00Z"),
        );
        let slots = free_slots(&rule, &[], &q);
        assert_eq!(
            starts(&slots),
            [
                "2024-01-08T17:30:00Z",
                "2024-01-08T18:00:00Z",
                "2024-01-08T18:30:00Z",
                "2024-01-08T19:00:00Z",
            ]
        );
        // Two separate ranges: a one-hour booking across midnight is not offered.
        let q = query(q.window, 60, q.now);
        assert_eq!(
            starts(&free_slots(&rule, &[], &q)),
            ["2024-01-08T17:30:00Z", "2024-01-08T18:30:00Z"]
        );
    }

    #[test]
    fn team_slots_are_the_union_with_who_is_free() {
        let early = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "10:00"}]}, "timezone": "UTC"}"#,
        );
        let late = rule(
            r#"{"schedule": {"monday": [{"start": "09:30", "end": "10:30"}]}, "timezone": "UTC"}"#,
        );
        let busy = [between("09:30", "10:00")];
        let members = [
            Member {
                id: 1,
                rule: &late,
                busy: &[],
            },
            Member {
                id: 2,
                rule: &early,
                busy: &busy,
            },
            Member {
                id: 3,
                rule: &early,
                busy: &[],
            },
        ];
        let slots = team_slots(&members, &monday_query(30));
        let got: Vec<(String, Vec<i32>)> = slots
            .iter()
            .map(|t| (t.slot.start.strftime("%H:%M").to_string(), t.free.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("09:00".to_string(), vec![2, 3]),
                ("09:30".to_string(), vec![1, 3]),
                ("10:00".to_string(), vec![1]),
            ]
        );
    }

    #[test]
    fn team_slots_merge_equal_slots_from_members_on_different_grids() {
        // A 60-minute slot at 09:00 comes from both the 60-minute grid and the
        // 30-minute grid (60 is allowed in both); it is one team slot.
        let half = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "10:00"}]}, "timezone": "UTC"}"#,
        );
        let hour = rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "10:00"}]}, "timezone": "UTC", "slot_duration": 60}"#,
        );
        let members = [
            Member {
                id: "h",
                rule: &hour,
                busy: &[],
            },
            Member {
                id: "m",
                rule: &half,
                busy: &[],
            },
        ];
        let slots = team_slots(&members, &monday_query(60));
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].free, ["h", "m"]);
    }

    #[test]
    fn a_team_without_members_has_no_slots() {
        let members: [Member<'_, u8>; 0] = [];
        assert!(team_slots(&members, &monday_query(30)).is_empty());
    }

    // ---- check_slot: one test per rejection ----

    fn strict_rule() -> Rule {
        rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "17:00"}]},
                "timezone": "UTC", "buffer_before": 10, "buffer_after": 10,
                "min_booking_notice": 60, "max_booking_notice": 1440}"#,
        )
    }

    fn check(
        start: &str,
        duration: i64,
        now: &str,
        busy: &[Interval],
    ) -> Result<Interval, SlotRejection> {
        check_slot(&strict_rule(), busy, at(start), mins(duration), at(now))
    }

    #[test]
    fn a_free_slot_on_the_grid_is_accepted() {
        assert_eq!(
            check("10:00", 30, "08:00", &[]),
            Ok(between("10:00", "10:30"))
        );
        assert_eq!(
            check("10:00", 60, "08:00", &[]),
            Ok(between("10:00", "11:00"))
        );
    }

    #[test]
    fn a_duration_that_is_not_a_multiple_of_the_slot_is_rejected() {
        assert_eq!(
            check("10:00", 45, "08:00", &[]),
            Err(SlotRejection::DurationNotAllowed)
        );
        assert_eq!(
            check("10:00", 0, "08:00", &[]),
            Err(SlotRejection::DurationNotAllowed)
        );
        assert_eq!(
            check("10:00", -30, "08:00", &[]),
            Err(SlotRejection::DurationNotAllowed)
        );
        assert_eq!(
            check("10:00", 24 * 60 + 30, "08:00", &[]),
            Err(SlotRejection::DurationNotAllowed)
        );
    }

    #[test]
    fn a_start_in_the_past_is_rejected() {
        assert_eq!(
            check("10:00", 30, "10:01", &[]),
            Err(SlotRejection::InThePast)
        );
    }

    #[test]
    fn a_start_sooner_than_the_minimum_notice_is_rejected() {
        assert_eq!(
            check("10:00", 30, "09:01", &[]),
            Err(SlotRejection::TooSoon)
        );
        assert!(
            check("10:00", 30, "09:00", &[]).is_ok(),
            "exactly the notice is enough"
        );
    }

    #[test]
    fn a_start_beyond_the_maximum_notice_is_rejected() {
        let now = ts("2024-01-07T09:59Z");
        assert_eq!(
            check_slot(&strict_rule(), &[], at("10:00"), mins(30), now),
            Err(SlotRejection::TooFarAhead)
        );
        let now = ts("2024-01-07T10:00Z");
        assert!(check_slot(&strict_rule(), &[], at("10:00"), mins(30), now).is_ok());
    }

    #[test]
    fn a_slot_outside_working_hours_is_rejected() {
        assert_eq!(
            check("17:00", 30, "08:00", &[]),
            Err(SlotRejection::OutsideWorkingHours)
        );
        assert_eq!(
            check("16:45", 30, "08:00", &[]),
            Err(SlotRejection::OutsideWorkingHours)
        );
        // Across two touching ranges: not inside any single range.
        assert_eq!(
            check("11:30", 60, "08:00", &[]),
            Err(SlotRejection::OutsideWorkingHours)
        );
    }

    #[test]
    fn a_slot_inside_working_hours_but_off_the_grid_is_rejected() {
        assert_eq!(
            check("10:10", 30, "08:00", &[]),
            Err(SlotRejection::OffGrid)
        );
    }

    #[test]
    fn a_slot_whose_buffer_touches_a_busy_interval_is_rejected() {
        let busy = [between("10:35", "11:00")];
        assert_eq!(check("10:00", 30, "08:00", &busy), Err(SlotRejection::Busy));
        let busy = [between("10:40", "11:00")];
        assert!(
            check("10:00", 30, "08:00", &busy).is_ok(),
            "exactly the buffer is enough"
        );
    }

    #[test]
    fn rejections_are_reported_in_a_fixed_order() {
        // Past and off-grid and busy: the past wins.
        let busy = [between("09:00", "17:00")];
        assert_eq!(
            check("10:10", 30, "11:00", &busy),
            Err(SlotRejection::InThePast)
        );
        // Wrong duration beats everything.
        assert_eq!(
            check("10:10", 45, "11:00", &busy),
            Err(SlotRejection::DurationNotAllowed)
        );
        // Off grid beats busy.
        assert_eq!(
            check("10:10", 30, "08:00", &busy),
            Err(SlotRejection::OffGrid)
        );
    }

    #[test]
    fn rejection_codes_are_stable_snake_case() {
        assert_eq!(
            SlotRejection::OutsideWorkingHours.code(),
            "outside_working_hours"
        );
        assert_eq!(SlotRejection::TooFarAhead.code(), "too_far_ahead");
        assert_eq!(
            SlotRejection::Busy.to_string(),
            "the requested time is already taken"
        );
    }

    #[test]
    fn durations_are_positive_multiples_of_the_slot_up_to_a_day() {
        let rule = nine_to_five();
        assert!(duration_allowed(&rule, mins(30)));
        assert!(duration_allowed(&rule, mins(24 * 60)));
        assert!(!duration_allowed(&rule, mins(24 * 60 + 30)));
        assert!(!duration_allowed(&rule, mins(0)));
        assert!(!duration_allowed(&rule, mins(-30)));
        assert!(!duration_allowed(
            &rule,
            SignedDuration::from_secs(30 * 60 + 1)
        ));
    }

    #[test]
    fn an_all_day_event_on_an_ordinary_day_is_24_hours_and_empty_ranges_are_none() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let d = jiff::civil::date(2024, 6, 3);
        let day = all_day_interval(d, d.tomorrow().unwrap(), &tz).unwrap();
        // London is on BST (+01) in June: local midnight is 23:00Z the day before.
        assert_eq!(day, iv("2024-06-02T23:00Z", "2024-06-03T23:00Z"));
        assert_eq!(all_day_interval(d, d, &tz), None);
        assert_eq!(all_day_interval(d.tomorrow().unwrap(), d, &tz), None);
    }
}
