//! Past its capacity the server sheds load: a fast 503 in our format with `Retry-After`, never
//! a 500, while `/healthz` still answers.

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{Db, TestApp, spawn_app_with};

fn tiny() -> Vec<(&'static str, String)> {
    vec![
        ("HTTP_MAX_IN_FLIGHT", "2".to_string()),
        ("HTTP_MAX_QUEUE", "2".to_string()),
        ("HTTP_QUEUE_TIMEOUT_MS", "20".to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(app) = spawn_app_with(Db::Sqlite, &tiny()).await {
        too_many_requests_at_once_are_shed_with_503_and_retry_after(&app).await;
        app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(app) = spawn_app_with(Db::Postgres, &tiny()).await {
        too_many_requests_at_once_are_shed_with_503_and_retry_after(&app).await;
        app.finish().await;
    }
}

async fn too_many_requests_at_once_are_shed_with_503_and_retry_after(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let replies = join_all((0..200).map(|_| app.get("/api/users", &acme.key))).await;
    let shed: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!shed.is_empty(), "200 requests at once with room for 4");
    for reply in &replies {
        assert!(
            matches!(
                reply.status,
                StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE
            ),
            "{} {}",
            reply.status,
            reply.body
        );
    }
    for reply in shed {
        assert_eq!(reply.code(), "overloaded");
        assert_eq!(reply.headers["retry-after"], "1");
    }
    let health = app.client.get(format!("{}/healthz", app.base)).send().await;
    assert_eq!(health.unwrap().status(), StatusCode::OK);
}
