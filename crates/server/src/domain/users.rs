//! Validation of people's details, shared by the HTTP API and the command line.

use pillow_store::{Role, User, UserId};

use super::error::{DomainError, DomainResult, ErrorCode};
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

/// A tenant always keeps an owner: refuses a change that would leave `users` (the tenant's
/// members) without one, where `target` is removed (`becomes` `None`) or takes a new role.
///
/// # Errors
/// 409 `last_owner` when `target` is the only owner.
pub fn check_owner_kept(users: &[User], target: UserId, becomes: Option<Role>) -> DomainResult<()> {
    let is_owner = |u: &&User| u.role == Role::Owner;
    let target_is_owner = users.iter().filter(is_owner).any(|u| u.id == target);
    let owners = users.iter().filter(is_owner).count();
    if target_is_owner && owners == 1 && becomes != Some(Role::Owner) {
        return Err(DomainError::conflict(
            ErrorCode::LastOwner,
            "This is the tenant's only owner; make another member owner first.",
        ));
    }
    Ok(())
}
