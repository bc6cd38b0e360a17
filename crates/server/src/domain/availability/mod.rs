//! Answers "who is free when" by feeding the engine rules and busy time from the store.
//!
//! The engine is fast; the database round trips are what cost. So each member's parsed rule and
//! busy intervals are cached in memory, tagged with the member's `busy_version`, a counter the
//! store bumps in the same transaction as every change to that member's events, rules or
//! bookings. A request asks for the members' versions (one small query) and reloads only the
//! members whose version moved. Because the version lives in the database, this stays correct
//! with several server processes on one PostgreSQL.

use pillow_store::{AvailabilityRule, BusyEvent, MemberStats, Store, StoreError, TenantId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::{Interval, Member, Rule, RuleDocument, SlotQuery, TeamSlot};

pub mod answers;
pub mod limits;

/// How far around "now" a member's busy time is loaded at once, so most queries hit the cache.
const LOAD_BEFORE: SignedDuration = SignedDuration::from_hours(24 * 2);
const LOAD_AFTER: SignedDuration = SignedDuration::from_hours(24 * 120);

/// Cached entries are reloaded at least this often even when their version has not moved:
/// `upcoming` in the assignment statistics counts bookings after "now", which moves.
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// One member as the engine and the distribution strategies need them.
#[derive(Clone)]
pub struct MemberCalendar {
    pub user_id: UserId,
    pub rule: Arc<Rule>,
    pub busy: Arc<Vec<Interval>>,
    /// For the distribution strategies: last booking, upcoming bookings.
    pub stats: MemberStats,
    /// Local days or weeks in which the member has reached a booking limit: no slot starting
    /// in one is offered. Empty unless filled by [`limits::team_calendars`].
    pub full: Arc<Vec<Interval>>,
    /// A required host of a collective team: a slot is offered only when every required host
    /// is free. False unless set by [`limits::team_calendars`].
    pub required: bool,
}

struct Cached {
    version: i64,
    rule: Option<Arc<Rule>>,
    loaded: Interval,
    loaded_at: std::time::Instant,
    busy: Arc<Vec<Interval>>,
    stats: MemberStats,
}

/// Per-process cache of members' rules and busy time, validated against `busy_version`.
#[derive(Default)]
pub struct CalendarCache {
    entries: Mutex<HashMap<(TenantId, UserId), Arc<Cached>>>,
    /// Bookings of this process between their write and [`CalendarCache::record_booking`], per
    /// member. A version one of them has already bumped is about to be cached, so a request
    /// that sees it waits a moment for that rather than reloading the member.
    writing: Mutex<HashMap<(TenantId, UserId), u32>>,
    /// Members loaded from the database so far (for metrics and tests).
    reloads: std::sync::atomic::AtomicU64,
    /// Free slots computed from these calendars, kept while they are current.
    pub slots: answers::SlotLists,
}

/// How often, and how long each time, a request waits for this process's own bookings to be
/// recorded before it reloads a member whose version moved.
/// A record follows its commit within microseconds; the bound is for a stalled task.
const WRITE_WAITS: u32 = 25;
const WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// A booking of this process being written: from before its write until it is recorded in the
/// cache (or has failed). See [`CalendarCache::writing`].
pub struct BookingWrite<'a> {
    cache: &'a CalendarCache,
    key: (TenantId, UserId),
}

impl Drop for BookingWrite<'_> {
    fn drop(&mut self) {
        let mut writing = self.cache.writing.lock().expect("cache lock poisoned");
        if let Some(count) = writing.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                writing.remove(&self.key);
            }
        }
    }
}

/// Parses a stored rule document; a stored rule that no longer parses is a corrupt row.
pub fn parse_stored_rule(rule: &AvailabilityRule) -> Result<Rule, StoreError> {
    let document: RuleDocument = serde_json::from_value(rule.document.clone())
        .map_err(|e| StoreError::Corrupt(format!("rule {}: {e}", rule.id)))?;
    Rule::parse(&document).map_err(|e| StoreError::Corrupt(format!("rule {}: {e}", rule.id)))
}

/// Turns stored busy events into instants; all-day events cover their local dates in `zone`.
pub fn busy_intervals(events: &[BusyEvent], user: UserId, zone: &TimeZone) -> Vec<Interval> {
    events
        .iter()
        .filter(|e| e.user_id == user)
        .filter_map(|e| {
            if e.all_day {
                let start = crate::domain::time::utc_date(e.start);
                let end = crate::domain::time::utc_date(e.end);
                pillow_engine::all_day_interval(start, end, zone)
            } else {
                Interval::new(e.start, e.end)
            }
        })
        .collect()
}

