//! Reminders: whether one that has come due is still wanted. They are queued with the booking
//! (and again on every move) as outbox jobs that run at their due time; what was true when they
//! were queued may not be when they run, so the deliverer asks here first.

use jiff::{SignedDuration, Timestamp};
use pillow_store::{Booking, BookingStatus};

use crate::outbox::Reminder;

/// How late a reminder may still go out. Later than this after its due time (the server or
/// the mail server was down, a backlog) it is dropped: a "see you tomorrow" that arrives an
/// hour before, or after the appointment, misleads more than it helps.
pub const LATE_AFTER: SignedDuration = SignedDuration::from_mins(15);

/// Why a due reminder is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The booking was cancelled (or deleted).
    Cancelled,
    /// The booking moved: the reminders for its new start were queued with the move.
    Moved,
    /// Its time passed while it could not be sent.
    TooLate,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Cancelled => "cancelled",
            Skip::Moved => "moved",
            Skip::TooLate => "too_late",
        }
    }
}

/// Whether `reminder` of `booking` (`None`: gone) is to be sent at `now`.
///
/// # Errors
/// The reason it is not.
pub fn still_wanted(
    reminder: &Reminder,
    booking: Option<&Booking>,
    now: Timestamp,
) -> Result<(), Skip> {
    let Some(booking) = booking else {
        return Err(Skip::Cancelled);
    };
    if booking.status == BookingStatus::Cancelled {
        return Err(Skip::Cancelled);
    }
    if booking.start != reminder.start {
        return Err(Skip::Moved);
    }
    let late = reminder
        .due()
        .checked_add(LATE_AFTER)
        .unwrap_or(Timestamp::MAX);
    if now > late || now >= booking.start {
        return Err(Skip::TooLate);
    }
    Ok(())
}
