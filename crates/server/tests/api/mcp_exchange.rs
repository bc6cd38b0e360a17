//! A whole exchange with a real MCP client this project did not write: the official MCP Python
//! SDK (`mcp` on PyPI) runs `tests/mcp_client/exchange.py` against the server over loopback HTTP,
//! once on each protocol revision: lists the tools, checks availability, books a returned slot.
//! The 2026-07-28 run lets the SDK choose (`auto`: `server/discover`, then that revision).
//!
//! The SDK lives in a venv that `.ci/run` creates; `PILLOW_MCP_PYTHON` names its python
//! (default `target/mcp-venv/bin/python`). Without it the test says it is skipped, except with
//! `CI=true`, where it fails.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::mcp::{HANDSHAKE, MODERN, front_desk};
use crate::helpers::{Tenant, TestApp, next};
use crate::on_both_backends;

on_both_backends!(the_official_python_sdk_lists_tools_checks_availability_and_books);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, or `None` (with a message) when it is not installed outside CI.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("PILLOW_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/mcp-venv/bin/python"));
    let usable = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|out| out.status.success());
    if usable {
        return Some(python);
    }
    let message = format!(
        "the MCP Python SDK is not installed at {} (set PILLOW_MCP_PYTHON, or run: python3 -m venv \
         target/mcp-venv && target/mcp-venv/bin/pip install mcp==2.3.0)",
        python.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {message}"
    );
    eprintln!("skipped: {message}");
    None
}

fn instant_of(value: &Value) -> jiff::Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an instant: {e}"))
}

/// Runs the SDK's exchange and returns what it printed.
async fn exchange(python: &Path, app: &TestApp, tenant: &Tenant, args: &[&str]) -> Value {
    let script = workspace().join("crates/server/tests/mcp_client/exchange.py");
    let url = format!("{}/mcp", app.base);
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .args(["--url", &url, "--key", &tenant.key])
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output)
        .await
        .expect("the MCP client finished within a minute")
        .expect("the MCP client started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MCP client failed ({}): {stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the MCP client printed no JSON ({e}): {stdout}\n{stderr}"))
}

async fn the_official_python_sdk_lists_tools_checks_availability_and_books(app: &TestApp) {
    let Some(python) = python() else { return };
    let (acme, agent, member) = front_desk(app).await;
    let date = next(jiff::civil::Weekday::Tuesday).to_string();

    for (mode, version, agent_by) in [
        ("legacy", HANDSHAKE, "--agent"),
        ("auto", MODERN, "--agent-argument"),
    ] {
        let report = exchange(
            &python,
            app,
            &acme,
            &[
                "--mode",
                mode,
                "--date",
                &date,
                agent_by,
                &agent,
                "--name",
                &format!("Caller {mode}"),
            ],
        )
        .await;
        assert_eq!(report["protocol_version"], version, "{report}");
        assert_eq!(report["server_name"], "pillow-calendar", "{report}");
        assert_eq!(
            report["tools"],
            json!([
                "book_appointment",
                "cancel_booking",
                "check_availability",
                "find_booking",
                "get_call_booking_state",
                "reschedule_booking",
                "show_booking_calendar"
            ]),
            "{report}"
        );
        assert!(
            report["descriptions"]["check_availability"]
                .as_str()
                .is_some_and(|d| d.contains("X-Agent-ID")),
            "the tool says how the agent is chosen: {report}"
        );

        let availability = &report["availability"];
        assert_eq!(availability["is_error"], false, "{report}");
        assert_eq!(
            availability["structured"]["date"],
            date.as_str(),
            "{report}"
        );
        let options = availability["structured"]["options"].as_array().unwrap();
        assert!(!options.is_empty() && options.len() <= 3, "{report}");
        assert!(options[0]["slot_id"].as_str().unwrap().starts_with("CS_"));
        assert_eq!(
            availability["text"], availability["structured"]["summary"],
            "the text is the one-line summary: {report}"
        );

        let booking = &report["booking"];
        assert_eq!(booking["is_error"], false, "{report}");
        assert_eq!(booking["structured"]["booked"], true, "{report}");
        assert_eq!(
            instant_of(&booking["structured"]["start_time"]),
            instant_of(&options[0]["start_time"]),
            "{report}"
        );
        let code = booking["structured"]["confirmation_code"].as_str().unwrap();

        // The booking is real: the API lists it, for the member, made by this agent.
        let listed = app.get("/api/calendar/bookings", &acme.key).await;
        assert_eq!(listed.status, StatusCode::OK);
        let found = listed.body["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["confirmation_code"] == code)
            .unwrap_or_else(|| panic!("{code} is not listed: {:?}", listed.body))
            .clone();
        assert_eq!(found["user_id"], member.to_string());
        assert_eq!(found["agent_id"], agent.as_str());
        assert_eq!(found["attendee"]["name"], format!("Caller {mode}"));
        assert_eq!(
            instant_of(&found["start_time"]),
            instant_of(&options[0]["start_time"])
        );
    }
}
