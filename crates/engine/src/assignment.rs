//! Team distribution: which free member gets a booking. Pure ranking; the
//! caller supplies the booking history and decides what to do with the order.

use jiff::Timestamp;

/// How a team booking is assigned to one of the free members.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Strategy<Id> {
    /// Spread bookings evenly: least recently booked first; members never
    /// booked come before any booked member.
    RoundRobin,
    /// Fewest upcoming bookings first; ties go to the least recently booked.
    LeastBusy,
    /// Lowest `priority` number first; ties go to the least recently booked.
    Priority,
    /// Always this member, and nobody else.
    SpecificUser(Id),
}

/// A member who is free at the slot being booked, with the history the
/// strategies need. Candidates are given in the team's list order, which is
/// the final tie-breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate<Id> {
    /// Caller's identifier.
    pub id: Id,
    /// Lower numbers are preferred by [`Strategy::Priority`].
    pub priority: i32,
    /// When this member last received a booking; `None` if never.
    pub last_booked_at: Option<Timestamp>,
    /// How many future bookings this member already has.
    pub upcoming_bookings: u32,
}

/// The order in which to try candidates for one slot: the first is the pick,
/// the rest are fall-backs in case the first loses a race for the slot.
///
/// Ties are broken by least recently booked (never booked first), then by
/// list order, so the result is deterministic. [`Strategy::SpecificUser`]
/// yields just that id when it is among the candidates, otherwise nothing.
///
/// # Example
///
/// ```
/// use pillow_engine::{Candidate, Strategy, rank};
///
/// let candidates = [
///     Candidate { id: "ana", priority: 2, last_booked_at: None, upcoming_bookings: 3 },
///     Candidate { id: "bo", priority: 1, last_booked_at: None, upcoming_bookings: 1 },
/// ];
/// assert_eq!(rank(&Strategy::Priority, &candidates), ["bo", "ana"]);
/// assert_eq!(rank(&Strategy::RoundRobin, &candidates), ["ana", "bo"]);
/// assert_eq!(rank(&Strategy::SpecificUser("cy"), &candidates), Vec::<&str>::new());
/// ```
#[must_use]
pub fn rank<Id: Clone + PartialEq>(
    strategy: &Strategy<Id>,
    candidates: &[Candidate<Id>],
) -> Vec<Id> {
    let mut order: Vec<&Candidate<Id>> = candidates.iter().collect();
    // `Option` orders `None` before `Some`, and earlier instants first: exactly
    // "never booked, then least recently booked". Stable sorts keep list order
    // for full ties.
    match strategy {
        Strategy::RoundRobin => order.sort_by_key(|c| c.last_booked_at),
        Strategy::LeastBusy => order.sort_by_key(|c| (c.upcoming_bookings, c.last_booked_at)),
        Strategy::Priority => order.sort_by_key(|c| (c.priority, c.last_booked_at)),
        Strategy::SpecificUser(id) => {
            return if candidates.iter().any(|c| &c.id == id) {
                vec![id.clone()]
            } else {
                Vec::new()
            };
        }
    }
    order.into_iter().map(|c| c.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    fn candidate(
        id: &'static str,
        priority: i32,
        last: Option<Timestamp>,
        upcoming: u32,
    ) -> Candidate<&'static str> {
        Candidate {
            id,
            priority,
            last_booked_at: last,
            upcoming_bookings: upcoming,
        }
    }

    #[test]
    fn round_robin_prefers_never_booked_then_least_recently_booked() {
        let c = [
            candidate("recent", 0, at("2024-05-02T00:00Z"), 0),
            candidate("never", 0, None, 9),
            candidate("older", 0, at("2024-05-01T00:00Z"), 0),
            candidate("never_too", 0, None, 0),
        ];
        assert_eq!(
            rank(&Strategy::RoundRobin, &c),
            ["never", "never_too", "older", "recent"]
        );
    }

    #[test]
    fn round_robin_breaks_full_ties_by_list_order() {
        let t = at("2024-05-01T00:00Z");
        let c = [
            candidate("b", 0, t, 0),
            candidate("a", 0, t, 0),
            candidate("c", 0, t, 0),
        ];
        assert_eq!(rank(&Strategy::RoundRobin, &c), ["b", "a", "c"]);
    }

    #[test]
    fn least_busy_prefers_fewest_upcoming_then_least_recent_then_list_order() {
        let c = [
            candidate("busy", 0, None, 5),
            candidate("idle_recent", 0, at("2024-05-02T00:00Z"), 1),
            candidate("idle_old", 0, at("2024-05-01T00:00Z"), 1),
            candidate("idle_old_too", 0, at("2024-05-01T00:00Z"), 1),
        ];
        assert_eq!(
            rank(&Strategy::LeastBusy, &c),
            ["idle_old", "idle_old_too", "idle_recent", "busy"]
        );
    }

    #[test]
    fn priority_prefers_lowest_number_then_least_recent_then_list_order() {
        let c = [
            candidate("low", 5, None, 0),
            candidate("high_recent", 1, at("2024-05-02T00:00Z"), 0),
            candidate("high_never", 1, None, 0),
            candidate("negative", -1, at("2024-05-03T00:00Z"), 0),
            candidate("high_recent_too", 1, at("2024-05-02T00:00Z"), 0),
        ];
        assert_eq!(
            rank(&Strategy::Priority, &c),
            [
                "negative",
                "high_never",
                "high_recent",
                "high_recent_too",
                "low"
            ]
        );
    }

    #[test]
    fn specific_user_yields_only_that_user_when_free() {
        let c = [candidate("a", 0, None, 0), candidate("b", 0, None, 0)];
        assert_eq!(rank(&Strategy::SpecificUser("b"), &c), ["b"]);
    }

    #[test]
    fn specific_user_yields_nobody_when_that_user_is_not_free() {
        let c = [candidate("a", 0, None, 0)];
        assert!(rank(&Strategy::SpecificUser("z"), &c).is_empty());
    }

    #[test]
    fn ranking_no_candidates_yields_nobody() {
        let c: [Candidate<&str>; 0] = [];
        assert!(rank(&Strategy::<&str>::RoundRobin, &c).is_empty());
    }
}
