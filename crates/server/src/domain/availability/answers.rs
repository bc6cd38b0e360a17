//! Each member's free slots for a question, kept between questions, and the team's answer
//! merged from them.
//!
//! Voice agents ask about the same days again within a call. A member's free slots depend only
//! on their rule (as an appointment type shapes it), their busy time, the window, the length
//! and "now". The [`CalendarCache`](super::CalendarCache) hands out the same `Arc`s for a
//! member's rule and busy time until the member's `busy_version` in the database moves (any
//! booking, event sync or rule change, by any process), so a list kept beside those `Arc`s is
//! exact for exactly as long as they are the ones handed out. A booking then costs one member's
//! recomputation, not the whole team's.
//!
//! "Now" only takes slots away as it advances (a slot goes once its start is closer than the
//! notice), so a kept list skips its head. A member whose maximum notice ends inside the window
//! would gain slots as time passes; their lists, and answers with them, are never kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use jiff::{SignedDuration, Timestamp};
use pillow_engine::{AppointmentShape, Interval, Rule, SlotQuery, TeamSlot};
use pillow_store::{TenantId, UserId};

use super::MemberCalendar;

/// Entries kept per map before it is emptied: a bound on memory, far above a working set
/// (a voice call asks about a handful of days).
const MAX_ENTRIES: usize = 20_000;

/// What a question asks, apart from whom.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Question {
    tenant: TenantId,
    window: Interval,
    duration: SignedDuration,
    shape: Option<ShapeKey>,
}

/// An [`AppointmentShape`] as a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShapeKey([Option<SignedDuration>; 4]);

impl From<&AppointmentShape> for ShapeKey {
    fn from(shape: &AppointmentShape) -> Self {
        ShapeKey([
            shape.duration,
            shape.buffer_before,
            shape.buffer_after,
            shape.min_booking_notice,
        ])
    }
}

/// One member's free slots for a question, computed at `at` from `rule` and `busy`.
struct MemberSlots {
    /// The calendar cache's `Arc`s this was computed from, held weakly: their allocations stay
    /// reserved, so an address is never reused while this entry lives, but a member's old busy
    /// time is freed once the cache has moved on. (Held strongly, every kept list of a day not
    /// asked again since pinned its own old copy of the member's busy time.)
    rule: Weak<Rule>,
    busy: Weak<Vec<Interval>>,
    at: Timestamp,
    /// The (shaped) rule's minimum notice: slots starting before `now + notice` are gone.
    notice: SignedDuration,
    free: Vec<Interval>,
}

impl MemberSlots {
    /// Where the slots still offered at `now` begin.
    fn offset(&self, now: Timestamp) -> usize {
        let earliest = now.saturating_add(self.notice).unwrap_or(Timestamp::MAX);
        self.free.partition_point(|slot| slot.start < earliest)
    }

    fn matches(&self, calendar: &MemberCalendar, now: Timestamp) -> bool {
        std::ptr::eq(self.rule.as_ptr(), Arc::as_ptr(&calendar.rule))
            && std::ptr::eq(self.busy.as_ptr(), Arc::as_ptr(&calendar.busy))
            && self.at <= now
    }
}

/// A team's merged answer and the member lists (and their offsets) it was merged from.
struct TeamAnswer {
    members: Vec<(Arc<MemberSlots>, usize)>,
    slots: Arc<Vec<TeamSlot<UserId>>>,
}

/// Free slots per member and question, and merged team answers; see the module docs.
#[derive(Default)]
pub struct SlotLists {
    members: Mutex<HashMap<(Question, UserId), Arc<MemberSlots>>>,
    teams: Mutex<HashMap<(Question, Vec<UserId>), TeamAnswer>>,
    /// Team answers served whole, without computing or merging anything.
    hits: AtomicU64,
    /// Member lists computed (each a run of the engine over one member).
    computed: AtomicU64,
}

