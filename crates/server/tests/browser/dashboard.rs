//! The admin dashboard in real Chromium: signing in and out, a wrong password, the onboarding
//! list turning done step by step, cancelling a booking from the list, a member refused an
//! admin page, a cross-site form refused, and an old cookie replayed after logout. Every page
//! is photographed at 1280 and 390 pixels wide under `target/screenshots/dashboard-*.png`.

use std::net::SocketAddr;

use pillow_server::credentials::{API_KEY, hash_password};
use pillow_store::{NewApiKey, NewCalendarConnection, NewUser, Role, Store, TenantId, User};
use serde_json::{Value, json};

use super::{Browser, ONE_AT_A_TIME, PATIENCE, browser_binaries, screenshots_dir};

pub(crate) const OWNER_EMAIL: &str = "dana@clinic.test";
pub(crate) const OWNER_PASSWORD: &str = "correct horse battery";
pub(crate) const MEMBER_EMAIL: &str = "sam@clinic.test";
pub(crate) const MEMBER_PASSWORD: &str = "member password 1";

/// The server with a tenant whose owner and member sign in with passwords.
pub(crate) struct Dash {
    pub(crate) base: String,
    api_key: String,
    pub(crate) store: std::sync::Arc<dyn Store>,
    pub(crate) tenant: TenantId,
    pub(crate) owner: User,
    pub(crate) member: User,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The in-process Google fake, when the test connects Google.
    _google: Option<pillow_fakes::google::FakeGoogle>,
    _dir: tempfile::TempDir,
}

impl Dash {
    /// With `google`, the server talks to the demo's in-process Google fake, where the owner
    /// has an account with sample events.
    pub(crate) async fn start_with_google(google: bool) -> Dash {
        let super::Fresh {
            dir,
            listener,
            base,
            store,
            mut state,
        } = super::Fresh::start("dashboard.db").await;
        let mut fake = None;
        if google {
            let mut config = (*state.config).clone();
            fake = Some(
                pillow_server::demo_google::start(
                    &mut config,
                    &[(OWNER_EMAIL, "America/New_York")],
                )
                .await,
            );
            state = pillow_server::AppState::new(store.clone(), config);
        }
        let tenant = store.create_tenant("Riverside Dental").await.unwrap();
        let person = |email: &str, name: &str, role: Role, zone: &str, password: &str| NewUser {
            email: email.into(),
            name: name.into(),
            role,
            time_zone: zone.into(),
            password_hash: Some(hash_password(password).unwrap()),
        };
        let owner = store
            .create_user(
                tenant.id,
                &person(
                    OWNER_EMAIL,
                    "Dana Reyes",
                    Role::Owner,
                    "America/New_York",
                    OWNER_PASSWORD,
                ),
            )
            .await
            .unwrap();
        let minted = API_KEY.mint();
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
        // Created after the checklist's first look in the onboarding test, so made on demand.
        let member = person(
            MEMBER_EMAIL,
            "Sam Ortiz",
            Role::Member,
            "Europe/London",
            MEMBER_PASSWORD,
        );
        let app = pillow_server::app(state);
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
        let member = Dash::pending_member(&store, tenant.id, member).await;
        Dash {
            base,
            api_key: minted.key,
            store,
            tenant: tenant.id,
            owner,
            member,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            _google: fake,
            _dir: dir,
        }
    }

