//! `pillow-load`: see `docs/benchmarks.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pillow_loadtest::http::{HttpOptions, HttpReport, Writes, run_compare, run_http};
use pillow_loadtest::startup::{StartupOptions, parse_env, run_startup};
use pillow_loadtest::util::{parse_duration, parse_header, parse_loopback_url};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

/// Bounded, loopback-only benchmarks for the Pillow Calendar server.
#[derive(Parser)]
#[command(name = "pillow-load", version)]
struct Cli {
    /// Tokio worker threads for the load generator (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Closed-loop HTTP load against one or more loopback URLs (cycled round-robin).
    Http(HttpArgs),
    /// Runs --baseline then --target with the same settings and prints target/baseline ratios.
    Compare(CompareArgs),
    /// Cold start: time from spawn to the first 200 from /readyz, idle RSS, graceful SIGTERM.
    Startup(StartupArgs),
    /// Writes a benchmark data set (a team, its rules and busy events) into a database.
    Seed(SeedArgs),
    /// Closed-loop MCP load: each task is an MCP client calling one tool back to back.
    Mcp(McpArgs),
    /// Seeds the data set into the server's database, then loads every dashboard page from
    /// several signed-in sessions, beside /healthz in the same run.
    Dashboard(DashboardArgs),
    /// Booking throughput with e-mail, SMS and a webhook on versus off (same run, fresh
    /// databases, the server binary started for each), and booking → e-mail accepted times.
    Notify(NotifyArgs),
}

#[derive(Args)]
struct NotifyArgs {
    /// The server binary (`pillow-calendar`), started as `<bin> serve` for each run.
    #[arg(long)]
    bin: PathBuf,
    /// Stores to measure; `postgres` makes its databases on TEST_DATABASE_URL.
    #[arg(long = "store", value_enum, default_values_t = [StoreArg::Sqlite, StoreArg::Postgres])]
    stores: Vec<StoreArg>,
    /// Off/on pairs per store.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 20)]
    members: u32,
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    warmup: Duration,
    /// Measured time per run.
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "5s")]
    duration: Duration,
    /// The agent's `notifications` settings in the "on" mode, to find what part costs what
    /// (e.g. `{"send_email":true,"send_sms":true,"reminders":[]}`).
    #[arg(long, default_value = r#"{"send_email":true,"send_sms":true}"#)]
    on_notifications: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreArg {
    Sqlite,
    Postgres,
}

#[derive(Args)]
struct DashboardArgs {
    /// The running server, e.g. http://127.0.0.1:3000. Must be loopback.
    #[arg(long, value_parser = parse_loopback_url)]
    url: Url,
    /// The database the server uses (sqlite://… or postgres://…).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 20)]
    members: u32,
    #[arg(long, default_value_t = 10_000)]
    events: u32,
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Bookings made through the API before measuring.
    #[arg(long, default_value_t = 200)]
    bookings: u32,
    /// Concurrent signed-in sessions, one request in flight each.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    warmup: Duration,
    /// Measured time per page.
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "5s")]
    duration: Duration,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct McpArgs {
    /// The MCP endpoint, e.g. http://127.0.0.1:3000/mcp. Must be loopback.
    #[arg(long, value_parser = parse_loopback_url)]
    url: Url,
    /// MCP revision: 2025-11-25 (a session per task) or 2026-07-28 (no sessions).
    #[arg(long, default_value = "2026-07-28", value_parser = pillow_loadtest::mcp::Protocol::parse)]
    protocol: pillow_loadtest::mcp::Protocol,
    /// The tool to call.
    #[arg(long, default_value = "check_availability")]
    tool: String,
    /// The tool's arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    arguments: String,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct SeedArgs {
    /// Database to write into (sqlite://… or postgres://…).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 20)]
    members: u32,
    #[arg(long, default_value_t = 10_000)]
    events: u32,
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Also write one booking body per member and free slot to this file (JSON lines), for
    /// `http --bodies-file`.
    #[arg(long)]
    bodies_out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Get,
    Post,
}

#[derive(Args)]
struct LoadArgs {
    /// Request header 'Name: value' (repeatable), e.g. 'Authorization: Bearer KEY'.
    #[arg(long = "header", short = 'H', value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    #[arg(long, value_enum, ignore_case = true, default_value = "get")]
    method: MethodArg,
    /// File whose bytes are sent as the body of every request.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// File with one body per line, sent in turn (each once before any repeats).
    #[arg(long)]
    bodies_file: Option<PathBuf>,
    /// A status besides 2xx that counts as answered, e.g. 409 (repeatable).
    #[arg(long = "accept-status")]
    accept_status: Vec<u16>,
    /// Tasks sending back to back, each with one request in flight.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// Measured time after the warm-up (e.g. 500ms, 10s, 2m).
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "10s")]
    duration: Duration,
    /// Unrecorded load before the measurement.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    warmup: Duration,
    /// Stop after this many measured requests.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Per-request timeout; a timed-out request counts as a transport error.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// A mixed workload: every --write-every-th request is a POST of the next --bodies-file
    /// line to this URL, the others plain requests to the URLs (the baseline of a compare
    /// gets no writes).
    #[arg(long, value_parser = parse_loopback_url, requires = "write_every")]
    write_url: Option<Url>,
    /// One request in this many is a write (20 for 5%).
    #[arg(long, requires = "write_url")]
    write_every: Option<u64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl LoadArgs {
    fn options(&self, urls: Vec<Url>) -> Result<HttpOptions> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        let body = match &self.body_file {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            }
            None => None,
        };
        let bodies = match &self.bodies_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| line.as_bytes().to_vec())
                .collect(),
            None => Vec::new(),
        };
        Ok(HttpOptions {
            urls,
            headers,
            bodies,
            accept: self.accept_status.clone(),
            method: match self.method {
                MethodArg::Get => Method::GET,
                MethodArg::Post => Method::POST,
            },
            body,
            concurrency: self.concurrency,
            warmup: self.warmup,
            duration: self.duration,
            max_requests: self.max_requests,
            timeout: self.timeout,
            writes: self
                .write_url
                .clone()
                .zip(self.write_every)
                .map(|(url, every)| Writes { url, every }),
        })
    }
}

