//! The time a fake spends handling requests, added up so a benchmark can take the fake's own
//! share out of an end-to-end figure.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Runs the request and adds its handling time, in nanoseconds, to `busy_nanos`.
pub(crate) async fn add_handling_time(
    busy_nanos: &AtomicU64,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    response
}
