//! DST regression tests on real zones and dates.
//!
//! Every expected instant is derived by hand in the comment next to it from
//! the zone's offsets and the transition, then checked against jiff. The
//! transitions were confirmed against the system tz database (2025b) through
//! jiff's `TimeZone::following`:
//!
//! | zone                | transition (UTC)      | local clock change                  |
//! |---------------------|-----------------------|-------------------------------------|
//! | America/Los_Angeles | 2024-03-10T10:00Z     | 01:59:59 −08 → 03:00 −07            |
//! | America/Los_Angeles | 2024-11-03T09:00Z     | 01:59:59 −07 → 01:00 −08            |
//! | Europe/London       | 2024-03-31T01:00Z     | 00:59:59 +00 → 02:00 +01            |
//! | Europe/London       | 2024-10-27T01:00Z     | 01:59:59 +01 → 01:00 +00            |
//! | Australia/Lord_Howe | 2024-04-06T15:00Z     | 04-07 01:59:59 +11 → 01:30 +10:30   |
//! | Australia/Lord_Howe | 2024-10-05T15:30Z     | 10-06 01:59:59 +10:30 → 02:30 +11   |
//! | America/Santiago    | 2024-04-07T03:00Z     | 04-06 23:59:59 −03 → 04-06 23:00 −04|
//! | America/Santiago    | 2024-09-08T04:00Z     | 09-07 23:59:59 −04 → 09-08 01:00 −03|
//! | Pacific/Chatham     | 2024-04-06T14:00Z     | 04-07 03:44:59 +13:45 → 02:45 +12:45|
//! | Pacific/Chatham     | 2024-09-28T14:00Z     | 09-29 02:44:59 +12:45 → 03:45 +13:45|
//!
//! Note on Santiago: the April change happens *at* local midnight, going
//! back, so the repeated hour is 23:00–24:00 on **Saturday 2024-04-06**;
//! 2024-04-07 00:00 itself occurs once (04:00Z, −04). The September change
//! skips 2024-09-08 00:00–00:59, so that date starts at 01:00 local.

use jiff::SignedDuration;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;

use crate::test_support::{iv, mins, starts, ts};
use crate::{
    Interval, Rule, RuleDocument, SlotQuery, SlotRejection, all_day_interval, check_slot,
    free_slots, working_intervals, works_on,
};

/// A rule in `tz` with the same `ranges` every day of the week.
fn every_day(tz: &str, ranges: &[(&str, &str)], slot_minutes: i64) -> Rule {
    let day: Vec<serde_json::Value> = ranges
        .iter()
        .map(|(s, e)| serde_json::json!({"start": s, "end": e}))
        .collect();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let schedule: serde_json::Map<String, serde_json::Value> = days
        .iter()
        .map(|d| ((*d).to_string(), serde_json::Value::from(day.clone())))
        .collect();
    let doc: RuleDocument = serde_json::from_value(serde_json::json!({
        "schedule": schedule,
        "timezone": tz,
        "slot_duration": slot_minutes,
    }))
    .unwrap();
    Rule::parse(&doc).unwrap()
}

/// The local day `d` in the rule's zone, as an instant window.
fn local_day(rule: &Rule, d: Date) -> Interval {
    all_day_interval(d, d.tomorrow().unwrap(), rule.time_zone()).unwrap()
}

/// Free slots of `duration` minutes on local date `d`, with nothing busy and
/// "now" long before.
fn slots_on(rule: &Rule, d: Date, duration: i64) -> Vec<Interval> {
    let query = SlotQuery {
        window: local_day(rule, d),
        duration: mins(duration),
        now: ts("2000-01-01T00:00Z"),
    };
    free_slots(rule, &[], &query)
}

fn only_working_interval(rule: &Rule, d: Date) -> Interval {
    let ranges = working_intervals(rule, local_day(rule, d));
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    ranges[0]
}

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

// America/Los_Angeles

#[test]
fn los_angeles_spring_forward_one_to_three_is_one_real_hour_and_two_slots() {
    // 01:00 is still PST (−08) = 09:00Z; 03:00 is already PDT (−07) = 10:00Z.
    // The clock skips 02:00–03:00, so only one real hour fits: 09:00Z, 09:30Z.
    let rule = every_day("America/Los_Angeles", &[("01:00", "03:00")], 30);
    let d = date(2024, 3, 10);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-03-10T09:00Z", "2024-03-10T10:00Z")
    );
    assert_eq!(
        starts(&slots_on(&rule, d, 30)),
        ["2024-03-10T09:00:00Z", "2024-03-10T09:30:00Z"]
    );
}

