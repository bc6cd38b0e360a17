//! `rotate-keys`: re-encrypts every sealed secret under the current key.
//!
//! Run it with the new key in `CALENDAR_ENCRYPTION_KEY` and the old one(s) in
//! `CALENDAR_ENCRYPTION_KEY_PREVIOUS`; servers configured the same way keep working during the
//! rotation because they open both. Each value is replaced only if it is still what was read,
//! so a token refreshed meanwhile (already sealed under the new key) is never overwritten.

use pillow_providers::crypto::SecretBox;
use pillow_store::{SealedSecret, Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Values re-encrypted under the current key.
    pub rotated: usize,
    /// Values already under the current key.
    pub current: usize,
    /// Values no configured key opens (left as they are).
    pub unreadable: usize,
}

/// Re-encrypts every sealed value not yet under `secrets`' current key.
///
/// # Errors
/// Database failures.
pub async fn rotate_keys(store: &dyn Store, secrets: &SecretBox) -> Result<Rotation, StoreError> {
    let mut rotation = Rotation::default();
    let prefix = format!("v1:{}:", secrets.current_key_id());
    for secret in store.sealed_secrets().await? {
        if secret.value.starts_with(&prefix) {
            rotation.current += 1;
            continue;
        }
        let Ok(plain) = secrets.open(&secret.value) else {
            rotation.unreadable += 1;
            continue;
        };
        let resealed = SealedSecret {
            value: secrets.seal(&plain),
            ..secret.clone()
        };
        if store
            .replace_sealed_secret(&resealed, &secret.value)
            .await?
        {
            rotation.rotated += 1;
        } else {
            // Changed meanwhile (a refresh sealed it under the current key).
            rotation.current += 1;
        }
    }
    Ok(rotation)
}
