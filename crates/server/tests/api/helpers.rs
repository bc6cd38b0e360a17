use std::collections::HashMap;

use pillow_server::credentials::API_KEY;
use pillow_server::http::caller::issue_token;
use pillow_server::{AppState, Config};
use pillow_store::{NewApiKey, NewUser, Role, Store, TenantId, User};
use pillow_store_postgres::testing::{TestDatabase, fresh_database};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const INTERNAL_KEY: &str = "internal-key-for-tests-0123456789abcdef";
pub const JWT_SECRET: &str = "jwt-secret-for-tests-0123456789abcdefgh";

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(&TestApp)` as two tests, `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::helpers::run(super::$name, $crate::helpers::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::helpers::run(super::$name, $crate::helpers::Db::Postgres).await;
                }
            }
        )*
    };
}

pub async fn run<F>(test: F, db: Db)
where
    F: AsyncFnOnce(&TestApp),
{
    if let Some(app) = spawn_app(db).await {
        test(&app).await;
        app.finish().await;
    }
}

pub fn test_config(database_url: &str) -> Config {
    let source: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("CALENDAR_ENCRYPTION_KEY".into(), "42".repeat(32)),
        ("INTERNAL_API_KEY".into(), INTERNAL_KEY.into()),
        (
            "CRON_SECRET".into(),
            "cron-secret-for-tests-0123456789abcdef".into(),
        ),
        ("BIND".into(), "127.0.0.1:0".into()),
    ]);
    Config::from_source(&source).expect("test configuration is valid")
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    db: Option<TestDatabase>,
}

