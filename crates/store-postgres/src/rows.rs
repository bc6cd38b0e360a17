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

#[derive(FromRow)]
pub(crate) struct BookingRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    pub(crate) user_id: Uuid,
    confirmation_code: String,
    start_at: Timestamp,
    end_at: Timestamp,
    pub(crate) buffer_before_minutes: i32,
    pub(crate) buffer_after_minutes: i32,
    attendee_name: String,
    attendee_email: Option<String>,
    attendee_phone: Option<String>,
    notes: Option<String>,
    title: String,
    description: Option<String>,
    pub(crate) status: String,
    cancel_reason: Option<String>,
    cancelled_at: Option<Timestamp>,
    call_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl BookingRow {
    pub(crate) fn into_model(self) -> StoreResult<Booking> {
        Ok(Booking {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            user_id: self.user_id,
            confirmation_code: self.confirmation_code,
            start: self.start_at.to_jiff(),
            end: self.end_at.to_jiff(),
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            attendee: Attendee {
                name: self.attendee_name,
                email: self.attendee_email,
                phone: self.attendee_phone,
            },
            notes: self.notes,
            title: self.title,
            description: self.description,
            status: BookingStatus::parse(&self.status)
                .ok_or_else(|| corrupt("booking status", &self.status))?,
            cancel_reason: self.cancel_reason,
            cancelled_at: self.cancelled_at.map(Timestamp::to_jiff),
            call_id: self.call_id,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    kind: String,
    payload: sqlx::types::JsonValue,
    status: String,
    attempts: i32,
    next_attempt_at: Timestamp,
    last_error: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl JobRow {
    pub(crate) fn into_model(self) -> StoreResult<Job> {
        Ok(Job {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            kind: self.kind,
            payload: self.payload,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| corrupt("job status", &self.status))?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.to_jiff(),
            last_error: self.last_error,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct IdempotencyRow {
    request_hash: String,
    state: String,
    status: Option<i32>,
    body: Option<sqlx::types::JsonValue>,
}

impl IdempotencyRow {
    pub(crate) fn into_model(self) -> StoreResult<IdempotencyState> {
        match (self.state.as_str(), self.status, self.body) {
            ("in_progress", _, _) => Ok(IdempotencyState::InProgress {
                request_hash: self.request_hash,
            }),
            ("done", Some(status), Some(body)) => Ok(IdempotencyState::Done {
                request_hash: self.request_hash,
                status: u16::try_from(status)
                    .map_err(|_| corrupt("response status", &status.to_string()))?,
                body,
            }),
            (state, _, _) => Err(corrupt("idempotency state", state)),
        }
    }
}

#[derive(FromRow)]
pub(crate) struct ConnectionRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    kind: String,
    calendar_id: String,
    account_email: String,
    access_token_encrypted: Option<String>,
    refresh_token_encrypted: Option<String>,
    token_expires_at: Option<Timestamp>,
    scopes: String,
    sync_token: Option<String>,
    sync_enabled: bool,
    status: String,
    last_synced_at: Option<Timestamp>,
    last_error: Option<String>,
    next_sync_at: Timestamp,
    failure_count: i32,
    channel_id: Option<String>,
    channel_resource_id: Option<String>,
    channel_token_hash: Option<String>,
    channel_expires_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl ConnectionRow {
    pub(crate) fn into_model(self) -> StoreResult<CalendarConnection> {
        let channel = match (
            self.channel_id,
            self.channel_resource_id,
            self.channel_token_hash,
            self.channel_expires_at,
        ) {
            (Some(id), Some(resource_id), Some(token_hash), Some(expires_at)) => {
                Some(PushChannel {
                    id,
                    resource_id,
                    token_hash,
                    expires_at: expires_at.to_jiff(),
                })
            }
            _ => None,
        };
        Ok(CalendarConnection {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            kind: self.kind,
            calendar_id: self.calendar_id,
            account_email: self.account_email,
            access_token_encrypted: self.access_token_encrypted,
            refresh_token_encrypted: self.refresh_token_encrypted,
            token_expires_at: self.token_expires_at.map(|t| t.to_jiff()),
            scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
            sync_token: self.sync_token,
            sync_enabled: self.sync_enabled,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            last_synced_at: self.last_synced_at.map(|t| t.to_jiff()),
            last_error: self.last_error,
            next_sync_at: self.next_sync_at.to_jiff(),
            failure_count: self.failure_count,
            channel,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
