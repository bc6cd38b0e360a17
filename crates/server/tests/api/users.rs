use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    admins_create_read_update_and_delete_members,
    invalid_user_fields_are_422_naming_the_field_and_write_nothing,
    members_change_themselves_but_not_others_or_their_role,
);

async fn admins_create_read_update_and_delete_members(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let created = app
        .post(
            "/api/users",
            &acme.key,
            &json!({"email": "sam@acme.test", "name": "Sam", "time_zone": "Europe/Paris", "password": "sam-password"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["role"], "member");
    assert_eq!(created.body["time_zone"], "Europe/Paris");
    let id = created.body["id"].as_str().unwrap();

    let duplicate = app
        .post(
            "/api/users",
            &acme.token,
            &json!({"email": "SAM@acme.test", "name": "Sam 2"}),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

    let got = app.get(&format!("/api/users/{id}"), &acme.token).await;
    assert_eq!(got.body["email"], "sam@acme.test");

    let patched = app
        .patch(
            &format!("/api/users/{id}"),
            &acme.token,
            &json!({"role": "admin", "name": "Samuel"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["role"], "admin");
    assert_eq!(patched.body["name"], "Samuel");

    // The new password works for login.
    let login = app
        .send(
            reqwest::Method::POST,
            "/api/auth/login",
            None,
            Some(&json!({"email": "sam@acme.test", "password": "sam-password"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);

    assert_eq!(
        app.delete(&format!("/api/users/{id}"), &acme.key)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/users/{id}"), &acme.key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/users/not-a-uuid", &acme.key).await.status,
        StatusCode::NOT_FOUND
    );

    let own = app
        .delete(&format!("/api/users/{}", acme.owner.id), &acme.token)
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert_eq!(own.code(), "cannot_delete_self");
}

async fn invalid_user_fields_are_422_naming_the_field_and_write_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let cases = [
        (
            json!({"email": "not-an-email", "name": "X"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"email": "a@b.test", "name": "  "}),
            "name",
            "invalid_name",
        ),
        (
            json!({"email": "a@b.test", "name": "X", "role": "king"}),
            "role",
            "invalid_role",
        ),
        (
            json!({"email": "a@b.test", "name": "X", "time_zone": "Mars/Olympus"}),
            "time_zone",
            "invalid_timezone",
        ),
        (
            json!({"email": "a@b.test", "name": "X", "password": "short"}),
            "password",
            "weak_password",
        ),
    ];
    for (body, field, code) in cases {
        let reply = app.post("/api/users", &acme.key, &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
        assert_eq!(reply.code(), code);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 1);
}

async fn members_change_themselves_but_not_others_or_their_role(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let (member, token) = app.member(&acme, "member@acme.test").await;
    let reply = app
        .post(
            "/api/users",
            &token,
            &json!({"email": "x@acme.test", "name": "X"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "forbidden");

    let own = app
        .patch(
            &format!("/api/users/{}", member.id),
            &token,
            &json!({"time_zone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["time_zone"], "Asia/Tokyo");

    let promote = app
        .patch(
            &format!("/api/users/{}", member.id),
            &token,
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    let other = app
        .patch(
            &format!("/api/users/{}", acme.owner.id),
            &token,
            &json!({"name": "Nope"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let owner = app
        .store()
        .get_user(acme.id, acme.owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.name, acme.owner.name);
    let me = app
        .store()
        .get_user(acme.id, member.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.role, pillow_store::Role::Member);
}
