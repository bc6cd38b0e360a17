//! Closed-loop HTTP load: `concurrency` tasks, each sending requests back to back over
//! keep-alive HTTP/1.1 connections, for a warm-up and then a measured duration.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, Url, redirect};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::util::{format_duration, parse_loopback_url, percentile, snippet};

/// The most tasks one run may use.
pub const MAX_CONCURRENCY: usize = 4096;

/// What to send, how hard and for how long.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Targets, cycled round-robin across all tasks. All must be loopback.
    pub urls: Vec<Url>,
    /// Sent with every request.
    pub headers: HeaderMap,
    pub method: Method,
    pub body: Option<Vec<u8>>,
    /// Bodies sent in turn, one per request (each used once before any repeats); overrides
    /// `body` when not empty. For benchmarks where every request must differ.
    pub bodies: Vec<Vec<u8>>,
    /// Statuses besides 2xx that count as answered (e.g. 409 for a contended slot).
    pub accept: Vec<u16>,
    /// Number of tasks, each with at most one request in flight.
    pub concurrency: usize,
    /// Requests sent but not recorded before the measurement starts.
    pub warmup: Duration,
    /// Length of the measurement.
    pub duration: Duration,
    /// Stop after this many measured requests, even if `duration` is not over.
    pub max_requests: Option<u64>,
    /// Per-request timeout (connect to end of body); a timed-out request is a transport error.
    pub timeout: Duration,
    /// A mixed workload: every `every`-th request is a POST of the next of `bodies` to this
    /// URL, and the others are plain `method` requests to `urls` without a body.
    pub writes: Option<Writes>,
}

/// The writes of a mixed workload; see [`HttpOptions::writes`].
#[derive(Clone, Debug)]
pub struct Writes {
    pub url: Url,
    /// One request in this many is a write (20 for 5%).
    pub every: u64,
}

impl HttpOptions {
    /// Options with the CLI defaults for the given URLs (GET, concurrency 32, 2 s + 10 s).
    #[must_use]
    pub fn new(urls: Vec<Url>) -> HttpOptions {
        HttpOptions {
            urls,
            headers: HeaderMap::new(),
            method: Method::GET,
            body: None,
            bodies: Vec::new(),
            accept: Vec::new(),
            concurrency: 32,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            max_requests: None,
            timeout: Duration::from_secs(10),
            writes: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.urls.is_empty() {
            bail!("give at least one --url");
        }
        for url in &self.urls {
            // Re-check here too, so library callers cannot bypass the loopback rule.
            parse_loopback_url(url.as_str())?;
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            bail!("--concurrency must be between 1 and {MAX_CONCURRENCY}");
        }
        if self.duration.is_zero() {
            bail!("--duration must be above zero");
        }
        if self.warmup + self.duration > crate::util::MAX_DURATION {
            bail!("--warmup plus --duration must not exceed 1 h");
        }
        if self.timeout.is_zero() {
            bail!("--timeout must be above zero");
        }
        if self.max_requests == Some(0) {
            bail!("--max-requests must be above zero");
        }
        if let Some(writes) = &self.writes {
            parse_loopback_url(writes.url.as_str())?;
            if writes.every == 0 {
                bail!("--write-every must be above zero");
            }
            if self.bodies.is_empty() {
                bail!("--write-url needs --bodies-file");
            }
        }
        Ok(())
    }
}

/// The first failed request of the measured window.
#[derive(Clone, Debug, Serialize)]
pub struct FirstError {
    /// `"status"` (a non-2xx answer) or `"transport"` (connect, timeout, I/O...).
    pub kind: &'static str,
    pub status: Option<u16>,
    pub url: String,
    /// Start of the response body, or the transport error.
    pub message: String,
}

/// Latency of the successful (2xx) measured requests, in milliseconds; `None` without any.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencyMs {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

/// The figures of one run. Only requests started after the warm-up count.
#[derive(Clone, Debug, Serialize)]
pub struct HttpReport {
    pub urls: Vec<String>,
    pub method: String,
    pub concurrency: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// From the end of the warm-up to the last measured response.
    pub elapsed_s: f64,
    /// Measured requests: `ok + non_2xx + transport_errors`.
    pub requests: u64,
    pub ok: u64,
    pub non_2xx: u64,
    pub transport_errors: u64,
    pub first_error: Option<FirstError>,
    /// Successful (2xx) responses per second of `elapsed_s`.
    pub throughput_rps: f64,
    pub latency_ms: LatencyMs,
    /// True if some task did not finish in time and was abandoned (its figures are lost).
    pub abandoned_tasks: usize,
}

impl HttpReport {
    /// Errors of either kind.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.non_2xx + self.transport_errors
    }

