//! Third-party tools read the served `/openapi.json` and act on it: a Python client generated
//! by `openapi-python-client` books an appointment, and Schemathesis fuzzes every operation on
//! both stores. Their venvs come from `.ci/setup.d/harden-client.sh`; under `CI=true` a missing
//! tool fails the test instead of skipping it.

mod client;
mod schemathesis;

use std::path::PathBuf;

/// The program named by `variable`, else `default` under the workspace's `target/`, when
/// `probe` (its arguments) succeeds with it; `None` (with a message) outside CI when it does not.
fn tool(variable: &str, default: &str, probe: &[&str], install: &str) -> Option<PathBuf> {
    let program = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target")
                .join(default)
        });
    let usable = std::process::Command::new(&program)
        .args(probe)
        .output()
        .is_ok_and(|out| out.status.success());
    if usable {
        return Some(program);
    }
    let message = format!(
        "{install} is not installed at {} (set {variable}, or source .ci/setup.d/harden-client.sh)",
        program.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {message}"
    );
    eprintln!("skipped: {message}");
    None
}
