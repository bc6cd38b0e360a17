//! Publishable widget keys: minted here, shown once, stored only as a hash.
//!
//! A key reads `pk_<10>_<32>`: the first part is its lookup prefix, the rest a random secret.

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

pub const WIDGET_KEY_PREFIX: &str = "pk_";
const WIDGET_KEY_ID_LEN: usize = 10;
const WIDGET_KEY_SECRET_LEN: usize = 32;

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

/// The lookup prefix of a presented key, if it has our shape.
pub fn widget_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(WIDGET_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == WIDGET_KEY_ID_LEN && secret.len() == WIDGET_KEY_SECRET_LEN)
        .then(|| &key[..WIDGET_KEY_PREFIX.len() + WIDGET_KEY_ID_LEN])
}
