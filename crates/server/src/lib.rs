//! The Pillow Calendar server: the axum application, its state, and start-up.
//!
//! `http/<resource>.rs` each own their routes; [`app`] only merges them. The same [`app`] is
//! what `serve` runs and what the tests start on `127.0.0.1:0`.

pub mod cli;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod demo;
pub mod demo_google;
pub mod doctor;
pub mod domain;
pub mod google;
pub mod http;
pub mod json;
pub mod live;
pub mod load;
pub mod manage_link;
pub mod mcp;
pub mod notify;
pub mod outbox;
pub mod rate_limit;
pub mod slot_id;
pub mod sync;
pub mod telemetry;
pub mod voice;

use std::sync::Arc;

use axum::Router;
use pillow_store::{Store, StoreError};
use tokio::net::TcpListener;

pub use config::Config;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Members' rules and busy time, checked against the database on every use.
    pub calendars: Arc<domain::availability::CalendarCache>,
    /// API keys by prefix, briefly reused between requests.
    pub api_keys: Arc<credentials::ApiKeyCache>,
    /// Agents' teams, briefly reused between requests.
    pub teams: Arc<domain::bookings::TeamCache>,
    /// Attempts on the public self-service endpoints, per confirmation code.
    pub self_service_limiter: Arc<rate_limit::RateLimiter>,
    /// Dashboard sign-in attempts, per e-mail address and per client address.
    pub login_limiter: Arc<rate_limit::RateLimiter>,
    /// Signs and checks the opaque `CS_…` slot ids handed to callers.
    pub slot_ids: Arc<slot_id::SlotIds>,
    /// Signs and checks the `ML_…` reschedule and cancel links sent to callers.
    pub manage_links: Arc<manage_link::ManageLinks>,
    /// The in-call API's slot cache and widget-key rate limits.
    pub incall: Arc<domain::incall::InCallState>,
    /// Google Calendar sync and write-back; `None` unless Google is configured.
    pub google: Option<Arc<google::GoogleSync>>,
    /// The sync engine every calendar provider is an adapter of (Google when configured,
    /// Outlook when configured, CalDAV always).
    pub sync: Arc<sync::SyncEngine>,
    /// Cancelled when the server starts shutting down: ends the streams that would otherwise
    /// keep a graceful shutdown waiting (MCP sessions' server-sent events).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Messages for a live call's browsers (the agent opens the calendar), across processes.
    pub bus: Arc<dyn live::CallBus>,
    /// Requests being answered now, which the outbox gives way to.
    pub load: load::RequestLoad,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let slot_ids = slot_id::SlotIds::from_secret(
            secrecy::ExposeSecret::expose_secret(&config.jwt_secret).as_bytes(),
        );
        let google = config
            .google
            .as_ref()
            .map(|g| Arc::new(google::GoogleSync::new(store.clone(), &config, g)));
        let mut engine = sync::SyncEngine::new(store.clone(), &config);
        if let Some(google) = &google {
            // Google is an adapter of the one engine, registered like every provider.
            engine = engine.with_provider(google.clone());
        }
        let sync = Arc::new(engine);
        if let Some(google) = &google {
            google.registered_with(&sync);
        }
        let manage_links = manage_link::ManageLinks::from_secret(
            secrecy::ExposeSecret::expose_secret(&config.jwt_secret).as_bytes(),
        );
        let bus = live::for_database(&config.database_url);
        Self {
            bus,
            store,
            slot_ids: Arc::new(slot_ids),
            manage_links: Arc::new(manage_links),
            config: Arc::new(config),
            calendars: Arc::default(),
            teams: Arc::default(),
            api_keys: Arc::default(),
            self_service_limiter: Arc::new(rate_limit::RateLimiter::new(
                10,
                std::time::Duration::from_secs(15 * 60),
            )),
            login_limiter: Arc::new(rate_limit::RateLimiter::new(
                10,
                std::time::Duration::from_secs(15 * 60),
            )),
            incall: Arc::default(),
            google,
            sync,
            shutdown: tokio_util::sync::CancellationToken::new(),
            load: load::RequestLoad::default(),
        }
    }
}

/// Opens the store the URL's scheme names and runs its migrations.
///
/// # Errors
/// An unknown scheme, an unreachable database or a failed migration.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            pillow_store_postgres::PostgresStore::connect(url).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(
            pillow_store_sqlite::SqliteStore::connect(url).await?,
        ))
    } else {
        Err(StoreError::Database(format!(
            "unsupported database URL scheme in {}",
            config::redact_url(url)
        )))
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes in-flight requests.
///
/// # Errors
/// Only if the listener fails.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let streams = state.shutdown.clone();
    let shutdown = async move {
        shutdown.await;
        streams.cancel();
    };
    let limits = state.config.http.clone();
    connections::serve_connections(app(state), listener, &limits, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
