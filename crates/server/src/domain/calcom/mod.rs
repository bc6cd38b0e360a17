//! The Cal.com backend: agents whose `backend` is `calcom` answer availability, booking,
//! cancelling and rescheduling from Cal.com's API v2 instead of our own calendar.
//!
//! The in-call, Retell, Vapi and MCP endpoints call the functions here for such agents, so all
//! of them behave alike; switching an agent to `native` (one update) stops every call at once.
//! The agent's Cal.com API key is stored sealed ([`pillow_providers::crypto::SecretBox`]) and is
//! opened only here, per call, into a [`SecretString`] that is never logged.
//!
//! Errors are [`CalcomBackendError`], which becomes an [`DomainError`] in one place: a key Cal.com
//! refuses is a 502 `calcom_unauthorized` naming the agent, a taken slot a 409
//! `slot_unavailable`, Cal.com down or rate limiting a 503 `calcom_unavailable`.

mod bookings;
mod errors;
mod slots;

pub use errors::*;

use pillow_store::{Agent, AgentBackend, AgentId, Attendee};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use pillow_providers::calcom::{
    CalAttendee, CalBooking, CalBookingAttendee, CalcomClient, CalcomError, DEFAULT_BASE_URL,
    EventTypeRef, NewCalBooking, SlotsQuery,
};
use pillow_providers::crypto::{CryptoError, SecretBox};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::config::Config;
use crate::domain::error::DomainError;

/// How long a resolved event type (slug → id) is reused. An agent update changes the cache
/// key, so a new key or slug takes effect at once; this only bounds how long a change made on
/// Cal.com's side (an event type deleted or re-created) goes unnoticed.
pub(crate) const EVENT_TYPE_TTL: Duration = Duration::from_secs(5 * 60);
/// Cal.com limits metadata values to 500 characters.
pub(crate) const METADATA_VALUE_MAX: usize = 500;
/// The metadata key holding a booking's idempotency hint.
pub(crate) const HINT_KEY: &str = "pillow_idempotency_key";

/// A bookable Cal.com slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalcomSlot {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A booking held on Cal.com, as our endpoints report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcomBooked {
    /// Cal.com's booking uid: the handle for cancelling and rescheduling.
    pub uid: String,
    pub id: i64,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `accepted`, `pending`, `cancelled` or `rejected`.
    pub status: String,
    /// Set on the booking a reschedule created: the uid it replaced.
    pub rescheduled_from_uid: Option<String>,
    pub event_type_id: Option<i64>,
    /// The first attendee: the caller, for bookings made through us.
    pub attendee: Option<CalBookingAttendee>,
}

impl From<CalBooking> for CalcomBooked {
    fn from(booking: CalBooking) -> Self {
        Self {
            uid: booking.uid,
            id: booking.id,
            start: booking.start,
            end: booking.end,
            status: booking.status,
            rescheduled_from_uid: booking.rescheduled_from_uid,
            event_type_id: booking.event_type_id,
            attendee: booking.attendees.into_iter().next(),
        }
    }
}

/// How many of an agent's upcoming Cal.com bookings a caller lookup reads at most.
pub(crate) const UPCOMING_MAX: usize = 500;

/// One connection pool for every Cal.com call of the process.
pub(crate) fn shared_client() -> &'static CalcomClient {
    static CLIENT: OnceLock<CalcomClient> = OnceLock::new();
    CLIENT.get_or_init(|| CalcomClient::with_default_http(DEFAULT_BASE_URL))
}

/// What identifies a slug's resolution: the Cal.com, the agent as last updated (so a new key or
/// slug is a new entry), and the slug.
type EventTypeKey = (String, AgentId, Timestamp, String);

/// An event type resolved for an agent: its id and default length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResolvedEventType {
    id: i64,
    length_minutes: u32,
}

pub(crate) fn event_type_cache()
-> &'static Mutex<HashMap<EventTypeKey, (ResolvedEventType, Instant)>> {
    static CACHE: OnceLock<Mutex<HashMap<EventTypeKey, (ResolvedEventType, Instant)>>> =
        OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The Cal.com backend for one configuration.
pub struct CalcomBackend<'a> {
    client: CalcomClient,
    secrets: &'a SecretBox,
}

impl<'a> CalcomBackend<'a> {
    /// Uses `CAL_API_BASE_URL` and the process-wide connection pool.
    pub fn new(config: &'a Config) -> Self {
        Self {
            client: shared_client().with_base_url(&config.cal_api_base_url),
            secrets: &config.secrets,
        }
    }

    /// With a client of the caller's choosing (e.g. another retry policy).
    pub fn with_client(client: CalcomClient, secrets: &'a SecretBox) -> Self {
        Self { client, secrets }
    }

