//! The dashboard's sign-in over real HTTP: sessions kept in the store (only their hashes),
//! cookies with the right attributes, logout that really ends a session, CSRF on every form,
//! the login rate limit, roles and tenant walls. Pages are driven in Chromium by the browser
//! tests; these check what a browser cannot show.

use pillow_server::credentials::{hash_key, hash_password};
use pillow_store::{NewUser, Role, User};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::{Db, Tenant, TestApp, always_open, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    signing_in_sets_an_http_only_cookie_whose_token_is_stored_only_as_a_hash,
    a_wrong_password_is_refused_with_a_message_and_no_cookie,
    a_signed_out_browser_is_sent_to_the_login_page_and_back,
    after_logout_the_same_cookie_signs_no_one_in,
    a_form_without_the_sessions_token_is_refused_and_changes_nothing,
    a_form_posted_from_another_site_is_refused_even_with_the_token,
    a_token_from_another_session_is_refused,
    sign_in_is_rate_limited_per_address,
    a_member_is_refused_other_members_bookings_with_a_403_page,
    another_tenants_booking_is_not_found,
    cancelling_from_the_dashboard_cancels_the_booking_with_its_reason,
    the_csv_export_lists_the_bookings_and_defuses_formulas,
    hours_saved_in_the_dashboard_are_the_rule_the_api_reads_and_books_by,
    refused_hours_save_nothing_and_mark_the_field,
    a_member_edits_their_own_hours_but_not_another_members,
);

pub(crate) const PASSWORD: &str = "owner-password";

/// A client that shows redirects instead of following them.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A member who signs in with `member-password`.
pub(crate) async fn member_with_password(app: &TestApp, tenant: &Tenant, email: &str) -> User {
    app.store()
        .create_user(
            tenant.id,
            &NewUser {
                email: email.into(),
                name: "Mo Member".into(),
                role: Role::Member,
                time_zone: "Europe/London".into(),
                password_hash: Some(hash_password("member-password").unwrap()),
            },
        )
        .await
        .unwrap()
}

pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{}/dashboard/login", app.base))
        .form(&[
            ("email", email),
            ("password", password),
            ("next", "/dashboard"),
        ])
        .send()
        .await
        .unwrap()
}

/// The session cookie's token from a `Set-Cookie` header.
pub(crate) fn token_of(response: &reqwest::Response) -> String {
    let header = response
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap();
    let pair = header.split(';').next().unwrap();
    pair.strip_prefix("pillow_session=").unwrap().to_string()
}

/// Signs in and answers the session cookie's token.
pub(crate) async fn signed_in(app: &TestApp, email: &str, password: &str) -> String {
    let response = login(app, email, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    token_of(&response)
}

pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("pillow_session={token}"))
        .send()
        .await
        .unwrap()
}

