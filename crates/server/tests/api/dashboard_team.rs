//! The dashboard's team page over real HTTP: adding a member with a one-time invitation link,
//! changing roles, removing members (refused while callers hold their bookings' codes), and
//! the page refused to members.

use pillow_store::Role;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

use crate::dashboard::{
    PASSWORD, client, csrf_of, get, login, member_with_password, post_form, signed_in,
};
use crate::helpers::{TestApp, always_open};
use crate::on_both_backends;

on_both_backends!(
    adding_a_member_gives_an_invitation_link_that_sets_their_password_once,
    a_refused_new_member_is_not_created_and_the_form_says_why,
    an_owner_changes_a_members_role_but_an_admin_cannot_make_an_owner,
    a_member_with_bookings_is_not_removed_and_one_without_is,
    a_member_is_refused_the_team_page,
);

/// The path of the invitation link a team page shows.
fn invitation_path(html: &str) -> String {
    let at = html.find("/dashboard/invite/").expect("an invitation link");
    let rest = &html[at..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn adding_a_member_gives_an_invitation_link_that_sets_their_password_once(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let added = post_form(
        app,
        "/dashboard/team",
        &token,
        &[
            ("csrf", &csrf),
            ("name", "Nia New"),
            ("email", "nia@acme.test"),
            ("role", "member"),
            ("time_zone", "Europe/Paris"),
        ],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let location = added.headers()[LOCATION].to_str().unwrap().to_string();
    let users = app.store().list_users(acme.id).await.unwrap();
    let nia = users.iter().find(|u| u.email == "nia@acme.test").unwrap();
    assert_eq!(
        (nia.role, nia.time_zone.as_str()),
        (Role::Member, "Europe/Paris")
    );
    // Without a password, nobody signs in as Nia yet.
    assert_eq!(
        login(app, "nia@acme.test", "nia-password-1").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let page = get(app, &location, &token).await.text().await.unwrap();
    assert!(page.contains("Invitation for Nia New"), "{page}");
    let link = invitation_path(&page);
    let anonymous = client();
    let open = anonymous
        .get(format!("{}{link}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    assert!(open.text().await.unwrap().contains("nia@acme.test"));

    let set = |password: &'static str| {
        let url = format!("{}{link}", app.base);
        let anonymous = anonymous.clone();
        async move {
            anonymous
                .post(url)
                .form(&[("password", password)])
                .send()
                .await
                .unwrap()
        }
    };
    let short = set("short").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 8 characters")
    );
    let done = set("nia-password-1").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/dashboard/login?done=password");
    assert_eq!(
        login(app, "nia@acme.test", "nia-password-1").await.status(),
        StatusCode::SEE_OTHER
    );
    // The link is used up: neither opening nor posting it again works.
    let again = anonymous
        .get(format!("{}{link}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        set("other-password-2").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        login(app, "nia@acme.test", "other-password-2")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // A forged token is refused.
    let forged = anonymous
        .get(format!(
            "{}/dashboard/invite/{}.9999999999.00",
            app.base, nia.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

async fn a_refused_new_member_is_not_created_and_the_form_says_why(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let before = app.store().list_users(acme.id).await.unwrap().len();
    for (email, zone, says) in [
        ("not-an-address", "Europe/Paris", "is not an e-mail address"),
        ("zed@acme.test", "Mars/Olympus", "Mars/Olympus"),
    ] {
        let refused = post_form(
            app,
            "/dashboard/team",
            &token,
            &[
                ("csrf", &csrf),
                ("name", "Zed"),
                ("email", email),
                ("role", "member"),
                ("time_zone", zone),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = refused.text().await.unwrap();
        assert!(html.contains(says), "{html}");
        // What was typed stays in the form.
        assert!(html.contains(r#"value="Zed""#));
    }
    // The same address twice in one organisation is a conflict.
    let taken = post_form(
        app,
        "/dashboard/team",
        &token,
        &[
            ("csrf", &csrf),
            ("name", "Copy"),
            ("email", &acme.owner.email),
            ("role", "member"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), before);
}

async fn an_owner_changes_a_members_role_but_an_admin_cannot_make_an_owner(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let mo = member_with_password(app, &acme, "mo@acme.test").await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let path = format!("/dashboard/team/{}/role", mo.id);
    let made = post_form(app, &path, &token, &[("csrf", &csrf), ("role", "admin")]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let mo_now = app.store().get_user(acme.id, mo.id).await.unwrap().unwrap();
    assert_eq!(mo_now.role, Role::Admin);

    // Mo, now an admin, may not make the owner's peers owners.
    let mo_token = signed_in(app, "mo@acme.test", "member-password").await;
    let mo_csrf = csrf_of(app, &mo_token).await;
    let other = member_with_password(app, &acme, "pat@acme.test").await;
    let refused = post_form(
        app,
        &format!("/dashboard/team/{}/role", other.id),
        &mo_token,
        &[("csrf", &mo_csrf), ("role", "owner")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("Only an owner"));
    let other_now = app
        .store()
        .get_user(acme.id, other.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other_now.role, Role::Member);
    // Nor demote the only owner.
    let demote = post_form(
        app,
        &format!("/dashboard/team/{}/role", acme.owner.id),
        &mo_token,
        &[("csrf", &mo_csrf), ("role", "member")],
    )
    .await;
    assert_eq!(demote.status(), StatusCode::CONFLICT);
    let owner_now = app
        .store()
        .get_user(acme.id, acme.owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner_now.role, Role::Owner);
}

async fn a_member_with_bookings_is_not_removed_and_one_without_is(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let busy = member_with_password(app, &acme, "busy@acme.test").await;
    let idle = member_with_password(app, &acme, "idle@acme.test").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &acme.key,
            &always_open(Some(busy.id), 30),
        )
        .await;
    assert!(rule.status.is_success(), "{}", rule.body);
    let start = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 8))
        .round(jiff::Unit::Hour)
        .unwrap();
    let booked = app
        .post(
            "/api/calendar/booking",
            &app.token_for(&busy),
            &json!({"start_time": start.to_string(), "duration": 30,
                    "attendee": {"name": "Held Code", "phone": "+1 555 0100"}}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);

    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let csrf = csrf_of(app, &token).await;
    let kept = post_form(
        app,
        &format!("/dashboard/team/{}/remove", busy.id),
        &token,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(kept.status(), StatusCode::CONFLICT);
    assert!(
        kept.text()
            .await
            .unwrap()
            .contains("upcoming confirmed booking")
    );
    assert!(
        app.store()
            .get_user(acme.id, busy.id)
            .await
            .unwrap()
            .is_some()
    );

    let gone = post_form(
        app,
        &format!("/dashboard/team/{}/remove", idle.id),
        &token,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .get_user(acme.id, idle.id)
            .await
            .unwrap()
            .is_none()
    );
    // Another organisation's member is not found, and stays.
    let other = app.tenant("Other").await;
    let theirs = post_form(
        app,
        &format!("/dashboard/team/{}/remove", other.owner.id),
        &token,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert!(
        app.store()
            .get_user(other.id, other.owner.id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_member_is_refused_the_team_page(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let mo = member_with_password(app, &acme, "mo@acme.test").await;
    let token = signed_in(app, "mo@acme.test", "member-password").await;
    let page = get(app, "/dashboard/team", &token).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let csrf = csrf_of(app, &token).await;
    let add = post_form(
        app,
        "/dashboard/team",
        &token,
        &[
            ("csrf", &csrf),
            ("name", "Sneak"),
            ("email", "sneak@acme.test"),
            ("role", "admin"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    assert_eq!(add.status(), StatusCode::FORBIDDEN);
    let remove = post_form(
        app,
        &format!("/dashboard/team/{}/remove", acme.owner.id),
        &token,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(remove.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 2);
    assert_eq!(mo.role, Role::Member);
}
