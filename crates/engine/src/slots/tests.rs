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

// check_slot: one test per rejection.

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
