//! Calendar connections (Google for now): who granted access, the sealed tokens, and the
//! state of synchronisation. The store only ever sees tokens sealed by the server.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

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
    pub id: ConnectionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
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
    pub user_id: UserId,
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

/// Calendar connections and the events synchronised from them. Writes to synchronised events
/// bump the user's busy version in the same transaction, like every event write.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Creates a connection, or, when this user already connected the same account and
    /// calendar, replaces its tokens and scopes (keeping the stored refresh token when none is
    /// given), makes it active with sync enabled, clears its last error and makes it due now.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant.
    async fn upsert_calendar_connection(
        &self,
        tenant: TenantId,
        connection: &NewCalendarConnection,
    ) -> StoreResult<CalendarConnection>;
    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// The tenant's connections, or one user's; ordered by created_at, id.
    async fn list_calendar_connections(
        &self,
        tenant: TenantId,
        user_id: Option<UserId>,
    ) -> StoreResult<Vec<CalendarConnection>>;
    /// Applies a partial update. `None` if absent in this tenant.
    async fn update_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        patch: &ConnectionPatch,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Deletes a connection and every event synchronised from it (source `google`), and
    /// forgets the provider ids recorded on our own events (bookings, internal) written to it;
    /// bumps the user's busy version. False if absent in this tenant.
    async fn delete_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<bool>;
    /// Takes the sync lease of one connection for `owner` until `now + lease`, if nobody else
    /// holds it (or their lease ended); the holder may extend it. The connection as leased, or
    /// `None` when absent or held by another.
    async fn lease_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        owner: &str,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Gives the lease back (only if `owner` holds it).
    async fn release_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        owner: &str,
    ) -> StoreResult<()>;
    /// Leases, across tenants, up to `limit` enabled connections (active, or in error and
    /// retried with backoff; never those that need re-authorisation) whose lease is free
    /// and that are due (`next_sync_at <= now`) or whose push channel ends before
    /// `channel_horizon`; soonest first. Several processes never lease the same connection.
    async fn lease_due_calendar_connections(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
        channel_horizon: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<CalendarConnection>>;
    /// The connection whose push channel has this id, in any tenant: a notification names
    /// only its channel.
    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Applies one page of a provider sync in one transaction: upserts `events` (source
    /// `google`, keyed by provider and external id; rows of other sources with that key are
    /// left alone), deletes the connection's synced events with the `deleted` external ids,
    /// and bumps the user's busy version once.
    async fn apply_synced_events(
        &self,
        tenant: TenantId,
        provider_id: ConnectionId,
        user_id: UserId,
        events: &[NewCalendarEvent],
        deleted: &[String],
    ) -> StoreResult<()>;
    /// After a full sync: deletes the connection's synced events whose external id is not in
    /// `keep`, bumping the user's busy version if any went. How many went.
    async fn prune_synced_events(
        &self,
        tenant: TenantId,
        provider_id: ConnectionId,
        user_id: UserId,
        keep: &[String],
    ) -> StoreResult<u64>;
    /// Records where one of our own events (a booking's or an internal one) lives at a
    /// provider, and its ETag; busy time does not change, so nothing is bumped.
    async fn set_event_provider_ref(
        &self,
        tenant: TenantId,
        event_id: EventId,
        provider_id: Option<ConnectionId>,
        external_id: Option<&str>,
        etag: Option<&str>,
    ) -> StoreResult<()>;
}

impl FromStored for CalendarConnection {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        // A channel is all four columns or none.
        let channel = match (
            row.get_optional("channel_id")?,
            row.get_optional("channel_resource_id")?,
            row.get_optional("channel_token_hash")?,
            row.get_optional("channel_expires_at")?,
        ) {
            (Some(id), Some(resource_id), Some(token_hash), Some(expires_at)) => {
                Some(PushChannel {
                    id,
                    resource_id,
                    token_hash,
                    expires_at,
                })
            }
            _ => None,
        };
        let scopes: String = row.get("scopes")?;
        Ok(CalendarConnection {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            kind: row.get("kind")?,
            calendar_id: row.get("calendar_id")?,
            account_email: row.get("account_email")?,
            access_token_encrypted: row.get_optional("access_token_encrypted")?,
            refresh_token_encrypted: row.get_optional("refresh_token_encrypted")?,
            token_expires_at: row.get_optional("token_expires_at")?,
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            sync_token: row.get_optional("sync_token")?,
            sync_enabled: row.get("sync_enabled")?,
            status: row.get_parsed("status", "status", ConnectionStatus::parse)?,
            last_synced_at: row.get_optional("last_synced_at")?,
            last_error: row.get_optional("last_error")?,
            next_sync_at: row.get("next_sync_at")?,
            failure_count: row.get("failure_count")?,
            channel,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// Scopes as stored: space-separated, as OAuth writes them.
fn scopes_text(scopes: &[String]) -> String {
    scopes.join(" ")
}

impl NewCalendarConnection {
    /// `$1` to `$11` of both backends' upsert of a connection: id, tenant, user, kind,
    /// calendar, account, both sealed tokens, when the access token expires, the scopes, and
    /// `now` (for the timestamps and as the next sync).
    pub fn upsert_values(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 11] {
        [
            id.into(),
            tenant.into(),
            self.user_id.into(),
            (&self.kind).into(),
            (&self.calendar_id).into(),
            (&self.account_email).into(),
            (&self.access_token_encrypted).into(),
            (&self.refresh_token_encrypted).into(),
            self.token_expires_at.into(),
            scopes_text(&self.scopes).into(),
            now.into(),
        ]
    }
}

impl ConnectionPatch {
    /// The columns the patch sets (`column = ?`), in both backends' order; a channel sets (or
    /// clears) its four columns together.
    pub fn assignments(&self) -> Vec<Fragment<'_>> {
        let mut set = Vec::new();
        if let Some(token) = &self.access_token_encrypted {
            set.push(Fragment::bound("access_token_encrypted = ?", token));
        }
        if let Some(token) = &self.refresh_token_encrypted {
            set.push(Fragment::bound("refresh_token_encrypted = ?", token));
        }
        if let Some(at) = self.token_expires_at {
            set.push(Fragment::bound("token_expires_at = ?", at));
        }
        if let Some(scopes) = &self.scopes {
            set.push(Fragment::bound("scopes = ?", scopes_text(scopes)));
        }
        if let Some(token) = &self.sync_token {
            set.push(Fragment::bound("sync_token = ?", token));
        }
        if let Some(enabled) = self.sync_enabled {
            set.push(Fragment::bound("sync_enabled = ?", enabled));
        }
        if let Some(status) = self.status {
            set.push(Fragment::bound("status = ?", status.as_str()));
        }
        if let Some(at) = self.last_synced_at {
            set.push(Fragment::bound("last_synced_at = ?", at));
        }
        if let Some(error) = &self.last_error {
            set.push(Fragment::bound("last_error = ?", error));
        }
        if let Some(at) = self.next_sync_at {
            set.push(Fragment::bound("next_sync_at = ?", at));
        }
        if let Some(count) = self.failure_count {
            set.push(Fragment::bound("failure_count = ?", count));
        }
        if let Some(channel) = &self.channel {
            let channel = channel.as_ref();
            set.extend([
                Fragment::bound("channel_id = ?", channel.map(|c| c.id.as_str())),
                Fragment::bound(
                    "channel_resource_id = ?",
                    channel.map(|c| c.resource_id.as_str()),
                ),
                Fragment::bound(
                    "channel_token_hash = ?",
                    channel.map(|c| c.token_hash.as_str()),
                ),
                Fragment::bound("channel_expires_at = ?", channel.map(|c| c.expires_at)),
            ]);
        }
        set
    }
}
