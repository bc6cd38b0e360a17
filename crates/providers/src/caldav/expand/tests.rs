//! Expansion on real zones and dates, without a server.

use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn calendar(events: &str) -> CalendarObject {
    CalendarObject {
        href: "/c/x.ics".into(),
        etag: "\"1\"".into(),
        ical: format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{events}END:VCALENDAR\r\n"
        ),
    }
}

fn vevent(lines: &str) -> String {
    format!("BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n{lines}END:VEVENT\r\n")
}

fn window(zone: &str) -> Window {
    Window {
        start: ts("2026-01-01T00:00:00Z"),
        end: ts("2026-12-31T00:00:00Z"),
        zone: TimeZone::get(zone).unwrap(),
    }
}

fn starts(o: &[Occurrence]) -> Vec<EventTime> {
    o.iter().map(|o| o.start).collect()
}

#[test]
fn cancelled_and_transparent_events_are_listed_but_not_busy() {
    let c = calendar(&[
        vevent("UID:a\r\nDTSTART:20260310T150000Z\r\nDTEND:20260310T160000Z\r\nSTATUS:CANCELLED\r\n"),
        vevent("UID:b\r\nDTSTART:20260311T150000Z\r\nDTEND:20260311T160000Z\r\nTRANSP:TRANSPARENT\r\n"),
        vevent("UID:c\r\nDTSTART:20260312T150000Z\r\nDTEND:20260312T160000Z\r\nSTATUS:TENTATIVE\r\n"),
    ].concat());
    let o = c.occurrences(&window("UTC")).unwrap();
    assert_eq!(o.len(), 3);
    assert_eq!(o[0].status, EventStatus::Cancelled);
    assert_eq!(o[1].transparency, Transparency::Transparent);
    let busy = busy_intervals(&o, &TimeZone::UTC);
    assert_eq!(
        busy,
        [BusyInterval {
            start: ts("2026-03-12T15:00:00Z"),
            end: ts("2026-03-12T16:00:00Z")
        }],
        "only the tentative event blocks time"
    );
}

#[test]
fn an_all_day_event_keeps_its_dates_and_is_busy_from_local_midnight() {
    let c = calendar(&vevent(
        "UID:holiday\r\nDTSTART;VALUE=DATE:20260703\r\nDTEND;VALUE=DATE:20260705\r\n",
    ));
    let w = window("America/Los_Angeles");
    let o = c.occurrences(&w).unwrap();
    assert_eq!(o[0].start, EventTime::On(date(2026, 7, 3)));
    assert_eq!(o[0].end, EventTime::On(date(2026, 7, 5)));
    assert!(o[0].is_all_day());
    // Midnight in Los Angeles (PDT, UTC-7) on both ends.
    assert_eq!(
        busy_intervals(&o, &w.zone),
        [BusyInterval {
            start: ts("2026-07-03T07:00:00Z"),
            end: ts("2026-07-05T07:00:00Z")
        }]
    );
}

#[test]
fn a_yearly_all_day_event_recurs_on_its_date() {
    let c = calendar(&vevent(
        "UID:bday\r\nDTSTART;VALUE=DATE:20200229\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1\r\n",
    ));
    // Started in 2020; the window is 2026 only.
    let o = c.occurrences(&window("Europe/Paris")).unwrap();
    assert_eq!(starts(&o), [EventTime::On(date(2026, 3, 1))]);
    assert_eq!(
        o[0].end,
        EventTime::On(date(2026, 3, 2)),
        "one day when there is no DTEND"
    );
}

#[test]
fn a_daily_rule_that_began_years_ago_still_expands_inside_the_window() {
    let c = calendar(&vevent(
        "UID:daily\r\nDTSTART;TZID=Europe/Berlin:20100104T080000\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY\r\n",
    ));
    let w = Window {
        start: ts("2026-03-28T00:00:00Z"),
        end: ts("2026-03-31T00:00:00Z"),
        zone: TimeZone::UTC,
    };
    let o = c.occurrences(&w).unwrap();
    // Berlin moves to CEST on 2026-03-29: 08:00 is 07:00Z before and 06:00Z from then on.
    assert_eq!(
        busy_intervals(&o, &w.zone),
        [
            BusyInterval {
                start: ts("2026-03-28T07:00:00Z"),
                end: ts("2026-03-28T07:30:00Z")
            },
            BusyInterval {
                start: ts("2026-03-29T06:00:00Z"),
                end: ts("2026-03-29T06:30:00Z")
            },
            BusyInterval {
                start: ts("2026-03-30T06:00:00Z"),
                end: ts("2026-03-30T06:30:00Z")
            },
        ]
    );
}

