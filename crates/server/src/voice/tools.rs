//! The voice tools: check availability, book, find, cancel and reschedule, for an agent on a
//! live call. Retell, Vapi, the tool definitions and MCP all call these same functions; only
//! the envelope around them differs.
//!
//! Answers are made for speech: at most three options spread over the time asked about, each
//! with a signed slot id, the ISO time with offset and a phrase in the business's zone; one-line
//! summaries; the resolved date echoed back so the agent can catch a misheard day.
//!
//! Each tool has one `*_native` function holding the path for agents whose calendar lives
//! here; agents on another backend are routed in the public function.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_engine::Interval;
use pillow_store::{
    Agent, AgentBackend, Attendee, Booking, BookingFilter, BookingStatus, TenantId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::speech::{self, PartOfDay};
use crate::AppState;
use crate::domain::availability::team_availability;
use crate::domain::bookings::{
    self as booking, BookingRequest, Subject, TeamContext, claim_key, looks_like_code,
    request_hash, settle_key,
};
use crate::error::ApiError;
use crate::http::bookings::{AttendeeBody, check_attendee};
use crate::slot_id::SlotRef;

/// At most this many options per answer: more is too much to listen to.
pub const MAX_OPTIONS: usize = 3;
/// The longest range one availability question may cover.
const MAX_RANGE_DAYS: i32 = 31;
/// How far from a full day we look for the nearest days that are not.
const NEAREST_DAYS_SEARCH: i32 = 14;

/// Who is calling a tool: the agent (and so the tenant) and, on a live call, the call's id,
/// which makes a booking idempotent for that call and slot.
pub struct ToolContext<'a> {
    pub state: &'a AppState,
    pub tenant: TenantId,
    pub agent: &'a Agent,
    pub call_id: Option<String>,
}

/// Accepts a number or a numeric string: models often quote numbers.
fn lenient_minutes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Minutes {
        Number(i64),
        Text(String),
    }
    match Option::<Minutes>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Minutes::Number(n)) => Ok(Some(n)),
        Some(Minutes::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(Minutes::Text(text)) => text.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is not a whole number of minutes"))
        }),
    }
}

/// Accepts a part of the day, or an empty string for none (models send "" for "not given").
fn lenient_part_of_day<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PartOfDay>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() || text.trim().eq_ignore_ascii_case("any") => Ok(None),
        Some(text) => PartOfDay::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(
            text.trim().to_ascii_lowercase().as_str(),
        ))
        .map(Some),
    }
}

/// What `check_availability` takes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CheckAvailabilityArgs {
    /// One day: YYYY-MM-DD, or "today", "tomorrow" or a weekday name such as "tuesday" (the
    /// next one). Leave out to look at the coming week.
    #[serde(default)]
    pub date: Option<String>,
    /// First day of a range (YYYY-MM-DD), instead of `date`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last day of a range, included (YYYY-MM-DD). Default: a week from `start_date`.
    #[serde(default)]
    pub end_date: Option<String>,
    /// Only this part of the day: morning (before noon), afternoon (noon to 5 PM) or evening.
    #[serde(default, deserialize_with = "lenient_part_of_day")]
    #[schemars(with = "Option<PartOfDay>")]
    pub part_of_day: Option<PartOfDay>,
    /// Appointment length in minutes; default the business's usual length.
    #[serde(default, deserialize_with = "lenient_minutes")]
    #[schemars(with = "Option<i64>")]
    pub duration: Option<i64>,
    /// IANA time zone the dates are meant in and times are said in, e.g. America/Chicago;
    /// default the business's zone.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// What `check_availability` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AvailabilityAnswer {
    /// The resolved day (YYYY-MM-DD), or range as `first/last`: read it back to the caller.
    pub date: String,
    /// The zone the times are said in.
    pub timezone: String,
    /// At most three options, spread over the time asked about.
    pub options: Vec<SlotOption>,
    /// One line the agent can read out.
    pub summary: String,
    /// When nothing is free: the nearest days (YYYY-MM-DD) that have openings.
    pub nearest_available_days: Vec<String>,
    /// The appointment length the options are for, in minutes.
    pub duration_minutes: i64,
}

/// One bookable time.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SlotOption {
    /// Opaque id to book exactly this time (pass it to book_appointment).
    pub slot_id: String,
    /// RFC 3339 with the business's offset, e.g. 2024-03-12T14:00:00-04:00.
    pub start_time: String,
    pub end_time: String,
    /// How to say it, e.g. "Tuesday at 2 PM".
    pub spoken: String,
}

/// What `book_appointment` takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BookAppointmentArgs {
    /// A slot id from check_availability (preferred).
    #[serde(default)]
    pub slot_id: Option<String>,
    /// Or the start time: RFC 3339 (2024-03-12T14:00:00-04:00), or a local time
    /// (2024-03-12T14:00) in the business's zone.
    #[serde(default)]
    pub start_time: Option<String>,
    /// The caller's full name.
    pub name: String,
    /// The caller's phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The caller's e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Anything the business should know.
    #[serde(default)]
    pub notes: Option<String>,
    /// Minutes, when booking by start_time; a slot id carries its own.
    #[serde(default, deserialize_with = "lenient_minutes")]
    #[schemars(with = "Option<i64>")]
    pub duration: Option<i64>,
}

/// What `book_appointment` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BookingAnswer {
    pub booked: bool,
    pub confirmation_code: String,
    /// The code spelled for speech: "K, 7, M, ...".
    pub spoken_code: String,
    /// RFC 3339 with the business's offset.
    pub start_time: String,
    /// e.g. "Tuesday at 2 PM".
    pub spoken: String,
    /// Who the appointment is with.
    pub host_name: String,
    /// One sentence confirming it, code included.
    pub summary: String,
}

/// What `find_booking` takes: the confirmation code, or the phone or e-mail it was made with.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FindBookingArgs {
    #[serde(default)]
    pub confirmation_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// What `cancel_booking` takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CancelBookingArgs {
    /// The booking's confirmation code.
    pub confirmation_code: String,
    /// Why, if the caller said.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What `reschedule_booking` takes: the code and the new time (a slot id or a start time).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RescheduleBookingArgs {
    /// The booking's confirmation code.
    pub confirmation_code: String,
    /// A slot id from check_availability (preferred).
    #[serde(default)]
    pub slot_id: Option<String>,
    /// Or the new start: RFC 3339, or a local time in the business's zone.
    #[serde(default)]
    pub start_time: Option<String>,
}