#[test]
fn los_angeles_fall_back_one_to_three_is_three_real_hours_and_six_slots() {
    // 01:00 happens twice; "compatible" takes the earlier, PDT (−07) = 08:00Z.
    // 03:00 is PST (−08) = 11:00Z. 01:00–02:00 is lived twice: 3 real hours.
    let rule = every_day("America/Los_Angeles", &[("01:00", "03:00")], 30);
    let d = date(2024, 11, 3);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-11-03T08:00Z", "2024-11-03T11:00Z")
    );
    assert_eq!(
        starts(&slots_on(&rule, d, 30)),
        [
            "2024-11-03T08:00:00Z",
            "2024-11-03T08:30:00Z",
            "2024-11-03T09:00:00Z",
            "2024-11-03T09:30:00Z",
            "2024-11-03T10:00:00Z",
            "2024-11-03T10:30:00Z",
        ]
    );
}

#[test]
fn los_angeles_whole_day_ranges_are_23_and_25_hours_on_transition_days() {
    let rule = every_day("America/Los_Angeles", &[("00:00", "24:00")], 30);
    // Spring: 00:00 PST = 08:00Z; 24:00 = 03-11 00:00 PDT = 03-11 07:00Z.
    let spring = only_working_interval(&rule, date(2024, 3, 10));
    assert_eq!(spring, iv("2024-03-10T08:00Z", "2024-03-11T07:00Z"));
    assert_eq!(spring.duration(), hours(23));
    assert_eq!(slots_on(&rule, date(2024, 3, 10), 30).len(), 46);
    // Fall: 00:00 PDT = 07:00Z; 24:00 = 11-04 00:00 PST = 11-04 08:00Z.
    let fall = only_working_interval(&rule, date(2024, 11, 3));
    assert_eq!(fall, iv("2024-11-03T07:00Z", "2024-11-04T08:00Z"));
    assert_eq!(fall.duration(), hours(25));
    assert_eq!(slots_on(&rule, date(2024, 11, 3), 30).len(), 50);
    // An ordinary day in between is 24 hours: 48 slots.
    assert_eq!(slots_on(&rule, date(2024, 6, 3), 30).len(), 48);
}

#[test]
fn los_angeles_a_range_entirely_inside_the_gap_has_no_working_time() {
    // 02:00 does not exist; it moves forward by the gap to 03:00 PDT = 10:00Z,
    // and 03:00 PDT is also 10:00Z, so the range is empty.
    let rule = every_day("America/Los_Angeles", &[("02:00", "03:00")], 30);
    assert!(slots_on(&rule, date(2024, 3, 10), 30).is_empty());
    assert!(!works_on(&rule, date(2024, 3, 10)));
    assert!(works_on(&rule, date(2024, 3, 11)));
}

#[test]
fn los_angeles_a_start_inside_the_gap_moves_forward_by_the_gap() {
    // 02:30 does not exist: +1 h gives 03:30 PDT = 10:30Z. 04:00 PDT = 11:00Z.
    let rule = every_day("America/Los_Angeles", &[("02:30", "04:00")], 30);
    assert_eq!(
        starts(&slots_on(&rule, date(2024, 3, 10), 30)),
        ["2024-03-10T10:30:00Z"]
    );
}

#[test]
fn los_angeles_the_grid_steps_in_elapsed_time_across_the_gap() {
    // Hourly grid from 00:00 PST (08:00Z): 08, 09, 10, 11, 12Z. In wall time
    // that is 00:00, 01:00, 03:00, 04:00, 05:00: 02:00 never happens, and
    // 06:00 PDT (13:00Z) is the range end.
    let rule = every_day("America/Los_Angeles", &[("00:00", "06:00")], 60);
    assert_eq!(
        starts(&slots_on(&rule, date(2024, 3, 10), 60)),
        [
            "2024-03-10T08:00:00Z",
            "2024-03-10T09:00:00Z",
            "2024-03-10T10:00:00Z",
            "2024-03-10T11:00:00Z",
            "2024-03-10T12:00:00Z",
        ]
    );
}

