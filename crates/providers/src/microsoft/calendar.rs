//! The Graph calendar client: `calendarView/delta`, event writes, and `/subscriptions`, with
//! retries that honour `Retry-After` on 429 and 503.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{GraphError, from_api_response};
use super::event::{DateTimeTimeZone, DeltaItem, GraphEvent};
use super::{BOOKING_PROPERTY_ID, MicrosoftEndpoints, transaction_id_for};
use crate::google::RetryPolicy;

/// Events per delta page we ask for (`Prefer: odata.maxpagesize`).
const PAGE_SIZE: u32 = 100;

/// The Graph calendar client. Cheap to clone; share one `reqwest::Client`.
#[derive(Debug, Clone)]
pub struct GraphCalendar {
    base: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// One whole delta round: every page followed to the `@odata.deltaLink`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRound {
    /// A full listing (no cursor, or Graph no longer knew it): replace what you had.
    pub full: bool,
    pub changed: Vec<GraphEvent>,
    /// Ids deleted or moved out of the window.
    pub removed: Vec<String>,
    /// The cursor for the next round.
    pub delta_link: String,
    /// Pages read, empty ones included.
    pub pages: usize,
}

/// An event we create for a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub booking_id: uuid::Uuid,
    pub subject: String,
    pub body: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A `/subscriptions` request for change notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRequest {
    /// Our webhook; Graph validates it before creating the subscription.
    pub notification_url: String,
    /// Where `reauthorizationRequired`, `subscriptionRemoved` and `missed` go.
    pub lifecycle_notification_url: Option<String>,
    /// `me/events`.
    pub resource: String,
    pub expiration: Timestamp,
    /// A secret echoed in every notification; our webhook compares it in constant time.
    pub client_state: String,
}

/// A subscription Graph created.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub resource: String,
    pub change_type: String,
    pub notification_url: String,
    pub expiration_date_time: Timestamp,
    #[serde(default)]
    pub client_state: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<GraphEvent>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

