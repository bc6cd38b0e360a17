//! Slow and idle clients are cut off after a bounded time, and a cap on open connections keeps
//! `/healthz` answering while many of them stall.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Db, spawn_app_with};

fn tight() -> Vec<(&'static str, String)> {
    vec![
        ("HTTP_HEADER_TIMEOUT_MS", "400".to_string()),
        ("HTTP_BODY_TIMEOUT_MS", "400".to_string()),
        ("HTTP_MAX_CONNECTIONS", "32".to_string()),
    ]
}

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection; what it sent, or `None` if it stayed open
/// past `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_stall_their_headers_are_closed_and_healthz_keeps_answering() {
    let app = spawn_app_with(Db::Sqlite, &tight()).await.unwrap();
    let mut stalled = Vec::new();
    // Ten times the connection cap, each stopping before the blank line that ends the headers.
    for _ in 0..320 {
        let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("/healthz answers while 320 connections stall");
    assert_eq!(health.status(), 200);
    for (i, stream) in stalled.iter_mut().enumerate() {
        assert!(
            read_until_closed(stream, Duration::from_secs(15))
                .await
                .is_some(),
            "stalled connection {i} is still open"
        );
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_a_408_in_our_format_and_the_connection_closes() {
    let app = spawn_app_with(Db::Sqlite, &tight()).await.unwrap();
    let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes a connection whose body stalls");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(Db::Sqlite, &tight()).await.unwrap();
    let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    app.finish().await;
}
