//! Parsing and expanding CalDAV resources into busy intervals: the client's share of an
//! initial CalDAV sync once the server has answered.
//!
//! 2,000 resources as calendar apps write them: most single events (UTC and with a `TZID`),
//! one in five a weekly series in New York with an EXDATE and an overridden instance, over a
//! 90-day window that crosses the March DST change.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::tz::TimeZone;
use pillow_providers::caldav::{CalendarObject, Window, busy_intervals};

const RESOURCES: usize = 2_000;

fn resources() -> Vec<CalendarObject> {
    (0..RESOURCES)
        .map(|i| {
            let day = 1 + (i % 28);
            let hour = 8 + (i % 9);
            let body = match i % 5 {
                0 => format!(
                    "BEGIN:VEVENT\r\nUID:series-{i}\r\nDTSTAMP:20260101T000000Z\r\n\
                     DTSTART;TZID=America/New_York:202602{day:02}T{hour:02}0000\r\n\
                     DTEND;TZID=America/New_York:202602{day:02}T{hour:02}3000\r\n\
                     RRULE:FREQ=WEEKLY;COUNT=12\r\n\
                     EXDATE;TZID=America/New_York:202603{day:02}T{hour:02}0000\r\n\
                     SUMMARY:Weekly {i}\r\nEND:VEVENT\r\n\
                     BEGIN:VEVENT\r\nUID:series-{i}\r\nDTSTAMP:20260101T000000Z\r\n\
                     RECURRENCE-ID;TZID=America/New_York:202602{day:02}T{hour:02}0000\r\n\
                     DTSTART;TZID=America/New_York:202602{day:02}T{h2:02}0000\r\n\
                     DTEND;TZID=America/New_York:202602{day:02}T{h2:02}3000\r\n\
                     SUMMARY:Weekly {i} (moved)\r\nEND:VEVENT\r\n",
                    h2 = hour + 1
                ),
                1 | 2 => format!(
                    "BEGIN:VEVENT\r\nUID:single-{i}\r\nDTSTAMP:20260101T000000Z\r\n\
                     DTSTART;TZID=Europe/London:202603{day:02}T{hour:02}0000\r\n\
                     DTEND;TZID=Europe/London:202603{day:02}T{hour:02}4500\r\n\
                     SUMMARY:Meeting {i}\r\nDESCRIPTION:Planning\\, with notes\r\nEND:VEVENT\r\n"
                ),
                _ => format!(
                    "BEGIN:VEVENT\r\nUID:utc-{i}\r\nDTSTAMP:20260101T000000Z\r\n\
                     DTSTART:202604{day:02}T{hour:02}0000Z\r\nDTEND:202604{day:02}T{hour:02}3000Z\r\n\
                     SUMMARY:Call {i}\r\nTRANSP:{}\r\nEND:VEVENT\r\n",
                    if i % 10 == 3 { "TRANSPARENT" } else { "OPAQUE" }
                ),
            };
            CalendarObject {
                href: format!("/cal/{i}.ics"),
                etag: format!("\"{i}\""),
                ical: format!(
                    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n"
                ),
            }
        })
        .collect()
}

fn expand(c: &mut Criterion) {
    let objects = resources();
    let window = Window {
        start: "2026-02-01T00:00:00Z".parse().unwrap(),
        end: "2026-05-01T00:00:00Z".parse().unwrap(),
        zone: TimeZone::get("America/New_York").unwrap(),
    };
    let run = || {
        objects
            .iter()
            .map(|o| {
                let occurrences = o.occurrences(&window).unwrap();
                busy_intervals(&occurrences, &window.zone).len()
            })
            .sum::<usize>()
    };
    let intervals = run();
    println!("{RESOURCES} resources expand to {intervals} busy intervals");
    let mut group = c.benchmark_group("caldav");
    group.throughput(Throughput::Elements(RESOURCES as u64));
    group.sample_size(20);
    group.bench_function("parse_and_expand_2k_resources", |b| b.iter(run));
    group.finish();
}

criterion_group!(benches, expand);
criterion_main!(benches);
