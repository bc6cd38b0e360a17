//! A client generated from the served document books an appointment: the document is good
//! enough to generate from without warnings, and what it says is what the server does.

use std::process::Command;

use serde_json::Value;

use super::tool;
use crate::helpers::{Db, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_openapi_json_creates_a_rule_reads_availability_and_books() {
    let Some(python) = tool(
        "PILLOW_CLIENT_PYTHON",
        "client-venv/bin/python",
        &["-c", "import openapi_python_client"],
        "openapi-python-client",
    ) else {
        return;
    };
    let app = spawn_app_with(Db::Sqlite, &[]).await.unwrap();
    let acme = app.tenant("Acme").await;
    let document = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, document).unwrap();

    // The generator's own formatter (ruff) is in the venv beside it.
    let bin = python.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let generated = Command::new(bin.join("openapi-python-client"))
        .args(["generate", "--meta", "none", "--path"])
        .arg(&spec)
        .arg("--output-path")
        .arg(dir.path().join("pillow_client"))
        .env("PATH", &path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "{said}");
    assert!(!said.contains("Warning"), "the generator warned:\n{said}");

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated_client/book.py");
    let (python, dir_path, base, token) = (
        python.clone(),
        dir.path().to_path_buf(),
        app.base.clone(),
        acme.token.clone(),
    );
    let ran = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(dir_path)
            .arg(base)
            .arg(token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        ran.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    let made: Value = serde_json::from_slice(&ran.stdout).unwrap();

    // The booking is in the store, for the owner, at the slot the client was offered.
    let code = made["confirmation_code"].as_str().unwrap();
    let booking = app
        .store()
        .find_booking_by_code(acme.id, code)
        .await
        .unwrap()
        .expect("the generated client's booking is stored");
    assert_eq!(booking.user_id, acme.owner.id);
    assert_eq!(booking.id.to_string(), made["booking_id"].as_str().unwrap());
    let slot: jiff::Timestamp = made["slot"].as_str().unwrap().parse().unwrap();
    assert_eq!(booking.start, slot);
    app.finish().await;
}