/// A tool failure the agent can say out loud, with a stable `code` and, when a time was taken,
/// nearby alternatives to offer instead.
#[derive(Debug, Clone, thiserror::Error, Serialize, JsonSchema)]
#[error("{code}: {message}")]
pub struct ToolError {
    pub code: String,
    /// A sentence to speak.
    pub message: String,
    pub alternatives: Vec<SlotOption>,
    /// The HTTP status the plain JSON endpoints answer with.
    #[serde(skip)]
    pub status: u16,
    /// The offending argument, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ToolError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            alternatives: Vec::new(),
            status: status.as_u16(),
            field: None,
        }
    }

    /// 422 for an argument that is not acceptable.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        error.field = Some(field.to_string());
        error
    }

    /// The plain JSON endpoints' error: `{"error":{"code","message","alternatives"}}`.
    pub fn into_api_error(self) -> ApiError {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = ApiError::new(status, "tool_error", self.message);
        error.code = static_code(&self.code);
        if let Some(field) = self.field {
            error = error.with("field", field);
        }
        if !self.alternatives.is_empty() {
            error = error.with(
                "alternatives",
                serde_json::to_value(&self.alternatives).unwrap_or_default(),
            );
        }
        error
    }

    /// From the booking layer's error, with its alternatives turned into bookable options.
    fn from_api(error: ApiError, ctx: &ToolContext<'_>) -> Self {
        let field = error
            .details
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_string);
        let alternatives = error
            .details
            .get("alternatives")
            .map(|alternatives| options_from_json(ctx, alternatives))
            .unwrap_or_default();
        Self {
            code: error.code.to_string(),
            message: error.message,
            alternatives,
            status: error.status.as_u16(),
            field,
        }
    }

    fn from_recorded(status: StatusCode, body: &Value, ctx: &ToolContext<'_>) -> Self {
        let error = &body["error"];
        let mut api = ApiError::new(
            status,
            "replayed",
            error["message"].as_str().unwrap_or_default(),
        );
        for (k, v) in error.as_object().into_iter().flatten() {
            if k != "code" && k != "message" {
                api = api.with(k, v.clone());
            }
        }
        let mut tool = Self::from_api(api, ctx);
        tool.code = error["code"].as_str().unwrap_or("replayed").to_string();
        tool
    }
}

impl From<ApiError> for ToolError {
    fn from(error: ApiError) -> Self {
        let field = error
            .details
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self {
            code: error.code.to_string(),
            message: error.message,
            alternatives: Vec::new(),
            status: error.status.as_u16(),
            field,
        }
    }
}

impl From<pillow_store::StoreError> for ToolError {
    fn from(error: pillow_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

/// `ApiError` codes are `&'static str`; a tool's code is mapped back onto the known set.
fn static_code(code: &str) -> &'static str {
    const KNOWN: [&str; 36] = [
        // The Cal.com backend's.
        "not_available",
        "calcom_not_configured",
        "calcom_event_type_not_found",
        "calcom_unauthorized",
        "calcom_unavailable",
        "calcom_bad_response",
        "calcom_rejected",
        "busy",
        "slot_unavailable",
        "in_the_past",
        "too_soon",
        "too_far_ahead",
        "duration_not_allowed",
        "outside_working_hours",
        "off_grid",
        "invalid_time",
        "invalid_date",
        "invalid_range",
        "invalid_duration",
        "invalid_timezone",
        "invalid_name",
        "invalid_email",
        "invalid_phone",
        "invalid_slot",
        "invalid_arguments",
        "missing_parameter",
        "conflicting_parameters",
        "not_found",
        "no_working_hours",
        "booking_not_confirmed",
        "unknown_tool",
        "too_long",
        "idempotency_key_reused",
        "idempotency_in_progress",
        "internal_error",
        "window_too_long",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == code)
        .unwrap_or("tool_error")
}

/// A tool as the definitions and MCP list it.
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON schema of the arguments: a plain object schema, subschemas inlined.
    pub schema: fn() -> Value,
}

/// The five voice tools, in the order an agent usually needs them.
pub fn tool_specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "check_availability",
            description: "Find open appointment times. Give a date (or a range) and optionally a \
                part of the day; answers at most three options spread over that time, each with a \
                slot_id to book, plus a one-line summary to read out. When the day is full it \
                names the nearest days with openings.",
            schema: args_schema::<CheckAvailabilityArgs>,
        },
        ToolSpec {
            name: "book_appointment",
            description: "Book an appointment for the caller: pass the slot_id of the option \
                they chose (or a start_time) and their name, phone and e-mail. Answers one \
                sentence to read out, with the confirmation code spelled letter by letter.",
            schema: args_schema::<BookAppointmentArgs>,
        },
        ToolSpec {
            name: "find_booking",
            description: "Look up the caller's appointment by confirmation code, or by the phone \
                number or e-mail it was booked with.",
            schema: args_schema::<FindBookingArgs>,
        },
        ToolSpec {
            name: "cancel_booking",
            description: "Cancel the caller's appointment by its confirmation code. Confirm with \
                the caller before calling this.",
            schema: args_schema::<CancelBookingArgs>,
        },
        ToolSpec {
            name: "reschedule_booking",
            description: "Move the caller's appointment to a new time: its confirmation code and \
                the slot_id of the new option (or a start_time). The code stays the same.",
            schema: args_schema::<RescheduleBookingArgs>,
        },
    ]
}

/// The schema of a tool's arguments as voice platforms accept it: an inline object schema
/// without `$schema` or titles, optional fields typed as their value (absence means "not
/// given", and some platforms refuse `["string","null"]`).
pub fn args_schema<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    clean_schema(&mut schema);
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        map.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

fn clean_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1 {
                    map.insert("type".into(), kept[0].clone());
                }
            }
            // Option<enum> comes out as anyOf [enum, null]: keep the enum.
            if let Some(Value::Array(any_of)) = map.get("anyOf") {
                let kept: Vec<Value> = any_of
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1
                    && let Value::Object(inner) = &kept[0]
                {
                    let inner = inner.clone();
                    map.remove("anyOf");
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            if let Some(Value::Array(variants)) = map.get_mut("enum") {
                variants.retain(|v| !v.is_null());
            }
            map.remove("title");
            map.remove("format");
            // Defaults of `null` say nothing a model needs.
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            for child in map.values_mut() {
                clean_schema(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_schema),
        _ => {}
    }
}

/// Runs a tool by name with JSON arguments: the one dispatcher of every platform.
///
/// # Errors
/// `unknown_tool` (404) for a name not in [`tool_specs`], `invalid_arguments` (400) when the
/// arguments do not fit the tool, else the tool's own error.
pub async fn call_tool(ctx: &ToolContext<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    fn parse<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
        let args = if args.is_null() { json!({}) } else { args };
        crate::json::from_value(args).map_err(|e| {
            let mut error = ToolError::from(e);
            error.code = "invalid_arguments".into();
            error
        })
    }
    let answer = match name {
        "check_availability" => to_value(check_availability(ctx, parse(args)?).await?),
        "book_appointment" => to_value(book_appointment(ctx, parse(args)?).await?),
        "find_booking" => find_booking(ctx, parse(args)?).await?,
        "cancel_booking" => cancel_booking(ctx, parse(args)?).await?,
        "reschedule_booking" => reschedule_booking(ctx, parse(args)?).await?,
        other => {
            return Err(ToolError::new(
                StatusCode::NOT_FOUND,
                "unknown_tool",
                format!(
                    "There is no tool called {other:?}; the tools are check_availability, \
                     book_appointment, find_booking, cancel_booking and reschedule_booking."
                ),
            ));
        }
    };
    Ok(answer)
}

