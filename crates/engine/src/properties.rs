//! Property tests: invariants of the slot engine on generated rules, busy
//! calendars and windows, many of them around real DST transitions.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use crate::{
    Interval, Member, Rule, RuleDocument, SlotQuery, check_slot, collective_slots, free_slots,
    team_slots, working_intervals,
};

const ZONES: [&str; 7] = [
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
];

/// Instants near which windows are placed: ordinary days and DST transitions.
const ANCHORS: [&str; 8] = [
    "2024-01-08T00:00Z",
    "2024-03-09T12:00Z",
    "2024-03-30T12:00Z",
    "2024-04-05T12:00Z",
    "2024-09-07T12:00Z",
    "2024-09-28T00:00Z",
    "2024-10-05T00:00Z",
    "2024-11-02T12:00Z",
];

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// 0–2 non-overlapping ranges for one day, on a 15-minute wall-clock grid.
fn day_ranges() -> impl Strategy<Value = Vec<serde_json::Value>> {
    prop::collection::btree_set(0u16..=96, 0..=4).prop_map(|cuts| {
        let cuts: Vec<u16> = cuts.into_iter().map(|c| c * 15).collect();
        cuts.chunks_exact(2)
            .map(|pair| serde_json::json!({"start": hhmm(pair[0]), "end": hhmm(pair[1])}))
            .collect()
    })
}

prop_compose! {
    fn arb_rule()(
        zone in prop::sample::select(&ZONES[..]),
        week in prop::collection::vec(day_ranges(), 7),
        slot_duration in prop::sample::select(&[15i64, 30, 45, 60][..]),
        slot_interval in prop::option::of(prop::sample::select(&[10i64, 20, 30][..])),
        buffer_before in prop::sample::select(&[0i64, 5, 15][..]),
        buffer_after in prop::sample::select(&[0i64, 10, 30][..]),
        min_notice in prop::sample::select(&[0i64, 45, 600][..]),
        max_extra in prop::option::of(0i64..4000),
    ) -> Rule {
        let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        let schedule: serde_json::Map<String, serde_json::Value> = days
            .iter()
            .zip(week)
            .map(|(d, r)| ((*d).to_string(), serde_json::Value::from(r)))
            .collect();
        let doc: RuleDocument = serde_json::from_value(serde_json::json!({
            "schedule": schedule,
            "timezone": zone,
            "slot_duration": slot_duration,
            "slot_interval": slot_interval,
            "buffer_before": buffer_before,
            "buffer_after": buffer_after,
            "min_booking_notice": min_notice,
            "max_booking_notice": max_extra.map(|m| min_notice + m),
        }))
        .unwrap();
        Rule::parse(&doc).unwrap()
    }
}

fn add_mins(t: Timestamp, m: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_mins(m)).unwrap()
}

prop_compose! {
    /// A window of up to three days near an anchor, "now" near the window.
    fn arb_query()(
        anchor in prop::sample::select(&ANCHORS[..]),
        offset in -1440i64..1440,
        length in 1i64..(3 * 1440),
        now_offset in -2000i64..2000,
        multiple in 1i64..=3,
    ) -> (Interval, Timestamp, i64) {
        let start = add_mins(anchor.parse().unwrap(), offset);
        let window = Interval::new(start, add_mins(start, length)).unwrap();
        (window, add_mins(start, now_offset), multiple)
    }
}

/// Busy intervals relative to an anchor, in arbitrary order.
fn arb_busy() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((-2880i64..(5 * 1440), 1i64..300), 0..40)
}

fn busy_from(window: Interval, raw: &[(i64, i64)]) -> Vec<Interval> {
    raw.iter()
        .map(|&(offset, length)| {
            let start = add_mins(window.start, offset);
            Interval::new(start, add_mins(start, length)).unwrap()
        })
        .collect()
}

fn query_for(rule: &Rule, window: Interval, now: Timestamp, multiple: i64) -> SlotQuery {
    let duration = rule
        .slot_duration()
        .checked_mul(i32::try_from(multiple).unwrap())
        .unwrap();
    SlotQuery {
        window,
        duration,
        now,
    }
}

