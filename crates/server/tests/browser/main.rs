//! The in-call widget, the demo call page and the hosted booking page in real headless
//! Chromium, driven over WebDriver (chromedriver) against the real server on a SQLite file.
//!
//! Without `chromium` and `chromedriver` the tests say they were skipped, unless `CI=true`,
//! where they fail. Screenshots of the key states go to `target/screenshots/`. Every wait is
//! on a condition in the page, never a fixed sleep: the machine may be busy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

mod dashboard;
mod dashboard_agents;
mod dashboard_calendars;
mod dashboard_charts;
mod dashboard_hours;
mod dashboard_pages;
mod incall_defects;
mod live_call;
mod live_suggestions;
mod notify_confirmation;
use pillow_server::{AppState, Config};
use pillow_store::{NewApiKey, NewUser, Role};
use serde_json::{Value, json};

/// Functions every script run by [`Browser::js`] may use (see there).
const JS_HELPERS: &str = "const $root = () => document.querySelector('pillow-incall-calendar')?.shadowRoot; \
    const $q = (s) => document.querySelector(s) || $root()?.querySelector(s) || null; \
    const $qa = (s) => [...document.querySelectorAll(s), ...($root()?.querySelectorAll(s) ?? [])]; \
    const $active = () => { let a = document.activeElement; while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement; return a; };";

/// How long any one condition may take to come true on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(45);

/// One browser test at a time: several Chromiums at once would only slow each other down.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` (after saying so) when they are not installed.
pub(crate) fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let chrome = find_binary(
        "CHROME_BIN",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = find_binary("CHROMEDRIVER", &["chromedriver"]);
    match (chrome, driver) {
        (Some(chrome), Some(driver)) => Some((chrome, driver)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but chromium or chromedriver is missing: the browser tests must run in CI \
                 (.ci/run installs them with apt-get)"
            );
            eprintln!(
                "browser tests skipped: install chromium and chromedriver \
                 (apt-get install chromium chromium-driver) to run them"
            );
            None
        }
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots directory");
    dir
}