fn to_value<T: Serialize>(answer: T) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// A given, non-blank text argument (models send "" for "not given").
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The business's zone: the agent's.
fn agent_zone(agent: &Agent) -> TimeZone {
    TimeZone::get(&agent.time_zone).unwrap_or(TimeZone::UTC)
}

fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("UTC").to_string()
}

fn parse_minutes(minutes: Option<i64>) -> Result<Option<SignedDuration>, ToolError> {
    match minutes {
        None => Ok(None),
        Some(m) if (5..=1440).contains(&m) => Ok(Some(SignedDuration::from_mins(m))),
        Some(_) => Err(ToolError::invalid(
            "duration",
            "invalid_duration",
            "The length must be a whole number of minutes from 5 to 1440.",
        )),
    }
}

/// A day as callers and models name it: an ISO date, "today", "tomorrow" or a weekday (the
/// next one, today included).
pub fn parse_day(field: &str, raw: &str, today: Date) -> Result<Date, ToolError> {
    let text = raw.trim().to_ascii_lowercase();
    if let Ok(date) = text.parse::<Date>() {
        return Ok(date);
    }
    let weekday = match text.as_str() {
        "today" => return Ok(today),
        "tomorrow" => return today.tomorrow().map_err(|_| out_of_range(field)),
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => {
            return Err(ToolError::invalid(
                field,
                "invalid_date",
                format!(
                    "I could not read {raw:?} as a date; use a date like 2024-03-12, today, \
                     tomorrow or a weekday."
                ),
            ));
        }
    };
    let ahead = (i32::from(weekday.to_monday_zero_offset())
        - i32::from(today.weekday().to_monday_zero_offset()))
    .rem_euclid(7);
    today
        .checked_add(ahead.days())
        .map_err(|_| out_of_range(field))
}

fn out_of_range(field: &str) -> ToolError {
    ToolError::invalid(field, "invalid_date", "That date is out of range.")
}

/// A start time: RFC 3339 with an offset, or a local date and time in `zone`.
fn parse_start(field: &str, raw: &str, zone: &TimeZone) -> Result<Timestamp, ToolError> {
    let raw = raw.trim();
    if let Ok(instant) = raw.parse::<Timestamp>() {
        return Ok(instant);
    }
    raw.parse::<DateTime>()
        .ok()
        .and_then(|local| local.to_zoned(zone.clone()).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            ToolError::invalid(
                field,
                "invalid_time",
                format!(
                    "I could not read {raw:?} as a time; use a slot_id from check_availability \
                     or a time like 2024-03-12T14:00."
                ),
            )
        })
}

fn local_midnight(date: Date, zone: &TimeZone) -> Result<Timestamp, ToolError> {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|_| out_of_range("date"))
}

/// A slot as an option: signed id, ISO times in `zone`, spoken phrase.
fn option(
    ctx: &ToolContext<'_>,
    start: Timestamp,
    duration: SignedDuration,
    zone: &TimeZone,
    now: Timestamp,
) -> SlotOption {
    let slot = SlotRef {
        agent_id: ctx.agent.id,
        start,
        duration,
    };
    SlotOption {
        slot_id: ctx.state.slot_ids.sign(&slot),
        start_time: speech::iso_with_offset(start, zone),
        end_time: speech::iso_with_offset(slot.end(), zone),
        spoken: speech::spoken_time(start, zone, now),
    }
}

/// The booking layer's `alternatives` (`[{start_time, end_time}]`) as bookable options.
fn options_from_json(ctx: &ToolContext<'_>, alternatives: &Value) -> Vec<SlotOption> {
    let zone = agent_zone(ctx.agent);
    let now = Timestamp::now();
    alternatives
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|alternative| {
            let start: Timestamp = alternative["start_time"].as_str()?.parse().ok()?;
            let end: Timestamp = alternative["end_time"].as_str()?.parse().ok()?;
            Some(option(ctx, start, end.duration_since(start), &zone, now))
        })
        .take(MAX_OPTIONS)
        .collect()
}

/// The time a booking or reschedule names: a slot id of this agent, or a start time.
fn requested_slot(
    ctx: &ToolContext<'_>,
    slot_id: &Option<String>,
    start_time: &Option<String>,
) -> Result<(Timestamp, Option<SignedDuration>), ToolError> {
    if let Some(id) = given(slot_id) {
        let slot = ctx.state.slot_ids.verify(id).map_err(|_| {
            ToolError::invalid(
                "slot_id",
                "invalid_slot",
                "That slot id is not one I gave out; check availability again and use one of \
                 its slot ids.",
            )
        })?;
        if slot.agent_id != ctx.agent.id {
            return Err(ToolError::invalid(
                "slot_id",
                "invalid_slot",
                "That slot id belongs to another line; check availability again.",
            ));
        }
        return Ok((slot.start, Some(slot.duration)));
    }
    if let Some(raw) = given(start_time) {
        return Ok((
            parse_start("start_time", raw, &agent_zone(ctx.agent))?,
            None,
        ));
    }
    Err(ToolError::invalid(
        "slot_id",
        "missing_parameter",
        "Which time? Give the slot_id of an option from check_availability, or a start_time.",
    ))
}

async fn team(ctx: &ToolContext<'_>) -> Result<Arc<TeamContext>, ToolError> {
    Ok(ctx
        .state
        .teams
        .get(ctx.state, ctx.tenant, ctx.agent.id)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// check_availability

/// Open times for the agent's team, made for speech.
///
/// # Errors
/// `invalid_date`, `invalid_range`, `invalid_duration`, `invalid_timezone`,
/// `conflicting_parameters` (422) for arguments that cannot be used; `no_working_hours` (409)
/// when nobody on the team has working hours.
pub async fn check_availability(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return check_availability_calcom(ctx, args).await;
    }
    check_availability_native(ctx, args).await
}

/// A Cal.com backend failure as a tool error (through [`ApiError`], so the codes match).
fn calcom_error(error: crate::calcom::CalcomBackendError) -> ToolError {
    ApiError::from(error).into()
}

/// What an availability question asks about, read the same way for every backend: the zone
/// (the caller's or the agent's), the length, the local days and their window in instants.
struct RequestedTime {
    zone: TimeZone,
    requested: Option<SignedDuration>,
    today: Date,
    first: Date,
    last: Date,
    single: bool,
    window: Interval,
}

fn requested_time(
    ctx: &ToolContext<'_>,
    args: &CheckAvailabilityArgs,
    now: Timestamp,
) -> Result<RequestedTime, ToolError> {
    let zone = match given(&args.timezone) {
        Some(name) => TimeZone::get(name).map_err(|_| {
            ToolError::invalid(
                "timezone",
                "invalid_timezone",
                format!("{name:?} is not a time zone name such as America/New_York."),
            )
        })?,
        None => agent_zone(ctx.agent),
    };
    let requested = parse_minutes(args.duration)?;
    let today = local_date(now, &zone);
    let (first, last, single) = requested_days(args, today)?;
    let window = Interval::new(
        local_midnight(first, &zone)?,
        local_midnight(last.tomorrow().map_err(|_| out_of_range("date"))?, &zone)?,
    )
    .ok_or_else(|| out_of_range("date"))?;
    Ok(RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    })
}

