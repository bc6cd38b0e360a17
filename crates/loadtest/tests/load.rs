//! Runs the load generator against a tiny axum server on 127.0.0.1:0.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use pillow_loadtest::http::{HttpOptions, run_compare, run_http};
use pillow_loadtest::startup::{StartupOptions, run_startup};
use reqwest::Url;

#[derive(Clone, Default)]
struct Hits {
    a: Arc<AtomicU64>,
    b: Arc<AtomicU64>,
}

/// Serves `/ok`, `/a`, `/b` (200, counted) and `/fail` (503) on a free loopback port.
async fn serve() -> String {
    let hits = Hits::default();
    serve_with(hits).await
}

async fn serve_with(hits: Hits) -> String {
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/a",
            get(|State(h): State<Hits>| async move {
                h.a.fetch_add(1, Ordering::Relaxed);
                "a"
            }),
        )
        .route(
            "/b",
            get(|State(h): State<Hits>| async move {
                h.b.fetch_add(1, Ordering::Relaxed);
                "b"
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "database unavailable") }),
        )
        .with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn options(urls: &[String]) -> HttpOptions {
    let mut options = HttpOptions::new(urls.iter().map(|u| Url::parse(u).unwrap()).collect());
    options.concurrency = 4;
    options.warmup = Duration::from_millis(200);
    options.duration = Duration::from_secs(1);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_requests_without_errors() {
    let base = serve().await;
    let started = std::time::Instant::now();
    let report = run_http(&options(&[format!("{base}/ok")])).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "run must stop by itself"
    );
    assert!(report.requests > 0, "{report:?}");
    assert_eq!(report.ok, report.requests);
    assert_eq!(report.errors(), 0, "{report:?}");
    assert!(report.first_error.is_none());
    assert!(report.throughput_rps > 0.0);
    assert!(
        report.elapsed_s >= 1.0 && report.elapsed_s < 2.0,
        "{report:?}"
    );
    let l = &report.latency_ms;
    assert!(l.p50.unwrap() > 0.0);
    assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(report.render_text().contains("req/s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_counted_as_errors() {
    let base = serve().await;
    let mut options = options(&[format!("{base}/fail")]);
    options.duration = Duration::from_millis(300);
    let report = run_http(&options).await.unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.non_2xx, report.requests);
    assert_eq!(report.ok, 0);
    assert_eq!(report.transport_errors, 0);
    assert_eq!(report.throughput_rps, 0.0);
    assert_eq!(report.latency_ms.p50, None);
    let error = report.first_error.unwrap();
    assert_eq!(error.kind, "status");
    assert_eq!(error.status, Some(503));
    assert_eq!(error.message, "database unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_counted_as_transport_errors() {
    let port = pillow_loadtest::startup::free_port().unwrap();
    let mut options = options(&[format!("http://127.0.0.1:{port}/")]);
    options.warmup = Duration::ZERO;
    options.duration = Duration::from_millis(200);
    options.concurrency = 1;
    let report = run_http(&options).await.unwrap();
    assert!(report.transport_errors > 0);
    assert_eq!(report.ok + report.non_2xx, 0);
    assert_eq!(report.first_error.unwrap().kind, "transport");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_are_cycled_and_max_requests_stops_early() {
    let hits = Hits::default();
    let base = serve_with(hits.clone()).await;
    let mut options = options(&[format!("{base}/a"), format!("{base}/b")]);
    options.warmup = Duration::ZERO;
    options.duration = Duration::from_secs(30);
    options.max_requests = Some(200);
    let started = std::time::Instant::now();
    let report = run_http(&options).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(report.requests, 200);
    assert_eq!(report.errors(), 0);
    let (a, b) = (
        hits.a.load(Ordering::Relaxed),
        hits.b.load(Ordering::Relaxed),
    );
    assert_eq!(a + b, 200);
    assert!(a.abs_diff(b) <= 4, "a={a} b={b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_gives_ratios() {
    let base = serve().await;
    let mut baseline = options(&[format!("{base}/ok")]);
    baseline.warmup = Duration::from_millis(100);
    baseline.duration = Duration::from_millis(400);
    let mut target = baseline.clone();
    target.urls = vec![Url::parse(&format!("{base}/a")).unwrap()];
    let report = run_compare(&baseline, &target).await.unwrap();
    assert!(report.ratio.throughput.unwrap() > 0.0);
    assert!(report.ratio.p99.unwrap() > 0.0);
    assert!(report.render_text().contains("ratio target/baseline"));
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pillow-load"))
}

#[test]
fn cli_refuses_non_loopback_targets() {
    for url in [
        "http://10.1.2.3/",
        "http://example.com/",
        "http://0.0.0.0:3000/",
    ] {
        let output = std::process::Command::new(bin())
            .args(["http", "--url", url, "--duration", "1s"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("not loopback"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_http_json() {
    let base = serve().await;
    let output = tokio::process::Command::new(bin())
        .args([
            "http",
            "--url",
            &format!("{base}/ok"),
            "--url",
            &format!("{base}/a"),
        ])
        .args(["-c", "2", "--warmup", "0s", "--duration", "300ms", "--json"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["requests"].as_u64().unwrap() > 0);
    assert_eq!(json["non_2xx"], 0);
    assert_eq!(json["transport_errors"], 0);
    assert_eq!(json["urls"].as_array().unwrap().len(), 2);
}

/// The `fake_server` example, which `cargo test` builds next to the binaries.
fn fake_server() -> Option<PathBuf> {
    let path = bin().parent()?.join("examples").join("fake_server");
    path.is_file().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_measures_a_server() {
    let Some(server) = fake_server() else {
        eprintln!("skipped: examples/fake_server not built");
        return;
    };
    let mut options = StartupOptions::new(server);
    options.runs = 2;
    options.idle = Duration::from_millis(200);
    let report = run_startup(&options).await.unwrap();
    assert_eq!(report.runs.len(), 2);
    for run in &report.runs {
        assert!(run.start_ms >= 20.0, "{run:?}");
        assert!(run.idle_rss_mib.unwrap() > 0.0);
        assert!(run.graceful, "{run:?}");
        assert_eq!(run.exit_code, Some(0));
    }
    assert!(report.median_start_ms.unwrap() >= 20.0);
    assert!(report.all_graceful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_reports_a_server_that_dies() {
    let mut options = StartupOptions::new(PathBuf::from("/bin/false"));
    options.runs = 1;
    let error = run_startup(&options).await.unwrap_err().to_string();
    assert!(error.contains("exited"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_status_counts_as_answered() {
    let base = serve().await;
    let mut opts = options(&[format!("{base}/fail")]);
    opts.accept = vec![503];
    let report = run_http(&opts).await.unwrap();
    assert!(report.requests > 0);
    assert_eq!(report.ok, report.requests, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_sent_in_turn() {
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let app = Router::new().route(
        "/echo",
        axum::routing::post(move |body: String| {
            let recorded = Arc::clone(&recorded);
            async move {
                recorded.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut opts = options(&[format!("http://{addr}/echo")]);
    opts.method = reqwest::Method::POST;
    opts.bodies = (0..1000)
        .map(|i| format!("body-{i}").into_bytes())
        .collect();
    opts.warmup = Duration::ZERO;
    opts.max_requests = Some(50);
    run_http(&opts).await.unwrap();
    let mut bodies = seen.lock().unwrap().clone();
    assert!(bodies.len() >= 50);
    bodies.sort();
    let before = bodies.len();
    bodies.dedup();
    assert_eq!(
        before,
        bodies.len(),
        "no body sent twice while unused ones remain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_workload_posts_one_request_in_n_and_reads_the_rest() {
    let reads = Arc::new(AtomicU64::new(0));
    let writes: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let (counted, recorded) = (Arc::clone(&reads), Arc::clone(&writes));
    let app = Router::new()
        .route(
            "/read",
            get(move |body: String| {
                let counted = Arc::clone(&counted);
                async move {
                    assert!(body.is_empty(), "reads carry no body");
                    counted.fetch_add(1, Ordering::Relaxed);
                    "read"
                }
            }),
        )
        .route(
            "/write",
            axum::routing::post(move |body: String| {
                let recorded = Arc::clone(&recorded);
                async move {
                    recorded.lock().unwrap().push(body);
                    "written"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut opts = options(&[format!("http://{addr}/read")]);
    opts.bodies = (0..1000).map(|i| format!("w{i}").into_bytes()).collect();
    opts.writes = Some(pillow_loadtest::http::Writes {
        url: Url::parse(&format!("http://{addr}/write")).unwrap(),
        every: 20,
    });
    opts.warmup = Duration::ZERO;
    opts.max_requests = Some(400);
    let report = run_http(&opts).await.unwrap();
    assert_eq!(report.errors(), 0, "{report:?}");
    let writes = writes.lock().unwrap().clone();
    let reads = reads.load(Ordering::Relaxed);
    assert!(writes.iter().all(|w| w.starts_with('w')), "{writes:?}");
    let total = reads + writes.len() as u64;
    // One in twenty, give or take the requests in flight when the run stopped.
    assert!(
        (total / 20).abs_diff(writes.len() as u64) <= 2,
        "{} writes of {total}",
        writes.len()
    );
}

/// The real server on a seeded temporary SQLite database; returns its base URL and what the
/// seed printed.
async fn real_server() -> (String, pillow_loadtest::seed::Seeded, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("load.db").display());
    let seeded = pillow_loadtest::seed::run_seed(&pillow_loadtest::seed::SeedOptions {
        database_url: url.clone(),
        members: 3,
        events: 20,
        days: 3,
        bodies_out: None,
    })
    .await
    .unwrap();
    let source = std::collections::HashMap::from([
        ("DATABASE_URL".to_string(), url.clone()),
        ("JWT_SECRET".to_string(), "j".repeat(40)),
        ("CALENDAR_ENCRYPTION_KEY".to_string(), "ab".repeat(32)),
    ]);
    let config = pillow_server::Config::from_source(&source).unwrap();
    let state =
        pillow_server::AppState::new(pillow_server::open_store(&url).await.unwrap(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        pillow_server::serve(state, listener, std::future::pending())
            .await
            .unwrap();
    });
    (base, seeded, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_load_calls_the_real_servers_tool_on_both_protocol_revisions() {
    use pillow_loadtest::mcp::{McpOptions, Protocol, run_mcp};
    let (base, seeded, _dir) = real_server().await;
    let mut http = options(&[format!("{base}/mcp")]);
    http.concurrency = 2;
    http.warmup = Duration::from_millis(100);
    http.duration = Duration::from_millis(500);
    for (name, value) in [
        ("authorization", format!("Bearer {}", seeded.api_key)),
        ("x-agent-id", seeded.agent_id.to_string()),
    ] {
        http.headers.insert(name, value.parse().unwrap());
    }
    for protocol in [Protocol::Modern2026, Protocol::Handshake2025] {
        let options = McpOptions {
            http: http.clone(),
            protocol,
            tool: "check_availability".into(),
            arguments: serde_json::json!({"date": seeded.start.to_string()}),
        };
        let report = run_mcp(&options).await.unwrap();
        assert!(report.ok > 0, "{protocol:?}: {report:?}");
        assert_eq!(report.errors(), 0, "{protocol:?}: {report:?}");
        assert!(report.method.contains(protocol.version()));

        // A tool error is not an answer, however fast it comes.
        let failing = McpOptions {
            arguments: serde_json::json!({"date": "the day after never"}),
            ..options
        };
        let report = run_mcp(&failing).await.unwrap();
        assert_eq!(report.ok, 0, "{protocol:?}: {report:?}");
        let error = report.first_error.expect("the failure is reported");
        assert!(error.message.contains("tool error"), "{error:?}");
    }
}
