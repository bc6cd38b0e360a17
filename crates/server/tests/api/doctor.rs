//! `pillow-calendar doctor`: a healthy agent passes every check, and each problem the
//! troubleshooting guide names fails its own check with its own fix. The checks run against
//! the real server (its `/healthz` over HTTP), the real database and the Cal.com fake; the last
//! tests run the real binary for its output and exit code.

use std::collections::HashMap;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use pillow_fakes::calcom::{FakeCalcom, NewFakeEventType, NewFakeUser};
use pillow_server::doctor::{Check, Report, examine};
use pillow_store::{
    AgentBackend, AgentId, ConnectionPatch, ConnectionStatus, NewAgent, NewCalendarConnection,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, INTERNAL_KEY, Tenant, TestApp, always_open, spawn_app};

const CAL_KEY: &str = "cal_live_doctor_0123456789";

/// The settings a well-configured server runs with, pointing at `app`.
fn healthy_settings(app: &TestApp) -> HashMap<String, String> {
    HashMap::from([
        ("INTERNAL_API_KEY".into(), INTERNAL_KEY.into()),
        ("PUBLIC_URL".into(), app.base.clone()),
        ("CALENDAR_ENCRYPTION_KEY".into(), "42".repeat(32)),
    ])
}

async fn run_doctor(app: &TestApp, settings: &HashMap<String, String>, agent: AgentId) -> Report {
    examine(
        app.store(),
        settings,
        Ok(app.state.config.secrets.clone()),
        agent,
        Timestamp::now(),
    )
    .await
    .unwrap()
}

/// A native agent whose one host (the owner) works every day and has a Google calendar that
/// synced a minute ago. Answers the agent, its tenant and the connection's id.
async fn healthy_agent(app: &TestApp) -> (AgentId, Tenant, pillow_store::ConnectionId) {
    let tenant = app.tenant("Clinic").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.token,
            &always_open(None, 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let created = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Front Desk", "time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let agent: AgentId = created.body["id"].as_str().unwrap().parse().unwrap();
    let settings = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&tenant.key),
            Some(&json!({"assignable_users": [{"user_id": tenant.owner.id.to_string()}]})),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{:?}", settings.body);
    let secrets = &app.state.config.secrets;
    let connection = app
        .store()
        .upsert_calendar_connection(
            tenant.id,
            &NewCalendarConnection {
                user_id: tenant.owner.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: "owner@gmail.test".into(),
                access_token_encrypted: secrets.seal("ya29.token"),
                refresh_token_encrypted: Some(secrets.seal("1//refresh")),
                token_expires_at: Timestamp::now() + SignedDuration::from_hours(1),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    synced(app, tenant.id, connection.id, SignedDuration::from_mins(1)).await;
    (agent, tenant, connection.id)
}

async fn synced(
    app: &TestApp,
    tenant: pillow_store::TenantId,
    connection: pillow_store::ConnectionId,
    ago: SignedDuration,
) {
    app.store()
        .update_calendar_connection(
            tenant,
            connection,
            &ConnectionPatch {
                last_synced_at: Some(Timestamp::now() - ago),
                ..ConnectionPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
}

fn failed<'r>(report: &'r Report, name: &str) -> Vec<&'r Check> {
    report
        .checks
        .iter()
        .filter(|c| c.name == name && !c.passed)
        .collect()
}

/// The one failing check, which must be `name`, and its fix.
fn only_failure<'r>(report: &'r Report, name: &str) -> (&'r Check, &'r str) {
    let failures: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failures.len(), 1, "{}", report.render());
    assert_eq!(failures[0].name, name, "{}", report.render());
    (failures[0], failures[0].fix.as_deref().unwrap())
}

async fn a_healthy_agent_passes_every_check(app: &TestApp) {
    let (agent, _, _) = healthy_agent(app).await;
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    assert!(report.healthy(), "{}", report.render());
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "internal_api_key",
            "public_url",
            "booking_settings",
            "host_hours",
            "calendar"
        ]
    );
    assert!(report.render().ends_with("All 5 checks passed."));
    assert!(
        report.checks.iter().all(|c| c.line().starts_with("PASS ")),
        "{}",
        report.render()
    );
}

async fn a_missing_or_short_internal_key_fails_with_the_keygen_fix(app: &TestApp) {
    let (agent, _, _) = healthy_agent(app).await;
    let mut settings = healthy_settings(app);
    settings.remove("INTERNAL_API_KEY");
    let report = run_doctor(app, &settings, agent).await;
    let (check, fix) = only_failure(&report, "internal_api_key");
    assert!(check.message.contains("not set"), "{}", check.message);
    assert!(fix.contains("pillow-calendar keygen"), "{fix}");
    assert!(check.line().starts_with("FAIL internal_api_key: "));
    assert!(!check.line().contains('\n'));

    settings.insert("INTERNAL_API_KEY".into(), "short".into());
    let report = run_doctor(app, &settings, agent).await;
    let (check, _) = only_failure(&report, "internal_api_key");
    assert!(check.message.contains("5 characters"), "{}", check.message);
}

