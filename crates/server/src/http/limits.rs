//! The edge's bounds on a request: its body must arrive in time and fit, and only so many
//! requests run at once, with a bounded queue behind them. Past the bounds a client gets a
//! fast answer in our error format (408, 413, 503 with `Retry-After`) instead of the server
//! slowing down for everyone or answering 500 when its database pool runs dry.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::config::HttpLimits;
use crate::http::error::{ApiError, ErrorCode};
use crate::load::RequestLoad;

/// The shared counters behind [`guard`].
pub struct Limits {
    settings: HttpLimits,
    in_flight: Arc<Semaphore>,
    queued: AtomicUsize,
    /// The admitted requests, counted for background work to give way to.
    load: RequestLoad,
}

impl Limits {
    pub fn new(settings: &HttpLimits, load: RequestLoad) -> Arc<Self> {
        Arc::new(Self {
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            settings: settings.clone(),
            queued: AtomicUsize::new(0),
            load,
        })
    }
}

/// Health, readiness and metrics answer even when the server sheds load: they are how an
/// operator (or a load balancer) sees that it does.
fn is_exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Middleware: reads the body within its deadline and size, then waits for a turn.
pub async fn guard(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let request = match read_body(request, &limits.settings).await {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    if is_exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let _turn = match limits.in_flight.clone().try_acquire_owned() {
        Ok(turn) => turn,
        Err(_) => {
            // Count ourselves in the queue first, so concurrent arrivals cannot overfill it.
            if limits.queued.fetch_add(1, Ordering::AcqRel) >= limits.settings.max_queue {
                limits.queued.fetch_sub(1, Ordering::AcqRel);
                return overloaded().into_response();
            }
            let waited = tokio::time::timeout(
                limits.settings.queue_timeout,
                limits.in_flight.clone().acquire_owned(),
            )
            .await;
            limits.queued.fetch_sub(1, Ordering::AcqRel);
            match waited {
                Ok(Ok(turn)) => turn,
                _ => return overloaded().into_response(),
            }
        }
    };
    let _counted = limits.load.enter();
    next.run(request).await
}

fn overloaded() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Overloaded,
        "The server is busy; try again shortly.",
    )
}

/// Buffers the body (every route takes a small JSON body, if any), so a stalled or oversized
/// one is refused here, the same way on every route.
async fn read_body(request: Request, limits: &HttpLimits) -> Result<Request, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than {} bytes.",
                limits.max_body_bytes
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, mut body) = request.into_parts();
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        drain(&mut body, limits).await;
        return Err(too_large());
    }
    if body.is_end_stream() {
        return Ok(Request::from_parts(parts, body));
    }
    match tokio::time::timeout(
        limits.body_timeout,
        collect(&mut body, limits.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(Collect::TooLarge)) => {
            drain(&mut body, limits).await;
            Err(too_large())
        }
        Ok(Err(Collect::Broken)) => Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "The request body could not be read.",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            "The request body did not arrive in time.",
        )),
    }
}

enum Collect {
    TooLarge,
    Broken,
}

/// How much of a refused body is read and dropped before answering 413, so the client, still
/// sending, reads the answer instead of a reset connection; past it the connection just closes.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Reads and drops what is left of `body`, up to [`DRAIN_BYTES`] and the body deadline.
async fn drain(body: &mut Body, limits: &HttpLimits) {
    let _ = tokio::time::timeout(limits.body_timeout, async {
        let mut seen = 0;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
        {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

async fn collect(body: &mut Body, max: usize) -> Result<Bytes, Collect> {
    let mut buffer = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| Collect::Broken)?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > max {
                return Err(Collect::TooLarge);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}
