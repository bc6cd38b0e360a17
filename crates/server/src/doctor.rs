//! `pillow-calendar doctor --agent <id>`: the troubleshooting guide, run instead of read.
//!
//! Each check answers one question the guide asks when a voice agent cannot book (is the
//! internal key set, does the public URL reach this server, are there booking settings, does
//! every host have working hours, are the hosts' calendars connected and synced, does Cal.com
//! take the agent's key) and, when it fails, names the one thing to do about it. The doctor
//! reads the same settings the server reads and the same database, and changes nothing.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_engine::RuleDocument;
use pillow_providers::calcom::{CalcomClient, CalcomError, DEFAULT_BASE_URL};
use pillow_providers::crypto::SecretBox;
use pillow_store::{
    Agent, AgentBackend, AgentId, CalendarConnection, ConnectionStatus, Store, StoreError, User,
    UserId,
};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;

use crate::config::{ConfigError, Source};
use crate::domain::bookings::BookingSettings;

/// How long the public URL gets to answer `/healthz`: a healthy server answers at once.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// A connection counts as synced recently when its last sync is within this many sync
/// intervals (the scheduler polls once per interval; one missed poll is not yet a problem).
pub const STALE_AFTER_INTERVALS: i64 = 3;
const DEFAULT_SYNC_INTERVAL_SECONDS: i64 = 300;
const MIN_SECRET_LEN: usize = 32;

/// One question of the guide and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable name, e.g. `public_url` or `host_hours`.
    pub name: &'static str,
    pub passed: bool,
    /// What was found, in one sentence.
    pub message: String,
    /// What to do about a failure, in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            passed: true,
            message: message.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            passed: false,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// `PASS name: message` or `FAIL name: message Fix: …`, on one line.
    pub fn line(&self) -> String {
        match &self.fix {
            Some(fix) if !self.passed => {
                format!("FAIL {}: {} Fix: {}", self.name, self.message, fix)
            }
            _ => format!("PASS {}: {}", self.name, self.message),
        }
    }
}

/// Every check run for one agent, in the order the guide asks them.
#[derive(Debug, Clone)]
pub struct Report {
    pub agent_id: AgentId,
    pub agent_name: String,
    pub backend: AgentBackend,
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }

    /// The report as people read it: a heading, one line per check, a verdict.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Agent {:?} ({}), {} backend\n",
            self.agent_name,
            self.agent_id,
            self.backend.as_str()
        );
        for check in &self.checks {
            out.push_str(&check.line());
            out.push('\n');
        }
        if self.healthy() {
            out.push_str(&format!("All {} checks passed.", self.checks.len()));
        } else {
            out.push_str(&format!(
                "{} of {} checks failed.",
                self.failures(),
                self.checks.len()
            ));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "backend": self.backend.as_str(),
            "healthy": self.healthy(),
            "checks": self.checks,
        })
    }
}

/// Why the doctor could not examine the agent at all (as opposed to a failed check).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("no agent with id {0}")]
    UnknownAgent(AgentId),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Runs every check for `agent_id`, reading settings from `source` and data from `store`.
///
/// # Errors
/// [`DoctorError::UnknownAgent`] when no tenant has this agent; a database failure.
pub async fn examine(
    store: &dyn Store,
    source: &dyn Source,
    secrets: Result<SecretBox, ConfigError>,
    agent_id: AgentId,
    now: Timestamp,
) -> Result<Report, DoctorError> {
    let agent = store
        .find_agent(agent_id)
        .await?
        .ok_or(DoctorError::UnknownAgent(agent_id))?;
    let mut checks = vec![internal_api_key(source), public_url(source).await];
    match agent.backend {
        AgentBackend::Native => native(store, source, &agent, now, &mut checks).await?,
        AgentBackend::Calcom => checks.extend(calcom(source, secrets, &agent).await),
    }
    Ok(Report {
        agent_id: agent.id,
        agent_name: agent.name.clone(),
        backend: agent.backend,
        checks,
    })
}

