//! Calendar connections (Google for now): who granted access, the sealed tokens, and the
//! state of synchronisation. The store only ever sees tokens sealed by the server.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantId;

/// Whether a connection can be synchronised, as the troubleshooting guide reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Tokens work; the poller and push notifications sync it.
    Active,
    /// The provider refused our refresh token (`invalid_grant`): only the user connecting
    /// again fixes it, so nothing retries it until then.
    NeedsReauth,
    /// Syncs keep failing for another reason; retried with backoff.
    Error,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::NeedsReauth => "needs_reauth",
            ConnectionStatus::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<ConnectionStatus> {
        match value {
            "active" => Some(ConnectionStatus::Active),
            "needs_reauth" => Some(ConnectionStatus::NeedsReauth),
            "error" => Some(ConnectionStatus::Error),
            _ => None,
        }
    }
}

/// A push channel (`events.watch`) of a connection. Its token is only verified, so only its
/// SHA-256 (hex) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushChannel {
    pub id: String,
    pub resource_id: String,
    pub token_hash: String,
    pub expires_at: Timestamp,
}

/// A user's connection to an outside calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarConnection {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    /// `google` (later `microsoft`, `caldav`).
    pub kind: String,
    /// The provider's calendar id, e.g. `primary`.
    pub calendar_id: String,
    /// The account that granted access; empty when the provider did not say.
    pub account_email: String,
    /// Sealed (`v1:<key id>:<base64>`), never plain text.
    pub access_token_encrypted: Option<String>,
    pub refresh_token_encrypted: Option<String>,
    pub token_expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
    /// The provider's incremental sync token; `None` means the next sync is a full one.
    pub sync_token: Option<String>,
    pub sync_enabled: bool,
    pub status: ConnectionStatus,
    pub last_synced_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// When the poller syncs it next.
    pub next_sync_at: Timestamp,
    /// Failed syncs in a row.
    pub failure_count: i32,
    pub channel: Option<PushChannel>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A connection to create, or the new tokens of the same account connecting again.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCalendarConnection {
    pub user_id: Uuid,
    pub kind: String,
    pub calendar_id: String,
    pub account_email: String,
    pub access_token_encrypted: String,
    /// `None` keeps the refresh token already stored for this account (providers send one
    /// only on the first consent).
    pub refresh_token_encrypted: Option<String>,
    pub token_expires_at: Timestamp,
    pub scopes: Vec<String>,
}

/// A partial update of a connection; `None` leaves a field alone, and the doubly optional
/// fields distinguish "leave alone" from "clear".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionPatch {
    pub access_token_encrypted: Option<String>,
    pub refresh_token_encrypted: Option<String>,
    pub token_expires_at: Option<Timestamp>,
    pub scopes: Option<Vec<String>>,
    pub sync_token: Option<Option<String>>,
    pub sync_enabled: Option<bool>,
    pub status: Option<ConnectionStatus>,
    pub last_synced_at: Option<Timestamp>,
    pub last_error: Option<Option<String>>,
    pub next_sync_at: Option<Timestamp>,
    pub failure_count: Option<i32>,
    pub channel: Option<Option<PushChannel>>,
}

/// Which sealed column a [`SealedSecret`] lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedColumn {
    ConnectionAccessToken,
    ConnectionRefreshToken,
    AgentCalApiKey,
}

/// One sealed value at rest, for key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub column: SealedColumn,
    /// The id of the row (connection or agent).
    pub id: Uuid,
    pub value: String,
}
