//! The calendars page with every kind of calendar, in real Chromium: connecting a CalDAV
//! calendar from the page's form against a real Radicale server, and Outlook through the
//! Microsoft Graph fake's consent page, each coming back to the page with its status and the
//! same actions as Google's. Photographed at 1280 and 390 pixels wide under
//! `target/screenshots/calendars-kinds-*.png`.

use std::net::SocketAddr;
use std::time::Duration;

use pillow_fakes::microsoft::FakeMicrosoft;
use pillow_server::credentials::hash_password;
use pillow_store::{NewUser, Role, Store, TenantId, User};
use serde_json::json;

use super::dashboard::{OWNER_EMAIL, OWNER_PASSWORD};
use super::{Browser, ONE_AT_A_TIME, browser_binaries};

#[allow(dead_code)]
#[path = "../../../providers/tests/caldav/radicale.rs"]
mod radicale;

const CLIENT_ID: &str = "pillow-browser-client";
const CLIENT_SECRET: &str = "pillow-browser-secret";
const OUTLOOK_USER: &str = "dana@contoso.test";

/// A server whose calendars page offers Outlook (against the fake) and CalDAV (private
/// addresses allowed, for the Radicale on loopback), with one owner signed in by password.
struct Kinds {
    base: String,
    store: std::sync::Arc<dyn Store>,
    tenant: TenantId,
    owner: User,
    _ms: FakeMicrosoft,
    dav: radicale::Radicale,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Kinds {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Kinds {
    async fn start() -> Option<Kinds> {
        let dav = radicale::Radicale::start().await?;
        dav.mkcalendar("/alice/work/", "Work", "VEVENT").await;
        let ms = FakeMicrosoft::start().await;
        ms.add_user(OUTLOOK_USER);
        let super::Fresh {
            dir,
            listener,
            base,
            store,
            state,
        } = super::Fresh::start("calendars.db").await;
        let redirect = format!("{base}/api/calendar/microsoft/callback");
        ms.register_client(CLIENT_ID, CLIENT_SECRET, &redirect);
        let mut config = (*state.config).clone();
        config.caldav_allow_private_networks = true;
        config.microsoft = Some(pillow_server::config::MicrosoftConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.to_string().into(),
            redirect_uri: redirect,
            endpoints: pillow_providers::microsoft::MicrosoftEndpoints {
                login_base: ms.login_base(),
                tenant: "common".into(),
                graph_base: ms.graph_base(),
            },
            retry_attempts: 2,
            retry_base_delay: Duration::from_millis(5),
        });
        let state = pillow_server::AppState::new(store.clone(), config);
        let tenant = store.create_tenant("Riverside Dental").await.unwrap();
        let owner = store
            .create_user(
                tenant.id,
                &NewUser {
                    email: OWNER_EMAIL.into(),
                    name: "Dana Reyes".into(),
                    role: Role::Owner,
                    time_zone: "America/New_York".into(),
                    password_hash: Some(hash_password(OWNER_PASSWORD).unwrap()),
                },
            )
            .await
            .unwrap();
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
        Some(Kinds {
            base,
            store,
            tenant: tenant.id,
            owner,
            _ms: ms,
            dav,
            shutdown: Some(tx),
            _dir: dir,
        })
    }

    async fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .store
            .list_calendar_connections(self.tenant, Some(self.owner.id))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        kinds.sort();
        kinds
    }
}

async fn open(browser: &Browser, kinds: &Kinds, path: &str) {
    browser
        .c()
        .goto(&format!("{}{path}", kinds.base))
        .await
        .unwrap();
    browser.until("document.readyState === 'complete'").await;
}