async fn a_public_url_unset_or_unreachable_fails_with_how_to_reach_it(app: &TestApp) {
    let (agent, _, _) = healthy_agent(app).await;
    let mut settings = healthy_settings(app);
    settings.remove("PUBLIC_URL");
    let report = run_doctor(app, &settings, agent).await;
    let (check, fix) = only_failure(&report, "public_url");
    assert!(check.message.contains("not set"), "{}", check.message);
    assert!(fix.contains("Set PUBLIC_URL"), "{fix}");

    // A port nobody listens on any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    settings.insert("PUBLIC_URL".into(), format!("http://{closed}"));
    let report = run_doctor(app, &settings, agent).await;
    let (check, fix) = only_failure(&report, "public_url");
    assert!(
        check
            .message
            .contains(&format!("GET http://{closed}/healthz failed")),
        "{}",
        check.message
    );
    assert!(fix.contains("pillow-calendar serve"), "{fix}");

    // A server that takes the connection and never answers: the doctor gives up in time.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    settings.insert(
        "PUBLIC_URL".into(),
        format!("http://{}", silent.local_addr().unwrap()),
    );
    let started = std::time::Instant::now();
    let report = run_doctor(app, &settings, agent).await;
    assert!(started.elapsed() < pillow_server::doctor::HEALTH_TIMEOUT * 2);
    let (check, _) = only_failure(&report, "public_url");
    assert!(
        check.message.contains("no answer within 3 s"),
        "{}",
        check.message
    );
    drop(silent);

    // Something answers, but it is not this server's health check.
    settings.insert("PUBLIC_URL".into(), format!("{}/api", app.base));
    let report = run_doctor(app, &settings, agent).await;
    let (check, _) = only_failure(&report, "public_url");
    assert!(check.message.contains("answered 404"), "{}", check.message);
}

async fn an_agent_without_booking_settings_fails_with_where_to_put_them(app: &TestApp) {
    let tenant = app.tenant("Bare").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.token,
            &always_open(None, 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED);
    let agent = app
        .store()
        .create_agent(
            tenant.id,
            &NewAgent {
                name: "Bare Desk".into(),
                time_zone: "UTC".into(),
                backend: AgentBackend::Native,
                cal_enabled: false,
                cal_api_key_encrypted: None,
                cal_event_type_slug: None,
                cal_timezone: None,
            },
        )
        .await
        .unwrap();
    let report = run_doctor(app, &healthy_settings(app), agent.id).await;
    let (check, fix) = only_failure(&report, "booking_settings");
    assert!(check.message.contains("no booking settings"));
    assert!(
        fix.contains(&format!("PUT /api/agents/{}/booking-settings", agent.id)),
        "{fix}"
    );
    // Without settings the team is every member with hours: the owner, who passes.
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "host_hours" && c.passed)
    );
}

async fn a_host_without_an_availability_rule_fails_naming_the_host(app: &TestApp) {
    let (agent, tenant, _) = healthy_agent(app).await;
    let owner = tenant.owner.id;
    let (member, _) = app.member(&tenant, "no-hours@clinic.test").await;
    let put = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&tenant.key),
            Some(&json!({"assignable_users": [
                {"user_id": owner.to_string()},
                {"user_id": member.id.to_string()},
            ]})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "host_hours");
    assert!(
        check.message.contains("no-hours@clinic.test")
            && check.message.contains("no availability rule"),
        "{}",
        check.message
    );
    assert!(fix.contains(&member.id.to_string()), "{fix}");
    assert!(
        fix.contains("POST /api/calendar/availability-rules"),
        "{fix}"
    );
}

async fn an_assignable_user_who_left_the_tenant_fails_with_removing_them(app: &TestApp) {
    let (agent, tenant, _) = healthy_agent(app).await;
    let (member, _) = app.member(&tenant, "gone@clinic.test").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.key,
            &always_open(Some(member.id), 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let put = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent}/booking-settings"),
            Some(&tenant.key),
            Some(&json!({"assignable_users": [
                {"user_id": tenant.owner.id.to_string()},
                {"user_id": member.id.to_string()},
            ]})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert!(
        run_doctor(app, &healthy_settings(app), agent)
            .await
            .healthy()
    );

    // The settings still name the member after the member is deleted.
    assert!(app.store().delete_user(tenant.id, member.id).await.unwrap());
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "host_hours");
    assert!(
        check.message.contains(&member.id.to_string()) && check.message.contains("not a member"),
        "{}",
        check.message
    );
    assert!(fix.contains("Remove it from assignable_users"), "{fix}");
}

