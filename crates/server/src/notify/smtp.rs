//! The SMTP connections e-mail is sent over: opened by us with `TCP_NODELAY`, then driven by
//! lettre's SMTP client, and kept for the next message.
//!
//! lettre 0.11 writes a message's body and its closing `\r\n.\r\n` as two writes on a socket
//! without `TCP_NODELAY`; Nagle's algorithm then holds the second until the server's delayed
//! ACK, 40 ms later, on every message, so one connection carries about 22 messages a second.
//! Opening the socket ourselves (`connect_with_transport`) removes the stall. Implicit TLS
//! (`smtps://`) needs a TLS stream lettre cannot be handed, so it keeps lettre's own pooled
//! transport, stall included.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

/// How many idle connections are kept.
const MAX_IDLE: usize = 4;
/// How long an idle connection is trusted: servers close quiet clients (RFC 5321 asks them
/// to wait at least five minutes; some wait one).
const IDLE_FOR: Duration = Duration::from_secs(30);

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Smtp(#[from] SmtpError),
    #[error("the SMTP server did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("cannot connect to the SMTP server: {0}")]
    Connect(std::io::Error),
}

impl SendError {
    /// A refusal (5xx) that a retry will not change.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(error) if error.is_permanent())
    }
}

/// Sends e-mail to one SMTP server, from `SMTP_URL`.
pub enum SmtpSender {
    /// `smtp://`, plain or with STARTTLS: our own sockets.
    Direct(DirectSender),
    /// `smtps://`: lettre's transport.
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

impl SmtpSender {
    /// The sender for `url`, read as lettre reads it: `smtp://[user:pass@]host[:port][/helo]`
    /// with `?tls=required` or `?tls=opportunistic` for STARTTLS, or `smtps://` (implicit TLS).
    /// Needs a Tokio runtime (lettre's pool starts a task).
    ///
    /// # Errors
    /// A URL lettre cannot read, in lettre's words.
    pub fn from_url(url: &str, timeout: Duration) -> Result<SmtpSender, String> {
        Ok(match parse(url, timeout)? {
            Parsed::Direct(direct) => SmtpSender::Direct(direct),
            Parsed::Implicit(builder) => SmtpSender::Lettre(
                builder
                    .timeout(Some(timeout))
                    .pool_config(PoolConfig::new().max_size(MAX_IDLE as u32))
                    .build(),
            ),
        })
    }

    /// Whether `url` can be sent to, checked without connecting (or a runtime).
    ///
    /// # Errors
    /// As [`SmtpSender::from_url`].
    pub fn check_url(url: &str) -> Result<(), String> {
        parse(url, Duration::ZERO).map(|_| ())
    }

    /// Hands `message` (its envelope and formatted bytes) to the server.
    ///
    /// # Errors
    /// The server's refusal, a broken connection or no answer in time.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        match self {
            SmtpSender::Direct(direct) => direct.send(envelope, message).await,
            SmtpSender::Lettre(transport) => transport
                .send_raw(envelope, message)
                .await
                .map(|_| ())
                .map_err(SendError::from),
        }
    }
}

enum Parsed {
    Direct(DirectSender),
    Implicit(AsyncSmtpTransportBuilder),
}

fn parse(url: &str, timeout: Duration) -> Result<Parsed, String> {
    // lettre reads it first: what it refuses, we refuse with its words.
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?;
    let parsed = Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() == "smtps" {
        return Ok(Parsed::Implicit(builder));
    }
    let host = parsed.host_str().ok_or("smtp host undefined")?.to_owned();
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let parameters = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
    let tls = match tls.as_deref() {
        None => Tls::None,
        Some("required") => Tls::Required(parameters()?),
        Some(_) => Tls::Opportunistic(parameters()?),
    };
    let port = parsed.port().unwrap_or(match tls {
        Tls::None => 25,
        _ => 587,
    });
    let hello = match parsed.path().trim_matches('/') {
        "" => ClientId::default(),
        name => ClientId::Domain(name.to_owned()),
    };
    let credentials = match parsed.password() {
        Some(password) => Some(Credentials::new(
            decode(parsed.username())?,
            decode(password)?,
        )),
        None => None,
    };
    Ok(Parsed::Direct(DirectSender {
        host,
        port,
        tls,
        hello,
        credentials,
        timeout,
        idle: Mutex::new(Vec::new()),
    }))
}

