//! The served OpenAPI document describes what is really sent: query parameters in the query,
//! 401 on every secured operation, and a schema on every answer that has a body.

use serde_json::Value;

use crate::helpers::{Db, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_puts_parameters_where_they_are_sent_and_gives_every_answer_a_schema()
{
    let app = spawn_app_with(Db::Sqlite, &[]).await.unwrap();
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut problems = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(operation) = operation.as_object() else {
                continue;
            };
            let name = format!("{} {path}", method.to_uppercase());
            for parameter in operation
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = parameter["name"].as_str().unwrap_or("");
                if parameter["in"] == "path" && !path.contains(&format!("{{{id}}}")) {
                    problems.push(format!("{name}: `{id}` is declared in the path"));
                }
            }
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let responses = operation["responses"].as_object().unwrap();
            if secured && !responses.contains_key("401") {
                problems.push(format!("{name}: secured but no 401"));
            }
            for (status, response) in responses {
                if status == "204" || status.starts_with('3') {
                    continue;
                }
                let content = response.get("content").and_then(Value::as_object);
                let has_schema = content.is_some_and(|c| {
                    !c.is_empty() && c.values().all(|media| media.get("schema").is_some())
                });
                if !has_schema {
                    problems.push(format!("{name}: {status} has no schema"));
                }
            }
        }
    }
    assert!(
        document["components"]["schemas"]["ErrorBody"].is_object(),
        "the error body is a schema component"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    app.finish().await;
}

/// The venv's python with `openapi-spec-validator`, or `None` (with a message) outside CI.
fn validator() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("PILLOW_OPENAPI_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/openapi-venv/bin/python")
        });
    let usable = std::process::Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|out| out.status.success());
    if usable {
        return Some(python);
    }
    let message = format!(
        "openapi-spec-validator is not installed at {} (set PILLOW_OPENAPI_PYTHON, or source \
         .ci/setup.d/harden.sh)",
        python.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {message}"
    );
    eprintln!("skipped: {message}");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_passes_openapi_spec_validator() {
    let Some(python) = validator() else {
        return;
    };
    let app = spawn_app_with(Db::Sqlite, &[]).await.unwrap();
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
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document).unwrap();
    let checked = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    app.finish().await;
}
