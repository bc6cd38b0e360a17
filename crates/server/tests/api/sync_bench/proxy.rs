//! A reverse proxy in front of Radicale that adds up the time Radicale takes to answer, so the
//! CalDAV benchmark can take Radicale's time out as the Google and Microsoft benchmarks take
//! out their fakes' time (which the fakes add up themselves; Radicale is a real server).
//!
//! The time counted runs from the proxy sending a request on to having Radicale's whole
//! answer: Radicale's work and one loopback round trip. While several requests are out at
//! once, the time is counted once (the union of the intervals), so it never exceeds the wall
//! time. The proxy's own forwarding is not counted, so it lands on our side of the figure.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Headers that belong to one hop, not to the request or answer passed on.
const HOP: [HeaderName; 4] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
    header::UPGRADE,
];

#[derive(Default)]
struct Busy {
    in_flight: usize,
    since: Option<Instant>,
    total: Duration,
}

#[derive(Clone)]
struct Shared {
    target: String,
    http: reqwest::Client,
    busy: Arc<Mutex<Busy>>,
}

impl Shared {
    fn enter(&self) {
        let mut busy = self.busy.lock().unwrap();
        if busy.in_flight == 0 {
            busy.since = Some(Instant::now());
        }
        busy.in_flight += 1;
    }

    fn leave(&self) {
        let mut busy = self.busy.lock().unwrap();
        busy.in_flight -= 1;
        if busy.in_flight == 0
            && let Some(since) = busy.since.take()
        {
            busy.total += since.elapsed();
        }
    }
}

/// The running proxy; dropping it stops it.
pub struct TimedProxy {
    /// Where to send requests meant for the target.
    pub url: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TimedProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TimedProxy {
    /// A proxy on a free loopback port passing everything on to `target` (`http://host:port`).
    pub async fn start(target: &str) -> Self {
        let shared = Shared {
            target: target.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            busy: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            shared,
            server,
        }
    }

    /// The time the target has spent answering so far.
    pub fn busy_time(&self) -> Duration {
        let busy = self.shared.busy.lock().unwrap();
        busy.total + busy.since.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = shared
        .http
        .request(parts.method, format!("{}{path}", shared.target))
        .body(body);
    // The Host header goes on too, so any absolute URL the target builds names the proxy.
    for (name, value) in &parts.headers {
        if !HOP.contains(name) {
            outgoing = outgoing.header(name.clone(), value.clone());
        }
    }
    shared.enter();
    let answer = async {
        let reply = outgoing.send().await?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let bytes = reply.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, bytes))
    }
    .await;
    shared.leave();
    let Ok((status, headers, bytes)) = answer else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !HOP.contains(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