impl GraphCalendar {
    pub fn new(endpoints: &MicrosoftEndpoints, http: reqwest::Client) -> Self {
        Self {
            base: endpoints.graph_base.trim_end_matches('/').to_owned(),
            http,
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the default [`RetryPolicy`]; `max_delay` also caps how long a `Retry-After`
    /// is waited for.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// One delta round over the primary calendar's view `[start, end)`: from `delta_link` when
    /// given (incremental), else from the start (full). Pages are followed to the end; an
    /// expired or unknown delta token (410) restarts as a full round.
    pub async fn delta(
        &self,
        token: &str,
        delta_link: Option<&str>,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<DeltaRound, GraphError> {
        if let Some(link) = delta_link {
            match self.follow(token, link.to_owned()).await {
                Err(GraphError::SyncStateNotFound) => {
                    tracing::info!("Graph delta token no longer valid; full resync");
                }
                other => return other.map(|r| DeltaRound { full: false, ..r }),
            }
        }
        let first = format!(
            "{}/me/calendarView/delta?startDateTime={}&endDateTime={}",
            self.base,
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end.strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        self.follow(token, first).await
    }

    /// Follows one round from `url` to its delta link.
    async fn follow(&self, token: &str, mut url: String) -> Result<DeltaRound, GraphError> {
        let mut round = DeltaRound {
            full: true,
            changed: Vec::new(),
            removed: Vec::new(),
            delta_link: String::new(),
            pages: 0,
        };
        loop {
            let page: Page = self
                .call(|| {
                    self.http
                        .get(&url)
                        .bearer_auth(token)
                        .header("Prefer", format!("odata.maxpagesize={PAGE_SIZE}"))
                        .header("Prefer", "outlook.timezone=\"UTC\"")
                })
                .await?;
            round.pages += 1;
            for item in page.value.into_iter().map(DeltaItem::from) {
                match item {
                    DeltaItem::Changed(e) => round.changed.push(*e),
                    DeltaItem::Removed { id } => round.removed.push(id),
                }
            }
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = next,
                (None, Some(delta)) => {
                    round.delta_link = delta;
                    return Ok(round);
                }
                (None, None) => {
                    return Err(GraphError::Decode(
                        "a delta page with neither nextLink nor deltaLink".into(),
                    ));
                }
            }
        }
    }

    /// `POST /me/events` with our `transactionId` and booking property. A retry of a create
    /// that already succeeded answers the event Graph made then (no duplicate).
    pub async fn create_event(
        &self,
        token: &str,
        event: &NewEvent,
    ) -> Result<GraphEvent, GraphError> {
        let body = json!({
            "subject": event.subject,
            "body": {"contentType": "text", "content": event.body.clone().unwrap_or_default()},
            "start": DateTimeTimeZone::utc(event.start),
            "end": DateTimeTimeZone::utc(event.end),
            "showAs": "busy",
            "transactionId": transaction_id_for(event.booking_id),
            "singleValueExtendedProperties": [
                {"id": BOOKING_PROPERTY_ID, "value": event.booking_id.to_string()}
            ],
        });
        let url = format!("{}/me/events", self.base);
        self.call(|| self.http.post(&url).bearer_auth(token).json(&body))
            .await
    }

    /// `GET /me/events/{id}` with our booking property expanded.
    pub async fn get_event(&self, token: &str, id: &str) -> Result<GraphEvent, GraphError> {
        let url = self.event_url(id)?;
        let expand =
            format!("singleValueExtendedProperties($filter=id eq '{BOOKING_PROPERTY_ID}')");
        self.call(|| {
            self.http
                .get(url.clone())
                .bearer_auth(token)
                .query(&[("$expand", expand.as_str())])
                .header("Prefer", "outlook.timezone=\"UTC\"")
        })
        .await
    }

    /// `PATCH /me/events/{id}` with `If-Match`: a change made in Outlook since `etag`
    /// answers [`GraphError::PreconditionFailed`] instead of being overwritten.
    pub async fn update_event(
        &self,
        token: &str,
        id: &str,
        etag: &str,
        patch: &Value,
    ) -> Result<GraphEvent, GraphError> {
        let url = self.event_url(id)?;
        self.call(|| {
            self.http
                .request(Method::PATCH, url.clone())
                .bearer_auth(token)
                .header("If-Match", etag)
                .json(patch)
        })
        .await
    }

    /// `DELETE /me/events/{id}` with `If-Match`.
    pub async fn delete_event(&self, token: &str, id: &str, etag: &str) -> Result<(), GraphError> {
        let url = self.event_url(id)?;
        self.call_empty(|| {
            self.http
                .delete(url.clone())
                .bearer_auth(token)
                .header("If-Match", etag)
        })
        .await
    }

    /// `POST /subscriptions` for `created,updated,deleted`. Graph first checks our webhook
    /// answers its validation token; a webhook that does not makes this a `BadRequest`.
    pub async fn create_subscription(
        &self,
        token: &str,
        request: &SubscriptionRequest,
    ) -> Result<Subscription, GraphError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            change_type: &'static str,
            notification_url: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            lifecycle_notification_url: Option<&'a str>,
            resource: &'a str,
            expiration_date_time: String,
            client_state: &'a str,
        }
        let body = Body {
            change_type: "created,updated,deleted",
            notification_url: &request.notification_url,
            lifecycle_notification_url: request.lifecycle_notification_url.as_deref(),
            resource: &request.resource,
            expiration_date_time: request.expiration.to_string(),
            client_state: &request.client_state,
        };
        let url = format!("{}/subscriptions", self.base);
        self.call(|| self.http.post(&url).bearer_auth(token).json(&body))
            .await
    }

    /// `PATCH /subscriptions/{id}`: a new expiry, before the old one passes.
    pub async fn renew_subscription(
        &self,
        token: &str,
        id: &str,
        expiration: Timestamp,
    ) -> Result<Subscription, GraphError> {
        let url = self.subscription_url(id)?;
        let body = json!({"expirationDateTime": expiration.to_string()});
        self.call(|| {
            self.http
                .request(Method::PATCH, url.clone())
                .bearer_auth(token)
                .json(&body)
        })
        .await
    }

    /// `DELETE /subscriptions/{id}`.
    pub async fn delete_subscription(&self, token: &str, id: &str) -> Result<(), GraphError> {
        let url = self.subscription_url(id)?;
        self.call_empty(|| self.http.delete(url.clone()).bearer_auth(token))
            .await
    }

    fn event_url(&self, id: &str) -> Result<reqwest::Url, GraphError> {
        self.path_url(&["me", "events", id])
    }

    fn subscription_url(&self, id: &str) -> Result<reqwest::Url, GraphError> {
        self.path_url(&["subscriptions", id])
    }

    /// The base plus path segments, each percent-encoded (event ids hold `=`, `/`, `+`).
    fn path_url(&self, segments: &[&str]) -> Result<reqwest::Url, GraphError> {
        let mut url =
            reqwest::Url::parse(&self.base).map_err(|e| GraphError::Decode(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| GraphError::Decode("the Graph base URL cannot take a path".into()))?
            .extend(segments);
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, GraphError> {
        let body = self.send(build).await?;
        serde_json::from_slice(&body).map_err(|e| GraphError::Decode(e.to_string()))
    }

    async fn call_empty(&self, build: impl Fn() -> RequestBuilder) -> Result<(), GraphError> {
        self.send(build).await.map(|_| ())
    }

    /// Sends, retrying throttling, 5xx and transport errors by the policy; a `Retry-After`
    /// (seconds) sets the wait.
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Vec<u8>, GraphError> {
        let mut attempt = 1;
        loop {
            let (error, retry_after) = match build().send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| GraphError::Transport(e.to_string()))?;
                    if (200..300).contains(&status) {
                        return Ok(body.to_vec());
                    }
                    (from_api_response(status, retry_after, &body), retry_after)
                }
                Err(e) => (GraphError::Transport(e.to_string()), None),
            };
            if !error.is_retryable() || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let wait = self.retry.delay(attempt, retry_after);
            tracing::debug!(?error, ?wait, attempt, "retrying a Graph request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
