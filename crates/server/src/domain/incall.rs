//! The in-call calendar's shared state and its slots: open times in the agent's zone, each with
//! a signed slot id, cached briefly per agent and window while the members' busy versions stay
//! put (any booking, by any route or process, drops them).

use pillow_store::{Agent, AgentId, TenantId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::Interval;
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::appointment_types::Offered;
use crate::domain::bookings::TeamContext;
use crate::domain::error::DomainResult;
use crate::rate_limit::RateLimiter;
use crate::slot_id::SlotRef;

/// How long a slots answer may be reused while the members' versions stay put.
const SLOT_CACHE_TTL: Duration = Duration::from_secs(20);

/// In-call state shared by the handlers: the slot cache and the widget keys' rate limits.
pub struct InCallState {
    pub slots: SlotCache,
    /// Slot reads per widget key and client address.
    pub slot_limiter: RateLimiter,
    /// Booking attempts per widget key and client address.
    pub book_limiter: RateLimiter,
}

impl Default for InCallState {
    fn default() -> Self {
        Self {
            slots: SlotCache::default(),
            slot_limiter: RateLimiter::new(120, Duration::from_secs(60)),
            book_limiter: RateLimiter::new(10, Duration::from_secs(10 * 60)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Slots.

/// One slot as the in-call API shows it, plus its local date for grouping by day.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct InCallSlot {
    /// Opaque and signed by the server: hand it back to book.
    pub id: String,
    /// UTC, e.g. `2024-01-15T15:00:00Z`.
    pub start_time: String,
    pub duration_min: i64,
    /// In the agent's zone, e.g. `Mon, Jan 15, 2024 at 10:00 AM`.
    pub local_time: String,
    /// The local date in the agent's zone, `YYYY-MM-DD`.
    pub local_date: String,
}

/// "Mon, Jan 15, 2024 at 10:00 AM" in `zone`.
pub fn local_time(start: Timestamp, zone: &TimeZone) -> String {
    start
        .to_zoned(zone.clone())
        .strftime("%a, %b %-d, %Y at %-I:%M %p")
        .to_string()
}

pub fn agent_zone(context: &TeamContext) -> TimeZone {
    context.zone.clone()
}

pub fn slot_view(
    state: &AppState,
    agent_id: AgentId,
    start: Timestamp,
    duration: SignedDuration,
    appointment_type: Option<uuid::Uuid>,
    zone: &TimeZone,
) -> InCallSlot {
    InCallSlot {
        id: state.slot_ids.sign(&SlotRef {
            agent_id,
            start,
            duration,
            appointment_type,
        }),
        start_time: start.to_string(),
        duration_min: duration.as_mins(),
        local_time: local_time(start, zone),
        local_date: start.to_zoned(zone.clone()).date().to_string(),
    }
}

/// The agent's free slots in `window` from its own team's calendars: the native path. With
/// an appointment type, only its hosts, laid out in its shape (length, buffers, notice), and
/// each slot id carries the type.
pub async fn native_slots(
    state: &AppState,
    tenant: TenantId,
    context: &TeamContext,
    offered: Option<&Offered>,
    window: Interval,
    now: Timestamp,
) -> DomainResult<Vec<InCallSlot>> {
    let members = match offered {
        Some(offered) => offered.members(&context.team.members),
        None => context.team.members.clone(),
    };
    let calendars = crate::domain::availability::limits::team_calendars(
        state,
        tenant,
        Some(&context.team),
        &members,
        window,
        now,
    )
    .await?;
    let duration = offered
        .map(Offered::duration)
        .or_else(|| {
            context
                .team
                .settings
                .event_type_config
                .duration
                .map(SignedDuration::from_mins)
        })
        .or_else(|| calendars.first().map(|c| c.rule.slot_duration()))
        .unwrap_or(SignedDuration::from_mins(30));
    let shape = offered.map(Offered::shape);
    let zone = agent_zone(context);
    Ok(state
        .calendars
        .slots
        .team_slots(tenant, &calendars, shape.as_ref(), window, duration, now)
        .iter()
        .map(|slot| {
            slot_view(
                state,
                context.agent.id,
                slot.slot.start,
                slot.slot.end.duration_since(slot.slot.start),
                offered.map(|o| o.id),
                &zone,
            )
        })
        .collect())
}

/// The agent's slots as Cal.com offers them: the `calcom` backend. Not cached, since our busy
/// versions say nothing about bookings made on Cal.com.
pub async fn calcom_slots(
    state: &AppState,
    agent: &Agent,
    window: Interval,
    zone: &TimeZone,
) -> DomainResult<Vec<InCallSlot>> {
    let offered =
        crate::domain::calcom::offered_slots(state, agent, window.start, window.end, None).await?;
    Ok(offered
        .into_iter()
        .map(|slot| {
            slot_view(
                state,
                agent.id,
                slot.start,
                slot.end.duration_since(slot.start),
                None,
                zone,
            )
        })
        .collect())
}

/// What a slots answer is cached under: the agent's window, and the appointment type (its id
/// and its fields as they were, so a changed type is not answered from before the change).
pub type SlotKey = (TenantId, AgentId, Timestamp, Timestamp, Option<String>);

/// One cached slots answer and what it was computed from.
struct CachedSlots {
    at: Instant,
    versions: Vec<(UserId, i64)>,
    slots: Arc<Vec<InCallSlot>>,
}

/// Slot answers per agent and window, reused while the members' busy versions are unchanged
/// (a booking through any route or process bumps them) and for at most [`SLOT_CACHE_TTL`].
#[derive(Default)]
pub struct SlotCache {
    entries: Mutex<HashMap<SlotKey, CachedSlots>>,
    hits: std::sync::atomic::AtomicU64,
}

impl SlotCache {
    pub fn get(&self, key: &SlotKey, versions: &[(UserId, i64)]) -> Option<Arc<Vec<InCallSlot>>> {
        let entries = self.entries.lock().expect("slot cache lock");
        let cached = entries.get(key)?;
        (cached.at.elapsed() < SLOT_CACHE_TTL && cached.versions == versions).then(|| {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            cached.slots.clone()
        })
    }

    pub fn put(&self, key: SlotKey, versions: Vec<(UserId, i64)>, slots: Arc<Vec<InCallSlot>>) {
        let mut entries = self.entries.lock().expect("slot cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, c| c.at.elapsed() < SLOT_CACHE_TTL);
        }
        entries.insert(
            key,
            CachedSlots {
                at: Instant::now(),
                versions,
                slots,
            },
        );
    }

    /// Drops every answer of a tenant's agents (after a booking through the in-call API: the
    /// versions would catch it too, but the Cal.com path has none).
    pub fn forget_tenant(&self, tenant: TenantId) {
        self.entries
            .lock()
            .expect("slot cache lock")
            .retain(|(t, ..), _| *t != tenant);
    }

    /// Answers served from the cache so far (for tests and metrics).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}
