//! Configuration from the environment (and a `.env` file), with the seed's variable names.
//!
//! A missing or malformed value stops start-up with a [`ConfigError`] naming the variable and
//! how to fix it. Secrets are held as [`SecretString`], so `Debug` output never shows them.

use std::collections::HashMap;
use std::net::SocketAddr;

use pillow_providers::crypto::{SecretBox, SecretKey};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

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
    // --- Cal.com ---
    /// `CAL_API_BASE_URL`: where Cal.com's API v2 lives (a fake's address in tests).
    pub cal_api_base_url: String,
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

        // --- Cal.com ---
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

        Ok(Config {
            database_url,
            bind,
            public_url: public_url.trim_end_matches('/').to_string(),
            jwt_secret,
            secrets: SecretBox::new(key),
            internal_api_key: secret(source, "INTERNAL_API_KEY", false)?,
            cron_secret: secret(source, "CRON_SECRET", false)?,
            // --- Cal.com ---
            cal_api_base_url: cal_api_base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Constant-time check of a presented internal key.
    pub fn is_internal_key(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.internal_api_key.as_ref().is_some_and(|key| {
            bool::from(key.expose_secret().as_bytes().ct_eq(presented.as_bytes()))
        })
    }
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
}