impl SlotLists {
    /// Team answers served whole from what was kept (for tests and metrics).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Member slot lists computed so far (for tests and metrics).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// The free slots of `calendars` (as the calendar cache handed them out, before any
    /// appointment type's `shape` is laid over them) in `window`, each with the members free at
    /// it in input order; the same answer as [`super::team_availability`] over the shaped
    /// calendars, including their full days and weeks.
    pub fn team_slots(
        &self,
        tenant: TenantId,
        calendars: &[MemberCalendar],
        shape: Option<&AppointmentShape>,
        window: Interval,
        duration: SignedDuration,
        now: Timestamp,
    ) -> Arc<Vec<TeamSlot<UserId>>> {
        let question = Question {
            tenant,
            window,
            duration,
            shape: shape.map(ShapeKey::from),
        };
        let query = SlotQuery {
            window,
            duration,
            now,
        };
        let lists = self.member_lists(&question, calendars, shape, &query);
        let offsets: Vec<usize> = lists.iter().map(|(list, _)| list.offset(now)).collect();
        let keepable = lists.iter().all(|(_, kept)| *kept);
        let team_key = (
            question,
            calendars.iter().map(|c| c.user_id).collect::<Vec<_>>(),
        );
        let kept = keepable
            .then(|| {
                let teams = self.teams.lock().expect("slot lists lock poisoned");
                let answer = teams.get(&team_key)?;
                let same = answer.members.len() == lists.len()
                    && answer.members.iter().zip(lists.iter().zip(&offsets)).all(
                        |((was, at), ((list, _), offset))| Arc::ptr_eq(was, list) && at == offset,
                    );
                same.then(|| answer.slots.clone())
            })
            .flatten();
        let slots = match kept {
            Some(slots) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("availability_answers_reused_total").increment(1);
                slots
            }
            None => {
                let merged: Vec<(UserId, &[Interval])> = calendars
                    .iter()
                    .zip(lists.iter().zip(&offsets))
                    .map(|(c, ((list, _), offset))| (c.user_id, &list.free[*offset..]))
                    .collect();
                let slots = Arc::new(pillow_engine::merge_free_slots(&merged));
                if keepable {
                    let mut teams = self.teams.lock().expect("slot lists lock poisoned");
                    if teams.len() >= MAX_ENTRIES {
                        teams.clear();
                    }
                    teams.insert(
                        team_key,
                        TeamAnswer {
                            members: lists
                                .iter()
                                .zip(&offsets)
                                .map(|((list, _), offset)| (list.clone(), *offset))
                                .collect(),
                            slots: slots.clone(),
                        },
                    );
                }
                slots
            }
        };
        super::narrow_team_slots(calendars, slots)
    }

    /// Each member's list for `question`: kept ones where still valid, the rest computed (and
    /// kept unless their maximum notice ends inside the window). The flag says whether kept.
    fn member_lists(
        &self,
        question: &Question,
        calendars: &[MemberCalendar],
        shape: Option<&AppointmentShape>,
        query: &SlotQuery,
    ) -> Vec<(Arc<MemberSlots>, bool)> {
        let mut found: Vec<Option<Arc<MemberSlots>>> = {
            let members = self.members.lock().expect("slot lists lock poisoned");
            calendars
                .iter()
                .map(|c| {
                    members
                        .get(&(question.clone(), c.user_id))
                        .filter(|kept| kept.matches(c, query.now))
                        .cloned()
                })
                .collect()
        };
        let mut fresh = Vec::new();
        let lists = calendars
            .iter()
            .zip(found.iter_mut())
            .map(|(calendar, found)| {
                if let Some(kept) = found.take() {
                    return (kept, true);
                }
                let shaped;
                let rule: &Rule = match shape {
                    Some(shape) => {
                        shaped = calendar.rule.shaped(shape);
                        &shaped
                    }
                    None => &calendar.rule,
                };
                let free = pillow_engine::free_slots(rule, &calendar.busy, query);
                self.computed.fetch_add(1, Ordering::Relaxed);
                let list = Arc::new(MemberSlots {
                    rule: Arc::downgrade(&calendar.rule),
                    busy: Arc::downgrade(&calendar.busy),
                    at: query.now,
                    notice: rule.min_booking_notice(),
                    free,
                });
                // Slots past `now + max notice` appear as time passes: such a list is exact
                // only now.
                let keep = rule.max_booking_notice().is_none_or(|max| {
                    query.now.saturating_add(max).unwrap_or(Timestamp::MAX) >= query.window.end
                });
                if keep {
                    fresh.push((calendar.user_id, list.clone()));
                }
                (list, keep)
            })
            .collect();
        if !fresh.is_empty() {
            let mut members = self.members.lock().expect("slot lists lock poisoned");
            if members.len() + fresh.len() > MAX_ENTRIES {
                members.clear();
            }
            for (user, list) in fresh {
                members.insert((question.clone(), user), list);
            }
        }
        lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pillow_engine::RuleDocument;
    use pillow_store::MemberStats;

    fn calendar(rule: serde_json::Value, busy: Vec<Interval>) -> MemberCalendar {
        let document: RuleDocument = serde_json::from_value(rule).unwrap();
        let user_id = UserId::new();
        MemberCalendar {
            user_id,
            rule: Arc::new(Rule::parse(&document).unwrap()),
            busy: Arc::new(busy),
            stats: MemberStats {
                user_id,
                last_booked_at: None,
                upcoming: 0,
            },
            full: Arc::default(),
            required: false,
        }
    }

    fn open(extra: serde_json::Value) -> serde_json::Value {
        let mut rule = serde_json::json!({"timezone": "UTC", "slot_duration": 60,
            "schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}});
        rule.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        rule
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// 2024-01-08 is a Monday.
    fn monday() -> Interval {
        Interval::new(ts("2024-01-08T00:00Z"), ts("2024-01-09T00:00Z")).unwrap()
    }

    fn starts(slots: &[TeamSlot<UserId>]) -> Vec<String> {
        slots.iter().map(|s| s.slot.start.to_string()).collect()
    }

    #[test]
    fn a_kept_list_does_not_keep_its_member_s_old_busy_time_alive() {
        let lists = SlotLists::default();
        let tenant = TenantId::new();
        let busy = vec![Interval::new(ts("2024-01-08T10:00Z"), ts("2024-01-08T11:00Z")).unwrap()];
        let before = [calendar(open(serde_json::json!({})), busy)];
        let hour = SignedDuration::from_hours(1);
        let now = ts("2024-01-08T07:30Z");
        assert_eq!(
            lists
                .team_slots(tenant, &before, None, monday(), hour, now)
                .len(),
            7
        );
        lists.team_slots(tenant, &before, None, monday(), hour, now);
        assert_eq!(lists.hits(), 1, "kept while current");
        // The member's calendar moves on (a booking elsewhere); this day is not asked again.
        let old_busy = Arc::downgrade(&before[0].busy);
        let after = [MemberCalendar {
            busy: Arc::new(Vec::new()),
            ..before[0].clone()
        }];
        drop(before);
        assert!(
            old_busy.upgrade().is_none(),
            "the kept list still holds the old busy time"
        );
        // Asked again, the old list is not mistaken for the new calendar's.
        let computed = lists.computed();
        assert_eq!(
            lists
                .team_slots(tenant, &after, None, monday(), hour, now)
                .len(),
            8
        );
        assert_eq!(lists.computed(), computed + 1);
    }

    #[test]
    fn a_kept_answer_drops_the_slots_that_time_has_brought_inside_the_notice() {
        let lists = SlotLists::default();
        let tenant = TenantId::new();
        let cal = [calendar(
            open(serde_json::json!({"min_booking_notice": 60})),
            vec![],
        )];
        let hour = SignedDuration::from_hours(1);
        let early = ts("2024-01-08T07:30Z");
        let first = lists.team_slots(tenant, &cal, None, monday(), hour, early);
        assert_eq!(first.len(), 8, "09:00 to 16:00");
        lists.team_slots(tenant, &cal, None, monday(), hour, early);
        assert_eq!(lists.hits(), 1);
        // At 09:45 with an hour's notice, 11:00 is the first slot left; nothing recomputed.
        let computed = lists.computed();
        let later = lists.team_slots(tenant, &cal, None, monday(), hour, ts("2024-01-08T09:45Z"));
        assert_eq!(starts(&later)[0], "2024-01-08T11:00:00Z");
        assert_eq!(later.len(), 6);
        assert_eq!(lists.computed(), computed);
        let fresh = crate::domain::availability::team_availability(
            &cal,
            monday(),
            hour,
            ts("2024-01-08T09:45Z"),
        );
        assert_eq!(*later, fresh);
    }

    #[test]
    fn a_member_whose_maximum_notice_ends_inside_the_window_is_computed_every_time() {
        let lists = SlotLists::default();
        let tenant = TenantId::new();
        // Two hours ahead at most: at 09:00 only 09:00 to 11:00 are offered, later more.
        let cal = [calendar(
            open(serde_json::json!({"max_booking_notice": 120})),
            vec![],
        )];
        let hour = SignedDuration::from_hours(1);
        let at_nine = lists.team_slots(tenant, &cal, None, monday(), hour, ts("2024-01-08T09:00Z"));
        assert_eq!(at_nine.len(), 3);
        let at_ten = lists.team_slots(tenant, &cal, None, monday(), hour, ts("2024-01-08T10:00Z"));
        assert_eq!(
            starts(&at_ten),
            [
                "2024-01-08T10:00:00Z",
                "2024-01-08T11:00:00Z",
                "2024-01-08T12:00:00Z"
            ]
        );
        assert_eq!(lists.computed(), 2);
        assert_eq!(lists.hits(), 0);
    }

    #[test]
    fn a_new_busy_time_or_another_shape_is_a_new_computation() {
        let lists = SlotLists::default();
        let tenant = TenantId::new();
        let hour = SignedDuration::from_hours(1);
        let now = ts("2024-01-01T00:00Z");
        let mut cal = [calendar(open(serde_json::json!({})), vec![])];
        assert_eq!(
            lists
                .team_slots(tenant, &cal, None, monday(), hour, now)
                .len(),
            8
        );
        // The calendar cache hands out a new busy list after any change.
        cal[0].busy = Arc::new(vec![
            Interval::new(ts("2024-01-08T09:00Z"), ts("2024-01-08T10:00Z")).unwrap(),
        ]);
        assert_eq!(
            lists
                .team_slots(tenant, &cal, None, monday(), hour, now)
                .len(),
            7
        );
        let shape = AppointmentShape {
            buffer_after: Some(SignedDuration::from_mins(60)),
            ..AppointmentShape::default()
        };
        // An hour kept free after each slot: the shaped rule's answer, not the kept one.
        let shaped = lists.team_slots(tenant, &cal, Some(&shape), monday(), hour, now);
        let expected = crate::domain::availability::team_availability(
            &[MemberCalendar {
                rule: Arc::new(cal[0].rule.shaped(&shape)),
                ..cal[0].clone()
            }],
            monday(),
            hour,
            now,
        );
        assert_eq!(*shaped, expected);
        assert_eq!(lists.computed(), 3);
        assert_eq!(lists.hits(), 0);
    }
}
