//! Appointment types: the kinds of appointment an agent offers, each with its own length,
//! buffers, minimum notice and the subset of the agent's hosts who offer it.
//!
//! A request that names no type gets the agent's `event_type_config`, exactly as before types
//! existed. A named type narrows the team to its hosts and lays its shape over each host's
//! rule ([`pillow_engine::Rule::shaped`]), so the engine, the limits and the booking write need
//! nothing new.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pillow_engine::AppointmentShape;
use pillow_store::{AgentId, AppointmentType, NewAppointmentType, TenantId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::domain::availability::MemberCalendar;
use crate::domain::error::{DomainError, DomainResult, ErrorCode};

/// The most minutes of notice a type may ask for: a year.
const MAX_NOTICE: i64 = 525_600;

/// A type's fields, as sent on `POST` and stored (the store keeps this document whole).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentTypeBody {
    /// What callers ask for, e.g. "Cleaning".
    pub name: String,
    /// Lower-case letters, digits and dashes, unique per agent, e.g. `cleaning`.
    pub slug: String,
    /// Minutes, 5 to 1440.
    pub duration: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minutes kept free before and after; default the host's rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_after: Option<i64>,
    /// Minutes between now and the earliest start; default the host's rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_booking_notice: Option<i64>,
    /// User ids of the agent's hosts who offer it; default all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
}

/// `PATCH`: the fields to change; the rest stay. `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentTypePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default, deserialize_with = "clearable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "clearable")]
    pub buffer_before: Option<Option<i64>>,
    #[serde(default, deserialize_with = "clearable")]
    pub buffer_after: Option<Option<i64>>,
    #[serde(default, deserialize_with = "clearable")]
    pub min_booking_notice: Option<Option<i64>>,
    #[serde(default, deserialize_with = "clearable")]
    pub hosts: Option<Option<Vec<String>>>,
}

/// Present (`Some`), with `null` read as `Some(None)`: tells "clear" from "leave alone".
fn clearable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A type as the API answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppointmentTypeView {
    pub id: Uuid,
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub body: AppointmentTypeBody,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

/// A stored type, read back: its id and its checked fields.
#[derive(Debug, Clone)]
pub struct Offered {
    pub id: Uuid,
    pub body: AppointmentTypeBody,
    /// The hosts who offer it, parsed; `None` is every host of the agent.
    pub hosts: Option<Vec<UserId>>,
}

impl Offered {
    fn from_stored(stored: &AppointmentType) -> DomainResult<Self> {
        let body: AppointmentTypeBody = serde_json::from_value(stored.document.clone())
            .map_err(|e| DomainError::internal(format!("stored appointment type: {e}")))?;
        let hosts = body
            .hosts
            .as_ref()
            .map(|hosts| hosts.iter().filter_map(|h| h.parse().ok()).collect());
        Ok(Offered {
            id: stored.id,
            body,
            hosts,
        })
    }

    /// The type's length.
    pub fn duration(&self) -> SignedDuration {
        SignedDuration::from_mins(self.body.duration)
    }

    /// What the type changes in each host's rule.
    pub fn shape(&self) -> AppointmentShape {
        let mins = |m: Option<i64>| m.map(SignedDuration::from_mins);
        AppointmentShape {
            duration: Some(self.duration()),
            buffer_before: mins(self.body.buffer_before),
            buffer_after: mins(self.body.buffer_after),
            min_booking_notice: mins(self.body.min_booking_notice),
        }
    }

    /// `members` narrowed to the type's hosts, in the team's order.
    pub fn members(&self, members: &[UserId]) -> Vec<UserId> {
        match &self.hosts {
            Some(hosts) => members
                .iter()
                .filter(|m| hosts.contains(m))
                .copied()
                .collect(),
            None => members.to_vec(),
        }
    }

    /// Lays the type over calendars already narrowed to its hosts.
    pub fn shape_calendars(&self, calendars: Vec<MemberCalendar>) -> Vec<MemberCalendar> {
        let shape = self.shape();
        calendars
            .into_iter()
            .map(|mut c| {
                c.rule = Arc::new(c.rule.shaped(&shape));
                c
            })
            .collect()
    }
}

fn view(stored: &AppointmentType, body: AppointmentTypeBody) -> AppointmentTypeView {
    AppointmentTypeView {
        id: stored.id,
        agent_id: stored.agent_id,
        body,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}

/// Folds words for matching what a caller said: lower case, letters and digits only.
fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Checks a type against the agent's team; the first problem names its field.
fn check(body: &AppointmentTypeBody, members: &[UserId]) -> DomainResult<()> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid(
            "name",
            ErrorCode::InvalidName,
            "A type's name has 1 to 100 characters.",
        ));
    }
    let slug_ok = (1..=64).contains(&body.slug.len())
        && body
            .slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !slug_ok {
        return Err(DomainError::invalid(
            "slug",
            ErrorCode::InvalidSlug,
            "A slug has 1 to 64 lower-case letters, digits or dashes, e.g. `cleaning`.",
        ));
    }
    if !(5..=1440).contains(&body.duration) {
        return Err(DomainError::invalid(
            "duration",
            ErrorCode::InvalidDuration,
            "The duration is a whole number of minutes from 5 to 1440.",
        ));
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(DomainError::invalid(
            "description",
            ErrorCode::InvalidDescription,
            "A description has at most 2000 characters.",
        ));
    }
    for (field, value) in [
        ("buffer_before", body.buffer_before),
        ("buffer_after", body.buffer_after),
    ] {
        if value.is_some_and(|m| !(0..=1440).contains(&m)) {
            return Err(DomainError::invalid(
                field,
                ErrorCode::InvalidBuffer,
                "A buffer is a whole number of minutes from 0 to 1440.",
            ));
        }
    }
    if body
        .min_booking_notice
        .is_some_and(|m| !(0..=MAX_NOTICE).contains(&m))
    {
        return Err(DomainError::invalid(
            "min_booking_notice",
            ErrorCode::InvalidNotice,
            format!("The notice is a whole number of minutes from 0 to {MAX_NOTICE}."),
        ));
    }
    if let Some(hosts) = &body.hosts {
        if hosts.is_empty() {
            return Err(DomainError::invalid(
                "hosts",
                ErrorCode::NoMembers,
                "A type needs at least one host; leave `hosts` out for all of the agent's.",
            ));
        }
        let mut seen = Vec::new();
        for (i, raw) in hosts.iter().enumerate() {
            let field = format!("hosts[{i}]");
            let id = raw
                .parse::<UserId>()
                .ok()
                .filter(|id| members.contains(id))
                .ok_or_else(|| {
                    DomainError::invalid(
                        &field,
                        ErrorCode::UnknownUser,
                        format!("{raw:?} is not one of this agent's hosts."),
                    )
                })?;
            if seen.contains(&id) {
                return Err(DomainError::invalid(
                    &field,
                    ErrorCode::DuplicateUser,
                    "Each host may appear once.",
                ));
            }
            seen.push(id);
        }
    }
    Ok(())
}