/// The server, a tenant with a working owner, and the switch that takes the API down.
pub(crate) struct Server {
    pub(crate) base: String,
    api_key: String,
    client: reqwest::Client,
    pub(crate) outage: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

/// While the outage switch is on, the in-call API answers as a failing proxy would.
async fn outage_layer(
    axum::extract::State(outage): axum::extract::State<Arc<AtomicBool>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if outage.load(Ordering::SeqCst) && request.uri().path().starts_with("/api/v1/") {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::response::Html(
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// A fresh server state on a SQLite file in a temporary folder, and the loopback listener it
/// will serve on (its address is already the public URL): what every browser test starts from.
pub(crate) struct Fresh {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) listener: tokio::net::TcpListener,
    pub(crate) base: String,
    pub(crate) store: std::sync::Arc<dyn pillow_store::Store>,
    pub(crate) state: AppState,
}

impl Fresh {
    pub(crate) async fn start(database_file: &str) -> Fresh {
        Self::start_with(database_file, &[]).await
    }

    /// As [`Fresh::start`], with `extra` settings on top.
    pub(crate) async fn start_with(database_file: &str, extra: &[(&str, &str)]) -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join(database_file).display());
        let source: std::collections::HashMap<String, String> = [
            ("DATABASE_URL", url.as_str()),
            ("JWT_SECRET", "jwt-secret-for-browser-tests-0123456789ab"),
            ("CALENDAR_ENCRYPTION_KEY", &"42".repeat(32)),
            ("BIND", "127.0.0.1:0"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut config = Config::from_source(&source).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        config.public_url = base.clone();
        let store = pillow_server::open_store(&url).await.unwrap();
        let state = AppState::new(store.clone(), config);
        Fresh {
            dir,
            listener,
            base,
            store,
            state,
        }
    }
}

impl Server {
    pub(crate) async fn start() -> Server {
        Self::start_with(&[]).await
    }

    /// As [`Server::start`], with `extra` settings on top (e-mail and SMS on, say).
    pub(crate) async fn start_with(extra: &[(&str, &str)]) -> Server {
        let Fresh {
            dir,
            listener,
            base,
            store,
            state,
        } = Fresh::start_with("browser.db", extra).await;

        let tenant = store.create_tenant("Browser Clinic").await.unwrap();
        let owner = store
            .create_user(
                tenant.id,
                &NewUser {
                    email: "owner@clinic.test".into(),
                    name: "Dana Reyes".into(),
                    role: Role::Owner,
                    time_zone: "America/New_York".into(),
                    password_hash: None,
                },
            )
            .await
            .unwrap();
        let minted = pillow_server::credentials::API_KEY.mint();
        store
            .create_api_key(
                tenant.id,
                &NewApiKey {
                    name: "browser tests".into(),
                    prefix: minted.prefix,
                    secret_hash: minted.secret_hash,
                },
            )
            .await
            .unwrap();
        let _ = owner;

        let outage = Arc::new(AtomicBool::new(false));
        let app = pillow_server::app(state).layer(axum::middleware::from_fn_with_state(
            outage.clone(),
            outage_layer,
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Server {
            base,
            api_key: minted.key,
            client: reqwest::Client::new(),
            outage,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// An agent in New York whose one member works 09:00–17:00 every day in 30-minute slots,
    /// with `notice_days` of minimum notice; answers the agent id and a widget key for it.
    pub(crate) async fn agent(
        &self,
        name: &str,
        email: &str,
        notice_days: i64,
    ) -> (String, String) {
        let (status, user) = self
            .call(
                reqwest::Method::POST,
                "/api/users",
                Some(
                    json!({"email": email, "name": format!("{name} Host"), "role": "member",
                            "time_zone": "America/New_York"}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{user}");
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
            .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "17:00"}])))
            .collect();
        let rule = json!({"user_id": user["id"], "timezone": "America/New_York", "slot_duration": 30,
                          "schedule": schedule, "min_booking_notice": notice_days * 24 * 60,
                          "max_booking_notice": 200 * 24 * 60});
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/calendar/availability-rules",
                Some(rule),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, agent) = self
            .call(
                reqwest::Method::POST,
                "/api/agents",
                Some(json!({"name": name, "time_zone": "America/New_York"})),
            )
            .await;
        assert_eq!(status, 201, "{agent}");
        let agent_id = agent["id"].as_str().unwrap().to_string();
        let (status, settings) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/agents/{agent_id}/booking-settings"),
                Some(json!({"assignable_users": [{"user_id": user["id"]}]})),
            )
            .await;
        assert_eq!(status, 200, "{settings}");
        let (status, key) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/agents/{agent_id}/widget-keys"),
                Some(json!({"name": "browser", "allowed_origins": []})),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        (agent_id, key["key"].as_str().unwrap().to_string())
    }

    pub(crate) async fn bookings(&self) -> Vec<Value> {
        let (_, body) = self
            .call(reqwest::Method::GET, "/api/calendar/bookings", None)
            .await;
        body["bookings"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// chromedriver on a free port, and a headless Chromium session through it.
pub(crate) struct Browser {
    client: Option<Client>,
    driver: Child,
    shots: PathBuf,
    prefix: &'static str,
}

impl Browser {
    pub(crate) async fn start(
        chrome: &Path,
        driver: &Path,
        prefix: &'static str,
        width: u32,
        height: u32,
    ) -> Browser {
        Self::start_in(chrome, driver, prefix, width, height, None).await
    }

    /// A browser whose clock is in `zone` (Chromium takes it from `TZ`), or the machine's.
    pub(crate) async fn start_in(
        chrome: &Path,
        driver: &Path,
        prefix: &'static str,
        width: u32,
        height: u32,
        zone: Option<&str>,
    ) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(driver);
        if let Some(zone) = zone {
            command.env("TZ", zone);
        }
        let mut driver = command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if reqwest::get(format!("{url}/status"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if started.elapsed() > PATIENCE {
                let _ = driver.kill();
                panic!("chromedriver did not answer on {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "binary": chrome.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     format!("--window-size={width},{height}"), "--lang=en-US"],
        });
        // Headless windows are at least 500 px wide: a phone's viewport is emulated instead.
        if width < 500 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": false}
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Browser {
            client: Some(client),
            driver,
            shots: screenshots_dir(),
            prefix,
        }
    }

    pub(crate) fn c(&self) -> &Client {
        self.client.as_ref().expect("open session")
    }

    pub(crate) async fn shot(&self, state: &str) {
        let png = self.c().screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{state}.png", self.prefix)), png).unwrap();
    }

    /// Runs `script` with helpers that see into the widget's shadow root: `$q(css)` and
    /// `$qa(css)` query the page, then the widget; `$active()` is the focused element, however
    /// deep.
    pub(crate) async fn js(&self, script: &str) -> Value {
        let script = format!("{JS_HELPERS}\n{script}");
        self.c().execute(&script, vec![]).await.unwrap()
    }

    /// The first element matching `css` in the page, else in the widget's shadow root.
    pub(crate) async fn find(&self, css: &str) -> Element {
        if let Ok(element) = self.c().find(Locator::Css(css)).await {
            return element;
        }
        let host = self
            .c()
            .find(Locator::Css("pillow-incall-calendar"))
            .await
            .unwrap_or_else(|_| panic!("no {css} and no widget"));
        host.shadow_root()
            .await
            .unwrap()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css} in the page or the widget"))
    }

    /// Waits until `condition` (a JS expression) is truthy.
    pub(crate) async fn until(&self, condition: &str) {
        let script = format!("return !!({condition});");
        let started = Instant::now();
        loop {
            if self.js(&script).await == json!(true) {
                return;
            }
            if started.elapsed() > PATIENCE {
                let state = self
                    .js("return $q('pillow-incall-calendar')?.dataset.state || 'none'")
                    .await;
                self.shot("timeout").await;
                panic!("timed out waiting for {condition} (widget state {state})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn state_is(&self, state: &str) {
        self.until(&format!(
            "$q('pillow-incall-calendar')?.dataset.state === '{state}'"
        ))
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Types `keys` into whatever has focus (inside a shadow root too), as a person would.
    pub(crate) async fn keys(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for value in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.c().perform_actions(actions).await.unwrap();
    }

    pub(crate) async fn active(&self) -> Value {
        self.js("const a = $active(); return {tag: a.tagName, id: a.id, name: a.name || null, act: a.dataset.act || null, date: a.dataset.date || null, text: a.textContent.trim(), inDialog: !!a.closest('dialog')};")
            .await
    }

    pub(crate) async fn count(&self, css: &str) -> u64 {
        self.js(&format!("return $qa('{css}').length;"))
            .await
            .as_u64()
            .unwrap()
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Opens the demo call page and connects the call.
    pub(crate) async fn connected_call(&self, server: &Server, agent: &str, key: &str) {
        self.c()
            .goto(&format!(
                "{}/demo/call?agent={agent}&key={key}",
                server.base
            ))
            .await
            .unwrap();
        self.until(
            "customElements.get('pillow-incall-calendar') && document.getElementById('start')",
        )
        .await;
        assert_eq!(
            self.js("return document.getElementById('book').hidden")
                .await,
            json!(true)
        );
        self.click("#start").await;
        self.until("document.body.dataset.call === 'connected'")
            .await;
        assert_eq!(
            self.js("return document.getElementById('book').hidden")
                .await,
            json!(false)
        );
    }

    pub(crate) async fn finish(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Sets up a server and a browser, or skips when the browser is not installed.
pub(crate) async fn setup(
    prefix: &'static str,
) -> Option<(tokio::sync::MutexGuard<'static, ()>, Server, Browser)> {
    let (chrome, driver) = browser_binaries()?;
    let guard = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let browser = Browser::start(&chrome, &driver, prefix, 1280, 900).await;
    Some((guard, server, browser))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_from_the_demo_call_page_ends_with_a_booking_in_the_api() {
    let Some((_guard, server, browser)) = setup("flow").await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.shot("01-call-connected").await;

    browser.click("#book").await;
    browser.state_is("slots").await;
    assert_eq!(browser.js("return $q('dialog').open").await, json!(true));
    assert_eq!(
        browser
            .js("return $q('dialog').getAttribute('aria-labelledby') !== null")
            .await,
        json!(true)
    );
    // A month of days, the ones with openings marked, and the first open day's times.
    let days = browser.count(".pic-date").await;
    assert!((28..=31).contains(&days), "{days} days in the month");
    assert!(browser.count(".pic-has").await >= 1);
    let heading = browser.text(".pic-times h3").await;
    assert!(
        heading.contains("today") || heading.contains("tomorrow"),
        "{heading}"
    );
    browser.shot("02-month-and-first-day").await;

    // Another open day (the next one, possibly in the next month).
    browser
        .js("const d = $q('.pic-date[aria-selected=true]').dataset.date; \
             const next = $qa('.pic-has').find(b => b.dataset.date > d); \
             if (next) next.id = 'another-day'; else $q('[data-act=month][data-step=\"1\"]').id = 'another-day';")
        .await;
    browser.click("#another-day").await;
    browser
        .until("$q('.pic-date[aria-selected=true]') && $qa('.pic-slot').length > 0 && !$q('.pic-times h3').textContent.includes('today')")
        .await;
    browser.shot("03-another-day").await;

    // Pick a slot, fill the form, confirm.
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    let chosen = browser.text(".pic-chosen strong").await;
    assert!(chosen.contains(" time"), "the zone is named: {chosen}");
    browser.shot("04-form").await;
    browser.type_into("input[name=name]", "Ada Lovelace").await;
    browser
        .type_into("input[name=email]", "ada@example.com")
        .await;
    browser
        .type_into("input[name=phone]", "+1 212 555 0100")
        .await;
    browser
        .type_into("textarea[name=notes]", "First visit")
        .await;
    browser.click("button[type=submit]").await;
    browser.state_is("confirmed").await;
    browser.shot("05-confirmed").await;
    let confirmation = browser.text(".pic-done").await;
    assert!(confirmation.contains("Ada Lovelace"), "{confirmation}");
    let code = browser
        .js("return [...$qa('.pic-done dt')].find(d => d.textContent === 'Confirmation code').nextElementSibling.textContent")
        .await;
    let code = code.as_str().unwrap().to_string();
    assert_eq!(code.len(), 9);
    // The confirmation shows the time that was chosen, with its zone.
    let when = browser
        .js("return [...$qa('.pic-done dt')].find(d => d.textContent === 'When').nextElementSibling.textContent")
        .await;
    assert_eq!(when.as_str().unwrap(), chosen);

    // The booking is visible through the API.
    let (status, booking) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings/{code}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{booking}");
    assert_eq!(booking["attendee"]["email"], json!("ada@example.com"));
    assert_eq!(booking["attendee"]["phone"], json!("+1 212 555 0100"));
    assert_eq!(booking["notes"], json!("First visit"));
    assert_eq!(booking["agent_id"], json!(agent));
    assert_eq!(booking["status"], json!("confirmed"));

    // Back to the call: the caption confirms, naming the zone; ending the call hides the button.
    browser.click(".pic-done [data-act=close]").await;
    browser.until("!$q('dialog').open").await;
    let captions = browser.text("#captions").await;
    assert!(captions.contains(&code), "{captions}");
    assert!(captions.contains(&chosen), "{captions}");
    browser.click("#end").await;
    browser
        .until("document.body.dataset.call === 'ended'")
        .await;
    assert_eq!(
        browser
            .js("return document.getElementById('book').hidden")
            .await,
        json!(true)
    );
    browser.shot("06-call-ended").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_is_checked_inline_before_anything_is_sent() {
    let Some((_guard, server, browser)) = setup("validation").await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;

    browser.click("button[type=submit]").await;
    browser.until("$qa('.pic-field-error').length === 2").await;
    assert_eq!(browser.js("return $active().name").await, json!("name"));
    assert_eq!(
        browser
            .js("return $q('input[name=email]').getAttribute('aria-invalid')")
            .await,
        json!("true")
    );
    browser.shot("01-required-fields").await;

    browser.type_into("input[name=name]", "Ada").await;
    browser.type_into("input[name=email]", "ada@").await;
    browser
        .type_into("input[name=phone]", "call me maybe")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .until("$qa('.pic-field-error').length === 2 && $active().name === 'email'")
        .await;
    let errors = browser.text(".pic-form").await;
    assert!(errors.contains("valid email"), "{errors}");
    assert!(errors.contains("phone number"), "{errors}");
    browser.shot("02-invalid-email-and-phone").await;
    assert!(server.bookings().await.is_empty(), "nothing was sent");

    browser
        .type_into("input[name=email]", "ada@example.com")
        .await;
    browser.type_into("input[name=phone]", "").await;
    browser.click("button[type=submit]").await;
    browser.state_is("confirmed").await;
    assert_eq!(server.bookings().await.len(), 1);
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_times_this_month_the_calendar_opens_on_the_first_open_day_and_says_so() {
    let Some((_guard, server, browser)) = setup("no-slots").await else {
        return;
    };
    // Forty days of notice: nothing in the first weeks.
    let (agent, key) = server.agent("Busy Desk", "busy@clinic.test", 40).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    let notice = browser.text(".pic-notice").await;
    assert!(notice.contains("first open time"), "{notice}");
    let gap = browser
        .js("const d = $q('.pic-date[aria-selected=true]').dataset.date; \
             return Math.round((Date.parse(d) - Date.parse(new Date().toISOString().slice(0, 10))) / 86400000);")
        .await
        .as_i64()
        .unwrap();
    assert!(
        (39..=42).contains(&gap),
        "the first open day is {gap} days away"
    );
    assert!(browser.text(".pic-times h3").await.contains("weeks"));
    // Earlier months stay reachable, their days marked as without openings.
    browser.click("[data-act=month][data-step=\"-1\"]").await;
    browser
        .until("$qa('.pic-date').length > 0 && $qa('.pic-has').length === 0")
        .await;
    browser.shot("01-first-open-day").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_api_shows_a_retry_that_recovers_and_a_failed_booking_is_safe_to_repeat() {
    let Some((_guard, server, browser)) = setup("network").await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;

    server.outage.store(true, Ordering::SeqCst);
    browser.click("#book").await;
    browser.state_is("error").await;
    let error = browser.text(".pic-error").await;
    assert!(error.contains("not answering"), "{error}");
    assert!(
        !error.contains("HTTP"),
        "no status codes for callers: {error}"
    );
    browser.shot("01-load-failed").await;
    server.outage.store(false, Ordering::SeqCst);
    browser.click("[data-act=retry]").await;
    browser.state_is("slots").await;

    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    browser.type_into("input[name=name]", "Grace Hopper").await;
    browser
        .type_into("input[name=email]", "grace@example.com")
        .await;
    server.outage.store(true, Ordering::SeqCst);
    browser.click("button[type=submit]").await;
    browser
        .until("$q('.pic-error') && $q('pillow-incall-calendar').dataset.state === 'form'")
        .await;
    let failure = browser.text(".pic-error").await;
    assert!(failure.contains("did not go through"), "{failure}");
    assert_eq!(
        browser.js("return $q('input[name=name]').value").await,
        json!("Grace Hopper")
    );
    browser.shot("02-booking-failed").await;
    server.outage.store(false, Ordering::SeqCst);
    browser.click("button[type=submit]").await;
    browser.state_is("confirmed").await;
    assert_eq!(server.bookings().await.len(), 1);
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_taken_between_choosing_and_booking_sends_the_caller_back_to_fresh_slots() {
    let Some((_guard, server, browser)) = setup("slot-taken").await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    let slot = browser
        .js("const b = $q('.pic-slot'); return {id: b.dataset.slot, label: b.getAttribute('aria-label')};")
        .await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;

    // Someone else books the same slot meanwhile.
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{agent}/calendar/book"),
            Some(json!({"slotId": slot["id"], "attendeeName": "Other Caller",
                        "attendeeEmail": "other@example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    browser.type_into("input[name=name]", "Ada").await;
    browser
        .type_into("input[name=email]", "ada@example.com")
        .await;
    browser.click("button[type=submit]").await;
    browser.state_is("slots").await;
    let notice = browser.text(".pic-notice").await;
    assert!(notice.contains("just taken"), "{notice}");
    let label = slot["label"].as_str().unwrap();
    assert_eq!(
        browser
            .js(&format!(
                "return [...$qa('.pic-slot')].some(b => b.getAttribute('aria-label') === {label:?})"
            ))
            .await,
        json!(false),
        "the taken slot is gone"
    );
    browser.shot("01-slot-taken").await;
    assert_eq!(server.bookings().await.len(), 1);
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_works_with_the_keyboard_alone() {
    let Some((_guard, server, browser)) = setup("keyboard").await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser
        .c()
        .goto(&format!(
            "{}/demo/call?agent={agent}&key={key}",
            server.base
        ))
        .await
        .unwrap();
    browser.until("document.getElementById('start')").await;
    // Tab to "Start call", Enter; the page moves focus to "Book Appointment" once connected.
    browser.keys(&Key::Tab).await;
    assert_eq!(browser.active().await["id"], json!("start"));
    browser.keys(&Key::Enter).await;
    browser.until("$active().id === 'book'").await;
    browser.keys(&Key::Enter).await;
    browser.state_is("slots").await;
    // Focus starts in the dialog, on the chosen day of the date grid, and stays inside it.
    browser.until("$active().dataset.act === 'day'").await;
    let controls = browser
        .count("dialog button:not([tabindex=\"-1\"]), dialog select, dialog input")
        .await;
    for _ in 0..controls + 2 {
        browser.keys(&Key::Tab).await;
        assert_eq!(
            browser.active().await["inDialog"],
            json!(true),
            "focus left the dialog"
        );
    }
    // Back to the grid; Enter goes to the day's first time, Enter picks it.
    browser.js("$q('.pic-date[tabindex=\"0\"]').focus()").await;
    browser.keys(&Key::Enter).await;
    browser.until("$active().dataset.act === 'pick'").await;
    browser.keys(&Key::Enter).await;
    browser.state_is("form").await;
    assert_eq!(browser.active().await["name"], json!("name"));
    browser.keys("Alan Turing").await;
    browser.keys(&Key::Tab).await;
    browser.keys("alan@example.com").await;
    browser.keys(&Key::Tab).await;
    browser.keys(&Key::Tab).await;
    browser.keys("Keyboard only").await;
    browser.keys(&Key::Tab).await;
    browser.keys(&Key::Tab).await;
    assert_eq!(browser.active().await["text"], json!("Confirm booking"));
    browser.shot("01-form-by-keyboard").await;
    browser.keys(&Key::Enter).await;
    browser.state_is("confirmed").await;
    assert_eq!(browser.active().await["text"], json!("Back to the call"));
    browser.shot("02-confirmed-by-keyboard").await;
    // Escape closes the dialog and focus returns to the call.
    browser.keys(&Key::Escape).await;
    browser.until("!$q('dialog').open").await;
    browser.until("$active().id === 'book'").await;
    let bookings = server.bookings().await;
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0]["notes"], json!("Keyboard only"));
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_is_small_and_shows_slots_quickly() {
    let Some((_guard, server, browser)) = setup("figures").await else {
        return;
    };
    let mut bytes = 0;
    for file in ["pillow-incall-calendar.js", "pillow-incall-calendar.css"] {
        let response = reqwest::get(format!("{}/embed/{file}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        bytes += response.bytes().await.unwrap().len();
    }
    println!("widget size: {bytes} bytes of JavaScript and CSS (uncompressed)");
    assert!(
        bytes < 25 * 1024,
        "the widget grew past 25 KB: {bytes} bytes"
    );

    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    let mut times = Vec::new();
    for _ in 0..9 {
        browser.click("#book").await;
        browser.state_is("slots").await;
        let ms = browser
            .js("return performance.getEntriesByName('pillow:open-to-slots').at(-1).duration")
            .await
            .as_f64()
            .unwrap();
        times.push(ms);
        browser.keys(&Key::Escape).await;
        browser.until("!$q('dialog').open").await;
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "open to slots shown: median {median:.1} ms over {} opens (first open {first:.1} ms, max {:.1} ms)",
        times.len(),
        times[times.len() - 1]
    );
    assert!(median < 1000.0, "median open-to-slots {median} ms");
    browser.finish().await;
}
