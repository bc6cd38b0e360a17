//! What Graph sends to our webhook: the validation request when a subscription is created,
//! then batches of change and lifecycle notifications, each carrying our `clientState`.
//!
//! The HTTP route lives in the server; these are the shapes and checks it needs.

use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The query parameter Graph's validation request carries. The webhook must answer `200`
/// with the token (URL-decoded) as its `text/plain` body, within 10 seconds.
pub const VALIDATION_TOKEN_PARAM: &str = "validationToken";

/// The body of a notification POST: `{"value": [...]}`; answer `202 Accepted`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationBatch {
    pub value: Vec<Notification>,
}

/// One change notification (`changeType` set) or lifecycle notification (`lifecycleEvent`
/// set: `reauthorizationRequired`, `subscriptionRemoved` or `missed`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub subscription_id: String,
    #[serde(default)]
    pub client_state: Option<String>,
    #[serde(default)]
    pub change_type: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub lifecycle_event: Option<String>,
    #[serde(default)]
    pub subscription_expiration_date_time: Option<Timestamp>,
    #[serde(default)]
    pub resource_data: Option<ResourceData>,
}

/// The changed event's id (no content: we read changes with delta).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResourceData {
    #[serde(default)]
    pub id: Option<String>,
}

/// Whether a notification's `clientState` is the secret we gave the subscription, compared
/// in constant time (on digests, so the length does not leak either). A missing one fails.
pub fn client_state_matches(expected: &str, received: Option<&str>) -> bool {
    let Some(received) = received else {
        return false;
    };
    let a: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
    let b: [u8; 32] = Sha256::digest(received.as_bytes()).into();
    bool::from(a.ct_eq(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_client_state_matches() {
        assert!(client_state_matches("s3cret", Some("s3cret")));
        assert!(!client_state_matches("s3cret", Some("s3cres")));
        assert!(!client_state_matches("s3cret", Some("s3cret ")));
        assert!(!client_state_matches("s3cret", None));
    }

    #[test]
    fn change_and_lifecycle_notifications_read_as_graph_sends_them() {
        let body = r##"{"value":[
          {"subscriptionId":"7f105c7d","subscriptionExpirationDateTime":"2026-03-20T11:00:00.0000000Z",
           "changeType":"updated","resource":"Users/u1/Events/AAMk=","clientState":"s",
           "resourceData":{"@odata.type":"#Microsoft.Graph.Event","@odata.id":"Users/u1/Events/AAMk=","id":"AAMk="},
           "tenantId":"t"},
          {"subscriptionId":"7f105c7d","lifecycleEvent":"reauthorizationRequired","clientState":"s",
           "subscriptionExpirationDateTime":"2026-03-20T11:00:00.0000000Z","tenantId":"t"}
        ]}"##;
        let batch: NotificationBatch = serde_json::from_str(body).unwrap();
        assert_eq!(batch.value[0].change_type.as_deref(), Some("updated"));
        assert_eq!(
            batch.value[0].resource_data.as_ref().unwrap().id.as_deref(),
            Some("AAMk=")
        );
        assert_eq!(
            batch.value[1].lifecycle_event.as_deref(),
            Some("reauthorizationRequired")
        );
    }
}
