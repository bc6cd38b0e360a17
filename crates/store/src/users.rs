//! Users: a tenant's people, their roles and logins.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

/// What a user may do inside their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owners and admins manage other members' data.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// IANA zone name, e.g. `America/Los_Angeles`.
    pub time_zone: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub time_zone: String,
    /// Argon2 PHC string; `None` for users who only act through API keys.
    pub password_hash: Option<String>,
}

/// A partial update; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub time_zone: Option<String>,
    pub password_hash: Option<String>,
}

/// One upcoming booking handed to another member when its member is removed.
#[derive(Debug, Clone)]
pub struct Reassignment {
    pub booking: BookingId,
    /// The member who takes it.
    pub to: UserId,
    /// The new member's per-day and per-week limits around the booking's start.
    pub caps: Vec<BookingCap>,
}

/// A user with the secret login needs; never serialised.
#[derive(Debug, Clone)]
pub struct UserLogin {
    pub user: User,
    pub password_hash: Option<String>,
}

/// A tenant's people, and the logins that find them across tenants.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User>;
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    /// Changes a user; a role other than owner for the tenant's only owner is refused
    /// ([`ensure_owner_remains`]), atomically with the change.
    async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>>;
    /// Removes a user who has no upcoming bookings: [`UserStore::remove_user`] with nothing to
    /// hand over.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        self.remove_user(tenant, id, &[], &[], Timestamp::now())
            .await
    }
    /// Removes a user, in one transaction: hands each of `reassign` to its new member (who
    /// must be free then and under their caps), queues `jobs`, and marks the user deleted
    /// (`deleted_at`), keeping the row so their bookings and the codes callers hold stay
    /// whole. Their rules and sessions go; from then on no list, login or token finds them.
    /// False when the user is not in the tenant (or already removed).
    ///
    /// # Errors
    /// [`Constraint::LastOwner`] for the tenant's only owner; [`Constraint::MemberHasBookings`]
    /// when a confirmed booking ending after `now` would stay with them;
    /// [`Constraint::BookingOverlap`] or [`Constraint::BookingLimit`] when a new member cannot
    /// take one. Nothing changes on any error.
    async fn remove_user(
        &self,
        tenant: TenantId,
        id: UserId,
        reassign: &[Reassignment],
        jobs: &[NewJob],
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Every user with this e-mail address, in any tenant, with the password hash: the one
    /// cross-tenant read, used only by login.
    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>>;
    /// Finds a user by id in any tenant: a JWT's `sub` names the user, and the user names the
    /// tenant.
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;
}

/// Refuses a change that removes `target`'s ownership when `owners` (the tenant's owners, read
/// under lock in the same transaction as the change) has no one else: a tenant always keeps
/// an owner, even when two demotions race.
///
/// # Errors
/// [`StoreError::Conflict`] with [`Constraint::LastOwner`].
pub fn ensure_owner_remains(owners: &[User], target: UserId) -> StoreResult<()> {
    if owners.iter().any(|u| u.id == target) && owners.iter().all(|u| u.id == target) {
        return Err(StoreError::Conflict(Constraint::LastOwner));
    }
    Ok(())
}

impl FromStored for User {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(User {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            email: row.get("email")?,
            name: row.get("name")?,
            role: row.get_parsed("role", "role", Role::parse)?,
            time_zone: row.get("time_zone")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl FromStored for UserLogin {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(UserLogin {
            user: User::from_stored(row)?,
            password_hash: row.get_optional("password_hash")?,
        })
    }
}

impl NewUser {
    /// `$1` to `$8` of both backends' `INSERT INTO users`: id, tenant, e-mail, name, role, zone,
    /// password hash, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: UserId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 8] {
        [
            id.into(),
            tenant.into(),
            (&self.email).into(),
            (&self.name).into(),
            self.role.as_str().into(),
            (&self.time_zone).into(),
            (&self.password_hash).into(),
            now.into(),
        ]
    }
}

impl UserPatch {
    /// `$1` to `$8` of both backends' `UPDATE users`: tenant and id, then each field of the
    /// patch (`NULL` leaves the column alone), and `now`.
    pub fn update_values(
        &self,
        tenant: TenantId,
        id: UserId,
        now: Timestamp,
    ) -> [StoredValue<'_>; 8] {
        [
            tenant.into(),
            id.into(),
            (&self.email).into(),
            (&self.name).into(),
            self.role.map(Role::as_str).into(),
            (&self.time_zone).into(),
            (&self.password_hash).into(),
            now.into(),
        ]
    }
}
