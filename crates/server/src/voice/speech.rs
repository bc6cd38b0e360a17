//! Words an agent can speak: times in the business's zone, confirmation codes spelled out, and
//! a few options spread over the time a caller asked about.
//!
//! Everything here is pure, so the phrasing and the DST behaviour are tested beside the code.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use serde::Deserialize;

/// How far ahead a bare weekday ("Tuesday at 2 PM") is still unambiguous; beyond, the date is
/// said too ("Tuesday, March 12 at 2 PM").
const WEEKDAY_ONLY_DAYS: i32 = 6;

/// A part of the day a caller may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartOfDay {
    // Before noon.
    #[serde(alias = "Morning", alias = "MORNING")]
    Morning,
    // Noon to 5 PM.
    #[serde(alias = "Afternoon", alias = "AFTERNOON")]
    Afternoon,
    // 5 PM to midnight.
    #[serde(alias = "Evening", alias = "EVENING")]
    Evening,
}

impl PartOfDay {
    /// Whether a local wall time falls in this part of the day.
    pub fn contains(self, time: Time) -> bool {
        let hour = time.hour();
        match self {
            PartOfDay::Morning => hour < 12,
            PartOfDay::Afternoon => (12..17).contains(&hour),
            PartOfDay::Evening => hour >= 17,
        }
    }

    /// "in the morning", for summaries.
    pub fn phrase(self) -> &'static str {
        match self {
            PartOfDay::Morning => "in the morning",
            PartOfDay::Afternoon => "in the afternoon",
            PartOfDay::Evening => "in the evening",
        }
    }
}

/// A wall-clock time as people say it: "2 PM", "9:30 AM", "12 PM".
pub fn clock(time: Time) -> String {
    let (hour, meridiem) = match time.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    if time.minute() == 0 {
        format!("{hour} {meridiem}")
    } else {
        format!("{hour}:{:02} {meridiem}", time.minute())
    }
}

/// A date relative to `today`: "today", "tomorrow", "Tuesday" within the coming week, else
/// "Tuesday, March 12" (with the year when it is not this year's).
pub fn spoken_date(date: Date, today: Date) -> String {
    // Calendar days, not 24-hour periods: across a DST change a day has 23 or 25 hours.
    let days = (date - today).get_days();
    match days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        2..=WEEKDAY_ONLY_DAYS => date.strftime("%A").to_string(),
        _ if date.year() == today.year() => date.strftime("%A, %B %-d").to_string(),
        _ => date.strftime("%A, %B %-d, %Y").to_string(),
    }
}

/// An instant as said in `zone`: "today at 2 PM", "Tuesday, March 12 at 9:30 AM".
pub fn spoken_time(at: Timestamp, zone: &TimeZone, now: Timestamp) -> String {
    let local = at.to_zoned(zone.clone());
    let today = now.to_zoned(zone.clone()).date();
    format!(
        "{} at {}",
        spoken_date(local.date(), today),
        clock(local.time())
    )
}

