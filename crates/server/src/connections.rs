//! Accepting connections with bounds, so slow or idle clients cannot use up the server.
//!
//! `axum::serve` sets no timer on hyper, so a client that never finishes its headers holds its
//! connection (and a file descriptor) for ever. Here each connection is served by hyper's
//! HTTP/1 builder with a header-read timeout (which also closes idle keep-alive connections,
//! since hyper runs it while waiting for the next request's head), and the number of open
//! connections is capped: past the cap, new ones wait in the kernel's backlog until a slot
//! frees, instead of the process running out of descriptors. Request bodies get their own
//! deadline in `http::limits`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::Service;

use crate::config::HttpLimits;

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests and waits for them.
///
/// # Errors
/// Never today; the accept loop logs and retries a failed accept (e.g. no descriptors left).
pub async fn serve_connections(
    router: Router,
    listener: TcpListener,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let cap = Arc::new(Semaphore::new(slots as usize));
    let (closing, closed) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let permit = tokio::select! {
            permit = cap.clone().acquire_owned() => permit.expect("the cap is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers streamed in several writes (MCP's SSE) must not wait for the client's
        // delayed ACK: without TCP_NODELAY, Nagle holds each later write for up to 40 ms.
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection(TokioIo::new(stream), with_remote(&router, remote))
            .with_upgrades();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = closed.wait_for(|closing| *closing) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection holds a slot: having them all back means every connection is done.
    let _all = cap.acquire_many(slots).await;
    Ok(())
}

/// The router as a hyper service that tells handlers the client's address (`ConnectInfo`, which
/// the in-call API's rate limits count by).
fn with_remote(
    router: &Router,
    remote: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future: Send + 'static,
> + Send
+ 'static {
    let router = router.clone();
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        let mut router = router.clone();
        async move { router.call(request).await }
    })
}
