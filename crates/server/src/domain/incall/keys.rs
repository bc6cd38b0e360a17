//! Publishable widget keys: minting and hashing, shared by the HTTP API and the demo setup.

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

pub const WIDGET_KEY_PREFIX: &str = "pk_";
pub const WIDGET_KEY_ID_LEN: usize = 10;
pub const WIDGET_KEY_SECRET_LEN: usize = 32;

/// A freshly minted widget key: `key` is shown once and never stored.
pub struct MintedWidgetKey {
    pub key: String,
    pub prefix: String,
    pub secret_hash: String,
}

/// Makes a new random publishable key `pk_<10>_<32>` with its lookup prefix and hash.
pub fn mint_widget_key() -> MintedWidgetKey {
    let text = |len| -> String {
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(len)
            .map(char::from)
            .collect()
    };
    let prefix = format!("{WIDGET_KEY_PREFIX}{}", text(WIDGET_KEY_ID_LEN));
    let key = format!("{prefix}_{}", text(WIDGET_KEY_SECRET_LEN));
    MintedWidgetKey {
        secret_hash: hash_widget_key(&key),
        key,
        prefix,
    }
}

/// SHA-256 of the whole key: the key is long and random, so a slow hash would add nothing.
pub fn hash_widget_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