/// RFC 3339 with the zone's offset at that instant, e.g. `2024-03-12T14:00:00-04:00`.
pub fn iso_with_offset(at: Timestamp, zone: &TimeZone) -> String {
    let local: Zoned = at.to_zoned(zone.clone());
    local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A confirmation code letter by letter, commas between, so text-to-speech pauses:
/// "K, 7, M, 4".
pub fn spell_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// "a", "a or b", "a, b or c".
pub fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// "a", "a and b", "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Picks at most `count` of the sorted `starts`, spread over the time they cover: the first,
/// the last, and those nearest to evenly spaced moments between. A caller who asks about a day
/// hears a morning, a midday and a late option rather than three back-to-back ones. Answers
/// indices into `starts`, ascending.
pub fn spread(starts: &[Timestamp], count: usize) -> Vec<usize> {
    if starts.len() <= count {
        return (0..starts.len()).collect();
    }
    if count == 0 {
        return Vec::new();
    }
    if count == 1 {
        return vec![0];
    }
    let first = starts[0];
    let span = starts[starts.len() - 1].duration_since(first);
    let mut chosen: Vec<usize> = Vec::with_capacity(count);
    for k in 0..count {
        let offset = span.as_secs() * k as i64 / (count as i64 - 1);
        let target = first
            .checked_add(SignedDuration::from_secs(offset))
            .unwrap_or(first);
        let best = (0..starts.len())
            .filter(|i| !chosen.contains(i))
            .min_by_key(|&i| (starts[i].duration_since(target).abs(), i));
        if let Some(best) = best {
            chosen.push(best);
        }
    }
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn clock_times_are_said_the_way_people_say_them() {
        assert_eq!(clock(Time::constant(14, 0, 0, 0)), "2 PM");
        assert_eq!(clock(Time::constant(9, 30, 0, 0)), "9:30 AM");
        assert_eq!(clock(Time::constant(12, 0, 0, 0)), "12 PM");
        assert_eq!(clock(Time::constant(0, 15, 0, 0)), "12:15 AM");
        assert_eq!(clock(Time::constant(23, 5, 0, 0)), "11:05 PM");
    }

    #[test]
    fn dates_are_relative_within_a_week_and_spelled_out_beyond() {
        // Monday, March 4, 2024.
        let today = Date::constant(2024, 3, 4);
        let at = |d: i8| spoken_date(Date::constant(2024, 3, d), today);
        assert_eq!(at(4), "today");
        assert_eq!(at(5), "tomorrow");
        assert_eq!(at(7), "Thursday");
        assert_eq!(at(10), "Sunday");
        assert_eq!(at(11), "Monday, March 11");
        assert_eq!(at(12), "Tuesday, March 12");
        assert_eq!(
            spoken_date(Date::constant(2025, 1, 7), today),
            "Tuesday, January 7, 2025"
        );
    }

    #[test]
    fn spoken_times_use_the_business_zone_across_the_spring_forward() {
        // New York springs forward on Sunday, March 10, 2024 (02:00 EST -> 03:00 EDT).
        // Saturday 9 PM EST is 02:00Z; Sunday's 9 AM is already EDT, so 13:00Z, not 14:00Z.
        let now = ts("2024-03-10T02:00:00Z");
        assert_eq!(spoken_time(now, &ny(), now), "today at 9 PM");
        assert_eq!(
            spoken_time(ts("2024-03-10T13:00:00Z"), &ny(), now),
            "tomorrow at 9 AM"
        );
        assert_eq!(
            spoken_time(ts("2024-03-12T18:00:00Z"), &ny(), now),
            "Tuesday at 2 PM"
        );
        assert_eq!(
            iso_with_offset(ts("2024-03-12T18:00:00Z"), &ny()),
            "2024-03-12T14:00:00-04:00"
        );
        assert_eq!(
            iso_with_offset(ts("2024-03-09T19:00:00Z"), &ny()),
            "2024-03-09T14:00:00-05:00"
        );
    }

    #[test]
    fn tomorrow_is_a_calendar_day_even_when_it_has_twenty_five_hours() {
        // London falls back on Sunday, October 27, 2024 (02:00 BST -> 01:00 GMT). From
        // Saturday 23:30 BST (22:30Z), Monday 00:30 GMT is 26 hours away but two dates on.
        let london = TimeZone::get("Europe/London").unwrap();
        let now = ts("2024-10-26T22:30:00Z");
        assert_eq!(
            spoken_time(ts("2024-10-27T23:30:00Z"), &london, now),
            "tomorrow at 11:30 PM"
        );
        assert_eq!(
            spoken_time(ts("2024-10-28T00:30:00Z"), &london, now),
            "Monday at 12:30 AM"
        );
        assert_eq!(
            iso_with_offset(ts("2024-10-28T09:00:00Z"), &london),
            "2024-10-28T09:00:00+00:00"
        );
        assert_eq!(
            iso_with_offset(ts("2024-10-26T08:00:00Z"), &london),
            "2024-10-26T09:00:00+01:00"
        );
    }

    #[test]
    fn codes_are_spelled_character_by_character() {
        assert_eq!(spell_code("K7M4PX"), "K, 7, M, 4, P, X");
        assert_eq!(spell_code("ab 3"), "A, B, 3");
    }

    #[test]
    fn lists_are_joined_for_speech() {
        let items = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(join_or(&items(0)), "");
        assert_eq!(join_or(&items(1)), "1");
        assert_eq!(join_or(&items(2)), "1 or 2");
        assert_eq!(join_or(&items(3)), "1, 2 or 3");
        assert_eq!(join_and(&items(3)), "1, 2 and 3");
    }

    fn half_hours(from: &str, count: usize) -> Vec<Timestamp> {
        let first = ts(from);
        (0..count)
            .map(|i| first + SignedDuration::from_mins(30 * i as i64))
            .collect()
    }

    #[test]
    fn options_are_spread_over_the_day_not_the_first_three() {
        // 9:00 to 16:30, every half hour: first, middle, last.
        let starts = half_hours("2024-03-12T09:00:00Z", 16);
        let picked: Vec<_> = spread(&starts, 3).iter().map(|&i| starts[i]).collect();
        assert_eq!(
            picked,
            vec![
                ts("2024-03-12T09:00:00Z"),
                ts("2024-03-12T12:30:00Z"),
                ts("2024-03-12T16:30:00Z")
            ]
        );
    }

    #[test]
    fn spreading_follows_time_not_list_position() {
        // A free morning and one late slot: the middle pick is the morning slot nearest midday,
        // not the fourth morning slot.
        let mut starts = half_hours("2024-03-12T09:00:00Z", 4);
        starts.push(ts("2024-03-12T16:00:00Z"));
        let picked: Vec<_> = spread(&starts, 3).iter().map(|&i| starts[i]).collect();
        assert_eq!(
            picked,
            vec![
                ts("2024-03-12T09:00:00Z"),
                ts("2024-03-12T10:30:00Z"),
                ts("2024-03-12T16:00:00Z")
            ]
        );
    }

    #[test]
    fn few_slots_are_all_offered_and_picks_are_distinct() {
        let starts = half_hours("2024-03-12T09:00:00Z", 2);
        assert_eq!(spread(&starts, 3), vec![0, 1]);
        let starts = half_hours("2024-03-12T09:00:00Z", 3);
        assert_eq!(spread(&starts, 3), vec![0, 1, 2]);
        let starts = half_hours("2024-03-12T09:00:00Z", 4);
        let picked = spread(&starts, 3);
        assert_eq!(picked.len(), 3);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(spread(&[], 3).is_empty());
    }

    #[test]
    fn parts_of_the_day_split_at_noon_and_five() {
        let t = |h: i8, m: i8| Time::constant(h, m, 0, 0);
        assert!(PartOfDay::Morning.contains(t(11, 30)));
        assert!(!PartOfDay::Morning.contains(t(12, 0)));
        assert!(PartOfDay::Afternoon.contains(t(12, 0)));
        assert!(PartOfDay::Afternoon.contains(t(16, 30)));
        assert!(PartOfDay::Evening.contains(t(17, 0)));
    }
}
