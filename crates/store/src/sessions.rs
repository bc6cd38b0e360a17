//! Dashboard sign-in sessions: a browser's cookie names one, the row names its user.

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// A signed-in browser. Only a SHA-256 of the cookie's token is kept, so a copy of the
/// database cannot be turned into a working cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub token_hash: String,
    pub created_at: Timestamp,
    /// After this instant the session no longer signs anyone in.
    pub expires_at: Timestamp,
    /// Set when the user logs out; a revoked session never comes back.
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub token_hash: String,
    pub expires_at: Timestamp,
}

/// Dashboard sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session for a user of the tenant.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant.
    async fn create_session(&self, tenant: TenantId, session: &NewSession) -> StoreResult<Session>;
    /// The live session whose token hashes to `token_hash`, in any tenant (the cookie names the
    /// session, the session names its tenant): `None` when there is none, or when it expired at
    /// or before `now` or was revoked.
    async fn find_live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Session>>;
    /// Revokes a session of the tenant; false when there is no such live session.
    async fn revoke_session(&self, tenant: TenantId, id: Uuid, now: Timestamp)
    -> StoreResult<bool>;
}

impl FromStored for Session {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(Session {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            token_hash: row.get("token_hash")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
            revoked_at: row.get_optional("revoked_at")?,
        })
    }
}

impl NewSession {
    /// `$1` to `$6` of both backends' `INSERT INTO sessions`: id, tenant, user, token hash,
    /// `now` (created) and the expiry.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 6] {
        [
            id.into(),
            tenant.into(),
            self.user_id.into(),
            (&self.token_hash).into(),
            now.into(),
            self.expires_at.into(),
        ]
    }
}