#[test]
fn los_angeles_a_booking_in_the_repeated_hour_is_checked_in_elapsed_time() {
    // Range 01:00–03:00 on fall-back day is [08:00Z, 11:00Z). 09:30Z is the
    // *second* 01:30 (PST); it is 90 minutes after the range start, on grid.
    let rule = every_day("America/Los_Angeles", &[("01:00", "03:00")], 30);
    let now = ts("2024-01-01T00:00Z");
    assert_eq!(
        check_slot(&rule, &[], ts("2024-11-03T09:30Z"), mins(30), now),
        Ok(iv("2024-11-03T09:30Z", "2024-11-03T10:00Z"))
    );
    // On spring-forward day the same range ends at 10:00Z (03:00 PDT), so a
    // 10:00Z start is after working hours.
    assert_eq!(
        check_slot(&rule, &[], ts("2024-03-10T10:00Z"), mins(30), now),
        Err(SlotRejection::OutsideWorkingHours)
    );
}

#[test]
fn los_angeles_all_day_events_cover_23_and_25_hours() {
    let la = TimeZone::get("America/Los_Angeles").unwrap();
    let spring = all_day_interval(date(2024, 3, 10), date(2024, 3, 11), &la).unwrap();
    // 00:00 PST (08:00Z) to 00:00 PDT next day (07:00Z).
    assert_eq!(spring, iv("2024-03-10T08:00Z", "2024-03-11T07:00Z"));
    let fall = all_day_interval(date(2024, 11, 3), date(2024, 11, 4), &la).unwrap();
    // 00:00 PDT (07:00Z) to 00:00 PST next day (08:00Z).
    assert_eq!(fall.duration(), hours(25));
}

// Europe/London

#[test]
fn london_spring_forward_skips_one_to_two_am() {
    // 01:00 does not exist (clock jumps 01:00 GMT → 02:00 BST at 01:00Z); it
    // moves forward to 02:00 BST = 01:00Z. 03:00 BST = 02:00Z. One real hour.
    let rule = every_day("Europe/London", &[("01:00", "03:00")], 30);
    let d = date(2024, 3, 31);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-03-31T01:00Z", "2024-03-31T02:00Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 2);
}

#[test]
fn london_fall_back_repeats_one_to_two_am() {
    // 01:00 is ambiguous: earlier is BST (+01) = 00:00Z. 03:00 GMT = 03:00Z.
    let rule = every_day("Europe/London", &[("01:00", "03:00")], 30);
    let d = date(2024, 10, 27);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-10-27T00:00Z", "2024-10-27T03:00Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 6);
}

#[test]
fn london_whole_day_ranges_and_all_day_events_are_23_and_25_hours() {
    let rule = every_day("Europe/London", &[("00:00", "24:00")], 30);
    // 00:00 GMT = 00:00Z to 04-01 00:00 BST = 03-31 23:00Z.
    assert_eq!(
        only_working_interval(&rule, date(2024, 3, 31)),
        iv("2024-03-31T00:00Z", "2024-03-31T23:00Z")
    );
    assert_eq!(slots_on(&rule, date(2024, 3, 31), 30).len(), 46);
    // 00:00 BST = 10-26 23:00Z to 10-28 00:00 GMT = 10-28 00:00Z.
    assert_eq!(
        only_working_interval(&rule, date(2024, 10, 27)),
        iv("2024-10-26T23:00Z", "2024-10-28T00:00Z")
    );
    assert_eq!(slots_on(&rule, date(2024, 10, 27), 30).len(), 50);

    let london = rule.time_zone();
    let spring = all_day_interval(date(2024, 3, 31), date(2024, 4, 1), london).unwrap();
    assert_eq!(spring.duration(), hours(23));
    let fall = all_day_interval(date(2024, 10, 27), date(2024, 10, 28), london).unwrap();
    assert_eq!(fall.duration(), hours(25));
    // A two-day all-day event spanning the fall-back day: 24 + 25 hours.
    let two = all_day_interval(date(2024, 10, 26), date(2024, 10, 28), london).unwrap();
    assert_eq!(two.duration(), hours(49));
}

// Australia/Lord_Howe (30-minute shift)

