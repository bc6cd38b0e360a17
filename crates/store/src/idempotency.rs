//! Idempotency keys and the responses they replay.

use async_trait::async_trait;

use crate::*;

/// The recorded answer to an idempotent request. Written in the same transaction as the change
/// it belongs to, so a committed change always has its recorded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    /// The client's `Idempotency-Key` (or one derived from a call and a slot).
    pub key: String,
    /// A hash of the request body: the same key with another body is refused.
    pub request_hash: String,
    /// The HTTP status replayed.
    pub status: u16,
    /// The body replayed.
    pub body: serde_json::Value,
}

/// What [`crate::IdempotencyStore::begin_idempotent`] found for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyState {
    /// The key is new (or its previous owner went stale): this caller owns it now and must
    /// finish, abandon, or write a response with its change.
    Started,
    /// Another request with this key is running.
    InProgress { request_hash: String },
    /// The key has an answer to replay.
    Done {
        request_hash: String,
        status: u16,
        body: serde_json::Value,
    },
}

/// Idempotency keys: a retried request gets the first answer instead of a second booking.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with this hash: records it in progress if the tenant has no
    /// record of it, or takes over an in-progress record last touched `stale_after` or longer
    /// before `now` (its owner died); both return [`IdempotencyState::Started`]. Otherwise
    /// returns the record's state, whatever its hash (the caller compares).
    async fn begin_idempotent(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &str,
        now: jiff::Timestamp,
        stale_after: jiff::SignedDuration,
    ) -> StoreResult<IdempotencyState>;
    /// Records the answer of a request that changed nothing (e.g. a 409 or 422), marking the
    /// key done.
    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()>;
    /// Forgets an in-progress key after a server-side failure, so a retry runs again. A done
    /// key is kept.
    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()>;
}

impl IdempotentResponse {
    /// `$1` to `$6` of both backends' upsert of a done key: tenant, key, request hash, status,
    /// body and `now` (for both timestamps of a new record).
    pub fn record_values(&self, tenant: TenantId, now: jiff::Timestamp) -> [StoredValue<'_>; 6] {
        [
            tenant.into(),
            (&self.key).into(),
            (&self.request_hash).into(),
            i32::from(self.status).into(),
            (&self.body).into(),
            now.into(),
        ]
    }
}

/// `$1` to `$5` of both backends' claim of a key: tenant, key, request hash, `now` (for both
/// timestamps of a new record) and the instant before which an in-progress owner is stale.
pub fn claim_key_values<'a>(
    tenant: TenantId,
    key: &'a str,
    request_hash: &'a str,
    now: jiff::Timestamp,
    stale_after: jiff::SignedDuration,
) -> [StoredValue<'a>; 5] {
    let stale_before = now.checked_sub(stale_after).unwrap_or(jiff::Timestamp::MIN);
    [
        tenant.into(),
        key.into(),
        request_hash.into(),
        now.into(),
        stale_before.into(),
    ]
}

impl FromStored for IdempotencyState {
    /// A record that another request holds (`request_hash`, `state`, `status`, `body`).
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        let request_hash = row.get("request_hash")?;
        let state: String = row.get("state")?;
        let status: Option<i32> = row.get_optional("status")?;
        match (state.as_str(), status, row.get_optional("body")?) {
            ("in_progress", _, _) => Ok(IdempotencyState::InProgress { request_hash }),
            ("done", Some(status), Some(body)) => Ok(IdempotencyState::Done {
                request_hash,
                status: u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("response status {status}")))?,
                body,
            }),
            (state, _, _) => Err(StoreError::Corrupt(format!("idempotency state {state:?}"))),
        }
    }
}
