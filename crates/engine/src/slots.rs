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
    let lists: Vec<Vec<Interval>> = members
        .iter()
        .map(|member| free_slots(member.rule, member.busy, query))
        .collect();
    let lists: Vec<(Id, &[Interval])> = members
        .iter()
        .zip(&lists)
        .map(|(member, list)| (member.id.clone(), list.as_slice()))
        .collect();
    merge_free_slots(&lists)
}

/// The team slots of members whose [`free_slots`] are already known (each list sorted, as
/// [`free_slots`] returns it): what [`team_slots`] does after computing them. Callers that
/// keep each member's free slots between queries merge them with this.
#[must_use]
pub fn merge_free_slots<Id: Clone>(lists: &[(Id, &[Interval])]) -> Vec<TeamSlot<Id>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Each member's slots are sorted: a k-way merge by (slot, member index) groups equal slots
    // and keeps members in input order within each group, without sorting everything again.
    let mut heads: BinaryHeap<Reverse<(Interval, usize, usize)>> = lists
        .iter()
        .enumerate()
        .filter_map(|(index, (_, list))| list.first().map(|slot| Reverse((*slot, index, 0))))
        .collect();
    let mut out: Vec<TeamSlot<Id>> = Vec::new();
    while let Some(Reverse((slot, index, position))) = heads.pop() {
        let id = lists[index].0.clone();
        match out.last_mut() {
            Some(last) if last.slot == slot => last.free.push(id),
            _ => out.push(TeamSlot {
                slot,
                free: vec![id],
            }),
        }
        if let Some(next) = lists[index].1.get(position + 1) {
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
mod tests;
