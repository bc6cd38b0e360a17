//! `pillow-load notify`: booking throughput with notifications on versus off, in one run, and
//! the time from a booking to its e-mail accepted by the SMTP server.
//!
//! For each store and round, and each of the two modes in turn (off, then on), it makes a
//! fresh database (a temporary SQLite file, or a database on `TEST_DATABASE_URL`), seeds it
//! ([`crate::seed`]: `members` people, no busy events), starts `<bin> serve` on it with e-mail
//! (a real SMTP server in this process, [`crate::smtp`]), SMS (the Twilio fake of
//! `crates/fakes`) and webhooks (a receiver in this process) configured, and books distinct
//! slots through the agent with `concurrency` clients for `duration` after a `warmup`. In the
//! "on" mode the agent sends e-mail and SMS (with its default reminders, queued but not due)
//! and the tenant has one webhook subscription; in the "off" mode neither. After the window it
//! waits for the outbox to deliver every message of the measured bookings and reports, per
//! booking, the time from sending the booking request to the caller's e-mail being accepted.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jiff::ToSpan;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::seed::{SeedOptions, run_seed};
use crate::smtp::SmtpSink;
use crate::util::{median, percentile};

/// Which store a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct NotifyOptions {
    /// The server binary, run as `<bin> serve`.
    pub bin: PathBuf,
    pub backends: Vec<Backend>,
    /// Off/on pairs per store.
    pub rounds: usize,
    pub concurrency: usize,
    pub members: u32,
    pub warmup: Duration,
    pub duration: Duration,
    /// The agent's `notifications` settings in the "on" mode.
    pub on_notifications: Value,
}

/// One measured window.
#[derive(Debug, Serialize)]
pub struct Run {
    pub backend: Backend,
    pub notifications: bool,
    pub round: usize,
    pub bookings: usize,
    pub errors: usize,
    pub bookings_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Booking request sent → the caller's e-mail accepted by the SMTP server ("on" only).
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    /// Messages the sinks got for the measured bookings: e-mails, texts, webhook posts.
    pub emails: usize,
    pub texts: usize,
    pub webhooks: usize,
}

/// Per store: the medians of the runs of each mode and their ratio.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub backend: Backend,
    pub off_bookings_per_s: f64,
    pub on_bookings_per_s: f64,
    /// On over off: 1.0 is no cost.
    pub throughput_ratio: f64,
    pub on_e2e_p50_ms: Option<f64>,
    pub on_e2e_p99_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct NotifyReport {
    pub concurrency: usize,
    pub members: u32,
    pub runs: Vec<Run>,
    pub summaries: Vec<Summary>,
}

impl NotifyReport {
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{} clients, {} members\n{:<9} {:<4} {:>5} {:>9} {:>6} {:>10} {:>8} {:>8} {:>11} {:>11} {:>7} {:>6} {:>8}\n",
            self.concurrency,
            self.members,
            "store",
            "mode",
            "round",
            "bookings",
            "errors",
            "booked/s",
            "p50 ms",
            "p99 ms",
            "e2e p50 ms",
            "e2e p99 ms",
            "emails",
            "texts",
            "webhooks"
        );
        for r in &self.runs {
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            out.push_str(&format!(
                "{:<9} {:<4} {:>5} {:>9} {:>6} {:>10.1} {:>8.1} {:>8.1} {:>11} {:>11} {:>7} {:>6} {:>8}\n",
                format!("{:?}", r.backend).to_lowercase(),
                if r.notifications { "on" } else { "off" },
                r.round,
                r.bookings,
                r.errors,
                r.bookings_per_s,
                r.p50_ms,
                r.p99_ms,
                ms(r.e2e_p50_ms),
                ms(r.e2e_p99_ms),
                r.emails,
                r.texts,
                r.webhooks
            ));
        }
        for s in &self.summaries {
            out.push_str(&format!(
                "{:?}: median {:.0}/s off, {:.0}/s on, ratio {:.3}; e2e p50 {} ms, p99 {} ms\n",
                s.backend,
                s.off_bookings_per_s,
                s.on_bookings_per_s,
                s.throughput_ratio,
                s.on_e2e_p50_ms.map_or("-".into(), |v| format!("{v:.1}")),
                s.on_e2e_p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
            ));
        }
        out
    }
}

const TWILIO_SID: &str = "ACbench0000000000000000000000000000";
const TWILIO_TOKEN: &str = "bench-token";

