//! Cold start: spawn `<bin> serve`, time until `/readyz` first answers 200, read the idle
//! resident memory, then SIGTERM and check for a graceful exit.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::{Client, StatusCode, redirect};
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use uuid::Uuid;

use crate::util::median;

/// The most runs one invocation may ask for.
pub const MAX_RUNS: usize = 100;

/// What to start and how to time it.
#[derive(Clone, Debug)]
pub struct StartupOptions {
    /// The server binary; run as `<bin> serve`.
    pub bin: PathBuf,
    pub runs: usize,
    /// Extra environment, `KEY=VALUE`. `BIND` and `PORT` are set by the tool.
    pub env: Vec<(String, String)>,
    /// Port to use; 0 picks a free loopback port for each run.
    pub port: u16,
    /// Give up on a run whose `/readyz` has not answered 200 by then.
    pub ready_timeout: Duration,
    /// Time between readiness and the memory reading.
    pub idle: Duration,
    /// Time the server has to exit after SIGTERM before it is killed.
    pub shutdown_timeout: Duration,
    /// Pause between `/readyz` polls.
    pub poll_interval: Duration,
}

impl StartupOptions {
    /// Options with the CLI defaults.
    #[must_use]
    pub fn new(bin: PathBuf) -> StartupOptions {
        StartupOptions {
            bin,
            runs: 5,
            env: Vec::new(),
            port: 0,
            ready_timeout: Duration::from_secs(30),
            idle: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(1),
        }
    }
}

/// Parses `KEY=VALUE` for `--env`.
///
/// # Errors
/// No `=`, an empty key, or `BIND`/`PORT` (which the tool sets itself).
pub fn parse_env(text: &str) -> Result<(String, String)> {
    let (key, value) = text
        .split_once('=')
        .with_context(|| format!("--env {text:?} must look like KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() {
        bail!("--env {text:?}: empty variable name");
    }
    if key == "BIND" || key == "PORT" {
        bail!("--env {key}: the tool sets BIND=127.0.0.1 and PORT itself (use --port)");
    }
    Ok((key.to_string(), value.to_string()))
}

/// One start.
#[derive(Clone, Debug, Serialize)]
pub struct StartupRun {
    pub run: usize,
    pub port: u16,
    /// From spawn to the first 200 from `/readyz`.
    pub start_ms: f64,
    /// `/readyz` polls sent until the first 200.
    pub polls: u64,
    /// VmRSS after the idle wait, in MiB.
    pub idle_rss_mib: Option<f64>,
    /// From SIGTERM to exit; `None` if it had to be killed.
    pub shutdown_ms: Option<f64>,
    pub exit_code: Option<i32>,
    /// Exited with status 0 within the shutdown timeout after SIGTERM.
    pub graceful: bool,
}

/// All runs and their medians.
#[derive(Clone, Debug, Serialize)]
pub struct StartupReport {
    pub bin: String,
    pub runs: Vec<StartupRun>,
    pub median_start_ms: Option<f64>,
    pub median_idle_rss_mib: Option<f64>,
    pub all_graceful: bool,
}

impl StartupReport {
    fn new(bin: String, runs: Vec<StartupRun>) -> StartupReport {
        let starts: Vec<f64> = runs.iter().map(|r| r.start_ms).collect();
        let rss: Vec<f64> = runs.iter().filter_map(|r| r.idle_rss_mib).collect();
        StartupReport {
            bin,
            median_start_ms: median(&starts),
            median_idle_rss_mib: median(&rss),
            all_graceful: runs.iter().all(|r| r.graceful),
            runs,
        }
    }

    /// A short table, one line per run and the medians.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
        };
        let _ = writeln!(out, "{}", self.bin);
        let _ = writeln!(
            out,
            "  run   port  start ms  idle RSS MiB  shutdown ms  exit"
        );
        for run in &self.runs {
            let exit = match (run.exit_code, run.graceful) {
                (Some(code), true) => format!("{code} (graceful)"),
                (Some(code), false) => format!("{code} (NOT graceful)"),
                (None, _) => "signal/killed (NOT graceful)".to_string(),
            };
            let _ = writeln!(
                out,
                "  {:>3} {:>6} {:>9.1} {:>13} {:>12}  {exit}",
                run.run,
                run.port,
                run.start_ms,
                opt(run.idle_rss_mib, 1),
                opt(run.shutdown_ms, 1),
            );
        }
        let _ = writeln!(
            out,
            "  median     {:>9} {:>13}",
            opt(self.median_start_ms, 1),
            opt(self.median_idle_rss_mib, 1)
        );
        out
    }
}

/// Asks the OS for a free loopback port (released again before the server binds it).
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// 64 random hex characters (two v4 UUIDs; 244 random bits, ample for a benchmark).
fn random_hex64() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// Reads `VmRSS` of `pid` from `/proc/<pid>/status`, in KiB.
///
/// # Errors
/// The file cannot be read or has no `VmRSS` line.
pub fn read_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss_kib(&status).with_context(|| format!("no VmRSS line in {path}"))
}

fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.is_empty() {
        "(the server printed nothing)".to_string()
    } else {
        tail
    }
}

