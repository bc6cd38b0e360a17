//! The command line: run the server, or do an operator's chores straight on the database.

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use pillow_store::{AgentBackend, NewAgent, NewApiKey, NewUser, Role, Store, TenantId};
use serde_json::json;
use uuid::Uuid;

use crate::config::{self, Config, ConfigError, DEFAULT_DATABASE_URL};
use crate::{AppState, credentials};

#[derive(Debug, Parser)]
#[command(
    name = "pillow-calendar",
    version,
    about = "Scheduling for people, teams and AI voice agents."
)]
pub struct Cli {
    /// Database URL: sqlite://file.db (default sqlite://pillow-calendar.db) or postgres://...
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Run the server with a demo tenant, team and voice agent (made once, then reused).
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Print a fresh random 32-byte key in hex (for CALENDAR_ENCRYPTION_KEY, JWT_SECRET, ...).
    Keygen,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage voice agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Check one voice agent's setup as the troubleshooting guide does; PASS or FAIL with the
    /// fix per line, exit code 1 when anything fails.
    Doctor {
        /// The agent's id.
        #[arg(long)]
        agent: String,
        #[command(flatten)]
        output: Output,
    },
    /// Re-encrypt every stored secret (OAuth tokens, Cal.com keys) under CALENDAR_ENCRYPTION_KEY,
    /// opening old values with the keys in CALENDAR_ENCRYPTION_KEY_PREVIOUS.
    #[command(name = "rotate-keys")]
    RotateKeys {
        #[command(flatten)]
        output: Output,
    },
    /// Write a consistent copy of the SQLite database to a new file, online: the server keeps
    /// serving meanwhile. (PostgreSQL: use pg_dump; see the README.)
    Backup {
        /// The new file to write; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the SQLite database with a backup, after checking the backup's integrity; run
    /// it with the server stopped. Migrations newer than the backup then run.
    Restore {
        /// The backup file to restore.
        #[arg(long)]
        from: std::path::PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct Output {
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in a tenant.
    Create {
        /// Tenant id or exact name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password: Option<String>,
        /// owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        /// IANA time zone.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; the key is printed once and only its hash is kept.
    Create {
        /// Tenant id or exact name.
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create a voice agent.
    Create {
        /// Tenant id or exact name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// IANA time zone the agent speaks times in.
        #[arg(long)]
        time_zone: String,
        #[command(flatten)]
        output: Output,
    },
}

/// A failure the CLI reports in one line and exits non-zero on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Store(#[from] pillow_store::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Cli {
    fn database_url(&self) -> Result<String, ConfigError> {
        let url = self
            .database_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        config::check_database_url(&url)?;
        Ok(url)
    }
}

async fn store(cli: &Cli) -> Result<Arc<dyn Store>, CliError> {
    Ok(crate::open_store(&cli.database_url()?).await?)
}

async fn resolve_tenant(store: &dyn Store, tenant: &str) -> Result<TenantId, CliError> {
    let found = match Uuid::parse_str(tenant) {
        Ok(id) => store.get_tenant(TenantId(id)).await?,
        Err(_) => store.find_tenant_by_name(tenant).await?,
    };
    found
        .map(|t| t.id)
        .ok_or_else(|| CliError::Invalid(format!("no tenant with id or name {tenant:?}")))
}

fn print(output: &Output, value: serde_json::Value, sentence: String) {
    if output.json {
        println!("{value}");
    } else {
        println!("{sentence}");
    }
}

/// The database URL when it is SQLite's: `backup` and `restore` are for SQLite files.
fn sqlite_only(cli: &Cli, command: &str) -> Result<String, CliError> {
    let url = cli.database_url()?;
    if url.starts_with("sqlite:") {
        Ok(url)
    } else {
        Err(invalid(format!(
            "{command} works on SQLite databases; back up PostgreSQL with pg_dump and restore \
             with pg_restore (see the README)"
        )))
    }
}

fn invalid(message: impl Into<String>) -> CliError {
    CliError::Invalid(message.into())
}

/// Runs a parsed command line.
///
/// # Errors
/// Bad configuration, bad arguments, or a database failure.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Keygen => {
            println!("{}", pillow_providers::crypto::SecretKey::generate_hex());
        }
        Command::Migrate => {
            let url = cli.database_url()?;
            store(&cli).await?;
            println!("migrations applied to {}", config::redact_url(&url));
        }
        Command::Serve => {
            let mut config = Config::from_source(&config::Environment)?;
            config.database_url = cli.database_url()?;
            serve(config).await?;
        }
        Command::Demo => {
            let url = cli.database_url()?;
            crate::demo::run(url).await?;
        }
        Command::Tenant(TenantCommand::Create { name, output }) => {
            let name = name.trim();
            if name.is_empty() {
                return Err(invalid("--name must not be empty"));
            }
            let tenant = store(&cli).await?.create_tenant(name).await?;
            print(
                output,
                json!({"id": tenant.id, "name": tenant.name}),
                format!("created tenant {:?} with id {}", tenant.name, tenant.id),
            );
        }
        Command::User(UserCommand::Create {
            tenant,
            email,
            name,
            password,
            role,
            time_zone,
            output,
        }) => {
            let role =
                Role::parse(role).ok_or_else(|| invalid("--role is owner, admin or member"))?;
            let email = crate::domain::users::check_email(email)
                .map_err(|e| invalid(format!("--email: {e}")))?;
            crate::domain::users::check_time_zone(time_zone)
                .map_err(|e| invalid(format!("--time-zone: {e}")))?;
            let password_hash = match password {
                Some(p) if p.chars().count() < crate::domain::users::MIN_PASSWORD_LEN => {
                    return Err(invalid("--password needs at least 8 characters"));
                }
                Some(p) => Some(credentials::hash_password(p).map_err(|e| invalid(e.message))?),
                None => None,
            };
            let store = store(&cli).await?;
            let tenant = resolve_tenant(store.as_ref(), tenant).await?;
            let user = store
                .create_user(
                    tenant,
                    &NewUser {
                        email,
                        name: name.trim().to_string(),
                        role,
                        time_zone: time_zone.clone(),
                        password_hash,
                    },
                )
                .await?;
            print(
                output,
                json!({"id": user.id, "tenant_id": user.tenant_id, "email": user.email,
                       "name": user.name, "role": user.role, "time_zone": user.time_zone}),
                format!("created user {} with id {}", user.email, user.id),
            );
        }
        Command::ApiKey(ApiKeyCommand::Create {
            tenant,
            name,
            output,
        }) => {
            let store = store(&cli).await?;
            let tenant = resolve_tenant(store.as_ref(), tenant).await?;
            let minted = credentials::API_KEY.mint();
            let key = store
                .create_api_key(
                    tenant,
                    &NewApiKey {
                        name: name.clone(),
                        prefix: minted.prefix.clone(),
                        secret_hash: minted.secret_hash,
                    },
                )
                .await?;
            print(
                output,
                json!({"id": key.id, "tenant_id": key.tenant_id, "name": key.name,
                       "prefix": key.prefix, "key": minted.key}),
                format!(
                    "created API key {} (id {}). Keep it now, it is not shown again:\n{}",
                    key.name, key.id, minted.key
                ),
            );
        }
        Command::Agent(AgentCommand::Create {
            tenant,
            name,
            time_zone,
            output,
        }) => {
            crate::domain::users::check_time_zone(time_zone)
                .map_err(|e| invalid(format!("--time-zone: {e}")))?;
            let store = store(&cli).await?;
            let tenant = resolve_tenant(store.as_ref(), tenant).await?;
            let agent = store
                .create_agent(
                    tenant,
                    &NewAgent {
                        name: name.trim().to_string(),
                        time_zone: time_zone.clone(),
                        backend: AgentBackend::Native,
                        cal_enabled: false,
                        cal_api_key_encrypted: None,
                        cal_event_type_slug: None,
                        cal_timezone: None,
                    },
                )
                .await?;
            print(
                output,
                json!({"id": agent.id, "tenant_id": agent.tenant_id, "name": agent.name,
                       "time_zone": agent.time_zone}),
                format!("created agent {:?} with id {}", agent.name, agent.id),
            );
        }
        Command::Doctor { agent, output } => {
            let agent = agent
                .trim()
                .parse::<pillow_store::AgentId>()
                .map_err(|_| invalid(format!("--agent: {agent:?} is not an agent id")))?;
            let store = store(&cli).await?;
            let report = crate::doctor::examine(
                store.as_ref(),
                &config::Environment,
                encryption_keys(&config::Environment),
                agent,
                jiff::Timestamp::now(),
            )
            .await
            .map_err(|e| invalid(e.to_string()))?;
            print(output, report.to_json(), report.render());
            if !report.healthy() {
                return Err(invalid(format!(
                    "{} of {} checks failed",
                    report.failures(),
                    report.checks.len()
                )));
            }
        }
        Command::Backup { to, output } => {
            let url = sqlite_only(&cli, "backup")?;
            let store = pillow_store_sqlite::SqliteStore::connect(&url).await?;
            store.backup_to(to).await?;
            print(
                output,
                json!({"backup": to.display().to_string()}),
                format!("backed up {} to {}", config::redact_url(&url), to.display()),
            );
        }
        Command::Restore { from, output } => {
            let url = sqlite_only(&cli, "restore")?;
            pillow_store_sqlite::restore(&url, from).await?;
            print(
                output,
                json!({"restored": from.display().to_string()}),
                format!(
                    "restored {} from {}",
                    config::redact_url(&url),
                    from.display()
                ),
            );
        }
        Command::RotateKeys { output } => {
            let secrets = encryption_keys(&config::Environment)?;
            let store = store(&cli).await?;
            let done = crate::google::keys::rotate_keys(store.as_ref(), &secrets).await?;
            print(
                output,
                json!({"rotated": done.rotated, "current": done.current,
                       "unreadable": done.unreadable, "key_id": secrets.current_key_id()}),
                format!(
                    "re-encrypted {} secrets under key {} ({} were already, {} no configured \
                     key opens)",
                    done.rotated,
                    secrets.current_key_id(),
                    done.current,
                    done.unreadable
                ),
            );
            if done.unreadable > 0 {
                return Err(invalid(format!(
                    "{} secrets were sealed under a key that is not configured: add it to \
                     CALENDAR_ENCRYPTION_KEY_PREVIOUS and run rotate-keys again",
                    done.unreadable
                )));
            }
        }
    }
    Ok(())
}

/// The current key and the previous ones, as the server reads them, without the rest of the
/// server's settings (rotating keys needs no JWT secret).
fn encryption_keys(
    source: &dyn config::Source,
) -> Result<pillow_providers::crypto::SecretBox, ConfigError> {
    let mut settings: std::collections::HashMap<String, String> = [
        "CALENDAR_ENCRYPTION_KEY",
        "CALENDAR_ENCRYPTION_KEY_PREVIOUS",
    ]
    .iter()
    .filter_map(|name| source.get(name).map(|v| (name.to_string(), v)))
    .collect();
    settings.insert("JWT_SECRET".into(), "x".repeat(32));
    Ok(Config::from_source(&settings)?.secrets)
}

/// Opens the store and serves until a shutdown signal.
///
/// # Errors
/// A database that cannot be opened or an address that cannot be bound.
pub async fn serve(config: Config) -> Result<(), CliError> {
    serve_with(config, |_| {}).await
}

/// Like [`serve`], calling `ready` with the bound state once the server accepts connections.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(config: Config, ready: impl FnOnce(&AppState)) -> Result<(), CliError> {
    let store = crate::open_store(&config.database_url).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| {
            CliError::Invalid(format!("BIND/PORT: cannot listen on {}: {e}", config.bind))
        })?;
    let address = listener.local_addr()?;
    let state = AppState::new(store, config);
    crate::telemetry::prometheus();
    tracing::info!(%address, backend = state.store.backend().as_str(), "listening");
    ready(&state);
    let email = crate::notify::EmailDeliverer::new(state.store.clone(), state.config.email.clone())
        .with_links(state.manage_links.clone(), &state.config.public_url);
    crate::outbox::Worker::new(state.store.clone())
        .with_lease(crate::config::outbox_lease(&crate::config::Environment)?)
        .giving_way_to(state.load.clone())
        .with(Arc::new(crate::google::GoogleWriteBack(
            state.google.clone(),
        )))
        .with(Arc::new(crate::sync::ProviderWriteBack(state.sync.clone())))
        .with(Arc::new(email))
        .with(Arc::new(crate::notify::SmsDeliverer::new(
            state.store.clone(),
            state.config.sms.clone(),
            &state.config.public_url,
        )))
        .with(Arc::new(crate::notify::WebhookDeliverer::new(
            state.store.clone(),
            state.config.secrets.clone(),
            crate::notify::webhooks::allow_private_networks(&crate::config::Environment)?,
        )))
        .spawn();
    crate::sync::Scheduler::new(state.sync.clone()).spawn();
    crate::serve(state, listener, crate::shutdown_signal()).await?;
    Ok(())
}
