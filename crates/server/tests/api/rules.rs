//! `/api/calendar/availability-rules` with the availability-rule JSON.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    the_seeds_curl_example_returns_201_with_the_stored_rule,
    a_new_default_demotes_the_old_one_and_the_first_rule_is_the_default,
    every_invalid_rule_is_rejected_naming_the_field_and_nothing_is_written,
    rules_are_patched_whole_and_deleted_by_path_or_query,
    admins_manage_members_rules_and_members_only_their_own,
    another_tenants_rules_and_users_are_404,
);

/// The quick-start example rule, verbatim.
pub fn seed_rule() -> Value {
    json!({
        "name": "Work Hours",
        "schedule": {
            "monday": [{"start": "09:00", "end": "17:00"}],
            "tuesday": [{"start": "09:00", "end": "17:00"}],
            "wednesday": [{"start": "09:00", "end": "17:00"}],
            "thursday": [{"start": "09:00", "end": "17:00"}],
            "friday": [{"start": "09:00", "end": "17:00"}]
        },
        "timezone": "America/Los_Angeles",
        "slot_duration": 30,
        "is_default": true
    })
}

const RULES: &str = "/api/calendar/availability-rules";

async fn the_seeds_curl_example_returns_201_with_the_stored_rule(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    // Sent as the quick start's curl sends it: a raw body with Content-Type: application/json.
    let reply = app
        .post_raw(RULES, &acme.token, &seed_rule().to_string())
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    for (key, value) in seed_rule().as_object().unwrap() {
        assert_eq!(&reply.body[key], value, "{key} stored as sent");
    }
    assert_eq!(reply.body["user_id"], acme.owner.id.to_string());
    assert_eq!(reply.body["buffer_before"], 0, "defaults are filled in");
    assert!(reply.body["id"].is_string());

    let id = reply.body["id"].as_str().unwrap();
    let read = app.get(&format!("{RULES}/{id}"), &acme.token).await;
    assert_eq!(read.body, reply.body);
    let listed = app.get(RULES, &acme.token).await;
    assert_eq!(listed.body["rules"], json!([reply.body]));
}

async fn a_new_default_demotes_the_old_one_and_the_first_rule_is_the_default(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let mut first = seed_rule();
    first["is_default"] = json!(false);
    let first = app.post(RULES, &acme.token, &first).await;
    assert_eq!(
        first.body["is_default"], true,
        "a member's first rule is their default"
    );

    let mut second = seed_rule();
    second["name"] = json!("Summer hours");
    let second = app.post(RULES, &acme.token, &second).await;
    assert_eq!(second.body["is_default"], true);
    let first_again = app
        .get(
            &format!("{RULES}/{}", first.body["id"].as_str().unwrap()),
            &acme.token,
        )
        .await;
    assert_eq!(first_again.body["is_default"], false, "demoted");

    let mut third = seed_rule();
    third["is_default"] = json!(false);
    let third = app.post(RULES, &acme.token, &third).await;
    assert_eq!(third.body["is_default"], false, "not the first any more");
}