impl CalendarCache {
    /// The calendars of `users` covering `window`, in the order given; members without a
    /// default rule are left out (they have no working hours).
    ///
    /// # Errors
    /// A database failure or a corrupt stored rule.
    pub async fn calendars(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        users: &[UserId],
        window: Interval,
        now: Timestamp,
    ) -> Result<Vec<MemberCalendar>, StoreError> {
        let versions: HashMap<UserId, i64> = store
            .busy_versions(tenant, users)
            .await?
            .into_iter()
            .collect();
        let mut stale = self.stale(tenant, users, &versions, window);
        // Members whose version moved only because a booking of ours is being recorded: wait
        // for the record (it carries exactly the new version) instead of reloading them.
        for _ in 0..WRITE_WAITS {
            if stale.is_empty() || !self.being_written(tenant, &stale, &versions) {
                break;
            }
            tokio::time::sleep(WRITE_WAIT).await;
            stale = self.stale(tenant, &stale, &versions, window);
        }
        if !stale.is_empty() {
            self.reloads
                .fetch_add(stale.len() as u64, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("calendar_cache_reloads_total").increment(stale.len() as u64);
            self.reload(store, tenant, &stale, &versions, window, now)
                .await?;
        }
        let entries = self.entries.lock().expect("cache lock poisoned");
        Ok(users
            .iter()
            .filter_map(|user| {
                let cached = entries.get(&(tenant, *user))?;
                Some(MemberCalendar {
                    user_id: *user,
                    rule: cached.rule.clone()?,
                    busy: cached.busy.clone(),
                    stats: cached.stats.clone(),
                    full: Arc::default(),
                    required: false,
                })
            })
            .collect())
    }

    /// The members of `users` whose cached calendar is missing, older than its version in
    /// `versions`, too old, or does not cover `window`.
    fn stale(
        &self,
        tenant: TenantId,
        users: &[UserId],
        versions: &HashMap<UserId, i64>,
        window: Interval,
    ) -> Vec<UserId> {
        let entries = self.entries.lock().expect("cache lock poisoned");
        users
            .iter()
            .filter(|user| {
                let Some(version) = versions.get(user) else {
                    return false;
                };
                !entries.get(&(tenant, **user)).is_some_and(|c| {
                    c.version == *version
                        && c.loaded_at.elapsed() < MAX_AGE
                        && c.loaded.start <= window.start
                        && c.loaded.end >= window.end
                })
            })
            .copied()
            .collect()
    }

    /// Whether every member of `users` is cached at a version that this process's bookings
    /// being written could account for: behind `versions` by no more than their number.
    fn being_written(
        &self,
        tenant: TenantId,
        users: &[UserId],
        versions: &HashMap<UserId, i64>,
    ) -> bool {
        let entries = self.entries.lock().expect("cache lock poisoned");
        let writing = self.writing.lock().expect("cache lock poisoned");
        users.iter().all(|user| {
            let (Some(cached), Some(version), Some(count)) = (
                entries.get(&(tenant, *user)),
                versions.get(user),
                writing.get(&(tenant, *user)),
            ) else {
                return false;
            };
            let behind = version - cached.version;
            behind > 0 && behind <= i64::from(*count)
        })
    }

    /// Marks a booking of `user` as being written until the returned guard is dropped; drop it
    /// after [`CalendarCache::record_booking`] (or after the write failed).
    pub fn begin_booking_write(&self, tenant: TenantId, user: UserId) -> BookingWrite<'_> {
        *self
            .writing
            .lock()
            .expect("cache lock poisoned")
            .entry((tenant, user))
            .or_insert(0) += 1;
        BookingWrite {
            cache: self,
            key: (tenant, user),
        }
    }

