//! Telling people and systems about bookings: e-mail with calendar invites and webhooks, each channel an outbox
//! [`Deliverer`](crate::outbox::Deliverer) of its own job kind, so a failure on one channel
//! never repeats another's message.
//!
//! - [`email`]: the SMTP deliverer and its settings (`SMTP_URL`, `EMAIL_FROM`); [`smtp`] the
//!   connections it sends over.
//! - [`confirmation`]: what the confirmation on screen says: where the details went, masked,
//!   and "Add to calendar" (Google, Outlook, `.ics`).
//! - [`ics`]: the iCalendar invite (`REQUEST` / `CANCEL`, stable `UID`, rising `SEQUENCE`).
//! - [`series_ics`]: the invite of a recurring series (`RRULE`, `EXDATE`, one occurrence's
//!   `CANCEL`).
//! - [`sms`]: texts through Twilio's Messaging API, the opt-out list, Twilio's signatures.
//! - [`reminders`]: whether a reminder that has come due is still wanted (sent by e-mail).
//! - [`templates`]: the sandboxed wording of each message and its defaults.
//! - [`webhooks`]: Cal.com-compatible signed posts to the tenant's subscribers, with a
//!   delivery log; [`network`] refuses internal addresses.
//!
//! An integration like `google/`: it may use the outbox, the domain and the store, and nothing
//! above it.

pub mod confirmation;
pub mod email;
pub mod ics;
pub mod network;
pub mod reminders;
pub mod series_ics;
pub mod sms;
pub mod smtp;
pub mod templates;
pub mod webhooks;

pub use email::{EmailDeliverer, EmailSettings};
pub use sms::{SmsDeliverer, SmsSettings};
pub use webhooks::WebhookDeliverer;

use pillow_store::{Store, StoreResult, TenantId};

use templates::{MessageKind, Template};

/// The wording a tenant uses for `kind`: its own template, or the built-in one.
///
/// # Errors
/// Database failures.
pub async fn wording(
    store: &dyn Store,
    tenant: TenantId,
    kind: MessageKind,
) -> StoreResult<Template> {
    Ok(
        match store
            .get_notification_template(tenant, kind.as_str())
            .await?
        {
            Some(saved) => Template {
                subject: saved.subject,
                body: saved.body,
            },
            None => templates::default_template(kind),
        },
    )
}
