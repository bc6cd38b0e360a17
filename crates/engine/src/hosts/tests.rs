//! Limits counted in the host's zone (on real DST days) and weighted round robin.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::test_support::{iv, ts};

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("a real zone")
}

fn per_day(max: u32) -> HostLimits {
    HostLimits {
        per_day: Some(max),
        per_week: None,
    }
}

#[test]
fn the_spring_forward_day_in_new_york_is_one_23_hour_day() {
    // 2024-03-10: clocks jump from 02:00 to 03:00, so the day is 05:00Z to 04:00Z next day.
    let day = local_day(&zone("America/New_York"), ts("2024-03-10T12:00Z")).unwrap();
    assert_eq!(day, iv("2024-03-10T05:00Z", "2024-03-11T04:00Z"));
}

#[test]
fn the_fall_back_day_in_london_is_one_25_hour_day() {
    // 2024-10-27: clocks go back from 02:00 BST to 01:00 GMT: midnight is 23:00Z the day before.
    let day = local_day(&zone("Europe/London"), ts("2024-10-27T12:00Z")).unwrap();
    assert_eq!(day, iv("2024-10-26T23:00Z", "2024-10-28T00:00Z"));
}

#[test]
fn bookings_at_either_end_of_a_dst_day_count_on_that_one_day() {
    let ny = zone("America/New_York");
    // 00:30 EST (05:30Z) and 23:30 EDT (03:30Z next day) are both on Sunday 2024-03-10.
    let starts = [ts("2024-03-10T05:30Z"), ts("2024-03-11T03:30Z")];
    assert_eq!(
        per_day(2).full_periods(&ny, &starts),
        [iv("2024-03-10T05:00Z", "2024-03-11T04:00Z")]
    );
    // In UTC they fall on two days, and neither is full.
    assert!(per_day(2).full_periods(&TimeZone::UTC, &starts).is_empty());
}

#[test]
fn a_day_limit_is_counted_in_the_hosts_zone_not_the_agents() {
    // The agent is in New York; the host in Sydney. 2024-05-06T23:00Z is Monday 19:00 in New
    // York and 2024-05-07T05:00Z Tuesday 01:00 there: two New York days. In Sydney both are on
    // Tuesday (09:00 and 15:00), so the host's Tuesday is full.
    let sydney = zone("Australia/Sydney");
    let starts = [ts("2024-05-06T23:00Z"), ts("2024-05-07T05:00Z")];
    let full = per_day(2).full_periods(&sydney, &starts);
    assert_eq!(full, [iv("2024-05-06T14:00Z", "2024-05-07T14:00Z")]);
    assert!(in_full_period(&full, ts("2024-05-07T05:00Z")));
    assert!(
        !in_full_period(&full, ts("2024-05-07T14:00Z")),
        "Wednesday is free"
    );
    let new_york = zone("America/New_York");
    assert!(per_day(2).full_periods(&new_york, &starts).is_empty());
}

#[test]
fn a_day_below_its_limit_is_not_full() {
    let starts = [ts("2024-05-06T09:00Z"), ts("2024-05-06T10:00Z")];
    assert!(per_day(3).full_periods(&TimeZone::UTC, &starts).is_empty());
}

#[test]
fn a_week_runs_from_monday_to_monday_in_the_hosts_zone() {
    let sydney = zone("Australia/Sydney");
    // AEDT ends on Sunday 2024-04-07 (UTC+11 to UTC+10): that week starts at Monday 00:00 AEDT
    // and ends at Monday 00:00 AEST, 169 hours later.
    let week = local_week(&sydney, ts("2024-04-07T12:00Z")).unwrap();
    assert_eq!(week, iv("2024-03-31T13:00Z", "2024-04-07T14:00Z"));
    let next = local_week(&sydney, ts("2024-04-07T15:00Z")).unwrap();
    assert_eq!(next, iv("2024-04-07T14:00Z", "2024-04-14T14:00Z"));
}

