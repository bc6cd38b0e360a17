//! The Google Calendar v3 events client, with retries for rate limits and outages.

use std::time::Duration;

use jiff::Timestamp;
use rand::Rng;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::GoogleEndpoints;
use super::error::{GoogleError, from_api_response};
use super::event::GoogleEvent;

/// How often and how patiently to retry 403 rate limits, 429, 5xx and transport errors.
///
/// The delay before retry `n` (from 1) is `min(max_delay, base_delay * 2^(n-1))`, half of it
/// fixed and half random ("equal jitter"), so many connections backing off at once spread out;
/// a `Retry-After` from Google replaces it (capped at `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first; 1 means no retries.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(32),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let cap = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = cap / 2;
        let jitter_nanos = rand::thread_rng().gen_range(0..=half.as_nanos() as u64);
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// One `events.list` request. Full sync sets `time_min`/`time_max`; incremental sync sets
/// `sync_token` only (Google rejects both together). Then follow `page_token` to the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListEvents {
    pub sync_token: Option<String>,
    pub time_min: Option<Timestamp>,
    pub time_max: Option<Timestamp>,
    pub page_token: Option<String>,
    /// Up to 2500; Google's default is 250.
    pub max_results: Option<u32>,
    /// Include cancelled events in a full sync too (incremental sync always includes them).
    pub show_deleted: bool,
}

/// One page of `events.list`. Only the last page has `next_sync_token`; a page may be empty
/// and still have a `next_page_token`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    #[serde(default)]
    pub items: Vec<GoogleEvent>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub next_sync_token: Option<String>,
}

/// An `events.watch` request: Google will POST (empty body) to `address` on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// Our channel id (a UUID is fine), unique among our live channels.
    pub id: String,
    /// An HTTPS URL Google can reach.
    pub address: String,
    /// Echoed back in `X-Goog-Channel-Token`, so the webhook can tell real notifications.
    pub token: String,
    /// Requested lifetime; Google may grant less.
    pub ttl_seconds: Option<u64>,
}

/// A push channel Google opened.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    /// Google's id of the watched resource; needed to stop the channel.
    pub resource_id: String,
    #[serde(default)]
    pub resource_uri: String,
    /// When Google stops sending; renew before then.
    #[serde(deserialize_with = "millis_timestamp")]
    pub expiration: Timestamp,
    #[serde(default)]
    pub token: Option<String>,
}

/// Google sends `expiration` as milliseconds since the epoch, usually as a string.
fn millis_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Millis {
        Text(String),
        Number(i64),
    }
    let ms = match Millis::deserialize(d)? {
        Millis::Text(s) => s.parse::<i64>().map_err(serde::de::Error::custom)?,
        Millis::Number(n) => n,
    };
    Timestamp::from_millisecond(ms).map_err(serde::de::Error::custom)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    address: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<WatchParams>,
}

#[derive(Serialize)]
struct WatchParams {
    ttl: String,
}

