//! What the tools answer: one struct per answer, so the tool definitions, the OpenAPI entries of
//! the voice endpoints and what is sent are the same thing.

use super::*;

/// What `check_availability` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
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
    /// Why the first option was put forward, to say before the options (e.g. "Dr. Lee is free,
    /// as last time.").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A returning caller's next appointment, recognised by their number or e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upcoming_booking: Option<AppointmentView>,
}
/// One bookable time.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct SlotOption {
    /// Opaque id to book exactly this time (pass it to book_appointment).
    pub slot_id: String,
    /// RFC 3339 with the business's offset, e.g. 2024-03-12T14:00:00-04:00.
    pub start_time: String,
    pub end_time: String,
    /// How to say it, e.g. "Tuesday at 2 PM".
    pub spoken: String,
}
/// What `book_appointment` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
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
    /// For a recurring series: how many appointments were booked (the code is the first's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<usize>,
}
/// An appointment as the voice tools show it.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct AppointmentView {
    /// What the caller reads back to find it again.
    pub confirmation_code: String,
    /// The code spelled for speech; absent for a Cal.com uid, which is too long to read out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoken_code: Option<String>,
    /// `confirmed` or `cancelled`.
    pub status: String,
    /// RFC 3339 with the business's offset.
    pub start_time: String,
    pub end_time: String,
    /// e.g. "Tuesday at 2 PM".
    pub spoken: String,
    /// Who the appointment is with; empty when not known.
    pub host_name: String,
    pub attendee_name: String,
}
/// What `find_booking` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct FindAnswer {
    pub found: bool,
    /// At most three, soonest first.
    pub bookings: Vec<AppointmentView>,
    /// One line the agent can read out.
    pub summary: String,
}
/// What `cancel_booking` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct CancelAnswer {
    pub cancelled: bool,
    pub booking: AppointmentView,
    /// One line the agent can read out; says so when it was cancelled before.
    pub summary: String,
}
/// What `reschedule_booking` answers.
#[derive(Debug, Clone, Serialize, JsonSchema, utoipa::ToSchema)]
pub struct RescheduleAnswer {
    pub rescheduled: bool,
    /// The code before the move, when moving gave the booking a new one (Cal.com does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_confirmation_code: Option<String>,
    pub booking: AppointmentView,
    /// One line the agent can read out.
    pub summary: String,
}
