//! Smart suggestions: the order in which open times are offered, from what the caller said
//! ("as early as possible", "afternoons", "a Tuesday", "same time as last time") and what we
//! know of them (the host of their previous appointment). Pure: the wishes come in as
//! [`Wishes`], the times as [`Candidate`]s; nothing here reads a clock or a store, so the
//! voice tools and the in-call slots rank alike and the order is tested without a server.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use pillow_store::UserId;

/// What the caller asked for, and what their history suggests. All in the business's zone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wishes {
    /// "As early as possible": the soonest times, in order.
    pub earliest: bool,
    /// `[first, end)` hours of the day ("afternoons" is `[12, 17]`).
    pub hours: Option<[i8; 2]>,
    /// A day of the week.
    pub weekday: Option<Weekday>,
    /// "Same time as last time": the wall time of the caller's previous appointment.
    pub same_time: Option<Time>,
    /// The host of the caller's previous appointment: times they are free come first.
    pub previous_host: Option<UserId>,
}

impl Wishes {
    /// Whether nothing was asked for: the caller's order (spread over the range) stands.
    pub fn is_empty(&self) -> bool {
        *self == Wishes::default()
    }
}

/// An open time and the members free for it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub start: Timestamp,
    pub free: &'a [UserId],
}

/// Why a time was put forward, for the spoken reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The previous host is free then.
    PreviousHost,
    /// The same wall time as the previous appointment.
    SameTime,
    /// The day of the week asked for.
    Weekday,
    /// Within the hours asked for.
    Hours,
}

/// One time put forward: its index among the candidates and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub index: usize,
    pub reasons: Vec<Reason>,
}

/// Wishes missed (host, day, hours), minutes from the wished wall time, the start: smaller is
/// offered first.
type RankKey = ((u8, u8, u8), i32, Timestamp);

/// How far a time is from what was asked: each wish missed counts in this order (host, day,
/// hours), then the distance from the wished wall time, then how late it is.
fn key(candidate: &Candidate<'_>, wishes: &Wishes, zone: &TimeZone) -> RankKey {
    let local = candidate.start.to_zoned(zone.clone());
    let host = wishes
        .previous_host
        .is_some_and(|host| !candidate.free.contains(&host));
    let day = wishes.weekday.is_some_and(|w| local.weekday() != w);
    let hour = local.hour();
    let hours = wishes
        .hours
        .is_some_and(|[first, end]| hour < first || hour >= end);
    let off = wishes
        .same_time
        .map_or(0, |wished| minutes_apart(local.time(), wished));
    (
        (u8::from(host), u8::from(day), u8::from(hours)),
        off,
        candidate.start,
    )
}

fn minutes_apart(a: Time, b: Time) -> i32 {
    let minutes = |t: Time| i32::from(t.hour()) * 60 + i32::from(t.minute());
    (minutes(a) - minutes(b)).abs()
}

/// At most `count` candidates in the order to offer them, with their reasons. With "same time
/// as last time" each option is on another day (three days at 2 PM, not 2, 2:30 and 3 PM)
/// before any day repeats. Candidates need not be sorted.
pub fn rank(
    candidates: &[Candidate<'_>],
    wishes: &Wishes,
    zone: &TimeZone,
    count: usize,
) -> Vec<Pick> {
    let mut order: Vec<(usize, RankKey)> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (i, key(c, wishes, zone)))
        .collect();
    order.sort_by_key(|(i, key)| (*key, *i));
    let mut chosen: Vec<usize> = Vec::with_capacity(count);
    if wishes.same_time.is_some() {
        let mut days: Vec<Date> = Vec::new();
        for (i, _) in &order {
            if chosen.len() == count {
                break;
            }
            let day = candidates[*i].start.to_zoned(zone.clone()).date();
            if !days.contains(&day) {
                days.push(day);
                chosen.push(*i);
            }
        }
    }
    for (i, _) in &order {
        if chosen.len() == count {
            break;
        }
        if !chosen.contains(i) {
            chosen.push(*i);
        }
    }
    chosen
        .into_iter()
        .map(|index| Pick {
            index,
            reasons: reasons(&candidates[index], wishes, zone),
        })
        .collect()
}

