//! The initial ingest per provider: a calendar's whole content synced from nothing, timed end
//! to end through `POST /api/calendar/sync` (Google) or `POST /api/calendar/providers/{id}/sync`
//! (Microsoft, CalDAV), and again without the time the provider itself took to answer.

use std::time::{Duration, Instant};

use jiff::SignedDuration;
use pillow_store::ConnectionId;
use serde_json::json;

use super::proxy::TimedProxy;
use super::{forget, median, ms, runs, settle, stored, sync_connection};
use crate::caldav::{self, WORK, radicale};
use crate::helpers::Db;
use crate::{google, microsoft};

/// Google and Microsoft: as many events as the Google benchmark always used.
const EVENTS: usize = 10_000;
/// CalDAV: Radicale keeps one file per resource and parses each in Python when it first
/// serves it (some 20 ms apiece on this machine), so 2,000 resources (about seven months of a
/// busy calendar, and the size of the client-layer Criterion benchmark) keep a run in seconds.
const RESOURCES: usize = 2_000;
const RUNS: usize = 3;

/// One timed sync: its wall time and the part the provider (fake or Radicale) spent answering.
struct Run {
    total: Duration,
    provider: Duration,
}

impl Run {
    fn ours(&self) -> Duration {
        self.total.saturating_sub(self.provider)
    }
}

async fn google_run(h: &google::Harness, id: ConnectionId) -> Run {
    forget(&h.app, h.tenant.id, h.tenant.owner.id, id).await;
    let before = h.google.busy_time();
    let started = Instant::now();
    let result = h.sync().await;
    let total = started.elapsed();
    let provider = h.google.busy_time() - before;
    assert_eq!(result["outcome"], "synced", "{result}");
    assert_eq!(result["upserted"], EVENTS, "{result}");
    assert_eq!(
        stored(&h.app, h.tenant.id, h.tenant.owner.id, id).await,
        EVENTS
    );
    Run { total, provider }
}

async fn microsoft_run(h: &microsoft::Harness, id: ConnectionId) -> Run {
    forget(&h.app, h.tenant.id, h.tenant.owner.id, id).await;
    let before = h.ms.busy_time();
    let started = Instant::now();
    let result = sync_connection(&h.app, h.token(), id).await;
    let total = started.elapsed();
    let provider = h.ms.busy_time() - before;
    assert_eq!(result["full"], true, "{result}");
    assert_eq!(result["upserted"], EVENTS, "{result}");
    assert_eq!(
        stored(&h.app, h.tenant.id, h.tenant.owner.id, id).await,
        EVENTS
    );
    Run { total, provider }
}

async fn caldav_run(h: &caldav::Harness, proxy: &TimedProxy, id: ConnectionId) -> Run {
    forget(&h.app, h.tenant.id, h.tenant.owner.id, id).await;
    let before = proxy.busy_time();
    let started = Instant::now();
    let result = sync_connection(&h.app, h.token(), id).await;
    let total = started.elapsed();
    let provider = proxy.busy_time() - before;
    assert_eq!(result["full"], true, "{result}");
    assert_eq!(result["upserted"], RESOURCES, "{result}");
    assert_eq!(
        stored(&h.app, h.tenant.id, h.tenant.owner.id, id).await,
        RESOURCES
    );
    Run { total, provider }
}

/// Google's calendar: `EVENTS` 15-minute events 12 minutes apart (83 days, inside Google's
/// 90-day window), connected with its own first sync finished.
async fn google_ready(db: Db) -> Option<(google::Harness, ConnectionId)> {
    let h = google::harness(db, &[("GOOGLE_PUSH", "off".to_string())]).await?;
    for n in 0..EVENTS as i64 {
        h.create(
            &format!("E{n}"),
            google::soon(0) + SignedDuration::from_mins(12 * n),
            15,
        );
    }
    let id = h.connect_settled().await.parse().unwrap();
    Some((h, id))
}

/// The same calendar in Outlook. Pages of 100, which our client asks for with
/// `Prefer: odata.maxpagesize=100` (the fake's own default of 10 is for paging tests).
async fn microsoft_ready(db: Db) -> (microsoft::Harness, ConnectionId) {
    let h = microsoft::harness(db).await.expect("the database is there");
    h.ms.set_page_size(1000);
    for n in 0..EVENTS as i64 {
        h.create(
            &format!("E{n}"),
            microsoft::soon(0) + SignedDuration::from_mins(12 * n),
            15,
        );
    }
    let id = h.connect().await;
    settle(&h.app, h.tenant.id, id).await;
    (h, id)
}