    /// A short human-readable table.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let target = match self.urls.as_slice() {
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (+{} more, cycled)", rest.len()),
            [] => String::new(),
        };
        let _ = writeln!(out, "  target       {} {target}", self.method);
        let _ = writeln!(
            out,
            "  settings     concurrency {}, warmup {}, duration {}",
            self.concurrency,
            format_duration(Duration::from_secs_f64(self.warmup_s)),
            format_duration(Duration::from_secs_f64(self.duration_s)),
        );
        let _ = writeln!(
            out,
            "  requests     {} in {:.2} s (2xx {}, non-2xx {}, transport errors {})",
            self.requests, self.elapsed_s, self.ok, self.non_2xx, self.transport_errors
        );
        let _ = writeln!(out, "  throughput   {:.1} req/s (2xx)", self.throughput_rps);
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3} ms"));
        let _ = writeln!(
            out,
            "  latency      p50 {}  p90 {}  p99 {}  max {}",
            ms(self.latency_ms.p50),
            ms(self.latency_ms.p90),
            ms(self.latency_ms.p99),
            ms(self.latency_ms.max),
        );
        if let Some(error) = &self.first_error {
            let status = error.status.map(|s| format!("{s} ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  first error  {} {status}{}: {}",
                error.kind, error.url, error.message
            );
        }
        if self.abandoned_tasks > 0 {
            let _ = writeln!(
                out,
                "  warning      {} task(s) abandoned after the deadline",
                self.abandoned_tasks
            );
        }
        out
    }
}

#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) latencies_ns: Vec<u64>,
    pub(crate) ok: u64,
    pub(crate) non_2xx: u64,
    pub(crate) transport_errors: u64,
    /// (offset from measurement start in ns, error) of this task's first failure.
    pub(crate) first_error: Option<(u64, FirstError)>,
    /// Offset from measurement start of the last measured response, in ns.
    pub(crate) last_finish_ns: u64,
}

struct Shared {
    options: HttpOptions,
    client: Client,
    next_url: AtomicUsize,
    next_body: AtomicUsize,
    /// Requests started, for choosing the writes of a mixed workload.
    started: AtomicU64,
    issued: AtomicU64,
    measure_start: Instant,
    end: Instant,
}

/// Builds the client: HTTP/1.1, keep-alive pool, no proxy, no redirects, `localhost`
/// pinned to loopback addresses so that name resolution cannot send traffic elsewhere.
pub(crate) fn build_client(options: &HttpOptions) -> Result<Client> {
    let mut builder = Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(options.concurrency)
        .tcp_nodelay(true)
        .timeout(options.timeout)
        .default_headers(options.headers.clone());
    let loopback = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
    ];
    for url in &options.urls {
        if let Some(host) = url.host_str()
            && host.parse::<IpAddr>().is_err()
            && !host.starts_with('[')
        {
            builder = builder.resolve_to_addrs(host, &loopback);
        }
    }
    builder.build().context("building the HTTP client")
}

