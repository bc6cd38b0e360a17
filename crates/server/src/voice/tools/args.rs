//! What each tool takes and answers, as the platforms' JSON Schema describes it. Models are
//! lenient about types, so are we.

use super::*;

/// Accepts a number or a numeric string: models often quote numbers.
pub(crate) fn lenient_minutes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
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
pub(crate) fn lenient_part_of_day<'de, D: Deserializer<'de>>(
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
    /// One of the business's appointment types, by name or slug. Listed in the schema only for
    /// agents that have types (see `voice::definitions::with_appointment_types`).
    #[serde(default)]
    #[schemars(skip)]
    pub appointment_type: Option<String>,
    /// What to offer first: "earliest" (the soonest times) or "same_time_as_last" (the time of
    /// the caller's previous appointment, on different days).
    #[serde(default, deserialize_with = "lenient_preference")]
    #[schemars(with = "Option<Preference>")]
    pub prefer: Option<Preference>,
    /// A day of the week the caller prefers within the range, e.g. "tuesday".
    #[serde(default)]
    pub weekday: Option<String>,
    /// The caller's phone number, when they gave one (the call's own number is used anyway):
    /// finds their upcoming appointment and offers their previous host first.
    #[serde(default)]
    pub caller_phone: Option<String>,
    /// The caller's e-mail, when they gave it, for the same.
    #[serde(default)]
    pub caller_email: Option<String>,
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
    /// One of the business's appointment types, by name or slug (as for check_availability).
    #[serde(default)]
    #[schemars(skip)]
    pub appointment_type: Option<String>,
    /// A recurring series starting at the chosen time, as on `POST /api/calendar/booking`:
    /// `{"frequency": "weekly", "count": 6}` or an RRULE string ("FREQ=WEEKLY;COUNT=6").
    /// Every occurrence is booked, or none.
    #[serde(default)]
    #[schemars(skip)]
    pub recurrence: Option<serde_json::Value>,
    /// With `recurrence`: book the occurrences that are free and skip the rest.
    #[serde(default)]
    #[schemars(skip)]
    pub allow_partial: Option<bool>,
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
    /// For a recurring appointment: `occurrence` (default), `following` (this one and the
    /// later ones) or `series` (all of them), each moved by the same change of day and time.
    #[serde(default)]
    #[schemars(skip)]
    pub scope: Option<String>,
}