async fn stop(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

async fn one_run(options: &StartupOptions, run: usize, client: &Client) -> Result<StartupRun> {
    let port = if options.port == 0 {
        free_port()?
    } else {
        options.port
    };
    let dir = tempfile::Builder::new()
        .prefix("pillow-load-startup-")
        .tempdir()
        .context("creating a temporary directory")?;
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).context("creating the server log")?;

    let mut command = Command::new(&options.bin);
    command
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let given = |key: &str| options.env.iter().any(|(k, _)| k == key);
    if !given("DATABASE_URL") {
        let db = dir.path().join("pillow-calendar.db");
        command.env("DATABASE_URL", format!("sqlite://{}", db.display()));
    }
    if !given("JWT_SECRET") {
        command.env("JWT_SECRET", random_hex64());
    }
    if !given("CALENDAR_ENCRYPTION_KEY") {
        command.env("CALENDAR_ENCRYPTION_KEY", random_hex64());
    }
    command.envs(options.env.iter().map(|(k, v)| (k, v)));
    command
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string());

    let ready_url = format!("http://127.0.0.1:{port}/readyz");
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {} serve", options.bin.display()))?;
    let pid = child.id().context("the server has no pid")?;

    let mut polls = 0u64;
    let start = loop {
        polls += 1;
        if let Ok(response) = client.get(&ready_url).send().await
            && response.status() == StatusCode::OK
        {
            break spawned.elapsed();
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "run {run}: the server exited ({}) before /readyz answered 200; its output:\n{}",
                status,
                log_tail(&log_path)
            );
        }
        if spawned.elapsed() > options.ready_timeout {
            stop(&mut child).await;
            bail!(
                "run {run}: /readyz on port {port} did not answer 200 within {:?}; server output:\n{}",
                options.ready_timeout,
                log_tail(&log_path)
            );
        }
        tokio::time::sleep(options.poll_interval).await;
    };

    tokio::time::sleep(options.idle).await;
    if let Some(status) = child.try_wait()? {
        bail!(
            "run {run}: the server exited ({}) while idle; its output:\n{}",
            status,
            log_tail(&log_path)
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let idle_rss_mib = read_rss_kib(pid).ok().map(|kib| kib as f64 / 1024.0);

    let raw_pid = i32::try_from(pid).context("pid out of range")?;
    let term_sent = Instant::now();
    kill(Pid::from_raw(raw_pid), Signal::SIGTERM).context("sending SIGTERM")?;
    let (shutdown_ms, exit_code, graceful) =
        match tokio::time::timeout(options.shutdown_timeout, child.wait()).await {
            Ok(status) => {
                let status = status.context("waiting for the server")?;
                let code = status.code();
                (
                    Some(term_sent.elapsed().as_secs_f64() * 1000.0),
                    code,
                    code == Some(0),
                )
            }
            Err(_) => {
                stop(&mut child).await;
                (None, None, false)
            }
        };
    Ok(StartupRun {
        run,
        port,
        start_ms: start.as_secs_f64() * 1000.0,
        polls,
        idle_rss_mib,
        shutdown_ms,
        exit_code,
        graceful,
    })
}

/// Starts the server `runs` times, one after the other.
///
/// # Errors
/// Bad options, a binary that cannot be started, or a server that does not become ready
/// (the error carries the end of its output).
pub async fn run_startup(options: &StartupOptions) -> Result<StartupReport> {
    if options.runs == 0 || options.runs > MAX_RUNS {
        bail!("--runs must be between 1 and {MAX_RUNS}");
    }
    if !options.bin.is_file() {
        bail!("--bin {}: no such file", options.bin.display());
    }
    let client = Client::builder()
        .http1_only()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .context("building the HTTP client")?;
    let mut runs = Vec::with_capacity(options.runs);
    for run in 1..=options.runs {
        runs.push(one_run(options, run, &client).await?);
    }
    Ok(StartupReport::new(options.bin.display().to_string(), runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs() {
        assert_eq!(
            parse_env("RUST_LOG=info,x=y").unwrap(),
            ("RUST_LOG".to_string(), "info,x=y".to_string())
        );
        assert_eq!(parse_env("EMPTY=").unwrap().1, "");
        assert!(parse_env("NOEQUALS").is_err());
        assert!(parse_env("=x").is_err());
        assert!(parse_env("PORT=1").is_err());
        assert!(parse_env("BIND=0.0.0.0").is_err());
    }

    #[test]
    fn vm_rss() {
        let status = "Name:\tpillow\nVmPeak:\t  10000 kB\nVmRSS:\t   23456 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kib(status), Some(23456));
        assert_eq!(parse_vm_rss_kib("Name: x\n"), None);
        assert!(read_rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn secrets_shape() {
        let key = random_hex64();
        assert_eq!(key.len(), 64);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(key, random_hex64());
    }

    #[test]
    fn medians_in_report() {
        let run = |start_ms, rss| StartupRun {
            run: 1,
            port: 1,
            start_ms,
            polls: 1,
            idle_rss_mib: rss,
            shutdown_ms: Some(1.0),
            exit_code: Some(0),
            graceful: true,
        };
        let report = StartupReport::new(
            "x".into(),
            vec![
                run(30.0, Some(10.0)),
                run(10.0, None),
                run(20.0, Some(12.0)),
            ],
        );
        assert_eq!(report.median_start_ms, Some(20.0));
        assert_eq!(report.median_idle_rss_mib, Some(11.0));
        assert!(report.all_graceful);
        assert!(report.render_text().contains("median"));
    }
}
