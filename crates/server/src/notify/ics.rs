//! The calendar invite each message carries, built with the `icalendar` crate: a `REQUEST`
//! when a booking is made or moved and a `CANCEL` when it is cancelled, with one `UID` per
//! booking and a `SEQUENCE` that rises on every change, so mail clients update the event in
//! place instead of adding another.

use icalendar::{Calendar, Component, Event, EventStatus, Property};
use jiff::Timestamp;

use crate::outbox::Change;

/// What the invite says.
#[derive(Debug, Clone)]
pub struct Invite<'a> {
    /// The booking's id: its `UID` is made from it, the same in every message.
    pub booking_id: String,
    /// The domain the `UID` is qualified with (the sender's).
    pub domain: &'a str,
    pub change: Change,
    pub sequence: i32,
    pub title: &'a str,
    pub description: &'a str,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The member whose time is booked: the organizer.
    pub organizer: (&'a str, &'a str),
    /// The caller, when they gave an e-mail address.
    pub attendee: Option<(&'a str, &'a str)>,
    /// When this version of the event was made.
    pub stamp: Timestamp,
}

impl Invite<'_> {
    /// The `METHOD` of the calendar object.
    pub fn method(&self) -> &'static str {
        match self.change {
            Change::Cancelled => "CANCEL",
            Change::Created | Change::Rescheduled => "REQUEST",
        }
    }

    /// The invite as iCalendar text (RFC 5545).
    pub fn to_ics(&self) -> String {
        self.calendar(self.method(), true)
    }

    /// The same event as a file to import (`METHOD:PUBLISH`, RFC 5546), without organizer or
    /// attendees: "Add to calendar" for someone keeping their own copy. Its `UID` is the
    /// invite's, so a calendar holding both keeps one event.
    pub fn to_published_ics(&self) -> String {
        self.calendar("PUBLISH", false)
    }

    fn calendar(&self, method: &str, people: bool) -> String {
        let mut event = Event::new();
        event
            .uid(&format!("{}@{}", self.booking_id, self.domain))
            .summary(self.title)
            .description(self.description)
            .add_property("DTSTART", utc(self.start))
            .add_property("DTEND", utc(self.end))
            .add_property("DTSTAMP", utc(self.stamp))
            .add_property("SEQUENCE", self.sequence.to_string());
        if people {
            event.append_property(
                Property::new("ORGANIZER", format!("mailto:{}", self.organizer.1))
                    .add_parameter("CN", self.organizer.0)
                    .done(),
            );
        }
        if let Some((name, email)) = self.attendee.filter(|_| people) {
            event.append_property(
                Property::new("ATTENDEE", format!("mailto:{email}"))
                    .add_parameter("CN", name)
                    .add_parameter("ROLE", "REQ-PARTICIPANT")
                    .add_parameter("PARTSTAT", "ACCEPTED")
                    .done(),
            );
        }
        event.status(match self.change {
            Change::Cancelled => EventStatus::Cancelled,
            Change::Created | Change::Rescheduled => EventStatus::Confirmed,
        });
        let mut calendar = Calendar::new();
        calendar
            .append_property(Property::new("METHOD", method))
            .push(event.done());
        calendar.done().to_string()
    }
}

/// An instant as an iCalendar UTC date-time (`20260310T183000Z`).
fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(change: Change, sequence: i32) -> String {
        Invite {
            booking_id: "0190c1c4-0000-7000-8000-000000000001".into(),
            domain: "pillow.test",
            change,
            sequence,
            title: "Intro call",
            description: "Code K7M4PQ2XR",
            start: "2026-03-10T18:30:00Z".parse().unwrap(),
            end: "2026-03-10T19:00:00Z".parse().unwrap(),
            organizer: ("Ada Lovelace", "ada@acme.test"),
            attendee: Some(("Jane Doe", "jane@example.com")),
            stamp: "2026-03-01T00:00:00Z".parse().unwrap(),
        }
        .to_ics()
    }

    #[test]
    fn a_request_parses_back_with_its_uid_sequence_people_and_utc_times() {
        let text = invite(Change::Created, 0);
        let parsed: Calendar = text.parse().unwrap();
        assert_eq!(parsed.property_value("METHOD"), Some("REQUEST"));
        let event = parsed.events().next().unwrap();
        assert_eq!(
            event.get_uid(),
            Some("0190c1c4-0000-7000-8000-000000000001@pillow.test")
        );
        assert_eq!(event.property_value("SEQUENCE"), Some("0"));
        assert_eq!(event.property_value("DTSTART"), Some("20260310T183000Z"));
        assert_eq!(event.property_value("DTEND"), Some("20260310T190000Z"));
        // Long lines are folded (RFC 5545 3.1); read them unfolded.
        let unfolded = text.replace("\r\n ", "");
        assert!(
            unfolded.contains("ORGANIZER;CN=Ada Lovelace:mailto:ada@acme.test"),
            "{text}"
        );
        assert!(unfolded.contains("mailto:jane@example.com"), "{text}");
    }

    #[test]
    fn a_published_copy_keeps_the_uid_and_times_without_people() {
        let invite = Invite {
            booking_id: "0190c1c4-0000-7000-8000-000000000001".into(),
            domain: "pillow.test",
            change: Change::Created,
            sequence: 1,
            title: "Appointment with Ada",
            description: "Code K7M4PQ2XR",
            start: "2026-03-10T18:30:00Z".parse().unwrap(),
            end: "2026-03-10T19:00:00Z".parse().unwrap(),
            organizer: ("Ada Lovelace", "ada@acme.test"),
            attendee: Some(("Jane Doe", "jane@example.com")),
            stamp: "2026-03-01T00:00:00Z".parse().unwrap(),
        };
        let text = invite.to_published_ics();
        let parsed: Calendar = text.parse().unwrap();
        assert_eq!(parsed.property_value("METHOD"), Some("PUBLISH"));
        let event = parsed.events().next().unwrap();
        assert_eq!(
            event.get_uid(),
            Some("0190c1c4-0000-7000-8000-000000000001@pillow.test")
        );
        assert_eq!(event.property_value("SEQUENCE"), Some("1"));
        assert_eq!(event.property_value("DTSTART"), Some("20260310T183000Z"));
        assert!(
            !text.contains("ORGANIZER") && !text.contains("ATTENDEE"),
            "{text}"
        );
    }

    #[test]
    fn a_cancel_keeps_the_uid_and_says_cancel() {
        let parsed: Calendar = invite(Change::Cancelled, 2).parse().unwrap();
        assert_eq!(parsed.property_value("METHOD"), Some("CANCEL"));
        let event = parsed.events().next().unwrap();
        assert_eq!(event.property_value("SEQUENCE"), Some("2"));
        assert_eq!(event.property_value("STATUS"), Some("CANCELLED"));
    }
}