async fn worker(shared: Arc<Shared>) -> WorkerStats {
    let options = &shared.options;
    let mut stats = WorkerStats::default();
    loop {
        let started = Instant::now();
        if started >= shared.end {
            break;
        }
        let measured = started >= shared.measure_start;
        if measured
            && let Some(max) = options.max_requests
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        let write = options.writes.as_ref().filter(|w| {
            (shared.started.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(w.every)
        });
        let (url, mut request) = match write {
            Some(write) => (&write.url, shared.client.post(write.url.clone())),
            None => {
                let index = shared.next_url.fetch_add(1, Ordering::Relaxed) % options.urls.len();
                let url = &options.urls[index];
                (
                    url,
                    shared.client.request(options.method.clone(), url.clone()),
                )
            }
        };
        // The reads of a mixed workload carry no body.
        let read_of_a_mix = options.writes.is_some() && write.is_none();
        if !read_of_a_mix && !options.bodies.is_empty() {
            let index = shared.next_body.fetch_add(1, Ordering::Relaxed) % options.bodies.len();
            request = request.body(options.bodies[index].clone());
        } else if !read_of_a_mix && let Some(body) = &options.body {
            request = request.body(body.clone());
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                // Read the whole body so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(body) => Ok((status, body)),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        };
        let finished = Instant::now();
        if !measured {
            continue;
        }
        let offset = |at: Instant| {
            u64::try_from(at.duration_since(shared.measure_start).as_nanos()).unwrap_or(u64::MAX)
        };
        stats.last_finish_ns = stats.last_finish_ns.max(offset(finished));
        let error = match outcome {
            Ok((status, _)) if status.is_success() || options.accept.contains(&status.as_u16()) => {
                stats.ok += 1;
                let latency = finished.duration_since(started).as_nanos();
                stats
                    .latencies_ns
                    .push(u64::try_from(latency).unwrap_or(u64::MAX));
                None
            }
            Ok((status, body)) => {
                stats.non_2xx += 1;
                Some(FirstError {
                    kind: "status",
                    status: Some(status.as_u16()),
                    url: url.to_string(),
                    message: snippet(&String::from_utf8_lossy(&body), 200),
                })
            }
            Err(error) => {
                stats.transport_errors += 1;
                Some(FirstError {
                    kind: "transport",
                    status: None,
                    url: url.to_string(),
                    message: error_chain(&error),
                })
            }
        };
        if let Some(error) = error
            && stats.first_error.is_none()
        {
            stats.first_error = Some((offset(started), error));
        }
    }
    stats
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    snippet(&message, 300)
}

/// Runs the load and returns its figures. Stops by itself after `warmup + duration`
/// (or `max_requests`); a request still running then is bounded by `timeout`.
///
/// # Errors
/// Invalid options (including a non-loopback URL) or a client that cannot be built.
/// Failed requests are not errors: they are counted in the report.
pub async fn run_http(options: &HttpOptions) -> Result<HttpReport> {
    options.validate()?;
    let client = build_client(options)?;
    let start = Instant::now();
    let measure_start = start + options.warmup;
    let end = measure_start + options.duration;
    let shared = Arc::new(Shared {
        options: options.clone(),
        client,
        next_url: AtomicUsize::new(0),
        next_body: AtomicUsize::new(0),
        started: AtomicU64::new(0),
        issued: AtomicU64::new(0),
        measure_start,
        end,
    });
    let mut tasks = JoinSet::new();
    for _ in 0..options.concurrency {
        tasks.spawn(worker(Arc::clone(&shared)));
    }

    // Every request starts before `end` and is bounded by `timeout`; this is a backstop.
    let hard_deadline = end + options.timeout + Duration::from_secs(2);
    let mut all = Vec::with_capacity(options.concurrency);
    let mut abandoned_tasks = 0;
    loop {
        match tokio::time::timeout_at(hard_deadline, tasks.join_next()).await {
            Ok(Some(Ok(stats))) => all.push(stats),
            Ok(Some(Err(error))) => return Err(error).context("a load task failed"),
            Ok(None) => break,
            Err(_) => {
                abandoned_tasks = tasks.len();
                tasks.abort_all();
                break;
            }
        }
    }
    Ok(summarize(options, all, abandoned_tasks))
}

pub(crate) fn summarize(
    options: &HttpOptions,
    all: Vec<WorkerStats>,
    abandoned_tasks: usize,
) -> HttpReport {
    let mut latencies = Vec::with_capacity(all.iter().map(|s| s.latencies_ns.len()).sum());
    let (mut ok, mut non_2xx, mut transport_errors, mut last_finish_ns) = (0, 0, 0, 0);
    let mut first_error: Option<(u64, FirstError)> = None;
    for stats in all {
        latencies.extend_from_slice(&stats.latencies_ns);
        ok += stats.ok;
        non_2xx += stats.non_2xx;
        transport_errors += stats.transport_errors;
        last_finish_ns = last_finish_ns.max(stats.last_finish_ns);
        if let Some((at, error)) = stats.first_error
            && first_error.as_ref().is_none_or(|(best, _)| at < *best)
        {
            first_error = Some((at, error));
        }
    }
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let to_ms = |ns: u64| ns as f64 / 1e6;
    #[allow(clippy::cast_precision_loss)]
    let mean = (!latencies.is_empty())
        .then(|| latencies.iter().map(|&ns| to_ms(ns)).sum::<f64>() / latencies.len() as f64);
    let elapsed_s = Duration::from_nanos(last_finish_ns).as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let throughput_rps = if elapsed_s > 0.0 {
        ok as f64 / elapsed_s
    } else {
        0.0
    };
    HttpReport {
        urls: options.urls.iter().map(ToString::to_string).collect(),
        method: options.method.to_string(),
        concurrency: options.concurrency,
        warmup_s: options.warmup.as_secs_f64(),
        duration_s: options.duration.as_secs_f64(),
        elapsed_s,
        requests: ok + non_2xx + transport_errors,
        ok,
        non_2xx,
        transport_errors,
        first_error: first_error.map(|(_, error)| error),
        throughput_rps,
        latency_ms: LatencyMs {
            p50: percentile(&latencies, 50.0).map(to_ms),
            p90: percentile(&latencies, 90.0).map(to_ms),
            p99: percentile(&latencies, 99.0).map(to_ms),
            max: latencies.last().copied().map(to_ms),
            mean,
        },
        abandoned_tasks,
    }
}

/// Baseline and target of a `compare`, and target/baseline ratios.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub baseline: HttpReport,
    pub target: HttpReport,
    pub ratio: Ratios,
}

/// `target / baseline`; `None` when the baseline figure is missing or zero.
#[derive(Clone, Debug, Serialize)]
pub struct Ratios {
    pub throughput: Option<f64>,
    pub p99: Option<f64>,
}

impl CompareReport {
    /// Pairs two reports and computes the ratios.
    #[must_use]
    pub fn new(baseline: HttpReport, target: HttpReport) -> CompareReport {
        let ratio = |t: Option<f64>, b: Option<f64>| match (t, b) {
            (Some(t), Some(b)) if b > 0.0 => Some(t / b),
            _ => None,
        };
        let ratios = Ratios {
            throughput: ratio(Some(target.throughput_rps), Some(baseline.throughput_rps)),
            p99: ratio(target.latency_ms.p99, baseline.latency_ms.p99),
        };
        CompareReport {
            baseline,
            target,
            ratio: ratios,
        }
    }

    /// Both tables and the ratios.
    #[must_use]
    pub fn render_text(&self) -> String {
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        format!(
            "baseline\n{}target\n{}ratio target/baseline\n  throughput   {}\n  p99          {}\n",
            self.baseline.render_text(),
            self.target.render_text(),
            fmt(self.ratio.throughput),
            fmt(self.ratio.p99),
        )
    }
}

/// Runs `baseline` then `target` with the same settings.
///
/// # Errors
/// As [`run_http`].
pub async fn run_compare(baseline: &HttpOptions, target: &HttpOptions) -> Result<CompareReport> {
    // Validate both before sending anything.
    baseline.validate()?;
    target.validate()?;
    let baseline = run_http(baseline).await?;
    let target = run_http(target).await?;
    Ok(CompareReport::new(baseline, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(latencies_ms: &[u64], non_2xx: u64, last_ms: u64) -> WorkerStats {
        WorkerStats {
            latencies_ns: latencies_ms.iter().map(|ms| ms * 1_000_000).collect(),
            ok: latencies_ms.len() as u64,
            non_2xx,
            transport_errors: 0,
            first_error: None,
            last_finish_ns: last_ms * 1_000_000,
        }
    }

    #[test]
    fn summary_merges_tasks() {
        let options = HttpOptions::new(vec![Url::parse("http://127.0.0.1:1/").unwrap()]);
        let mut a = stats(&(1..=50).collect::<Vec<_>>(), 1, 1_000);
        a.first_error = Some((
            500,
            FirstError {
                kind: "status",
                status: Some(500),
                url: "late".into(),
                message: String::new(),
            },
        ));
        let mut b = stats(&(51..=100).collect::<Vec<_>>(), 0, 2_000);
        b.first_error = Some((
            10,
            FirstError {
                kind: "status",
                status: Some(404),
                url: "early".into(),
                message: String::new(),
            },
        ));
        let report = summarize(&options, vec![a, b], 0);
        assert_eq!(report.ok, 100);
        assert_eq!(report.requests, 101);
        assert_eq!(report.errors(), 1);
        assert_eq!(report.latency_ms.p50, Some(50.0));
        assert_eq!(report.latency_ms.p99, Some(99.0));
        assert_eq!(report.latency_ms.max, Some(100.0));
        assert_eq!(report.latency_ms.mean, Some(50.5));
        assert!((report.elapsed_s - 2.0).abs() < 1e-9);
        assert!((report.throughput_rps - 50.0).abs() < 1e-9);
        assert_eq!(report.first_error.unwrap().url, "early");
    }

    #[test]
    fn ratios() {
        let options = HttpOptions::new(vec![Url::parse("http://127.0.0.1:1/").unwrap()]);
        let base = summarize(&options, vec![stats(&[1, 2, 3, 4], 0, 1_000)], 0);
        let target = summarize(&options, vec![stats(&[2, 4], 0, 1_000)], 0);
        let compare = CompareReport::new(base, target);
        assert_eq!(compare.ratio.throughput, Some(0.5));
        assert_eq!(compare.ratio.p99, Some(1.0));
        let empty = summarize(&options, vec![], 0);
        let compare = CompareReport::new(empty.clone(), empty);
        assert_eq!(compare.ratio.throughput, None);
        assert_eq!(compare.ratio.p99, None);
    }

    #[test]
    fn refuses_non_loopback_before_sending() {
        let options = HttpOptions::new(vec![Url::parse("http://192.0.2.1/").unwrap()]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime.block_on(run_http(&options)).unwrap_err();
        assert!(error.to_string().contains("not loopback"), "{error}");
    }
}
