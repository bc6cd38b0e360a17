//! Booking: settings, assignment, conflict handling and idempotency.
//!
//! The engine and the calendar cache decide quickly who could take a slot; the store's
//! transaction is the authority (an exclusion constraint on PostgreSQL, an immediate
//! transaction on SQLite). A team booking whose chosen member lost a race falls through to the
//! next member in the strategy's order.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::{Candidate, Interval, SlotRejection, Strategy};
use pillow_store::{
    Agent, Attendee, Booking, Constraint, IdempotencyState, IdempotentResponse, NewBooking, NewJob,
    StoreError, TenantId, User, new_id,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::domain::availability::{MemberCalendar, team_availability};
use crate::error::{ApiError, ApiResult};

/// Letters and digits that cannot be mistaken for one another when read aloud or written down
/// (no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B).
pub const CODE_ALPHABET: &[u8] = b"ACDEFHJKMNPQRTUVWXY3479";
pub const CODE_LEN: usize = 9;

/// A fresh confirmation code like `ABC123XYZ`: nine characters.
pub fn new_confirmation_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Whether a string could be a confirmation code (so ids and codes share one path segment).
pub fn looks_like_code(text: &str) -> bool {
    text.len() == CODE_LEN
        && text
            .bytes()
            .all(|b| CODE_ALPHABET.contains(&b.to_ascii_uppercase()))
}

// ---------------------------------------------------------------------------------------------
// Booking settings, as agents store them.

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    #[serde(default)]
    pub assignable_users: Vec<AssignableUser>,
    /// `round_robin`, `least_busy`, `priority` or `specific_user`.
    #[serde(default = "default_strategy")]
    pub distribution_strategy: String,
    /// For `specific_user`: who (default: the first assignable user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specific_user_id: Option<String>,
    #[serde(default)]
    pub event_type_config: EventTypeConfig,
    #[serde(default)]
    pub notifications: Notifications,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignableUser {
    pub user_id: String,
    /// Lower number = higher priority.
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub calendar_provider_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeConfig {
    /// Minutes.
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub title_template: Option<String>,
    #[serde(default)]
    pub description_template: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub send_email: bool,
    #[serde(default)]
    pub send_sms: bool,
}

fn default_strategy() -> String {
    "round_robin".into()
}

pub const DEFAULT_TITLE: &str = "Appointment with {{customer_name}}";
pub const DEFAULT_DESCRIPTION: &str =
    "Phone: {{customer_phone}}\nEmail: {{customer_email}}\nNotes: {{notes}}";

/// Variables a title or description template may use.
pub const TEMPLATE_VARIABLES: [&str; 10] = [
    "customer_name",
    "customer_phone",
    "customer_email",
    "notes",
    "host_name",
    "agent_name",
    "date",
    "time",
    "duration",
    "confirmation_code",
];

/// The `{{name}}` variables a template uses, or the first malformed one.
fn template_variables(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a `{{` is never closed".to_string())?;
        names.push(after[..close].trim().to_string());
        rest = &after[close + 2..];
    }
    Ok(names)
}

/// Fills `{{name}}` placeholders; unknown ones were refused when the settings were saved.
pub fn render_template(template: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = after[..close].trim();
                out.push_str(values.get(name).map(String::as_str).unwrap_or(""));
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_strategy(settings: &BookingSettings, members: &[Uuid]) -> ApiResult<Strategy<Uuid>> {
    match settings.distribution_strategy.as_str() {
        "round_robin" => Ok(Strategy::RoundRobin),
        "least_busy" => Ok(Strategy::LeastBusy),
        "priority" => Ok(Strategy::Priority),
        "specific_user" => {
            let chosen = match &settings.specific_user_id {
                Some(raw) => Uuid::parse_str(raw).map_err(|_| {
                    ApiError::invalid(
                        "specific_user_id",
                        "unknown_user",
                        format!("{raw:?} is not a member of this tenant."),
                    )
                })?,
                None => *members.first().ok_or_else(|| {
                    ApiError::invalid(
                        "assignable_users",
                        "no_members",
                        "specific_user needs at least one assignable user.",
                    )
                })?,
            };
            Ok(Strategy::SpecificUser(chosen))
        }
        other => Err(ApiError::invalid(
            "distribution_strategy",
            "unknown_strategy",
            format!(
                "{other:?} is not a strategy; use round_robin, least_busy, priority or specific_user."
            ),
        )),
    }
}

/// Checks settings against the tenant's members; answers the members in list order.
pub async fn validate_settings(
    state: &AppState,
    tenant: TenantId,
    settings: &BookingSettings,
) -> ApiResult<Vec<Uuid>> {
    let known: HashMap<Uuid, User> = state
        .store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut members = Vec::new();
    for (i, entry) in settings.assignable_users.iter().enumerate() {
        let field = format!("assignable_users[{i}].user_id");
        let id = Uuid::parse_str(&entry.user_id)
            .ok()
            .filter(|id| known.contains_key(id))
            .ok_or_else(|| {
                ApiError::invalid(
                    &field,
                    "unknown_user",
                    format!("{:?} is not a member of this tenant.", entry.user_id),
                )
            })?;
        if members.contains(&id) {
            return Err(ApiError::invalid(
                &field,
                "duplicate_user",
                "Each member may appear once in assignable_users.",
            ));
        }
        members.push(id);
    }
    if let Strategy::SpecificUser(id) = parse_strategy(settings, &members)?
        && !members.contains(&id)
    {
        return Err(ApiError::invalid(
            "specific_user_id",
            "unknown_user",
            "specific_user_id must be one of the assignable users.",
        ));
    }
    let config = &settings.event_type_config;
    if let Some(minutes) = config.duration
        && !(5..=1440).contains(&minutes)
    {
        return Err(ApiError::invalid(
            "event_type_config.duration",
            "invalid_duration",
            "The duration is a whole number of minutes from 5 to 1440.",
        ));
    }
    for (field, template) in [
        ("event_type_config.title_template", &config.title_template),
        (
            "event_type_config.description_template",
            &config.description_template,
        ),
    ] {
        let Some(template) = template else { continue };
        let names = template_variables(template)
            .map_err(|why| ApiError::invalid(field, "invalid_template", why))?;
        if let Some(unknown) = names
            .iter()
            .find(|n| !TEMPLATE_VARIABLES.contains(&n.as_str()))
        {
            return Err(ApiError::invalid(
                field,
                "unknown_template_variable",
                format!(
                    "{{{{{unknown}}}}} is not a template variable; use {}.",
                    TEMPLATE_VARIABLES.join(", ")
                ),
            ));
        }
    }
    Ok(members)
}

/// Who books for an agent, in which order, and how.
pub struct Team {
    pub members: Vec<Uuid>,
    pub priorities: HashMap<Uuid, i32>,
    pub strategy: Strategy<Uuid>,
    pub settings: BookingSettings,
}

/// An agent's team: its booking settings' assignable users, or, without settings, every member
/// with working hours (round robin).
pub async fn agent_team(state: &AppState, agent: &Agent) -> ApiResult<Team> {
    let stored = state
        .store
        .get_booking_settings(agent.tenant_id, agent.id)
        .await?;
    let settings: BookingSettings = match stored {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| ApiError::internal(format!("stored booking settings: {e}")))?,
        None => BookingSettings {
            assignable_users: Vec::new(),
            distribution_strategy: default_strategy(),
            specific_user_id: None,
            event_type_config: EventTypeConfig::default(),
            notifications: Notifications::default(),
        },
    };
    let members: Vec<Uuid> = if settings.assignable_users.is_empty() {
        state.store.users_with_default_rule(agent.tenant_id).await?
    } else {
        settings
            .assignable_users
            .iter()
            .filter_map(|u| Uuid::parse_str(&u.user_id).ok())
            .collect()
    };
    let priorities = settings
        .assignable_users
        .iter()
        .filter_map(|u| Some((Uuid::parse_str(&u.user_id).ok()?, u.priority.unwrap_or(0))))
        .collect();
    let strategy = parse_strategy(&settings, &members)?;
    Ok(Team {
        members,
        priorities,
        strategy,
        settings,
    })
}

/// Orders the members free at a slot by the strategy (first = the pick), from the
/// statistics cached with their calendars.
pub fn rank_members(team: Option<&Team>, free: &[Uuid], calendars: &[MemberCalendar]) -> Vec<Uuid> {
    let Some(team) = team else {
        return free.to_vec();
    };
    let candidates: Vec<Candidate<Uuid>> = free
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
    pub team: Team,
    pub names: HashMap<Uuid, String>,
}

/// How long a process reuses an agent's team without asking the database. Changes made through
/// this process invalidate it at once; other processes see them within this time. Bookings are
/// unaffected: the store's transaction always has the last word.
const TEAM_TTL: Duration = Duration::from_secs(5);

/// A team context and when it was read.
type CachedTeam = (std::time::Instant, std::sync::Arc<TeamContext>);

/// Per-process cache of [`TeamContext`]s.
#[derive(Default)]
pub struct TeamCache {
    entries: std::sync::Mutex<HashMap<(TenantId, Uuid), CachedTeam>>,
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
        agent_id: Uuid,
    ) -> ApiResult<std::sync::Arc<TeamContext>> {
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
            .ok_or_else(|| ApiError::not_found("agent"))?;
        let team = agent_team(state, &agent).await?;
        let names = state
            .store
            .list_users(tenant)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let context = std::sync::Arc::new(TeamContext { agent, team, names });
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

// ---------------------------------------------------------------------------------------------
// Making a booking.

/// Whom a booking is for.
pub enum Subject {
    Agent(std::sync::Arc<TeamContext>),
    User(Box<User>),
}

/// A validated booking request.
pub struct BookingRequest {
    pub start: Timestamp,
    pub duration: Option<SignedDuration>,
    pub attendee: Attendee,
    pub notes: Option<String>,
    pub call_id: Option<String>,
}

/// A booking as the API shows it.
pub fn booking_view(booking: &Booking, host_name: &str) -> Value {
    json!({
        "id": booking.id,
        "confirmation_code": booking.confirmation_code,
        "status": booking.status,
        "start_time": booking.start.to_string(),
        "end_time": booking.end.to_string(),
        "duration": booking.end.duration_since(booking.start).as_mins(),
        "user_id": booking.user_id,
        "user_name": host_name,
        "assigned_user": {"id": booking.user_id, "name": host_name},
        "agent_id": booking.agent_id,
        "attendee": booking.attendee,
        "notes": booking.notes,
        "title": booking.title,
        "description": booking.description,
        "cancel_reason": booking.cancel_reason,
        "cancelled_at": booking.cancelled_at.map(|t| t.to_string()),
        "created_at": booking.created_at.to_string(),
        "updated_at": booking.updated_at.to_string(),
    })
}

/// A rejected time as a 422 naming the field.
pub fn rejection_to_error(rejection: SlotRejection) -> ApiError {
    let (field, message) = match rejection {
        SlotRejection::InThePast => ("start_time", "That time is in the past."),
        SlotRejection::TooSoon => (
            "start_time",
            "That time is too soon: the minimum booking notice applies.",
        ),
        SlotRejection::TooFarAhead => (
            "start_time",
            "That time is too far ahead: the maximum booking notice applies.",
        ),
        SlotRejection::DurationNotAllowed => (
            "duration",
            "That duration is not offered: use a multiple of the slot length.",
        ),
        SlotRejection::OutsideWorkingHours => ("start_time", "That time is outside working hours."),
        SlotRejection::OffGrid => (
            "start_time",
            "Appointments start on the slot grid; ask for availability to see the times offered.",
        ),
        SlotRejection::Busy => ("start_time", "That time is no longer available."),
    };
    ApiError::invalid(field, rejection.code(), message)
}

/// Up to three free slots nearest to `wanted`, for a 409's `alternatives`.
pub fn nearest_alternatives(
    calendars: &[MemberCalendar],
    wanted: Timestamp,
    duration: SignedDuration,
    now: Timestamp,
) -> Vec<Value> {
    let from = wanted
        .saturating_sub(SignedDuration::from_hours(48))
        .unwrap_or(wanted)
        .max(now);
    let to = wanted
        .saturating_add(SignedDuration::from_hours(24 * 7))
        .unwrap_or(wanted);
    let Some(window) = Interval::new(from, to) else {
        return Vec::new();
    };
    let mut slots = team_availability(calendars, window, duration, now);
    slots.sort_by_key(|s| s.slot.start.duration_since(wanted).abs());
    let mut nearest: Vec<_> = slots.into_iter().take(3).collect();
    nearest.sort_by_key(|s| s.slot.start);
    nearest
        .into_iter()
        .map(
            |s| json!({"start_time": s.slot.start.to_string(), "end_time": s.slot.end.to_string()}),
        )
        .collect()
}

fn slot_unavailable(alternatives: Vec<Value>) -> ApiError {
    ApiError::conflict(
        "slot_unavailable",
        "That time was just taken or is not free; choose one of the alternatives.",
    )
    .with("alternatives", alternatives)
}

/// Books `request` for `subject`, answering the 201 body. `record` is the idempotency key and
/// request hash whose answer is stored in the same transaction as the booking.
pub async fn book(
    state: &AppState,
    tenant: TenantId,
    subject: &Subject,
    request: &BookingRequest,
    record: Option<(&str, &str)>,
) -> ApiResult<Value> {
    let now = Timestamp::now();
    let (members, team, agent) = match subject {
        Subject::Agent(context) => (
            context.team.members.clone(),
            Some(&context.team),
            Some(&context.agent),
        ),
        Subject::User(user) => (vec![user.id], None, None),
    };
    let duration = request.duration.or_else(|| {
        team.as_ref()
            .and_then(|t| t.settings.event_type_config.duration)
            .map(SignedDuration::from_mins)
    });
    let probe = Interval::new(
        request
            .start
            .saturating_sub(SignedDuration::from_hours(48))
            .unwrap_or(request.start),
        request
            .start
            .saturating_add(SignedDuration::from_hours(24 * 8))
            .unwrap_or(request.start),
    )
    .ok_or_else(|| ApiError::internal("empty probe window"))?;
    let calendars = state
        .calendars
        .calendars(state.store.as_ref(), tenant, &members, probe, now)
        .await?;
    if calendars.is_empty() {
        return Err(ApiError::conflict(
            "no_working_hours",
            "Nobody who could take this booking has working hours set.",
        ));
    }
    let duration = duration.unwrap_or_else(|| calendars[0].rule.slot_duration());

    // Who could take it, by the engine's rules.
    let mut free = Vec::new();
    let mut first_rejection = None;
    let mut any_busy = false;
    for calendar in &calendars {
        match pillow_engine::check_slot(
            &calendar.rule,
            &calendar.busy,
            request.start,
            duration,
            now,
        ) {
            Ok(_) => free.push(calendar.user_id),
            Err(SlotRejection::Busy) => any_busy = true,
            Err(other) => {
                first_rejection.get_or_insert(other);
            }
        }
    }
    if free.is_empty() {
        if any_busy {
            return Err(slot_unavailable(nearest_alternatives(
                &calendars,
                request.start,
                duration,
                now,
            )));
        }
        return Err(rejection_to_error(
            first_rejection.unwrap_or(SlotRejection::Busy),
        ));
    }
    let order = rank_members(team, &free, &calendars);
    if order.is_empty() {
        return Err(slot_unavailable(nearest_alternatives(
            &calendars,
            request.start,
            duration,
            now,
        )));
    }
    let names: HashMap<Uuid, String> = match subject {
        Subject::Agent(context) => context.names.clone(),
        Subject::User(user) => HashMap::from([(user.id, user.name.clone())]),
    };
    let end = request
        .start
        .checked_add(duration)
        .map_err(ApiError::internal)?;

    for member in order {
        let Some(calendar) = calendars.iter().find(|c| c.user_id == member) else {
            continue;
        };
        let host_name = names.get(&member).cloned().unwrap_or_default();
        let (title, description) = render_texts(
            team.as_ref().map(|t| &t.settings.event_type_config),
            request,
            &host_name,
            agent,
            calendar.rule.time_zone(),
            duration,
        );
        let jobs = lifecycle_jobs(
            "booking.created",
            team.as_ref().map(|t| &t.settings.notifications),
        );
        // A code collision in the tenant is astronomically rare; try a few fresh ones.
        for _ in 0..4 {
            let new = NewBooking {
                id: new_id(),
                agent_id: agent.map(|a| a.id),
                user_id: member,
                confirmation_code: new_confirmation_code(),
                start: request.start,
                end,
                buffer_before_minutes: calendar.rule.buffer_before().as_mins() as i32,
                buffer_after_minutes: calendar.rule.buffer_after().as_mins() as i32,
                attendee: request.attendee.clone(),
                notes: request.notes.clone(),
                title: title.clone(),
                description: description.clone(),
                call_id: request.call_id.clone(),
            };
            let jobs: Vec<NewJob> = jobs
                .iter()
                .map(|j| NewJob {
                    kind: j.kind.clone(),
                    payload: with_booking(&j.payload, new.id, member),
                })
                .collect();
            let body = booking_view(&preview(tenant, &new, now), &host_name);
            let response = record.map(|(key, hash)| IdempotentResponse {
                key: key.to_string(),
                request_hash: hash.to_string(),
                status: StatusCode::CREATED.as_u16(),
                body: body.clone(),
            });
            let _writing = state.calendars.begin_booking_write(tenant, member);
            match state
                .store
                .create_booking(tenant, &new, &jobs, response.as_ref())
                .await
            {
                Ok(booking) => {
                    metrics::counter!("bookings_total", "outcome" => "confirmed").increment(1);
                    let (start, end) = booking.occupied();
                    if let Some(occupied) = Interval::new(start, end) {
                        state.calendars.record_booking(
                            tenant,
                            member,
                            occupied,
                            booking.created_at,
                            booking.start >= now,
                        );
                    }
                    return Ok(body);
                }
                Err(StoreError::Conflict(Constraint::BookingCode)) => continue,
                Err(StoreError::Conflict(Constraint::BookingOverlap)) => {
                    metrics::counter!("bookings_total", "outcome" => "lost_race").increment(1);
                    break;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
    metrics::counter!("bookings_total", "outcome" => "conflict").increment(1);
    // Everyone lost the race: answer with fresh alternatives.
    let calendars = state
        .calendars
        .calendars(state.store.as_ref(), tenant, &members, probe, now)
        .await?;
    Err(slot_unavailable(nearest_alternatives(
        &calendars,
        request.start,
        duration,
        now,
    )))
}

/// The booking row as it will be once committed, for rendering the answer before the commit.
fn preview(tenant: TenantId, new: &NewBooking, now: Timestamp) -> Booking {
    Booking {
        id: new.id,
        tenant_id: tenant,
        agent_id: new.agent_id,
        user_id: new.user_id,
        confirmation_code: new.confirmation_code.clone(),
        start: new.start,
        end: new.end,
        buffer_before_minutes: new.buffer_before_minutes,
        buffer_after_minutes: new.buffer_after_minutes,
        attendee: new.attendee.clone(),
        notes: new.notes.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        status: pillow_store::BookingStatus::Confirmed,
        cancel_reason: None,
        cancelled_at: None,
        call_id: new.call_id.clone(),
        created_at: now,
        updated_at: now,
    }
}

fn render_texts(
    config: Option<&EventTypeConfig>,
    request: &BookingRequest,
    host_name: &str,
    agent: Option<&Agent>,
    zone: &TimeZone,
    duration: SignedDuration,
) -> (String, Option<String>) {
    let local = request.start.to_zoned(zone.clone());
    let values: HashMap<&str, String> = HashMap::from([
        ("customer_name", request.attendee.name.clone()),
        (
            "customer_phone",
            request.attendee.phone.clone().unwrap_or_default(),
        ),
        (
            "customer_email",
            request.attendee.email.clone().unwrap_or_default(),
        ),
        ("notes", request.notes.clone().unwrap_or_default()),
        ("host_name", host_name.to_string()),
        (
            "agent_name",
            agent.map(|a| a.name.clone()).unwrap_or_default(),
        ),
        ("date", local.strftime("%A, %B %-d, %Y").to_string()),
        ("time", local.strftime("%-I:%M %p").to_string()),
        ("duration", duration.as_mins().to_string()),
        ("confirmation_code", String::new()),
    ]);
    let title_template = config
        .and_then(|c| c.title_template.as_deref())
        .unwrap_or(DEFAULT_TITLE);
    let description_template = config
        .and_then(|c| c.description_template.as_deref())
        .unwrap_or(DEFAULT_DESCRIPTION);
    let description = render_template(description_template, &values);
    (
        render_template(title_template, &values),
        (!description.trim().is_empty()).then_some(description),
    )
}

/// The outbox jobs of a booking change: the lifecycle event, which later deliverers (calendar
/// write-back, e-mail, SMS, webhooks) act on.
pub fn lifecycle_jobs(kind: &str, notifications: Option<&Notifications>) -> Vec<NewJob> {
    vec![NewJob {
        kind: kind.to_string(),
        payload: json!({
            "send_email": notifications.is_some_and(|n| n.send_email),
            "send_sms": notifications.is_some_and(|n| n.send_sms),
        }),
    }]
}

fn with_booking(payload: &Value, booking: Uuid, user: Uuid) -> Value {
    let mut payload = payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("booking_id".into(), booking.to_string().into());
        map.insert("user_id".into(), user.to_string().into());
    }
    payload
}

// ---------------------------------------------------------------------------------------------
// Idempotency.

/// How long a request may hold a key before another may take it over (its owner died).
const STALE_AFTER: SignedDuration = SignedDuration::from_secs(60);
/// How long a duplicate waits for the first request to finish.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(15);

/// Hash of what makes two requests "the same": the operation, the subject and the body.
pub fn request_hash(operation: &str, subject: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(subject.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Claims a key. `Some(answer)` means: replay this answer and do nothing else.
///
/// # Errors
/// 422 `idempotency_key_reused` when the key came with a different request; 409
/// `idempotency_in_progress` when the first request is still running after a long wait.
pub async fn claim_key(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    hash: &str,
) -> ApiResult<Option<(StatusCode, Value)>> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let reused = || {
            ApiError::invalid(
                "Idempotency-Key",
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            )
        };
        match state
            .store
            .begin_idempotent(tenant, key, hash, Timestamp::now(), STALE_AFTER)
            .await?
        {
            IdempotencyState::Started => return Ok(None),
            IdempotencyState::Done {
                request_hash,
                status,
                body,
            } => {
                if request_hash != hash {
                    return Err(reused());
                }
                let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
                return Ok(Some((status, body)));
            }
            IdempotencyState::InProgress { request_hash } => {
                if request_hash != hash {
                    return Err(reused());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ApiError::conflict(
                        "idempotency_in_progress",
                        "The first request with this Idempotency-Key is still running; retry shortly.",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// After the work: a client error is recorded as the key's answer (nothing was written, so a
/// retry gets the same answer); a server error releases the key so a retry runs again.
pub async fn settle_key(
    state: &AppState,
    tenant: TenantId,
    key: &str,
    hash: &str,
    error: &ApiError,
) {
    let outcome = if error.status.is_server_error() {
        state.store.abandon_idempotent(tenant, key).await
    } else {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), error.code.into());
        body.insert("message".into(), error.message.clone().into());
        for (k, v) in &error.details {
            body.insert(k.clone(), v.clone());
        }
        state
            .store
            .finish_idempotent(
                tenant,
                &IdempotentResponse {
                    key: key.to_string(),
                    request_hash: hash.to_string(),
                    status: error.status.as_u16(),
                    body: json!({ "error": body }),
                },
            )
            .await
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not settle an idempotency key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_codes_are_nine_unambiguous_characters() {
        for _ in 0..1000 {
            let code = new_confirmation_code();
            assert_eq!(code.len(), 9);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
            assert!(!code.contains(['0', 'O', '1', 'I', 'L', '5', 'S', '8', 'B', '2', 'Z']));
            assert!(looks_like_code(&code));
        }
        assert!(!looks_like_code("0188f0f0-aaaa"));
    }

    #[test]
    fn templates_fill_known_variables_and_report_their_names() {
        let values = HashMap::from([("customer_name", "Ada".to_string()), ("notes", "hi".into())]);
        assert_eq!(
            render_template("Appointment with {{customer_name}} ({{ notes }})", &values),
            "Appointment with Ada (hi)"
        );
        assert_eq!(
            template_variables("{{a}} and {{ b }}").unwrap(),
            vec!["a", "b"]
        );
        assert!(template_variables("{{broken").is_err());
    }

    #[test]
    fn the_same_request_hashes_alike_and_a_different_one_does_not() {
        let body = json!({"start_time": "2030-01-01T09:00:00Z"});
        assert_eq!(
            request_hash("book", "u", &body),
            request_hash("book", "u", &body)
        );
        assert_ne!(
            request_hash("book", "u", &body),
            request_hash("book", "v", &body)
        );
        assert_ne!(
            request_hash("book", "u", &body),
            request_hash("book", "u", &json!({"start_time": "2030-01-01T09:30:00Z"}))
        );
    }
}
