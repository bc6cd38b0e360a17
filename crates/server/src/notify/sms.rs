//! SMS through Twilio's Messaging API: the deliverer of `sms.booking` and `sms.reminder` jobs,
//! short texts to the caller with the time (its zone named) and the confirmation code.
//!
//! Settings: `TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN`, and `TWILIO_FROM` (our number, E.164)
//! or `TWILIO_MESSAGING_SERVICE_SID`; `TWILIO_API_BASE_URL` points elsewhere than
//! `https://api.twilio.com` (a fake, in tests). Without the account SID, SMS is off: said once
//! at start-up, and the jobs are done at once with nothing sent.
//!
//! A number that replied STOP is kept in the store ([`SmsOptOutStore`]) and never texted
//! again; Twilio's own answer `21610` (unsubscribed recipient) records it too. Replies and
//! delivery reports come in through `http/sms.rs`, checked with [`valid_signature`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use pillow_store::{Booking, Job, Store};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

use super::email::LocalTimes;
use super::reminders;
use crate::config::{ConfigError, Source};
use crate::outbox::{Change, Deliverer, DeliveryError, JobKind, OutboxJob, step_now};

/// Twilio's production API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
/// Where Twilio posts delivery reports and replies to us, under `PUBLIC_URL`.
pub const STATUS_PATH: &str = "/api/sms/twilio/status";
pub const INBOUND_PATH: &str = "/api/sms/twilio/inbound";
const TIMEOUT: Duration = Duration::from_secs(20);

/// Twilio's answer codes we act on.
const INVALID_NUMBER: i64 = 21211;
const UNSUBSCRIBED: i64 = 21610;

/// Who texts go out as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sender {
    /// `From`: one of our Twilio numbers.
    Number(String),
    /// `MessagingServiceSid`: Twilio picks the number.
    Service(String),
}

/// `TWILIO_*`: the account, its token, the sender and the API's address.
#[derive(Clone)]
pub struct SmsSettings {
    account_sid: String,
    auth_token: SecretString,
    sender: Sender,
    api_base: String,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("account_sid", &self.account_sid)
            .field("sender", &self.sender)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl SmsSettings {
    /// The settings, or `None` when `TWILIO_ACCOUNT_SID` is not set (SMS off).
    ///
    /// # Errors
    /// An account SID without a token or a sender, or a `TWILIO_FROM` not in E.164.
    pub fn from_source(source: &dyn Source) -> Result<Option<SmsSettings>, ConfigError> {
        let Some(account_sid) = source.get("TWILIO_ACCOUNT_SID") else {
            return Ok(None);
        };
        let auth_token = source.get("TWILIO_AUTH_TOKEN").ok_or_else(|| ConfigError {
            variable: "TWILIO_AUTH_TOKEN",
            problem: "is not set, but TWILIO_ACCOUNT_SID is".into(),
            fix: "Set it to the auth token of the Twilio account (Console, Account Info).".into(),
        })?;
        let sender = match (
            source.get("TWILIO_FROM"),
            source.get("TWILIO_MESSAGING_SERVICE_SID"),
        ) {
            (Some(number), None) if e164(&number).is_some() => {
                Sender::Number(e164(&number).unwrap_or(number))
            }
            (Some(number), None) => {
                return Err(ConfigError {
                    variable: "TWILIO_FROM",
                    problem: format!("{number:?} is not a phone number in E.164 form"),
                    fix: "Write it with + and the country code, e.g. +15555550123.".into(),
                });
            }
            (None, Some(service)) => Sender::Service(service),
            _ => {
                return Err(ConfigError {
                    variable: "TWILIO_FROM",
                    problem: "exactly one of TWILIO_FROM and TWILIO_MESSAGING_SERVICE_SID must be \
                              set"
                    .into(),
                    fix: "Set TWILIO_FROM to your Twilio number, or TWILIO_MESSAGING_SERVICE_SID \
                          to a messaging service."
                        .into(),
                });
            }
        };
        let api_base = source
            .get("TWILIO_API_BASE_URL")
            .unwrap_or_else(|| DEFAULT_API_BASE.to_string())
            .trim_end_matches('/')
            .to_string();
        Ok(Some(SmsSettings {
            account_sid,
            auth_token: SecretString::from(auth_token),
            sender,
            api_base,
        }))
    }

    /// The token that signs Twilio's requests to us.
    pub fn auth_token(&self) -> &str {
        self.auth_token.expose_secret()
    }
}

/// `number` in E.164 (`+` and up to 15 digits, the first not 0) once spaces, dashes, dots and
/// brackets are taken out; `None` when it is not one. No country is guessed for a number
/// written without its code.
pub fn e164(number: &str) -> Option<String> {
    let compact: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    let fine = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    fine.then_some(compact)
}

/// Whether `signature` (`X-Twilio-Signature`) is Twilio's for a POST of `params` to `url`:
/// base64 HMAC-SHA1 under the auth token of the URL followed by each parameter's name and
/// value, sorted by name; compared in constant time.
pub fn valid_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&given).is_ok()
}