/// Starts the real server on a fresh database. `None` when PostgreSQL is not configured.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    let (database_url, dir, test_db) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Some(dir), None)
        }
        Db::Postgres => {
            let test_db = fresh_database().await?;
            (test_db.url.clone(), None, Some(test_db))
        }
    };
    let config = test_config(&database_url);
    let store = pillow_server::open_store(&database_url).await.unwrap();
    let state = AppState::new(store, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    let server = tokio::spawn(async move {
        pillow_server::serve(served, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Some(TestApp {
        base,
        client: reqwest::Client::new(),
        state,
        database_url,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
        db: test_db,
    })
}

/// A tenant with an owner who has a password, a token and an API key.
pub struct Tenant {
    pub id: TenantId,
    pub owner: User,
    pub key: String,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The machine-readable error code, if this is an error.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(db) = self.db.take() {
            // Close our pool first so the database can be dropped.
            drop(self.state);
            db.drop_database().await;
        }
    }

    /// Creates a tenant with an owner (password `owner-password`), a token and an API key.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let store = self.store();
        let tenant = store.create_tenant(name).await.unwrap();
        let owner = store
            .create_user(
                tenant.id,
                &NewUser {
                    email: format!("owner@{}.test", name.to_lowercase().replace(' ', "-")),
                    name: format!("{name} Owner"),
                    role: Role::Owner,
                    time_zone: "America/New_York".into(),
                    password_hash: Some(
                        pillow_server::credentials::hash_password("owner-password").unwrap(),
                    ),
                },
            )
            .await
            .unwrap();
        let minted = API_KEY.mint();
        store
            .create_api_key(
                tenant.id,
                &NewApiKey {
                    name: "tests".into(),
                    prefix: minted.prefix,
                    secret_hash: minted.secret_hash,
                },
            )
            .await
            .unwrap();
        let token = self.token_for(&owner);
        Tenant {
            id: tenant.id,
            owner,
            key: minted.key,
            token,
        }
    }

    /// A member (not admin) of a tenant, with a token.
    pub async fn member(&self, tenant: &Tenant, email: &str) -> (User, String) {
        let user = self
            .store()
            .create_user(
                tenant.id,
                &NewUser {
                    email: email.into(),
                    name: "A Member".into(),
                    role: Role::Member,
                    time_zone: "Europe/London".into(),
                    password_hash: None,
                },
            )
            .await
            .unwrap();
        let token = self.token_for(&user);
        (user, token)
    }

    pub fn token_for(&self, user: &User) -> String {
        let expires = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap();
        issue_token(&self.state, user, expires).unwrap()
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        self.send(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(bearer), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        self.send(Method::DELETE, path, Some(bearer), None).await
    }

    /// Sends a raw body, for malformed-JSON tests.
    pub async fn post_raw(&self, path: &str, bearer: &str, body: &str) -> Reply {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }
}

/// A server on an existing database URL (for tests that prepare the database another way).
pub struct TestAppOnUrl {
    base: String,
    client: reqwest::Client,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl TestAppOnUrl {
    pub async fn start(url: &str) -> Self {
        let store = pillow_server::open_store(url).await.unwrap();
        let state = AppState::new(store, test_config(url));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            pillow_server::serve(state, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            base,
            client: reqwest::Client::new(),
            shutdown: tx,
            server,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get_json(&self, path: &str, bearer: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
    }
}

/// The next `weekday` at least a week ahead, so notice limits never interfere.
pub fn next(weekday: jiff::civil::Weekday) -> jiff::civil::Date {
    use jiff::ToSpan;
    let mut date = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        + 7.days();
    while date.weekday() != weekday {
        date = date.tomorrow().unwrap();
    }
    date
}

/// The instant of a local wall time, e.g. `at(date, "09:00", "America/Los_Angeles")`.
pub fn at(date: jiff::civil::Date, time: &str, zone: &str) -> jiff::Timestamp {
    let time: jiff::civil::Time = time.parse().unwrap();
    date.to_datetime(time).in_tz(zone).unwrap().timestamp()
}

/// A rule open every day, all day, in UTC: lets tests book many distinct slots.
pub fn always_open(user: Option<pillow_store::UserId>, slot: i64) -> Value {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let schedule: serde_json::Map<String, Value> = days
        .iter()
        .map(|d| {
            (
                d.to_string(),
                serde_json::json!([{"start": "00:00", "end": "24:00"}]),
            )
        })
        .collect();
    let mut rule =
        serde_json::json!({"timezone": "UTC", "slot_duration": slot, "schedule": schedule});
    if let Some(user) = user {
        rule["user_id"] = serde_json::json!(user.to_string());
    }
    rule
}

/// Starts the real server on a fresh database with `extra` settings on top of the test
/// configuration; `PUBLIC_URL` is the server's own address (the listener is bound first), so
/// OAuth redirects and push channels reach it. `None` when PostgreSQL is not configured.
pub async fn spawn_app_with(db: Db, extra: &[(&str, String)]) -> Option<TestApp> {
    let (database_url, dir, test_db) = match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Some(dir), None)
        }
        Db::Postgres => {
            let test_db = fresh_database().await?;
            (test_db.url.clone(), None, Some(test_db))
        }
    };
    Some(start_with(database_url, dir, test_db, extra).await)
}

/// A second server on the database of `first`, with its own pool, state and port and `extra`
/// settings: two processes behind one load balancer. Finish it before `first`, which owns the
/// database.
pub async fn spawn_app_beside(first: &TestApp, extra: &[(&str, String)]) -> TestApp {
    start_with(first.database_url.clone(), None, None, extra).await
}

async fn start_with(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    test_db: Option<TestDatabase>,
    extra: &[(&str, String)],
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut source: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.clone()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("CALENDAR_ENCRYPTION_KEY".into(), "42".repeat(32)),
        ("INTERNAL_API_KEY".into(), INTERNAL_KEY.into()),
        (
            "CRON_SECRET".into(),
            "cron-secret-for-tests-0123456789abcdef".into(),
        ),
        ("BIND".into(), "127.0.0.1:0".into()),
        ("PUBLIC_URL".into(), base.clone()),
    ]);
    for (name, value) in extra {
        source.insert(name.to_string(), value.clone());
    }
    let config = Config::from_source(&source).expect("test configuration is valid");
    let store = pillow_server::open_store(&database_url).await.unwrap();
    let state = AppState::new(store, config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    let server = tokio::spawn(async move {
        pillow_server::serve(served, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        client: reqwest::Client::new(),
        state,
        database_url,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
        db: test_db,
    }
}

impl TestApp {
    /// The directory of a SQLite test database (`None` on PostgreSQL).
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }
}