/// Open times for agents on the `calcom` backend: the same answer as the native path, from
/// Cal.com's `GET /v2/slots` for the days asked about. Nearest open days are not searched
/// (that would be a second Cal.com request per question), so `nearest_available_days` is empty.
async fn check_availability_calcom(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    let now = Timestamp::now();
    let RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    } = requested_time(ctx, &args, now)?;
    let part = args.part_of_day;
    let slots: Vec<crate::calcom::CalcomSlot> =
        crate::calcom::offered_slots(ctx.state, ctx.agent, window.start, window.end, requested)
            .await
            .map_err(calcom_error)?
            .into_iter()
            .filter(|s| {
                s.start > now
                    && part.is_none_or(|p| p.contains(s.start.to_zoned(zone.clone()).time()))
            })
            .collect();
    // Cal.com's slots carry the event type's length; without any, the asked length (or 30 min).
    let duration = slots
        .first()
        .map(|s| s.end.duration_since(s.start))
        .or(requested)
        .unwrap_or(SignedDuration::from_mins(30));
    let starts: Vec<Timestamp> = slots.iter().map(|s| s.start).collect();
    let picked: Vec<Timestamp> = speech::spread(&starts, MAX_OPTIONS)
        .into_iter()
        .map(|i| starts[i])
        .collect();
    let options: Vec<SlotOption> = picked
        .iter()
        .map(|start| option(ctx, *start, duration, &zone, now))
        .collect();
    let summary = if options.is_empty() {
        format!(
            "Nothing is open {}.",
            describe_request(first, last, single, today, part)
        )
    } else {
        summarize_options(&options, &picked, starts.len(), &zone, today)
    };
    Ok(AvailabilityAnswer {
        date: if first == last {
            first.to_string()
        } else {
            format!("{first}/{last}")
        },
        timezone: zone_name(&zone),
        options,
        summary,
        nearest_available_days: Vec::new(),
        duration_minutes: duration.as_mins(),
    })
}

/// The days an availability question covers, in `zone`: first and last, included.
fn requested_days(
    args: &CheckAvailabilityArgs,
    today: Date,
) -> Result<(Date, Date, bool), ToolError> {
    let (first, last, single) = match (
        given(&args.date),
        given(&args.start_date),
        given(&args.end_date),
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ToolError::invalid(
                "date",
                "conflicting_parameters",
                "Give either a date or a start_date and end_date, not both.",
            ));
        }
        (Some(date), None, None) => {
            let day = parse_day("date", date, today)?;
            (day, day, true)
        }
        (None, Some(start), end) => {
            let first = parse_day("start_date", start, today)?;
            let last = match end {
                Some(end) => parse_day("end_date", end, today)?,
                None => first
                    .checked_add(6.days())
                    .map_err(|_| out_of_range("start_date"))?,
            };
            (first, last, first == last)
        }
        (None, None, Some(end)) => {
            let last = parse_day("end_date", end, today)?;
            (today, last, today == last)
        }
        (None, None, None) => (
            today,
            today
                .checked_add(6.days())
                .map_err(|_| out_of_range("date"))?,
            false,
        ),
    };
    if last < first {
        return Err(ToolError::invalid(
            "end_date",
            "invalid_range",
            "The end date is before the start date.",
        ));
    }
    if last < today {
        return Err(ToolError::invalid(
            if single { "date" } else { "end_date" },
            "in_the_past",
            format!(
                "{} has already passed; today is {}.",
                last.strftime("%A, %B %-d"),
                today.strftime("%A, %B %-d")
            ),
        ));
    }
    if (last - first).get_days() >= MAX_RANGE_DAYS {
        return Err(ToolError::invalid(
            "end_date",
            "window_too_long",
            format!("Ask about at most {MAX_RANGE_DAYS} days at once."),
        ));
    }
    Ok((first.max(today), last, single))
}

/// The local date of an instant.
fn local_date(at: Timestamp, zone: &TimeZone) -> Date {
    at.to_zoned(zone.clone()).date()
}

/// Open times for agents whose calendar lives here.
pub async fn check_availability_native(
    ctx: &ToolContext<'_>,
    args: CheckAvailabilityArgs,
) -> Result<AvailabilityAnswer, ToolError> {
    let now = Timestamp::now();
    let RequestedTime {
        zone,
        requested,
        today,
        first,
        last,
        single,
        window,
    } = requested_time(ctx, &args, now)?;

    // One load covers the window and the days around it searched when it is full.
    let search_from = first
        .checked_sub(NEAREST_DAYS_SEARCH.days())
        .unwrap_or(first)
        .max(today);
    let search_to = last.checked_add(NEAREST_DAYS_SEARCH.days()).unwrap_or(last);
    let search = Interval::new(
        local_midnight(search_from, &zone)?,
        local_midnight(search_to.tomorrow().unwrap_or(search_to), &zone)?,
    )
    .unwrap_or(window);

    let context = team(ctx).await?;
    let calendars = ctx
        .state
        .calendars
        .calendars(
            ctx.state.store.as_ref(),
            ctx.tenant,
            &context.team.members,
            search,
            now,
        )
        .await?;
    if calendars.is_empty() {
        return Err(ToolError::new(
            StatusCode::CONFLICT,
            "no_working_hours",
            "Nobody here has working hours set up yet, so I can't offer times.",
        ));
    }
    let duration = requested
        .or_else(|| {
            context
                .team
                .settings
                .event_type_config
                .duration
                .map(SignedDuration::from_mins)
        })
        .unwrap_or_else(|| calendars[0].rule.slot_duration());
    let part = args.part_of_day;
    let fits =
        |start: Timestamp| part.is_none_or(|p| p.contains(start.to_zoned(zone.clone()).time()));

    let starts: Vec<Timestamp> = team_availability(&calendars, window, duration, now)
        .into_iter()
        .map(|s| s.slot.start)
        .filter(|s| fits(*s))
        .collect();
    let picked: Vec<Timestamp> = speech::spread(&starts, MAX_OPTIONS)
        .into_iter()
        .map(|i| starts[i])
        .collect();
    let options: Vec<SlotOption> = picked
        .iter()
        .map(|start| option(ctx, *start, duration, &zone, now))
        .collect();

    let asked = describe_request(first, last, single, today, part);
    let mut nearest_available_days = Vec::new();
    let summary = if options.is_empty() {
        let open_days: BTreeSet<Date> = team_availability(&calendars, search, duration, now)
            .into_iter()
            .map(|s| s.slot.start)
            .filter(|s| fits(*s))
            .map(|s| local_date(s, &zone))
            .filter(|d| *d < first || *d > last)
            .collect();
        let distance = |d: &Date| {
            if *d < first {
                (first - *d).get_days()
            } else {
                (*d - last).get_days()
            }
        };
        let mut nearest: Vec<Date> = open_days.into_iter().collect();
        nearest.sort_by_key(|d| (distance(d), *d));
        nearest.truncate(MAX_OPTIONS);
        nearest.sort();
        nearest_available_days = nearest.iter().map(Date::to_string).collect();
        let spoken: Vec<String> = nearest
            .iter()
            .map(|d| speech::spoken_date(*d, today))
            .collect();
        if spoken.is_empty() {
            format!("Nothing is open {asked}, nor in the two weeks around it.")
        } else {
            format!(
                "Nothing is open {asked}. The nearest days with openings are {}.",
                speech::join_and(&spoken)
            )
        }
    } else {
        summarize_options(&options, &picked, starts.len(), &zone, today)
    };
    Ok(AvailabilityAnswer {
        date: if first == last {
            first.to_string()
        } else {
            format!("{first}/{last}")
        },
        timezone: zone_name(&zone),
        options,
        summary,
        nearest_available_days,
        duration_minutes: duration.as_mins(),
    })
}