fn decode(part: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| format!("the credentials are not UTF-8: {e}"))
}

enum Tls {
    None,
    Opportunistic(TlsParameters),
    Required(TlsParameters),
}

/// Connections opened by us, a few kept idle between messages.
pub struct DirectSender {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl DirectSender {
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        if let Some(mut connection) = self.take_idle() {
            match self.send_on(&mut connection, envelope, message).await {
                Ok(()) => {
                    self.keep(connection);
                    return Ok(());
                }
                // The server may have closed a kept connection since its last message: that
                // is tried once more on a new connection. A refusal is the answer, and a
                // server that took too long may have the message: both go to the outbox's
                // retry instead of being sent again at once.
                Err(error) if error.is_permanent() || matches!(error, SendError::TimedOut(_)) => {
                    return Err(error);
                }
                Err(error) => tracing::debug!(%error, "kept SMTP connection failed; reconnecting"),
            }
        }
        let mut connection = self.connect().await?;
        self.send_on(&mut connection, envelope, message).await?;
        self.keep(connection);
        Ok(())
    }

    async fn send_on(
        &self,
        connection: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, connection.send(envelope, message)).await {
            Ok(sent) => sent.map(|_| ()).map_err(SendError::from),
            Err(_) => Err(SendError::TimedOut(self.timeout)),
        }
    }

    /// A new connection: TCP with `TCP_NODELAY`, the greeting, STARTTLS and AUTH as asked.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let open = async {
            let stream = open_socket(&self.host, self.port)
                .await
                .map_err(SendError::Connect)?;
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?;
            match &self.tls {
                Tls::None => {}
                Tls::Opportunistic(_) if !connection.can_starttls() => {}
                Tls::Opportunistic(parameters) | Tls::Required(parameters) => {
                    connection.starttls(parameters.clone(), &self.hello).await?;
                }
            }
            if let Some(credentials) = &self.credentials {
                connection.auth(DEFAULT_MECHANISMS, credentials).await?;
            }
            Ok(connection)
        };
        tokio::time::timeout(self.timeout, open)
            .await
            .unwrap_or(Err(SendError::TimedOut(self.timeout)))
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE_FOR && !connection.has_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn keep(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((connection, Instant::now()));
        }
    }
}

/// A TCP connection that sends each write at once (`TCP_NODELAY`): see the module's note.
async fn open_socket(host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_is_sent_over_our_own_connections_on_port_25() {
        let Ok(SmtpSender::Direct(direct)) =
            SmtpSender::from_url("smtp://127.0.0.1", Duration::from_secs(1))
        else {
            panic!("expected our own connections");
        };
        assert_eq!((direct.host.as_str(), direct.port), ("127.0.0.1", 25));
        assert!(matches!(direct.tls, Tls::None));
        assert!(direct.credentials.is_none());
    }

    #[test]
    fn starttls_urls_keep_their_credentials_helo_name_and_submission_port() {
        let Ok(SmtpSender::Direct(direct)) = SmtpSender::from_url(
            "smtp://us%40example.com:p%40ss@mail.example.com/relay.example.com?tls=required",
            Duration::from_secs(1),
        ) else {
            panic!("expected our own connections");
        };
        assert_eq!(direct.port, 587);
        assert!(matches!(direct.tls, Tls::Required(_)));
        assert_eq!(direct.hello, ClientId::Domain("relay.example.com".into()));
        let expected = Credentials::new("us@example.com".into(), "p@ss".into());
        assert!(direct.credentials == Some(expected));
    }

    #[tokio::test]
    async fn our_sockets_send_each_write_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = open_socket("127.0.0.1", port).await.unwrap();
        assert!(socket.nodelay().unwrap());
    }

    #[tokio::test]
    async fn implicit_tls_stays_with_lettres_transport() {
        let sender = SmtpSender::from_url("smtps://u:p@mail.example.com", Duration::from_secs(1));
        assert!(matches!(sender, Ok(SmtpSender::Lettre(_))));
    }

    #[test]
    fn what_lettre_cannot_read_is_refused_without_a_runtime() {
        assert!(SmtpSender::check_url("imap://mail.example.com").is_err());
        assert!(SmtpSender::check_url("smtps://u:p@mail.example.com").is_ok());
    }
}
