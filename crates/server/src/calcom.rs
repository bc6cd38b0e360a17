//! The Cal.com backend: agents whose `backend` is `calcom` answer availability, booking,
//! cancelling and rescheduling from Cal.com's API v2 instead of our own calendar.
//!
//! The in-call, Retell, Vapi and MCP endpoints call the functions here for such agents, so all
//! of them behave alike; switching an agent to `native` (one update) stops every call at once.
//! The agent's Cal.com API key is stored sealed ([`pillow_providers::crypto::SecretBox`]) and is
//! opened only here, per call, into a [`SecretString`] that is never logged.
//!
//! Errors are [`CalcomBackendError`], which becomes an [`ApiError`] in one place: a key Cal.com
//! refuses is a 502 `calcom_unauthorized` naming the agent, a taken slot a 409
//! `slot_unavailable`, Cal.com down or rate limiting a 503 `calcom_unavailable`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use pillow_providers::calcom::{
    CalAttendee, CalBooking, CalBookingAttendee, CalcomClient, CalcomError, DEFAULT_BASE_URL,
    EventTypeRef, NewCalBooking, SlotsQuery,
};
use pillow_providers::crypto::{CryptoError, SecretBox};
use pillow_store::{Agent, AgentBackend, Attendee};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::config::Config;
use crate::error::ApiError;

/// How long a resolved event type (slug → id) is reused. An agent update changes the cache
/// key, so a new key or slug takes effect at once; this only bounds how long a change made on
/// Cal.com's side (an event type deleted or re-created) goes unnoticed.
const EVENT_TYPE_TTL: Duration = Duration::from_secs(5 * 60);
/// Cal.com limits metadata values to 500 characters.
const METADATA_VALUE_MAX: usize = 500;
/// The metadata key holding a booking's idempotency hint.
const HINT_KEY: &str = "pillow_idempotency_key";

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
const UPCOMING_MAX: usize = 500;

/// Why the Cal.com backend could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CalcomBackendError {
    /// The agent's backend is `native`: the caller should not have come here.
    #[error("agent {agent} does not use the Cal.com backend")]
    NotCalcom { agent: Uuid },
    /// The agent is `calcom` but lacks a setting.
    #[error("agent {agent} has no {missing}")]
    Incomplete { agent: Uuid, missing: &'static str },
    /// The sealed key cannot be opened (wrong `CALENDAR_ENCRYPTION_KEY`, or tampering).
    #[error("the Cal.com key of agent {agent} cannot be opened: {source}")]
    KeyUnreadable {
        agent: Uuid,
        #[source]
        source: CryptoError,
    },
    /// The key's owner has no event type with the agent's slug.
    #[error("Cal.com has no event type {slug:?} for the key of agent {agent_name:?}")]
    EventTypeNotFound { agent_name: String, slug: String },
    /// Cal.com takes lengths in whole minutes.
    #[error("a Cal.com booking lasts whole minutes, not {0}")]
    InvalidDuration(SignedDuration),
    /// Only accepted bookings can be moved.
    #[error("Cal.com booking {uid} is {status}, so it cannot be moved")]
    NotConfirmed { uid: String, status: String },
    /// Cal.com answered with an error, or not at all.
    #[error("Cal.com, for agent {agent_name:?}: {source}")]
    Calcom {
        agent_name: String,
        #[source]
        source: CalcomError,
    },
}

impl From<CalcomBackendError> for ApiError {
    fn from(error: CalcomBackendError) -> Self {
        match error {
            CalcomBackendError::NotCalcom { .. } | CalcomBackendError::Incomplete { .. } => {
                ApiError::conflict(
                    "calcom_not_configured",
                    format!("{error}. Set backend, cal_api_key and cal_event_type_slug."),
                )
            }
            CalcomBackendError::KeyUnreadable { .. } => ApiError::internal(error),
            CalcomBackendError::EventTypeNotFound { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "calcom_event_type_not_found",
                format!("{error}. Check the agent's cal_event_type_slug."),
            ),
            CalcomBackendError::InvalidDuration(_) => {
                ApiError::invalid("duration", "invalid_duration", error.to_string())
            }
            CalcomBackendError::NotConfirmed { .. } => {
                ApiError::conflict("booking_not_confirmed", error.to_string())
            }
            CalcomBackendError::Calcom { agent_name, source } => {
                calcom_to_api_error(&agent_name, source)
            }
        }
    }
}

