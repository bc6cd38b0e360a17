//! Opaque, signed slot ids (`CS_…`) for the in-call API and voice tools.
//!
//! A slot id carries the agent, the start instant and the length, sealed with an HMAC under a
//! key derived from the server's secret, so a caller can hand it back to book but cannot forge
//! or alter a time. Ids stay valid across restarts and across processes sharing the secret.
//! A slot of an appointment type also carries the type's id, so booking the slot books that
//! type; ids without a type (the older, shorter form) still verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_store::AgentId;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The prefix every slot id starts with (`CS_abc123` in the in-call API).
pub const PREFIX: &str = "CS_";
/// Bytes of the HMAC kept in an id: 128 bits is far beyond guessing.
const TAG_LEN: usize = 16;
/// Agent id (16) + start in seconds (8) + length in minutes (2).
const PAYLOAD_LEN: usize = 26;
/// The same, followed by the appointment type's id (16).
const TYPED_PAYLOAD_LEN: usize = PAYLOAD_LEN + 16;

/// What a slot id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    pub agent_id: AgentId,
    pub start: Timestamp,
    pub duration: SignedDuration,
    /// The appointment type the slot was offered for; `None` is the agent's default.
    pub appointment_type: Option<Uuid>,
}

impl SlotRef {
    pub fn end(&self) -> Timestamp {
        self.start
            .saturating_add(self.duration)
            .unwrap_or(self.start)
    }
}

/// Why a slot id was refused. Every variant is a client error: the id was not one we issued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlotIdError {
    #[error("a slot id starts with \"CS_\"")]
    Prefix,
    #[error("the slot id is malformed")]
    Malformed,
    #[error("the slot id was not issued by this server or was altered")]
    BadSignature,
}

/// Signs and checks slot ids.
#[derive(Clone)]
pub struct SlotIds {
    key: [u8; 32],
}

impl SlotIds {
    /// Derives the signing key from a server secret, so the raw secret is never used as is.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"pillow-calendar slot ids v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn tag(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    /// The id of a slot. Lengths are whole minutes; seconds of `start` are kept.
    pub fn sign(&self, slot: &SlotRef) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        bytes.extend_from_slice(slot.agent_id.0.as_bytes());
        bytes.extend_from_slice(&slot.start.as_second().to_be_bytes());
        let minutes = u16::try_from(slot.duration.as_mins().clamp(0, i64::from(u16::MAX)))
            .expect("clamped to u16");
        bytes.extend_from_slice(&minutes.to_be_bytes());
        if let Some(kind) = slot.appointment_type {
            bytes.extend_from_slice(kind.as_bytes());
        }
        let tag = self.tag(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The slot an id names, if this server issued it unaltered (checked in constant time).
    ///
    /// # Errors
    /// [`SlotIdError`] for a missing prefix, bad encoding or a signature that does not match.
    pub fn verify(&self, id: &str) -> Result<SlotRef, SlotIdError> {
        let body = id.strip_prefix(PREFIX).ok_or(SlotIdError::Prefix)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SlotIdError::Malformed)?;
        let payload_len = bytes.len().saturating_sub(TAG_LEN);
        if payload_len != PAYLOAD_LEN && payload_len != TYPED_PAYLOAD_LEN {
            return Err(SlotIdError::Malformed);
        }
        let (payload, tag) = bytes.split_at(payload_len);
        // `verify_truncated_left` compares in constant time.
        self.tag(payload)
            .verify_truncated_left(tag)
            .map_err(|_| SlotIdError::BadSignature)?;
        let agent_id = Uuid::from_slice(&payload[..16])
            .map(AgentId)
            .map_err(|_| SlotIdError::Malformed)?;
        let seconds = i64::from_be_bytes(payload[16..24].try_into().expect("8 bytes"));
        let minutes = u16::from_be_bytes(payload[24..26].try_into().expect("2 bytes"));
        let start = Timestamp::from_second(seconds).map_err(|_| SlotIdError::Malformed)?;
        let appointment_type = (payload_len == TYPED_PAYLOAD_LEN)
            .then(|| Uuid::from_slice(&payload[PAYLOAD_LEN..]).map_err(|_| SlotIdError::Malformed))
            .transpose()?;
        Ok(SlotRef {
            agent_id,
            start,
            duration: SignedDuration::from_mins(i64::from(minutes)),
            appointment_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotRef {
        SlotRef {
            agent_id: AgentId(Uuid::from_u128(0x1234)),
            start: "2024-01-15T15:00:00Z".parse().unwrap(),
            duration: SignedDuration::from_mins(30),
            appointment_type: None,
        }
    }

    #[test]
    fn a_slot_of_an_appointment_type_carries_the_type_and_its_tag_covers_it() {
        let ids = SlotIds::from_secret(b"secret");
        let typed = SlotRef {
            appointment_type: Some(Uuid::from_u128(0x77)),
            ..slot()
        };
        let id = ids.sign(&typed);
        assert_eq!(ids.verify(&id), Ok(typed));
        assert_ne!(id, ids.sign(&slot()));
        // The untyped payload under the typed id's tag is refused: the type cannot be cut off.
        let raw = URL_SAFE_NO_PAD.decode(&id[3..]).unwrap();
        let mut cut = raw[..PAYLOAD_LEN].to_vec();
        cut.extend_from_slice(&raw[TYPED_PAYLOAD_LEN..]);
        let cut = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(cut));
        assert_eq!(ids.verify(&cut), Err(SlotIdError::BadSignature));
    }

    #[test]
    fn a_signed_id_round_trips() {
        let ids = SlotIds::from_secret(b"secret");
        let id = ids.sign(&slot());
        assert!(id.starts_with("CS_"));
        assert_eq!(ids.verify(&id), Ok(slot()));
    }

    #[test]
    fn an_id_from_another_secret_is_refused() {
        let id = SlotIds::from_secret(b"one").sign(&slot());
        assert_eq!(
            SlotIds::from_secret(b"two").verify(&id),
            Err(SlotIdError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_id_is_refused() {
        let ids = SlotIds::from_secret(b"secret");
        let id = ids.sign(&slot());
        // Flip one character of the payload (the start time) and keep the tag.
        let mut chars: Vec<char> = id.chars().collect();
        chars[25] = if chars[25] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(ids.verify(&tampered), Err(SlotIdError::BadSignature));
    }

    #[test]
    fn malformed_ids_are_refused() {
        let ids = SlotIds::from_secret(b"secret");
        assert_eq!(ids.verify("abc"), Err(SlotIdError::Prefix));
        assert_eq!(ids.verify("CS_abc123"), Err(SlotIdError::Malformed));
        assert_eq!(ids.verify("CS_!!!"), Err(SlotIdError::Malformed));
    }
}
