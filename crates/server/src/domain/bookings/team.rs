//! An agent's team, cached for a few seconds, and the order its members are offered in.

use super::*;
use pillow_store::{AgentId, UserId};

/// Who books for an agent, in which order, and how.
pub struct Team {
    pub members: Vec<UserId>,
    pub priorities: HashMap<UserId, i32>,
    pub strategy: Strategy<UserId>,
    pub settings: BookingSettings,
    /// Members with a per-day or per-week limit; the rest have none.
    pub limits: HashMap<UserId, pillow_engine::HostLimits>,
    /// Round-robin weights, only when some member's is not 1 (else plain round robin).
    pub weights: HashMap<UserId, u32>,
    /// For a `collective` team, its required hosts in list order (never empty: the settings
    /// are refused otherwise); `None` for every other strategy.
    pub collective: Option<Vec<UserId>>,
}

/// An agent's team: its booking settings' assignable users, or, without settings, every member
/// with working hours (round robin).
pub async fn agent_team(state: &AppState, agent: &Agent) -> DomainResult<Team> {
    let stored = state
        .store
        .get_booking_settings(agent.tenant_id, agent.id)
        .await?;
    let settings: BookingSettings = match stored {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| DomainError::internal(format!("stored booking settings: {e}")))?,
        None => BookingSettings {
            assignable_users: Vec::new(),
            distribution_strategy: default_strategy(),
            specific_user_id: None,
            event_type_config: EventTypeConfig::default(),
            notifications: Notifications::default(),
        },
    };
    let members: Vec<UserId> = if settings.assignable_users.is_empty() {
        state.store.users_with_default_rule(agent.tenant_id).await?
    } else {
        settings
            .assignable_users
            .iter()
            .filter_map(|u| u.user_id.parse::<UserId>().ok())
            .collect()
    };
    let priorities = settings
        .assignable_users
        .iter()
        .filter_map(|u| Some((u.user_id.parse::<UserId>().ok()?, u.priority.unwrap_or(0))))
        .collect();
    let strategy = parse_strategy(&settings, &members)?;
    let collective = required_hosts(&settings);
    let limits = settings
        .assignable_users
        .iter()
        .filter_map(|u| Some((u.user_id.parse::<UserId>().ok()?, u.limits())))
        .filter(|(_, limits)| !limits.is_unlimited())
        .collect();
    let weights: HashMap<UserId, u32> = settings
        .assignable_users
        .iter()
        .filter_map(|u| {
            let weight = u32::try_from(u.weight.unwrap_or(1)).ok()?.max(1);
            Some((u.user_id.parse::<UserId>().ok()?, weight))
        })
        .collect();
    let weights = if weights.values().any(|w| *w != 1) {
        weights
    } else {
        HashMap::new()
    };
    Ok(Team {
        members,
        priorities,
        strategy,
        settings,
        limits,
        weights,
        collective,
    })
}

/// Orders the members free at a slot by the strategy (first = the pick), from the
/// statistics cached with their calendars.
pub fn rank_members(
    team: Option<&Team>,
    free: &[UserId],
    calendars: &[MemberCalendar],
) -> Vec<UserId> {
    let Some(team) = team else {
        return free.to_vec();
    };
    if let Some(required) = &team.collective {
        // Every free host joins a collective booking; the required ones first, in list order,
        // so the first is the lead.
        let (mut first, rest): (Vec<UserId>, Vec<UserId>) =
            free.iter().partition(|id| required.contains(id));
        first.extend(rest);
        return first;
    }
    let stats_of = |id: &UserId| {
        calendars
            .iter()
            .find(|c| c.user_id == *id)
            .map(|c| &c.stats)
    };
    if matches!(team.strategy, Strategy::RoundRobin) && !team.weights.is_empty() {
        // Weighted round robin: the deficit count over each member's upcoming bookings.
        let candidates: Vec<pillow_engine::Weighted<UserId>> = free
            .iter()
            .map(|id| pillow_engine::Weighted {
                id: *id,
                weight: team.weights.get(id).copied().unwrap_or(1),
                booked: stats_of(id).map_or(0, |s| s.upcoming),
                last_booked_at: stats_of(id).and_then(|s| s.last_booked_at),
            })
            .collect();
        return pillow_engine::rank_weighted(&candidates);
    }
    let candidates: Vec<Candidate<UserId>> = free
        .iter()
        .map(|id| {
            let stats = calendars
                .iter()
                .find(|c| c.user_id == *id)
                .map(|c| &c.stats);
            Candidate {
                id: *id,
                priority: team.priorities.get(id).copied().unwrap_or(0),
                last_booked_at: stats.and_then(|s| s.last_booked_at),
                upcoming_bookings: stats.map_or(0, |s| s.upcoming),
            }
        })
        .collect();
    pillow_engine::rank(&team.strategy, &candidates)
}

/// An agent with its team and the names of the tenant's members: what every availability and
/// booking request for the agent needs.
pub struct TeamContext {
    pub agent: Agent,
    /// The agent's zone, parsed once when the context is built.
    pub zone: jiff::tz::TimeZone,
    pub team: Team,
    pub names: HashMap<UserId, String>,
}

/// Per-process cache of [`TeamContext`]s.
#[derive(Default)]
pub struct TeamCache {
    entries: std::sync::Mutex<HashMap<(TenantId, AgentId), CachedTeam>>,
}

impl TeamCache {
    /// The agent's team context, or 404 when the agent is not in the tenant.
    ///
    /// # Errors
    /// 404 for an unknown agent; database failures.
    pub async fn get(
        &self,
        state: &AppState,
        tenant: TenantId,
        agent_id: AgentId,
    ) -> DomainResult<std::sync::Arc<TeamContext>> {
        if let Some((at, context)) = self
            .entries
            .lock()
            .expect("team cache lock")
            .get(&(tenant, agent_id))
            && at.elapsed() < TEAM_TTL
        {
            return Ok(context.clone());
        }
        let agent = state
            .store
            .get_agent(tenant, agent_id)
            .await?
            .ok_or_else(|| DomainError::not_found("agent"))?;
        let team = agent_team(state, &agent).await?;
        let names = state
            .store
            .list_users(tenant)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let zone = crate::domain::time::stored_zone(&agent.time_zone);
        let context = std::sync::Arc::new(TeamContext {
            agent,
            zone,
            team,
            names,
        });
        self.entries.lock().expect("team cache lock").insert(
            (tenant, agent_id),
            (std::time::Instant::now(), context.clone()),
        );
        Ok(context)
    }

    /// Forgets every team of a tenant, after a change to its agents, members, rules or
    /// settings.
    pub fn invalidate(&self, tenant: TenantId) {
        self.entries
            .lock()
            .expect("team cache lock")
            .retain(|(t, _), _| *t != tenant);
    }
}
