//! Google's event resource, with the fields sync and write-back need, named as Google sends them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A Google Calendar event (`calendar#event`). Unknown fields are ignored; absent ones are
/// `None`/empty and are not sent back, so the same type serves as an insert body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    /// Empty only in an insert body that lets Google choose the id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EventStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<EventDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EventDateTime>,
    /// `None` means Google's default, `opaque` (the event blocks time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency: Option<Transparency>,
    /// RRULE/EXDATE lines of a recurring event's master (absent on instances).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    /// Set on instances of a recurring event: the master's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<String>,
    /// Set on instances: when this instance would start by the recurrence rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start_time: Option<EventDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_properties: Option<ExtendedProperties>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(rename = "iCalUID", default, skip_serializing_if = "Option::is_none")]
    pub ical_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_link: Option<String>,
}

impl GoogleEvent {
    /// A deleted event (a tombstone in incremental results) or a cancelled instance.
    pub fn is_cancelled(&self) -> bool {
        self.status == Some(EventStatus::Cancelled)
    }

    /// Whether the event blocks time: not cancelled and not marked "free" (transparent).
    pub fn is_busy(&self) -> bool {
        !self.is_cancelled() && self.transparency != Some(Transparency::Transparent)
    }

    /// An all-day event: its start is a `date`, not a `dateTime`.
    pub fn is_all_day(&self) -> bool {
        self.start.as_ref().is_some_and(|s| s.date.is_some())
    }

    /// One of our private extended properties (e.g. the booking id we wrote).
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.extended_properties
            .as_ref()?
            .private
            .get(key)
            .map(String::as_str)
    }
}

/// `confirmed`, `tentative` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

/// `opaque` (busy) or `transparent` (free).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transparency {
    Opaque,
    Transparent,
}

/// A start or end: `dateTime` for timed events, `date` for all-day ones (end date exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDateTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// IANA zone; needed for recurring events and to read all-day dates in the right zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl EventDateTime {
    /// A timed instant.
    pub fn at(instant: Timestamp) -> Self {
        Self {
            date_time: Some(instant),
            ..Self::default()
        }
    }

    /// A whole day (all-day events).
    pub fn on(date: Date) -> Self {
        Self {
            date: Some(date),
            ..Self::default()
        }
    }
}

/// `extendedProperties`: `private` is visible only to our OAuth client, which is where we
/// mark the events we wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperties {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub private: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared: BTreeMap<String, String>,
}

/// One attendee of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_event_reads_with_offsets_and_camel_case_fields() {
        let json = r#"{
          "kind": "calendar#event", "etag": "\"3181161784712000\"", "id": "abc123def",
          "status": "confirmed", "htmlLink": "https://www.google.com/calendar/event?eid=x",
          "created": "2024-01-01T09:00:00.000Z", "updated": "2024-01-02T09:00:00.000Z",
          "summary": "Dentist", "transparency": "transparent",
          "start": {"dateTime": "2024-03-10T10:00:00-05:00", "timeZone": "America/New_York"},
          "end": {"dateTime": "2024-03-10T11:00:00-04:00", "timeZone": "America/New_York"},
          "recurringEventId": "base1", "originalStartTime": {"dateTime": "2024-03-10T15:00:00Z"},
          "iCalUID": "abc@google.com", "reminders": {"useDefault": true},
          "extendedProperties": {"private": {"pillowBookingId": "b-1"}}
        }"#;
        let e: GoogleEvent = serde_json::from_str(json).unwrap();
        assert_eq!(e.id, "abc123def");
        assert_eq!(
            e.start.as_ref().unwrap().date_time,
            Some("2024-03-10T15:00:00Z".parse().unwrap())
        );
        assert_eq!(e.recurring_event_id.as_deref(), Some("base1"));
        assert_eq!(e.ical_uid.as_deref(), Some("abc@google.com"));
        assert_eq!(e.private_property("pillowBookingId"), Some("b-1"));
        assert!(!e.is_busy(), "transparent events do not block time");
        assert!(!e.is_all_day());
    }

    #[test]
    fn a_tombstone_has_only_id_etag_and_status() {
        let json =
            r#"{"kind":"calendar#event","etag":"\"1\"","id":"gone12345","status":"cancelled"}"#;
        let e: GoogleEvent = serde_json::from_str(json).unwrap();
        assert!(e.is_cancelled());
        assert!(e.start.is_none());
    }

    #[test]
    fn an_all_day_event_has_dates() {
        let json =
            r#"{"id":"allday123","start":{"date":"2024-12-25"},"end":{"date":"2024-12-26"}}"#;
        let e: GoogleEvent = serde_json::from_str(json).unwrap();
        assert!(e.is_all_day());
        assert!(e.is_busy());
        assert_eq!(e.end.unwrap().date, Some(jiff::civil::date(2024, 12, 26)));
    }

    #[test]
    fn an_insert_body_sends_only_what_is_set() {
        let e = GoogleEvent {
            id: "pcabc12345".into(),
            summary: Some("Call".into()),
            start: Some(EventDateTime::at("2024-01-01T10:00:00Z".parse().unwrap())),
            ..GoogleEvent::default()
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id":"pcabc12345","summary":"Call","start":{"dateTime":"2024-01-01T10:00:00Z"}})
        );
    }
}