fn reasons(candidate: &Candidate<'_>, wishes: &Wishes, zone: &TimeZone) -> Vec<Reason> {
    let local = candidate.start.to_zoned(zone.clone());
    let mut reasons = Vec::new();
    if wishes
        .previous_host
        .is_some_and(|host| candidate.free.contains(&host))
    {
        reasons.push(Reason::PreviousHost);
    }
    if wishes
        .same_time
        .is_some_and(|t| minutes_apart(local.time(), t) == 0)
    {
        reasons.push(Reason::SameTime);
    }
    if wishes.weekday.is_some_and(|w| local.weekday() == w) {
        reasons.push(Reason::Weekday);
    }
    if wishes
        .hours
        .is_some_and(|[first, end]| (first..end).contains(&local.hour()))
    {
        reasons.push(Reason::Hours);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    /// A local New York wall time on a day of March 2024 as an instant.
    fn at(day: i8, hour: i8, minute: i8) -> Timestamp {
        Date::constant(2024, 3, day)
            .at(hour, minute, 0, 0)
            .to_zoned(ny())
            .unwrap()
            .timestamp()
    }

    const LEE: UserId = UserId(Uuid::from_u128(1));
    const KIM: UserId = UserId(Uuid::from_u128(2));

    /// Every half hour 09:00–16:30 from Monday March 4 to Friday March 15, 2024 (weekdays),
    /// Dr. Lee free in the afternoons only, Dr. Kim always.
    fn week() -> Vec<(Timestamp, Vec<UserId>)> {
        let mut slots = Vec::new();
        for day in (4..=8).chain(11..=15) {
            for half in 0..16 {
                let (hour, minute) = (9 + half / 2, (half % 2) * 30);
                let free = if hour >= 12 {
                    vec![LEE, KIM]
                } else {
                    vec![KIM]
                };
                slots.push((at(day, hour, minute), free));
            }
        }
        slots
    }

    fn candidates(slots: &[(Timestamp, Vec<UserId>)]) -> Vec<Candidate<'_>> {
        slots
            .iter()
            .map(|(start, free)| Candidate {
                start: *start,
                free,
            })
            .collect()
    }

    fn starts(slots: &[(Timestamp, Vec<UserId>)], picks: &[Pick]) -> Vec<Timestamp> {
        picks.iter().map(|p| slots[p.index].0).collect()
    }

    #[test]
    fn earliest_offers_the_soonest_times_in_order() {
        let slots = week();
        let wishes = Wishes {
            earliest: true,
            ..Wishes::default()
        };
        let picks = rank(&candidates(&slots), &wishes, &ny(), 3);
        assert_eq!(
            starts(&slots, &picks),
            [at(4, 9, 0), at(4, 9, 30), at(4, 10, 0)]
        );
    }

    #[test]
    fn a_weekday_and_a_part_of_the_day_come_before_everything_else() {
        let slots = week();
        let wishes = Wishes {
            weekday: Some(Weekday::Thursday),
            hours: Some([12, 17]),
            ..Wishes::default()
        };
        let picks = rank(&candidates(&slots), &wishes, &ny(), 3);
        // Thursday March 7 is the first Thursday; its afternoon starts at noon.
        assert_eq!(
            starts(&slots, &picks),
            [at(7, 12, 0), at(7, 12, 30), at(7, 13, 0)]
        );
        assert_eq!(picks[0].reasons, [Reason::Weekday, Reason::Hours]);
    }

    #[test]
    fn same_time_as_last_time_offers_that_time_on_different_days() {
        let slots = week();
        let wishes = Wishes {
            same_time: Some(Time::constant(14, 30, 0, 0)),
            ..Wishes::default()
        };
        let picks = rank(&candidates(&slots), &wishes, &ny(), 3);
        assert_eq!(
            starts(&slots, &picks),
            [at(4, 14, 30), at(5, 14, 30), at(6, 14, 30)]
        );
        assert!(picks.iter().all(|p| p.reasons == [Reason::SameTime]));
        // A day without that time offers the nearest one on it.
        let taken: Vec<_> = week()
            .into_iter()
            .filter(|(s, _)| *s != at(4, 14, 30))
            .collect();
        let picks = rank(&candidates(&taken), &wishes, &ny(), 3);
        assert_eq!(
            starts(&taken, &picks),
            [at(5, 14, 30), at(6, 14, 30), at(7, 14, 30)]
        );
    }

    #[test]
    fn the_previous_host_comes_first_when_free_and_says_why() {
        let slots = week();
        let wishes = Wishes {
            previous_host: Some(LEE),
            earliest: true,
            ..Wishes::default()
        };
        let picks = rank(&candidates(&slots), &wishes, &ny(), 3);
        // Dr. Lee is free only from noon: the morning times with Dr. Kim come after.
        assert_eq!(
            starts(&slots, &picks),
            [at(4, 12, 0), at(4, 12, 30), at(4, 13, 0)]
        );
        assert_eq!(picks[0].reasons, [Reason::PreviousHost]);
        // Not free at all: the order is as without the wish.
        let mornings: Vec<_> = week()
            .into_iter()
            .filter(|(s, _)| *s < at(4, 12, 0))
            .collect();
        let picks = rank(&candidates(&mornings), &wishes, &ny(), 2);
        assert_eq!(starts(&mornings, &picks), [at(4, 9, 0), at(4, 9, 30)]);
        assert!(picks[0].reasons.is_empty());
    }

    #[test]
    fn wall_times_are_read_in_the_business_zone_across_a_dst_change() {
        // Spring forward on Sunday March 10, 2024 in New York: 14:00 is 19:00 UTC before and
        // 18:00 UTC after. "Same time as last time" means the wall time, not the UTC time.
        let before: Timestamp = "2024-03-09T19:00:00Z".parse().unwrap();
        let after_wall: Timestamp = "2024-03-11T18:00:00Z".parse().unwrap();
        let after_utc: Timestamp = "2024-03-11T19:00:00Z".parse().unwrap();
        let slots = vec![(after_utc, vec![KIM]), (after_wall, vec![KIM])];
        let wishes = Wishes {
            same_time: Some(before.to_zoned(ny()).time()),
            ..Wishes::default()
        };
        let picks = rank(&candidates(&slots), &wishes, &ny(), 1);
        assert_eq!(starts(&slots, &picks), [after_wall]);
    }

    #[test]
    fn no_wishes_is_empty_and_fewer_candidates_than_asked_are_all_offered() {
        assert!(Wishes::default().is_empty());
        let slots = week()[..2].to_vec();
        let wishes = Wishes {
            earliest: true,
            ..Wishes::default()
        };
        assert_eq!(rank(&candidates(&slots), &wishes, &ny(), 3).len(), 2);
    }
}