fn internal_api_key(source: &dyn Source) -> Check {
    const NAME: &str = "internal_api_key";
    let fix = "Set INTERNAL_API_KEY to the output of `pillow-calendar keygen` and give your voice \
               platform the same value as `Authorization: Bearer <key>` with `X-Agent-ID`.";
    match source.get("INTERNAL_API_KEY") {
        None => Check::fail(
            NAME,
            "INTERNAL_API_KEY is not set, so voice platforms cannot call the tools.",
            fix,
        ),
        Some(key) if key.len() < MIN_SECRET_LEN => Check::fail(
            NAME,
            format!(
                "INTERNAL_API_KEY is {} characters; the server refuses fewer than \
                 {MIN_SECRET_LEN}.",
                key.len()
            ),
            fix,
        ),
        Some(_) => Check::pass(NAME, "INTERNAL_API_KEY is set."),
    }
}

async fn public_url(source: &dyn Source) -> Check {
    const NAME: &str = "public_url";
    let Some(url) = source.get("PUBLIC_URL") else {
        return Check::fail(
            NAME,
            "PUBLIC_URL is not set, so links and tool answers point at localhost.",
            "Set PUBLIC_URL to the address callers and voice platforms reach this server at, \
             e.g. https://calendar.example.com.",
        );
    };
    let url = url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Check::fail(
            NAME,
            format!("PUBLIC_URL {url:?} is not an http(s) URL."),
            "Use the full address, e.g. https://calendar.example.com.",
        );
    }
    let health = format!("{url}/healthz");
    let unreachable_fix = format!(
        "Start the server (`pillow-calendar serve`) and make sure {url} reaches it (DNS, proxy, \
         firewall, port)."
    );
    let client = match reqwest::Client::builder().timeout(HEALTH_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => return Check::fail(NAME, format!("No HTTP client: {e}."), unreachable_fix),
    };
    let answer = match client.get(&health).send().await {
        Ok(answer) => answer,
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {} s", HEALTH_TIMEOUT.as_secs())
            } else {
                without_url(&e)
            };
            return Check::fail(
                NAME,
                format!("GET {health} failed: {why}."),
                unreachable_fix,
            );
        }
    };
    let status = answer.status();
    let body: Option<Value> = answer.json().await.ok();
    let ours = body
        .as_ref()
        .and_then(|b| b.get("status"))
        .and_then(Value::as_str)
        == Some("ok");
    if status.is_success() && ours {
        Check::pass(NAME, format!("PUBLIC_URL {url} answers GET /healthz."))
    } else {
        Check::fail(
            NAME,
            format!("GET {health} answered {status}, not this server's health check."),
            unreachable_fix,
        )
    }
}

/// A transport error's cause without the URL reqwest repeats in its message.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = cause.to_string();
        source = cause.source();
    }
    text
}

