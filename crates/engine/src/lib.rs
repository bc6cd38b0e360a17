//! Pillow Calendar's availability engine.
//!
//! Pure functions from availability rules, busy intervals and "now" to
//! bookable slots. No I/O, no clock, no randomness: the server loads the
//! data, calls in here, and stores the outcome.
//!
//! Time semantics: instants are UTC
//! [`jiff::Timestamp`]s; every rule has an IANA zone; local wall times become
//! instants with "compatible" disambiguation (a time in a spring-forward gap
//! moves forward by the gap, an ambiguous fall-back time takes the earlier
//! instant). Slots step through each working range in real elapsed time, so a
//! 23- or 25-hour day yields the slots that physically fit.
//!
//! Entry points: [`Rule::parse`], [`free_slots`], [`team_slots`],
//! [`check_slot`] and [`rank`].

mod assignment;
mod collective;
mod hosting;
mod hosts;
mod interval;
mod recurrence;
mod rule;
mod slots;

#[cfg(test)]
mod dst_tests;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod test_support;

pub use assignment::{Candidate, Strategy, rank};
pub use collective::collective_slots;
pub use hosting::can_host;
pub use hosts::{
    HostLimits, LimitWindow, Weighted, in_full_period, local_day, local_week, rank_weighted,
};
pub use interval::{Interval, normalize};
pub use recurrence::{
    Frequency, MAX_OCCURRENCES, Recurrence, RecurrenceError, SeriesEnd, expand_series,
};
pub use rule::{
    AppointmentShape, LocalRange, OverrideDocument, RangeDocument, Rule, RuleDocument, RuleError,
};
pub use slots::{
    Member, SlotQuery, SlotRejection, TeamSlot, all_day_interval, check_slot, duration_allowed,
    free_slots, merge_free_slots, team_slots, working_intervals, works_on,
};
