//! What a booking request carries, checked: the attendee, notes, duration, and whom it books.

use super::*;
use crate::domain::error::ErrorCode;

#[derive(Debug, Deserialize, ToSchema, Clone, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttendeeBody {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A phone number: an optional `+`, then 7 to 15 digits, with spaces, dots, dashes and
/// brackets allowed between them.
pub fn check_phone(field: &str, phone: &str) -> DomainResult<String> {
    let phone = phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0));
    if allowed && (7..=15).contains(&digits) {
        Ok(phone.to_string())
    } else {
        Err(DomainError::invalid(
            field,
            ErrorCode::InvalidPhone,
            format!("{phone:?} is not a phone number such as +1 234 567 8900."),
        ))
    }
}

/// Checks an attendee; name required, e-mail and phone optional but well-formed.
pub fn check_attendee(body: &AttendeeBody) -> DomainResult<Attendee> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DomainError::invalid(
            "attendee.name",
            ErrorCode::InvalidName,
            "The attendee's name is required (at most 200 characters).",
        ));
    }
    let email = body
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            crate::domain::users::check_email(e)
                .map_err(|error| DomainError::from_user("attendee.email", error))
        })
        .transpose()?;
    let phone = body
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(|p| check_phone("attendee.phone", p))
        .transpose()?;
    Ok(Attendee {
        name: name.to_string(),
        email,
        phone,
    })
}

pub(crate) fn parse_duration(raw: Option<i64>) -> DomainResult<Option<SignedDuration>> {
    match raw {
        None => Ok(None),
        Some(minutes) if (5..=1440).contains(&minutes) => {
            Ok(Some(SignedDuration::from_mins(minutes)))
        }
        Some(_) => Err(DomainError::invalid(
            "duration",
            ErrorCode::InvalidDuration,
            "`duration` is a whole number of minutes from 5 to 1440.",
        )),
    }
}

pub(crate) fn check_notes(notes: Option<String>) -> DomainResult<Option<String>> {
    match notes {
        Some(n) if n.chars().count() > 2000 => Err(DomainError::invalid(
            "notes",
            ErrorCode::TooLong,
            "Notes may have at most 2000 characters.",
        )),
        other => Ok(other.filter(|n| !n.trim().is_empty())),
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
#[derive(Clone)]
pub struct BookingRequest {
    pub start: Timestamp,
    pub duration: Option<SignedDuration>,
    pub attendee: Attendee,
    pub notes: Option<String>,
    pub call_id: Option<String>,
    /// The member to give it to when free (a returning caller's previous host), before the
    /// team's usual order.
    pub preferred_host: Option<pillow_store::UserId>,
    /// Where the request came in (the edge that took it), recorded on the booking.
    pub channel: pillow_store::BookingChannel,
}
