//! Configuration from the environment (and a `.env` file), under the variable names that
//! existing deployments already use.
//!
//! A missing or malformed value stops start-up with a [`ConfigError`] naming the variable and
//! how to fix it. Secrets are held as [`SecretString`], so `Debug` output never shows them.

use std::collections::HashMap;
use std::net::SocketAddr;

use pillow_providers::crypto::{SecretBox, SecretKey};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

mod limits;
mod microsoft;
pub use limits::HttpLimits;
pub use microsoft::MicrosoftConfig;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://pillow-calendar.db";
const DEFAULT_PORT: u16 = 3000;
const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{variable}: {problem}. {fix}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub public_url: String,
    pub jwt_secret: SecretString,
    /// Seals secrets at rest (OAuth tokens, Cal.com keys).
    pub secrets: SecretBox,
    /// `Authorization: Bearer INTERNAL_API_KEY` + `X-Agent-ID` for voice platforms; off if unset.
    pub internal_api_key: Option<SecretString>,
    /// Guards `GET /api/cron/calendar-sync`; off if unset.
    pub cron_secret: Option<SecretString>,
    /// `CAL_API_BASE_URL`: where Cal.com's API v2 lives (a fake's address in tests).
    pub cal_api_base_url: String,
    /// Google OAuth client and endpoints; `None` (the Google routes answer 503
    /// `google_not_configured`) unless `GOOGLE_OAUTH_CLIENT_ID` and `..._SECRET` are set.
    pub google: Option<GoogleConfig>,
    /// How often the internal scheduler polls each connection (`GOOGLE_SYNC_INTERVAL_SECONDS`,
    /// default 300); push notifications sync sooner.
    pub sync_interval: std::time::Duration,
    /// How long one sync holds a connection before another process may take it over
    /// (`SYNC_LEASE_SECONDS`, default 300): the longest a connection waits after the process
    /// syncing it dies. Each batch of synced events extends it.
    pub sync_lease: std::time::Duration,
    /// Connection, request and body limits and timeouts.
    pub http: HttpLimits,
    /// `CALDAV_ALLOW_PRIVATE_NETWORKS=true`: CalDAV servers on loopback and private addresses
    /// may be connected (a self-hosted Nextcloud on the same network; tests). Off by default,
    /// since the server URL comes from a user.
    pub caldav_allow_private_networks: bool,
    /// Microsoft's OAuth client and endpoints; `None` (the Microsoft routes answer 503
    /// `microsoft_not_configured`) unless `MICROSOFT_OAUTH_CLIENT_ID` and `..._SECRET` are set.
    pub microsoft: Option<MicrosoftConfig>,
    /// Twilio for SMS (`TWILIO_*`); `None` when SMS is off.
    pub sms: Option<crate::notify::sms::SmsSettings>,
    /// SMTP for e-mail (`SMTP_URL`, `EMAIL_FROM`); `None` when e-mail is off.
    pub email: Option<crate::notify::EmailSettings>,
}

/// Where settings come from; tests pass a map instead of the process environment.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment, after `.env` has been loaded into it.
pub struct Environment;

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

/// Loads `.env` from the working directory into the environment, if there is one. Variables
/// already set win over the file.
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

/// Checks a database URL's scheme, so a typo fails at start-up rather than at first use.
pub fn check_database_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            format!("unsupported scheme in {:?}", redact_url(url)),
            "Use sqlite://path/to/file.db or postgres://user@host:5432/database.",
        ))
    }
}

/// Hides a password in a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn secret(
    source: &dyn Source,
    variable: &'static str,
    required: bool,
) -> Result<Option<SecretString>, ConfigError> {
    match source.get(variable) {
        None if required => Err(ConfigError::new(
            variable,
            "is not set",
            "Set it to a random value of at least 32 characters, e.g. the output of \
             `pillow-calendar keygen`.",
        )),
        None => Ok(None),
        Some(value) if value.len() < MIN_SECRET_LEN => Err(ConfigError::new(
            variable,
            format!(
                "is too short ({} characters, at least {MIN_SECRET_LEN} needed)",
                value.len()
            ),
            "Use the output of `pillow-calendar keygen`.",
        )),
        Some(value) => Ok(Some(SecretString::from(value))),
    }
}

