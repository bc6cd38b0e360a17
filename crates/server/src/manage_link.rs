//! Signed links (`ML_…`) that let a caller reschedule or cancel from a message without typing
//! the confirmation code.
//!
//! A link names the tenant, the booking, the one action it allows, when it expires, and the
//! booking's version (its `updated_at`) when the message was written; an HMAC under a key
//! derived from the server's secret seals it. Nothing is stored: once the action is done the
//! booking's version has moved on, so the link is used up, and any later change (a move by the
//! business) also retires the links of older messages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_store::{Booking, BookingId, TenantId};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

pub const PREFIX: &str = "ML_";
/// 128 bits of HMAC: far beyond guessing.
const TAG_LEN: usize = 16;
/// Tenant (16) + booking (16) + action (1) + expiry in seconds (8) + version in µs (8).
const PAYLOAD_LEN: usize = 49;
/// A link lives at most this long, and never past the appointment's start.
pub const LIFETIME: SignedDuration = SignedDuration::from_hours(30 * 24);

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reschedule,
    Cancel,
    /// Download the appointment as an `.ics` file: reading only, so it is not used up.
    Calendar,
}

impl Action {
    fn byte(self) -> u8 {
        match self {
            Action::Reschedule => 1,
            Action::Cancel => 2,
            Action::Calendar => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Action> {
        match byte {
            1 => Some(Action::Reschedule),
            2 => Some(Action::Cancel),
            3 => Some(Action::Calendar),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reschedule => "reschedule",
            Action::Cancel => "cancel",
            Action::Calendar => "calendar",
        }
    }
}

/// What a link names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub tenant_id: TenantId,
    pub booking_id: BookingId,
    pub action: Action,
    pub expires: Timestamp,
    /// The booking's `updated_at` in microseconds when the link was made.
    pub version: i64,
}

impl LinkClaims {
    /// A link for `action` on `booking` as it is now, issued at `now`.
    pub fn for_booking(booking: &Booking, action: Action, now: Timestamp) -> LinkClaims {
        let cap = now.checked_add(LIFETIME).unwrap_or(Timestamp::MAX);
        LinkClaims {
            tenant_id: booking.tenant_id,
            booking_id: booking.id,
            action,
            expires: booking.start.min(cap),
            version: version_of(booking),
        }
    }

    /// A link to download the booking's `.ics` until `until` (its end). It names no version:
    /// a download after a change gets the booking as it is then.
    pub fn calendar(tenant_id: TenantId, booking_id: BookingId, until: Timestamp) -> LinkClaims {
        LinkClaims {
            tenant_id,
            booking_id,
            action: Action::Calendar,
            expires: until,
            version: 0,
        }
    }

    /// Whether `booking` is still the version the link was made for.
    pub fn is_current(&self, booking: &Booking) -> bool {
        self.version == version_of(booking)
    }
}

/// A booking's version: its last change, to the microsecond (what both stores keep).
fn version_of(booking: &Booking) -> i64 {
    booking.updated_at.as_microsecond()
}

/// Why a link was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link was not issued by this server or was altered")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

/// Signs and checks links.
#[derive(Clone)]
pub struct ManageLinks {
    key: [u8; 32],
}

impl ManageLinks {
    /// Derives the signing key from the server secret (another key than the slot ids').
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"pillow-calendar manage links v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn tag(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    pub fn sign(&self, claims: &LinkClaims) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        bytes.extend_from_slice(claims.tenant_id.0.as_bytes());
        bytes.extend_from_slice(claims.booking_id.0.as_bytes());
        bytes.push(claims.action.byte());
        bytes.extend_from_slice(&claims.expires.as_second().to_be_bytes());
        bytes.extend_from_slice(&claims.version.to_be_bytes());
        let tag = self.tag(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// What a link names, if this server issued it unaltered (compared in constant time) and
    /// it has not expired at `now`.
    ///
    /// # Errors
    /// [`LinkError`].
    pub fn verify(&self, link: &str, now: Timestamp) -> Result<LinkClaims, LinkError> {
        let body = link
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(LinkError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| LinkError::Malformed)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(LinkError::Malformed);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        self.tag(payload)
            .verify_truncated_left(tag)
            .map_err(|_| LinkError::BadSignature)?;
        let uuid = |range: std::ops::Range<usize>| {
            Uuid::from_slice(&payload[range]).map_err(|_| LinkError::Malformed)
        };
        let action = Action::from_byte(payload[32]).ok_or(LinkError::Malformed)?;
        let seconds = i64::from_be_bytes(payload[33..41].try_into().expect("8 bytes"));
        let version = i64::from_be_bytes(payload[41..49].try_into().expect("8 bytes"));
        let expires = Timestamp::from_second(seconds).map_err(|_| LinkError::Malformed)?;
        if now >= expires {
            return Err(LinkError::Expired);
        }
        Ok(LinkClaims {
            tenant_id: TenantId(uuid(0..16)?),
            booking_id: BookingId(uuid(16..32)?),
            action,
            expires,
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            tenant_id: TenantId(Uuid::from_u128(1)),
            booking_id: BookingId(Uuid::from_u128(2)),
            action: Action::Cancel,
            expires: "2026-03-10T15:00:00Z".parse().unwrap(),
            version: 1_773_000_000_123_456,
        }
    }

    #[test]
    fn a_link_round_trips_until_it_expires() {
        let links = ManageLinks::from_secret(b"secret");
        let link = links.sign(&claims());
        assert!(link.starts_with(PREFIX));
        let before: Timestamp = "2026-03-10T14:59:59Z".parse().unwrap();
        assert_eq!(links.verify(&link, before), Ok(claims()));
        let at: Timestamp = "2026-03-10T15:00:00Z".parse().unwrap();
        assert_eq!(links.verify(&link, at), Err(LinkError::Expired));
    }

    #[test]
    fn a_forged_or_altered_link_is_refused() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let link = ManageLinks::from_secret(b"one").sign(&claims());
        let other = ManageLinks::from_secret(b"two");
        assert_eq!(other.verify(&link, now), Err(LinkError::BadSignature));
        let links = ManageLinks::from_secret(b"one");
        // Turn the cancel link into a reschedule link: the action byte is in the payload.
        let mut bytes = URL_SAFE_NO_PAD.decode(&link[PREFIX.len()..]).unwrap();
        bytes[32] = 1;
        let altered = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(links.verify(&altered, now), Err(LinkError::BadSignature));
        assert_eq!(links.verify("ML_abc", now), Err(LinkError::Malformed));
        assert_eq!(links.verify("CS_abc", now), Err(LinkError::Malformed));
    }
}