    async fn reload(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        users: &[UserId],
        versions: &HashMap<UserId, i64>,
        window: Interval,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let start = window
            .start
            .min(now.saturating_sub(LOAD_BEFORE).unwrap_or(now));
        let end = window
            .end
            .max(now.saturating_add(LOAD_AFTER).unwrap_or(now));
        let loaded = Interval::new(start, end).unwrap_or(window);
        // Read rules and events first, then record them under the versions read BEFORE them: a
        // change racing with this load bumps the version, so the next request reloads.
        let rules = store.default_rules(tenant, users).await?;
        let events = store
            .busy_events(tenant, users, loaded.start, loaded.end)
            .await?;
        let mut stats: HashMap<UserId, MemberStats> = store
            .member_stats(tenant, users, now)
            .await?
            .into_iter()
            .map(|s| (s.user_id, s))
            .collect();
        let mut parsed = HashMap::new();
        for rule in &rules {
            parsed.insert(rule.user_id, Arc::new(parse_stored_rule(rule)?));
        }
        let mut entries = self.entries.lock().expect("cache lock poisoned");
        for user in users {
            let rule = parsed.get(user).cloned();
            let zone = rule
                .as_ref()
                .map_or(TimeZone::UTC, |r| r.time_zone().clone());
            // Normalised once here, so the engine need not sort on every request.
            let busy = pillow_engine::normalize(&busy_intervals(&events, *user, &zone));
            entries.insert(
                (tenant, *user),
                Arc::new(Cached {
                    version: versions.get(user).copied().unwrap_or_default(),
                    rule,
                    loaded,
                    loaded_at: std::time::Instant::now(),
                    busy: Arc::new(busy),
                    stats: stats.remove(user).unwrap_or(MemberStats {
                        user_id: *user,
                        last_booked_at: None,
                        upcoming: 0,
                    }),
                }),
            );
        }
        Ok(())
    }
}

impl CalendarCache {
    /// How many member calendars were loaded from the database so far.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Applies a booking this process just committed to the member's cached calendar, so the
    /// next request need not reload it. The patched entry claims the version one above the
    /// cached one; if the database shows any other number (another change came first, or
    /// after), the entry is reloaded as usual, so this can only save work, never serve
    /// stale data.
    pub fn record_booking(
        &self,
        tenant: TenantId,
        user: UserId,
        occupied: Interval,
        booked_at: Timestamp,
        upcoming: bool,
    ) {
        let mut entries = self.entries.lock().expect("cache lock poisoned");
        let Some(cached) = entries.get(&(tenant, user)) else {
            return;
        };
        if occupied.start < cached.loaded.start || occupied.end > cached.loaded.end {
            return;
        }
        let mut busy = cached.busy.as_ref().clone();
        busy.push(occupied);
        let mut stats = cached.stats.clone();
        stats.last_booked_at = Some(booked_at);
        if upcoming {
            stats.upcoming += 1;
        }
        let patched = Cached {
            version: cached.version + 1,
            rule: cached.rule.clone(),
            loaded: cached.loaded,
            loaded_at: cached.loaded_at,
            busy: Arc::new(pillow_engine::normalize(&busy)),
            stats,
        };
        entries.insert((tenant, user), Arc::new(patched));
    }
}

/// Free slots of a set of members: each slot with the members free at it, in input order. A
/// member is not free at a slot starting in one of their [`MemberCalendar::full`] periods.
/// When some members are [`MemberCalendar::required`] (a collective team), only the slots at
/// which all of them are free are kept.
pub fn team_availability(
    calendars: &[MemberCalendar],
    window: Interval,
    duration: SignedDuration,
    now: Timestamp,
) -> Vec<TeamSlot<UserId>> {
    let members: Vec<Member<'_, UserId>> = calendars
        .iter()
        .map(|c| Member {
            id: c.user_id,
            rule: &c.rule,
            busy: &c.busy,
        })
        .collect();
    let slots = pillow_engine::team_slots(
        &members,
        &SlotQuery {
            window,
            duration,
            now,
        },
    );
    Arc::unwrap_or_clone(narrow_team_slots(calendars, Arc::new(slots)))
}

/// `slots` less each member at a slot starting in one of their [`MemberCalendar::full`]
/// periods (and slots left with nobody), and, when some members are
/// [`MemberCalendar::required`] (a collective team), only the slots at which all of them are
/// free; `slots` itself when neither applies, so a cached answer is shared, not copied.
pub fn narrow_team_slots(
    calendars: &[MemberCalendar],
    slots: Arc<Vec<TeamSlot<UserId>>>,
) -> Arc<Vec<TeamSlot<UserId>>> {
    let any_full = calendars.iter().any(|c| !c.full.is_empty());
    let required: Vec<UserId> = calendars
        .iter()
        .filter(|c| c.required)
        .map(|c| c.user_id)
        .collect();
    if !any_full && required.is_empty() {
        return slots;
    }
    let mut slots = Arc::unwrap_or_clone(slots);
    if any_full {
        let full: HashMap<UserId, &[Interval]> = calendars
            .iter()
            .map(|c| (c.user_id, c.full.as_slice()))
            .collect();
        slots.retain_mut(|slot| {
            slot.free.retain(|id| {
                !full
                    .get(id)
                    .is_some_and(|f| pillow_engine::in_full_period(f, slot.slot.start))
            });
            !slot.free.is_empty()
        });
    }
    if !required.is_empty() {
        slots = pillow_engine::collective_slots(slots, &required);
    }
    Arc::new(slots)
}
