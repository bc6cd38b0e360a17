//! Collective slots: times at which one appointment can have every required host at once.

use crate::TeamSlot;

/// Keeps the slots of `team` (from [`crate::team_slots`]) at which every member in `required`
/// is free: the intersection of the required members' free slots. Each kept slot still lists
/// every free member, optional ones included, in the team's order, so the caller books all of
/// them. With no required member every slot is kept; the server refuses such a team.
///
/// # Example
///
/// ```
/// use pillow_engine::{Interval, TeamSlot, collective_slots};
///
/// let at = |h: i64| jiff::Timestamp::from_second(h * 3600).unwrap();
/// let slot = |h| Interval::new(at(h), at(h + 1)).unwrap();
/// let team = vec![
///     TeamSlot { slot: slot(9), free: vec!["ana", "bo", "cy"] },
///     TeamSlot { slot: slot(10), free: vec!["ana", "cy"] },
///     TeamSlot { slot: slot(11), free: vec!["bo"] },
/// ];
/// let kept = collective_slots(team, &["ana", "bo"]);
/// assert_eq!(kept.len(), 1);
/// assert_eq!(kept[0].free, ["ana", "bo", "cy"]);
/// ```
#[must_use]
pub fn collective_slots<Id: PartialEq>(
    mut team: Vec<TeamSlot<Id>>,
    required: &[Id],
) -> Vec<TeamSlot<Id>> {
    team.retain(|slot| required.iter().all(|id| slot.free.contains(id)));
    team
}
