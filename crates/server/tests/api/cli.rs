//! The command line, run as a real process.

use std::process::{Command, Output};

use serde_json::Value;

fn cli(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON object")
}

#[tokio::test]
async fn create_commands_print_json_and_the_key_works_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());

    let tenant = json_of(&cli(
        &url,
        &["tenant", "create", "--name", "Acme Dental", "--json"],
    ));
    let tenant_id = tenant["id"].as_str().unwrap().to_string();
    assert_eq!(tenant["name"], "Acme Dental");

    // --tenant takes the id or the exact name.
    let user = json_of(&cli(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            "Acme Dental",
            "--email",
            "ann@acme.test",
            "--name",
            "Ann",
            "--password",
            "ann-password",
            "--role",
            "admin",
            "--json",
        ],
    ));
    assert!(user["id"].is_string());
    assert_eq!(user["role"], "admin");
    assert_eq!(user["tenant_id"], tenant_id);

    let key = json_of(&cli(
        &url,
        &[
            "api-key", "create", "--tenant", &tenant_id, "--name", "ci", "--json",
        ],
    ));
    let key_text = key["key"].as_str().unwrap().to_string();
    assert!(key_text.starts_with("pcal_"));
    assert!(key["id"].is_string());

    let agent = json_of(&cli(
        &url,
        &[
            "agent",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "Desk",
            "--time-zone",
            "Europe/Berlin",
            "--json",
        ],
    ));
    assert_eq!(agent["time_zone"], "Europe/Berlin");

    // The key made by the CLI opens the API of a server on the same database.
    let app = crate::helpers::TestAppOnUrl::start(&url).await;
    let users = app.get_json("/api/users", &key_text).await;
    assert_eq!(users["users"][0]["email"], "ann@acme.test");
    app.stop().await;

    // Mistakes are one clear line and a non-zero exit.
    let bad = cli(
        &url,
        &[
            "agent",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "X",
            "--time-zone",
            "Moon/Base",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--time-zone"));
    let missing = cli(
        &url,
        &[
            "user", "create", "--tenant", "No Such", "--email", "a@b.test", "--name", "A",
        ],
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant"));
}

#[test]
fn keygen_prints_a_fresh_32_byte_hex_key() {
    let first = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .arg("keygen")
        .output()
        .unwrap();
    let second = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .arg("keygen")
        .output()
        .unwrap();
    let first = String::from_utf8(first.stdout).unwrap();
    assert_eq!(first.trim().len(), 64);
    assert!(first.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(first, String::from_utf8(second.stdout).unwrap());
}

/// `serve` with a broken setting stops at once and names the variable.
#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let good_key = "ab".repeat(32);
    let good_jwt = "j".repeat(40);
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("CALENDAR_ENCRYPTION_KEY", &good_key)], "JWT_SECRET"),
        (&[("JWT_SECRET", &good_jwt)], "CALENDAR_ENCRYPTION_KEY"),
        (
            &[
                ("JWT_SECRET", &good_jwt),
                ("CALENDAR_ENCRYPTION_KEY", "not-hex"),
            ],
            "CALENDAR_ENCRYPTION_KEY",
        ),
        (
            &[
                ("JWT_SECRET", &good_jwt),
                ("CALENDAR_ENCRYPTION_KEY", &good_key),
                ("PORT", "http"),
            ],
            "PORT",
        ),
        (
            &[
                ("JWT_SECRET", &good_jwt),
                ("CALENDAR_ENCRYPTION_KEY", &good_key),
                ("DATABASE_URL", "mysql://db/x"),
            ],
            "DATABASE_URL",
        ),
    ];
    for (env, variable) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"));
        command
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{variable}: must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{variable} named in: {stderr}");
        assert!(!stderr.contains(&good_jwt), "secrets never printed");
    }
}