    /// The member exists from the start; the onboarding test removes and re-adds team members
    /// through the API instead.
    async fn pending_member(
        store: &std::sync::Arc<dyn Store>,
        tenant: TenantId,
        member: NewUser,
    ) -> User {
        store.create_user(tenant, &member).await.unwrap()
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

    /// Working hours 09:00–17:00 every day in New York for `user`.
    pub(crate) async fn hours(&self, user: &User) {
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
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/calendar/availability-rules",
                Some(
                    json!({"user_id": user.id.to_string(), "timezone": "America/New_York",
                            "slot_duration": 30, "schedule": schedule,
                            "max_booking_notice": 60 * 24 * 60}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// A booking with the owner tomorrow at `hour`:00 New York time; answers the API's booking.
    pub(crate) async fn book(&self, name: &str, hour: i8) -> Value {
        let tomorrow = jiff::Timestamp::now()
            .in_tz("America/New_York")
            .unwrap()
            .date()
            .tomorrow()
            .unwrap();
        let start = tomorrow
            .at(hour, 0, 0, 0)
            .in_tz("America/New_York")
            .unwrap()
            .timestamp();
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/calendar/booking",
                Some(json!({"start_time": start.to_string(), "duration": 30,
                            "user_id": self.owner.id.to_string(),
                            "attendee": {"name": name, "phone": "+1 212 555 0147",
                                         "email": "guest@example.com"}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn setup(
    prefix: &'static str,
    width: u32,
) -> Option<(tokio::sync::MutexGuard<'static, ()>, Dash, Browser)> {
    setup_with(prefix, width, false).await
}

/// [`setup`], with the Google fake when `google`.
pub(crate) async fn setup_with(
    prefix: &'static str,
    width: u32,
    google: bool,
) -> Option<(tokio::sync::MutexGuard<'static, ()>, Dash, Browser)> {
    let (chrome, driver) = browser_binaries()?;
    let guard = ONE_AT_A_TIME.lock().await;
    let dash = Dash::start_with_google(google).await;
    let browser = if width < 500 {
        phone(&chrome, &driver, prefix, width).await
    } else {
        Browser::start(&chrome, &driver, prefix, width, 900).await
    };
    Some((guard, dash, browser))
}

/// A Chromium emulating a phone `width` pixels wide: a desktop window cannot be made narrower
/// than 500 pixels, a phone's viewport can.
async fn phone(
    chrome: &std::path::Path,
    driver: &std::path::Path,
    prefix: &'static str,
    width: u32,
) -> Browser {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = std::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while !reqwest::get(format!("{url}/status"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if started.elapsed() > PATIENCE {
            let _ = driver.kill();
            panic!("chromedriver did not answer on {url}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--lang=en-US"],
            "mobileEmulation": {"deviceMetrics": {"width": width, "height": 844, "pixelRatio": 1.0}},
        }),
    );
    let client =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
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

impl Browser {
    pub(crate) async fn open(&self, dash: &Dash, path: &str) {
        self.c()
            .goto(&format!("{}{path}", dash.base))
            .await
            .unwrap();
        self.until("document.readyState === 'complete'").await;
    }

    pub(crate) async fn path(&self) -> String {
        self.js("return location.pathname")
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(crate) async fn heading(&self) -> String {
        self.text("h1").await
    }

    pub(crate) async fn log_in(&self, dash: &Dash, email: &str, password: &str) {
        self.open(dash, "/dashboard/login").await;
        self.type_into("#email", email).await;
        self.type_into("#password", password).await;
        self.click("button[type=submit]").await;
        self.until("document.readyState === 'complete' && location.pathname !== '/dashboard/login' || !!document.querySelector('#login-error')")
            .await;
    }

    /// Every visible form control has a label, and the page fits the window's width.
    pub(crate) async fn check_page(&self) {
        let unlabelled = self
            .js("return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                    .filter(e => !(e.labels && e.labels.length)).map(e => e.name)")
            .await;
        assert_eq!(unlabelled, json!([]), "inputs without a label");
        let overflow = self
            .js("return document.documentElement.scrollWidth - window.innerWidth")
            .await
            .as_i64()
            .unwrap();
        assert!(
            overflow <= 0,
            "the page is {overflow}px wider than the window"
        );
    }

    async fn step_done(&self, key: &str) -> bool {
        self.js(&format!(
            "return document.querySelector('[data-step=\"{key}\"]').dataset.done === 'true'"
        ))
        .await
            == json!(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_logs_in_and_out_and_the_old_cookie_then_gets_the_login_page() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.open(&dash, "/").await;
    assert_eq!(browser.path().await, "/dashboard/login");
    browser.check_page().await;
    browser.shot("login").await;
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(browser.path().await, "/dashboard");
    assert_eq!(browser.heading().await, "Home");
    assert!(
        browser
            .text("[data-testid=who]")
            .await
            .contains("Dana Reyes")
    );
    let cookie = browser
        .c()
        .get_named_cookie("pillow_session")
        .await
        .unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    browser.click("#logout").await;
    browser
        .until("location.pathname === '/dashboard/login' && !!document.querySelector('.notice')")
        .await;
    assert_eq!(browser.text(".notice").await, "You have logged out.");
    // The old cookie, put back and replayed, opens nothing.
    browser.c().add_cookie(cookie.into_owned()).await.unwrap();
    browser.open(&dash, "/dashboard").await;
    assert_eq!(browser.path().await, "/dashboard/login");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_says_so_and_keeps_the_address() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, "wrong password").await;
    assert_eq!(browser.path().await, "/dashboard/login");
    assert_eq!(
        browser.text("#login-error").await,
        "The e-mail address or password is wrong."
    );
    assert_eq!(
        browser
            .js("return document.getElementById('email').value")
            .await,
        json!(OWNER_EMAIL)
    );
    // The cursor waits in the password field.
    assert_eq!(browser.active().await["id"], "password");
    browser.shot("login-wrong-password").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onboarding_list_turns_done_step_by_step() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    // The member exists from the start, so "team" is already done; remove them first.
    assert!(
        dash.store
            .delete_user(dash.tenant, dash.member.id)
            .await
            .unwrap()
    );
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let steps = ["calendar", "hours", "team", "agent", "widget", "booking"];
    for step in steps {
        assert!(!browser.step_done(step).await, "{step} starts undone");
    }
    browser.shot("home-new").await;
    let check = async |done: &[&str]| {
        browser.open(&dash, "/dashboard").await;
        for step in steps {
            assert_eq!(
                browser.step_done(step).await,
                done.contains(&step),
                "{step} after {done:?}"
            );
        }
    };
    dash.hours(&dash.owner).await;
    check(&["hours"]).await;
    let (status, body) = dash
        .call(
            reqwest::Method::POST,
            "/api/users",
            Some(
                json!({"email": "lee@clinic.test", "name": "Lee Park", "role": "member",
                        "time_zone": "America/Chicago"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    check(&["hours", "team"]).await;
    let (status, agent) = dash
        .call(
            reqwest::Method::POST,
            "/api/agents",
            Some(json!({"name": "Front desk", "time_zone": "America/New_York"})),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().unwrap();
    let (status, body) = dash
        .call(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent_id}/booking-settings"),
            Some(json!({"assignable_users": [{"user_id": dash.owner.id.to_string()}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    check(&["hours", "team", "agent"]).await;
    let (status, body) = dash
        .call(
            reqwest::Method::POST,
            &format!("/api/agents/{agent_id}/widget-keys"),
            Some(json!({"name": "site", "allowed_origins": []})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    check(&["hours", "team", "agent", "widget"]).await;
    dash.book("First Patient", 10).await;
    check(&["hours", "team", "agent", "widget", "booking"]).await;
    dash.store
        .upsert_calendar_connection(
            dash.tenant,
            &NewCalendarConnection {
                user_id: dash.owner.id,
                kind: "google".into(),
                calendar_id: "primary".into(),
                account_email: OWNER_EMAIL.into(),
                access_token_encrypted: "sealed".into(),
                refresh_token_encrypted: Some("sealed".into()),
                token_expires_at: jiff::Timestamp::now(),
                scopes: vec![],
            },
        )
        .await
        .unwrap();
    check(&steps).await;
    assert_eq!(browser.text(".card .muted").await, "6 of 6 steps done");
    // Tomorrow's booking shows with its time and zone.
    let tomorrow = browser.text("[data-testid=tomorrow]").await;
    assert!(
        tomorrow.contains("10:00") && tomorrow.contains("First Patient"),
        "{tomorrow}"
    );
    assert!(
        tomorrow.contains("EST") || tomorrow.contains("EDT"),
        "{tomorrow}"
    );
    browser.check_page().await;
    browser.shot("home-done").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_finds_a_booking_in_the_list_and_cancels_it_with_a_reason() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    let kept = dash.book("Keep Me", 10).await;
    let booking = dash.book("Ada Lovelace", 11).await;
    let code = booking["confirmation_code"].as_str().unwrap();
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.open(&dash, "/dashboard/bookings").await;
    assert_eq!(browser.count("tbody tr").await, 2);
    browser.check_page().await;
    browser.shot("bookings").await;
    // Search by the code; htmx swaps the results in place.
    browser.type_into("#q", code).await;
    browser.click(".filters button[type=submit]").await;
    browser
        .until("document.querySelectorAll('tbody tr').length === 1")
        .await;
    assert!(browser.text("tbody tr").await.contains("Ada Lovelace"));
    browser.click("tbody tr a").await;
    browser.until("!!document.getElementById('cancel')").await;
    browser.check_page().await;
    browser.shot("booking-detail").await;
    // No reason: the field says what is missing.
    browser
        .js("document.getElementById('reason').removeAttribute('required')")
        .await;
    browser.click("#cancel").await;
    browser
        .until("!!document.getElementById('reason-error')")
        .await;
    assert_eq!(
        browser
            .js("return document.getElementById('reason').getAttribute('aria-invalid')")
            .await,
        json!("true")
    );
    browser.type_into("#reason", "Patient moved away").await;
    browser.click("#cancel").await;
    browser.until("!!document.querySelector('.notice')").await;
    assert_eq!(browser.text("#status").await, "cancelled");
    assert_eq!(browser.text("#cancel-reason").await, "Patient moved away");
    browser.shot("booking-cancelled").await;
    let id = booking["id"].as_str().unwrap();
    let (_, after) = dash
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings/{id}"),
            None,
        )
        .await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["cancel_reason"], "Patient moved away");
    let (_, other) = dash
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings/{}", kept["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(other["status"], "confirmed");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_opening_an_admin_page_gets_a_403_page() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.log_in(&dash, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    assert_eq!(browser.path().await, "/dashboard");
    // Members have no setup checklist and no member picker.
    assert_eq!(browser.count("[data-step]").await, 0);
    let path = format!("/dashboard/bookings?member={}", dash.owner.id);
    browser.open(&dash, &path).await;
    assert_eq!(browser.heading().await, "Not allowed");
    browser.shot("member-403").await;
    let status = reqwest::Client::new()
        .get(format!("{}{path}", dash.base))
        .header(
            "cookie",
            format!(
                "pillow_session={}",
                browser
                    .c()
                    .get_named_cookie("pillow_session")
                    .await
                    .unwrap()
                    .value()
            ),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    browser.open(&dash, "/dashboard/bookings").await;
    assert_eq!(browser.count("#member").await, 0);
    browser.finish().await;
}

/// Another site's page with a form that posts to our logout.
async fn attacker(target: &str) -> (String, tokio::sync::oneshot::Sender<()>) {
    let page = format!(
        "<!doctype html><title>Win a prize</title>\
         <form method=post action=\"{target}/dashboard/logout\">\
         <input type=hidden name=csrf value=guess><button id=go>Claim</button></form>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // `localhost` and `127.0.0.1` are different sites to the browser.
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (base, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_from_another_site_is_refused_and_the_session_lives_on() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let (evil, _stop) = attacker(&dash.base).await;
    browser.c().goto(&evil).await.unwrap();
    browser.until("!!document.getElementById('go')").await;
    browser.click("#go").await;
    browser
        .until("location.pathname === '/dashboard/logout' && !!document.querySelector('h1')")
        .await;
    assert_eq!(browser.heading().await, "Not allowed");
    assert!(
        browser
            .text("main")
            .await
            .contains("sent from another site")
    );
    browser.shot("cross-site-refused").await;
    browser.open(&dash, "/dashboard").await;
    assert_eq!(browser.path().await, "/dashboard");
    assert_eq!(browser.heading().await, "Home");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_screen_with_labels_and_zones() {
    let Some((_guard, dash, browser)) = setup("dashboard-390", 390).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    let booking = dash.book("Grace Hopper", 10).await;
    browser.open(&dash, "/dashboard/login").await;
    assert_eq!(browser.js("return window.innerWidth").await, json!(390));
    browser.check_page().await;
    browser.shot("login").await;
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.check_page().await;
    browser.shot("home").await;
    browser.open(&dash, "/dashboard/bookings").await;
    browser.check_page().await;
    let row = browser.text("tbody tr").await;
    assert!(row.contains("EST") || row.contains("EDT"), "{row}");
    browser.shot("bookings").await;
    browser
        .open(
            &dash,
            &format!("/dashboard/bookings/{}", booking["id"].as_str().unwrap()),
        )
        .await;
    browser.check_page().await;
    browser.shot("booking-detail").await;
    browser.open(&dash, "/dashboard/hours").await;
    browser.check_page().await;
    browser.shot("hours").await;
    browser.open(&dash, "/dashboard/no-such-page").await;
    assert_eq!(browser.heading().await, "Not found");
    browser.shot("not-found").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_hours_changes_the_preview_and_the_api_agrees() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.click("nav a[href='/dashboard/hours']").await;
    browser.until("!!document.getElementById('save')").await;
    assert!(
        browser
            .text("[data-testid=preview]")
            .await
            .contains("No working hours yet")
    );
    browser.check_page().await;
    browser.shot("hours").await;
    // An end before its start is refused at that field, and nothing is saved.
    browser.type_into("#monday_end_1", "08:00").await;
    browser.click("#save").await;
    browser
        .until("!!document.getElementById('monday_end_1-error')")
        .await;
    assert_eq!(
        browser
            .js("return document.getElementById('monday_end_1').getAttribute('aria-invalid')")
            .await,
        json!("true")
    );
    browser.shot("hours-error").await;
    let (_, rules) = dash
        .call(
            reqwest::Method::GET,
            "/api/calendar/availability-rules",
            None,
        )
        .await;
    assert_eq!(rules["rules"], json!([]));
    // Every day 09:00–11:00 in New York, half-hour slots.
    browser.type_into("#timezone", "America/New_York").await;
    for day in [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ] {
        browser.type_into(&format!("#{day}_start_1"), "09:00").await;
        browser.type_into(&format!("#{day}_end_1"), "11:00").await;
    }
    browser.type_into("#slot_duration", "30").await;
    browser.click("#save").await;
    browser.until("!!document.querySelector('.notice')").await;
    assert_eq!(browser.text(".notice").await, "Working hours saved.");
    // The second to last day of the preview: a whole day whatever the time now (the last one
    // is cut at seven days from now, so between 09:00 and 11:00 in New York it has fewer).
    let last = browser
        .js("const li = [...document.querySelectorAll('[data-testid=preview] li')].at(-2); return [li.dataset.date, li.textContent]")
        .await;
    let date = last[0].as_str().unwrap().to_string();
    let text = last[1].as_str().unwrap().to_string();
    assert!(text.contains("4 slots"), "{text}");
    assert!(
        text.contains("09:00") && (text.contains("EST") || text.contains("EDT")),
        "{text}"
    );
    browser.shot("hours-saved").await;
    let (status, slots) = dash
        .call(
            reqwest::Method::GET,
            &format!(
                "/api/calendar/availability?date={date}&user_id={}&timezone=America/New_York",
                dash.owner.id
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{slots}");
    assert_eq!(slots["slots"].as_array().unwrap().len(), 4, "{slots}");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_with_the_keyboard_and_shows_where_focus_is() {
    let Some((_guard, dash, browser)) = setup("dashboard-1280", 1280).await else {
        return;
    };
    browser.open(&dash, "/dashboard/login").await;
    // The address field has the focus already; type, Tab, type, Enter.
    assert_eq!(browser.active().await["id"], "email");
    browser.keys(OWNER_EMAIL).await;
    browser.keys(&fantoccini::key::Key::Tab).await;
    assert_eq!(browser.active().await["id"], "password");
    browser.keys(OWNER_PASSWORD).await;
    browser.keys(&fantoccini::key::Key::Enter).await;
    browser
        .until("location.pathname === '/dashboard' && !!document.querySelector('h1')")
        .await;
    // The first Tab reaches the skip link, shown on screen with a focus ring.
    browser.keys(&fantoccini::key::Key::Tab).await;
    let skip = browser
        .js(
            "const a = document.activeElement; const r = a.getBoundingClientRect(); \
             const s = getComputedStyle(a); \
             return [a.className, r.left >= 0 && r.top >= 0, s.outlineStyle]",
        )
        .await;
    assert_eq!(skip[0], "skip");
    assert_eq!(skip[1], true, "the skip link is on screen when focused");
    assert_ne!(skip[2], "none", "the focused link shows an outline");
    browser.shot("keyboard-skip-link").await;
    // Following it puts the focus on the page's content.
    browser.keys(&fantoccini::key::Key::Enter).await;
    browser.until("document.activeElement.id === 'main'").await;
    browser.finish().await;
}
