//! The invite of a recurring series: one calendar event with the series' `RRULE` in the agent's
//! zone (so "Tuesdays at 15:00" stays 15:00 across DST in the reader's calendar), and an
//! `EXDATE` for each expected occurrence that is not booked (cancelled, or skipped by
//! `allow_partial`). The series has one `UID` of its own; cancelling one occurrence later is a
//! `CANCEL` of that occurrence only (`RECURRENCE-ID`), never of the whole series.

use icalendar::{Calendar, Component, Event, EventStatus, Property};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use pillow_store::{Booking, BookingStatus, Store, StoreResult, TenantId};

use super::ics::Invite;
use crate::outbox::Change;

/// The series' invite in place of `invite` when `booking` is an occurrence of a series and the
/// message is about the series being booked (its first occurrence's `Created`) or one
/// occurrence being cancelled; `None` otherwise (the ordinary invite is right).
///
/// # Errors
/// Only a store failure.
pub async fn series_invite(
    store: &dyn Store,
    tenant: TenantId,
    booking: &Booking,
    invite: &Invite<'_>,
    zone: &TimeZone,
) -> StoreResult<Option<String>> {
    let Some(link) = store.series_of(tenant, booking.id).await? else {
        return Ok(None);
    };
    let uid = format!("series-{}@{}", link.series_id, invite.domain);
    match invite.change {
        Change::Created if link.position == 0 => {
            let occurrences = store.series_bookings(tenant, link.series_id).await?;
            Ok(Some(whole_series(
                invite,
                &uid,
                &link.rrule,
                &occurrences,
                zone,
            )))
        }
        Change::Cancelled => Ok(Some(one_cancelled(invite, &uid, zone))),
        _ => Ok(None),
    }
}

/// `REQUEST` of the whole series, from the first occurrence.
fn whole_series(
    invite: &Invite<'_>,
    uid: &str,
    rrule: &str,
    occurrences: &[Booking],
    zone: &TimeZone,
) -> String {
    let booked: Vec<Timestamp> = occurrences
        .iter()
        .filter(|o| o.status == BookingStatus::Confirmed)
        .map(|o| o.start)
        .collect();
    let expected =
        pillow_engine::expand_series(rrule, invite.start, zone, pillow_engine::MAX_OCCURRENCES)
            .unwrap_or_default();
    let missing: Vec<String> = expected
        .iter()
        .filter(|start| !booked.contains(start))
        .map(|start| local(*start, zone))
        .collect();
    let mut event = common(invite, uid, zone);
    event
        .append_property(zoned("DTSTART", invite.start, zone))
        .append_property(zoned("DTEND", invite.end, zone))
        .add_property("RRULE", rrule.trim().trim_start_matches("RRULE:"))
        .status(EventStatus::Confirmed);
    if !missing.is_empty() {
        event.append_property(zoned_list("EXDATE", &missing, zone));
    }
    calendar("REQUEST", event.done())
}

/// `CANCEL` of one occurrence of the series.
fn one_cancelled(invite: &Invite<'_>, uid: &str, zone: &TimeZone) -> String {
    let mut event = common(invite, uid, zone);
    event
        .append_property(zoned("RECURRENCE-ID", invite.start, zone))
        .append_property(zoned("DTSTART", invite.start, zone))
        .append_property(zoned("DTEND", invite.end, zone))
        .status(EventStatus::Cancelled);
    calendar("CANCEL", event.done())
}

/// What every series message's event says: who, what, which version.
fn common(invite: &Invite<'_>, uid: &str, _zone: &TimeZone) -> Event {
    let mut event = Event::new();
    event
        .uid(uid)
        .summary(invite.title)
        .description(invite.description)
        .add_property(
            "DTSTAMP",
            invite.stamp.strftime("%Y%m%dT%H%M%SZ").to_string(),
        )
        .add_property("SEQUENCE", invite.sequence.to_string())
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{}", invite.organizer.1))
                .add_parameter("CN", invite.organizer.0)
                .done(),
        );
    if let Some((name, email)) = invite.attendee {
        event.append_property(
            Property::new("ATTENDEE", format!("mailto:{email}"))
                .add_parameter("CN", name)
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", "ACCEPTED")
                .done(),
        );
    }
    event
}

fn calendar(method: &str, event: Event) -> String {
    let mut calendar = Calendar::new();
    calendar
        .append_property(Property::new("METHOD", method))
        .push(event);
    calendar.done().to_string()
}

/// A local date-time in `zone` (`20261027T150000`).
fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y%m%dT%H%M%S")
        .to_string()
}

/// `NAME;TZID=<zone>:<local>`, or a UTC value for a zone without an IANA name.
fn zoned(name: &str, at: Timestamp, zone: &TimeZone) -> Property {
    match zone.iana_name().filter(|n| *n != "UTC") {
        Some(tzid) => Property::new(name, local(at, zone))
            .add_parameter("TZID", tzid)
            .done(),
        None => Property::new(name, at.strftime("%Y%m%dT%H%M%SZ").to_string()),
    }
}

fn zoned_list(name: &str, locals: &[String], zone: &TimeZone) -> Property {
    match zone.iana_name().filter(|n| *n != "UTC") {
        Some(tzid) => Property::new(name, locals.join(","))
            .add_parameter("TZID", tzid)
            .done(),
        None => Property::new(
            name,
            locals
                .iter()
                .map(|l| format!("{l}Z"))
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_invite_keeps_the_local_time_names_the_rule_and_excludes_what_is_not_booked() {
        let zone = TimeZone::get("America/New_York").unwrap();
        // Tuesdays at 15:00 New York from 2026-10-20 (EDT, 19:00 UTC), four weeks, the third
        // (2026-11-03, after the change to EST) not booked.
        let invite = Invite {
            booking_id: "b".into(),
            domain: "pillow.test",
            change: Change::Created,
            sequence: 0,
            title: "Physio",
            description: "Code K7M4PQ2XR",
            start: "2026-10-20T19:00:00Z".parse().unwrap(),
            end: "2026-10-20T19:30:00Z".parse().unwrap(),
            organizer: ("Ada Lovelace", "ada@acme.test"),
            attendee: Some(("Jane Doe", "jane@example.com")),
            stamp: "2026-10-01T00:00:00Z".parse().unwrap(),
        };
        let starts = pillow_engine::expand_series(
            "FREQ=WEEKLY;COUNT=4",
            invite.start,
            &zone,
            pillow_engine::MAX_OCCURRENCES,
        )
        .unwrap();
        assert_eq!(starts[2].to_string(), "2026-11-03T20:00:00Z");
        let text = whole_series(
            &invite,
            "series-1@pillow.test",
            "FREQ=WEEKLY;COUNT=4",
            &[],
            &zone,
        );
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("RRULE:FREQ=WEEKLY;COUNT=4"), "{text}");
        assert!(
            unfolded.contains("DTSTART;TZID=America/New_York:20261020T150000"),
            "{text}"
        );
        // Nothing booked here, so every expected occurrence is an exception.
        assert!(
            unfolded.contains("EXDATE;TZID=America/New_York:20261020T150000,20261027T150000,20261103T150000,20261110T150000"),
            "{text}"
        );
        let parsed: Calendar = text.parse().unwrap();
        assert_eq!(parsed.property_value("METHOD"), Some("REQUEST"));
    }
}