/// The Calendar v3 client. Cheap to clone; share one `reqwest::Client`.
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    base: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl GoogleCalendar {
    pub fn new(endpoints: &GoogleEndpoints, http: reqwest::Client) -> Self {
        Self {
            base: endpoints.calendar_base.trim_end_matches('/').to_owned(),
            http,
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// One page of `events.list`, always with `singleEvents=true` so recurring events arrive
    /// as instances we can store as plain busy intervals.
    ///
    /// # Errors
    /// [`GoogleError::SyncTokenExpired`] on 410: drop the token and do a full sync.
    pub async fn list_events(
        &self,
        access_token: &str,
        calendar_id: &str,
        request: &ListEvents,
    ) -> Result<EventsPage, GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events"])?;
        let mut query: Vec<(&str, String)> = vec![("singleEvents", "true".into())];
        if let Some(token) = &request.sync_token {
            query.push(("syncToken", token.clone()));
        }
        if request.sync_token.is_some() || request.show_deleted {
            query.push(("showDeleted", "true".into()));
        }
        if let Some(t) = request.time_min {
            query.push(("timeMin", t.to_string()));
        }
        if let Some(t) = request.time_max {
            query.push(("timeMax", t.to_string()));
        }
        if let Some(page) = &request.page_token {
            query.push(("pageToken", page.clone()));
        }
        if let Some(n) = request.max_results {
            query.push(("maxResults", n.to_string()));
        }
        self.call(|| {
            self.http
                .get(url.clone())
                .bearer_auth(access_token)
                .query(&query)
        })
        .await
    }

    /// `events.get`. A deleted event still answers, with status `cancelled`.
    pub async fn get_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id])?;
        self.call(|| self.http.get(url.clone()).bearer_auth(access_token))
            .await
    }

    /// `events.insert`. With our deterministic id, a retry of an insert that did succeed
    /// answers [`GoogleError::Duplicate`], which the caller counts as done.
    pub async fn insert_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event: &GoogleEvent,
    ) -> Result<GoogleEvent, GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events"])?;
        self.call(|| {
            self.http
                .post(url.clone())
                .bearer_auth(access_token)
                .json(event)
        })
        .await
    }

    /// `events.patch`. With `if_match` (the ETag we last saw), a concurrent change in Google
    /// answers [`GoogleError::PreconditionFailed`] instead of being overwritten.
    pub async fn patch_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
        if_match: Option<&str>,
        patch: &serde_json::Value,
    ) -> Result<GoogleEvent, GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id])?;
        self.call(|| {
            let request = self
                .http
                .request(Method::PATCH, url.clone())
                .bearer_auth(access_token)
                .json(patch);
            match if_match {
                Some(etag) => request.header(reqwest::header::IF_MATCH, etag),
                None => request,
            }
        })
        .await
    }

    /// `events.delete`. [`GoogleError::Gone`] means it was already deleted: done.
    pub async fn delete_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id])?;
        self.call_empty(|| self.http.delete(url.clone()).bearer_auth(access_token))
            .await
    }

    /// `events.watch`: opens a push channel on the calendar's events.
    pub async fn watch(
        &self,
        access_token: &str,
        calendar_id: &str,
        channel: &WatchRequest,
    ) -> Result<Channel, GoogleError> {
        let url = self.url(&["calendars", calendar_id, "events", "watch"])?;
        let body = WatchBody {
            id: &channel.id,
            kind: "web_hook",
            address: &channel.address,
            token: &channel.token,
            params: channel.ttl_seconds.map(|ttl| WatchParams {
                ttl: ttl.to_string(),
            }),
        };
        self.call(|| {
            self.http
                .post(url.clone())
                .bearer_auth(access_token)
                .json(&body)
        })
        .await
    }

    /// `channels.stop`: Google stops sending to the channel.
    pub async fn stop_channel(
        &self,
        access_token: &str,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<(), GoogleError> {
        let url = self.url(&["channels", "stop"])?;
        let body = serde_json::json!({ "id": channel_id, "resourceId": resource_id });
        self.call_empty(|| {
            self.http
                .post(url.clone())
                .bearer_auth(access_token)
                .json(&body)
        })
        .await
    }

    /// `base/seg/seg…`, each segment percent-encoded (calendar ids contain `@` and `#`).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, GoogleError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| GoogleError::Transport(format!("calendar base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| GoogleError::Transport("calendar base URL cannot be a base".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, GoogleError> {
        let body = self.send(build).await?;
        serde_json::from_slice(&body).map_err(|e| GoogleError::Decode(e.to_string()))
    }

    async fn call_empty(&self, build: impl Fn() -> RequestBuilder) -> Result<(), GoogleError> {
        self.send(build).await.map(drop)
    }

    /// Sends, retrying what [`GoogleError::is_retryable`] says can succeed later.
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Vec<u8>, GoogleError> {
        let mut attempt = 1;
        loop {
            let error = match self.send_once(build()).await {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            if !error.is_retryable() || attempt >= self.retry.max_attempts.max(1) {
                return Err(error);
            }
            let retry_after = match &error {
                GoogleError::RateLimited { retry_after } => *retry_after,
                _ => None,
            };
            let wait = self.retry.delay(attempt, retry_after);
            tracing::warn!(attempt, ?wait, %error, "retrying a Google Calendar request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, request: RequestBuilder) -> Result<Vec<u8>, GoogleError> {
        let response = request
            .send()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        if status.is_success() {
            return Ok(if status == StatusCode::NO_CONTENT {
                Vec::new()
            } else {
                body.to_vec()
            });
        }
        Err(from_api_response(status.as_u16(), retry_after, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..100 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d9 = p.delay(9, None);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| p.delay(4, None)).collect();
        assert!(spread.len() > 1, "delays are jittered");
    }

    #[test]
    fn retry_after_replaces_the_backoff_but_is_capped() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn a_channel_reads_its_expiration_in_milliseconds() {
        let c: Channel = serde_json::from_str(
            r#"{"kind":"api#channel","id":"ch1","resourceId":"r1","resourceUri":"u","token":"t","expiration":"1426325213000"}"#,
        )
        .unwrap();
        assert_eq!(
            c.expiration,
            Timestamp::from_millisecond(1426325213000).unwrap()
        );
    }

    #[test]
    fn urls_percent_encode_calendar_ids() {
        let c = GoogleCalendar::new(&GoogleEndpoints::default(), reqwest::Client::new());
        let url = c
            .url(&[
                "calendars",
                "en.usa#holiday@group.v.calendar.google.com",
                "events",
            ])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/en.usa%23holiday@group.v.calendar.google.com/events"
        );
    }
}