    /// The agent's key, opened, and its event type slug.
    fn credentials<'g>(
        &self,
        agent: &'g Agent,
    ) -> Result<(SecretString, &'g str), CalcomBackendError> {
        if agent.backend != AgentBackend::Calcom {
            return Err(CalcomBackendError::NotCalcom { agent: agent.id });
        }
        let sealed =
            agent
                .cal_api_key_encrypted
                .as_deref()
                .ok_or(CalcomBackendError::Incomplete {
                    agent: agent.id,
                    missing: "cal_api_key",
                })?;
        let slug = agent
            .cal_event_type_slug
            .as_deref()
            .ok_or(CalcomBackendError::Incomplete {
                agent: agent.id,
                missing: "cal_event_type_slug",
            })?;
        let key =
            self.secrets
                .open(sealed)
                .map_err(|source| CalcomBackendError::KeyUnreadable {
                    agent: agent.id,
                    source,
                })?;
        Ok((SecretString::from(key), slug))
    }

    fn calcom(agent: &Agent) -> impl FnOnce(CalcomError) -> CalcomBackendError + '_ {
        |source| CalcomBackendError::Calcom {
            agent_name: agent.name.clone(),
            source,
        }
    }

    /// The agent's event type on Cal.com, from the key owner's event types.
    async fn event_type(
        &self,
        agent: &Agent,
        key: &SecretString,
        slug: &str,
    ) -> Result<ResolvedEventType, CalcomBackendError> {
        let cache_key: EventTypeKey = (
            self.client.base_url().to_string(),
            agent.id,
            agent.updated_at,
            slug.to_string(),
        );
        {
            let cache = event_type_cache().lock().unwrap_or_else(|e| e.into_inner());
            if let Some((resolved, at)) = cache.get(&cache_key)
                && at.elapsed() < EVENT_TYPE_TTL
            {
                return Ok(*resolved);
            }
        }
        let event_types = self
            .client
            .event_types(key)
            .await
            .map_err(Self::calcom(agent))?;
        let found = event_types
            .iter()
            .find(|event_type| event_type.slug == slug)
            .ok_or_else(|| CalcomBackendError::EventTypeNotFound {
                agent_name: agent.name.clone(),
                slug: slug.to_string(),
            })?;
        let resolved = ResolvedEventType {
            id: found.id,
            length_minutes: found.length_in_minutes,
        };
        let mut cache = event_type_cache().lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (_, at)| at.elapsed() < EVENT_TYPE_TTL);
        cache.insert(cache_key, (resolved, Instant::now()));
        Ok(resolved)
    }

    /// The zone Cal.com should use for this agent: `cal_timezone`, else the agent's own.
    fn time_zone(agent: &Agent) -> String {
        agent
            .cal_timezone
            .clone()
            .unwrap_or_else(|| agent.time_zone.clone())
    }

    /// A requested length in whole minutes, or `None` when it is the event type's default
    /// (Cal.com rejects `duration` for event types with a single length).
    fn length_minutes(
        duration: Option<SignedDuration>,
        event_type: ResolvedEventType,
    ) -> Result<Option<u32>, CalcomBackendError> {
        let Some(duration) = duration else {
            return Ok(None);
        };
        let seconds = duration.as_secs();
        if seconds <= 0 || seconds % 60 != 0 || duration.subsec_nanos() != 0 {
            return Err(CalcomBackendError::InvalidDuration(duration));
        }
        let minutes = u32::try_from(seconds / 60)
            .map_err(|_| CalcomBackendError::InvalidDuration(duration))?;
        Ok((minutes != event_type.length_minutes).then_some(minutes))
    }
}

/// [`CalcomBackend::offered_slots`] with the server's configuration.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn offered_slots(
    state: &AppState,
    agent: &Agent,
    start: Timestamp,
    end: Timestamp,
    duration: Option<SignedDuration>,
) -> Result<Vec<CalcomSlot>, CalcomBackendError> {
    CalcomBackend::new(&state.config)
        .offered_slots(agent, start, end, duration)
        .await
}

/// [`CalcomBackend::book`] with the server's configuration.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn book(
    state: &AppState,
    agent: &Agent,
    start: Timestamp,
    duration: Option<SignedDuration>,
    attendee: &Attendee,
    notes: Option<&str>,
    idempotency_hint: Option<&str>,
) -> Result<CalcomBooked, CalcomBackendError> {
    CalcomBackend::new(&state.config)
        .book(agent, start, duration, attendee, notes, idempotency_hint)
        .await
}

/// [`CalcomBackend::booking`] with the server's configuration.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn booking(
    state: &AppState,
    agent: &Agent,
    uid: &str,
) -> Result<CalcomBooked, CalcomBackendError> {
    CalcomBackend::new(&state.config).booking(agent, uid).await
}

/// [`CalcomBackend::upcoming`] with the server's configuration.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn upcoming(
    state: &AppState,
    agent: &Agent,
) -> Result<Vec<CalcomBooked>, CalcomBackendError> {
    CalcomBackend::new(&state.config).upcoming(agent).await
}

/// [`CalcomBackend::cancel_from`] with the server's configuration: the booking before and
/// after.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn cancel(
    state: &AppState,
    agent: &Agent,
    uid: &str,
    reason: Option<&str>,
) -> Result<(CalcomBooked, CalcomBooked), CalcomBackendError> {
    CalcomBackend::new(&state.config)
        .cancel_from(agent, uid, reason)
        .await
}

/// [`CalcomBackend::reschedule`] with the server's configuration.
///
/// # Errors
/// See [`CalcomBackendError`].
pub async fn reschedule(
    state: &AppState,
    agent: &Agent,
    uid: &str,
    start: Timestamp,
    reason: Option<&str>,
) -> Result<CalcomBooked, CalcomBackendError> {
    CalcomBackend::new(&state.config)
        .reschedule(agent, uid, start, reason)
        .await
}

#[cfg(test)]
mod tests;