/// Booking settings, the hosts' hours and their calendars, for an agent on our own calendar.
async fn native(
    store: &dyn Store,
    source: &dyn Source,
    agent: &Agent,
    now: Timestamp,
    checks: &mut Vec<Check>,
) -> Result<(), StoreError> {
    let tenant = agent.tenant_id;
    let settings_path = format!("/api/agents/{}/booking-settings", agent.id);
    let settings = match store.get_booking_settings(tenant, agent.id).await? {
        None => {
            checks.push(Check::fail(
                "booking_settings",
                format!("Agent {:?} has no booking settings.", agent.name),
                format!(
                    "PUT {settings_path} with assignable_users (the hosts) and \
                     distribution_strategy."
                ),
            ));
            None
        }
        Some(value) => match serde_json::from_value::<BookingSettings>(value) {
            Ok(settings) => {
                checks.push(Check::pass(
                    "booking_settings",
                    format!(
                        "Booking settings present: {} assignable host(s), {}.",
                        settings.assignable_users.len(),
                        settings.distribution_strategy
                    ),
                ));
                Some(settings)
            }
            Err(e) => {
                checks.push(Check::fail(
                    "booking_settings",
                    format!("The stored booking settings cannot be read: {e}."),
                    format!("PUT {settings_path} again with valid settings."),
                ));
                None
            }
        },
    };

    let users = store.list_users(tenant).await?;
    let named = |id: UserId| users.iter().find(|u| u.id == id);
    // The same team the tools book from: the assignable users, or without any, every member
    // with a default rule.
    let listed: Vec<String> = settings
        .iter()
        .flat_map(|s| s.assignable_users.iter().map(|u| u.user_id.clone()))
        .collect();
    let mut hosts: Vec<UserId> = Vec::new();
    for id in &listed {
        match id.parse::<UserId>().ok().filter(|id| named(*id).is_some()) {
            Some(id) => hosts.push(id),
            None => checks.push(Check::fail(
                "host_hours",
                format!("Assignable user {id:?} is not a member of this tenant."),
                format!("Remove it from assignable_users: PUT {settings_path}."),
            )),
        }
    }
    if listed.is_empty() {
        hosts = store.users_with_default_rule(tenant).await?;
    }
    if hosts.is_empty() && listed.is_empty() {
        checks.push(Check::fail(
            "host_hours",
            "No host can be booked: no assignable users, and no member has working hours.",
            "Create an availability rule for at least one member: POST \
             /api/calendar/availability-rules.",
        ));
        return Ok(());
    }

    let rules = store.default_rules(tenant, &hosts).await?;
    for &host in &hosts {
        let who = describe(named(host), host);
        let rule = rules.iter().find(|r| r.user_id == host);
        let hours =
            rule.and_then(|r| serde_json::from_value::<RuleDocument>(r.document.clone()).ok());
        let check = match (rule, hours) {
            (None, _) => Check::fail(
                "host_hours",
                format!("{who} has no availability rule, so is never offered."),
                format!(
                    "POST /api/calendar/availability-rules with user_id {host} and a weekly \
                     schedule."
                ),
            ),
            (Some(rule), Some(doc)) if has_hours(&doc) => Check::pass(
                "host_hours",
                format!("{who} has working hours (rule {}).", rule.id),
            ),
            (Some(rule), _) => Check::fail(
                "host_hours",
                format!("{who}'s default rule {} has no working hours.", rule.id),
                format!(
                    "PATCH /api/calendar/availability-rules/{} with a schedule of working \
                     ranges.",
                    rule.id
                ),
            ),
        };
        checks.push(check);
    }

    let fresh = sync_window(source);
    for &host in &hosts {
        let who = describe(named(host), host);
        let connections = store.list_calendar_connections(tenant, Some(host)).await?;
        if connections.is_empty() {
            checks.push(Check::pass(
                "calendar",
                format!("{who} has no calendar connected (offered by working hours alone)."),
            ));
        }
        for connection in &connections {
            checks.push(connection_check(&who, connection, now, fresh));
        }
    }
    Ok(())
}

fn describe(user: Option<&User>, id: UserId) -> String {
    match user {
        Some(u) => format!("Host {} <{}>", u.name, u.email),
        None => format!("Host {id}"),
    }
}

/// Whether a rule gives any working time at all: a weekly range or an available date.
fn has_hours(doc: &RuleDocument) -> bool {
    doc.schedule.values().any(|ranges| !ranges.is_empty())
        || doc
            .date_overrides
            .iter()
            .any(|o| o.available && o.ranges.as_ref().is_some_and(|r| !r.is_empty()))
}

/// How old a last sync may be before it counts as stale.
fn sync_window(source: &dyn Source) -> SignedDuration {
    let interval = source
        .get("GOOGLE_SYNC_INTERVAL_SECONDS")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_SYNC_INTERVAL_SECONDS);
    SignedDuration::from_secs(interval * STALE_AFTER_INTERVALS)
}

