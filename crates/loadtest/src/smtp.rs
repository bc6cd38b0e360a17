//! A small real SMTP server on loopback for `pillow-load notify`: it speaks enough of RFC 5321
//! for a plain client (greeting, `EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA`, `RSET`, `NOOP`, `QUIT`),
//! accepts every message, and notes when it accepted each one and for whom, so a benchmark can
//! time a booking to the moment its e-mail was accepted.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted message: when the final `250` went out, and its recipients.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub at: Instant,
    pub recipients: Vec<String>,
}

/// The running sink; it stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    accepted: Arc<Mutex<Vec<Accepted>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SmtpSink {
    /// Listens on a free loopback port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start() -> Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the SMTP sink")?;
        let port = listener.local_addr()?.port();
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::default();
        let log = accepted.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = session(stream, log).await;
                });
            }
        });
        Ok(SmtpSink {
            port,
            accepted,
            server,
        })
    }

    /// `smtp://127.0.0.1:PORT`, for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn session(stream: TcpStream, log: Arc<Mutex<Vec<Accepted>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.bench ESMTP\r\n").await?;
    let mut recipients = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.bench\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_string())
                    .unwrap_or_default();
                recipients.push(address);
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                while let Some(body) = lines.next_line().await? {
                    if body == "." {
                        break;
                    }
                }
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Accepted {
                        at: Instant::now(),
                        recipients: std::mem::take(&mut recipients),
                    });
                b"250 OK: queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