#[test]
fn lord_howe_fall_back_adds_half_an_hour() {
    // 00:00 +11 = 04-06 13:00Z; 24:00 = 04-08 00:00 +10:30 = 04-07 13:30Z:
    // a 24.5-hour day, 49 half-hour slots.
    let rule = every_day("Australia/Lord_Howe", &[("00:00", "24:00")], 30);
    let d = date(2024, 4, 7);
    let day = only_working_interval(&rule, d);
    assert_eq!(day, iv("2024-04-06T13:00Z", "2024-04-07T13:30Z"));
    assert_eq!(slots_on(&rule, d, 30).len(), 49);

    // 01:00–03:00: 01:00 +11 = 14:00Z; 03:00 +10:30 = 16:30Z, 2.5 real hours.
    let rule = every_day("Australia/Lord_Howe", &[("01:00", "03:00")], 30);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-04-06T14:00Z", "2024-04-06T16:30Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 5);
}

#[test]
fn lord_howe_spring_forward_removes_half_an_hour() {
    // 00:00 +10:30 = 10-05 13:30Z; 24:00 = 10-07 00:00 +11 = 10-06 13:00Z:
    // a 23.5-hour day, 47 half-hour slots.
    let rule = every_day("Australia/Lord_Howe", &[("00:00", "24:00")], 30);
    let d = date(2024, 10, 6);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-10-05T13:30Z", "2024-10-06T13:00Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 47);

    // 02:00 falls in the 02:00–02:30 gap and moves forward 30 minutes to
    // 02:30 +11 = 15:30Z; 03:00 +11 = 16:00Z. One slot.
    let rule = every_day("Australia/Lord_Howe", &[("02:00", "03:00")], 30);
    assert_eq!(starts(&slots_on(&rule, d, 30)), ["2024-10-05T15:30:00Z"]);

    let tz = rule.time_zone();
    let all_day = all_day_interval(d, date(2024, 10, 7), tz).unwrap();
    assert_eq!(all_day.duration(), SignedDuration::from_mins(23 * 60 + 30));
}

// America/Santiago (transitions at midnight)

#[test]
fn santiago_spring_forward_day_starts_at_one_am() {
    // 2024-09-08 00:00 does not exist (04:00Z jumps from 23:59:59 −04 on the
    // 7th to 01:00 −03). "Compatible" moves 00:00 forward by the gap: 01:00
    // −03 = 04:00Z. 24:00 = 09-09 00:00 −03 = 03:00Z. A 23-hour day.
    let rule = every_day("America/Santiago", &[("00:00", "24:00")], 30);
    let d = date(2024, 9, 8);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-09-08T04:00Z", "2024-09-09T03:00Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 46);
    // The day before ends at that same moved midnight: 00:00 −04 on the 7th
    // (04:00Z) to 04:00Z on the 8th, an ordinary 24 hours.
    assert_eq!(
        only_working_interval(&rule, date(2024, 9, 7)),
        iv("2024-09-07T04:00Z", "2024-09-08T04:00Z")
    );
    let tz = rule.time_zone();
    assert_eq!(
        all_day_interval(d, date(2024, 9, 9), tz)
            .unwrap()
            .duration(),
        hours(23)
    );
}

#[test]
fn santiago_fall_back_repeats_the_last_hour_of_saturday() {
    // At 03:00Z on 04-07 the clock goes from 23:59:59 −03 back to 23:00 −04
    // on Saturday 04-06, so 23:00–24:00 on the 6th is lived twice and 04-07
    // 00:00 happens once, at 04:00Z.
    let tz = TimeZone::get("America/Santiago").unwrap();
    let midnight = tz.to_ambiguous_timestamp(date(2024, 4, 7).at(0, 0, 0, 0));
    assert!(!midnight.is_ambiguous());
    assert_eq!(midnight.compatible().unwrap(), ts("2024-04-07T04:00Z"));
    assert!(
        tz.to_ambiguous_timestamp(date(2024, 4, 6).at(23, 30, 0, 0))
            .is_ambiguous()
    );

    // Saturday 00:00 −03 = 03:00Z to Sunday 00:00 −04 = 04:00Z: 25 hours.
    let rule = every_day("America/Santiago", &[("00:00", "24:00")], 30);
    assert_eq!(
        only_working_interval(&rule, date(2024, 4, 6)),
        iv("2024-04-06T03:00Z", "2024-04-07T04:00Z")
    );
    assert_eq!(slots_on(&rule, date(2024, 4, 6), 30).len(), 50);

    // 23:00–24:00 on Saturday: 23:00 is ambiguous, the earlier is −03 =
    // 02:00Z; 24:00 is 04:00Z. Two real hours, four slots.
    let rule = every_day("America/Santiago", &[("23:00", "24:00")], 30);
    assert_eq!(slots_on(&rule, date(2024, 4, 6), 30).len(), 4);
    // Sunday's own 00:00–24:00 is an ordinary 24 hours (04:00Z to 04:00Z).
    let rule = every_day("America/Santiago", &[("00:00", "24:00")], 30);
    assert_eq!(
        only_working_interval(&rule, date(2024, 4, 7)).duration(),
        hours(24)
    );
}