fn occupied(rule: &Rule, slot: &Interval) -> Interval {
    Interval::new(
        slot.start.checked_sub(rule.buffer_before()).unwrap(),
        slot.end.checked_add(rule.buffer_after()).unwrap(),
    )
    .unwrap()
}

/// Every grid start of every working range whose start is in the window,
/// found naively (no sweep, no notice, no busy check).
fn naive_grid(rule: &Rule, query: &SlotQuery) -> BTreeSet<Interval> {
    let mut out = BTreeSet::new();
    for range in working_intervals(rule, query.window) {
        let mut start = range.start;
        while start.checked_add(query.duration).unwrap() <= range.end {
            if query.window.start <= start && start < query.window.end {
                out.insert(
                    Interval::new(start, start.checked_add(query.duration).unwrap()).unwrap(),
                );
            }
            start = start.checked_add(rule.slot_step()).unwrap();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_offered_slot_overlaps_a_busy_interval(
        rule in arb_rule(), (window, now, multiple) in arb_query(), raw in arb_busy(),
    ) {
        let busy = busy_from(window, &raw);
        let query = query_for(&rule, window, now, multiple);
        for slot in free_slots(&rule, &busy, &query) {
            let occ = occupied(&rule, &slot);
            prop_assert!(busy.iter().all(|b| !b.overlaps(&occ)), "{slot:?} vs {busy:?}");
        }
    }

    #[test]
    fn every_slot_lies_on_the_grid_inside_a_working_interval(
        rule in arb_rule(), (window, now, multiple) in arb_query(), raw in arb_busy(),
    ) {
        let busy = busy_from(window, &raw);
        let query = query_for(&rule, window, now, multiple);
        let ranges = working_intervals(&rule, window);
        let step = rule.slot_step().as_nanos();
        for slot in free_slots(&rule, &busy, &query) {
            prop_assert_eq!(slot.duration(), query.duration);
            prop_assert!(ranges.iter().any(|r| {
                r.contains(&slot) && slot.start.duration_since(r.start).as_nanos() % step == 0
            }), "{:?} not on the grid of {:?}", slot, ranges);
        }
    }

    #[test]
    fn notice_and_window_limits_hold(
        rule in arb_rule(), (window, now, multiple) in arb_query(),
    ) {
        let query = query_for(&rule, window, now, multiple);
        let earliest = now.checked_add(rule.min_booking_notice()).unwrap();
        let latest = rule.max_booking_notice().map(|m| now.checked_add(m).unwrap());
        for slot in free_slots(&rule, &[], &query) {
            prop_assert!(slot.start >= now);
            prop_assert!(slot.start >= earliest);
            prop_assert!(latest.is_none_or(|l| slot.start <= l));
            prop_assert!(window.start <= slot.start && slot.start < window.end);
        }
    }

    #[test]
    fn free_slots_are_exactly_the_grid_slots_that_check_slot_accepts(
        rule in arb_rule(), (window, now, multiple) in arb_query(), raw in arb_busy(),
    ) {
        let busy = busy_from(window, &raw);
        let query = query_for(&rule, window, now, multiple);
        let free = free_slots(&rule, &busy, &query);
        prop_assert!(free.windows(2).all(|w| w[0] < w[1]), "sorted without duplicates");
        let free: BTreeSet<Interval> = free.into_iter().collect();
        let accepted: BTreeSet<Interval> = naive_grid(&rule, &query)
            .into_iter()
            .filter(|s| check_slot(&rule, &busy, s.start, query.duration, now) == Ok(*s))
            .collect();
        prop_assert_eq!(free, accepted);
    }

    #[test]
    fn the_order_of_busy_intervals_does_not_matter(
        rule in arb_rule(), (window, now, multiple) in arb_query(), raw in arb_busy(),
        rotation in 0usize..40,
    ) {
        let busy = busy_from(window, &raw);
        let query = query_for(&rule, window, now, multiple);
        let mut shuffled = busy.clone();
        shuffled.reverse();
        if !shuffled.is_empty() {
            let n = rotation % shuffled.len();
            shuffled.rotate_left(n);
        }
        prop_assert_eq!(free_slots(&rule, &busy, &query), free_slots(&rule, &shuffled, &query));
    }

    #[test]
    fn team_slots_are_the_union_of_member_slots_with_the_right_free_sets(
        rules in prop::collection::vec(arb_rule(), 1..4),
        (window, now, multiple) in arb_query(),
        raws in prop::collection::vec(arb_busy(), 4),
    ) {
        let busies: Vec<Vec<Interval>> = raws.iter().map(|r| busy_from(window, r)).collect();
        // One duration every member allows: a multiple of all slot durations
        // (15, 30, 45 and 60 all divide 180).
        let query = SlotQuery {
            window,
            duration: SignedDuration::from_mins(180 * multiple.min(2)),
            now,
        };
        let members: Vec<Member<'_, usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| Member { id: i, rule, busy: &busies[i] })
            .collect();
        let team = team_slots(&members, &query);
        prop_assert!(team.windows(2).all(|w| w[0].slot < w[1].slot), "sorted, one entry per slot");

        let per_member: Vec<BTreeSet<Interval>> = members
            .iter()
            .map(|m| free_slots(m.rule, m.busy, &query).into_iter().collect())
            .collect();
        let union: BTreeSet<Interval> = per_member.iter().flatten().copied().collect();
        let team_set: BTreeSet<Interval> = team.iter().map(|t| t.slot).collect();
        prop_assert_eq!(&team_set, &union);
        for t in &team {
            let expected: Vec<usize> = (0..members.len()).filter(|&i| per_member[i].contains(&t.slot)).collect();
            prop_assert_eq!(&t.free, &expected);
        }

        // Member order does not change which slots exist or who is free.
        let reversed: Vec<Member<'_, usize>> = members.iter().rev().cloned().collect();
        let again = team_slots(&reversed, &query);
        prop_assert_eq!(again.len(), team.len());
        for (a, b) in team.iter().zip(&again) {
            prop_assert_eq!(a.slot, b.slot);
            let (sa, sb): (BTreeSet<usize>, BTreeSet<usize>) =
                (a.free.iter().copied().collect(), b.free.iter().copied().collect());
            prop_assert_eq!(sa, sb);
        }
    }

    #[test]
    fn collective_slots_are_the_intersection_of_the_required_hosts_free_slots(
        rules in prop::collection::vec(arb_rule(), 1..5),
        shared in any::<bool>(),
        (window, now, multiple) in arb_query(),
        raws in prop::collection::vec(arb_busy(), 5),
        mask in prop::collection::vec(any::<bool>(), 5),
    ) {
        // Hosts on one shared rule (as an office's usually are) make the intersection rarely
        // empty; hosts on their own rules exercise the empty and partial cases.
        let rules: Vec<Rule> = if shared { vec![rules[0].clone(); rules.len()] } else { rules };
        let busies: Vec<Vec<Interval>> = raws.iter().map(|r| busy_from(window, r)).collect();
        let query = SlotQuery {
            window,
            duration: SignedDuration::from_mins(180 * multiple.min(2)),
            now,
        };
        let members: Vec<Member<'_, usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| Member { id: i, rule, busy: &busies[i] })
            .collect();
        // At least one required host, as the server insists.
        let mut required: Vec<usize> = (0..members.len()).filter(|&i| mask[i]).collect();
        if required.is_empty() {
            required.push(0);
        }
        let per_member: Vec<BTreeSet<Interval>> = members
            .iter()
            .map(|m| free_slots(m.rule, m.busy, &query).into_iter().collect())
            .collect();
        let mut expected: BTreeSet<Interval> = per_member[required[0]].clone();
        for &i in &required[1..] {
            expected = expected.intersection(&per_member[i]).copied().collect();
        }
        let kept = collective_slots(team_slots(&members, &query), &required);
        let got: BTreeSet<Interval> = kept.iter().map(|t| t.slot).collect();
        prop_assert_eq!(&got, &expected);
        for t in &kept {
            // Every free host joins, required or not, and only free ones.
            let free: Vec<usize> =
                (0..members.len()).filter(|&i| per_member[i].contains(&t.slot)).collect();
            prop_assert_eq!(&t.free, &free);
            prop_assert!(required.iter().all(|r| t.free.contains(r)));
        }
    }
}
