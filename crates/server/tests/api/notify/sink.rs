//! A real SMTP server for the tests: Python's `aiosmtpd` running `smtp_sink.py`, which writes
//! each message it accepts to a directory. It can be stopped (SIGKILL) and started again on
//! the same port, to play a mail server that is down for a while.
//!
//! `aiosmtpd` lives in a venv that `.ci/setup.d/notify.sh` creates; `PILLOW_SMTP_PYTHON` names
//! its python (default `target/smtp-venv/bin/python`). Without it the e-mail tests say they are
//! skipped, except with `CI=true`, where they fail.

use std::path::PathBuf;
use std::process::Stdio;

use mail_parser::MimeHeaders;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, or `None` (with a message) when it is not installed outside CI.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("PILLOW_SMTP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/smtp-venv/bin/python"));
    let usable = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|out| out.status.success());
    if usable {
        return Some(python);
    }
    let message = format!(
        "aiosmtpd is not installed at {} (set PILLOW_SMTP_PYTHON, or run: bash -c 'step() {{ :; }}; \
         source .ci/setup.d/notify.sh')",
        python.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {message}"
    );
    eprintln!("skipped: {message}");
    None
}

/// One message the sink accepted.
pub struct Received {
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("the sink holds whole messages")
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }

    pub fn to(&self) -> String {
        let parsed = self.parsed();
        let address = parsed.to().and_then(|to| to.first());
        address
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// The text of the `text/calendar` part.
    pub fn calendar(&self) -> String {
        let parsed = self.parsed();
        parsed
            .parts
            .iter()
            .find(|part| part.is_content_type("text", "calendar"))
            .map(|part| String::from_utf8_lossy(part.contents()).into_owned())
            .expect("every message carries an invite")
    }
}

pub struct SmtpSink {
    python: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// How long it waits before accepting each message.
    delay_ms: u64,
}

impl SmtpSink {
    /// Starts the sink on a free loopback port; `None` when aiosmtpd is missing outside CI.
    pub async fn start() -> Option<SmtpSink> {
        let python = python()?;
        let mut sink = SmtpSink {
            python,
            dir: tempfile::tempdir().unwrap(),
            port: 0,
            child: None,
            delay_ms: 0,
        };
        sink.up().await;
        Some(sink)
    }

    /// A sink that waits `delay_ms` before accepting each message: a slow mail server, so a
    /// delivery run can be interrupted part-way.
    pub async fn start_slow(delay_ms: u64) -> Option<SmtpSink> {
        let mut sink = SmtpSink::start().await?;
        sink.delay_ms = delay_ms;
        sink.down().await;
        sink.up().await;
        Some(sink)
    }

    /// `smtp://127.0.0.1:PORT`, for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port once it has one).
    pub async fn up(&mut self) {
        let script = workspace().join("crates/server/tests/api/notify/smtp_sink.py");
        let mut child = Command::new(&self.python)
            .arg(&script)
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .env("SINK_DELAY_MS", self.delay_ms.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP sink starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP sink says its port in time")
            .unwrap()
            .expect("the SMTP sink prints its port");
        self.port = line.trim().parse().unwrap();
        self.child = Some(child);
    }

    /// Kills the server outright (SIGKILL), as a crash would.
    pub async fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Whether a message is being taken in right now (a slow sink is waiting on it).
    pub fn in_flight(&self) -> bool {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "inflight"))
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| (std::fs::metadata(&p).unwrap().modified().unwrap(), p))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| Received {
                raw: std::fs::read(path).unwrap(),
            })
            .collect()
    }
}
