//! Google Calendar sync: configuration, key rotation, and (against the fake Google) the connect
//! flow, sync, push and write-back.

use std::process::Command;

use pillow_providers::crypto::{SecretBox, SecretKey};
use pillow_store::{AgentBackend, NewAgent, NewCalendarConnection, NewUser, Role, SealedColumn};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, always_open, spawn_app_beside, spawn_app_with};
use crate::on_both_backends;
use pillow_fakes::google::{Call, FakeGoogle};
use pillow_server::google::{EVENT_DELETE_JOB, EVENT_UPSERT_JOB};
use pillow_server::outbox::{Step, Worker};

const OLD_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const NEW_KEY: &str = "1717171717171717171717171717171717171717171717171717171717171717";

fn boxed(key: &str) -> SecretBox {
    SecretBox::new(SecretKey::from_hex(key).unwrap())
}

/// Without a Google OAuth client, the Google endpoints answer 503 `google_not_configured`
/// and the rest of the server works.
async fn google_endpoints_say_when_google_is_not_configured(app: &crate::helpers::TestApp) {
    let acme = app.tenant("Acme").await;
    for (path, method) in [
        ("/api/calendar/google/connect", reqwest::Method::GET),
        ("/api/calendar/sync", reqwest::Method::POST),
    ] {
        let reply = app.send(method, path, Some(&acme.token), None).await;
        assert_eq!(reply.status, 503, "{path}: {:?}", reply.body);
        assert_eq!(reply.code(), "google_not_configured");
    }
    let webhook = app
        .send(
            reqwest::Method::POST,
            "/api/calendar/google/webhook",
            None,
            None,
        )
        .await;
    assert_eq!(webhook.code(), "google_not_configured");
    let providers = app.get("/api/calendar/providers", &acme.token).await;
    assert_eq!(providers.status, 200);
    assert_eq!(providers.body, json!({"providers": []}));
}

/// The cron endpoint wants the secret, compared exactly.
async fn the_cron_endpoint_wants_its_secret(app: &crate::helpers::TestApp) {
    for bearer in [
        None,
        Some("wrong"),
        Some("cron-secret-for-tests-0123456789abcde"),
    ] {
        let reply = app
            .send(
                reqwest::Method::GET,
                "/api/cron/calendar-sync",
                bearer,
                None,
            )
            .await;
        assert_eq!(reply.status, 401, "{bearer:?}");
    }
    let reply = app
        .get(
            "/api/cron/calendar-sync",
            "cron-secret-for-tests-0123456789abcdef",
        )
        .await;
    // The secret is right; Google is simply not configured on this server.
    assert_eq!(reply.code(), "google_not_configured");
}

on_both_backends!(
    google_endpoints_say_when_google_is_not_configured,
    the_cron_endpoint_wants_its_secret,
);

fn rotate(url: &str, current: &str, previous: Option<&str>) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pillow-calendar"));
    command
        .args(["rotate-keys", "--json", "--database-url", url])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("CALENDAR_ENCRYPTION_KEY", current);
    match previous {
        Some(previous) => command.env("CALENDAR_ENCRYPTION_KEY_PREVIOUS", previous),
        None => command.env_remove("CALENDAR_ENCRYPTION_KEY_PREVIOUS"),
    };
    let output = command.output().unwrap();
    let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    json!({"ok": output.status.success(), "out": stdout,
           "err": String::from_utf8_lossy(&output.stderr)})
}

/// `rotate-keys` re-encrypts every token and Cal.com key under the new key while the old one
/// is still accepted; afterwards the new key alone opens everything, and the database file
/// never holds a token in plain text.
#[tokio::test]
async fn rotate_keys_reseals_everything_under_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rotate.db").display());
    let store = pillow_server::open_store(&url).await.unwrap();
    let old = boxed(OLD_KEY);
    let tenant = store.create_tenant("Acme").await.unwrap();
    let host = store
        .create_user(
            tenant.id,
            &NewUser {
                email: "host@acme.test".into(),
                name: "Host".into(),
                role: Role::Member,
                time_zone: "UTC".into(),
                password_hash: None,
            },
        )
        .await
        .unwrap();
    let access = "ya29.access-token-in-plain-text";
    let refresh = "1//refresh-token-in-plain-text";
    let cal_key = "cal_live_key_in_plain_text";
    store
        .upsert_calendar_connection(
            tenant.id,
            &NewCalendarConnection {
                user_id: host.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: "host@gmail.test".into(),
                access_token_encrypted: old.seal(access),
                refresh_token_encrypted: Some(old.seal(refresh)),
                token_expires_at: jiff::Timestamp::now(),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    store
        .create_agent(
            tenant.id,
            &NewAgent {
                name: "Desk".into(),
                time_zone: "UTC".into(),
                backend: AgentBackend::Calcom,
                cal_enabled: true,
                cal_api_key_encrypted: Some(old.seal(cal_key)),
                cal_event_type_slug: None,
                cal_timezone: None,
            },
        )
        .await
        .unwrap();

    // Without the old key the values cannot be opened: nothing changes, and it says so.
    let refused = rotate(&url, NEW_KEY, None);
    assert!(!refused["ok"].as_bool().unwrap(), "{refused}");
    assert_eq!(refused["out"]["unreadable"], 3, "{refused}");

    let done = rotate(&url, NEW_KEY, Some(OLD_KEY));
    assert!(done["ok"].as_bool().unwrap(), "{done}");
    assert_eq!(done["out"]["rotated"], 3, "{done}");
    let new = boxed(NEW_KEY);
    let secrets = store.sealed_secrets().await.unwrap();
    assert_eq!(secrets.len(), 3);
    for secret in &secrets {
        let expected = match secret.column {
            SealedColumn::ConnectionAccessToken => access,
            SealedColumn::ConnectionRefreshToken => refresh,
            SealedColumn::AgentCalApiKey => cal_key,
            other => panic!("no {other:?} was sealed here"),
        };
        assert_eq!(new.open(&secret.value).unwrap(), expected);
    }
    let again = rotate(&url, NEW_KEY, None);
    assert_eq!(again["out"]["rotated"], 0, "{again}");
    assert_eq!(again["out"]["current"], 3, "{again}");

    drop(store);
    assert_no_plain_text(dir.path(), &[access, refresh, cal_key]);
}

/// Reads every file of the database (main file, WAL, shared memory) and fails if any secret
/// appears in it as plain text.
pub fn assert_no_plain_text(dir: &std::path::Path, secrets: &[&str]) {
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in {} in plain text",
                path.display()
            );
        }
    }
    assert!(scanned > 0, "nothing was scanned");
}

// ---------------------------------------------------------------------------------------------
// Against the fake Google.

pub(crate) const CLIENT_ID: &str = "pillow-test-client.apps.googleusercontent.com";
pub(crate) const CLIENT_SECRET: &str = "pillow-test-client-secret";
pub(crate) const HOST_EMAIL: &str = "host@gmail.test";

/// The server, the fake Google it is configured for, and a tenant whose owner is the host.
pub(crate) struct Harness {
    pub(crate) app: TestApp,
    pub(crate) google: FakeGoogle,
    pub(crate) tenant: crate::helpers::Tenant,
}

/// The settings that point a server at the fake Google.
pub(crate) fn google_settings(google: &FakeGoogle) -> Vec<(&'static str, String)> {
    vec![
        ("GOOGLE_OAUTH_CLIENT_ID", CLIENT_ID.to_string()),
        ("GOOGLE_OAUTH_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("GOOGLE_OAUTH_AUTHORIZE_URL", google.authorize_url()),
        ("GOOGLE_OAUTH_TOKEN_URL", google.token_url()),
        ("GOOGLE_OAUTH_REVOKE_URL", google.revoke_url()),
        ("GOOGLE_CALENDAR_API_BASE", google.calendar_base()),
        ("GOOGLE_RETRY_ATTEMPTS", "3".to_string()),
        ("GOOGLE_RETRY_BASE_MS", "5".to_string()),
    ]
}

pub(crate) async fn harness(db: Db, extra: &[(&str, String)]) -> Option<Harness> {
    let google = FakeGoogle::start().await;
    let mut settings = google_settings(&google);
    settings.extend(extra.iter().cloned());
    let app = spawn_app_with(db, &settings).await?;
    google.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{}/api/calendar/google/callback", app.base),
    );
    google.add_user(HOST_EMAIL);
    let tenant = app.tenant("Acme").await;
    Some(Harness {
        app,
        google,
        tenant,
    })
}