fn calcom_to_api_error(agent_name: &str, error: CalcomError) -> ApiError {
    match error {
        CalcomError::Unauthorized | CalcomError::Forbidden { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "calcom_unauthorized",
            format!(
                "Cal.com refused the API key of agent {agent_name:?}; \
                 update the agent's cal_api_key."
            ),
        ),
        CalcomError::SlotUnavailable { .. } => ApiError::conflict(
            "slot_unavailable",
            "That time is no longer available; please choose another.",
        ),
        CalcomError::NotFound { .. } => ApiError::not_found("Cal.com booking"),
        CalcomError::RateLimited { retry_after } => {
            let error = unavailable("Cal.com is limiting our requests; try again shortly.");
            match retry_after {
                Some(after) => error.with("retry_after_seconds", after.as_secs()),
                None => error,
            }
        }
        CalcomError::Server(_) | CalcomError::Transport(_) => {
            tracing::warn!(error = %error, agent = agent_name, "Cal.com unavailable");
            unavailable("Cal.com is not answering; try again shortly.")
        }
        CalcomError::Decode(_) => {
            tracing::error!(error = %error, agent = agent_name, "unreadable Cal.com answer");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "calcom_bad_response",
                "Cal.com answered in a way we could not read.",
            )
        }
        CalcomError::BadRequest { message, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "calcom_rejected",
            format!("Cal.com rejected the request: {message}"),
        ),
    }
}

fn unavailable(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "calcom_unavailable",
        message,
    )
}

/// One connection pool for every Cal.com call of the process.
fn shared_client() -> &'static CalcomClient {
    static CLIENT: OnceLock<CalcomClient> = OnceLock::new();
    CLIENT.get_or_init(|| CalcomClient::with_default_http(DEFAULT_BASE_URL))
}

/// What identifies a slug's resolution: the Cal.com, the agent as last updated (so a new key or
/// slug is a new entry), and the slug.
type EventTypeKey = (String, Uuid, Timestamp, String);

/// An event type resolved for an agent: its id and default length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResolvedEventType {
    id: i64,
    length_minutes: u32,
}