/// A `true`/`false` setting, `false` when unset.
fn flag(source: &dyn Source, variable: &'static str) -> Result<bool, ConfigError> {
    match source.get(variable).as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::new(
            variable,
            format!("is {other:?}"),
            "Set it to true or false.",
        )),
    }
}

impl Config {
    /// Reads and checks every setting.
    ///
    /// # Errors
    /// The first missing or malformed variable, with how to fix it.
    pub fn from_source(source: &dyn Source) -> Result<Config, ConfigError> {
        let database_url = source
            .get("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        check_database_url(&database_url)?;

        let port = match source.get("PORT") {
            None => DEFAULT_PORT,
            Some(port) => port.trim().parse::<u16>().map_err(|_| {
                ConfigError::new(
                    "PORT",
                    format!("{port:?} is not a port number"),
                    "Use a number from 0 to 65535, e.g. PORT=3000.",
                )
            })?,
        };
        let bind_text = source.get("BIND").unwrap_or_else(|| "127.0.0.1".into());
        let bind = bind_text
            .parse::<SocketAddr>()
            .or_else(|_| format!("{bind_text}:{port}").parse::<SocketAddr>())
            .or_else(|_| format!("[{bind_text}]:{port}").parse::<SocketAddr>())
            .map_err(|_| {
                ConfigError::new(
                    "BIND",
                    format!("{bind_text:?} is not an IP address"),
                    "Use an address such as 127.0.0.1 or 0.0.0.0, optionally with a port.",
                )
            })?;

        let public_url = source
            .get("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://localhost:{}", bind.port()));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "PUBLIC_URL",
                format!("{public_url:?} is not an http(s) URL"),
                "Use the address callers reach the server at, e.g. https://calendar.example.com.",
            ));
        }

        let jwt_secret = secret(source, "JWT_SECRET", true)?.expect("required secret");
        let encryption_key = source.get("CALENDAR_ENCRYPTION_KEY").ok_or_else(|| {
            ConfigError::new(
                "CALENDAR_ENCRYPTION_KEY",
                "is not set",
                "Set it to 64 hexadecimal characters: run `pillow-calendar keygen`.",
            )
        })?;
        let key = SecretKey::from_hex(&encryption_key).map_err(|_| {
            ConfigError::new(
                "CALENDAR_ENCRYPTION_KEY",
                "is not 64 hexadecimal characters",
                "Run `pillow-calendar keygen` and use its output.",
            )
        })?;

        let cal_api_base_url = source
            .get("CAL_API_BASE_URL")
            .unwrap_or_else(|| pillow_providers::calcom::DEFAULT_BASE_URL.to_string());
        if !(cal_api_base_url.starts_with("http://") || cal_api_base_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "CAL_API_BASE_URL",
                format!("{cal_api_base_url:?} is not an http(s) URL"),
                "Leave it unset for https://api.cal.com, or give the address of another Cal.com.",
            ));
        }

        let mut config = Config {
            database_url,
            bind,
            public_url: public_url.trim_end_matches('/').to_string(),
            jwt_secret,
            secrets: SecretBox::new(key),
            internal_api_key: secret(source, "INTERNAL_API_KEY", false)?,
            cron_secret: secret(source, "CRON_SECRET", false)?,
            cal_api_base_url: cal_api_base_url.trim_end_matches('/').to_string(),
            google: None,
            sync_interval: std::time::Duration::from_secs(300),
            sync_lease: seconds_between(
                source,
                "SYNC_LEASE_SECONDS",
                crate::sync::LEASE.as_secs().unsigned_abs(),
                "Use e.g. 300; it must outlast the slowest page a calendar provider answers.",
            )?,
            http: HttpLimits::from_source(source)?,
            caldav_allow_private_networks: flag(source, "CALDAV_ALLOW_PRIVATE_NETWORKS")?,
            microsoft: microsoft::settings(source, &public_url)?,
            sms: crate::notify::sms::SmsSettings::from_source(source)?,
            email: crate::notify::EmailSettings::from_source(source)?,
        };
        google_settings(source, &mut config)?;
        Ok(config)
    }

    /// Constant-time check of a presented internal key.
    pub fn is_internal_key(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.internal_api_key.as_ref().is_some_and(|key| {
            bool::from(key.expose_secret().as_bytes().ct_eq(presented.as_bytes()))
        })
    }
}