#[test]
fn rdates_add_instances_and_a_cancelled_override_frees_its_instance() {
    let c = calendar(
        &[
            vevent(
                "UID:r\r\nDTSTART;TZID=America/New_York:20260302T100000\r\n\
             DTEND;TZID=America/New_York:20260302T110000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n\
             RDATE;TZID=America/New_York:20260305T100000,20260306T100000\r\n",
            ),
            vevent(
                "UID:r\r\nRECURRENCE-ID;TZID=America/New_York:20260309T100000\r\n\
             DTSTART;TZID=America/New_York:20260309T100000\r\n\
             DTEND;TZID=America/New_York:20260309T110000\r\nSTATUS:CANCELLED\r\n",
            ),
        ]
        .concat(),
    );
    let o = c.occurrences(&window("UTC")).unwrap();
    assert_eq!(
        o.len(),
        5,
        "3 by the rule + 2 RDATEs, the override replacing one"
    );
    let busy = busy_intervals(&o, &TimeZone::UTC);
    let busy_starts: Vec<Timestamp> = busy.iter().map(|b| b.start).collect();
    assert_eq!(
        busy_starts,
        [
            ts("2026-03-02T15:00:00Z"),
            ts("2026-03-05T15:00:00Z"),
            ts("2026-03-06T15:00:00Z"),
            // 2026-03-09 cancelled by its override
            ts("2026-03-16T14:00:00Z"), // after New York's DST change
        ]
    );
}

#[test]
fn a_floating_time_is_read_in_the_owners_zone_and_a_prefixed_tzid_resolves() {
    let c = calendar(&[
        vevent("UID:f\r\nDTSTART:20260601T090000\r\nDTEND:20260601T100000\r\n"),
        vevent(
            "UID:p\r\nDTSTART;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/London:20260601T090000\r\n\
             DTEND;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/London:20260601T100000\r\n",
        ),
    ].concat());
    let o = c.occurrences(&window("Asia/Tokyo")).unwrap();
    let mut at: Vec<(String, EventTime)> = o.into_iter().map(|o| (o.uid, o.start)).collect();
    at.sort();
    assert_eq!(
        at,
        [
            ("f".into(), EventTime::At(ts("2026-06-01T00:00:00Z"))), // 09:00 in Tokyo
            ("p".into(), EventTime::At(ts("2026-06-01T08:00:00Z"))), // 09:00 BST
        ]
    );
}

#[test]
fn events_outside_the_window_are_left_out_and_one_spanning_its_start_is_kept() {
    let c = calendar(
        &[
            vevent("UID:before\r\nDTSTART:20251230T100000Z\r\nDTEND:20251230T110000Z\r\n"),
            vevent("UID:spanning\r\nDTSTART:20251231T220000Z\r\nDTEND:20260101T020000Z\r\n"),
        ]
        .concat(),
    );
    let o = c.occurrences(&window("UTC")).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].uid, "spanning");
    assert_eq!(o[0].end, EventTime::At(ts("2026-01-01T02:00:00Z")));
}

#[test]
fn a_resource_that_is_not_icalendar_is_an_error_not_a_panic() {
    let c = CalendarObject {
        href: "/x".into(),
        etag: "1".into(),
        ical: "hello".into(),
    };
    assert!(matches!(
        c.occurrences(&window("UTC")),
        Err(CalDavError::Invalid(_))
    ));
    let c = calendar(&vevent("UID:x\r\nDTSTART:2026-03-01\r\n"));
    assert!(matches!(
        c.occurrences(&window("UTC")),
        Err(CalDavError::Invalid(_))
    ));
    let c = calendar(&vevent(
        "UID:x\r\nDTSTART:20260301T100000Z\r\nRRULE:FREQ=SOMETIMES\r\n",
    ));
    assert!(matches!(
        c.occurrences(&window("UTC")),
        Err(CalDavError::Invalid(_))
    ));
}

#[test]
fn our_booking_ical_reads_back_with_its_marker_and_times() {
    let id = uuid::Uuid::new_v4();
    let text = crate::caldav::booking_ical(
        id,
        "Call; with, Sam",
        Some("line one\nline two"),
        ts("2026-03-10T15:00:00Z"),
        ts("2026-03-10T15:30:00Z"),
    );
    let c = CalendarObject {
        href: "/x".into(),
        etag: "1".into(),
        ical: text,
    };
    let o = c.occurrences(&window("UTC")).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].booking_id, Some(id.to_string()));
    assert_eq!(o[0].start, EventTime::At(ts("2026-03-10T15:00:00Z")));
    assert_eq!(o[0].end, EventTime::At(ts("2026-03-10T15:30:00Z")));
    assert_eq!(o[0].id, crate::caldav::ical::booking_uid(id));
}