fn event_type_cache() -> &'static Mutex<HashMap<EventTypeKey, (ResolvedEventType, Instant)>> {
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

    /// The slots Cal.com offers for the agent's event type between `start` and `end`.
    ///
    /// # Errors
    /// See [`CalcomBackendError`].
    pub async fn offered_slots(
        &self,
        agent: &Agent,
        start: Timestamp,
        end: Timestamp,
        duration: Option<SignedDuration>,
    ) -> Result<Vec<CalcomSlot>, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let duration_minutes = Self::length_minutes(duration, event_type)?;
        let length = SignedDuration::from_mins(i64::from(
            duration_minutes.unwrap_or(event_type.length_minutes),
        ));
        let slots = self
            .client
            .slots(
                &key,
                &SlotsQuery {
                    event_type: EventTypeRef::Id(event_type.id),
                    start,
                    end,
                    time_zone: Some(Self::time_zone(agent)),
                    duration_minutes,
                },
            )
            .await
            .map_err(Self::calcom(agent))?;
        Ok(slots
            .into_iter()
            .map(|slot| CalcomSlot {
                start: slot.start,
                end: slot.end.unwrap_or(slot.start + length),
            })
            .collect())
    }

    /// Books `start` on Cal.com for `attendee`.
    ///
    /// `idempotency_hint` (e.g. the call id and slot) is stored in the booking's metadata. The
    /// request is sent once (see [`pillow_providers::calcom`]), but when it fails in a way that
    /// may hide an earlier success (the time is taken, or Cal.com failed or did not answer) we
    /// look for an accepted booking at that time with the same hint and, if there is one,
    /// answer with it: a voice platform retrying the call (Retell retries twice) or an answer
    /// lost on the way back then gets the booking it made, not "slot taken" or a duplicate.
    ///
    /// # Errors
    /// A taken slot is [`CalcomError::SlotUnavailable`] inside
    /// [`CalcomBackendError::Calcom`]; see [`CalcomBackendError`].
    pub async fn book(
        &self,
        agent: &Agent,
        start: Timestamp,
        duration: Option<SignedDuration>,
        attendee: &Attendee,
        notes: Option<&str>,
        idempotency_hint: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let length_in_minutes = Self::length_minutes(duration, event_type)?;
        let hint = idempotency_hint.map(metadata_value);
        let mut metadata = BTreeMap::from([
            ("source".to_string(), "pillow-calendar".to_string()),
            ("pillow_agent_id".to_string(), agent.id.to_string()),
        ]);
        if let Some(hint) = &hint {
            metadata.insert(HINT_KEY.to_string(), hint.clone());
        }
        let mut booking_fields_responses = BTreeMap::new();
        if let Some(notes) = notes.filter(|notes| !notes.trim().is_empty()) {
            booking_fields_responses.insert("notes".to_string(), notes.into());
        }
        let booking = NewCalBooking {
            start,
            event_type_id: event_type.id,
            attendee: CalAttendee {
                name: attendee.name.clone(),
                email: attendee.email.clone(),
                time_zone: Self::time_zone(agent),
                phone_number: attendee.phone.as_deref().map(international_phone),
                language: None,
            },
            length_in_minutes,
            booking_fields_responses,
            metadata,
        };
        let error = match self.client.create_booking(&key, &booking).await {
            Ok(made) => return Ok(made.into()),
            Err(error) => error,
        };
        let ambiguous = matches!(
            error,
            CalcomError::SlotUnavailable { .. }
                | CalcomError::Server(_)
                | CalcomError::Transport(_)
        );
        if let (true, Some(hint)) = (ambiguous, hint.as_deref()) {
            let length = length_in_minutes.unwrap_or(event_type.length_minutes);
            let end = start + SignedDuration::from_mins(i64::from(length));
            // A failed lookup changes nothing: the original error is the answer.
            if let Ok(existing) = self
                .client
                .bookings_between(&key, event_type.id, start, end)
                .await
                && let Some(ours) = existing.into_iter().find(|booking| {
                    booking.status == "accepted"
                        && booking.start == start
                        && booking.metadata.get(HINT_KEY).and_then(|v| v.as_str()) == Some(hint)
                })
            {
                return Ok(ours.into());
            }
        }
        Err(Self::calcom(agent)(error))
    }

    /// A booking of the agent's event type by uid. Bookings of the key owner's other event
    /// types are not found: each agent answers for its own appointments.
    ///
    /// # Errors
    /// An unknown uid is [`CalcomError::NotFound`]; see [`CalcomBackendError`].
    pub async fn booking(
        &self,
        agent: &Agent,
        uid: &str,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        self.owned_booking(agent, &key, slug, uid).await
    }

    async fn owned_booking(
        &self,
        agent: &Agent,
        key: &SecretString,
        slug: &str,
        uid: &str,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let event_type = self.event_type(agent, key, slug).await?;
        let booking = self
            .client
            .get_booking(key, uid)
            .await
            .map_err(Self::calcom(agent))?;
        if booking.event_type_id != Some(event_type.id) {
            return Err(Self::calcom(agent)(CalcomError::NotFound {
                message: format!("booking {uid} is not one of this agent's"),
            }));
        }
        Ok(booking.into())
    }

    /// The agent's upcoming accepted bookings, soonest first, at most [`UPCOMING_MAX`].
    ///
    /// # Errors
    /// See [`CalcomBackendError`].
    pub async fn upcoming(&self, agent: &Agent) -> Result<Vec<CalcomBooked>, CalcomBackendError> {
        const PAGE: usize = 100;
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let mut found = Vec::new();
        while found.len() < UPCOMING_MAX {
            let page = self
                .client
                .upcoming_bookings(&key, event_type.id, PAGE, found.len())
                .await
                .map_err(Self::calcom(agent))?;
            let full = page.len() == PAGE;
            found.extend(page.into_iter().map(CalcomBooked::from));
            if !full {
                break;
            }
        }
        found.sort_by_key(|booking| booking.start);
        Ok(found)
    }

    /// Cancels a booking of the agent's; its time is offered again. Cancelling a cancelled
    /// booking answers it as it is, since Cal.com would refuse the second cancel.
    ///
    /// # Errors
    /// An unknown uid is [`CalcomError::NotFound`]; see [`CalcomBackendError`].
    pub async fn cancel(
        &self,
        agent: &Agent,
        uid: &str,
        reason: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        self.cancel_from(agent, uid, reason)
            .await
            .map(|(_, cancelled)| cancelled)
    }

    /// [`CalcomBackend::cancel`], also answering the booking as it was before, so a caller
    /// can tell "cancelled now" from "was already cancelled".
    ///
    /// # Errors
    /// As [`CalcomBackend::cancel`].
    pub async fn cancel_from(
        &self,
        agent: &Agent,
        uid: &str,
        reason: Option<&str>,
    ) -> Result<(CalcomBooked, CalcomBooked), CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let before = self.owned_booking(agent, &key, slug, uid).await?;
        if before.status == "cancelled" {
            return Ok((before.clone(), before));
        }
        let cancelled = self
            .client
            .cancel_booking(&key, uid, reason)
            .await
            .map(CalcomBooked::from)
            .map_err(Self::calcom(agent))?;
        Ok((before, cancelled))
    }

    /// Moves a booking of the agent's. The answer is the *new* booking, with a new uid; the old
    /// one is cancelled by Cal.com.
    ///
    /// # Errors
    /// A taken time is [`CalcomError::SlotUnavailable`]; a cancelled booking
    /// [`CalcomBackendError::NotConfirmed`]; see [`CalcomBackendError`].
    pub async fn reschedule(
        &self,
        agent: &Agent,
        uid: &str,
        start: Timestamp,
        reason: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let booking = self.owned_booking(agent, &key, slug, uid).await?;
        if booking.status != "accepted" {
            return Err(CalcomBackendError::NotConfirmed {
                uid: uid.to_string(),
                status: booking.status,
            });
        }
        self.client
            .reschedule_booking(&key, uid, start, reason)
            .await
            .map(CalcomBooked::from)
            .map_err(Self::calcom(agent))
    }
}