async fn a_calendar_needing_reauth_failing_or_stale_fails_with_its_fix(app: &TestApp) {
    let (agent, tenant, connection) = healthy_agent(app).await;
    let tenant = tenant.id;
    let set_status = async |status, error: Option<&str>| {
        app.store()
            .update_calendar_connection(
                tenant,
                connection,
                &ConnectionPatch {
                    status: Some(status),
                    last_error: Some(error.map(str::to_string)),
                    ..ConnectionPatch::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
    };

    set_status(ConnectionStatus::NeedsReauth, None).await;
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "calendar");
    assert!(
        check.message.contains("needs re-authorisation"),
        "{}",
        check.message
    );
    assert!(fix.contains("/api/calendar/google/connect"), "{fix}");

    set_status(ConnectionStatus::Error, Some("calendar not found")).await;
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "calendar");
    assert!(
        check.message.contains("calendar not found"),
        "{}",
        check.message
    );
    assert!(fix.contains("POST /api/calendar/sync"), "{fix}");

    set_status(ConnectionStatus::Active, None).await;
    let off = |enabled| ConnectionPatch {
        sync_enabled: Some(enabled),
        ..ConnectionPatch::default()
    };
    let store = app.store();
    store
        .update_calendar_connection(tenant, connection, &off(false))
        .await
        .unwrap();
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "calendar");
    assert!(
        check.message.contains("sync turned off"),
        "{}",
        check.message
    );
    assert!(fix.contains("\"sync_enabled\": true"), "{fix}");
    store
        .update_calendar_connection(tenant, connection, &off(true))
        .await
        .unwrap();
    synced(app, tenant, connection, SignedDuration::from_hours(2)).await;
    let report = run_doctor(app, &healthy_settings(app), agent).await;
    let (check, fix) = only_failure(&report, "calendar");
    assert!(
        check.message.contains("last synced 120 minutes ago"),
        "{}",
        check.message
    );
    assert!(fix.contains("GOOGLE_OAUTH_CLIENT_ID"), "{fix}");

    // A shorter sync interval makes an hour-old sync stale too; a recent one passes.
    synced(app, tenant, connection, SignedDuration::from_mins(10)).await;
    assert!(
        run_doctor(app, &healthy_settings(app), agent)
            .await
            .healthy()
    );
    let mut settings = healthy_settings(app);
    settings.insert("GOOGLE_SYNC_INTERVAL_SECONDS".into(), "60".into());
    let report = run_doctor(app, &settings, agent).await;
    assert_eq!(failed(&report, "calendar").len(), 1, "{}", report.render());
}

/// A Cal.com agent whose sealed key is `key` and slug `slug`, checked against a fake Cal.com
/// that knows `CAL_KEY` with the event type `consult`.
async fn calcom_report(app: &TestApp, key: &str, slug: &str) -> (Report, FakeCalcom) {
    calcom_report_sealed(app, app.state.config.secrets.seal(key), slug, |_| {}).await
}

/// As [`calcom_report`] with the key already sealed, and the fake prepared by `prepare`.
async fn calcom_report_sealed(
    app: &TestApp,
    sealed: String,
    slug: &str,
    prepare: impl FnOnce(&FakeCalcom),
) -> (Report, FakeCalcom) {
    let cal = FakeCalcom::start().await;
    let owner = cal.add_user(NewFakeUser::new(
        "frontdesk",
        CAL_KEY,
        "America/Los_Angeles",
    ));
    cal.add_event_type(owner, NewFakeEventType::new("consult", 30));
    let tenant = app.tenant("Cal Clinic").await;
    let agent = app
        .store()
        .create_agent(
            tenant.id,
            &NewAgent {
                name: "Cal Desk".into(),
                time_zone: "America/Los_Angeles".into(),
                backend: AgentBackend::Calcom,
                cal_enabled: true,
                cal_api_key_encrypted: Some(sealed),
                cal_event_type_slug: Some(slug.into()),
                cal_timezone: None,
            },
        )
        .await
        .unwrap();
    let mut settings = healthy_settings(app);
    settings.insert("CAL_API_BASE_URL".into(), cal.base_url());
    prepare(&cal);
    (run_doctor(app, &settings, agent.id).await, cal)
}

async fn a_calcom_agent_with_a_valid_key_and_event_type_passes(app: &TestApp) {
    let (report, cal) = calcom_report(app, CAL_KEY, "consult").await;
    assert!(report.healthy(), "{}", report.render());
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "internal_api_key",
            "public_url",
            "calcom_key",
            "calcom_event_type"
        ]
    );
    // The key was checked by asking Cal.com itself.
    assert_eq!(cal.request_count("GET", "/v2/me"), 1);
}