/// The deliverer of [`JobKind::SmsBooking`] and [`JobKind::SmsReminder`] jobs.
pub struct SmsDeliverer {
    store: Arc<dyn Store>,
    settings: Option<SmsSettings>,
    client: reqwest::Client,
    /// `PUBLIC_URL`: where Twilio reports on delivery.
    public_url: String,
}

impl SmsDeliverer {
    /// Sends through `settings`, or, with `None`, completes SMS jobs without sending (saying so
    /// once, here).
    pub fn new(
        store: Arc<dyn Store>,
        settings: Option<SmsSettings>,
        public_url: &str,
    ) -> SmsDeliverer {
        match &settings {
            Some(s) => tracing::info!(account = %s.account_sid, "SMS on (Twilio)"),
            None => tracing::info!("SMS off: TWILIO_ACCOUNT_SID is not set, so no text is sent"),
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        SmsDeliverer {
            store,
            settings,
            client,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The text of a job about `booking`, or `None` when there is nothing to send.
    async fn text(
        &self,
        job: &Job,
        what: &OutboxJob,
        booking: &Booking,
    ) -> Result<Option<String>, DeliveryError> {
        let zone_name = match booking.agent_id {
            Some(agent) => self
                .store
                .get_agent(job.tenant_id, agent)
                .await
                .map_err(DeliveryError::retry)?
                .map(|a| a.time_zone),
            None => None,
        };
        let zone_name = match zone_name {
            Some(zone) => zone,
            None => self
                .store
                .get_user(job.tenant_id, booking.user_id)
                .await
                .map_err(DeliveryError::retry)?
                .map_or_else(|| "UTC".to_string(), |u| u.time_zone),
        };
        let local = LocalTimes::of(booking.start, booking.end, &zone_name);
        let when = format!("{} at {} ({})", local.date, local.time, local.time_zone);
        let code = &booking.confirmation_code;
        Ok(Some(match what {
            OutboxJob::Notice(_, notice) => match notice.change {
                Change::Created => format!("Confirmed: {} on {when}. Code {code}.", booking.title),
                Change::Rescheduled => {
                    format!("Moved: {} is now {when}. Code {code}.", booking.title)
                }
                Change::Cancelled => format!("Cancelled: {} on {when}.", booking.title),
            },
            OutboxJob::Reminder(_, _) => {
                format!("Reminder: {} on {when}. Code {code}.", booking.title)
            }
            _ => return Ok(None),
        }))
    }

    async fn send(
        &self,
        settings: &SmsSettings,
        to: &str,
        body: &str,
    ) -> Result<(), DeliveryError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            settings.api_base, settings.account_sid
        );
        let mut form = vec![("To", to.to_string()), ("Body", body.to_string())];
        match &settings.sender {
            Sender::Number(number) => form.push(("From", number.clone())),
            Sender::Service(sid) => form.push(("MessagingServiceSid", sid.clone())),
        }
        form.push((
            "StatusCallback",
            format!("{}{STATUS_PATH}", self.public_url),
        ));
        let started = Instant::now();
        let answer = self
            .client
            .post(url)
            .basic_auth(&settings.account_sid, Some(settings.auth_token()))
            .form(&form)
            .send()
            .await;
        metrics::histogram!("notifications_latency_seconds", "channel" => "sms")
            .record(started.elapsed().as_secs_f64());
        let outcome = |outcome: &'static str| {
            metrics::counter!("notifications_total", "channel" => "sms", "outcome" => outcome)
                .increment(1);
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                outcome("failed");
                return Err(DeliveryError::Retry(format!("Twilio unreachable: {error}")));
            }
        };
        let status = answer.status();
        if status.is_success() {
            outcome("sent");
            return Ok(());
        }
        outcome("failed");
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        let code = body["code"].as_i64().unwrap_or_default();
        let message = body["message"].as_str().unwrap_or("no message").to_string();
        let reason = format!("Twilio {code} ({}): {message}", status.as_u16());
        if code == UNSUBSCRIBED {
            // Twilio holds the opt-out; keep it too, so no later text is even tried.
            self.store
                .set_sms_opt_out(to, true, jiff::Timestamp::now())
                .await
                .map_err(DeliveryError::retry)?;
        }
        if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 401 {
            // Rate limited, Twilio down, or credentials being fixed: later may work.
            Err(DeliveryError::Retry(reason))
        } else if code == INVALID_NUMBER || code == UNSUBSCRIBED || status.is_client_error() {
            Err(DeliveryError::Permanent(reason))
        } else {
            Err(DeliveryError::Retry(reason))
        }
    }
}