async fn every_invalid_rule_is_rejected_naming_the_field_and_nothing_is_written(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let with = |path: &[&str], value: Value| {
        let mut rule = seed_rule();
        let mut target = &mut rule;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target[path[path.len() - 1]] = value;
        rule
    };
    let monday = |ranges: Value| with(&["schedule", "monday"], ranges);
    let cases = [
        (
            with(&["timezone"], json!("America/Springfield")),
            "timezone",
            "invalid_timezone",
        ),
        (
            monday(json!([{"start": "17:00", "end": "09:00"}])),
            "schedule.monday[0]",
            "invalid_range",
        ),
        (
            monday(json!([{"start": "09:00", "end": "09:00"}])),
            "schedule.monday[0]",
            "invalid_range",
        ),
        (
            monday(json!([{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}])),
            "schedule.monday[1]",
            "overlapping_ranges",
        ),
        (
            monday(json!([{"start": "09:00", "end": "25:00"}])),
            "schedule.monday[0].end",
            "invalid_time",
        ),
        (
            monday(json!([{"start": "9am", "end": "17:00"}])),
            "schedule.monday[0].start",
            "invalid_time",
        ),
        (
            monday(json!([{"start": "24:00", "end": "24:00"}])),
            "schedule.monday[0].start",
            "invalid_time",
        ),
        (
            with(
                &["schedule", "funday"],
                json!([{"start": "09:00", "end": "17:00"}]),
            ),
            "schedule.funday",
            "invalid_weekday",
        ),
        (
            with(&["slot_duration"], json!(3)),
            "slot_duration",
            "invalid_slot_duration",
        ),
        (
            with(&["slot_duration"], json!(1441)),
            "slot_duration",
            "invalid_slot_duration",
        ),
        (
            with(&["buffer_before"], json!(-5)),
            "buffer_before",
            "invalid_buffer",
        ),
        (
            with(&["buffer_after"], json!(-1)),
            "buffer_after",
            "invalid_buffer",
        ),
        (
            with(&["min_booking_notice"], json!(120)),
            "max_booking_notice",
            "invalid_notice",
        ),
        (
            with(
                &["date_overrides"],
                json!([{"date": "2024-13-45", "available": false}]),
            ),
            "date_overrides[0].date",
            "invalid_date",
        ),
    ];
    for (mut body, field, code) in cases {
        if code == "invalid_notice" {
            body["max_booking_notice"] = json!(60);
        }
        let reply = app.post(RULES, &acme.token, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            reply.body
        );
        assert_eq!(reply.code(), code, "{field}: {:?}", reply.body);
        assert!(
            reply.body["error"]["field"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{field} named: {:?}",
            reply.body
        );
    }
    // Wrong types and unknown fields are unreadable bodies: 400.
    for (body, field) in [
        (with(&["slot_duration"], json!("thirty")), "slot_duration"),
        (with(&["colour"], json!("blue")), "colour"),
    ] {
        let reply = app.post(RULES, &acme.token, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.body["error"]["field"], field);
    }
    assert!(
        app.store()
            .list_rules(acme.id, None)
            .await
            .unwrap()
            .is_empty()
    );

    // 24:00 is a valid end (midnight), and an override may give a date its own ranges.
    let mut fine = monday(json!([{"start": "18:00", "end": "24:00"}]));
    fine["date_overrides"] = json!([
        {"date": "2024-12-25", "available": false, "reason": "Holiday"},
        {"date": "2024-12-24", "available": true, "ranges": [{"start": "09:00", "end": "12:00"}]}
    ]);
    let reply = app.post(RULES, &acme.token, &fine).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

async fn rules_are_patched_whole_and_deleted_by_path_or_query(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let created = app.post(RULES, &acme.token, &seed_rule()).await;
    let id = created.body["id"].as_str().unwrap().to_string();

    let patched = app
        .patch(
            &format!("{RULES}/{id}"),
            &acme.token,
            &json!({"slot_duration": 45, "buffer_after": 10}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["slot_duration"], 45);
    assert_eq!(patched.body["buffer_after"], 10);
    assert_eq!(
        patched.body["schedule"],
        seed_rule()["schedule"],
        "untouched fields stay"
    );

    let bad = app
        .patch(
            &format!("{RULES}?id={id}"),
            &acme.token,
            &json!({"timezone": "Nowhere"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unchanged = app.get(&format!("{RULES}/{id}"), &acme.token).await;
    assert_eq!(unchanged.body["timezone"], "America/Los_Angeles");

    let by_query = app
        .patch(
            &format!("{RULES}?id={id}"),
            &acme.token,
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(by_query.body["name"], "Renamed");

    assert_eq!(
        app.delete(&format!("{RULES}?id={id}"), &acme.token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{RULES}/{id}"), &acme.token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("{RULES}/{id}"), &acme.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn admins_manage_members_rules_and_members_only_their_own(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (member, member_token) = app.member(&acme, "m@acme.test").await;
    let mut for_member = seed_rule();
    for_member["user_id"] = json!(member.id.to_string());
    let created = app.post(RULES, &acme.key, &for_member).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["user_id"], member.id.to_string());
    let id = created.body["id"].as_str().unwrap();

    // The member may change it; they may not create one for the owner.
    let own = app
        .patch(
            &format!("{RULES}/{id}"),
            &member_token,
            &json!({"slot_duration": 60}),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    let mut for_owner = seed_rule();
    for_owner["user_id"] = json!(acme.owner.id.to_string());
    assert_eq!(
        app.post(RULES, &member_token, &for_owner).await.status,
        StatusCode::FORBIDDEN
    );

    let owner_rule = app.post(RULES, &acme.token, &seed_rule()).await;
    let owner_rule_id = owner_rule.body["id"].as_str().unwrap();
    let forbidden = app
        .patch(
            &format!("{RULES}/{owner_rule_id}"),
            &member_token,
            &json!({"slot_duration": 15}),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // An API key names the member; without one it is a clear 422.
    let reply = app.post(RULES, &acme.key, &seed_rule()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["field"], "user_id");
}

async fn another_tenants_rules_and_users_are_404(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    let rule = app.post(RULES, &acme.token, &seed_rule()).await;
    let id = rule.body["id"].as_str().unwrap();
    let path = format!("{RULES}/{id}");
    assert_eq!(
        app.get(&path, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(&path, &globex.key, &json!({"slot_duration": 15}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&path, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );
    let mut foreign = seed_rule();
    foreign["user_id"] = json!(acme.owner.id.to_string());
    assert_eq!(
        app.post(RULES, &globex.key, &foreign).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = app
        .get(&format!("{RULES}?user_id={}", acme.owner.id), &globex.key)
        .await;
    assert_eq!(listed.body["rules"], json!([]));
    let still = app.get(&path, &acme.token).await;
    assert_eq!(still.body["slot_duration"], 30);
}