async fn a_calcom_agent_whose_key_calcom_refuses_fails_with_how_to_replace_it(app: &TestApp) {
    let (report, _cal) = calcom_report(app, "cal_live_revoked_key", "consult").await;
    let (check, fix) = only_failure(&report, "calcom_key");
    assert!(check.message.contains("refused"), "{}", check.message);
    assert!(fix.contains("cal_api_key"), "{fix}");
}

async fn a_calcom_agent_with_an_unknown_event_type_fails_listing_the_known_ones(app: &TestApp) {
    let (report, _cal) = calcom_report(app, CAL_KEY, "no-such-type").await;
    let (check, fix) = only_failure(&report, "calcom_event_type");
    assert!(
        check.message.contains("it has: consult"),
        "{}",
        check.message
    );
    assert!(fix.contains("cal_event_type_slug"), "{fix}");
}

async fn a_calcom_key_sealed_under_an_unknown_key_or_calcom_down_fails_with_its_own_fix(
    app: &TestApp,
) {
    let other = pillow_providers::crypto::SecretBox::new(
        pillow_providers::crypto::SecretKey::from_hex(&"17".repeat(32)).unwrap(),
    );
    let (report, cal) = calcom_report_sealed(app, other.seal(CAL_KEY), "consult", |_| {}).await;
    let (check, fix) = only_failure(&report, "calcom_key");
    assert!(
        check.message.contains("not configured"),
        "{}",
        check.message
    );
    assert!(fix.contains("rotate-keys"), "{fix}");
    assert_eq!(cal.request_count("GET", "/v2/me"), 0);

    // Cal.com failing is not the key's fault: the fix says where to look instead.
    let sealed = app.state.config.secrets.seal(CAL_KEY);
    let (report, _cal) =
        calcom_report_sealed(app, sealed, "consult", |cal| cal.fail_next(20, 503)).await;
    let (check, fix) = only_failure(&report, "calcom_key");
    assert!(
        check.message.contains("could not check the key"),
        "{}",
        check.message
    );
    assert!(fix.contains("CAL_API_BASE_URL"), "{fix}");
}

crate::on_both_backends!(
    a_healthy_agent_passes_every_check,
    a_missing_or_short_internal_key_fails_with_the_keygen_fix,
    a_public_url_unset_or_unreachable_fails_with_how_to_reach_it,
    an_agent_without_booking_settings_fails_with_where_to_put_them,
    a_host_without_an_availability_rule_fails_naming_the_host,
    an_assignable_user_who_left_the_tenant_fails_with_removing_them,
    a_calendar_needing_reauth_failing_or_stale_fails_with_its_fix,
    a_calcom_agent_with_a_valid_key_and_event_type_passes,
    a_calcom_agent_whose_key_calcom_refuses_fails_with_how_to_replace_it,
    a_calcom_agent_with_an_unknown_event_type_fails_listing_the_known_ones,
    a_calcom_key_sealed_under_an_unknown_key_or_calcom_down_fails_with_its_own_fix,
);

/// Runs the real binary on the app's database with only the given settings.
fn doctor_binary(app: &TestApp, settings: &HashMap<String, String>, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pillow-calendar"))
        .arg("doctor")
        .args(args)
        .arg("--database-url")
        .arg(&app.database_url)
        .env_clear()
        .envs(settings)
        .env("RUST_LOG", "warn")
        // No .env file of a developer's checkout may leak in.
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_command_prints_pass_lines_and_exits_zero_for_a_healthy_agent() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let (agent, _, _) = healthy_agent(&app).await;
    let out = doctor_binary(
        &app,
        &healthy_settings(&app),
        &["--agent", &agent.to_string()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<_> = stdout.lines().collect();
    assert!(lines[0].contains("\"Front Desk\""), "{stdout}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("PASS ")).count(),
        5,
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"All 5 checks passed."));

    let json = doctor_binary(
        &app,
        &healthy_settings(&app),
        &["--agent", &agent.to_string(), "--json"],
    );
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["healthy"], true);
    assert_eq!(value["checks"][1]["name"], "public_url");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_command_prints_fail_with_the_fix_and_exits_non_zero_when_a_check_fails() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let (agent, _, _) = healthy_agent(&app).await;
    let mut settings = healthy_settings(&app);
    settings.remove("INTERNAL_API_KEY");
    let out = doctor_binary(&app, &settings, &["--agent", &agent.to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let fail: Vec<_> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(fail.len(), 1, "{stdout}");
    assert!(
        fail[0].starts_with("FAIL internal_api_key: ") && fail[0].contains(" Fix: "),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 5 checks failed"));

    // An id no tenant has is one clear line, not a report.
    let unknown = doctor_binary(&app, &settings, &["--agent", &AgentId::new().to_string()]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no agent with id"));
    app.finish().await;
}