// Asia/Kolkata (half-hour offset, no DST)

#[test]
fn kolkata_nine_to_five_is_always_three_thirty_to_eleven_thirty_utc() {
    // +05:30 all year: 09:00 local = 03:30Z, 17:00 = 11:30Z, 16 slots, on
    // days that are transition days elsewhere and on ordinary days alike.
    let rule = every_day("Asia/Kolkata", &[("09:00", "17:00")], 30);
    for (d, start, end) in [
        (date(2024, 3, 10), "2024-03-10T03:30Z", "2024-03-10T11:30Z"),
        (date(2024, 11, 3), "2024-11-03T03:30Z", "2024-11-03T11:30Z"),
        (date(2024, 6, 21), "2024-06-21T03:30Z", "2024-06-21T11:30Z"),
    ] {
        assert_eq!(only_working_interval(&rule, d), iv(start, end));
        assert_eq!(slots_on(&rule, d, 30).len(), 16);
    }
    let tz = rule.time_zone();
    let d = date(2024, 3, 31);
    assert_eq!(
        all_day_interval(d, d.tomorrow().unwrap(), tz)
            .unwrap()
            .duration(),
        hours(24)
    );
}

// Pacific/Chatham (+12:45 / +13:45)

#[test]
fn chatham_fall_back_repeats_quarter_to_three_until_quarter_to_four() {
    // 00:00 +13:45 = 04-06 10:15Z; 24:00 = 04-08 00:00 +12:45 = 04-07 11:15Z:
    // 25 hours, 50 slots.
    let rule = every_day("Pacific/Chatham", &[("00:00", "24:00")], 30);
    let d = date(2024, 4, 7);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-04-06T10:15Z", "2024-04-07T11:15Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 50);
    // 02:00 +13:45 = 12:15Z; 04:00 +12:45 = 15:15Z: 3 real hours, 6 slots.
    let rule = every_day("Pacific/Chatham", &[("02:00", "04:00")], 30);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-04-06T12:15Z", "2024-04-06T15:15Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 6);
}

#[test]
fn chatham_spring_forward_skips_quarter_to_three_until_quarter_to_four() {
    // 00:00 +12:45 = 09-28 11:15Z; 24:00 = 09-30 00:00 +13:45 = 09-29 10:15Z:
    // 23 hours, 46 slots.
    let rule = every_day("Pacific/Chatham", &[("00:00", "24:00")], 30);
    let d = date(2024, 9, 29);
    assert_eq!(
        only_working_interval(&rule, d),
        iv("2024-09-28T11:15Z", "2024-09-29T10:15Z")
    );
    assert_eq!(slots_on(&rule, d, 30).len(), 46);
    // 03:00 is in the gap: +1 h to 04:00 +13:45 = 14:15Z; 05:00 = 15:15Z.
    let rule = every_day("Pacific/Chatham", &[("03:00", "05:00")], 30);
    assert_eq!(
        starts(&slots_on(&rule, d, 30)),
        ["2024-09-28T14:15:00Z", "2024-09-28T14:45:00Z"]
    );
    let tz = rule.time_zone();
    assert_eq!(
        all_day_interval(d, date(2024, 9, 30), tz)
            .unwrap()
            .duration(),
        hours(23)
    );
}

#[test]
fn ranges_squeezed_together_by_a_gap_do_not_produce_duplicate_slots() {
    // LA spring-forward: 02:00–02:30 becomes [03:00, 03:30) PDT and 03:00–04:00
    // becomes [03:00, 04:00) PDT. The two grids share 03:00 PDT (10:00Z); it
    // must be offered once, and the result stays sorted.
    let rule = every_day(
        "America/Los_Angeles",
        &[("02:00", "02:30"), ("03:00", "04:00")],
        30,
    );
    let slots = slots_on(&rule, date(2024, 3, 10), 30);
    assert_eq!(
        starts(&slots),
        ["2024-03-10T10:00:00Z", "2024-03-10T10:30:00Z"]
    );
}
