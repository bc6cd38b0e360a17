//! Domain rows as the rest of the server sees them. Field names follow the seed documents.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tenant every scoped query is filtered by. A newtype so it cannot be confused with the
/// other ids that travel next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// New time-ordered id: v7 keeps recent rows together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

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
    pub id: Uuid,
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

/// A user with the secret login needs; never serialised.
#[derive(Debug, Clone)]
pub struct UserLogin {
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// Public part shown in listings and used to find the key; the secret part is only hashed.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
}

/// Where an agent's calendar lives: here, or still on Cal.com (the in-call seed's fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentBackend {
    Native,
    Calcom,
}

impl AgentBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentBackend::Native => "native",
            AgentBackend::Calcom => "calcom",
        }
    }

    pub fn parse(value: &str) -> Option<AgentBackend> {
        match value {
            "native" => Some(AgentBackend::Native),
            "calcom" => Some(AgentBackend::Calcom),
            _ => None,
        }
    }
}

/// A voice agent. `cal_api_key` is stored encrypted; the store only ever sees ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
}

/// A partial update. The doubly optional fields distinguish "leave alone" (`None`) from
/// "clear" (`Some(None)`).
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub backend: Option<AgentBackend>,
    pub cal_enabled: Option<bool>,
    pub cal_api_key_encrypted: Option<Option<String>>,
    pub cal_event_type_slug: Option<Option<String>>,
    pub cal_timezone: Option<Option<String>>,
}
