//! `pillow-load dashboard`: every dashboard page under closed-loop load from several signed-in
//! sessions at once, on the seeded data set, beside a baseline (`/healthz`) measured the same
//! way in the same run.
//!
//! It seeds the data set (see [`crate::seed`]) into the server's database, gives the seeded
//! owner `sessions` dashboard sessions written through the store (as a login would: only the
//! token's hash is kept), books a spread of the seeded slots through the API so the bookings
//! and analytics pages have rows, then loads each page in turn: `sessions` tasks, each with
//! its own cookie and one request in flight. Page weight is the HTML's size; the stylesheet and
//! htmx are listed once, apart.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jiff::{SignedDuration, Timestamp};
use pillow_store::NewSession;
use reqwest::Url;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::seed::{SeedOptions, run_seed};
use crate::util::parse_loopback_url;

pub struct DashboardOptions {
    /// The running server, e.g. `http://127.0.0.1:3000`.
    pub base: Url,
    /// The database the server uses.
    pub database_url: String,
    pub members: u32,
    pub events: u32,
    pub days: u32,
    /// Bookings made through the API before measuring.
    pub bookings: u32,
    pub sessions: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// One page's figures.
#[derive(Debug, Serialize)]
pub struct PageReport {
    pub path: String,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Size of the page's HTML in bytes.
    pub bytes: usize,
    /// p99 over the baseline's p99.
    pub p99_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct DashboardReport {
    pub sessions: usize,
    pub members: u32,
    pub events: u32,
    pub bookings: u32,
    pub baseline: PageReport,
    pub pages: Vec<PageReport>,
    /// Static assets every page loads, in bytes, once per browser (cached).
    pub assets: Vec<(String, usize)>,
}

impl DashboardReport {
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{} sessions, {} members, {} events, {} bookings\n{:<52} {:>8} {:>6} {:>9} {:>9} {:>9} {:>8}\n",
            self.sessions,
            self.members,
            self.events,
            self.bookings,
            "page",
            "requests",
            "errors",
            "p50 ms",
            "p99 ms",
            "bytes",
            "p99 x"
        );
        for page in std::iter::once(&self.baseline).chain(&self.pages) {
            out.push_str(&format!(
                "{:<52} {:>8} {:>6} {:>9.2} {:>9.2} {:>9} {:>8.1}\n",
                page.path,
                page.requests,
                page.errors,
                page.p50_ms,
                page.p99_ms,
                page.bytes,
                page.p99_ratio
            ));
        }
        for (path, bytes) in &self.assets {
            out.push_str(&format!("asset {path}: {bytes} bytes\n"));
        }
        out
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Loads `path` with one task per cookie; answers the page's figures (ratio filled later).
async fn load(
    client: &reqwest::Client,
    url: Url,
    cookies: &[String],
    warmup: Duration,
    duration: Duration,
) -> Result<PageReport> {
    let start = Instant::now();
    let measure = start + warmup;
    let end = measure + duration;
    let mut tasks = JoinSet::new();
    for cookie in cookies {
        let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut bytes) = (0usize, 0usize);
            while Instant::now() < end {
                let sent = Instant::now();
                let answer = client
                    .get(url.clone())
                    .header("cookie", format!("pillow_session={cookie}"))
                    .send()
                    .await;
                let ok = match answer {
                    Ok(response) if response.status().is_success() => {
                        bytes = response.bytes().await.map(|b| b.len()).unwrap_or(0);
                        true
                    }
                    _ => false,
                };
                if sent >= measure {
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors, bytes)
        });
    }
    let mut latencies = Vec::new();
    let (mut errors, mut bytes) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (mut some, failed, size) = done.context("a load task failed")?;
        latencies.append(&mut some);
        errors += failed;
        bytes = bytes.max(size);
    }
    latencies.sort_unstable();
    Ok(PageReport {
        path: url.path().to_string()
            + url
                .query()
                .map(|q| format!("?{q}"))
                .as_deref()
                .unwrap_or(""),
        requests: latencies.len() + errors,
        errors,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        bytes,
        p99_ratio: f64::NAN,
    })
}

