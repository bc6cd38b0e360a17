//! What the hosted booking page shows beyond slots: who the caller books with
//! (`GET …/calendar/profile`) and, for self-service changes, the caller's booking with its
//! host's open times (`POST /api/public/bookings/find`).
//!
//! A rescheduled booking keeps its host (the domain's reschedule checks the same member), so
//! the page offers only that host's times: a caller who booked Dr. Lee is not silently moved
//! to someone else, and every time listed can be taken.

use super::*;
use crate::http::bookings::self_service_booking;
use crate::http::extract::ApiJson;
use pillow_store::{AgentId, Booking, BookingStatus};

pub(crate) const PROFILE_PATH: &str = "/api/v1/agents/{agent_id}/calendar/profile";

/// How far ahead the hosted page offers a new time.
const RESCHEDULE_DAYS: i64 = 28;

/// Who the caller books with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    /// The business (the tenant's name).
    pub business: String,
    pub agent: ProfileAgent,
    /// The appointment's length in minutes.
    pub duration_min: i64,
    /// The members who take these appointments, by name.
    pub hosts: Vec<String>,
    /// The agent's appointment types, oldest first (empty when it has none): the widget lets
    /// the caller pick one when there are several, and asks for slots with
    /// `appointmentType=<slug>`.
    pub appointment_types: Vec<ProfileType>,
}

/// One kind of appointment a caller can pick.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileType {
    pub slug: String,
    pub name: String,
    /// Its length in minutes.
    pub duration_min: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileAgent {
    pub name: String,
    /// IANA zone of the business's times.
    pub timezone: String,
}

/// The business, the agent, the appointment length and the hosts (widget-key readable).
#[utoipa::path(get, path = "/api/v1/agents/{agent_id}/calendar/profile", tag = "in-call",
    security(("bearer" = [])),
    params(("agent_id" = Uuid, Path),
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key")),
    responses((status = 200, body = Profile, description = "Inside the envelope: `{\"success\":true,\"data\":{…}}`"),
              (status = 401), (status = 403), (status = 404), (status = 429)))]
pub(crate) async fn calendar_profile(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    headers: HeaderMap,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let access = access(&state, &headers, &peer, agent_id, Operation::Slots).await?;
    let cors = access.cors.clone();
    profile_of(&state, access.tenant, agent_id)
        .await
        .map(|profile| success(StatusCode::OK, profile, access.cors))
        .map_err(|error| InCallError { error, cors })
}

async fn profile_of(state: &AppState, tenant: TenantId, agent_id: AgentId) -> ApiResult<Profile> {
    let context = state.teams.get(state, tenant, agent_id).await?;
    let business = state
        .store
        .get_tenant(tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let duration = match context.team.settings.event_type_config.duration {
        Some(minutes) => minutes,
        None => {
            // The first member's slot length, as the slots answer uses.
            let now = Timestamp::now();
            let end = now
                .checked_add(SignedDuration::from_mins(1))
                .map_err(ApiError::internal)?;
            let window =
                Interval::new(now, end).ok_or_else(|| ApiError::internal("empty window"))?;
            let calendars = state
                .calendars
                .calendars(
                    state.store.as_ref(),
                    tenant,
                    &context.team.members,
                    window,
                    now,
                )
                .await?;
            calendars
                .first()
                .map_or(30, |c| c.rule.slot_duration().as_mins())
        }
    };
    Ok(Profile {
        business,
        agent: ProfileAgent {
            name: context.agent.name.clone(),
            timezone: context.zone.iana_name().unwrap_or("UTC").to_string(),
        },
        duration_min: duration,
        hosts: context
            .team
            .members
            .iter()
            .filter_map(|m| context.names.get(m).cloned())
            .collect(),
        appointment_types: crate::domain::appointment_types::list(state, tenant, agent_id)
            .await?
            .into_iter()
            .map(|offered| ProfileType {
                slug: offered.body.slug,
                name: offered.body.name,
                duration_min: offered.body.duration,
                description: offered.body.description,
            })
            .collect(),
    })
}

/// The proof a caller gives for their booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindBody {
    agent_id: String,
    confirmation_code: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// A caller's booking as the hosted page shows it before a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundBooking {
    pub booking: crate::domain::bookings::BookingView,
    /// The start in the business's zone, e.g. "Mon, Jan 15, 2024 at 10:00 AM".
    pub local_time: String,
    /// The business's IANA zone.
    pub timezone: String,
    /// The host's open times for a new start in the next four weeks (none for a cancelled or
    /// past booking); each `start_time` can be sent to the self-service reschedule.
    pub times: Vec<InCallSlot>,
}

/// Self-service: a booking by confirmation code plus its e-mail or phone, with its host's
/// open times. Every failure is the same 404, like the cancel and reschedule beside it.
#[utoipa::path(post, path = "/api/public/bookings/find", tag = "bookings",
    request_body = FindBody,
    responses((status = 200, body = FoundBooking), (status = 404), (status = 422), (status = 429)))]
pub(crate) async fn find_own_booking(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<FindBody>,
) -> ApiResult<Json<FoundBooking>> {
    let booking = self_service_booking(
        &state,
        &state.self_service_limiter,
        &body.agent_id,
        &body.confirmation_code,
        body.email.as_deref(),
        body.phone.as_deref(),
    )
    .await?;
    found(&state, &booking).await.map(Json)
}

/// `booking` as the hosted page shows it before a change, with its host's open times.
pub(crate) async fn found(state: &AppState, booking: &Booking) -> ApiResult<FoundBooking> {
    let agent_id = booking
        .agent_id
        .ok_or_else(|| ApiError::not_found("booking"))?;
    let context = state.teams.get(state, booking.tenant_id, agent_id).await?;
    let zone = agent_zone(&context);
    let now = Timestamp::now();
    let mut times = Vec::new();
    if booking.status == BookingStatus::Confirmed && booking.start > now {
        let end = now
            .checked_add(SignedDuration::from_hours(24 * RESCHEDULE_DAYS))
            .map_err(ApiError::internal)?;
        let window = Interval::new(now, end).ok_or_else(|| ApiError::internal("empty window"))?;
        let calendars = state
            .calendars
            .calendars(
                state.store.as_ref(),
                booking.tenant_id,
                &[booking.user_id],
                window,
                now,
            )
            .await?;
        let duration = booking.end.duration_since(booking.start);
        times = crate::domain::availability::team_availability(&calendars, window, duration, now)
            .into_iter()
            .map(|s| slot_view(state, agent_id, s.slot.start, duration, None, &zone))
            .collect();
    }
    let host = context
        .names
        .get(&booking.user_id)
        .cloned()
        .unwrap_or_default();
    Ok(FoundBooking {
        local_time: local_time(booking.start, &zone),
        timezone: zone.iana_name().unwrap_or("UTC").to_string(),
        booking: crate::domain::bookings::BookingView::new(booking, &host),
        times,
    })
}
