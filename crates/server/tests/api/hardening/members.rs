//! Deleting a member never deletes bookings callers hold codes for, and a tenant always keeps
//! an owner, whether the request comes with a user's token or an API key.

use jiff::ToSpan;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, always_open, at};
use crate::on_both_backends;

on_both_backends!(
    a_member_with_an_upcoming_booking_is_not_deleted_and_the_409_names_it,
    the_only_owner_can_neither_step_down_nor_be_deleted
);

async fn a_member_with_an_upcoming_booking_is_not_deleted_and_the_409_names_it(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (sam, token) = app.member(&acme, "sam@acme.test").await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &token,
            &always_open(None, 30),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let day = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date() + 3.days();
    let booked = app
        .post(
            "/api/calendar/booking",
            &token,
            &json!({
                "start_time": at(day, "10:00", "UTC").to_string(),
                "duration": 30,
                "attendee": {"name": "Jo", "email": "jo@example.com"}
            }),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let code = booked.body["confirmation_code"].as_str().unwrap();

    let refused = app
        .delete(&format!("/api/users/{}", sam.id), &acme.key)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "member_has_bookings");
    assert_eq!(
        refused.body["error"]["bookings"][0]["confirmation_code"],
        code
    );
    let still = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["status"], "confirmed");
    assert!(
        app.store()
            .get_user(acme.id, sam.id)
            .await
            .unwrap()
            .is_some()
    );
}

async fn the_only_owner_can_neither_step_down_nor_be_deleted(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let owner = format!("/api/users/{}", acme.owner.id);
    let demoted = app
        .patch(&owner, &acme.token, &json!({"role": "admin"}))
        .await;
    assert_eq!(demoted.status, StatusCode::CONFLICT, "{}", demoted.body);
    assert_eq!(demoted.code(), "last_owner");
    let deleted = app.delete(&owner, &acme.key).await;
    assert_eq!(deleted.status, StatusCode::CONFLICT, "{}", deleted.body);
    assert_eq!(deleted.code(), "last_owner");
    let kept = app.store().get_user(acme.id, acme.owner.id).await.unwrap();
    assert_eq!(kept.unwrap().role, pillow_store::Role::Owner);

    // With a second owner, the first may step down.
    let (second, _) = app.member(&acme, "second@acme.test").await;
    let promoted = app
        .patch(
            &format!("/api/users/{}", second.id),
            &acme.token,
            &json!({"role": "owner"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let stepped = app
        .patch(&owner, &acme.token, &json!({"role": "admin"}))
        .await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.body);
}