#[test]
fn a_week_limit_fills_the_whole_local_week() {
    let limits = HostLimits {
        per_day: None,
        per_week: Some(3),
    };
    let london = zone("Europe/London");
    // Monday, Wednesday, Sunday of the week of the 2024-03-31 change.
    let starts = [
        ts("2024-03-25T09:00Z"),
        ts("2024-03-27T09:00Z"),
        ts("2024-03-31T09:00Z"),
    ];
    assert_eq!(
        limits.full_periods(&london, &starts),
        [iv("2024-03-25T00:00Z", "2024-03-31T23:00Z")]
    );
}

#[test]
fn a_start_counts_in_its_day_and_its_week() {
    let limits = HostLimits {
        per_day: Some(8),
        per_week: Some(30),
    };
    let windows = limits.windows_at(&zone("America/New_York"), ts("2024-03-10T15:00Z"));
    assert_eq!(
        windows,
        [
            LimitWindow {
                window: iv("2024-03-10T05:00Z", "2024-03-11T04:00Z"),
                max: 8
            },
            LimitWindow {
                window: iv("2024-03-04T05:00Z", "2024-03-11T04:00Z"),
                max: 30
            },
        ]
    );
    assert!(
        HostLimits::default()
            .windows_at(&TimeZone::UTC, ts("2024-03-10T15:00Z"))
            .is_empty()
    );
}

fn weighted(
    id: &'static str,
    weight: u32,
    booked: u32,
    last: Option<Timestamp>,
) -> Weighted<&'static str> {
    Weighted {
        id,
        weight,
        booked,
        last_booked_at: last,
    }
}

/// Gives `n` bookings one at a time to the first of the ranking, as the server does.
fn run(weights: &[u32], n: u32) -> Vec<u32> {
    let mut booked = vec![0u32; weights.len()];
    let mut last: Vec<Option<Timestamp>> = vec![None; weights.len()];
    for step in 0..n {
        let candidates: Vec<Weighted<usize>> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| Weighted {
                id: i,
                weight: *w,
                booked: booked[i],
                last_booked_at: last[i],
            })
            .collect();
        let pick = rank_weighted(&candidates)[0];
        booked[pick] += 1;
        last[pick] = Some(Timestamp::from_second(i64::from(step)).unwrap());
    }
    booked
}

#[test]
fn three_hundred_bookings_over_weights_two_one_one_split_150_75_75() {
    assert_eq!(run(&[2, 1, 1], 300), [150, 75, 75]);
}

#[test]
fn the_member_furthest_behind_its_share_goes_first() {
    // Six bookings held, the seventh to give; weights 3:1:1 entitle them to 4.2, 1.4 and 1.4.
    let c = [
        weighted("heavy", 3, 3, None),
        weighted("light", 1, 3, None),
        weighted("idle", 1, 0, Some(ts("2024-01-01T00:00Z"))),
    ];
    assert_eq!(rank_weighted(&c), ["idle", "heavy", "light"]);
}

#[test]
fn equal_deficits_go_to_the_least_recently_booked_then_list_order() {
    let c = [
        weighted("recent", 1, 1, Some(ts("2024-05-02T00:00Z"))),
        weighted("older", 1, 1, Some(ts("2024-05-01T00:00Z"))),
        weighted("first", 1, 1, Some(ts("2024-05-01T00:00Z"))),
    ];
    assert_eq!(rank_weighted(&c), ["older", "first", "recent"]);
}

proptest! {
    /// After any number of bookings every member's count is within one of its exact share.
    #[test]
    fn every_share_stays_within_one_booking_of_its_weight(
        weights in proptest::collection::vec(1u32..=5, 1..6),
        n in 0u32..400,
    ) {
        let counts = run(&weights, n);
        let total: u32 = weights.iter().sum();
        for (count, weight) in counts.iter().zip(&weights) {
            let exact = f64::from(n) * f64::from(*weight) / f64::from(total);
            prop_assert!((f64::from(*count) - exact).abs() < 1.0,
                "weights {weights:?}, n {n}: {counts:?}");
        }
    }
}