/// Checks that every host who would offer the type has a working range it fits in: a type
/// longer than all of a host's ranges could never be booked with them.
///
/// # Errors
/// 422 `type_does_not_fit` on `duration`, naming the host and their longest range. Hosts with
/// no default rule yet are not judged (they offer nothing until they set hours).
async fn check_fits(
    state: &AppState,
    tenant: TenantId,
    body: &AppointmentTypeBody,
    members: &[UserId],
) -> DomainResult<()> {
    let hosts: Vec<UserId> = match &body.hosts {
        Some(hosts) => hosts.iter().filter_map(|h| h.parse().ok()).collect(),
        None => members.to_vec(),
    };
    let rules = state.store.default_rules(tenant, &hosts).await?;
    for host in &hosts {
        let Some(stored) = rules.iter().find(|r| r.user_id == *host) else {
            continue;
        };
        let Some(rule) =
            serde_json::from_value::<pillow_engine::RuleDocument>(stored.document.clone())
                .ok()
                .and_then(|doc| pillow_engine::Rule::parse(&doc).ok())
        else {
            continue;
        };
        let longest = rule.longest_range();
        if longest < SignedDuration::from_mins(body.duration) {
            let name = state
                .store
                .get_user(tenant, *host)
                .await?
                .map(|u| u.name)
                .unwrap_or_else(|| host.to_string());
            return Err(DomainError::invalid(
                "duration",
                ErrorCode::TypeDoesNotFit,
                format!(
                    "{} minutes does not fit {name}'s working hours: their longest stretch is \
                     {} minutes. Shorten the type, widen their hours, or leave them out of `hosts`.",
                    body.duration,
                    longest.as_mins()
                ),
            )
            .with("host", host.to_string()));
        }
    }
    Ok(())
}

async fn members(state: &AppState, tenant: TenantId, agent: AgentId) -> DomainResult<Vec<UserId>> {
    Ok(state
        .teams
        .get(state, tenant, agent)
        .await?
        .team
        .members
        .clone())
}

fn slug_taken(error: pillow_store::StoreError) -> DomainError {
    match error {
        pillow_store::StoreError::Conflict(pillow_store::Constraint::AppointmentTypeSlug) => {
            DomainError::conflict(
                ErrorCode::Conflict,
                "This agent already has a type with that slug.",
            )
            .with("field", "slug")
        }
        other => other.into(),
    }
}

/// Creates a type for an agent of the tenant.
///
/// # Errors
/// 404 for an unknown agent; 422 naming the field; 409 for a slug the agent already uses.
pub async fn create(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    body: AppointmentTypeBody,
) -> DomainResult<AppointmentTypeView> {
    let members = members(state, tenant, agent).await?;
    check(&body, &members)?;
    check_fits(state, tenant, &body, &members).await?;
    let new = NewAppointmentType {
        agent_id: agent,
        slug: body.slug.clone(),
        document: serde_json::to_value(&body).map_err(DomainError::internal)?,
    };
    let stored = state
        .store
        .create_appointment_type(tenant, Uuid::now_v7(), &new)
        .await
        .map_err(slug_taken)?;
    Ok(view(&stored, body))
}