/// "on Tuesday, March 12 in the morning", "between today and Sunday".
fn describe_request(
    first: Date,
    last: Date,
    single: bool,
    today: Date,
    part: Option<PartOfDay>,
) -> String {
    let days = if single || first == last {
        let day = speech::spoken_date(first, today);
        if first == today || first.checked_sub(1.day()).ok() == Some(today) {
            day
        } else {
            format!("on {day}")
        }
    } else {
        format!(
            "between {} and {}",
            speech::spoken_date(first, today),
            speech::spoken_date(last, today)
        )
    };
    match part {
        Some(part) => format!("{days} {}", part.phrase()),
        None => days,
    }
}

/// One line: "Tuesday I have 9 AM, 1 PM or 4:30 PM." when the options share a day, else
/// "I have today at 2 PM, Thursday at 10 AM or Friday at 4 PM."
fn summarize_options(
    options: &[SlotOption],
    picked: &[Timestamp],
    total: usize,
    zone: &TimeZone,
    today: Date,
) -> String {
    let dates: BTreeSet<Date> = picked.iter().map(|s| local_date(*s, zone)).collect();
    let more = if total > options.len() {
        format!(" ({total} openings in all)")
    } else {
        String::new()
    };
    if let [date] = dates.into_iter().collect::<Vec<_>>()[..] {
        let times: Vec<String> = picked
            .iter()
            .map(|s| speech::clock(s.to_zoned(zone.clone()).time()))
            .collect();
        let mut day = speech::spoken_date(date, today);
        if let Some(first) = day.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{day} I have {}{more}.", speech::join_or(&times))
    } else {
        let spoken: Vec<String> = options.iter().map(|o| o.spoken.clone()).collect();
        format!("I have {}{more}.", speech::join_or(&spoken))
    }
}

// ---------------------------------------------------------------------------------------------
// book_appointment

/// Books for the caller. On a call, idempotent per call and slot: a platform retrying the same
/// request gets the same booking back, never a second one.
///
/// # Errors
/// `invalid_name`, `invalid_phone`, `invalid_email`, `invalid_slot`, `invalid_time` (422);
/// `slot_unavailable` (409) with up to three alternatives; the engine's rejections (422).
pub async fn book_appointment(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return book_appointment_calcom(ctx, args).await;
    }
    book_appointment_native(ctx, args).await
}

/// The caller's details and notes, checked as the bookings API checks them.
fn caller_details(args: &BookAppointmentArgs) -> Result<(Attendee, Option<String>), ToolError> {
    let attendee = check_attendee(&AttendeeBody {
        name: args.name.clone(),
        phone: given(&args.phone).map(str::to_string),
        email: given(&args.email).map(str::to_string),
    })
    .map_err(|e| {
        let mut error = ToolError::from(e);
        if let Some(field) = &mut error.field {
            *field = field.trim_start_matches("attendee.").to_string();
        }
        error
    })?;
    let notes = match given(&args.notes) {
        Some(notes) if notes.chars().count() > 2000 => {
            return Err(ToolError::invalid(
                "notes",
                "too_long",
                "Notes may have at most 2000 characters.",
            ));
        }
        other => other.map(str::to_string),
    };
    Ok((attendee, notes))
}

/// Books on Cal.com for agents on the `calcom` backend. On a call, the call's key (call id,
/// agent and slot) is the adapter's idempotency hint, so a platform's retry finds the booking
/// the first attempt made instead of a "slot taken" or a second booking.
///
/// The confirmation code is Cal.com's booking uid: it is what Cal.com's own e-mails and pages
/// show, and what cancelling or rescheduling on Cal.com needs. It is too long to read out, so
/// the summary does not.
async fn book_appointment_calcom(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    let (attendee, notes) = caller_details(&args)?;
    let (start, slot_duration) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let duration = match slot_duration {
        Some(duration) => Some(duration),
        None => parse_minutes(args.duration)?,
    };
    let hint = given(&ctx.call_id).map(|call_id| call_key(call_id, ctx.agent, start, duration));
    let booked = crate::calcom::book(
        ctx.state,
        ctx.agent,
        start,
        duration,
        &attendee,
        notes.as_deref(),
        hint.as_deref(),
    )
    .await
    .map_err(calcom_error)?;
    let zone = agent_zone(ctx.agent);
    let spoken = speech::spoken_time(booked.start, &zone, Timestamp::now());
    Ok(BookingAnswer {
        booked: true,
        summary: format!(
            "You're booked {spoken}; you'll get a confirmation by e-mail with the details."
        ),
        spoken_code: speech::spell_code(&booked.uid),
        confirmation_code: booked.uid,
        start_time: speech::iso_with_offset(booked.start, &zone),
        spoken,
        host_name: String::new(),
    })
}

/// The idempotency key of a booking from a call: the call, the agent and the slot, hashed so
/// any call id fits.
fn call_key(
    call_id: &str,
    agent: &Agent,
    start: Timestamp,
    duration: Option<SignedDuration>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(call_id.as_bytes());
    hasher.update([0]);
    hasher.update(agent.id.as_bytes());
    hasher.update([0]);
    hasher.update(start.as_second().to_be_bytes());
    hasher.update(duration.map_or(0, |d| d.as_mins()).to_be_bytes());
    format!("voice-book:{}", hex::encode(hasher.finalize()))
}

