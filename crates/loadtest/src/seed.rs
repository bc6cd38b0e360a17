//! `pillow-load seed`: a benchmark data set written through the real store.
//!
//! A tenant with `members` people working 08:00–18:00 every day in New York, `events` busy
//! events spread over the next `days` days (deterministic, so every run measures the same
//! calendars), a voice agent whose team is everyone, and an API key.

use anyhow::{Context, Result};
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_store::{
    AgentBackend, EventSource, EventStatus, NewAgent, NewApiKey, NewAvailabilityRule,
    NewCalendarEvent, NewUser, Role, Transparency,
};
use serde_json::json;

pub struct SeedOptions {
    pub database_url: String,
    pub members: u32,
    pub events: u32,
    pub days: u32,
    /// Also write booking bodies, one per member and free grid slot, to this file (JSON lines).
    pub bodies_out: Option<std::path::PathBuf>,
}

/// What a benchmark needs to query the data set.
pub struct Seeded {
    pub api_key: String,
    pub agent_id: pillow_store::AgentId,
    pub first_member: pillow_store::UserId,
    /// Every member, the owner first.
    pub members: Vec<pillow_store::UserId>,
    pub start: jiff::civil::Date,
    pub end: jiff::civil::Date,
}

/// A small linear congruential generator: deterministic data without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }
}

pub async fn run_seed(options: &SeedOptions) -> Result<Seeded> {
    let store = pillow_server::open_store(&options.database_url)
        .await
        .context("opening the database")?;
    let tenant = store
        .create_tenant(&format!("Benchmark {}", uuid::Uuid::now_v7()))
        .await?;
    let zone = "America/New_York";
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let schedule: serde_json::Map<String, serde_json::Value> = days
        .iter()
        .map(|d| (d.to_string(), json!([{"start": "08:00", "end": "18:00"}])))
        .collect();
    let rule = json!({"name": "Hours", "schedule": schedule, "timezone": zone,
                      "slot_duration": 30, "is_default": true});
    let mut members = Vec::new();
    for i in 0..options.members {
        let user = store
            .create_user(
                tenant.id,
                &NewUser {
                    email: format!("member{i}@bench.test"),
                    name: format!("Member {i}"),
                    role: if i == 0 { Role::Owner } else { Role::Member },
                    time_zone: zone.into(),
                    password_hash: None,
                },
            )
            .await?;
        store
            .create_rule(
                tenant.id,
                &NewAvailabilityRule {
                    user_id: user.id,
                    name: Some("Hours".into()),
                    is_default: true,
                    document: rule.clone(),
                },
            )
            .await?;
        members.push(user.id);
    }
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let start = today.checked_add(1.day())?;
    let end = start.checked_add(i64::from(options.days).days())?;
    let window_start = start.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
    let window_minutes = i64::from(options.days) * 24 * 60;
    let mut random = Lcg(42);
    for i in 0..options.events {
        let user = members[(i % options.members.max(1)) as usize];
        let offset = random.next(window_minutes as u64 / 15) as i64 * 15;
        let length = 15 + random.next(4) as i64 * 15;
        let begin = window_start.checked_add(SignedDuration::from_mins(offset))?;
        store
            .create_event(
                tenant.id,
                pillow_store::EventId::new(),
                &NewCalendarEvent {
                    user_id: user,
                    provider_id: None,
                    external_id: None,
                    etag: None,
                    title: "Busy".into(),
                    description: None,
                    start: begin,
                    end: begin.checked_add(SignedDuration::from_mins(length))?,
                    all_day: false,
                    status: EventStatus::Confirmed,
                    transparency: Transparency::Opaque,
                    source: EventSource::Internal,
                    booking_id: None,
                },
                &[],
            )
            .await?;
    }
    let agent = store
        .create_agent(
            tenant.id,
            &NewAgent {
                name: "Benchmark desk".into(),
                time_zone: zone.into(),
                backend: AgentBackend::Native,
                cal_enabled: false,
                cal_api_key_encrypted: None,
                cal_event_type_slug: None,
                cal_timezone: None,
            },
        )
        .await?;
    let minted = pillow_server::credentials::API_KEY.mint();
    store
        .create_api_key(
            tenant.id,
            &NewApiKey {
                name: "benchmark".into(),
                prefix: minted.prefix,
                secret_hash: minted.secret_hash,
            },
        )
        .await?;
    if let Some(path) = &options.bodies_out {
        write_booking_bodies(path, &members, start, options.days, zone)?;
    }
    Ok(Seeded {
        api_key: minted.key,
        agent_id: agent.id,
        first_member: members.first().copied().unwrap_or_default(),
        members,
        start,
        end,
    })
}

/// One booking body per member and 30-minute grid slot of the working day (08:00–18:00), day by
/// day, so a booking benchmark never asks for the same slot twice. Slots are interleaved across
/// members so concurrent requests spread over the team.
fn write_booking_bodies(
    path: &std::path::Path,
    members: &[pillow_store::UserId],
    start: jiff::civil::Date,
    days: u32,
    zone: &str,
) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for day in 0..i64::from(days) {
        let date = start.checked_add(day.days())?;
        for slot in 0..20_i64 {
            let local = date.at(8, 0, 0, 0).checked_add((slot * 30).minutes())?;
            let instant = local.in_tz(zone)?.timestamp();
            for member in members {
                let body = json!({"start_time": instant.to_string(), "duration": 30,
                                  "user_id": member.to_string(),
                                  "attendee": {"name": "Load Test", "email": "load@bench.test"}});
                writeln!(out, "{body}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
