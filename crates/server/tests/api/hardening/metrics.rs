//! Metrics labels come from a closed set: made-up methods and paths share one label each, so
//! a client cannot grow `/metrics` without bound.

use reqwest::Method;

use crate::helpers::{Db, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_do_not_become_metrics_labels() {
    let app = spawn_app_with(Db::Sqlite, &[]).await.unwrap();
    for i in 0..200 {
        let method = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        for path in [format!("/pot{i}/x"), "/healthz".to_string()] {
            let _ = app
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
        }
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(!metrics.contains("BREW"), "a made-up method became a label");
    assert!(!metrics.contains("/pot"), "a made-up path became a label");
    app.finish().await;
}