async fn run(test: impl AsyncFnOnce(&Harness), db: Db, extra: &[(&str, String)]) {
    if let Some(h) = harness(db, extra).await {
        test(&h).await;
        h.app.finish().await;
    }
}

macro_rules! with_google {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::run(super::$name, crate::helpers::Db::Sqlite, &[]).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::run(super::$name, crate::helpers::Db::Postgres, &[]).await;
                }
            }
        )*
    };
}

impl Harness {
    pub(crate) fn token(&self) -> &str {
        &self.tenant.token
    }

    /// The consent URL, as an API client asks for it.
    async fn consent_url(&self) -> String {
        let reply = self
            .app
            .client
            .get(format!("{}/api/calendar/google/connect", self.app.base))
            .bearer_auth(self.token())
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.unwrap();
        body["url"].as_str().unwrap().to_string()
    }

    /// Follows Google's redirect back to our callback.
    async fn follow(&self, redirect: &str) -> (u16, Value) {
        let reply = self.app.client.get(redirect).send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// The whole connect flow through the fake's consent step; the connection's id.
    async fn connect(&self) -> String {
        let url = self.consent_url().await;
        let redirect = self.google.approve(&url, HOST_EMAIL).unwrap();
        let (status, body) = self.follow(&redirect).await;
        assert_eq!(status, 200, "{body}");
        body["provider"]["id"].as_str().unwrap().to_string()
    }

    /// Connects, then waits until the sync the callback starts in the background has finished.
    /// After `connect` and `sync`, that sync may still be waiting for the lease and run later,
    /// behind the test's back (e.g. while the test expects the cron to take the connection).
    pub(crate) async fn connect_settled(&self) -> String {
        let id = self.connect().await;
        let uuid = id.parse::<pillow_store::ConnectionId>().unwrap();
        for _ in 0..500 {
            if self.provider().await["last_synced_at"].is_string() && self.idle(uuid).await {
                return id;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the sync that connecting starts never finished");
    }

    /// Whether no sync of the connection is running: its lease is free (probed with a lease
    /// that ends at once).
    async fn idle(&self, id: pillow_store::ConnectionId) -> bool {
        let store = self.app.store();
        let free = store
            .lease_calendar_connection(
                self.tenant.id,
                id,
                "test-probe",
                jiff::Timestamp::now(),
                jiff::SignedDuration::ZERO,
            )
            .await
            .unwrap()
            .is_some();
        if free {
            store
                .release_calendar_connection(self.tenant.id, id, "test-probe")
                .await
                .unwrap();
        }
        free
    }

    /// A sync now, waiting out one already running (the initial sync starts in the background).
    pub(crate) async fn sync(&self) -> Value {
        for _ in 0..200 {
            let reply = self
                .app
                .post("/api/calendar/sync", self.token(), &json!({}))
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            if reply.body["results"][0]["outcome"] != "busy" {
                return reply.body["results"][0].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the connection stayed busy");
    }

    async fn provider(&self) -> Value {
        let reply = self.app.get("/api/calendar/providers", self.token()).await;
        reply.body["providers"][0].clone()
    }

    /// The host's events here, as `(google id, title, start)` sorted, from the store.
    async fn local_google_events(&self) -> Vec<(String, String, String)> {
        let events = self
            .app
            .store()
            .list_events(
                self.tenant.id,
                &pillow_store::EventFilter {
                    user_ids: vec![self.tenant.owner.id],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut out: Vec<_> = events
            .into_iter()
            .filter(|e| e.source == pillow_store::EventSource::Google)
            .map(|e| (e.external_id.unwrap(), e.title, e.start.to_string()))
            .collect();
        out.sort();
        out
    }

    /// Google's live (not cancelled) events, the same way.
    fn remote_events(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = self
            .google
            .events(HOST_EMAIL)
            .into_iter()
            .filter(|e| e["status"] != "cancelled")
            .map(|e| {
                let start = e["start"]["dateTime"]
                    .as_str()
                    .map(|s| s.parse::<jiff::Timestamp>().unwrap().to_string())
                    .unwrap_or_default();
                (
                    e["id"].as_str().unwrap().to_string(),
                    e["summary"].as_str().unwrap_or("").to_string(),
                    start,
                )
            })
            .collect();
        out.sort();
        out
    }

    pub(crate) fn create(&self, summary: &str, start: jiff::Timestamp, minutes: i64) -> Value {
        self.google.create_event(
            HOST_EMAIL,
            json!({
                "summary": summary,
                "start": {"dateTime": start.to_string()},
                "end": {"dateTime": (start + jiff::SignedDuration::from_mins(minutes)).to_string()},
            }),
        )
    }

    fn worker(&self) -> Worker {
        Worker::new(self.app.state.store.clone()).with(std::sync::Arc::new(
            pillow_server::google::GoogleWriteBack(self.app.state.google.clone()),
        ))
    }

    /// Runs the outbox until nothing is due, as if `ahead` had passed (backoffs end).
    async fn drain_outbox(&self, ahead: jiff::SignedDuration) {
        let worker = self.worker();
        for _ in 0..100 {
            if worker
                .try_execute_task_at(jiff::Timestamp::now() + ahead)
                .await
                .unwrap()
                == Step::Empty
            {
                return;
            }
        }
        panic!("the outbox never emptied");
    }
}

/// A time tomorrow-ish at a round hour, inside the initial sync window.
pub(crate) fn soon(hours: i64) -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second((now / 3600 + 24 + hours) * 3600).unwrap()
}

/// Connect end to end through the fake's consent page: the callback stores an active
/// connection with the account, scopes and token expiry, and the initial sync brings the
/// host's existing Google events in.
async fn connecting_through_the_consent_page_stores_an_active_connection_and_syncs(h: &Harness) {
    let existing = h.create("Dentist", soon(2), 60);
    // A browser gets a redirect to the consent page.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/api/calendar/google/connect", h.app.base))
        .bearer_auth(h.token())
        .send()
        .await
        .unwrap();
    assert!(browser.status().is_redirection());
    let location = browser.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&h.google.authorize_url()),
        "{location}"
    );
    for part in [
        "access_type=offline",
        "prompt=consent",
        "code_challenge_method=S256",
        "calendar.events",
        "state=",
    ] {
        assert!(location.contains(part), "{part} missing from {location}");
    }

    h.connect().await;
    let provider = h.provider().await;
    assert_eq!(provider["status"], "active");
    assert_eq!(provider["account_email"], HOST_EMAIL);
    assert_eq!(provider["sync_enabled"], true);
    assert_eq!(provider["provider"], "google");
    let expires: jiff::Timestamp = provider["token_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires > jiff::Timestamp::now());
    assert!(provider.get("access_token_encrypted").is_none());
    assert_eq!(h.google.calls(Call::TokenExchange), 1);

    let result = h.sync().await;
    assert_eq!(result["outcome"], "synced", "{result}");
    let local = h.local_google_events().await;
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].0, existing["id"].as_str().unwrap());
    assert!(h.provider().await["last_synced_at"].is_string());
}

/// A forged, expired or missing state, a declined consent and a grant without the calendar
/// scope are refused with a clear error, and nothing is connected.
async fn the_callback_refuses_bad_states_declines_and_missing_scopes(h: &Harness) {
    let url = h.consent_url().await;
    let redirect = h.google.approve(&url, HOST_EMAIL).unwrap();
    let tampered = redirect.replace("state=", "state=x");
    let (status, body) = h.follow(&tampered).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );

    let denied = h.google.deny(&h.consent_url().await).unwrap();
    let (status, body) = h.follow(&denied).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("consent_denied"))
    );

    let narrow = h
        .google
        .approve_with_scopes(&h.consent_url().await, HOST_EMAIL, &["openid", "email"])
        .unwrap();
    let (status, body) = h.follow(&narrow).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(
        h.google.calls(Call::Revoke),
        1,
        "the useless grant is given back"
    );

    let reply = h.app.get("/api/calendar/providers", h.token()).await;
    assert_eq!(reply.body["providers"], json!([]));
}

