//! A stand-in for `pillow-calendar serve`, used by the `startup` test: serves `/readyz` on
//! `$BIND:$PORT` after a short delay and exits 0 on SIGTERM.

use std::time::Duration;

use axum::Router;
use axum::routing::get;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(std::env::args().nth(1).as_deref(), Some("serve"));
    for required in ["DATABASE_URL", "JWT_SECRET", "CALENDAR_ENCRYPTION_KEY"] {
        assert!(std::env::var(required).is_ok(), "{required} is not set");
    }
    let bind = std::env::var("BIND").expect("BIND");
    let port = std::env::var("PORT").expect("PORT");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let listener = tokio::net::TcpListener::bind(format!("{bind}:{port}"))
        .await
        .expect("bind");
    let app = Router::new().route("/readyz", get(|| async { "ready" }));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            term.recv().await;
        })
        .await
        .expect("serve");
}
