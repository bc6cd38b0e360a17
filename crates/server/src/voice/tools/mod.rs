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

mod answers;
mod args;
mod availability;
mod book;
mod calcom;
mod cancel;
mod error;
mod find;
mod reading;
mod reschedule;
mod show;
mod specs;
mod suggest;

pub use answers::*;
pub use args::*;
pub use availability::*;
pub use book::*;
use calcom::*;
pub use cancel::*;
pub use error::*;
pub use find::*;
pub use reading::*;
pub use reschedule::*;
pub use show::*;
pub use specs::*;
pub use suggest::*;

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
use crate::domain::bookings::{
    self as booking, BookingRequest, BookingView, Subject, TeamContext, looks_like_code,
    request_hash,
};
use crate::domain::bookings::{AttendeeBody, check_attendee};
use crate::domain::error::{DomainError, ErrorCode};
use crate::slot_id::SlotRef;

/// At most this many options per answer: more is too much to listen to.
pub const MAX_OPTIONS: usize = 3;
/// The longest range one availability question may cover.
pub(crate) const MAX_RANGE_DAYS: i32 = 31;
/// How far from a full day we look for the nearest days that are not.
pub(crate) const NEAREST_DAYS_SEARCH: i32 = 14;

/// Who is calling a tool: the agent (and so the tenant) and, on a live call, the call's id,
/// which makes a booking idempotent for that call and slot.
pub struct ToolContext<'a> {
    pub state: &'a AppState,
    pub tenant: TenantId,
    pub agent: &'a Agent,
    pub call_id: Option<String>,
    /// The caller's phone number as the platform reports it (`from_number`), which recognises
    /// a returning caller without asking.
    pub caller_number: Option<String>,
    /// Which platform the call came through, recorded on the bookings it makes.
    pub channel: pillow_store::BookingChannel,
}

/// Runs a tool by name with JSON arguments: the one dispatcher of every platform.
///
/// # Errors
/// `unknown_tool` (404) for a name not in [`tool_specs`], `invalid_arguments` (400) when the
/// arguments do not fit the tool, else the tool's own error.
pub async fn call_tool(ctx: &ToolContext<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    let answer = match name {
        "check_availability" => to_value(check_availability(ctx, read_args(args)?).await?),
        "book_appointment" => to_value(book_appointment(ctx, read_args(args)?).await?),
        "find_booking" => to_value(find_booking(ctx, read_args(args)?).await?),
        "cancel_booking" => to_value(cancel_booking(ctx, read_args(args)?).await?),
        "reschedule_booking" => to_value(reschedule_booking(ctx, read_args(args)?).await?),
        "show_booking_calendar" => to_value(show_booking_calendar(ctx, read_args(args)?).await?),
        "get_call_booking_state" => to_value(get_call_booking_state(ctx, read_args(args)?).await?),
        other => {
            return Err(ToolError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UnknownTool,
                format!(
                    "There is no tool called {other:?}; the tools are check_availability, \
                     book_appointment, find_booking, cancel_booking, reschedule_booking, \
                     show_booking_calendar and get_call_booking_state."
                ),
            ));
        }
    };
    Ok(answer)
}

/// A tool's arguments from JSON (`null` reads as no arguments).
///
/// # Errors
/// `invalid_arguments` (400) naming the argument that does not fit.
pub fn read_args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    let args = if args.is_null() { json!({}) } else { args };
    crate::json::from_value(args).map_err(|e| {
        let mut error = ToolError::from(e);
        error.code = ErrorCode::InvalidArguments;
        error
    })
}

pub(crate) fn to_value<T: Serialize>(answer: T) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}

/// The agent's appointment type a tool's arguments name, if any. When nothing names one and
/// the agent has several, or a phrase fits several, or none, the caller is asked which one
/// with a short question naming the candidates (`appointment_type_required` or
/// `unknown_appointment_type`, 422); a lone type or none keeps the agent's default as before.
pub(crate) async fn appointment_type(
    ctx: &ToolContext<'_>,
    raw: Option<&str>,
) -> Result<Option<crate::domain::appointment_types::Offered>, ToolError> {
    typed_request(ctx, raw, None).await
}

/// [`appointment_type`], where a slot id may already carry the type (`from_slot`); a type the
/// caller names wins over the slot's.
pub(crate) async fn typed_request(
    ctx: &ToolContext<'_>,
    raw: Option<&str>,
    from_slot: Option<uuid::Uuid>,
) -> Result<Option<crate::domain::appointment_types::Offered>, ToolError> {
    use crate::domain::appointment_types::{candidates, find, list};
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let types = list(ctx.state, ctx.tenant, ctx.agent.id).await?;
    let wanted = raw
        .map(str::to_string)
        .or(from_slot.map(|id| id.to_string()));
    let Some(wanted) = wanted else {
        if types.len() < 2 {
            return Ok(None);
        }
        let names: Vec<String> = types.iter().map(|t| t.body.name.clone()).collect();
        return Err(ToolError::invalid(
            "appointment_type",
            ErrorCode::AppointmentTypeRequired,
            format!("Is that for {}?", speech::join_or(&names)),
        ));
    };
    if let Some(found) = find(&types, &wanted) {
        return Ok(Some(found.clone()));
    }
    let fitting = candidates(&types, &wanted);
    let names: Vec<String> = if fitting.len() > 1 {
        fitting.iter().map(|t| t.body.name.clone()).collect()
    } else {
        types.iter().map(|t| t.body.name.clone()).collect()
    };
    let message = if names.is_empty() {
        "We book one kind of appointment here, so there is no type to choose.".to_string()
    } else if fitting.len() > 1 {
        format!("Do you mean {}?", speech::join_or(&names))
    } else {
        format!(
            "We offer {}; which one would you like?",
            speech::join_or(&names)
        )
    };
    Err(ToolError::invalid(
        "appointment_type",
        ErrorCode::UnknownAppointmentType,
        message,
    ))
}

pub(crate) async fn team(ctx: &ToolContext<'_>) -> Result<Arc<TeamContext>, ToolError> {
    Ok(ctx
        .state
        .teams
        .get(ctx.state, ctx.tenant, ctx.agent.id)
        .await?)
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
        assert_eq!(
            parse_day("date", "Next week", today).unwrap(),
            Date::constant(2024, 3, 11)
        );
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
