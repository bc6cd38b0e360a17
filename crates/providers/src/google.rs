//! A client for Google Calendar v3 and Google OAuth 2.0.
//!
//! Every base URL is configuration ([`GoogleEndpoints`]), so tests and local demos point the
//! real client at `pillow_fakes::google::FakeGoogle` over loopback HTTP.
//!
//! - [`GoogleOAuth`]: the web flow with offline access and PKCE, refresh and revoke.
//! - [`GoogleCalendar`]: `events.list` (full and incremental sync), get, insert, patch, delete,
//!   `events.watch` and `channels.stop`, retrying rate limits and 5xx with backoff and jitter.
//! - [`event_id_for`]: the deterministic event ids we write, so a retried insert can never
//!   create a second event.

mod calendar;
mod error;
mod event;
mod oauth;

pub use calendar::{Channel, EventsPage, GoogleCalendar, ListEvents, RetryPolicy, WatchRequest};
pub use error::GoogleError;
pub use event::{
    Attendee, EventDateTime, EventStatus, ExtendedProperties, GoogleEvent, Transparency,
};
pub use oauth::{GoogleOAuth, TokenGrant, pkce_pair};

use data_encoding::BASE32HEX_NOPAD;

/// The scope we ask for: read and write events, nothing else in the user's calendars.
pub const CALENDAR_EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

/// Where Google lives. `Default` is the real Google; tests and demos point these at a fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    /// The consent page users are sent to.
    pub authorize_url: String,
    /// The OAuth token endpoint (code exchange and refresh).
    pub token_url: String,
    /// The OAuth revoke endpoint.
    pub revoke_url: String,
    /// The Calendar API root, ending in `/calendar/v3` (no trailing slash).
    pub calendar_base: String,
}

impl Default for GoogleEndpoints {
    fn default() -> Self {
        Self {
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            calendar_base: "https://www.googleapis.com/calendar/v3".into(),
        }
    }
}

/// The prefix of every event id we write, so our own events are easy to recognise.
const EVENT_ID_PREFIX: &str = "pc";

/// The deterministic Google event id for one of our objects (`kind` is e.g. `"booking"`).
///
/// Google accepts ids of 5 to 1024 characters from base32hex (`a-v`, `0-9`). The id is
/// `pc` + base32hex(kind) + base32hex(uuid): the uuid part is always 26 characters, so
/// [`parse_event_id`] can take the id apart again. Inserting the same booking twice therefore
/// asks Google for the same id, and the second insert answers 409 instead of duplicating.
///
/// # Example
/// ```
/// use pillow_providers::google::{event_id_for, parse_event_id};
/// let booking = uuid::Uuid::nil();
/// let id = event_id_for("booking", booking);
/// assert_eq!(id, event_id_for("booking", booking));
/// assert_eq!(parse_event_id(&id), Some(("booking".to_string(), booking)));
/// ```
pub fn event_id_for(kind: &str, id: uuid::Uuid) -> String {
    let mut out = String::from(EVENT_ID_PREFIX);
    out.push_str(&BASE32HEX_NOPAD.encode(kind.as_bytes()).to_ascii_lowercase());
    out.push_str(&BASE32HEX_NOPAD.encode(id.as_bytes()).to_ascii_lowercase());
    out
}

/// The `(kind, uuid)` behind an id made by [`event_id_for`], or `None` for anyone else's id.
pub fn parse_event_id(event_id: &str) -> Option<(String, uuid::Uuid)> {
    const UUID_CHARS: usize = 26;
    let body = event_id.strip_prefix(EVENT_ID_PREFIX)?;
    if body.len() < UUID_CHARS || !body.is_ascii() {
        return None;
    }
    let (kind, id) = body.split_at(body.len() - UUID_CHARS);
    let kind = BASE32HEX_NOPAD
        .decode(kind.to_ascii_uppercase().as_bytes())
        .ok()?;
    let id = BASE32HEX_NOPAD
        .decode(id.to_ascii_uppercase().as_bytes())
        .ok()?;
    Some((
        String::from_utf8(kind).ok()?,
        uuid::Uuid::from_slice(&id).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_google_id(id: &str) -> bool {
        (5..=1024).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
    }

    #[test]
    fn event_ids_use_only_googles_base32hex_alphabet() {
        for kind in ["booking", "event", "xyz-wz", "ÿ"] {
            for _ in 0..50 {
                let id = event_id_for(kind, uuid::Uuid::new_v4());
                assert!(is_valid_google_id(&id), "{id} is not a valid Google id");
            }
        }
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct_per_kind_and_uuid() {
        let a = uuid::Uuid::new_v4();
        let b = uuid::Uuid::new_v4();
        assert_eq!(event_id_for("booking", a), event_id_for("booking", a));
        assert_ne!(event_id_for("booking", a), event_id_for("booking", b));
        assert_ne!(event_id_for("booking", a), event_id_for("event", a));
    }

    #[test]
    fn event_ids_parse_back_and_foreign_ids_do_not() {
        let a = uuid::Uuid::new_v4();
        assert_eq!(
            parse_event_id(&event_id_for("event", a)),
            Some(("event".into(), a))
        );
        assert_eq!(parse_event_id("abcdef0123"), None);
        assert_eq!(parse_event_id("pc0123"), None);
        assert_eq!(parse_event_id("7kd9m2recurring_20250101T100000Z"), None);
    }

    #[test]
    fn default_endpoints_are_googles() {
        let e = GoogleEndpoints::default();
        assert!(e.calendar_base.ends_with("/calendar/v3"));
        assert!(e.token_url.starts_with("https://oauth2.googleapis.com"));
    }
}