fn connection_check(
    who: &str,
    connection: &CalendarConnection,
    now: Timestamp,
    fresh: SignedDuration,
) -> Check {
    const NAME: &str = "calendar";
    let what = format!(
        "{who}'s {} calendar {} ({})",
        connection.kind, connection.calendar_id, connection.account_email
    );
    let reconnect = format!(
        "Have {} connect the calendar again: GET /api/calendar/google/connect while signed in.",
        connection.account_email
    );
    match connection.status {
        ConnectionStatus::NeedsReauth => {
            return Check::fail(
                NAME,
                format!("{what} needs re-authorisation: Google refused its refresh token."),
                reconnect,
            );
        }
        ConnectionStatus::Error => {
            let last = connection
                .last_error
                .as_deref()
                .unwrap_or("no error recorded");
            return Check::fail(
                NAME,
                format!("{what} keeps failing to sync (last error: {last})."),
                format!(
                    "Fix the cause above, then POST /api/calendar/sync; if it persists, {}",
                    lower_first(&reconnect)
                ),
            );
        }
        ConnectionStatus::Active => {}
    }
    if !connection.sync_enabled {
        return Check::fail(
            NAME,
            format!("{what} has sync turned off, so its events are not busy time."),
            format!(
                "PATCH /api/calendar/providers/{} with {{\"sync_enabled\": true}}.",
                connection.id
            ),
        );
    }
    let stale_fix = "Run the server with Google configured (GOOGLE_OAUTH_CLIENT_ID and \
                     GOOGLE_OAUTH_CLIENT_SECRET) so its scheduler syncs, or POST \
                     /api/calendar/sync.";
    match connection.last_synced_at {
        None => Check::fail(NAME, format!("{what} has never synced."), stale_fix),
        Some(at) if now.duration_since(at) > fresh => Check::fail(
            NAME,
            format!(
                "{what} last synced {} minutes ago (more than {} minutes).",
                now.duration_since(at).as_secs() / 60,
                fresh.as_secs() / 60
            ),
            stale_fix,
        ),
        Some(at) => Check::pass(
            NAME,
            format!(
                "{what} is active and synced {} minutes ago.",
                now.duration_since(at).as_secs() / 60
            ),
        ),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The agent's Cal.com key and event type, asked of Cal.com itself.
async fn calcom(
    source: &dyn Source,
    secrets: Result<SecretBox, ConfigError>,
    agent: &Agent,
) -> Vec<Check> {
    const KEY: &str = "calcom_key";
    let update = format!(
        "Create an API key in Cal.com (Settings, Developer, API keys) and PATCH /api/agents/{} \
         with cal_api_key.",
        agent.id
    );
    let Some(sealed) = agent.cal_api_key_encrypted.as_deref() else {
        return vec![Check::fail(
            KEY,
            format!(
                "Agent {:?} is on Cal.com but has no Cal.com API key.",
                agent.name
            ),
            update,
        )];
    };
    let secrets = match secrets {
        Ok(secrets) => secrets,
        Err(e) => {
            return vec![Check::fail(
                KEY,
                format!(
                    "The stored key cannot be opened: {}: {}.",
                    e.variable, e.problem
                ),
                e.fix,
            )];
        }
    };
    let key = match secrets.open(sealed) {
        Ok(key) => SecretString::from(key),
        Err(_) => {
            return vec![Check::fail(
                KEY,
                "The stored Cal.com key was sealed under a key that is not configured.",
                "Add the old key to CALENDAR_ENCRYPTION_KEY_PREVIOUS and run `pillow-calendar \
                 rotate-keys`, or store the Cal.com key again.",
            )];
        }
    };
    let base = source
        .get("CAL_API_BASE_URL")
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let client = CalcomClient::with_default_http(base.trim_end_matches('/'));
    let owner = match client.me(&key).await {
        Ok(owner) => owner,
        Err(CalcomError::Unauthorized) => {
            return vec![Check::fail(
                KEY,
                format!("Cal.com at {base} refused the agent's API key (401)."),
                update,
            )];
        }
        Err(e) => {
            return vec![Check::fail(
                KEY,
                format!("Cal.com at {base} could not check the key: {e}."),
                "Check CAL_API_BASE_URL and that this machine reaches Cal.com, then run doctor \
                 again.",
            )];
        }
    };
    let mut checks = vec![Check::pass(
        KEY,
        format!("Cal.com accepts the key (user {}).", owner.username),
    )];
    const EVENT_TYPE: &str = "calcom_event_type";
    let slug_fix = format!(
        "PATCH /api/agents/{} with cal_event_type_slug set to one of the key owner's event types.",
        agent.id
    );
    let Some(slug) = agent.cal_event_type_slug.as_deref() else {
        checks.push(Check::fail(
            EVENT_TYPE,
            "The agent has no cal_event_type_slug.",
            slug_fix,
        ));
        return checks;
    };
    checks.push(match client.event_types(&key).await {
        Ok(types) if types.iter().any(|t| t.slug == slug) => Check::pass(
            EVENT_TYPE,
            format!("Event type {slug:?} exists on Cal.com."),
        ),
        Ok(types) => {
            let known: Vec<&str> = types.iter().map(|t| t.slug.as_str()).collect();
            Check::fail(
                EVENT_TYPE,
                format!(
                    "{} has no event type {slug:?} (it has: {}).",
                    owner.username,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
                slug_fix,
            )
        }
        Err(e) => Check::fail(
            EVENT_TYPE,
            format!("Cal.com could not list event types: {e}."),
            "Run doctor again; if it persists, check the key's permissions on Cal.com.",
        ),
    });
    checks
}
