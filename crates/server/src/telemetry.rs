//! Logs and metrics.
//!
//! Logs are structured (`LOG_FORMAT=json` for one JSON object per line) and every request's span
//! carries its `x-request-id`. Metrics are Prometheus text at `/metrics`: request count and
//! latency by route, plus whatever the features record.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Installs the log subscriber once; `RUST_LOG` filters, `LOG_FORMAT=json` switches format.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// The process-wide Prometheus recorder. Installed on first use: the `metrics` macros write to
/// one global recorder, so every app in a process (tests start many) shares it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let latency_buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency_buckets)
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is already installed, in which case ours stays idle.
        if metrics::set_global_recorder(recorder).is_ok() {
            let upkept = handle.clone();
            spawn_upkeep(UPKEEP_EVERY, move || upkept.run_upkeep());
        }
        handle
    })
}

/// How often recorded histogram samples are folded into their buckets. A recorder built by
/// hand (as ours is, to serve `/metrics` from our own router) keeps every sample until
/// `/metrics` is read: on a server nobody scrapes, that was 8 bytes more for every request,
/// for ever (tens of MiB over the 20-minute soak).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Runs `upkeep` every `every` on a thread of its own, for the life of the process: it needs
/// no runtime, and the recorder it keeps is process-wide too.
fn spawn_upkeep(every: Duration, upkeep: impl Fn() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "metrics upkeep not started: histogram samples wait for a scrape");
    }
}

/// Middleware: counts requests and times them, labelled by route template (not the raw path,
/// which would make one series per id). Every label comes from a closed set: a client choosing
/// methods or paths must not grow `/metrics` (or our memory) without bound.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a metrics label: the standard ones by name, any other as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upkeep_runs_again_and_again_without_anyone_scraping() {
        let (ran, runs) = std::sync::mpsc::channel();
        spawn_upkeep(Duration::from_millis(5), move || {
            let _ = ran.send(());
        });
        for _ in 0..3 {
            runs.recv_timeout(Duration::from_secs(10))
                .expect("the upkeep ran");
        }
    }
}
