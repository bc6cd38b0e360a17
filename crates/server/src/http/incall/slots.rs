//! `GET .../calendar/slots`: the agent's open times in a window, in the agent's zone.

use super::*;
use crate::http::error::ErrorCode;
use pillow_store::AgentId;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub(crate) struct SlotsQuery {
    /// A date `YYYY-MM-DD` in the agent's zone (its start) or an RFC 3339 instant; default now.
    startDate: Option<String>,
    /// A date (included whole) or an instant; default a week after the start; at most 93 days.
    endDate: Option<String>,
    /// One of the agent's appointment types, by slug, id or name: the slots take its length,
    /// buffers, notice and hosts, and booking one of them books that type.
    appointmentType: Option<String>,
}
pub(crate) fn slots_window(
    query: &SlotsQuery,
    zone: &TimeZone,
    now: Timestamp,
) -> ApiResult<Interval> {
    let start = match &query.startDate {
        Some(raw) => parse_bound("startDate", raw.trim(), zone, false)?,
        None => now,
    };
    let end = match &query.endDate {
        Some(raw) => parse_bound("endDate", raw.trim(), zone, true)?,
        None => start
            .checked_add(SignedDuration::from_hours(24 * DEFAULT_WINDOW_DAYS))
            .map_err(ApiError::internal)?,
    };
    let window = Interval::new(start, end).ok_or_else(|| {
        ApiError::invalid(
            "endDate",
            ErrorCode::InvalidRange,
            "endDate must be after startDate.",
        )
    })?;
    if window.duration() > SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) {
        return Err(ApiError::invalid(
            "endDate",
            ErrorCode::WindowTooLong,
            format!("Ask for at most {MAX_WINDOW_DAYS} days at once."),
        ));
    }
    Ok(window)
}
/// The agent's free slots (the in-call API's `GET …/calendar/slots`).
///
/// Authenticated by the tenant's JWT or API key, or a publishable widget key in
/// `X-Pillow-Key` from an allowed origin.
#[utoipa::path(get, path = "/api/v1/agents/{agent_id}/calendar/slots", tag = "in-call",
    security(("bearer" = [])),
    params(("agent_id" = Uuid, Path), SlotsQuery,
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key")),
    responses((status = 200, body = SlotsAnswer, description = "Inside the envelope: `{\"success\":true,\"data\":{…}}`"),
              (status = 401), (status = 403), (status = 404), (status = 422), (status = 429)))]
pub(crate) async fn slots(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    headers: HeaderMap,
    query: Result<Query<SlotsQuery>, axum::extract::rejection::QueryRejection>,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let access = access(&state, &headers, &peer, agent_id, Operation::Slots).await?;
    let cors = access.cors.clone();
    slots_for(&state, access, agent_id, query)
        .await
        .map_err(|error| InCallError { error, cors })
}
pub(crate) async fn slots_for(
    state: &AppState,
    access: Access,
    agent_id: AgentId,
    query: Result<Query<SlotsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.body_text()))?;
    let now = Timestamp::now();
    let context = state.teams.get(state, access.tenant, agent_id).await?;
    let zone = agent_zone(&context);
    let window = slots_window(&query, &zone, now)?;
    let offered = match query.appointmentType.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(_) if context.agent.backend == AgentBackend::Calcom => {
            return Err(ApiError::invalid(
                "appointmentType",
                ErrorCode::ConflictingParameters,
                "This agent's calendar is on Cal.com, which keeps its own event types.",
            ));
        }
        Some(raw) => Some(
            crate::domain::appointment_types::resolve(
                state,
                access.tenant,
                agent_id,
                "appointmentType",
                raw,
            )
            .await?,
        ),
    };
    let slots = if context.agent.backend == AgentBackend::Calcom {
        Arc::new(calcom_slots(state, &context.agent, window, &zone).await?)
    } else {
        let mut versions = state
            .store
            .busy_versions(access.tenant, &context.team.members)
            .await?;
        versions.sort();
        let kind = offered.as_ref().map(|o| {
            format!(
                "{}:{}",
                o.id,
                serde_json::to_string(&o.body).unwrap_or_default()
            )
        });
        let key = (access.tenant, agent_id, window.start, window.end, kind);
        match state.incall.slots.get(&key, &versions) {
            Some(slots) => slots,
            None => {
                let slots = Arc::new(
                    native_slots(
                        state,
                        access.tenant,
                        &context,
                        offered.as_ref(),
                        window,
                        now,
                    )
                    .await?,
                );
                state.incall.slots.put(key, versions, slots.clone());
                slots
            }
        }
    };
    // Slots that became too soon since they were cached are left out.
    let slots = slots
        .iter()
        .filter(|s| s.start_time.parse::<Timestamp>().is_ok_and(|t| t > now))
        .collect();
    let answer = SlotsAnswer {
        slots,
        agent: SlotsAgent {
            name: &context.agent.name,
            timezone: zone.iana_name().unwrap_or("UTC"),
        },
    };
    Ok(success(StatusCode::OK, answer, access.cors))
}

/// What the slots answer holds inside the envelope's `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsAnswer<'a> {
    /// Soonest first.
    pub slots: Vec<&'a InCallSlot>,
    pub agent: SlotsAgent<'a>,
}

/// The agent the slots are of.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsAgent<'a> {
    pub name: &'a str,
    /// The agent's IANA zone: the slots' local times are in it.
    pub timezone: &'a str,
}
