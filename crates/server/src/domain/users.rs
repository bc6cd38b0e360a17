//! Validation of people's details, shared by the HTTP API and the command line.

use super::time::{UnknownZone, Zone};

/// The shortest password a member may set.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Why a user's details were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("{0:?} is not an e-mail address.")]
    InvalidEmail(String),
    #[error("{0}")]
    InvalidTimeZone(#[from] UnknownZone),
    #[error("A password needs at least {MIN_PASSWORD_LEN} characters.")]
    WeakPassword,
}

/// A plausible e-mail address: one `@`, something on both sides, a dot in the domain, no
/// spaces. Returns the trimmed address.
pub fn check_email(email: &str) -> Result<String, UserError> {
    let email = email.trim();
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace)
        && email.len() <= 254;
    if plausible {
        Ok(email.to_string())
    } else {
        Err(UserError::InvalidEmail(email.to_string()))
    }
}

/// Checks an IANA zone name with the same database the engine uses.
pub fn check_time_zone(zone: &str) -> Result<Zone, UserError> {
    Ok(Zone::parse(zone)?)
}

/// Refuses a password shorter than [`MIN_PASSWORD_LEN`].
pub fn check_password_length(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        Err(UserError::WeakPassword)
    } else {
        Ok(())
    }
}
