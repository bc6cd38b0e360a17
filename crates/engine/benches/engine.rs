//! Slot-engine benchmarks on deterministic pseudo-random calendars.
//!
//! (a) one member, a 30-day window, 500 busy events;
//! (b) a 20-member team, a 14-day window, 500 busy intervals each (10,000);
//! (c) one `check_slot` against 500 busy events.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use pillow_engine::{
    Interval, Member, Rule, RuleDocument, SlotQuery, check_slot, free_slots, team_slots,
};

/// Minimal linear congruential generator (Knuth's MMIX constants), so the
/// data is the same on every run without a `rand` dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> i64 {
        i64::try_from(self.next() % n).expect("small")
    }
}

fn rule() -> Rule {
    let doc: RuleDocument = serde_json::from_str(
        r#"{
            "schedule": {
                "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
                "tuesday": [{"start": "09:00", "end": "17:00"}],
                "wednesday": [{"start": "09:00", "end": "17:00"}],
                "thursday": [{"start": "09:00", "end": "17:00"}],
                "friday": [{"start": "09:00", "end": "17:00"}]
            },
            "timezone": "America/Los_Angeles",
            "slot_duration": 30,
            "buffer_before": 5,
            "buffer_after": 5,
            "min_booking_notice": 60,
            "max_booking_notice": 86400,
            "date_overrides": [{"date": "2024-03-15", "available": false, "reason": "Holiday"}]
        }"#,
    )
    .expect("bench rule JSON");
    Rule::parse(&doc).expect("bench rule is valid")
}

/// `count` busy intervals of 15–120 minutes with starts spread over `days`,
/// on a 5-minute grid, in generation (unsorted) order.
fn busy(rng: &mut Lcg, start: Timestamp, days: i64, count: usize) -> Vec<Interval> {
    (0..count)
        .map(|_| {
            let offset =
                SignedDuration::from_mins(rng.below(u64::try_from(days * 288).expect("small")) * 5);
            let length = SignedDuration::from_mins(15 + rng.below(22) * 5);
            let s = start.checked_add(offset).expect("in range");
            Interval::new(s, s.checked_add(length).expect("in range")).expect("positive")
        })
        .collect()
}

fn query(start: Timestamp, days: i64) -> SlotQuery {
    SlotQuery {
        window: Interval::new(
            start,
            start
                .checked_add(SignedDuration::from_hours(24 * days))
                .expect("in range"),
        )
        .expect("positive"),
        duration: SignedDuration::from_mins(30),
        now: start
            .checked_sub(SignedDuration::from_hours(24))
            .expect("in range"),
    }
}

fn benches(c: &mut Criterion) {
    // The window spans the 2024-03-10 spring-forward day in Los Angeles.
    let start: Timestamp = "2024-03-01T08:00Z".parse().expect("timestamp");
    let rule = rule();

    let mut rng = Lcg(0x5EED);
    let one_busy = busy(&mut rng, start, 30, 500);
    let one_query = query(start, 30);
    // Guard against benchmarking an empty computation.
    assert!(!free_slots(&rule, &one_busy, &one_query).is_empty());
    c.bench_function("a_free_slots_1_member_30_days_500_busy", |b| {
        b.iter(|| {
            free_slots(
                black_box(&rule),
                black_box(&one_busy),
                black_box(&one_query),
            )
        });
    });

    let team_busy: Vec<Vec<Interval>> = (0..20).map(|_| busy(&mut rng, start, 14, 500)).collect();
    let members: Vec<Member<'_, usize>> = team_busy
        .iter()
        .enumerate()
        .map(|(id, busy)| Member {
            id,
            rule: &rule,
            busy,
        })
        .collect();
    let team_query = query(start, 14);
    assert!(!team_slots(&members, &team_query).is_empty());
    c.bench_function("b_team_slots_20_members_14_days_10000_busy", |b| {
        b.iter(|| team_slots(black_box(&members), black_box(&team_query)));
    });

    let request: Timestamp = "2024-03-12T17:00Z".parse().expect("timestamp");
    c.bench_function("c_check_slot_500_busy", |b| {
        b.iter(|| {
            check_slot(
                black_box(&rule),
                black_box(&one_busy),
                black_box(request),
                SignedDuration::from_mins(30),
                one_query.now,
            )
        });
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
