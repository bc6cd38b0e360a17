//! A client for Microsoft Graph calendars (Outlook, Microsoft 365) and the Microsoft identity
//! platform's OAuth 2.0 v2 endpoints.
//!
//! Every base URL is configuration ([`MicrosoftEndpoints`]), so tests and local demos point the
//! real client at `pillow_fakes::microsoft::FakeMicrosoft` over loopback HTTP.
//!
//! - [`MicrosoftOAuth`]: authorization code with PKCE, `offline_access`, refresh.
//! - [`GraphCalendar`]: `calendarView/delta` (full and incremental, following
//!   `@odata.nextLink` to the `@odata.deltaLink`), create with `transactionId`, `PATCH` and
//!   `DELETE` with `If-Match`, and `/subscriptions`; `429`/`503` honour `Retry-After`.
//! - [`notifications`]: what Graph POSTs to our webhook (validation, change and lifecycle
//!   notifications) and the constant-time `clientState` check.

mod calendar;
mod error;
mod event;
pub mod notifications;
mod oauth;

pub use calendar::{DeltaRound, GraphCalendar, NewEvent, Subscription, SubscriptionRequest};
pub use error::GraphError;
pub use event::{DateTimeTimeZone, DeltaItem, GraphEvent, ShowAs};
pub use oauth::{MicrosoftOAuth, TokenGrant};

/// The scopes we ask for: a refresh token, and read/write on the user's calendars.
pub const SCOPES: &[&str] = &["offline_access", "Calendars.ReadWrite"];

/// The single-value extended property that names the booking on the events we write (a GUID
/// namespace of our own, as Graph requires for named properties).
pub const BOOKING_PROPERTY_ID: &str =
    "String {6d3c1f0e-8a4b-4f2e-9c5d-7b1a2e3f4c5d} Name PillowBookingId";

/// Where Microsoft lives. `Default` is the real service with the `common` tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrosoftEndpoints {
    /// The identity platform's root, `https://login.microsoftonline.com`.
    pub login_base: String,
    /// `common`, `organizations`, `consumers` or a tenant id.
    pub tenant: String,
    /// The Graph root, ending in `/v1.0` (no trailing slash).
    pub graph_base: String,
}

impl Default for MicrosoftEndpoints {
    fn default() -> Self {
        Self {
            login_base: "https://login.microsoftonline.com".into(),
            tenant: "common".into(),
            graph_base: "https://graph.microsoft.com/v1.0".into(),
        }
    }
}

impl MicrosoftEndpoints {
    pub fn authorize_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/authorize", self.login_base, self.tenant)
    }

    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_base, self.tenant)
    }
}

/// The `transactionId` of the event for one of our bookings: the same on every retry, so
/// Graph answers a retried create with the event it already made.
pub fn transaction_id_for(booking_id: uuid::Uuid) -> String {
    format!("pillow-booking-{booking_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_endpoints_use_the_common_tenant_on_the_v2_endpoints() {
        let e = MicrosoftEndpoints::default();
        assert_eq!(
            e.authorize_url(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        );
        assert_eq!(
            e.token_url(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert!(e.graph_base.ends_with("/v1.0"));
    }

    #[test]
    fn transaction_ids_are_deterministic_per_booking() {
        let a = uuid::Uuid::new_v4();
        assert_eq!(transaction_id_for(a), transaction_id_for(a));
        assert_ne!(
            transaction_id_for(a),
            transaction_id_for(uuid::Uuid::new_v4())
        );
    }
}