/// Runs every store's rounds, off then on in each.
///
/// # Errors
/// A server that does not start, a setup request refused, or PostgreSQL asked for without
/// `TEST_DATABASE_URL`.
pub async fn run_notify(options: &NotifyOptions) -> Result<NotifyReport> {
    let mut runs = Vec::new();
    for &backend in &options.backends {
        for round in 1..=options.rounds {
            for notifications in [false, true] {
                runs.push(one_run(options, backend, round, notifications).await?);
            }
        }
    }
    let summaries = options
        .backends
        .iter()
        .map(|&backend| {
            let of = |on: bool, f: &dyn Fn(&Run) -> Option<f64>| {
                let values: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.backend == backend && r.notifications == on)
                    .filter_map(f)
                    .collect();
                median(&values)
            };
            let off = of(false, &|r| Some(r.bookings_per_s)).unwrap_or(0.0);
            let on = of(true, &|r| Some(r.bookings_per_s)).unwrap_or(0.0);
            Summary {
                backend,
                off_bookings_per_s: off,
                on_bookings_per_s: on,
                throughput_ratio: if off > 0.0 { on / off } else { 0.0 },
                on_e2e_p50_ms: of(true, &|r| r.e2e_p50_ms),
                on_e2e_p99_ms: of(true, &|r| r.e2e_p99_ms),
            }
        })
        .collect();
    Ok(NotifyReport {
        concurrency: options.concurrency,
        members: options.members,
        runs,
        summaries,
    })
}

/// A database for one run; a PostgreSQL one is dropped afterwards.
enum Database {
    /// The folder holds the file; it is removed when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres(pillow_store_postgres::testing::TestDatabase),
}

impl Database {
    async fn fresh(backend: Backend) -> Result<Database> {
        Ok(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Database::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => Database::Postgres(
                pillow_store_postgres::testing::fresh_database()
                    .await
                    .context("PostgreSQL runs need TEST_DATABASE_URL")?,
            ),
        })
    }

    fn url(&self) -> &str {
        match self {
            Database::Sqlite { url, .. } => url,
            Database::Postgres(db) => &db.url,
        }
    }

    async fn drop_database(self) {
        if let Database::Postgres(db) = self {
            db.drop_database().await;
        }
    }
}

/// A webhook subscriber that answers 200 at once and counts posts.
async fn receiver() -> Result<(String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, count, server))
}

async fn serve(
    bin: &PathBuf,
    database_url: &str,
    env: &[(&str, String)],
) -> Result<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = Command::new(bin);
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("JWT_SECRET", "bench-secret-0123456789abcdefghijkl")
        .env("CALENDAR_ENCRYPTION_KEY", "42".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((child, base));
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server on {base} was not ready within a minute");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Value,
) -> Result<Value> {
    let response = client
        .request(method, &url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url}: {status} {body}");
    }
    Ok(body)
}

/// One booking: its index (the caller's address names it), when it was sent, whether it was
/// made inside the measured window.
struct Booked {
    index: usize,
    sent: Instant,
    measured: bool,
}

