//! A TCP proxy between a server and PostgreSQL that a test cuts and restores: PostgreSQL going
//! away and coming back, as the server sees it, without restarting the machine's shared
//! PostgreSQL that other tests use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_up, tracked) = (Arc::clone(&up), Arc::clone(&open));
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !is_up.load(Ordering::SeqCst) {
                    // Gone: the connection is closed at once, as by a server that is down.
                    drop(client);
                    continue;
                }
                let forward = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut tracked = tracked.lock().unwrap();
                tracked.retain(|handle| !handle.is_finished());
                tracked.push(forward.abort_handle());
            }
        });
        Proxy {
            port,
            up,
            open,
            accept,
        }
    }

    /// PostgreSQL goes away: open connections end and new ones are closed on arrival.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// PostgreSQL is back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `url` (a PostgreSQL URL) pointed at this proxy instead of its own host and port.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The address a PostgreSQL URL connects to.
pub async fn upstream_of(url: &str) -> SocketAddr {
    let url = reqwest::Url::parse(url).unwrap();
    let host = url.host_str().unwrap().to_string();
    let port = url.port().unwrap_or(5432);
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap()
}
