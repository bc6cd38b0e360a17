//! Rows as PostgreSQL returns them, and their conversion into the domain models.
//!
//! Enums are stored as text with CHECK constraints; a value that does not parse is a corrupt row.

use jiff_sqlx::Timestamp;
use pillow_store::*;
use sqlx::FromRow;
use uuid::Uuid;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(crate) fn all<R, T>(rows: Vec<R>, convert: fn(R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(convert).collect()
}

#[derive(FromRow)]
pub(crate) struct TenantRow {
    id: Uuid,
    name: String,
    created_at: Timestamp,
}

impl TenantRow {
    pub(crate) fn into_model(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            created_at: self.created_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    name: String,
    role: String,
    time_zone: String,
    password_hash: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl UserRow {
    pub(crate) fn into_login(self) -> StoreResult<UserLogin> {
        let role = Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?;
        Ok(UserLogin {
            user: User {
                id: self.id,
                tenant_id: TenantId(self.tenant_id),
                email: self.email,
                name: self.name,
                role,
                time_zone: self.time_zone,
                created_at: self.created_at.to_jiff(),
                updated_at: self.updated_at.to_jiff(),
            },
            password_hash: self.password_hash,
        })
    }

    pub(crate) fn into_model(self) -> StoreResult<User> {
        Ok(self.into_login()?.user)
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    created_at: Timestamp,
}

impl ApiKeyRow {
    pub(crate) fn into_model(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: self.created_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct AgentRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    time_zone: String,
    backend: String,
    cal_enabled: bool,
    cal_api_key_encrypted: Option<String>,
    cal_event_type_slug: Option<String>,
    cal_timezone: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl AgentRow {
    pub(crate) fn into_model(self) -> StoreResult<Agent> {
        Ok(Agent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            time_zone: self.time_zone,
            backend: AgentBackend::parse(&self.backend)
                .ok_or_else(|| corrupt("backend", &self.backend))?,
            cal_enabled: self.cal_enabled,
            cal_api_key_encrypted: self.cal_api_key_encrypted,
            cal_event_type_slug: self.cal_event_type_slug,
            cal_timezone: self.cal_timezone,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct RuleRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    is_default: bool,
    /// `sqlx::types::JsonValue` is `serde_json::Value`.
    document: sqlx::types::JsonValue,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl RuleRow {
    pub(crate) fn into_model(self) -> StoreResult<AvailabilityRule> {
        Ok(AvailabilityRule {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            name: self.name,
            is_default: self.is_default,
            document: self.document,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    provider_id: Option<Uuid>,
    external_id: Option<String>,
    etag: Option<String>,
    title: String,
    description: Option<String>,
    start_at: Timestamp,
    end_at: Timestamp,
    all_day: bool,
    status: String,
    transparency: String,
    source: String,
    booking_id: Option<Uuid>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl EventRow {
    pub(crate) fn into_model(self) -> StoreResult<CalendarEvent> {
        Ok(CalendarEvent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            provider_id: self.provider_id,
            external_id: self.external_id,
            etag: self.etag,
            title: self.title,
            description: self.description,
            start: self.start_at.to_jiff(),
            end: self.end_at.to_jiff(),
            all_day: self.all_day,
            status: EventStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            transparency: Transparency::parse(&self.transparency)
                .ok_or_else(|| corrupt("transparency", &self.transparency))?,
            source: EventSource::parse(&self.source)
                .ok_or_else(|| corrupt("source", &self.source))?,
            booking_id: self.booking_id,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct BusyRow {
    user_id: Uuid,
    start_at: Timestamp,
    end_at: Timestamp,
    all_day: bool,
}

impl BusyRow {
    pub(crate) fn into_model(self) -> StoreResult<BusyEvent> {
        Ok(BusyEvent {
            user_id: self.user_id,
            start: self.start_at.to_jiff(),
            end: self.end_at.to_jiff(),
            all_day: self.all_day,
        })
    }
}