/// A Radicale calendar of `RESOURCES` one-off 30-minute events an hour apart (83 days),
/// connected through the timing proxy. The files are written straight into Radicale's folder
/// and read once before connecting, so Radicale's own first parse of each (the cost of a PUT,
/// which a real calendar paid long ago) is in no figure.
async fn caldav_ready(db: Db) -> (caldav::Harness, TimedProxy, ConnectionId) {
    let h = caldav::harness(db)
        .await
        .expect("Radicale and the database");
    for n in 0..RESOURCES as i64 {
        let start = caldav::soon(0) + SignedDuration::from_hours(n);
        let uid = format!("bench-{n}");
        h.dav.write_directly(
            &format!("{WORK}{uid}.ics"),
            &caldav::ics(&uid, start, start + SignedDuration::from_mins(30)),
        );
    }
    assert_eq!(h.dav.hrefs(WORK).await.len(), RESOURCES);
    let proxy = TimedProxy::start(&h.dav.url).await;
    let reply = h
        .connect(json!({"server_url": proxy.url, "username": radicale::USER,
                        "password": radicale::PASSWORD}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let id = reply.body["provider"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    settle(&h.app, h.tenant.id, id).await;
    (h, proxy, id)
}

fn report(db: Db, name: &str, n: usize, runs_of: &[Run], baseline: Option<&[Run]>) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let ours: Vec<f64> = runs_of.iter().map(|r| rate(r.ours())).collect();
    let total: Vec<f64> = runs_of.iter().map(|r| rate(r.total)).collect();
    println!(
        "{db:?} {name}: {n} events; ours {} ms, {} events/s; end to end {} ms, {} events/s; \
         provider's own {} ms",
        runs(&runs_of.iter().map(|r| ms(r.ours())).collect::<Vec<_>>(), 0),
        runs(&ours, 0),
        runs(&runs_of.iter().map(|r| ms(r.total)).collect::<Vec<_>>(), 0),
        runs(&total, 0),
        runs(
            &runs_of.iter().map(|r| ms(r.provider)).collect::<Vec<_>>(),
            0
        ),
    );
    if let Some(baseline) = baseline {
        // Round by round, as the rounds ran side by side on the same noisy machine.
        let ratio: Vec<f64> = runs_of
            .iter()
            .zip(baseline)
            .map(|(r, g)| rate(r.ours()) / (EVENTS as f64 / g.ours().as_secs_f64()))
            .collect();
        let ratio_total: Vec<f64> = runs_of
            .iter()
            .zip(baseline)
            .map(|(r, g)| rate(r.total) / (EVENTS as f64 / g.total.as_secs_f64()))
            .collect();
        println!(
            "{db:?} {name}: events/s relative to Google's in the same round: ours {}, end to \
             end {}",
            runs(&ratio, 2),
            runs(&ratio_total, 2)
        );
    }
    assert!(median(&ours) > 0.0);
}

/// Benchmark (run on demand): the initial ingest of `EVENTS` Google and Outlook events and
/// `RESOURCES` CalDAV resources on each store, `RUNS` rounds with the providers in turn, so
/// Google's figure in the same round is the baseline.
/// `cargo test --release --workspace --test api -- sync_bench::ingest --include-ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run on demand"]
async fn bench_initial_ingest_per_provider() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some((g, google_id)) = google_ready(db).await else {
            eprintln!("skipped {db:?}: no database");
            continue;
        };
        let (m, microsoft_id) = microsoft_ready(db).await;
        let (c, proxy, caldav_id) = caldav_ready(db).await;
        let (mut google, mut microsoft, mut caldav) = (vec![], vec![], vec![]);
        for _ in 0..RUNS {
            google.push(google_run(&g, google_id).await);
            microsoft.push(microsoft_run(&m, microsoft_id).await);
            caldav.push(caldav_run(&c, &proxy, caldav_id).await);
        }
        report(db, "google", EVENTS, &google, None);
        report(db, "microsoft", EVENTS, &microsoft, Some(&google));
        report(db, "caldav", RESOURCES, &caldav, Some(&google));
        drop(proxy);
        c.app.finish().await;
        m.app.finish().await;
        g.app.finish().await;
    }
}
