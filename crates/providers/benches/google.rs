//! Decoding `events.list` pages into `GoogleEvent`s: the client's share of an initial sync.
//!
//! The pages are real responses of the fake Google (10,000 events in four pages of 2,500,
//! Google's largest page), fetched once; the benchmark measures only our decoding.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use pillow_fakes::google::FakeGoogle;
use pillow_providers::google::EventsPage;
use serde_json::json;

const EVENTS: usize = 10_000;

fn fetch_pages() -> Vec<Vec<u8>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let google = FakeGoogle::start().await;
        google.add_user("host@example.com");
        let token = google.issue_access_token("host@example.com");
        let start = Timestamp::now();
        for i in 0..EVENTS {
            let at = start + SignedDuration::from_mins(30 * i as i64);
            let mut event = json!({
                "summary": format!("Meeting {i}"),
                "description": "Quarterly planning with the whole team; agenda attached.",
                "location": "Room 4",
                "start": {"dateTime": at.to_string(), "timeZone": "Europe/Paris"},
                "end": {"dateTime": (at + SignedDuration::from_mins(25)).to_string(), "timeZone": "Europe/Paris"},
                "attendees": [{"email": "a@example.com", "responseStatus": "accepted"}],
                "reminders": {"useDefault": true},
            });
            if i % 10 == 0 {
                event["transparency"] = json!("transparent");
            }
            google.create_event("host@example.com", event);
        }
        let http = reqwest::Client::new();
        let url = format!("{}/calendars/primary/events", google.calendar_base());
        let mut pages = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![("singleEvents", "true".to_string()), ("maxResults", "2500".into())];
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let body = http
                .get(&url)
                .bearer_auth(&token)
                .query(&query)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();
            let page: EventsPage = serde_json::from_slice(&body).unwrap();
            pages.push(body);
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        pages
    })
}

fn decode(c: &mut Criterion) {
    let pages = fetch_pages();
    let total: usize = pages
        .iter()
        .map(|p| serde_json::from_slice::<EventsPage>(p).unwrap().items.len())
        .sum();
    assert_eq!(total, EVENTS);
    let mut group = c.benchmark_group("google");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    group.bench_function("decode_10k_events", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| serde_json::from_slice::<EventsPage>(p).unwrap().items.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