/// Google's OAuth client and where Google lives (real Google unless the URLs point elsewhere,
/// e.g. at the fake for a local demo).
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where Google sends the user back: `GOOGLE_OAUTH_REDIRECT_URI`, by default
    /// `PUBLIC_URL/api/calendar/google/callback`.
    pub redirect_uri: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub calendar_base: String,
    /// Whether to open push channels (`GOOGLE_PUSH`, default on): Google only calls https
    /// addresses, so a server without a public https URL relies on polling.
    pub push: bool,
    /// Attempts per Google request on 403/429 rate limits, 5xx and transport errors
    /// (`GOOGLE_RETRY_ATTEMPTS`, default 5), with exponential backoff and jitter from
    /// `GOOGLE_RETRY_BASE_MS` (default 500).
    pub retry_attempts: u32,
    pub retry_base_delay: std::time::Duration,
}

fn url_setting(
    source: &dyn Source,
    variable: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = source.get(variable).unwrap_or_else(|| default.to_string());
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_string())
    } else {
        Err(ConfigError::new(
            variable,
            format!("{value:?} is not an http(s) URL"),
            format!("Leave it unset for Google ({default}) or point it at a fake."),
        ))
    }
}

fn number(source: &dyn Source, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
    match source.get(variable) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0 && *n <= 1_000_000)
            .ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!("{value:?} is not a positive whole number"),
                    format!("Leave it unset for the default, {default}."),
                )
            }),
    }
}

/// Reads the Google settings and the previous encryption keys into `config`.
fn google_settings(source: &dyn Source, config: &mut Config) -> Result<(), ConfigError> {
    // CALENDAR_ENCRYPTION_KEY_PREVIOUS: old keys (comma-separated) still accepted while
    // `rotate-keys` re-encrypts everything under the current one.
    if let Some(previous) = source.get("CALENDAR_ENCRYPTION_KEY_PREVIOUS") {
        for hex_key in previous.split(',').filter(|k| !k.trim().is_empty()) {
            let key = SecretKey::from_hex(hex_key).map_err(|_| {
                ConfigError::new(
                    "CALENDAR_ENCRYPTION_KEY_PREVIOUS",
                    "holds a key that is not 64 hexadecimal characters",
                    "List the old keys, comma-separated, exactly as they were set.",
                )
            })?;
            config.secrets = config.secrets.clone().with_previous(key);
        }
    }
    if let Some(seconds) = source.get("GOOGLE_SYNC_INTERVAL_SECONDS") {
        let seconds = seconds
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                ConfigError::new(
                    "GOOGLE_SYNC_INTERVAL_SECONDS",
                    format!("{seconds:?} is not a positive number of seconds"),
                    "Use e.g. 300 for every five minutes.",
                )
            })?;
        config.sync_interval = std::time::Duration::from_secs(seconds);
    }
    let (id, secret) = (
        source.get("GOOGLE_OAUTH_CLIENT_ID"),
        source.get("GOOGLE_OAUTH_CLIENT_SECRET"),
    );
    let (client_id, client_secret) = match (id, secret) {
        (None, None) => return Ok(()),
        (Some(id), Some(secret)) => (id, SecretString::from(secret)),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "GOOGLE_OAUTH_CLIENT_SECRET",
                "is not set but GOOGLE_OAUTH_CLIENT_ID is",
                "Set both from your Google Cloud OAuth client, or neither to turn Google off.",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "GOOGLE_OAUTH_CLIENT_ID",
                "is not set but GOOGLE_OAUTH_CLIENT_SECRET is",
                "Set both from your Google Cloud OAuth client, or neither to turn Google off.",
            ));
        }
    };
    let redirect_uri = url_setting(
        source,
        "GOOGLE_OAUTH_REDIRECT_URI",
        &format!("{}/api/calendar/google/callback", config.public_url),
    )?;
    let push = match source.get("GOOGLE_PUSH").as_deref().map(str::trim) {
        None | Some("on" | "true" | "1") => true,
        Some("off" | "false" | "0") => false,
        Some(other) => {
            return Err(ConfigError::new(
                "GOOGLE_PUSH",
                format!("{other:?} is neither on nor off"),
                "Use GOOGLE_PUSH=off to rely on polling alone.",
            ));
        }
    };
    config.google = Some(GoogleConfig {
        client_id,
        client_secret,
        redirect_uri,
        authorize_url: url_setting(
            source,
            "GOOGLE_OAUTH_AUTHORIZE_URL",
            "https://accounts.google.com/o/oauth2/v2/auth",
        )?,
        token_url: url_setting(
            source,
            "GOOGLE_OAUTH_TOKEN_URL",
            "https://oauth2.googleapis.com/token",
        )?,
        revoke_url: url_setting(
            source,
            "GOOGLE_OAUTH_REVOKE_URL",
            "https://oauth2.googleapis.com/revoke",
        )?,
        calendar_base: url_setting(
            source,
            "GOOGLE_CALENDAR_API_BASE",
            "https://www.googleapis.com/calendar/v3",
        )?,
        push,
        retry_attempts: number(source, "GOOGLE_RETRY_ATTEMPTS", 5)? as u32,
        retry_base_delay: std::time::Duration::from_millis(number(
            source,
            "GOOGLE_RETRY_BASE_MS",
            500,
        )?),
    });
    Ok(())
}

