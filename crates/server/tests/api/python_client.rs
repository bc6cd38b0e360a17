//! The Python package `clients/python` (`pillow-calendar` on pip) against the real server: its
//! pytest suite drives the voice API through the async client, through LiveKit Agents' own
//! `AgentSession` running our function tools (and LiveKit's MCP client on `/mcp`), and through
//! a Pipecat LLM service running our tools in a pipeline. No LiveKit server is needed: only the
//! language model is scripted, so the frameworks parse, dispatch and record each tool call.
//!
//! The package and its pinned test dependencies live in a venv that `.ci/setup.d/python.sh`
//! makes; `PILLOW_PACKAGE_PYTHON` names its python (default `target/python-venv/bin/python`).
//! Without it the test says it is skipped, except with `CI=true`, where it fails.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;

use super::mcp::front_desk;
use crate::helpers::{TestApp, next};
use crate::on_both_backends;

on_both_backends!(the_python_package_books_through_its_client_and_the_livekit_and_pipecat_tools);

/// What the suite must be able to import: the package and both frameworks, from PyPI.
const IMPORTS: &str =
    "import pillow_calendar, pillow_calendar.livekit, pillow_calendar.pipecat, pytest";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, or `None` (with a message) when it is not installed outside CI.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("PILLOW_PACKAGE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/python-venv/bin/python"));
    let usable = std::process::Command::new(&python)
        .args(["-c", IMPORTS])
        .env("LOGURU_LEVEL", "WARNING")
        .output()
        .is_ok_and(|out| out.status.success());
    if usable {
        return Some(python);
    }
    let message = format!(
        "the pillow-calendar Python package and its test dependencies are not installed at {} \
         (set PILLOW_PACKAGE_PYTHON, or run: bash -c 'step() {{ :; }}; source .ci/setup.d/python.sh')",
        python.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {message}"
    );
    eprintln!("skipped: {message}");
    None
}

/// Runs pytest on the package's suite against `app` and returns what it printed.
async fn pytest(python: &Path, app: &TestApp, key: &str, agent: &str, date: &str) -> String {
    let output = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfEs",
            "tests",
        ])
        .current_dir(workspace().join("clients/python"))
        .env("PILLOW_CALENDAR_URL", &app.base)
        .env("PILLOW_CALENDAR_API_KEY", key)
        .env("PILLOW_CALENDAR_AGENT_ID", agent)
        .env("PILLOW_TEST_DATE", date)
        // Pipecat logs every frame at DEBUG; only trouble is worth reading in a failure.
        .env("LOGURU_LEVEL", "WARNING")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(300), output)
        .await
        .expect("pytest finished within five minutes")
        .expect("pytest started");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python suite failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

async fn the_python_package_books_through_its_client_and_the_livekit_and_pipecat_tools(
    app: &TestApp,
) {
    let Some(python) = python() else { return };
    let (acme, agent, member) = front_desk(app).await;
    let date = next(jiff::civil::Weekday::Tuesday).to_string();

    let printed = pytest(&python, app, &acme.key, &agent, &date).await;
    let summary = printed.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" passed") && !summary.contains("skipped") && !summary.contains("failed"),
        "every test ran and passed: {printed}"
    );

    // The bookings are real: the API lists them, for the member, made by this agent, one from
    // each way in.
    let listed = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(listed.status, StatusCode::OK);
    let bookings = listed.body["bookings"].as_array().unwrap();
    for name in ["Python Client", "LiveKit Caller", "Pipecat Caller"] {
        let made: Vec<_> = bookings
            .iter()
            .filter(|b| b["attendee"]["name"] == name)
            .collect();
        assert!(!made.is_empty(), "no booking by {name}: {:?}", listed.body);
        for booking in made {
            assert_eq!(booking["agent_id"], agent.as_str(), "{booking}");
            assert_eq!(booking["user_id"], member.to_string(), "{booking}");
        }
    }
}