/// The CSRF token a signed-in page's forms carry.
pub(crate) async fn csrf_of(app: &TestApp, token: &str) -> String {
    let html = get(app, "/dashboard", token).await.text().await.unwrap();
    let at = html
        .find(r#"name="csrf" value=""#)
        .expect("a form with a token");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    token: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", app.base))
        .header("cookie", format!("pillow_session={token}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn live(app: &TestApp, token: &str) -> bool {
    app.store()
        .find_live_session(&hash_key(token), jiff::Timestamp::now())
        .await
        .unwrap()
        .is_some()
}

/// A confirmed booking of the tenant's owner, a week ahead; answers its id.
async fn booking(app: &TestApp, tenant: &Tenant, name: &str) -> String {
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.key,
            &always_open(Some(tenant.owner.id), 30),
        )
        .await;
    assert!(
        rule.status.is_success() || rule.status == StatusCode::CONFLICT,
        "{:?}",
        rule.body
    );
    let start = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 7))
        .round(jiff::Unit::Hour)
        .unwrap();
    let reply = app
        .post(
            "/api/calendar/booking",
            &tenant.token,
            &json!({"start_time": start.to_string(), "duration": 30,
                    "attendee": {"name": name, "phone": "+1 555 0100", "email": "guest@example.com"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

async fn signing_in_sets_an_http_only_cookie_whose_token_is_stored_only_as_a_hash(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let response = login(app, &acme.owner.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/dashboard");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/dashboard"), "{cookie}");
    // The test server's public URL is plain http.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let token = token_of(&response);
    assert!(live(app, &token).await);
    // The raw token is not what is stored.
    assert!(
        app.store()
            .find_live_session(&token, jiff::Timestamp::now())
            .await
            .unwrap()
            .is_none()
    );
    let home = get(app, "/dashboard", &token).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()["cache-control"], "no-store");
    let html = home.text().await.unwrap();
    assert!(html.contains("Acme Owner"), "{html}");
}

async fn a_wrong_password_is_refused_with_a_message_and_no_cookie(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let response = login(app, &acme.owner.email, "not-the-password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(SET_COOKIE).is_none());
    let html = response.text().await.unwrap();
    assert!(
        html.contains("The e-mail address or password is wrong."),
        "{html}"
    );
    // The address stays filled in, so only the password is typed again.
    assert!(html.contains(&acme.owner.email));
    let unknown = login(app, "nobody@nowhere.test", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

async fn a_signed_out_browser_is_sent_to_the_login_page_and_back(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let root = client().get(format!("{}/", app.base)).send().await.unwrap();
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()[LOCATION], "/dashboard");
    let page = client()
        .get(format!("{}/dashboard/bookings?status=cancelled", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let location = page.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        location,
        "/dashboard/login?next=%2Fdashboard%2Fbookings%3Fstatus%3Dcancelled"
    );
    // Signing in from there goes back to the page asked for.
    let back = client()
        .post(format!("{}/dashboard/login", app.base))
        .form(&[
            ("email", acme.owner.email.as_str()),
            ("password", PASSWORD),
            ("next", "/dashboard/bookings?status=cancelled"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.headers()[LOCATION],
        "/dashboard/bookings?status=cancelled"
    );
    // A next that leaves the dashboard is ignored.
    let away = client()
        .post(format!("{}/dashboard/login", app.base))
        .form(&[
            ("email", acme.owner.email.as_str()),
            ("password", PASSWORD),
            ("next", "//evil.example/dashboard"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(away.headers()[LOCATION], "/dashboard");
}

async fn after_logout_the_same_cookie_signs_no_one_in(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let out = post_form(app, "/dashboard/logout", &token, &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/dashboard/login?done=out");
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("pillow_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!live(app, &token).await);
    // The old cookie, replayed, gets the login page.
    let replayed = get(app, "/dashboard", &token).await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert!(
        replayed.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/dashboard/login")
    );
}

async fn a_form_without_the_sessions_token_is_refused_and_changes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let refused = post_form(app, "/dashboard/logout", &token, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let wrong = post_form(app, "/dashboard/logout", &token, &[("csrf", "0123abcd")]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("Reload the page"), "{html}");
    assert!(live(app, &token).await);
}

async fn a_form_posted_from_another_site_is_refused_even_with_the_token(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let refused = client()
            .post(format!("{}/dashboard/logout", app.base))
            .header("cookie", format!("pillow_session={token}"))
            .header(name, value)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    // Not even a login is taken from another site.
    let login = client()
        .post(format!("{}/dashboard/login", app.base))
        .header("origin", "https://evil.example")
        .form(&[("email", acme.owner.email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert!(live(app, &token).await);
    // Our own origin is fine.
    let ours = client()
        .post(format!("{}/dashboard/logout", app.base))
        .header("cookie", format!("pillow_session={token}"))
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), StatusCode::SEE_OTHER);
    assert!(!live(app, &token).await);
}

async fn a_token_from_another_session_is_refused(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let first = signed_in(app, &acme.owner.email, PASSWORD).await;
    let second = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf_of_second = csrf_of(app, &second).await;
    let refused = post_form(
        app,
        "/dashboard/logout",
        &first,
        &[("csrf", &csrf_of_second)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(live(app, &first).await);
}

async fn sign_in_is_rate_limited_per_address(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    for _ in 0..10 {
        let response = login(app, &acme.owner.email, "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits.
    let limited = login(app, &acme.owner.email, PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get(SET_COOKIE).is_none());
    assert!(limited.text().await.unwrap().contains("Wait 15 minutes"));
    // Another address is not affected.
    let other = login(app, &globex.owner.email, PASSWORD).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
}

async fn a_member_is_refused_other_members_bookings_with_a_403_page(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let member = member_with_password(app, &acme, "mo@acme.test").await;
    let id = booking(app, &acme, "Owner's Guest").await;
    let token = signed_in(app, &member.email, "member-password").await;
    let others = get(
        app,
        &format!("/dashboard/bookings?member={}", acme.owner.id),
        &token,
    )
    .await;
    assert_eq!(others.status(), StatusCode::FORBIDDEN);
    assert!(
        others
            .text()
            .await
            .unwrap()
            .contains("Only owners and admins")
    );
    let detail = get(app, &format!("/dashboard/bookings/{id}"), &token).await;
    assert_eq!(detail.status(), StatusCode::FORBIDDEN);
    // Their own list is open to them, and does not show the owner's booking.
    let own = get(app, "/dashboard/bookings", &token).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(!own.text().await.unwrap().contains("Owner&#39;s Guest"));
    let owner = signed_in(app, &acme.owner.email, PASSWORD).await;
    let all = get(app, "/dashboard/bookings", &owner)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        all.contains("Owner&#39;s Guest") || all.contains("Owner's Guest"),
        "{all}"
    );
}

async fn another_tenants_booking_is_not_found(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    let id = booking(app, &acme, "Acme Guest").await;
    let token = signed_in(app, &globex.owner.email, PASSWORD).await;
    let page = get(app, &format!("/dashboard/bookings/{id}"), &token).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let list = get(app, "/dashboard/bookings", &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains("Acme Guest"));
    let csrf = csrf_of(app, &token).await;
    let cancel = post_form(
        app,
        &format!("/dashboard/bookings/{id}/cancel"),
        &token,
        &[("csrf", &csrf), ("reason", "not yours")],
    )
    .await;
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    let still = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.token)
        .await;
    assert_eq!(still.body["status"], "confirmed");
}

async fn cancelling_from_the_dashboard_cancels_the_booking_with_its_reason(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let id = booking(app, &acme, "Cancel Me").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let path = format!("/dashboard/bookings/{id}/cancel");
    // No reason: refused inline, nothing changes.
    let empty = post_form(app, &path, &token, &[("csrf", &csrf), ("reason", "  ")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().await.unwrap().contains("Say why"));
    let before = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.token)
        .await;
    assert_eq!(before.body["status"], "confirmed");
    let done = post_form(
        app,
        &path,
        &token,
        &[("csrf", &csrf), ("reason", "Dentist is ill")],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let after = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.token)
        .await;
    assert_eq!(after.body["status"], "cancelled");
    assert_eq!(after.body["cancel_reason"], "Dentist is ill");
    let page = get(
        app,
        &format!("/dashboard/bookings/{id}?done=cancelled"),
        &token,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(page.contains("The booking is cancelled."));
    assert!(page.contains("Dentist is ill"));
}

async fn the_csv_export_lists_the_bookings_and_defuses_formulas(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    booking(app, &acme, "=HYPERLINK(\"x\")").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csv = get(app, "/dashboard/bookings.csv", &token).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("confirmation_code,status,start_utc")
    );
    let row = lines.next().expect("one booking");
    assert!(row.contains("confirmed"), "{row}");
    assert!(row.contains("'=HYPERLINK"), "{row}");
    assert!(row.contains("America/New_York"), "{row}");
}

/// With an https public URL the cookie is `Secure`.
async fn the_cookie_is_secure_when_the_public_url_is_https(db: Db) {
    let Some(app) = spawn_app_with(
        db,
        &[("PUBLIC_URL", "https://calendar.example".to_string())],
    )
    .await
    else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let response = login(&app, &acme.owner.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    app.finish().await;
}

mod the_cookie_is_secure_when_the_public_url_is_https {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::the_cookie_is_secure_when_the_public_url_is_https(super::Db::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::the_cookie_is_secure_when_the_public_url_is_https(super::Db::Postgres).await;
    }
}

/// The hours form with every day 09:00–12:00 and 13:00–17:00 in Chicago, 60-minute slots.
fn hours_form(csrf: &str) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.into()),
        ("timezone".into(), "America/Chicago".into()),
        ("slot_duration".into(), "60".into()),
        ("buffer_before".into(), "0".into()),
        ("buffer_after".into(), "15".into()),
        ("min_notice_hours".into(), "2".into()),
        ("max_notice_days".into(), "30".into()),
        ("override_date_0".into(), "2031-12-25".into()),
        ("override_kind_0".into(), "closed".into()),
        ("override_reason_0".into(), "Holiday".into()),
    ];
    for day in [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ] {
        form.push((format!("{day}_start_1"), "09:00".into()));
        form.push((format!("{day}_end_1"), "12:00".into()));
        form.push((format!("{day}_start_2"), "13:00".into()));
        form.push((format!("{day}_end_2"), "17:00".into()));
    }
    form
}

async fn post_hours(
    app: &TestApp,
    path: &str,
    token: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", app.base))
        .header("cookie", format!("pillow_session={token}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn hours_saved_in_the_dashboard_are_the_rule_the_api_reads_and_books_by(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let saved = post_hours(app, "/dashboard/hours", &token, &hours_form(&csrf)).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let rules = app
        .get("/api/calendar/availability-rules", &acme.token)
        .await;
    let rule = &rules.body["rules"][0];
    assert_eq!(
        rules.body["rules"].as_array().unwrap().len(),
        1,
        "{}",
        rules.body
    );
    assert_eq!(rule["timezone"], "America/Chicago");
    assert_eq!(rule["slot_duration"], 60);
    assert_eq!(rule["buffer_after"], 15);
    assert_eq!(rule["min_booking_notice"], 120);
    assert_eq!(rule["max_booking_notice"], 30 * 24 * 60);
    assert_eq!(rule["is_default"], true);
    assert_eq!(
        rule["schedule"]["monday"],
        json!([{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}])
    );
    assert_eq!(
        rule["date_overrides"],
        json!([{"date": "2031-12-25", "available": false, "reason": "Holiday"}])
    );
    // Saving again replaces the default instead of adding a rule.
    let mut form = hours_form(&csrf);
    form.retain(|(k, _)| !k.starts_with("override_"));
    let again = post_hours(app, "/dashboard/hours", &token, &form).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let rules = app
        .get("/api/calendar/availability-rules", &acme.token)
        .await;
    assert_eq!(rules.body["rules"].as_array().unwrap().len(), 1);
    assert_eq!(rules.body["rules"][0]["date_overrides"], json!([]));
    // The API's slots follow the new hours: 7 one-hour slots a day, none over lunch.
    let date = crate::helpers::next(jiff::civil::Weekday::Wednesday);
    let slots = app
        .get(
            &format!("/api/calendar/availability?date={date}"),
            &acme.token,
        )
        .await;
    let starts: Vec<String> = slots.body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_time"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts.len(), 7, "{starts:?}");
    let noon = crate::helpers::at(date, "12:00", "America/Chicago");
    assert!(
        !starts
            .iter()
            .any(|s| s.parse::<jiff::Timestamp>().unwrap() == noon)
    );
    // The page shows the preview from the engine, in the rule's zone.
    let page = get(app, "/dashboard/hours", &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("In America/Chicago."), "{page}");
}

async fn refused_hours_save_nothing_and_mark_the_field(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let mut form = hours_form(&csrf);
    for (k, v) in form.iter_mut() {
        if k == "tuesday_end_2" {
            *v = "12:30".into();
        }
    }
    let refused = post_hours(app, "/dashboard/hours", &token, &form).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Nothing was saved"), "{html}");
    assert!(html.contains(r#"id="tuesday_end_2-error""#), "{html}");
    // What was typed stays in the form.
    assert!(html.contains(r#"value="12:30""#));
    let mut zone = hours_form(&csrf);
    for (k, v) in zone.iter_mut() {
        if k == "timezone" {
            *v = "Mars/Olympus".into();
        }
    }
    let refused = post_hours(app, "/dashboard/hours", &token, &zone).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains(r#"id="timezone-error""#)
    );
    let rules = app
        .get("/api/calendar/availability-rules", &acme.token)
        .await;
    assert_eq!(rules.body["rules"], json!([]));
}

async fn a_member_edits_their_own_hours_but_not_another_members(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let member = member_with_password(app, &acme, "mo@acme.test").await;
    let token = signed_in(app, &member.email, "member-password").await;
    let csrf = csrf_of(app, &token).await;
    let others = format!("/dashboard/hours?user={}", acme.owner.id);
    assert_eq!(
        get(app, &others, &token).await.status(),
        StatusCode::FORBIDDEN
    );
    let refused = post_hours(app, &others, &token, &hours_form(&csrf)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let own = post_hours(app, "/dashboard/hours", &token, &hours_form(&csrf)).await;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    // The API key sees every member's rules.
    let rules = app.get("/api/calendar/availability-rules", &acme.key).await;
    let rules = rules.body["rules"].as_array().unwrap().clone();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["user_id"], member.id.to_string());
}