/// Books for agents whose calendar lives here.
pub async fn book_appointment_native(
    ctx: &ToolContext<'_>,
    args: BookAppointmentArgs,
) -> Result<BookingAnswer, ToolError> {
    // Everything about the caller is checked before the call's key is claimed, so a corrected
    // phone number on a retry is not answered with the first attempt's error.
    let (attendee, notes) = caller_details(&args)?;
    let (start, slot_duration) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let duration = match slot_duration {
        Some(duration) => Some(duration),
        None => parse_minutes(args.duration)?,
    };
    let context = team(ctx).await?;
    let subject = Subject::Agent(context);
    let request = BookingRequest {
        start,
        duration,
        attendee,
        notes,
        call_id: ctx.call_id.clone(),
    };
    let body = match given(&ctx.call_id) {
        None => booking::book(ctx.state, ctx.tenant, &subject, &request, None)
            .await
            .map_err(|e| ToolError::from_api(e, ctx))?,
        Some(call_id) => {
            let key = call_key(call_id, ctx.agent, start, duration);
            // The slot alone makes two requests "the same": a retry with the caller's details
            // spelled differently still gets the one booking.
            let hash = request_hash(
                "voice-book",
                &ctx.agent.id.to_string(),
                &json!({"start": start.to_string(), "duration": duration.map(|d| d.as_mins())}),
            );
            match claim_key(ctx.state, ctx.tenant, &key, &hash).await {
                Err(e) => return Err(ToolError::from_api(e, ctx)),
                Ok(Some((status, body))) if status.is_success() => body,
                Ok(Some((status, body))) => {
                    return Err(ToolError::from_recorded(status, &body, ctx));
                }
                Ok(None) => {
                    match booking::book(
                        ctx.state,
                        ctx.tenant,
                        &subject,
                        &request,
                        Some((key.as_str(), hash.as_str())),
                    )
                    .await
                    {
                        Ok(body) => body,
                        Err(error) => {
                            settle_key(ctx.state, ctx.tenant, &key, &hash, &error).await;
                            return Err(ToolError::from_api(error, ctx));
                        }
                    }
                }
            }
        }
    };
    booking_answer(ctx, &body)
}

/// The spoken confirmation of a booking from the booking layer's view of it.
fn booking_answer(ctx: &ToolContext<'_>, body: &Value) -> Result<BookingAnswer, ToolError> {
    let zone = agent_zone(ctx.agent);
    let code = body["confirmation_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let start: Timestamp = body["start_time"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ToolError::from(ApiError::internal("booking view without start_time")))?;
    let host_name = body["user_name"].as_str().unwrap_or_default().to_string();
    let spoken = speech::spoken_time(start, &zone, Timestamp::now());
    let spoken_code = speech::spell_code(&code);
    let with = if host_name.is_empty() {
        String::new()
    } else {
        format!(" with {host_name}")
    };
    Ok(BookingAnswer {
        booked: true,
        summary: format!("You're booked{with} {spoken}; your confirmation code is {spoken_code}."),
        confirmation_code: code,
        spoken_code,
        start_time: speech::iso_with_offset(start, &zone),
        spoken,
        host_name,
    })
}

// ---------------------------------------------------------------------------------------------
// find, cancel, reschedule

/// A booking as the voice tools show it.
fn voice_view(ctx: &ToolContext<'_>, booking: &Booking, host_name: &str) -> Value {
    let zone = agent_zone(ctx.agent);
    json!({
        "confirmation_code": booking.confirmation_code,
        "spoken_code": speech::spell_code(&booking.confirmation_code),
        "status": booking.status,
        "start_time": speech::iso_with_offset(booking.start, &zone),
        "end_time": speech::iso_with_offset(booking.end, &zone),
        "spoken": speech::spoken_time(booking.start, &zone, Timestamp::now()),
        "host_name": host_name,
        "attendee_name": booking.attendee.name,
    })
}

fn booking_not_found() -> ToolError {
    ToolError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "I couldn't find an appointment with that confirmation code.",
    )
}

/// The agent's booking with this code. Bookings of the tenant's other agents are not found:
/// each line answers for its own appointments.
async fn booking_by_code(ctx: &ToolContext<'_>, raw: &str) -> Result<Booking, ToolError> {
    let code: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    if !looks_like_code(&code) {
        return Err(booking_not_found());
    }
    ctx.state
        .store
        .find_booking_by_code(ctx.tenant, &code)
        .await?
        .filter(|b| b.agent_id == Some(ctx.agent.id))
        .ok_or_else(booking_not_found)
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Finds the caller's appointment.
///
/// # Errors
/// `missing_parameter` (422) without a code, phone or e-mail; `not_found` (404).
pub async fn find_booking(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<Value, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return find_booking_calcom(ctx, args).await;
    }
    find_booking_native(ctx, args).await
}

/// Finds appointments of agents whose calendar lives here.
pub async fn find_booking_native(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<Value, ToolError> {
    let context = team(ctx).await?;
    let host = |b: &Booking| context.names.get(&b.user_id).cloned().unwrap_or_default();
    let found: Vec<Booking> = if let Some(code) = given(&args.confirmation_code) {
        vec![booking_by_code(ctx, code).await?]
    } else {
        let caller = CallerLookup::from_args(&args)?;
        let upcoming = ctx
            .state
            .store
            .list_bookings(
                ctx.tenant,
                &BookingFilter {
                    status: Some(BookingStatus::Confirmed),
                    agent_id: Some(ctx.agent.id),
                    from: Some(Timestamp::now()),
                    ..BookingFilter::default()
                },
            )
            .await?;
        upcoming
            .into_iter()
            .filter(|b| caller.matches(b.attendee.phone.as_deref(), b.attendee.email.as_deref()))
            .take(MAX_OPTIONS)
            .collect()
    };
    if found.is_empty() {
        return Err(nothing_upcoming());
    }
    let views: Vec<Value> = found.iter().map(|b| voice_view(ctx, b, &host(b))).collect();
    let lines: Vec<String> = found
        .iter()
        .map(|b| {
            let when = speech::spoken_time(b.start, &agent_zone(ctx.agent), Timestamp::now());
            let with = host(b);
            let state = if b.status == BookingStatus::Cancelled {
                " (cancelled)"
            } else {
                ""
            };
            if with.is_empty() {
                format!("{when}{state}")
            } else {
                format!("{when} with {with}{state}")
            }
        })
        .collect();
    Ok(json!({"found": true, "bookings": views, "summary": found_summary(&lines)}))
}

/// Who a caller looking for their appointment without its code is: the digits of their phone
/// (at least seven, matched at the end) and their e-mail (any case), one of them at least.
struct CallerLookup {
    phone: Option<String>,
    email: Option<String>,
}

impl CallerLookup {
    fn from_args(args: &FindBookingArgs) -> Result<Self, ToolError> {
        let phone = given(&args.phone).map(digits).filter(|d| d.len() >= 7);
        let email = given(&args.email).map(str::to_string);
        if phone.is_none() && email.is_none() {
            return Err(ToolError::invalid(
                "confirmation_code",
                "missing_parameter",
                "I need the confirmation code, or the phone number or e-mail the appointment \
                 was booked with.",
            ));
        }
        Ok(Self { phone, email })
    }

    /// Whether an attendee with this phone and e-mail is the caller.
    fn matches(&self, phone: Option<&str>, email: Option<&str>) -> bool {
        let phone_ok = self
            .phone
            .as_ref()
            .is_some_and(|given| phone.is_some_and(|p| digits(p).ends_with(given.as_str())));
        let email_ok = self
            .email
            .as_ref()
            .is_some_and(|given| email.is_some_and(|e| e.eq_ignore_ascii_case(given)));
        phone_ok || email_ok
    }
}

fn nothing_upcoming() -> ToolError {
    ToolError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "I couldn't find an upcoming appointment under that phone number or e-mail.",
    )
}