/// The agent's types, oldest first.
pub async fn list(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
) -> DomainResult<Vec<Offered>> {
    state
        .store
        .list_appointment_types(tenant, agent)
        .await?
        .iter()
        .map(Offered::from_stored)
        .collect()
}

/// The agent's types as the API answers them.
pub async fn list_views(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
) -> DomainResult<Vec<AppointmentTypeView>> {
    let stored = state.store.list_appointment_types(tenant, agent).await?;
    stored
        .iter()
        .map(|s| Ok(view(s, Offered::from_stored(s)?.body)))
        .collect()
}

async fn get_stored(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    id: Uuid,
) -> DomainResult<AppointmentType> {
    state
        .store
        .get_appointment_type(tenant, agent, id)
        .await?
        .ok_or_else(|| DomainError::not_found("appointment type"))
}

/// One type of the agent.
pub async fn get(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    id: Uuid,
) -> DomainResult<AppointmentTypeView> {
    let stored = get_stored(state, tenant, agent, id).await?;
    Ok(view(&stored, Offered::from_stored(&stored)?.body))
}

/// Changes the fields the patch names; the whole result is checked as on create.
pub async fn update(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    id: Uuid,
    patch: AppointmentTypePatch,
) -> DomainResult<AppointmentTypeView> {
    let stored = get_stored(state, tenant, agent, id).await?;
    let mut body = Offered::from_stored(&stored)?.body;
    body.name = patch.name.unwrap_or(body.name);
    body.slug = patch.slug.unwrap_or(body.slug);
    body.duration = patch.duration.unwrap_or(body.duration);
    body.description = patch.description.unwrap_or(body.description);
    body.buffer_before = patch.buffer_before.unwrap_or(body.buffer_before);
    body.buffer_after = patch.buffer_after.unwrap_or(body.buffer_after);
    body.min_booking_notice = patch.min_booking_notice.unwrap_or(body.min_booking_notice);
    body.hosts = patch.hosts.unwrap_or(body.hosts);
    let members = members(state, tenant, agent).await?;
    check(&body, &members)?;
    check_fits(state, tenant, &body, &members).await?;
    let new = NewAppointmentType {
        agent_id: agent,
        slug: body.slug.clone(),
        document: serde_json::to_value(&body).map_err(DomainError::internal)?,
    };
    let replaced = state
        .store
        .replace_appointment_type(tenant, id, &new)
        .await
        .map_err(slug_taken)?
        .ok_or_else(|| DomainError::not_found("appointment type"))?;
    Ok(view(&replaced, body))
}

/// Deletes a type; bookings made with it stay as they are.
pub async fn delete(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    id: Uuid,
) -> DomainResult<()> {
    if state
        .store
        .delete_appointment_type(tenant, agent, id)
        .await?
    {
        Ok(())
    } else {
        Err(DomainError::not_found("appointment type"))
    }
}

/// The agent's type a request names: by id, slug or name (any case, spaces and punctuation
/// ignored, so "Deep Clean" finds `deep-clean`). A voice caller's phrase that contains exactly
/// one type's name also finds it ("a cleaning please").
///
/// # Errors
/// 422 on `field` when nothing matches, listing the agent's types.
pub async fn resolve(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    field: &str,
    raw: &str,
) -> DomainResult<Offered> {
    let types = list(state, tenant, agent).await?;
    find(&types, raw).cloned().ok_or_else(|| {
        let names: Vec<&str> = types.iter().map(|t| t.body.name.as_str()).collect();
        let message = if names.is_empty() {
            "This agent offers no appointment types.".to_string()
        } else {
            format!(
                "{raw:?} is not one of this agent's types: {}.",
                names.join(", ")
            )
        };
        DomainError::invalid(field, ErrorCode::UnknownAppointmentType, message)
            .with("appointment_types", names.join(", "))
    })
}

/// [`resolve`]'s matching, on a list already read.
pub fn find<'a>(types: &'a [Offered], raw: &str) -> Option<&'a Offered> {
    let wanted = fold(raw);
    if wanted.is_empty() {
        return None;
    }
    let exact = types.iter().find(|t| {
        t.id.to_string() == raw.trim()
            || fold(&t.body.slug) == wanted
            || fold(&t.body.name) == wanted
    });
    exact.or_else(|| {
        let mut within = types.iter().filter(|t| {
            wanted.contains(&fold(&t.body.name)) || wanted.contains(&fold(&t.body.slug))
        });
        match (within.next(), within.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// The types a vague phrase could mean: those whose name or slug holds a word said (of three letters or more)
/// ("clean" could be "Deep Clean" or "Quick Clean"). Used to ask which one, never to pick.
pub fn candidates<'a>(types: &'a [Offered], raw: &str) -> Vec<&'a Offered> {
    let words: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .map(fold)
        .filter(|w| w.len() > 2)
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    types
        .iter()
        .filter(|t| {
            let name = fold(&t.body.name);
            let slug = fold(&t.body.slug);
            words
                .iter()
                .any(|w| name.contains(w.as_str()) || slug.contains(w.as_str()))
        })
        .collect()
}