#[async_trait::async_trait]
impl Deliverer for SmsDeliverer {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn kinds(&self) -> Vec<JobKind> {
        vec![JobKind::SmsBooking, JobKind::SmsReminder]
    }

    /// A gateway sends a repeated text as a new one.
    fn settles_each_job(&self) -> bool {
        true
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        let Some(settings) = &self.settings else {
            return Ok(());
        };
        let booking_id = match what {
            OutboxJob::Notice(_, notice) => notice.booking_id,
            OutboxJob::Reminder(_, reminder) => reminder.booking_id,
            _ => return Ok(()),
        };
        let booking = self
            .store
            .get_booking(job.tenant_id, booking_id)
            .await
            .map_err(DeliveryError::retry)?;
        if let OutboxJob::Reminder(_, reminder) = what
            && let Err(skip) = reminders::still_wanted(reminder, booking.as_ref(), step_now())
        {
            tracing::info!(job = %job.id, booking = %booking_id, reason = skip.as_str(),
                "reminder not sent");
            metrics::counter!("notifications_total", "channel" => "sms", "outcome" => "skipped")
                .increment(1);
            return Ok(());
        }
        let booking = booking
            .ok_or_else(|| DeliveryError::Permanent("the booking no longer exists".into()))?;
        let Some(phone) = booking.attendee.phone.as_deref() else {
            return Ok(());
        };
        let Some(to) = e164(phone) else {
            return Err(DeliveryError::Permanent(format!(
                "the caller's number {phone:?} is not in E.164 form (+ and the country code)"
            )));
        };
        let opted_out = self
            .store
            .get_sms_opt_out(&to)
            .await
            .map_err(DeliveryError::retry)?;
        if opted_out.is_some() {
            tracing::info!(job = %job.id, "not texted: the number replied STOP");
            metrics::counter!("notifications_total", "channel" => "sms", "outcome" => "opted_out")
                .increment(1);
            return Ok(());
        }
        let Some(text) = self.text(job, what, &booking).await? else {
            return Ok(());
        };
        self.send(settings, &to, &text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_e164_without_guessing_a_country() {
        assert_eq!(e164("+1 (555) 555-0123").as_deref(), Some("+15555550123"));
        assert_eq!(e164("+44 7700.900123").as_deref(), Some("+447700900123"));
        assert_eq!(e164("555-0123"), None);
        assert_eq!(e164("+0123456"), None);
        assert_eq!(e164("+1234567890123456"), None);
        assert_eq!(e164("+1555abc0123"), None);
    }

    #[test]
    fn a_signature_is_checked_against_twilio_s_worked_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(valid_signature(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!valid_signature(
            "54321",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!valid_signature(
            "12345",
            url,
            &params[1..],
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!valid_signature("12345", url, &params, "not base64!"));
    }
}