async fn log_in(browser: &Browser, kinds: &Kinds) {
    open(browser, kinds, "/dashboard/login").await;
    browser.type_into("#email", OWNER_EMAIL).await;
    browser.type_into("#password", OWNER_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser
        .until("document.readyState === 'complete' && location.pathname !== '/dashboard/login'")
        .await;
}

/// Every visible form control has a label, and the page fits the window's width.
async fn check_page(browser: &Browser) {
    let unlabelled = browser
        .js(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(e => e.offsetParent !== null && !(e.labels && e.labels.length))
                .map(e => e.name)",
        )
        .await;
    assert_eq!(unlabelled, json!([]), "inputs without a label");
    let overflow = browser
        .js("return document.documentElement.scrollWidth - window.innerWidth")
        .await
        .as_i64()
        .unwrap();
    assert!(
        overflow <= 0,
        "the page is {overflow}px wider than the window"
    );
}

/// The card of the connection of `kind`: its status.
async fn status_of(browser: &Browser, kind: &str) -> serde_json::Value {
    browser
        .js(&format!(
            "return document.querySelector('[data-connection][data-kind={kind}]')?.dataset.status ?? null"
        ))
        .await
}

/// Fills the open CalDAV form for another server's URL (as for Nextcloud) and sends it.
async fn fill_caldav_form(browser: &Browser, kinds: &Kinds, password: &str) {
    let id = |field: &str| format!("#caldav-{field}-{}", kinds.owner.id);
    browser
        .js(&format!(
            "document.querySelector('{}').value = 'other'",
            id("preset")
        ))
        .await;
    browser.type_into(&id("server"), &kinds.dav.url).await;
    browser.type_into(&id("username"), radicale::USER).await;
    browser.type_into(&id("password"), password).await;
    browser.click("[data-action=connect-caldav]").await;
}

async fn connect_both_kinds_from_the_page(width: u32, prefix: &'static str) {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = ONE_AT_A_TIME.lock().await;
    let Some(kinds) = Kinds::start().await else {
        eprintln!("skipped: Radicale is not installed (.ci/setup.d)");
        return;
    };
    let browser = Browser::start(&chrome, &driver, prefix, width, 900).await;
    log_in(&browser, &kinds).await;
    open(&browser, &kinds, "/dashboard/calendars").await;
    assert!(
        browser
            .js("return !!document.querySelector('[data-connect-kind=microsoft]')")
            .await
            == json!(true),
        "Connect Outlook is offered"
    );
    assert!(
        browser
            .text("[data-unavailable=google]")
            .await
            .contains("not set up")
    );
    check_page(&browser).await;
    browser.shot("none").await;

    // CalDAV: the form opens under its button; another server's URL, as for Nextcloud.
    browser
        .click(&format!("#caldav-{} > summary", kinds.owner.id))
        .await;
    browser.shot("caldav-form").await;
    check_page(&browser).await;
    fill_caldav_form(&browser, &kinds, "not the password").await;
    browser
        .until("location.pathname === '/dashboard/calendars' && !!document.querySelector('[role=alert]')")
        .await;
    assert!(
        browser
            .text("[role=alert]")
            .await
            .contains("refused that user name or password")
    );
    assert!(kinds.kinds().await.is_empty(), "nothing connected");
    browser
        .click(&format!("#caldav-{} > summary", kinds.owner.id))
        .await;
    fill_caldav_form(&browser, &kinds, radicale::PASSWORD).await;
    browser
        .until("location.pathname === '/dashboard/calendars' && !!document.querySelector('.notice[role=status]')")
        .await;
    assert!(
        browser
            .text(".notice[role=status]")
            .await
            .contains("CalDAV calendar is connected")
    );
    assert_eq!(status_of(&browser, "caldav").await, json!("ok"));

    // Outlook: the consent page of the fake, accepted as its test hook says, back here.
    browser
        .click(&format!(
            "[data-connect-kind=microsoft][data-connect='{}']",
            kinds.owner.id
        ))
        .await;
    browser
        .until("document.readyState === 'complete' && location.href.includes('/oauth2/v2.0/authorize')")
        .await;
    browser
        .js(&format!(
            "location.href = location.href + '&approve={OUTLOOK_USER}'"
        ))
        .await;
    browser
        .until("location.pathname === '/dashboard/calendars' && !!document.querySelector('.notice[role=status]')")
        .await;
    assert!(
        browser
            .text(".notice[role=status]")
            .await
            .contains("Outlook is connected")
    );
    assert_eq!(kinds.kinds().await, vec!["caldav", "microsoft"]);
    assert_eq!(status_of(&browser, "microsoft").await, json!("ok"));
    for kind in ["caldav", "microsoft"] {
        let actions = browser
            .js(&format!(
                "return [...document.querySelectorAll('[data-connection][data-kind={kind}] [data-action]')]
                    .map(e => e.dataset.action)"
            ))
            .await;
        assert_eq!(
            actions,
            json!(["sync", "pause", "reconnect", "disconnect"]),
            "{kind}"
        );
        assert_ne!(
            browser
                .text(&format!(
                    "[data-connection][data-kind={kind}] [data-testid=last-sync]"
                ))
                .await,
            "never",
            "{kind}"
        );
    }
    check_page(&browser).await;
    browser.shot("connected").await;

    // Sync now, pause and resume, then disconnect, on the CalDAV card.
    let card = "[data-connection][data-kind=caldav]";
    browser.click(&format!("{card} [data-action=sync]")).await;
    browser
        .until("!!document.querySelector('.notice[role=status]') && document.querySelector('.notice[role=status]').textContent === 'Synced.'")
        .await;
    browser.click(&format!("{card} [data-action=pause]")).await;
    browser
        .until(&format!(
            "document.querySelector('{card}')?.dataset.status === 'paused'"
        ))
        .await;
    browser.click(&format!("{card} [data-action=resume]")).await;
    browser
        .until(&format!(
            "document.querySelector('{card}')?.dataset.status === 'ok'"
        ))
        .await;
    browser
        .click(&format!("{card} [data-action=disconnect]"))
        .await;
    browser
        .until(&format!(
            "!document.querySelector('{card}') && document.readyState === 'complete'"
        ))
        .await;
    assert_eq!(kinds.kinds().await, vec!["microsoft"]);
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_caldav_and_outlook_from_the_page_at_1280_pixels() {
    connect_both_kinds_from_the_page(1280, "calendars-kinds-1280").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_caldav_and_outlook_from_the_page_at_390_pixels() {
    connect_both_kinds_from_the_page(390, "calendars-kinds-390").await;
}
