//! The one door to persistence.
//!
//! [`Store`] is implemented by `pillow-store-sqlite` and `pillow-store-postgres`; the server picks
//! one at start-up from the database URL's scheme and never learns which. Every method that
//! touches tenant-owned data takes the [`TenantId`] first, so forgetting the tenant is a compile
//! error rather than a data leak.

mod agents;
mod api_keys;
mod appointment_types;
mod bookings;
mod collective;
mod connections;
mod decode;
mod encode;
mod error;
mod events;
mod idempotency;
mod ids;
mod notices;
mod notification_templates;
mod outbox;
mod rules;
mod secrets;
mod series;
mod sessions;
mod sms_opt_outs;
mod tenants;
mod users;
mod webhook_deliveries;
mod webhooks;
mod widget_keys;

pub use agents::*;
pub use api_keys::*;
pub use appointment_types::*;
pub use bookings::*;
pub use collective::*;
pub use connections::*;
pub use decode::*;
pub use encode::*;
pub use error::{Constraint, Entity, StoreError};
pub use events::*;
pub use idempotency::*;
pub use ids::*;
pub use notices::*;
pub use notification_templates::*;
pub use outbox::*;
pub use rules::*;
pub use secrets::*;
pub use series::*;
pub use sessions::*;
pub use sms_opt_outs::*;
pub use tenants::*;
pub use users::*;
pub use webhook_deliveries::*;
pub use webhooks::*;
pub use widget_keys::*;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Persistence for everything the server keeps: every resource's store in one.
///
/// Implementations must scope every tenant-owned query by the given tenant: a row of another
/// tenant behaves exactly as a row that does not exist. Implement the per-resource traits; this
/// one comes for free, so `Arc<dyn Store>` reaches every method.
pub trait Store:
    TenantStore
    + UserStore
    + ApiKeyStore
    + AgentStore
    + RuleStore
    + EventStore
    + BookingStore
    + CollectiveStore
    + SeriesStore
    + IdempotencyStore
    + OutboxStore
    + WidgetKeyStore
    + ConnectionStore
    + SecretStore
    + SessionStore
    + AppointmentTypeStore
    + NoticeStore
    + NotificationTemplateStore
    + WebhookStore
    + WebhookDeliveryStore
    + SmsOptOutStore
    + 'static
{
}

impl<T> Store for T where
    T: TenantStore
        + UserStore
        + ApiKeyStore
        + AgentStore
        + RuleStore
        + EventStore
        + BookingStore
        + CollectiveStore
        + SeriesStore
        + IdempotencyStore
        + OutboxStore
        + WidgetKeyStore
        + ConnectionStore
        + SecretStore
        + SessionStore
        + AppointmentTypeStore
        + NoticeStore
        + NotificationTemplateStore
        + WebhookStore
        + WebhookDeliveryStore
        + SmsOptOutStore
        + 'static
{
}
