//! Small helpers shared by the test modules.

use jiff::{SignedDuration, Timestamp};

use crate::{Interval, Rule, RuleDocument};

/// Parses a rule from JSON, panicking on any error (tests only).
pub fn rule(json: &str) -> Rule {
    let doc: RuleDocument = serde_json::from_str(json).expect("test rule JSON parses");
    Rule::parse(&doc).expect("test rule is valid")
}

/// Parses an RFC 3339 instant such as `2024-03-10T09:00Z`.
pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp parses")
}

/// `[a, b)` from two RFC 3339 instants.
pub fn iv(a: &str, b: &str) -> Interval {
    Interval::new(ts(a), ts(b)).expect("test interval is non-empty")
}

/// Whole minutes as a duration.
pub fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// Slot starts rendered as RFC 3339 strings, for readable assertions.
pub fn starts(slots: &[Interval]) -> Vec<String> {
    slots.iter().map(|s| s.start.to_string()).collect()
}