#[derive(Args)]
struct HttpArgs {
    /// Target URL (repeatable; cycled). Must be localhost, 127.0.0.0/8 or [::1].
    #[arg(long = "url", required = true, value_parser = parse_loopback_url)]
    urls: Vec<Url>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct CompareArgs {
    /// Baseline URL (repeatable; cycled), e.g. http://127.0.0.1:3000/healthz.
    #[arg(long, required = true, value_parser = parse_loopback_url)]
    baseline: Vec<Url>,
    /// Target URL (repeatable; cycled).
    #[arg(long, required = true, value_parser = parse_loopback_url)]
    target: Vec<Url>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct StartupArgs {
    /// The server binary (started as `<bin> serve`).
    #[arg(long)]
    bin: PathBuf,
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Extra environment KEY=VALUE (repeatable). DATABASE_URL, JWT_SECRET and
    /// CALENDAR_ENCRYPTION_KEY default to a fresh temporary SQLite file and random secrets.
    #[arg(long = "env", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Port for the server; 0 picks a free loopback port for each run.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Give up when /readyz has not answered 200 by then.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    ready_timeout: Duration,
    /// Idle wait between readiness and the memory reading.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    idle: Duration,
    /// Time allowed between SIGTERM and exit.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    shutdown_timeout: Duration,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Warns about failed requests; fails the command when nothing succeeded at all.
fn check_errors(label: &str, report: &HttpReport) -> Result<()> {
    if report.ok == 0 {
        anyhow::bail!("{label}no request succeeded ({} sent)", report.requests);
    }
    if report.errors() > 0 {
        eprintln!(
            "warning: {label}{} of {} requests failed (non-2xx {}, transport {})",
            report.errors(),
            report.requests,
            report.non_2xx,
            report.transport_errors
        );
    }
    Ok(())
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Http(args) => {
            let options = args.load.options(args.urls)?;
            let report = run_http(&options).await?;
            if args.load.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
            check_errors("", &report)?;
        }
        Command::Compare(args) => {
            let mut baseline = args.load.options(args.baseline)?;
            if baseline.writes.take().is_some() {
                baseline.bodies.clear();
            }
            let target = args.load.options(args.target)?;
            let report = run_compare(&baseline, &target).await?;
            if args.load.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
            check_errors("baseline: ", &report.baseline)?;
            check_errors("target: ", &report.target)?;
        }
        Command::Startup(args) => {
            let options = StartupOptions {
                runs: args.runs,
                env: args.env,
                port: args.port,
                ready_timeout: args.ready_timeout,
                idle: args.idle,
                shutdown_timeout: args.shutdown_timeout,
                ..StartupOptions::new(args.bin)
            };
            let report = run_startup(&options).await?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
            if !report.all_graceful {
                eprintln!("warning: not every run shut down gracefully after SIGTERM");
            }
        }
        Command::Mcp(args) => {
            let options = pillow_loadtest::mcp::McpOptions {
                http: args.load.options(vec![args.url])?,
                protocol: args.protocol,
                tool: args.tool,
                arguments: serde_json::from_str(&args.arguments)
                    .context("--arguments is not JSON")?,
            };
            let report = pillow_loadtest::mcp::run_mcp(&options).await?;
            if args.load.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
            check_errors("", &report)?;
        }
        Command::Dashboard(args) => {
            let report = pillow_loadtest::dashboard::run_dashboard(
                &pillow_loadtest::dashboard::DashboardOptions {
                    base: args.url,
                    database_url: args.database_url,
                    members: args.members,
                    events: args.events,
                    days: args.days,
                    bookings: args.bookings,
                    sessions: args.sessions,
                    warmup: args.warmup,
                    duration: args.duration,
                },
            )
            .await?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
        }
        Command::Notify(args) => {
            use pillow_loadtest::notify::{Backend, NotifyOptions, run_notify};
            let report = run_notify(&NotifyOptions {
                bin: args.bin,
                backends: args
                    .stores
                    .iter()
                    .map(|s| match s {
                        StoreArg::Sqlite => Backend::Sqlite,
                        StoreArg::Postgres => Backend::Postgres,
                    })
                    .collect(),
                rounds: args.rounds.clamp(1, 20),
                concurrency: args.concurrency.clamp(1, 512),
                members: args.members.clamp(1, 200),
                warmup: args.warmup,
                duration: args.duration,
                on_notifications: serde_json::from_str(&args.on_notifications)
                    .context("--on-notifications is not JSON")?,
            })
            .await?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render_text());
            }
        }
        Command::Seed(args) => {
            let seeded = pillow_loadtest::seed::run_seed(&pillow_loadtest::seed::SeedOptions {
                database_url: args.database_url,
                members: args.members,
                events: args.events,
                days: args.days,
                bodies_out: args.bodies_out,
            })
            .await?;
            println!(
                "{}",
                serde_json::json!({
                    "api_key": seeded.api_key,
                    "agent_id": seeded.agent_id,
                    "first_member": seeded.first_member,
                    "start": seeded.start.to_string(),
                    "end": seeded.end.to_string(),
                })
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads.max(1));
    }
    let result = builder
        .build()
        .context("starting the Tokio runtime")
        .and_then(|runtime| runtime.block_on(run(cli.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
