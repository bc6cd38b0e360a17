//! Microsoft's OAuth client and where Microsoft lives (the real service unless the base URLs
//! point elsewhere, as tests do with the fake).

use std::time::Duration;

use pillow_providers::microsoft::MicrosoftEndpoints;
use secrecy::SecretString;

use super::{ConfigError, Source};

/// `MICROSOFT_OAUTH_*` and friends; present only when the client id and secret are set.
#[derive(Debug, Clone)]
pub struct MicrosoftConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// `MICROSOFT_OAUTH_REDIRECT_URI`, by default `PUBLIC_URL` +
    /// `/api/calendar/microsoft/callback`.
    pub redirect_uri: String,
    /// `MICROSOFT_TENANT` (default `common`), `MICROSOFT_LOGIN_BASE_URL` and
    /// `MICROSOFT_GRAPH_BASE_URL`.
    pub endpoints: MicrosoftEndpoints,
    /// `MICROSOFT_RETRY_ATTEMPTS` (default 5) and `MICROSOFT_RETRY_BASE_MS` (default 500).
    pub retry_attempts: u32,
    pub retry_base_delay: Duration,
}

fn number(source: &dyn Source, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
    match source.get(variable) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| ConfigError {
            variable,
            problem: format!("{text:?} is not a number"),
            fix: format!("Use a whole number, or leave it unset for {default}."),
        }),
    }
}

/// Reads the Microsoft settings; `None` unless both the client id and secret are set.
///
/// # Errors
/// Only one of the id and secret set, or a malformed number.
pub fn settings(
    source: &dyn Source,
    public_url: &str,
) -> Result<Option<MicrosoftConfig>, ConfigError> {
    let (client_id, client_secret) = match (
        source.get("MICROSOFT_OAUTH_CLIENT_ID"),
        source.get("MICROSOFT_OAUTH_CLIENT_SECRET"),
    ) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, SecretString::from(secret)),
        (id, _) => {
            let missing = if id.is_none() {
                "MICROSOFT_OAUTH_CLIENT_ID"
            } else {
                "MICROSOFT_OAUTH_CLIENT_SECRET"
            };
            return Err(ConfigError {
                variable: missing,
                problem: "is not set while its partner is".into(),
                fix: "Set both MICROSOFT_OAUTH_CLIENT_ID and MICROSOFT_OAUTH_CLIENT_SECRET (from \
                      the app registration), or neither."
                    .into(),
            });
        }
    };
    let defaults = MicrosoftEndpoints::default();
    let endpoints = MicrosoftEndpoints {
        login_base: source
            .get("MICROSOFT_LOGIN_BASE_URL")
            .unwrap_or(defaults.login_base)
            .trim_end_matches('/')
            .to_string(),
        tenant: source.get("MICROSOFT_TENANT").unwrap_or(defaults.tenant),
        graph_base: source
            .get("MICROSOFT_GRAPH_BASE_URL")
            .unwrap_or(defaults.graph_base)
            .trim_end_matches('/')
            .to_string(),
    };
    Ok(Some(MicrosoftConfig {
        client_id,
        client_secret,
        redirect_uri: source
            .get("MICROSOFT_OAUTH_REDIRECT_URI")
            .unwrap_or_else(|| {
                format!(
                    "{}/api/calendar/microsoft/callback",
                    public_url.trim_end_matches('/')
                )
            }),
        endpoints,
        retry_attempts: number(source, "MICROSOFT_RETRY_ATTEMPTS", 5)? as u32,
        retry_base_delay: Duration::from_millis(number(source, "MICROSOFT_RETRY_BASE_MS", 500)?),
    }))
}