pub async fn run_dashboard(options: &DashboardOptions) -> Result<DashboardReport> {
    parse_loopback_url(options.base.as_str())?;
    if options.sessions == 0 || options.sessions > 64 {
        bail!("--sessions must be between 1 and 64");
    }
    let seeded = run_seed(&SeedOptions {
        database_url: options.database_url.clone(),
        members: options.members,
        events: options.events,
        days: options.days,
        bodies_out: None,
    })
    .await?;
    let store = pillow_server::open_store(&options.database_url)
        .await
        .context("opening the database")?;
    let owner = store
        .find_user(seeded.first_member)
        .await?
        .context("the seeded owner")?;
    let mut cookies = Vec::new();
    for n in 0..options.sessions {
        let token = format!("bench-{}-{n}", uuid::Uuid::now_v7().simple());
        store
            .create_session(
                owner.tenant_id,
                &NewSession {
                    user_id: owner.id,
                    token_hash: pillow_server::credentials::hash_key(&token),
                    expires_at: Timestamp::now() + SignedDuration::from_hours(1),
                },
            )
            .await?;
        cookies.push(token);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    // Bookings spread over the members and days, through the API like any client.
    let mut booked = 0;
    let mut first_booking: Option<String> = None;
    let zone = "America/New_York";
    'days: for day in 0..i64::from(options.days) {
        let date = seeded.start.checked_add(jiff::Span::new().days(day))?;
        for slot in 0..20_i64 {
            if booked >= options.bookings {
                break 'days;
            }
            let local = date
                .at(8, 0, 0, 0)
                .checked_add(jiff::Span::new().minutes(slot * 30))?;
            let start = local.in_tz(zone)?.timestamp();
            let member = &seeded.members[(booked as usize) % seeded.members.len()];
            let answer = client
                .post(options.base.join("/api/calendar/booking")?)
                .bearer_auth(&seeded.api_key)
                .json(&serde_json::json!({"start_time": start.to_string(), "duration": 30,
                        "user_id": member.to_string(),
                        "attendee": {"name": format!("Guest {booked}"), "phone": "+1 212 555 0100"}}))
                .send()
                .await?;
            if answer.status().is_success() {
                booked += 1;
                if first_booking.is_none() {
                    let body: serde_json::Value = answer.json().await?;
                    first_booking = body["id"].as_str().map(str::to_string);
                }
            }
        }
    }
    let date = seeded.start;
    let mut pages = vec![
        "/dashboard".to_string(),
        "/dashboard/bookings".to_string(),
        format!("/dashboard/bookings?from={date}&to={}", seeded.end),
        "/dashboard/hours".to_string(),
        format!("/dashboard/calendar?date={date}"),
        format!("/dashboard/calendar?date={date}&view=day"),
        "/dashboard/calendars".to_string(),
        format!("/dashboard/analytics?from={date}&to={}", seeded.end),
        "/dashboard/team".to_string(),
        "/dashboard/agents".to_string(),
    ];
    if let Some(id) = first_booking {
        pages.push(format!("/dashboard/bookings/{id}"));
    }
    let mut baseline = load(
        &client,
        options.base.join("/healthz")?,
        &cookies,
        options.warmup,
        options.duration,
    )
    .await?;
    baseline.p99_ratio = 1.0;
    let mut reports = Vec::new();
    for path in pages {
        let mut report = load(
            &client,
            options.base.join(&path)?,
            &cookies,
            options.warmup,
            options.duration,
        )
        .await?;
        report.p99_ratio = report.p99_ms / baseline.p99_ms;
        reports.push(report);
    }
    let mut assets = Vec::new();
    for path in [
        "/dashboard/assets/dashboard.css",
        "/dashboard/assets/htmx-2.0.11.min.js",
        "/dashboard/assets/charts.js",
        "/dashboard/assets/hours.js",
        "/dashboard/assets/uPlot-1.6.32.iife.min.js",
        "/dashboard/assets/uPlot-1.6.32.min.css",
    ] {
        let body = client
            .get(options.base.join(path)?)
            .send()
            .await?
            .bytes()
            .await?;
        assets.push((path.to_string(), body.len()));
    }
    Ok(DashboardReport {
        sessions: options.sessions,
        members: options.members,
        events: options.events,
        bookings: booked,
        baseline,
        pages: reports,
        assets,
    })
}
