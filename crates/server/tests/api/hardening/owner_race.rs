//! A tenant always keeps an owner even when two demotions race: the last-owner check and the
//! change happen in one transaction on both stores.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(two_racing_demotions_of_the_last_two_owners_leave_one_owner);

async fn two_racing_demotions_of_the_last_two_owners_leave_one_owner(app: &TestApp) {
    for round in 0..5 {
        let acme = app.tenant(&format!("Acme {round}")).await;
        let (second, _) = app.member(&acme, "second@acme.test").await;
        let promoted = app
            .patch(
                &format!("/api/users/{}", second.id),
                &acme.token,
                &json!({"role": "owner"}),
            )
            .await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);

        let first = format!("/api/users/{}", acme.owner.id);
        let other = format!("/api/users/{}", second.id);
        let demote = json!({"role": "admin"});
        let (one, two) = tokio::join!(
            app.patch(&first, &acme.key, &demote),
            app.patch(&other, &acme.key, &demote),
        );
        let mut statuses = [one.status, two.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {} / {}",
            one.body,
            two.body
        );
        let refused = if one.status == StatusCode::CONFLICT {
            &one
        } else {
            &two
        };
        assert_eq!(refused.code(), "last_owner");
        let owners = app
            .store()
            .list_users(acme.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == pillow_store::Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}");
    }
}