/// A phone number as Cal.com accepts it: `+` and digits only. We accept spaces, dashes and
/// brackets ("+1 415 555 0100"); Cal.com refuses them with a 400.
fn international_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if phone.trim_start().starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}

/// A metadata value within Cal.com's limit: long hints are replaced by their SHA-256.
fn metadata_value(text: &str) -> String {
    if text.chars().count() <= METADATA_VALUE_MAX {
        text.to_string()
    } else {
        hex::encode(Sha256::digest(text.as_bytes()))
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
mod tests {
    use std::collections::HashMap;

    use pillow_fakes::calcom::{FakeCalcom, NewFakeEventType, NewFakeUser};
    use pillow_providers::crypto::SecretKey;
    use pillow_store::TenantId;

    use super::*;

    const KEY: &str = "cal_live_agent_key_0123456789abcdef";

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn settings(base_url: &str) -> HashMap<String, String> {
        HashMap::from([
            ("JWT_SECRET".to_string(), "j".repeat(40)),
            ("CALENDAR_ENCRYPTION_KEY".to_string(), "42".repeat(32)),
            ("CAL_API_BASE_URL".to_string(), base_url.to_string()),
        ])
    }

    /// A Cal.com with Ana (Rome, Monday to Friday 09:00–17:00) and her one-hour "intro", whose
    /// clock reads 2030-01-01; and the server configuration pointing at it.
    async fn setup() -> (FakeCalcom, Config) {
        let fake = FakeCalcom::start().await;
        fake.set_now(ts("2030-01-01T00:00:00Z"));
        let ana = fake.add_user(NewFakeUser::new("ana", KEY, "Europe/Rome"));
        fake.add_event_type(ana, NewFakeEventType::new("intro", 60).other_lengths(&[30]));
        let config = Config::from_source(&settings(&fake.base_url())).unwrap();
        (fake, config)
    }

    fn agent(config: &Config, key: &str) -> Agent {
        Agent {
            id: Uuid::new_v4(),
            tenant_id: TenantId(Uuid::new_v4()),
            name: "Front desk".into(),
            time_zone: "America/New_York".into(),
            backend: AgentBackend::Calcom,
            cal_enabled: true,
            cal_api_key_encrypted: Some(config.secrets.seal(key)),
            cal_event_type_slug: Some("intro".into()),
            cal_timezone: Some("Europe/Rome".into()),
            created_at: ts("2029-12-01T00:00:00Z"),
            updated_at: ts("2029-12-01T00:00:00Z"),
        }
    }

    fn caller() -> Attendee {
        Attendee {
            name: "Ben Caller".into(),
            email: Some("ben@example.com".into()),
            phone: Some("+393331234567".into()),
        }
    }

    const MONDAY: &str = "2030-01-07T00:00:00Z";
    const TUESDAY_END: &str = "2030-01-08T23:59:59Z";

    #[test]
    fn the_base_url_defaults_to_cal_com_and_must_be_http() {
        let mut source = settings("https://cal.example.com/");
        source.remove("CAL_API_BASE_URL");
        assert_eq!(
            Config::from_source(&source).unwrap().cal_api_base_url,
            "https://api.cal.com"
        );
        assert_eq!(
            Config::from_source(&settings("https://cal.example.com/"))
                .unwrap()
                .cal_api_base_url,
            "https://cal.example.com"
        );
        assert_eq!(
            Config::from_source(&settings("api.cal.com"))
                .unwrap_err()
                .variable,
            "CAL_API_BASE_URL"
        );
    }

    #[tokio::test]
    async fn slots_come_from_the_agents_event_type_in_its_cal_com_zone() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        let slots = backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        assert_eq!(slots.len(), 16);
        assert_eq!(
            slots[0],
            CalcomSlot {
                start: ts("2030-01-07T08:00:00Z"),
                end: ts("2030-01-07T09:00:00Z"),
            }
        );
        let query = fake
            .requests()
            .into_iter()
            .find(|request| request.path == "/v2/slots")
            .unwrap();
        assert_eq!(query.param("timeZone"), Some("Europe/Rome"));
        assert_eq!(query.param("duration"), None);
        assert_eq!(query.authorization, Some(format!("Bearer {KEY}")));

        // The slug was resolved once; the next call reuses it.
        backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        assert_eq!(fake.request_count("GET", "/v2/event-types"), 1);
        assert_eq!(fake.request_count("GET", "/v2/slots"), 2);
    }

    #[tokio::test]
    async fn an_agent_update_resolves_the_event_type_again() {
        let (fake, config) = setup().await;
        let mut agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        agent.updated_at = ts("2029-12-02T00:00:00Z");
        backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        assert_eq!(fake.request_count("GET", "/v2/event-types"), 2);
    }

    #[tokio::test]
    async fn the_cal_timezone_falls_back_to_the_agents_zone() {
        let (fake, config) = setup().await;
        let mut agent = agent(&config, KEY);
        agent.cal_timezone = None;
        CalcomBackend::new(&config)
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        let query = fake
            .requests()
            .into_iter()
            .find(|request| request.path == "/v2/slots")
            .unwrap();
        assert_eq!(query.param("timeZone"), Some("America/New_York"));
    }

    #[tokio::test]
    async fn a_booking_takes_the_slot_and_a_second_one_is_a_409() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        let start = ts("2030-01-07T10:00:00Z");
        let booked = backend
            .book(
                &agent,
                start,
                None,
                &caller(),
                Some("Knee pain"),
                Some("call_123:CS_abc"),
            )
            .await
            .unwrap();
        assert_eq!(booked.start, start);
        assert_eq!(booked.end, ts("2030-01-07T11:00:00Z"));
        assert_eq!(booked.status, "accepted");

        let held = fake.booking(&booked.uid).unwrap();
        assert_eq!(held.metadata["pillow_idempotency_key"], "call_123:CS_abc");
        assert_eq!(held.metadata["pillow_agent_id"], agent.id.to_string());
        assert_eq!(held.booking_fields_responses["notes"], "Knee pain");
        assert_eq!(held.attendee["timeZone"], "Europe/Rome");
        assert_eq!(held.attendee["phoneNumber"], "+393331234567");

        let slots = backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        assert!(!slots.iter().any(|slot| slot.start == start));

        let error = backend
            .book(&agent, start, None, &caller(), None, None)
            .await
            .unwrap_err();
        let error = ApiError::from(error);
        assert_eq!(error.status, StatusCode::CONFLICT);
        assert_eq!(error.code, "slot_unavailable");
    }

    #[tokio::test]
    async fn booking_again_with_the_same_hint_answers_with_the_first_booking() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        let start = ts("2030-01-07T10:00:00Z");
        let hint = Some("call_1:CS_x");
        let first = backend
            .book(&agent, start, None, &caller(), None, hint)
            .await
            .unwrap();
        let again = backend
            .book(&agent, start, None, &caller(), None, hint)
            .await
            .unwrap();
        assert_eq!(again, first);
        assert_eq!(fake.bookings().len(), 1);
        // Another call asking for the same time is refused.
        let other = backend
            .book(&agent, start, None, &caller(), None, Some("call_2:CS_x"))
            .await
            .unwrap_err();
        assert_eq!(ApiError::from(other).code, "slot_unavailable");
    }

    #[tokio::test]
    async fn a_booking_whose_answer_was_lost_is_found_by_its_hint() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        let start = ts("2030-01-07T10:00:00Z");
        // Resolve the event type first, so the lost answer is the booking's.
        backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        fake.lose_next_answer(502);
        let booked = backend
            .book(&agent, start, None, &caller(), None, Some("call_3:CS_y"))
            .await
            .unwrap();
        assert_eq!(booked.start, start);
        assert_eq!(fake.bookings().len(), 1);
        assert_eq!(fake.bookings()[0].uid, booked.uid);
        let requests = fake.requests();
        let post = requests.iter().position(|r| r.method == "POST").unwrap();
        assert_eq!(requests[post].status, 502);
        let lookup = &requests[post + 1];
        assert_eq!(
            (lookup.method.as_str(), lookup.path.as_str()),
            ("GET", "/v2/bookings")
        );
        assert_eq!(lookup.param("afterStart"), Some("2030-01-07T10:00:00Z"));
        assert_eq!(lookup.param("beforeEnd"), Some("2030-01-07T11:00:00Z"));

        // Without a hint there is nothing to recognise it by: the failure stands.
        fake.lose_next_answer(502);
        let error = backend
            .book(
                &agent,
                ts("2030-01-07T12:00:00Z"),
                None,
                &caller(),
                None,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(ApiError::from(error).code, "calcom_unavailable");
    }

    #[tokio::test]
    async fn a_duration_other_than_the_default_is_sent_in_whole_minutes() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        // The default length is not sent: Cal.com refuses `duration` on single-length types.
        backend
            .book(
                &agent,
                ts("2030-01-07T08:00:00Z"),
                Some(SignedDuration::from_mins(60)),
                &caller(),
                None,
                None,
            )
            .await
            .unwrap();
        let short = backend
            .book(
                &agent,
                ts("2030-01-07T12:00:00Z"),
                Some(SignedDuration::from_mins(30)),
                &caller(),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(short.end, ts("2030-01-07T12:30:00Z"));
        let bodies: Vec<_> = fake
            .requests()
            .into_iter()
            .filter(|request| request.path == "/v2/bookings")
            .map(|request| request.body.unwrap())
            .collect();
        assert!(bodies[0].get("lengthInMinutes").is_none());
        assert_eq!(bodies[1]["lengthInMinutes"], 30);

        let error = backend
            .offered_slots(
                &agent,
                ts(MONDAY),
                ts(TUESDAY_END),
                Some(SignedDuration::from_secs(90)),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, CalcomBackendError::InvalidDuration(_)));
        assert_eq!(
            ApiError::from(error).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn cancel_frees_the_time_and_reschedule_moves_it() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        let first = backend
            .book(
                &agent,
                ts("2030-01-07T10:00:00Z"),
                None,
                &caller(),
                None,
                None,
            )
            .await
            .unwrap();
        let moved = backend
            .reschedule(
                &agent,
                &first.uid,
                ts("2030-01-08T09:00:00Z"),
                Some("Clash"),
            )
            .await
            .unwrap();
        assert_ne!(moved.uid, first.uid);
        assert_eq!(
            moved.rescheduled_from_uid.as_deref(),
            Some(first.uid.as_str())
        );
        assert_eq!(
            backend.booking(&agent, &first.uid).await.unwrap().status,
            "cancelled"
        );

        let cancelled = backend
            .cancel(&agent, &moved.uid, Some("No longer needed"))
            .await
            .unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert!(
            fake.bookings()
                .iter()
                .all(|booking| booking.status == "cancelled")
        );
        let slots = backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        assert_eq!(slots.len(), 16);

        let error = ApiError::from(
            backend
                .cancel(&agent, "unknownUid1", None)
                .await
                .unwrap_err(),
        );
        assert_eq!(error.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_refused_key_is_a_502_that_names_the_agent_but_not_the_key() {
        let (_fake, config) = setup().await;
        let wrong = "cal_live_revoked_key_999";
        let agent = agent(&config, wrong);
        let error = CalcomBackend::new(&config)
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(wrong));
        let error = ApiError::from(error);
        assert_eq!(error.status, StatusCode::BAD_GATEWAY);
        assert_eq!(error.code, "calcom_unauthorized");
        assert!(error.message.contains("Front desk"), "{}", error.message);
        assert!(!error.message.contains(wrong));
    }

    #[tokio::test]
    async fn an_agent_without_cal_com_settings_never_reaches_cal_com() {
        let (fake, config) = setup().await;
        let backend = CalcomBackend::new(&config);
        let mut native = agent(&config, KEY);
        native.backend = AgentBackend::Native;
        let mut keyless = agent(&config, KEY);
        keyless.cal_api_key_encrypted = None;
        let mut slugless = agent(&config, KEY);
        slugless.cal_event_type_slug = None;
        for agent in [native, keyless, slugless] {
            let error = backend
                .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
                .await
                .unwrap_err();
            let error = ApiError::from(error);
            assert_eq!(error.status, StatusCode::CONFLICT);
            assert_eq!(error.code, "calcom_not_configured");
        }
        assert!(fake.requests().is_empty());
    }

    #[tokio::test]
    async fn a_key_sealed_under_another_encryption_key_is_an_internal_error() {
        let (fake, config) = setup().await;
        let other = SecretBox::new(SecretKey::from_hex(&"07".repeat(32)).unwrap());
        let mut agent = agent(&config, KEY);
        agent.cal_api_key_encrypted = Some(other.seal(KEY));
        let error = CalcomBackend::new(&config)
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap_err();
        assert!(matches!(error, CalcomBackendError::KeyUnreadable { .. }));
        assert_eq!(
            ApiError::from(error).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert!(fake.requests().is_empty());
    }

    #[tokio::test]
    async fn an_unknown_slug_is_a_502_naming_it() {
        let (_fake, config) = setup().await;
        let mut agent = agent(&config, KEY);
        agent.cal_event_type_slug = Some("consultation".into());
        let error = ApiError::from(
            CalcomBackend::new(&config)
                .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
                .await
                .unwrap_err(),
        );
        assert_eq!(error.status, StatusCode::BAD_GATEWAY);
        assert_eq!(error.code, "calcom_event_type_not_found");
        assert!(error.message.contains("consultation"));
    }

    #[tokio::test]
    async fn cal_com_down_or_rate_limiting_is_a_503() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let backend = CalcomBackend::new(&config);
        fake.fail_next(3, 503);
        let error = ApiError::from(
            backend
                .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
                .await
                .unwrap_err(),
        );
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code, "calcom_unavailable");

        fake.set_retry_after(60);
        fake.fail_next(1, 429);
        let error = ApiError::from(
            backend
                .book(
                    &agent,
                    ts("2030-01-07T10:00:00Z"),
                    None,
                    &caller(),
                    None,
                    None,
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.details["retry_after_seconds"], 60);
    }

    #[tokio::test]
    async fn the_state_helpers_use_the_servers_configuration() {
        let (fake, config) = setup().await;
        let agent = agent(&config, KEY);
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("calcom.db").display());
        let store = crate::open_store(&url).await.unwrap();
        let state = AppState::new(store, config);
        let slots = offered_slots(&state, &agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap();
        let booked = book(&state, &agent, slots[0].start, None, &caller(), None, None)
            .await
            .unwrap();
        assert_eq!(booking(&state, &agent, &booked.uid).await.unwrap(), booked);
        let moved = reschedule(&state, &agent, &booked.uid, slots[2].start, None)
            .await
            .unwrap();
        cancel(&state, &agent, &moved.uid, None).await.unwrap();
        assert_eq!(fake.bookings().len(), 2);
    }

    #[test]
    fn long_idempotency_hints_are_hashed_to_fit_cal_com_metadata() {
        assert_eq!(metadata_value("call:slot"), "call:slot");
        let long = "x".repeat(600);
        assert_eq!(metadata_value(&long).len(), 64);
    }
}