/// Google events block availability; transparent ones do not; all-day ones block the day.
async fn synced_google_events_block_availability(h: &Harness) {
    h.app
        .post(
            "/api/calendar/availability-rules",
            h.token(),
            &json!({
                "is_default": true, "timezone": "UTC", "slot_duration": 60,
                "schedule": always_open(None, 60)["schedule"].clone()
            }),
        )
        .await;
    let day = soon(0).to_zoned(jiff::tz::TimeZone::UTC).date();
    let at = |hour: i8| {
        day.at(hour, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    };
    h.create("Busy", at(10), 60);
    h.google.create_event(
        HOST_EMAIL,
        json!({
            "summary": "Free lunch", "transparency": "transparent",
            "start": {"dateTime": at(12).to_string()}, "end": {"dateTime": at(13).to_string()},
        }),
    );
    let next_day = day.tomorrow().unwrap();
    h.google.create_event(
        HOST_EMAIL,
        json!({
            "summary": "Holiday", "start": {"date": next_day.to_string()},
            "end": {"date": next_day.tomorrow().unwrap().to_string()},
        }),
    );
    h.connect_settled().await;
    let slots = |date: jiff::civil::Date| async move {
        let reply = h
            .app
            .get(
                &format!("/api/calendar/availability?date={date}&timezone=UTC"),
                h.token(),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["start_time"]
                    .as_str()
                    .unwrap()
                    .parse::<jiff::Timestamp>()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let today = slots(day).await;
    assert!(
        !today.contains(&at(10)),
        "the busy Google event blocks 10:00"
    );
    assert!(
        today.contains(&at(12)),
        "a transparent event does not block"
    );
    assert!(today.contains(&at(9)));
    assert!(
        slots(next_day).await.is_empty(),
        "the all-day event blocks the whole day"
    );
}

/// Incremental sync applies edits and deletions (tombstones) with the sync token, and follows
/// pages, empty ones included.
async fn incremental_sync_applies_changes_tombstones_and_pages(h: &Harness) {
    let a = h.create("A", soon(1), 30);
    let b = h.create("B", soon(2), 30);
    for n in 0..7 {
        h.create(&format!("N{n}"), soon(10 + n), 30);
    }
    h.google.set_page_size(Some(2));
    h.google.set_empty_pages(true);
    h.connect_settled().await;
    // Push notifications would sync behind the test's back: the test drives every sync.
    h.google.expire_channels();
    assert_eq!(h.local_google_events().await, h.remote_events());
    assert_eq!(h.local_google_events().await.len(), 9);

    let lists = h.google.calls(Call::List);
    h.google.update_event(
        HOST_EMAIL,
        a["id"].as_str().unwrap(),
        json!({"summary": "A moved",
        "start": {"dateTime": soon(5).to_string()},
        "end": {"dateTime": (soon(5) + jiff::SignedDuration::from_mins(30)).to_string()}}),
    );
    h.google.delete_event(HOST_EMAIL, b["id"].as_str().unwrap());
    let result = h.sync().await;
    assert_eq!(result["full"], false, "{result}");
    assert!(h.google.calls(Call::List) > lists);
    let local = h.local_google_events().await;
    assert_eq!(local, h.remote_events());
    assert!(
        local
            .iter()
            .any(|(_, title, start)| title == "A moved" && *start == soon(5).to_string())
    );
    assert!(
        !local
            .iter()
            .any(|(id, _, _)| id == b["id"].as_str().unwrap())
    );
}

/// A 410 in the middle: the token is dropped, a full sync runs, and the local copy ends
/// identical to Google's (no duplicates, deletions applied).
async fn an_expired_sync_token_ends_in_a_copy_identical_to_google(h: &Harness) {
    let doomed = h.create("Doomed", soon(1), 30);
    h.create("Kept", soon(2), 30);
    h.connect_settled().await;
    // Push notifications would sync behind the test's back: the test drives every sync.
    h.google.expire_channels();
    h.google
        .delete_event(HOST_EMAIL, doomed["id"].as_str().unwrap());
    h.create("New", soon(3), 30);
    h.google.expire_sync_tokens();
    h.google.set_page_size(Some(1));
    let result = h.sync().await;
    assert_eq!(result["outcome"], "synced", "{result}");
    assert_eq!(result["full"], true, "{result}");
    let local = h.local_google_events().await;
    assert_eq!(local, h.remote_events());
    assert_eq!(local.len(), 2);
    // The next sync is incremental again.
    assert_eq!(h.sync().await["full"], false);
}

/// Recurring events arrive as instances; cancelling one instance removes only it.
async fn recurring_instances_sync_and_a_cancelled_instance_goes(h: &Harness) {
    let series = h.google.create_event(HOST_EMAIL, json!({
        "summary": "Standup",
        "start": {"dateTime": soon(1).to_string(), "timeZone": "UTC"},
        "end": {"dateTime": (soon(1) + jiff::SignedDuration::from_mins(15)).to_string(), "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
    }));
    h.connect_settled().await;
    let local = h.local_google_events().await;
    assert_eq!(local.len(), 5, "{local:?}");
    let second = &local[1].0;
    let base = series["id"].as_str().unwrap();
    assert!(h.google.cancel_instance(HOST_EMAIL, base, second));
    h.sync().await;
    let after = h.local_google_events().await;
    assert_eq!(after.len(), 4);
    assert!(!after.iter().any(|(id, _, _)| id == second));
}

/// 429 and 403 rate limits and 5xx are retried with backoff: the sync still succeeds.
async fn rate_limits_and_server_errors_are_retried(h: &Harness) {
    h.create("A", soon(1), 30);
    h.connect_settled().await;
    // Push notifications would sync behind the test's back: the test drives every sync.
    h.google.expire_channels();
    h.create("B", soon(2), 30);
    h.google.fail_next(1, 429, "rateLimitExceeded");
    h.google.fail_next(1, 403, "userRateLimitExceeded");
    let result = h.sync().await;
    assert_eq!(result["outcome"], "synced", "{result}");
    h.create("C", soon(3), 30);
    h.google.fail_next(2, 503, "backendError");
    assert_eq!(h.sync().await["outcome"], "synced");
    assert_eq!(h.local_google_events().await.len(), 3);
    // More failures than attempts: the sync fails, says why, and the next one recovers.
    h.google.fail_next(10, 500, "backendError");
    let failed = h.sync().await;
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert!(h.provider().await["last_error"].is_string());
    h.google.fail_next(0, 500, "backendError");
    h.google.set_down(false);
    let mut recovered = h.sync().await;
    for _ in 0..10 {
        if recovered["outcome"] == "synced" {
            break;
        }
        recovered = h.sync().await;
    }
    assert_eq!(recovered["outcome"], "synced", "{recovered}");
    assert!(h.provider().await["last_error"].is_null());
}

/// Tokens are refreshed ahead of expiry and a refresh without a new refresh token keeps the
/// old one; `invalid_grant` marks the connection `needs_reauth` and nothing retries it.
async fn refresh_keeps_the_refresh_token_and_invalid_grant_needs_reauth(h: &Harness) {
    let id = h.connect_settled().await;
    // Push notifications would sync behind the test's back: the test drives every sync.
    h.google.expire_channels();
    let id = id.parse::<pillow_store::ConnectionId>().unwrap();
    let store = h.app.store();
    let before = store
        .get_calendar_connection(h.tenant.id, id)
        .await
        .unwrap()
        .unwrap();
    let expire_soon = || pillow_store::ConnectionPatch {
        token_expires_at: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_mins(2)),
        ..Default::default()
    };
    store
        .update_calendar_connection(h.tenant.id, id, &expire_soon())
        .await
        .unwrap();
    let refreshes = h.google.calls(Call::TokenRefresh);
    assert_eq!(h.sync().await["outcome"], "synced");
    assert_eq!(h.google.calls(Call::TokenRefresh), refreshes + 1);
    let after = store
        .get_calendar_connection(h.tenant.id, id)
        .await
        .unwrap()
        .unwrap();
    let secrets = &h.app.state.config.secrets;
    assert_eq!(
        secrets
            .open(after.refresh_token_encrypted.as_ref().unwrap())
            .unwrap(),
        secrets
            .open(before.refresh_token_encrypted.as_ref().unwrap())
            .unwrap()
    );
    assert_ne!(after.access_token_encrypted, before.access_token_encrypted);
    assert!(
        after.token_expires_at.unwrap()
            > jiff::Timestamp::now() + jiff::SignedDuration::from_mins(30)
    );

    h.google.revoke_user_grants(HOST_EMAIL);
    store
        .update_calendar_connection(h.tenant.id, id, &expire_soon())
        .await
        .unwrap();
    assert_eq!(h.sync().await["outcome"], "needs_reauth");
    let provider = h.provider().await;
    assert_eq!(provider["status"], "needs_reauth");
    assert!(
        provider["last_error"]
            .as_str()
            .unwrap()
            .contains("connect Google Calendar again")
    );
    let refreshes = h.google.calls(Call::TokenRefresh);
    assert_eq!(h.sync().await["outcome"], "needs_reauth");
    let scheduler = pillow_server::google::Scheduler::new(h.app.state.google.clone().unwrap());
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    assert_eq!(
        h.google.calls(Call::TokenRefresh),
        refreshes,
        "nothing retries it"
    );
    // Connecting again makes it active.
    h.connect().await;
    assert_eq!(h.provider().await["status"], "active");
}

async fn book(h: &Harness, start: jiff::Timestamp) -> Value {
    let reply = h
        .app
        .post(
            "/api/calendar/booking",
            h.token(),
            &json!({"start_time": start.to_string(), "duration": 30,
                    "user_id": h.tenant.owner.id.to_string(),
                    "attendee": {"name": "Carol", "email": "carol@example.com"}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

pub(crate) async fn open_hours(h: &Harness) {
    let reply = h
        .app
        .post(
            "/api/calendar/availability-rules",
            h.token(),
            &always_open(Some(h.tenant.owner.id), 30),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

fn booking_events(h: &Harness) -> Vec<Value> {
    h.google
        .events(HOST_EMAIL)
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["pillow_booking"].is_string())
        .collect()
}

/// Google down for a whole booking storm, then back: every booking appears exactly once.
async fn a_booking_storm_while_google_is_down_lands_exactly_once(h: &Harness) {
    open_hours(h).await;
    h.connect_settled().await;
    h.google.set_down(true);
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(book(h, soon(n)).await["id"].as_str().unwrap().to_string());
    }
    // Every attempt fails while Google is down; the jobs wait with backoff.
    let worker = h.worker();
    assert!(matches!(
        worker.try_execute_task().await.unwrap(),
        Step::Done(_)
    ));
    assert!(booking_events(h).is_empty());
    let jobs = h
        .app
        .store()
        .list_jobs(h.tenant.id, Some("booking.created"))
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status == pillow_store::JobStatus::Pending && j.last_error.is_some())
    );
    h.google.set_down(false);
    // A retry of an insert that did land (e.g. its answer was lost) must not duplicate: run
    // the outbox twice over, re-queuing every created job once more.
    h.drain_outbox(jiff::SignedDuration::from_hours(2)).await;
    h.app
        .store()
        .enqueue_jobs(
            h.tenant.id,
            &ids.iter()
                .map(|id| pillow_store::NewJob {
                    kind: "booking.created".into(),
                    payload: json!({"booking_id": id, "user_id": h.tenant.owner.id.to_string()}),
                    run_after: None,
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    h.drain_outbox(jiff::SignedDuration::from_hours(2)).await;
    let events = booking_events(h);
    assert_eq!(events.len(), 12, "each booking exactly once");
    let mut named: Vec<_> = events
        .iter()
        .map(|e| {
            e["extendedProperties"]["private"]["pillow_booking"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    named.sort();
    ids.sort();
    assert_eq!(named, ids);
    assert!(
        h.google.calls(Call::Insert) > 12,
        "the retried inserts answered 409"
    );
    // Syncing them back recognises them as ours: they do not become Google busy events.
    h.sync().await;
    assert!(h.local_google_events().await.is_empty());
}

/// Reschedule patches the event, cancel deletes it (a second delete's 410 counts as done).
async fn reschedule_patches_and_cancel_deletes_in_google(h: &Harness) {
    open_hours(h).await;
    h.connect_settled().await;
    let booking = book(h, soon(1)).await;
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let code = booking["confirmation_code"].as_str().unwrap();
    let reply = h
        .app
        .post(
            &format!("/api/calendar/bookings/{code}/reschedule"),
            h.token(),
            &json!({"start_time": soon(3).to_string()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let events = booking_events(h);
    assert_eq!(events.len(), 1);
    let start: jiff::Timestamp = events[0]["start"]["dateTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(start, soon(3));
    assert!(h.google.calls(Call::Patch) >= 1);

    let reply = h
        .app
        .post(
            &format!("/api/calendar/bookings/{code}/cancel"),
            h.token(),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    assert!(booking_events(h).iter().all(|e| e["status"] == "cancelled"));
    // Delivering the cancellation again meets 410 and is done, not failed.
    h.app
        .store()
        .enqueue_jobs(h.tenant.id, &[pillow_store::NewJob {
            kind: "booking.cancelled".into(),
            payload: json!({"booking_id": booking["id"], "user_id": h.tenant.owner.id.to_string()}),
            run_after: None,
        }])
        .await
        .unwrap();
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let jobs = h
        .app
        .store()
        .list_jobs(h.tenant.id, Some("booking.cancelled"))
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.status == pillow_store::JobStatus::Done),
        "{jobs:?}"
    );
}

/// The host deletes a booking's event in Google: the booking is cancelled and says why. The
/// host moves another: the booking follows.
async fn the_host_deleting_or_moving_a_booking_in_google_steers_the_booking(h: &Harness) {
    open_hours(h).await;
    h.connect_settled().await;
    let deleted = book(h, soon(1)).await;
    let moved = book(h, soon(2)).await;
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let google_id = |b: &Value| {
        booking_events(h)
            .into_iter()
            .find(|e| e["extendedProperties"]["private"]["pillow_booking"] == b["id"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(h.google.delete_event(HOST_EMAIL, &google_id(&deleted)));
    h.google.update_event(
        HOST_EMAIL,
        &google_id(&moved),
        json!({
        "start": {"dateTime": soon(5).to_string()},
        "end": {"dateTime": (soon(5) + jiff::SignedDuration::from_mins(30)).to_string()}}),
    );
    h.sync().await;
    let get = |b: &Value| {
        let id = b["id"].as_str().unwrap().to_string();
        async move {
            h.app
                .get(&format!("/api/calendar/bookings/{id}"), h.token())
                .await
                .body
        }
    };
    let cancelled = get(&deleted).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(
        cancelled.to_string().contains("Google Calendar"),
        "{cancelled}"
    );
    let followed = get(&moved).await;
    assert_eq!(followed["status"], "confirmed");
    let start: jiff::Timestamp = followed["start_time"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, soon(5), "{followed}");
    // Their follow-up jobs do not echo back to Google.
    let patches = h.google.calls(Call::Patch);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    assert_eq!(h.google.calls(Call::Patch), patches);
}

/// Internal events made through the API are written to Google and deleted there.
async fn internal_events_are_written_back(h: &Harness) {
    h.connect_settled().await;
    let reply = h
        .app
        .post("/api/calendar/events", h.token(), &json!({"title": "Focus time",
            "start_time": soon(4).to_string(), "end_time": (soon(4) + jiff::SignedDuration::from_hours(1)).to_string()}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let mirrored: Vec<_> = h
        .google
        .events(HOST_EMAIL)
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["pillow_event"] == reply.body["id"])
        .collect();
    assert_eq!(mirrored.len(), 1);
    assert_eq!(mirrored[0]["summary"], "Focus time");
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(
        h.app
            .delete(&format!("/api/calendar/events/{id}"), h.token())
            .await
            .status,
        204
    );
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let after = h
        .google
        .event(HOST_EMAIL, mirrored[0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(after["status"], "cancelled");
    // Synced back, it is not a second (Google) busy event.
    h.sync().await;
    assert!(h.local_google_events().await.is_empty());
}

/// Bookings and internal events made before the calendar was connected, or while its sync
/// was paused, are written to Google once it is connected or resumed; a booking cancelled
/// while paused leaves Google. Nothing is written twice.
async fn what_was_booked_before_connecting_or_while_paused_reaches_google(h: &Harness) {
    open_hours(h).await;
    let early = book(h, soon(30)).await;
    let focus = h
        .app
        .post(
            "/api/calendar/events",
            h.token(),
            &json!({"title": "Focus time",
            "start_time": soon(40).to_string(),
            "end_time": (soon(40) + jiff::SignedDuration::from_hours(1)).to_string()}),
        )
        .await;
    assert_eq!(focus.status, 201, "{:?}", focus.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    assert!(booking_events(h).is_empty(), "no calendar yet");

    let id = h.connect_settled().await;
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let written = booking_events(h);
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(
        written[0]["extendedProperties"]["private"]["pillow_booking"],
        early["id"]
    );
    let ours = |h: &Harness| {
        h.google
            .events(HOST_EMAIL)
            .into_iter()
            .filter(|e| e["extendedProperties"]["private"]["pillow_event"] == focus.body["id"])
            .count()
    };
    assert_eq!(ours(h), 1);

    // Paused: a new booking and a cancellation are not written...
    let off = set_sync(h, h.token(), &id, &json!({"sync_enabled": false})).await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    let paused = book(h, soon(50)).await;
    let code = early["confirmation_code"].as_str().unwrap();
    let cancelled = h
        .app
        .post(
            &format!("/api/calendar/bookings/{code}/cancel"),
            h.token(),
            &json!({"reason": "Moved away"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let live = |h: &Harness| -> Vec<Value> {
        booking_events(h)
            .into_iter()
            .filter(|e| e["status"] != "cancelled")
            .collect()
    };
    assert_eq!(live(h).len(), 1, "nothing written while paused");

    // ...until sync resumes: the new booking appears, the cancelled one goes.
    let on = set_sync(h, h.token(), &id, &json!({"sync_enabled": true})).await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let now_live = live(h);
    assert_eq!(now_live.len(), 1, "{now_live:?}");
    assert_eq!(
        now_live[0]["extendedProperties"]["private"]["pillow_booking"],
        paused["id"]
    );
    assert_eq!(ours(h), 1, "the internal event is not written twice");
}

/// A push notification makes a new Google event block availability without waiting for the
/// poll; a notification with the wrong token or channel is refused.
async fn a_push_notification_blocks_availability_at_once(h: &Harness) {
    open_hours(h).await;
    h.connect_settled().await;
    let channels = h.google.channels();
    assert_eq!(
        channels.len(),
        1,
        "the sync opened one push channel: {channels:?} {}",
        h.provider().await
    );
    assert!(h.provider().await["push_channel_expires_at"].is_string());
    let slot = soon(6);
    let free = |at: jiff::Timestamp| async move {
        let date = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let reply = h
            .app
            .get(
                &format!("/api/calendar/availability?date={date}&timezone=UTC"),
                h.token(),
            )
            .await;
        reply.body["slots"].as_array().unwrap().iter().any(|s| {
            s["start_time"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                == at
        })
    };
    assert!(free(slot).await);
    let started = std::time::Instant::now();
    h.create("Pushed", slot, 30);
    let mut blocked = false;
    while started.elapsed() < std::time::Duration::from_secs(5) {
        if !free(slot).await {
            blocked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(blocked, "the pushed event never blocked the slot");
    println!("push to availability: {:?}", started.elapsed());

    let send = |id: &str, token: &str| {
        h.app
            .client
            .post(format!("{}/api/calendar/google/webhook", h.app.base))
            .header("X-Goog-Channel-ID", id)
            .header("X-Goog-Channel-Token", token)
            .header("X-Goog-Resource-ID", &channels[0].resource_id)
            .header("X-Goog-Resource-State", "exists")
            .send()
    };
    assert_eq!(send(&channels[0].id, "wrong").await.unwrap().status(), 401);
    assert_eq!(send("no-such-channel", "x").await.unwrap().status(), 404);
    let token = channels[0].token.clone().unwrap();
    assert_eq!(send(&channels[0].id, &token).await.unwrap().status(), 200);
}

/// Disconnect stops the channel, revokes the grant, and removes the tokens and synced events.
async fn disconnect_revokes_and_removes_everything(h: &Harness) {
    h.create("A", soon(1), 30);
    let id = h.connect_settled().await;
    assert_eq!(h.local_google_events().await.len(), 1);
    let reply = h
        .app
        .delete(&format!("/api/calendar/google/disconnect/{id}"), h.token())
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    assert!(h.google.calls(Call::Revoke) >= 1);
    assert!(h.google.calls(Call::StopChannel) >= 1);
    assert!(h.local_google_events().await.is_empty());
    assert_eq!(
        h.app.get("/api/calendar/providers", h.token()).await.body["providers"],
        json!([])
    );
    let again = h
        .app
        .delete(&format!("/api/calendar/google/disconnect/{id}"), h.token())
        .await;
    assert_eq!(again.status, 404);
    // Another tenant cannot see or remove a connection.
    let id2 = h.connect().await;
    let other = h.app.tenant("Other").await;
    let reply = h
        .app
        .delete(
            &format!("/api/calendar/google/disconnect/{id2}"),
            &other.token,
        )
        .await;
    assert_eq!(reply.status, 404);
}

/// The cron endpoint and the scheduler sync what is due.
async fn the_cron_endpoint_syncs_due_connections(h: &Harness) {
    h.connect_settled().await;
    // No push notifications here: only the cron may bring the change in.
    h.google.expire_channels();
    h.create("Later", soon(1), 30);
    // Not due yet: nothing happens.
    let cron = || {
        h.app.get(
            "/api/cron/calendar-sync",
            "cron-secret-for-tests-0123456789abcdef",
        )
    };
    assert_eq!(cron().await.body["synced"], 0);
    let id = h.provider().await["id"]
        .as_str()
        .unwrap()
        .parse::<pillow_store::ConnectionId>()
        .unwrap();
    h.app
        .store()
        .update_calendar_connection(
            h.tenant.id,
            id,
            &pillow_store::ConnectionPatch {
                next_sync_at: Some(jiff::Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = cron().await;
    assert_eq!(reply.body["synced"], 1, "{:?}", reply.body);
    assert_eq!(h.local_google_events().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Internal events: the change and its write-back in one transaction.

/// The write-back jobs of internal events, as `(kind, event id)` in the order queued.
async fn event_jobs(h: &Harness) -> Vec<(String, String)> {
    h.app
        .store()
        .list_jobs(h.tenant.id, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == EVENT_UPSERT_JOB || j.kind == EVENT_DELETE_JOB)
        .map(|j| (j.kind, j.payload["event_id"].as_str().unwrap().to_string()))
        .collect()
}

fn upsert(id: &str) -> (String, String) {
    (EVENT_UPSERT_JOB.to_string(), id.to_string())
}

/// An internal event's write-back job is written with the event: it is queued by the time the
/// API answers (no worker runs in tests), each change queues its own, and a change that is
/// refused, or a store write that fails or finds nothing, queues nothing.
async fn an_internal_event_and_its_write_back_job_commit_together(h: &Harness) {
    let connection = h.connect_settled().await;
    assert!(event_jobs(h).await.is_empty());
    let start = soon(4);
    let created = h
        .app
        .post(
            "/api/calendar/events",
            h.token(),
            &json!({"title": "Focus time", "start_time": start.to_string(),
                    "end_time": (start + jiff::SignedDuration::from_hours(1)).to_string()}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/calendar/events/{id}");
    assert_eq!(event_jobs(h).await, vec![upsert(&id)]);
    // The job does its work: the event is written to Google.
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let mirrored = || {
        h.google
            .events(HOST_EMAIL)
            .into_iter()
            .filter(|e| e["extendedProperties"]["private"]["pillow_event"] == id.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(mirrored().len(), 1);
    assert_eq!(mirrored()[0]["summary"], "Focus time");

    let refused = h
        .app
        .patch(
            &path,
            h.token(),
            &json!({"end_time": (start - jiff::SignedDuration::from_hours(1)).to_string()}),
        )
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(event_jobs(h).await, vec![upsert(&id)], "a refused change");

    let changed = h
        .app
        .patch(&path, h.token(), &json!({"title": "Deep work"}))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(event_jobs(h).await, vec![upsert(&id), upsert(&id)]);

    assert_eq!(h.app.delete(&path, h.token()).await.status, 204);
    let deleted = (EVENT_DELETE_JOB.to_string(), id.clone());
    assert_eq!(
        event_jobs(h).await,
        vec![upsert(&id), upsert(&id), deleted.clone()]
    );
    assert_eq!(h.app.delete(&path, h.token()).await.status, 404);
    assert_eq!(event_jobs(h).await.len(), 3, "a delete that found nothing");

    // Writes that fail in the store leave neither the event nor its job.
    let store = h.app.store();
    let job = |event: pillow_store::EventId| pillow_store::NewJob {
        kind: EVENT_UPSERT_JOB.into(),
        payload: json!({"event_id": event.to_string(),
                        "user_id": h.tenant.owner.id.to_string()}),
        run_after: None,
    };
    let event =
        |user: pillow_store::UserId, external: Option<&str>| pillow_store::NewCalendarEvent {
            user_id: user,
            provider_id: external
                .map(|_| connection.parse::<pillow_store::ConnectionId>().unwrap()),
            external_id: external.map(str::to_string),
            etag: None,
            title: "Ghost".into(),
            description: None,
            start,
            end: start + jiff::SignedDuration::from_hours(1),
            all_day: false,
            status: pillow_store::EventStatus::Confirmed,
            transparency: pillow_store::Transparency::Opaque,
            source: pillow_store::EventSource::Internal,
            booking_id: None,
        };
    let ghost = pillow_store::EventId::new();
    let missing_user = store
        .create_event(
            h.tenant.id,
            ghost,
            &event(pillow_store::UserId::new(), None),
            &[job(ghost)],
        )
        .await;
    assert!(
        matches!(
            missing_user,
            Err(pillow_store::StoreError::MissingReference(_))
        ),
        "{missing_user:?}"
    );
    let owner = h.tenant.owner.id;
    store
        .create_event(
            h.tenant.id,
            pillow_store::EventId::new(),
            &event(owner, Some("taken")),
            &[],
        )
        .await
        .unwrap();
    let duplicate = store
        .create_event(
            h.tenant.id,
            ghost,
            &event(owner, Some("taken")),
            &[job(ghost)],
        )
        .await;
    assert!(
        matches!(duplicate, Err(pillow_store::StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    assert!(store.get_event(h.tenant.id, ghost).await.unwrap().is_none());
    let replaced = store
        .replace_event(h.tenant.id, ghost, &event(owner, None), &[job(ghost)])
        .await
        .unwrap();
    assert!(replaced.is_none());
    assert!(
        !store
            .delete_event(h.tenant.id, ghost, &[job(ghost)])
            .await
            .unwrap()
    );
    assert_eq!(event_jobs(h).await.len(), 3, "failed store writes");

    // A member without Google gets no job at all.
    let (_, member) = h.app.member(&h.tenant, "no-google@acme.test").await;
    let theirs = h
        .app
        .post(
            "/api/calendar/events",
            &member,
            &json!({"title": "Gym", "start_time": start.to_string(),
                    "end_time": (start + jiff::SignedDuration::from_hours(1)).to_string()}),
        )
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    assert_eq!(event_jobs(h).await.len(), 3);

    // The rest of the jobs do their work: the event is removed from Google.
    h.drain_outbox(jiff::SignedDuration::ZERO).await;
    let mirrored = mirrored();
    assert_eq!(mirrored.len(), 1, "{mirrored:?}");
    assert_eq!(mirrored[0]["status"], "cancelled");
}

/// Makes the database refuse every internal-event write-back job from now on, as if the
/// process died between the event and its job: a trigger on the outbox, on either backend.
async fn refuse_event_jobs(database_url: &str) {
    use sqlx::Connection;
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER outbox_refuses BEFORE INSERT ON outbox \
             WHEN NEW.kind LIKE 'google.event_%' \
             BEGIN SELECT RAISE(ABORT, 'the outbox refuses this job'); END",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query(
            "CREATE FUNCTION outbox_refuses() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the outbox refuses this job'; END $$",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "CREATE TRIGGER outbox_refuses BEFORE INSERT ON outbox FOR EACH ROW \
             WHEN (NEW.kind LIKE 'google.event_%') EXECUTE FUNCTION outbox_refuses()",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// When the write-back job cannot be written, the event change is not made either: a create,
/// a change and a delete all fail whole (500), and the calendar is as it was. Queued after
/// the change, as before, the event would be there without its write-back.
async fn an_event_change_whose_write_back_cannot_be_queued_is_not_made(h: &Harness) {
    h.connect_settled().await;
    let start = soon(4);
    let body = |title: &str| {
        json!({"title": title, "start_time": start.to_string(),
               "end_time": (start + jiff::SignedDuration::from_hours(1)).to_string()})
    };
    let kept = h
        .app
        .post("/api/calendar/events", h.token(), &body("Kept"))
        .await;
    assert_eq!(kept.status, 201, "{:?}", kept.body);
    let path = format!("/api/calendar/events/{}", kept.body["id"].as_str().unwrap());
    let events = || async {
        let mut titles: Vec<String> = h
            .app
            .store()
            .list_events(
                h.tenant.id,
                &pillow_store::EventFilter {
                    user_ids: vec![h.tenant.owner.id],
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.source == pillow_store::EventSource::Internal)
            .map(|e| e.title)
            .collect();
        titles.sort();
        titles
    };
    assert_eq!(events().await, ["Kept"]);

    refuse_event_jobs(&h.app.database_url).await;
    let created = h
        .app
        .post("/api/calendar/events", h.token(), &body("Lost"))
        .await;
    assert_eq!(created.status, 500, "{:?}", created.body);
    assert_eq!(created.code(), "internal_error");
    let changed = h
        .app
        .patch(&path, h.token(), &json!({"title": "Renamed"}))
        .await;
    assert_eq!(changed.status, 500, "{:?}", changed.body);
    let deleted = h.app.delete(&path, h.token()).await;
    assert_eq!(deleted.status, 500, "{:?}", deleted.body);
    assert_eq!(
        events().await,
        ["Kept"],
        "no change was made without its job"
    );
    assert_eq!(event_jobs(h).await.len(), 1, "only the first event's job");
}

// ---------------------------------------------------------------------------------------------
// Push notifications: the resource id.

/// Sends a push notification as Google does, with the given resource id header (if any).
async fn notify(
    h: &Harness,
    channel: &pillow_fakes::google::ChannelInfo,
    resource_id: Option<&str>,
) -> (u16, Value) {
    let mut request = h
        .app
        .client
        .post(format!("{}/api/calendar/google/webhook", h.app.base))
        .header("X-Goog-Channel-ID", &channel.id)
        .header("X-Goog-Channel-Token", channel.token.clone().unwrap())
        .header("X-Goog-Resource-State", "exists")
        .header("X-Goog-Message-Number", "7");
    if let Some(resource_id) = resource_id {
        request = request.header("X-Goog-Resource-ID", resource_id);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// Waits (up to five seconds) until a Google event with this title is stored here.
async fn arrives(h: &Harness, title: &str) -> bool {
    for _ in 0..250 {
        if h.local_google_events().await.iter().any(|e| e.1 == title) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// We keep the resource id `events.watch` returned. A notification with the right channel and
/// token but another resource id (or none) is refused and syncs nothing; with the channel's
/// resource id, it syncs.
async fn a_notification_for_another_resource_is_refused_and_syncs_nothing(h: &Harness) {
    let id = h.connect_settled().await;
    let channel = h
        .google
        .channels()
        .pop()
        .expect("the sync opened a channel");
    // From here the test sends every notification itself.
    h.google.expire_channels();
    let stored = h
        .app
        .store()
        .get_calendar_connection(
            h.tenant.id,
            id.parse::<pillow_store::ConnectionId>().unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .channel
        .unwrap();
    assert_eq!(stored.id, channel.id);
    assert_eq!(stored.resource_id, channel.resource_id);

    h.create("Changed", soon(2), 30);
    let lists = h.google.calls(Call::List);
    let almost = &channel.resource_id[..channel.resource_id.len() - 1];
    for resource_id in [Some("another-resource"), Some(almost), Some(""), None] {
        let (status, body) = notify(h, &channel, resource_id).await;
        assert_eq!(status, 403, "{resource_id:?}: {body}");
        assert_eq!(body["error"]["code"], "resource_mismatch", "{body}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        h.google.calls(Call::List),
        lists,
        "a refused notification syncs nothing"
    );
    assert!(
        !h.local_google_events()
            .await
            .iter()
            .any(|e| e.1 == "Changed")
    );

    let (status, body) = notify(h, &channel, Some(&channel.resource_id)).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("sync_started")));
    assert!(
        arrives(h, "Changed").await,
        "the genuine notification syncs"
    );
}

// ---------------------------------------------------------------------------------------------
// The sync toggle.

async fn set_sync(h: &Harness, bearer: &str, id: &str, body: &Value) -> crate::helpers::Reply {
    h.app
        .patch(&format!("/api/calendar/providers/{id}"), bearer, body)
        .await
}

/// Turning sync off stops its push channel and makes the scheduler, the cron, a genuine push
/// notification and an on-demand sync all leave it alone (the last one says why); turning it
/// on syncs at once and brings in what changed meanwhile.
async fn turning_sync_off_stops_every_trigger_and_turning_it_on_resumes(h: &Harness) {
    let id = h.connect_settled().await;
    let channel = h
        .google
        .channels()
        .pop()
        .expect("the sync opened a channel");
    let uuid = id.parse::<pillow_store::ConnectionId>().unwrap();

    let off = set_sync(h, h.token(), &id, &json!({"sync_enabled": false})).await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert_eq!(off.body["sync_enabled"], false);
    assert!(off.body["push_channel_expires_at"].is_null());
    assert_eq!(h.provider().await["sync_enabled"], false);
    assert!(h.google.calls(Call::StopChannel) >= 1);
    assert!(h.google.channels().is_empty(), "the channel is stopped");
    let again = set_sync(h, h.token(), &id, &json!({"sync_enabled": false})).await;
    assert_eq!(
        (again.status.as_u16(), &again.body["sync_enabled"]),
        (200, &json!(false))
    );

    h.create("While paused", soon(3), 30);
    let lists = h.google.calls(Call::List);
    for body in [json!({}), json!({"provider_id": id})] {
        let reply = h.app.post("/api/calendar/sync", h.token(), &body).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let result = &reply.body["results"][0];
        assert_eq!(result["outcome"], "disabled", "{result}");
        assert!(
            result["error"].as_str().unwrap().contains("turned off"),
            "{result}"
        );
    }
    // Due now, still: neither the scheduler nor the cron takes it.
    h.app
        .store()
        .update_calendar_connection(
            h.tenant.id,
            uuid,
            &pillow_store::ConnectionPatch {
                next_sync_at: Some(jiff::Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let scheduler = pillow_server::google::Scheduler::new(h.app.state.google.clone().unwrap());
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    let cron = h
        .app
        .get(
            "/api/cron/calendar-sync",
            "cron-secret-for-tests-0123456789abcdef",
        )
        .await;
    assert_eq!(cron.body["synced"], 0, "{:?}", cron.body);
    // A genuine notification that Google sent before the stop took effect: the channel is
    // put back as it was, and the notification is acknowledged but syncs nothing.
    h.app
        .store()
        .update_calendar_connection(
            h.tenant.id,
            uuid,
            &pillow_store::ConnectionPatch {
                channel: Some(Some(pillow_store::PushChannel {
                    id: channel.id.clone(),
                    resource_id: channel.resource_id.clone(),
                    token_hash: pillow_server::google::hash_token(
                        channel.token.as_deref().unwrap(),
                    ),
                    expires_at: channel.expiration,
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, body) = notify(h, &channel, Some(&channel.resource_id)).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("sync_disabled")));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(h.google.calls(Call::List), lists, "nothing synced it");
    assert!(
        !h.local_google_events()
            .await
            .iter()
            .any(|e| e.1 == "While paused")
    );

    let on = set_sync(h, h.token(), &id, &json!({"sync_enabled": true})).await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["sync_enabled"], true);
    assert!(
        arrives(h, "While paused").await,
        "turning sync on syncs at once"
    );
    assert_eq!(h.sync().await["outcome"], "synced");
    assert_eq!(h.local_google_events().await, h.remote_events());
}

/// The member whose connection it is and the tenant's admins (and API keys) may turn sync
/// off and on; another member may not (403), another tenant sees nothing (404), and bad
/// bodies are refused with the error envelope, changing nothing. The route is documented.
async fn only_its_member_or_an_admin_may_toggle_sync(h: &Harness) {
    let (member, member_token) = h.app.member(&h.tenant, "member@acme.test").await;
    let (_, other_token) = h.app.member(&h.tenant, "other@acme.test").await;
    let secrets = &h.app.state.config.secrets;
    // The toggle needs no Google: the member's connection is made in the store directly.
    let connection = h
        .app
        .store()
        .upsert_calendar_connection(
            h.tenant.id,
            &NewCalendarConnection {
                user_id: member.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: "member@gmail.test".into(),
                access_token_encrypted: secrets.seal("access"),
                refresh_token_encrypted: Some(secrets.seal("refresh")),
                token_expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    let id = connection.id.to_string();
    let enabled = || async {
        h.app
            .store()
            .get_calendar_connection(h.tenant.id, connection.id)
            .await
            .unwrap()
            .unwrap()
            .sync_enabled
    };

    let reply = set_sync(h, &other_token, &id, &json!({"sync_enabled": false})).await;
    assert_eq!((reply.status.as_u16(), reply.code()), (403, "forbidden"));
    let other_tenant = h.app.tenant("Other").await;
    for bearer in [&other_tenant.token, &other_tenant.key] {
        let reply = set_sync(h, bearer, &id, &json!({"sync_enabled": false})).await;
        assert_eq!((reply.status.as_u16(), reply.code()), (404, "not_found"));
    }
    let unknown = pillow_store::new_id().to_string();
    for missing in [unknown.as_str(), "not-an-id"] {
        let reply = set_sync(h, h.token(), missing, &json!({"sync_enabled": false})).await;
        assert_eq!(reply.status, 404, "{missing}");
    }
    assert!(enabled().await, "nothing changed so far");

    for (bearer, value) in [
        (&member_token, false),
        (&member_token, true),
        (&h.tenant.token, false),
        (&h.tenant.key, true),
    ] {
        let reply = set_sync(h, bearer, &id, &json!({"sync_enabled": value})).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["sync_enabled"], value);
        assert_eq!(reply.body["id"], id.as_str());
        assert_eq!(enabled().await, value);
    }

    set_sync(h, &member_token, &id, &json!({"sync_enabled": false})).await;
    for body in [json!({}), json!({"sync_enabled": null})] {
        let reply = set_sync(h, &member_token, &id, &body).await;
        assert_eq!(reply.status, 422, "{body}: {:?}", reply.body);
        assert_eq!(reply.code(), "required");
        assert_eq!(reply.body["error"]["field"], "sync_enabled");
        assert!(reply.body["error"]["message"].is_string());
    }
    for (raw, field) in [
        (r#"{"sync_enabled": "yes"}"#, Some("sync_enabled")),
        (r#"{"sync_enabled": true, "paused": 1}"#, Some("paused")),
        (r#"{"sync_enabled": tru"#, None),
        ("", None),
    ] {
        let reply = h
            .app
            .client
            .patch(format!("{}/api/calendar/providers/{id}", h.app.base))
            .bearer_auth(&member_token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{raw}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_body", "{raw}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{raw}: {body}");
        }
    }
    assert!(!enabled().await, "bad bodies change nothing");

    let doc = h
        .app
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    let operation = &doc.body["paths"]["/api/calendar/providers/{id}"]["patch"];
    assert!(operation.is_object(), "{}", doc.body["paths"]);
    assert!(operation["requestBody"].is_object(), "{operation}");
}

with_google!(
    connecting_through_the_consent_page_stores_an_active_connection_and_syncs,
    the_callback_refuses_bad_states_declines_and_missing_scopes,
    synced_google_events_block_availability,
    incremental_sync_applies_changes_tombstones_and_pages,
    an_expired_sync_token_ends_in_a_copy_identical_to_google,
    recurring_instances_sync_and_a_cancelled_instance_goes,
    rate_limits_and_server_errors_are_retried,
    refresh_keeps_the_refresh_token_and_invalid_grant_needs_reauth,
    a_booking_storm_while_google_is_down_lands_exactly_once,
    reschedule_patches_and_cancel_deletes_in_google,
    the_host_deleting_or_moving_a_booking_in_google_steers_the_booking,
    internal_events_are_written_back,
    a_push_notification_blocks_availability_at_once,
    disconnect_revokes_and_removes_everything,
    the_cron_endpoint_syncs_due_connections,
    an_internal_event_and_its_write_back_job_commit_together,
    an_event_change_whose_write_back_cannot_be_queued_is_not_made,
    a_notification_for_another_resource_is_refused_and_syncs_nothing,
    turning_sync_off_stops_every_trigger_and_turning_it_on_resumes,
    only_its_member_or_an_admin_may_toggle_sync,
    what_was_booked_before_connecting_or_while_paused_reaches_google,
);

/// On SQLite, the database files never contain a token in plain text after a connect, a
/// sync and a refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_stored_in_plain_text() {
    let h = harness(Db::Sqlite, &[]).await.unwrap();
    h.connect().await;
    h.sync().await;
    let id = h.provider().await["id"]
        .as_str()
        .unwrap()
        .parse::<pillow_store::ConnectionId>()
        .unwrap();
    let store = h.app.store();
    let connection = store
        .get_calendar_connection(h.tenant.id, id)
        .await
        .unwrap()
        .unwrap();
    let secrets = &h.app.state.config.secrets;
    let access = secrets
        .open(connection.access_token_encrypted.as_ref().unwrap())
        .unwrap();
    let refresh = secrets
        .open(connection.refresh_token_encrypted.as_ref().unwrap())
        .unwrap();
    assert!(access.len() > 10 && refresh.len() > 10);
    let dir = h.app.sqlite_dir().unwrap().to_path_buf();
    assert_no_plain_text(&dir, &[&access, &refresh]);
    h.app.finish().await;
}

/// Two servers on one PostgreSQL database (their own pools and states, as two processes
/// behind a load balancer) are told again and again, at the same moment, to sync the same
/// connection: by hand on both, and by both schedulers, while the host keeps changing the
/// calendar and sync tokens expire (full syncs). Google never
/// answers two `events.list` calls on the calendar at once, and the local copy ends
/// identical to Google's, with no event twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_never_sync_one_connection_at_once() {
    // Push off: only the triggers below sync, so each round is the two servers colliding.
    let no_push = [("GOOGLE_PUSH", "off".to_string())];
    let Some(h) = harness(Db::Postgres, &no_push).await else {
        eprintln!("skipped: two servers on one database need PostgreSQL (TEST_DATABASE_URL)");
        return;
    };
    let mut settings = google_settings(&h.google);
    settings.extend(no_push.iter().cloned());
    let second = spawn_app_beside(&h.app, &settings).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            h.create(&format!("E{n}"), soon(n), 30)["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let connection = h.connect_settled().await;
    // Long enough that two syncs running together would surely overlap at Google.
    h.google
        .set_list_delay(std::time::Duration::from_millis(40));
    h.google.reset_concurrent_lists();
    let lists = h.google.calls(Call::List);
    let schedulers = [&h.app, &second]
        .map(|app| pillow_server::google::Scheduler::new(app.state.google.clone().unwrap()));
    let manual = |app: &TestApp| {
        let body = json!({"provider_id": connection});
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/api/calendar/sync", app.base),
            h.token().to_string(),
        );
        async move {
            let reply = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            let body: Value = reply.json().await.unwrap();
            body["results"][0]["outcome"].as_str().unwrap().to_string()
        }
    };
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..12i64 {
        h.create(&format!("R{round}"), soon(30 + round), 30);
        h.google.update_event(
            HOST_EMAIL,
            &ids[round as usize],
            json!({"summary": format!("E{round} moved")}),
        );
        if round % 3 == 1 {
            h.google.delete_event(HOST_EMAIL, &ids[19 - round as usize]);
        }
        if round % 4 == 3 {
            h.google.expire_sync_tokens();
        }
        // Even rounds: due, so both schedulers join in; odd rounds: the two servers' manual
        // syncs race each other alone.
        if round % 2 == 0 {
            h.app
                .store()
                .update_calendar_connection(
                    h.tenant.id,
                    connection.parse::<pillow_store::ConnectionId>().unwrap(),
                    &pillow_store::ConnectionPatch {
                        next_sync_at: Some(jiff::Timestamp::now()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        let (a, b, c, d) = tokio::join!(
            manual(&h.app),
            manual(&second),
            schedulers[0].try_execute_task(),
            schedulers[1].try_execute_task(),
        );
        for outcome in [a, b] {
            *outcomes.entry(outcome).or_default() += 1;
        }
        for step in [c.unwrap(), d.unwrap()] {
            let name = if step == Step::Empty {
                "tick: nothing due"
            } else {
                "tick: synced"
            };
            *outcomes.entry(name.to_string()).or_default() += 1;
        }
    }
    h.google.set_list_delay(std::time::Duration::ZERO);
    let result = h.sync().await;
    assert_eq!(result["outcome"], "synced", "{result}");
    println!("{outcomes:?}, {} lists", h.google.calls(Call::List) - lists);

    assert_eq!(
        h.google.max_concurrent_lists(HOST_EMAIL),
        1,
        "two syncs of one connection listed at the same time ({outcomes:?})"
    );
    assert!(
        outcomes.get("busy").copied().unwrap_or(0) > 0,
        "the servers never collided, so the test proved nothing: {outcomes:?}"
    );
    for ran in ["synced", "tick: synced"] {
        assert!(outcomes.get(ran).copied().unwrap_or(0) > 0, "{outcomes:?}");
    }
    let local = h.local_google_events().await;
    let mut unique: Vec<_> = local.iter().map(|e| &e.0).collect();
    unique.dedup();
    assert_eq!(
        unique.len(),
        local.len(),
        "an event is stored twice: {local:?}"
    );
    assert_eq!(local, h.remote_events());
    assert_eq!(local.len(), 20 - 4 + 12);
    second.finish().await;
    h.app.finish().await;
}

/// Benchmark (run on demand): the initial sync of 10,000 Google events, end to end through the
/// fake (also without the fake's own time), and the store's own ingest of the same events.
/// Figures come from a release build:
/// `cargo test --release -p pillow-calendar --test api google::bench -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run on demand"]
async fn bench_initial_sync_of_10000_events() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(h) = harness(db, &[("GOOGLE_PUSH", "off".to_string())]).await else {
            continue;
        };
        for n in 0..10_000i64 {
            h.create(
                &format!("E{n}"),
                soon(0) + jiff::SignedDuration::from_mins(12 * n),
                15,
            );
        }
        // Connect without the background sync racing the measured one: time the manual sync
        // after the connect's own finished, on a fresh token-less (full) state.
        let id = h
            .connect_settled()
            .await
            .parse::<pillow_store::ConnectionId>()
            .unwrap();
        let store = h.app.store();
        store
            .update_calendar_connection(
                h.tenant.id,
                id,
                &pillow_store::ConnectionPatch {
                    sync_token: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .prune_synced_events(h.tenant.id, id, h.tenant.owner.id, &[])
            .await
            .unwrap();
        let fake_before = h.google.busy_time();
        let started = std::time::Instant::now();
        let result = h.sync().await;
        let total = started.elapsed();
        let fake = h.google.busy_time() - fake_before;
        assert_eq!(result["upserted"], 10_000, "{result}");
        let ours = total.saturating_sub(fake);
        // The store's part alone: the same 10,000 events in pages of 2,500.
        store
            .prune_synced_events(h.tenant.id, id, h.tenant.owner.id, &[])
            .await
            .unwrap();
        let events: Vec<_> = store
            .list_events(h.tenant.id, &pillow_store::EventFilter::default())
            .await
            .unwrap();
        assert!(events.is_empty());
        let pages: Vec<Vec<pillow_store::NewCalendarEvent>> = (0..4)
            .map(|p| {
                (0..2500i64)
                    .map(|n| {
                        let start = soon(0) + jiff::SignedDuration::from_mins(15 * (p * 2500 + n));
                        pillow_store::NewCalendarEvent {
                            user_id: h.tenant.owner.id,
                            provider_id: Some(id),
                            external_id: Some(format!("bench{p}x{n}")),
                            etag: Some("\"1\"".into()),
                            title: format!("E{n}"),
                            description: None,
                            start,
                            end: start + jiff::SignedDuration::from_mins(15),
                            all_day: false,
                            status: pillow_store::EventStatus::Confirmed,
                            transparency: pillow_store::Transparency::Opaque,
                            source: pillow_store::EventSource::Google,
                            booking_id: None,
                        }
                    })
                    .collect()
            })
            .collect();
        let started = std::time::Instant::now();
        for page in &pages {
            store
                .apply_synced_events(h.tenant.id, id, h.tenant.owner.id, page, &[])
                .await
                .unwrap();
        }
        let ingest = started.elapsed();
        println!(
            "{db:?}: initial sync of 10,000 events end to end {:.0} ms ({:.0} events/s, fake \
             included); without the fake's {:.0} ms: {:.0} ms ({:.0} events/s); store ingest \
             {:.0} ms ({:.0} events/s)",
            total.as_secs_f64() * 1000.0,
            10_000.0 / total.as_secs_f64(),
            fake.as_secs_f64() * 1000.0,
            ours.as_secs_f64() * 1000.0,
            10_000.0 / ours.as_secs_f64(),
            ingest.as_secs_f64() * 1000.0,
            10_000.0 / ingest.as_secs_f64()
        );
        h.app.finish().await;
    }
}