/// A whole number of seconds from 1 to 3600 in `name`, `default` when unset.
fn seconds_between(
    source: &dyn Source,
    name: &'static str,
    default: u64,
    hint: &'static str,
) -> Result<std::time::Duration, ConfigError> {
    let Some(raw) = source.get(name) else {
        return Ok(std::time::Duration::from_secs(default));
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|s| (1..=3600).contains(s))
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a number of seconds from 1 to 3600"),
                hint,
            )
        })
}

/// `OUTBOX_LEASE_SECONDS`: how long the outbox worker holds the jobs it claims (default 120), so
/// how soon another process takes over the jobs of one that died.
///
/// # Errors
/// A value that is not a whole number of seconds from 1 to 3600.
pub fn outbox_lease(source: &dyn Source) -> Result<jiff::SignedDuration, ConfigError> {
    let seconds = seconds_between(
        source,
        "OUTBOX_LEASE_SECONDS",
        crate::outbox::LEASE.as_secs().unsigned_abs(),
        "Use e.g. 120; it must outlast the slowest batch of deliveries.",
    )?;
    Ok(jiff::SignedDuration::try_from(seconds).unwrap_or(crate::outbox::LEASE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> HashMap<String, String> {
        HashMap::from([
            ("JWT_SECRET".to_string(), "j".repeat(40)),
            ("CALENDAR_ENCRYPTION_KEY".to_string(), "ab".repeat(32)),
        ])
    }

    fn error_for(name: &str, value: &str) -> ConfigError {
        let mut source = valid();
        source.insert(name.to_string(), value.to_string());
        Config::from_source(&source).unwrap_err()
    }

    #[test]
    fn defaults_give_sqlite_on_port_3000() {
        let config = Config::from_source(&valid()).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(config.public_url, "http://localhost:3000");
        assert!(config.internal_api_key.is_none());
    }

    #[test]
    fn each_missing_or_malformed_setting_is_named() {
        let mut missing = valid();
        missing.remove("JWT_SECRET");
        assert_eq!(
            Config::from_source(&missing).unwrap_err().variable,
            "JWT_SECRET"
        );
        let mut missing = valid();
        missing.remove("CALENDAR_ENCRYPTION_KEY");
        assert_eq!(
            Config::from_source(&missing).unwrap_err().variable,
            "CALENDAR_ENCRYPTION_KEY"
        );
        assert_eq!(
            error_for("CALENDAR_ENCRYPTION_KEY", "xyz").variable,
            "CALENDAR_ENCRYPTION_KEY"
        );
        assert_eq!(error_for("JWT_SECRET", "short").variable, "JWT_SECRET");
        assert_eq!(error_for("PORT", "eighty").variable, "PORT");
        assert_eq!(error_for("BIND", "localhost:x").variable, "BIND");
        assert_eq!(
            error_for("DATABASE_URL", "mysql://x").variable,
            "DATABASE_URL"
        );
        assert_eq!(
            error_for("INTERNAL_API_KEY", "tiny").variable,
            "INTERNAL_API_KEY"
        );
        assert_eq!(
            error_for("PUBLIC_URL", "calendar.example.com").variable,
            "PUBLIC_URL"
        );
    }

    #[test]
    fn bind_accepts_an_address_with_or_without_a_port() {
        let mut source = valid();
        source.insert("BIND".into(), "0.0.0.0".into());
        source.insert("PORT".into(), "8080".into());
        assert_eq!(
            Config::from_source(&source).unwrap().bind.to_string(),
            "0.0.0.0:8080"
        );
        source.insert("BIND".into(), "127.0.0.1:9000".into());
        assert_eq!(
            Config::from_source(&source).unwrap().bind.to_string(),
            "127.0.0.1:9000"
        );
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let mut source = valid();
        source.insert("INTERNAL_API_KEY".into(), "i".repeat(40));
        let shown = format!("{:?}", Config::from_source(&source).unwrap());
        assert!(!shown.contains(&"j".repeat(40)));
        assert!(!shown.contains(&"i".repeat(40)));
        assert!(!shown.contains(&"ab".repeat(32)));
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/cal"),
            "postgres://app:***@db:5432/cal"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn the_internal_key_is_compared_exactly() {
        let mut source = valid();
        source.insert("INTERNAL_API_KEY".into(), "k".repeat(40));
        let config = Config::from_source(&source).unwrap();
        assert!(config.is_internal_key(&"k".repeat(40)));
        assert!(!config.is_internal_key(&"k".repeat(39)));
        assert!(!Config::from_source(&valid()).unwrap().is_internal_key(""));
    }

    #[test]
    fn google_is_off_without_a_client_and_both_halves_are_needed() {
        assert!(Config::from_source(&valid()).unwrap().google.is_none());
        let mut source = valid();
        source.insert("GOOGLE_OAUTH_CLIENT_ID".into(), "client".into());
        assert_eq!(
            Config::from_source(&source).unwrap_err().variable,
            "GOOGLE_OAUTH_CLIENT_SECRET"
        );
        source.insert(
            "GOOGLE_OAUTH_CLIENT_SECRET".into(),
            "client-secret-value".into(),
        );
        source.insert("PUBLIC_URL".into(), "https://cal.example.com".into());
        let config = Config::from_source(&source).unwrap();
        let google = config.google.as_ref().unwrap();
        assert_eq!(
            google.redirect_uri,
            "https://cal.example.com/api/calendar/google/callback"
        );
        assert_eq!(google.token_url, "https://oauth2.googleapis.com/token");
        assert!(!format!("{config:?}").contains("client-secret-value"));
        source.insert("GOOGLE_CALENDAR_API_BASE".into(), "localhost:1".into());
        assert_eq!(
            Config::from_source(&source).unwrap_err().variable,
            "GOOGLE_CALENDAR_API_BASE"
        );
        assert_eq!(
            error_for("GOOGLE_SYNC_INTERVAL_SECONDS", "soon").variable,
            "GOOGLE_SYNC_INTERVAL_SECONDS"
        );
    }

    #[test]
    fn the_sync_lease_defaults_to_five_minutes_and_takes_seconds_from_one_to_an_hour() {
        assert_eq!(
            Config::from_source(&valid()).unwrap().sync_lease,
            std::time::Duration::from_secs(300)
        );
        let mut source = valid();
        source.insert("SYNC_LEASE_SECONDS".into(), "4".into());
        assert_eq!(
            Config::from_source(&source).unwrap().sync_lease,
            std::time::Duration::from_secs(4)
        );
        for bad in ["0", "3601", "five", "-1"] {
            assert_eq!(
                error_for("SYNC_LEASE_SECONDS", bad).variable,
                "SYNC_LEASE_SECONDS"
            );
        }
    }

    #[test]
    fn previous_keys_still_open_what_they_sealed() {
        let old = "cd".repeat(32);
        let sealed = SecretBox::new(SecretKey::from_hex(&old).unwrap()).seal("token");
        assert!(
            Config::from_source(&valid())
                .unwrap()
                .secrets
                .open(&sealed)
                .is_err()
        );
        let mut source = valid();
        source.insert("CALENDAR_ENCRYPTION_KEY_PREVIOUS".into(), old);
        let config = Config::from_source(&source).unwrap();
        assert_eq!(config.secrets.open(&sealed).unwrap(), "token");
        assert_eq!(
            error_for("CALENDAR_ENCRYPTION_KEY_PREVIOUS", "xyz").variable,
            "CALENDAR_ENCRYPTION_KEY_PREVIOUS"
        );
    }
}