async fn one_run(options: &NotifyOptions, backend: Backend, round: usize, on: bool) -> Result<Run> {
    let database = Database::fresh(backend).await?;
    let seeded = run_seed(&SeedOptions {
        database_url: database.url().to_string(),
        members: options.members,
        events: 0,
        days: 60,
        bodies_out: None,
    })
    .await?;
    let smtp = SmtpSink::start().await?;
    let twilio = pillow_fakes::twilio::FakeTwilio::start(TWILIO_SID, TWILIO_TOKEN).await;
    let (hook, hooks, hook_server) = receiver().await?;
    let env = [
        ("SMTP_URL", smtp.url()),
        (
            "EMAIL_FROM",
            "Pillow Calendar <bookings@bench.test>".to_string(),
        ),
        ("TWILIO_ACCOUNT_SID", TWILIO_SID.to_string()),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN.to_string()),
        ("TWILIO_FROM", "+15555550100".to_string()),
        ("TWILIO_API_BASE_URL", twilio.base_url()),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true".to_string()),
    ];
    let (mut server, base) = serve(&options.bin, database.url(), &env).await?;
    let client = reqwest::Client::new();
    let key = seeded.api_key.clone();
    let agent = seeded.agent_id.to_string();
    let hosts: Vec<Value> = seeded
        .members
        .iter()
        .map(|m| json!({"user_id": m.to_string()}))
        .collect();
    let mut settings = json!({"assignable_users": hosts, "distribution_strategy": "round_robin"});
    if on {
        settings["notifications"] = options.on_notifications.clone();
        call(
            &client,
            reqwest::Method::POST,
            format!("{base}/api/webhooks"),
            &key,
            json!({"subscriber_url": hook, "events": ["BOOKING_CREATED"], "secret": "bench-webhook-secret-0123"}),
        )
        .await?;
    }
    call(
        &client,
        reqwest::Method::PUT,
        format!("{base}/api/agents/{agent}/booking-settings"),
        &key,
        settings,
    )
    .await?;

    // Distinct slots: each half hour of the members' day (08:00–18:00 in New York), from the
    // second day on, taken `members` times, once by each member through round robin.
    let first_day = seeded.start.checked_add(1.day())?;
    let day_start = first_day
        .at(8, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("America/New_York")?)?
        .timestamp();
    let slots_per_day = 20;
    let members = options.members.max(1) as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let booked: Arc<Mutex<Vec<Booked>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let measure_from = started + options.warmup;
    let stop_at = measure_from + options.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (client, base, key, agent) = (client.clone(), base.clone(), key.clone(), agent.clone());
        let (next, booked, latencies, errors) = (
            next.clone(),
            booked.clone(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.spawn(async move {
            while Instant::now() < stop_at {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let slot = index / members;
                let start = day_start
                    + jiff::SignedDuration::from_hours(24 * (slot / slots_per_day) as i64)
                    + jiff::SignedDuration::from_mins(30 * (slot % slots_per_day) as i64);
                let body = json!({
                    "agent_id": agent,
                    "start_time": start.to_string(),
                    "duration": 30,
                    "attendee": {"name": format!("Caller {index}"),
                                 "email": format!("caller-{index}@example.com"),
                                 "phone": format!("+1202{:07}", index % 10_000_000)},
                });
                let sent = Instant::now();
                let ok = client
                    .post(format!("{base}/api/calendar/booking"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED);
                let done = Instant::now();
                let measured = sent >= measure_from && done <= stop_at;
                if !ok {
                    if measured {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                    continue;
                }
                booked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Booked {
                        index,
                        sent,
                        measured,
                    });
                if measured {
                    latencies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(done.duration_since(sent).as_secs_f64() * 1000.0);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}

    let booked = std::mem::take(&mut *booked.lock().unwrap_or_else(|e| e.into_inner()));
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    latencies.sort_by(f64::total_cmp);
    let measured: Vec<&Booked> = booked.iter().filter(|b| b.measured).collect();

    // Wait for every message of every booking: two e-mails, a text (those asked for) and a
    // post each.
    let (mut e2e_p50_ms, mut e2e_p99_ms) = (None, None);
    if on {
        let wants = |channel: &str| options.on_notifications[channel] == json!(true);
        let (emails, texts) = (
            usize::from(wants("send_email")) * 2 * booked.len(),
            usize::from(wants("send_sms")) * booked.len(),
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while (smtp.accepted().len() < emails
            || twilio.messages().len() < texts
            || hooks.load(Ordering::SeqCst) < booked.len())
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let accepted: std::collections::HashMap<String, Instant> = smtp
            .accepted()
            .into_iter()
            .flat_map(|a| a.recipients.into_iter().map(move |r| (r, a.at)))
            .collect();
        let mut e2e: Vec<f64> = measured
            .iter()
            .filter_map(|b| {
                accepted
                    .get(&format!("caller-{}@example.com", b.index))
                    .map(|at| at.duration_since(b.sent).as_secs_f64() * 1000.0)
            })
            .collect();
        e2e.sort_by(f64::total_cmp);
        e2e_p50_ms = percentile(&e2e, 50.0);
        e2e_p99_ms = percentile(&e2e, 99.0);
    }
    let run = Run {
        backend,
        notifications: on,
        round,
        bookings: measured.len(),
        errors: errors.load(Ordering::SeqCst),
        bookings_per_s: measured.len() as f64 / options.duration.as_secs_f64(),
        p50_ms: percentile(&latencies, 50.0).unwrap_or(0.0),
        p99_ms: percentile(&latencies, 99.0).unwrap_or(0.0),
        e2e_p50_ms,
        e2e_p99_ms,
        emails: smtp.accepted().len(),
        texts: twilio.messages().len(),
        webhooks: hooks.load(Ordering::SeqCst),
    };
    let _ = server.start_kill();
    let _ = server.wait().await;
    hook_server.abort();
    drop(seeded);
    database.drop_database().await;
    Ok(run)
}