/// "I found your appointment …" for one appointment's spoken line, or a list of several.
fn found_summary(lines: &[String]) -> String {
    match lines {
        [one] => format!("I found your appointment {one}."),
        _ => format!(
            "I found {} appointments: {}.",
            lines.len(),
            speech::join_and(lines)
        ),
    }
}

/// The answer to a cancellation: done now, or done before.
fn cancel_summary(when: &str, already: bool) -> String {
    if already {
        format!("That appointment, {when}, was already cancelled.")
    } else {
        format!("Your appointment {when} is cancelled.")
    }
}

/// Cancels the caller's appointment. Cancelling twice answers the same.
///
/// # Errors
/// `not_found` (404) for a code this agent did not book.
pub async fn cancel_booking(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<Value, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return cancel_booking_calcom(ctx, args).await;
    }
    cancel_booking_native(ctx, args).await
}

/// Cancels for agents whose calendar lives here.
pub async fn cancel_booking_native(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<Value, ToolError> {
    let booking = booking_by_code(ctx, &args.confirmation_code).await?;
    let already = booking.status == BookingStatus::Cancelled;
    let reason = given(&args.reason).map(str::to_string);
    let (_, view) = crate::http::bookings::do_cancel(ctx.state, &booking, reason, None)
        .await
        .map_err(|e| ToolError::from_api(e, ctx))?;
    let host = view.0["user_name"].as_str().unwrap_or_default().to_string();
    let when = speech::spoken_time(booking.start, &agent_zone(ctx.agent), Timestamp::now());
    let summary = cancel_summary(&when, already);
    let mut cancelled = booking.clone();
    cancelled.status = BookingStatus::Cancelled;
    Ok(json!({
        "cancelled": true,
        "booking": voice_view(ctx, &cancelled, &host),
        "summary": summary,
    }))
}

/// Moves the caller's appointment; the old time is released only if the new one is taken.
///
/// # Errors
/// `not_found` (404); `slot_unavailable` (409) with alternatives; `booking_not_confirmed`
/// (409) for a cancelled booking; the engine's rejections (422).
pub async fn reschedule_booking(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<Value, ToolError> {
    if ctx.agent.backend == AgentBackend::Calcom {
        return reschedule_booking_calcom(ctx, args).await;
    }
    reschedule_booking_native(ctx, args).await
}

/// Reschedules for agents whose calendar lives here.
pub async fn reschedule_booking_native(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<Value, ToolError> {
    let booking = booking_by_code(ctx, &args.confirmation_code).await?;
    let (start, _) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let (_, view) = crate::http::bookings::do_reschedule(ctx.state, &booking, start, None)
        .await
        .map_err(|e| ToolError::from_api(e, ctx))?;
    let host = view.0["user_name"].as_str().unwrap_or_default().to_string();
    let mut moved = booking.clone();
    moved.end = start
        .checked_add(booking.end.duration_since(booking.start))
        .unwrap_or(booking.end);
    moved.start = start;
    let when = speech::spoken_time(start, &agent_zone(ctx.agent), Timestamp::now());
    let with = if host.is_empty() {
        String::new()
    } else {
        format!(" with {host}")
    };
    Ok(json!({
        "rescheduled": true,
        "booking": voice_view(ctx, &moved, &host),
        "summary": format!(
            "Your appointment is moved to {when}{with}; your confirmation code stays {}.",
            speech::spell_code(&booking.confirmation_code)
        ),
    }))
}

// ---------------------------------------------------------------------------------------------
// find, cancel, reschedule on Cal.com
//
// A Cal.com booking's confirmation code is its uid: what Cal.com's own e-mails show and what
// cancelling or moving it needs. It is too long to read out, so summaries don't; the agent
// keeps it from `find_booking`'s answer. The in-call API's `BK_cal_` form is taken too.

/// The uid a caller or agent gave: trimmed, without the in-call `BK_cal_` prefix. Uids are
/// case-sensitive, so the case is kept.
fn calcom_uid(raw: &str) -> Result<&str, ToolError> {
    let uid = raw.trim();
    let uid = uid.strip_prefix("BK_cal_").unwrap_or(uid);
    if uid.is_empty() {
        return Err(ToolError::invalid(
            "confirmation_code",
            "missing_parameter",
            "I need the confirmation code of the appointment.",
        ));
    }
    Ok(uid)
}

/// A Cal.com failure about one booking: an unknown (or another agent's) uid is the same
/// "couldn't find" as on the native path.
fn calcom_booking_error(error: crate::calcom::CalcomBackendError) -> ToolError {
    let error = calcom_error(error);
    if error.code == "not_found" {
        booking_not_found()
    } else {
        error
    }
}

/// A Cal.com booking as the voice tools show it (the native view's fields; no host name).
fn calcom_view(ctx: &ToolContext<'_>, booking: &crate::calcom::CalcomBooked) -> Value {
    let zone = agent_zone(ctx.agent);
    let status = match booking.status.as_str() {
        "accepted" => "confirmed",
        other => other,
    };
    json!({
        "confirmation_code": booking.uid,
        "status": status,
        "start_time": speech::iso_with_offset(booking.start, &zone),
        "end_time": speech::iso_with_offset(booking.end, &zone),
        "spoken": speech::spoken_time(booking.start, &zone, Timestamp::now()),
        "host_name": "",
        "attendee_name": booking.attendee.as_ref().map_or("", |a| a.name.as_str()),
    })
}

/// Finds the caller's Cal.com appointments: by uid, or among the agent's upcoming bookings by
/// the attendee's e-mail (any case) or phone (the last digits given, at least seven).
async fn find_booking_calcom(
    ctx: &ToolContext<'_>,
    args: FindBookingArgs,
) -> Result<Value, ToolError> {
    let found = if let Some(code) = given(&args.confirmation_code) {
        vec![
            crate::calcom::booking(ctx.state, ctx.agent, calcom_uid(code)?)
                .await
                .map_err(calcom_booking_error)?,
        ]
    } else {
        let caller = CallerLookup::from_args(&args)?;
        crate::calcom::upcoming(ctx.state, ctx.agent)
            .await
            .map_err(calcom_error)?
            .into_iter()
            .filter(|booking| {
                booking
                    .attendee
                    .as_ref()
                    .is_some_and(|a| caller.matches(a.phone_number.as_deref(), a.email.as_deref()))
            })
            .take(MAX_OPTIONS)
            .collect()
    };
    if found.is_empty() {
        return Err(nothing_upcoming());
    }
    let zone = agent_zone(ctx.agent);
    let lines: Vec<String> = found
        .iter()
        .map(|b| {
            let when = speech::spoken_time(b.start, &zone, Timestamp::now());
            if b.status == "cancelled" {
                format!("{when} (cancelled)")
            } else {
                when
            }
        })
        .collect();
    let views: Vec<Value> = found.iter().map(|b| calcom_view(ctx, b)).collect();
    Ok(json!({"found": true, "bookings": views, "summary": found_summary(&lines)}))
}

/// Cancels a Cal.com appointment of this agent's. Cancelling twice answers the same.
async fn cancel_booking_calcom(
    ctx: &ToolContext<'_>,
    args: CancelBookingArgs,
) -> Result<Value, ToolError> {
    let uid = calcom_uid(&args.confirmation_code)?;
    let (before, cancelled) = crate::calcom::cancel(ctx.state, ctx.agent, uid, given(&args.reason))
        .await
        .map_err(calcom_booking_error)?;
    let when = speech::spoken_time(before.start, &agent_zone(ctx.agent), Timestamp::now());
    Ok(json!({
        "cancelled": true,
        "booking": calcom_view(ctx, &cancelled),
        "summary": cancel_summary(&when, before.status == "cancelled"),
    }))
}

/// Moves a Cal.com appointment of this agent's. Cal.com gives the moved booking a new uid,
/// which the answer carries as the new confirmation code.
async fn reschedule_booking_calcom(
    ctx: &ToolContext<'_>,
    args: RescheduleBookingArgs,
) -> Result<Value, ToolError> {
    let uid = calcom_uid(&args.confirmation_code)?;
    let (start, _) = requested_slot(ctx, &args.slot_id, &args.start_time)?;
    let moved = crate::calcom::reschedule(ctx.state, ctx.agent, uid, start, None)
        .await
        .map_err(calcom_booking_error)?;
    let when = speech::spoken_time(moved.start, &agent_zone(ctx.agent), Timestamp::now());
    Ok(json!({
        "rescheduled": true,
        "previous_confirmation_code": uid,
        "booking": calcom_view(ctx, &moved),
        "summary": format!(
            "Your appointment is moved to {when}; you'll get an updated confirmation by e-mail."
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_as_dates_relative_words_or_weekdays() {
        // Wednesday, March 6, 2024.
        let today = Date::constant(2024, 3, 6);
        assert_eq!(
            parse_day("date", "2024-03-12", today).unwrap(),
            Date::constant(2024, 3, 12)
        );
        assert_eq!(parse_day("date", "Today", today).unwrap(), today);
        assert_eq!(
            parse_day("date", "tomorrow", today).unwrap(),
            Date::constant(2024, 3, 7)
        );
        assert_eq!(
            parse_day("date", "tuesday", today).unwrap(),
            Date::constant(2024, 3, 12)
        );
        assert_eq!(parse_day("date", "Wednesday", today).unwrap(), today);
        let error = parse_day("date", "someday", today).unwrap_err();
        assert_eq!(
            (error.code.as_str(), error.field.as_deref()),
            ("invalid_date", Some("date"))
        );
    }

    #[test]
    fn a_range_defaults_to_a_week_and_past_days_are_refused() {
        let today = Date::constant(2024, 3, 6);
        let none = CheckAvailabilityArgs::default();
        assert_eq!(
            requested_days(&none, today).unwrap(),
            (today, Date::constant(2024, 3, 12), false)
        );
        let past = CheckAvailabilityArgs {
            date: Some("2024-03-01".into()),
            ..Default::default()
        };
        assert_eq!(
            requested_days(&past, today).unwrap_err().code,
            "in_the_past"
        );
        let both = CheckAvailabilityArgs {
            date: Some("2024-03-08".into()),
            start_date: Some("2024-03-08".into()),
            ..Default::default()
        };
        assert_eq!(
            requested_days(&both, today).unwrap_err().code,
            "conflicting_parameters"
        );
        let backwards = CheckAvailabilityArgs {
            start_date: Some("2024-03-09".into()),
            end_date: Some("2024-03-08".into()),
            ..Default::default()
        };
        assert_eq!(
            requested_days(&backwards, today).unwrap_err().code,
            "invalid_range"
        );
    }

    #[test]
    fn local_start_times_are_read_in_the_business_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // March 10, 2024 is the spring-forward day: 14:00 is EDT (UTC-4).
        assert_eq!(
            parse_start("start_time", "2024-03-10T14:00", &ny).unwrap(),
            "2024-03-10T18:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_start("start_time", "2024-03-09T14:00:00Z", &ny).unwrap(),
            "2024-03-09T14:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_start("start_time", "2pm", &ny).is_err());
    }

    #[test]
    fn argument_schemas_are_plain_inline_objects() {
        for spec in tool_specs() {
            let schema = (spec.schema)();
            assert_eq!(schema["type"], "object", "{}", spec.name);
            assert!(schema.get("$schema").is_none());
            let text = schema.to_string();
            assert!(!text.contains("$ref"), "{}: {text}", spec.name);
            assert!(!text.contains("\"null\""), "{}: {text}", spec.name);
        }
        let availability = args_schema::<CheckAvailabilityArgs>();
        assert_eq!(
            availability["properties"]["part_of_day"]["enum"],
            json!(["morning", "afternoon", "evening"])
        );
        assert_eq!(availability["properties"]["duration"]["type"], "integer");
        let book = args_schema::<BookAppointmentArgs>();
        assert_eq!(book["required"], json!(["name"]));
    }

    #[test]
    fn arguments_accept_quoted_numbers_and_blank_parts_of_day() {
        let args: CheckAvailabilityArgs =
            serde_json::from_value(json!({"duration": "45", "part_of_day": ""})).unwrap();
        assert_eq!(args.duration, Some(45));
        assert_eq!(args.part_of_day, None);
        let args: CheckAvailabilityArgs =
            serde_json::from_value(json!({"part_of_day": "Afternoon"})).unwrap();
        assert_eq!(args.part_of_day, Some(PartOfDay::Afternoon));
        assert!(
            serde_json::from_value::<CheckAvailabilityArgs>(json!({"part_of_day": "noonish"}))
                .is_err()
        );
    }
}
