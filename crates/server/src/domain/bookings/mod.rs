//! Booking: settings, assignment, conflict handling and idempotency.
//!
//! The engine and the calendar cache decide quickly who could take a slot; the store's
//! transaction is the authority (an exclusion constraint on PostgreSQL, an immediate
//! transaction on SQLite). A team booking whose chosen member lost a race falls through to the
//! next member in the strategy's order.

mod cancel;
mod collective;
mod create;
mod idempotency;
mod request;
mod reschedule;
mod series;
mod series_move;
mod settings;
mod team;
mod view;

pub use cancel::*;
pub use create::*;
pub use idempotency::*;
pub use request::*;
pub use reschedule::*;
pub use series::*;
pub use series_move::*;
pub use settings::*;
pub use team::*;
pub use view::*;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::{Candidate, Interval, SlotRejection, Strategy};
use pillow_store::{
    Agent, Attendee, Booking, Constraint, IdempotencyState, IdempotentResponse, NewBooking, NewJob,
    StoreError, TenantId, User,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::AppState;
use crate::domain::availability::{MemberCalendar, team_availability};
use crate::domain::error::{DomainError, DomainResult};

/// Letters and digits that cannot be mistaken for one another when read aloud or written down
/// (no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B).
pub const CODE_ALPHABET: &[u8] = b"ACDEFHJKMNPQRTUVWXY3479";
pub const CODE_LEN: usize = 9;

/// A fresh confirmation code like `ABC123XYZ`: nine characters.
pub fn new_confirmation_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Whether a string could be a confirmation code (so ids and codes share one path segment).
pub fn looks_like_code(text: &str) -> bool {
    text.len() == CODE_LEN
        && text
            .bytes()
            .all(|b| CODE_ALPHABET.contains(&b.to_ascii_uppercase()))
}

/// How long a process reuses an agent's team without asking the database. Changes made through
/// this process invalidate it at once; other processes see them within this time. Bookings are
/// unaffected: the store's transaction always has the last word.
pub(crate) const TEAM_TTL: Duration = Duration::from_secs(5);

/// A team context and when it was read.
type CachedTeam = (std::time::Instant, std::sync::Arc<TeamContext>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_codes_are_nine_unambiguous_characters() {
        for _ in 0..1000 {
            let code = new_confirmation_code();
            assert_eq!(code.len(), 9);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
            assert!(!code.contains(['0', 'O', '1', 'I', 'L', '5', 'S', '8', 'B', '2', 'Z']));
            assert!(looks_like_code(&code));
        }
        assert!(!looks_like_code("0188f0f0-aaaa"));
    }

    #[test]
    fn templates_fill_known_variables_and_report_their_names() {
        let values = HashMap::from([("customer_name", "Ada".to_string()), ("notes", "hi".into())]);
        assert_eq!(
            render_template("Appointment with {{customer_name}} ({{ notes }})", &values),
            "Appointment with Ada (hi)"
        );
        assert_eq!(
            template_variables("{{a}} and {{ b }}").unwrap(),
            vec!["a", "b"]
        );
        assert!(template_variables("{{broken").is_err());
    }

    #[test]
    fn the_same_request_hashes_alike_and_a_different_one_does_not() {
        let body = json!({"start_time": "2030-01-01T09:00:00Z"});
        assert_eq!(
            request_hash("book", "u", &body),
            request_hash("book", "u", &body)
        );
        assert_ne!(
            request_hash("book", "u", &body),
            request_hash("book", "v", &body)
        );
        assert_ne!(
            request_hash("book", "u", &body),
            request_hash("book", "u", &json!({"start_time": "2030-01-01T09:30:00Z"}))
        );
    }
}
