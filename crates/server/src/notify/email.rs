//! E-mail over SMTP (`lettre`): the deliverer of `email.booking` jobs, each one message to one
//! recipient about one change of a booking, with its calendar invite.
//!
//! Every message's `Message-ID` is made from its job's id, so a send retried after a crash is
//! the same message to the receiving side. Without `SMTP_URL` e-mail is off: said once at
//! start-up, and the jobs are done at once with nothing sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use pillow_store::{Booking, BookingStatus, Job, Store, TenantId, User};
use secrecy::{ExposeSecret, SecretString};

use super::ics::Invite;
use super::reminders;
use super::smtp::SmtpSender;
use super::templates::{self, MessageFacts, MessageKind, Rendered};
use crate::config::{ConfigError, Source};
use crate::domain::time::stored_zone;
use crate::manage_link::{Action, LinkClaims, ManageLinks};
use crate::outbox::{
    BookingNotice, Deliverer, DeliveryError, JobKind, OutboxJob, Recipient, Reminder, step_now,
};

/// How long one SMTP exchange may take before it counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where and as whom e-mail is sent: `SMTP_URL` and `EMAIL_FROM`.
#[derive(Clone)]
pub struct EmailSettings {
    /// `smtp://host:port` (plain, for a local relay), `smtp://…?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465`; it may hold a password, so it is never shown.
    smtp_url: SecretString,
    from: Mailbox,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailSettings {
    /// The sender's domain, which qualifies invite `UID`s and `Message-ID`s.
    pub fn domain(&self) -> String {
        self.from.email.domain().to_string()
    }

    /// The settings, or `None` when `SMTP_URL` is not set (e-mail off).
    ///
    /// # Errors
    /// `SMTP_URL` that lettre cannot read, or a missing or malformed `EMAIL_FROM`.
    pub fn from_source(source: &dyn Source) -> Result<Option<EmailSettings>, ConfigError> {
        let Some(url) = source.get("SMTP_URL") else {
            return Ok(None);
        };
        if let Err(e) = SmtpSender::check_url(&url) {
            return Err(ConfigError {
                variable: "SMTP_URL",
                problem: format!("cannot be read: {e}"),
                fix: "Use smtp://host:25, smtp://user:pass@host:587?tls=required or \
                      smtps://user:pass@host:465."
                    .into(),
            });
        }
        let fix = "Set it to the sender's address, e.g. Pillow Calendar <bookings@example.com>.";
        let from = source.get("EMAIL_FROM").ok_or_else(|| ConfigError {
            variable: "EMAIL_FROM",
            problem: "is not set, but SMTP_URL is".into(),
            fix: fix.into(),
        })?;
        let from = from.parse::<Mailbox>().map_err(|e| ConfigError {
            variable: "EMAIL_FROM",
            problem: format!("is not an e-mail address: {e}"),
            fix: fix.into(),
        })?;
        Ok(Some(EmailSettings {
            smtp_url: SecretString::from(url),
            from,
        }))
    }
}

/// The deliverer of [`JobKind::EmailBooking`] jobs.
pub struct EmailDeliverer {
    store: Arc<dyn Store>,
    mailer: Option<Mailer>,
    links: Option<Links>,
}

/// What the reschedule and cancel links in a caller's messages are made with.
struct Links {
    signer: Arc<ManageLinks>,
    /// `PUBLIC_URL`, where the hosted page is.
    public_url: String,
}

struct Mailer {
    sender: SmtpSender,
    from: Mailbox,
    /// The sender's domain: qualifies `Message-ID`s and invite `UID`s.
    domain: String,
}

impl EmailDeliverer {
    /// Sends through `settings`, or, with `None`, completes e-mail jobs without sending
    /// (saying so once, here).
    pub fn new(store: Arc<dyn Store>, settings: Option<EmailSettings>) -> EmailDeliverer {
        let mailer = settings.and_then(|settings| {
            // Connections are kept and reused: a storm of confirmations costs one SMTP
            // greeting per connection, not one per message.
            let sender =
                SmtpSender::from_url(settings.smtp_url.expose_secret(), SMTP_TIMEOUT).ok()?;
            let domain = settings.from.email.domain().to_string();
            Some(Mailer {
                sender,
                from: settings.from,
                domain,
            })
        });
        match &mailer {
            Some(mailer) => tracing::info!(from = %mailer.from, "e-mail on"),
            None => tracing::info!("e-mail off: SMTP_URL is not set, so no e-mail is sent"),
        }
        EmailDeliverer {
            store,
            mailer,
            links: None,
        }
    }

    /// Puts signed reschedule and cancel links to the hosted page at `public_url` in the
    /// caller's messages.
    pub fn with_links(mut self, signer: Arc<ManageLinks>, public_url: &str) -> EmailDeliverer {
        self.links = Some(Links {
            signer,
            public_url: public_url.trim_end_matches('/').to_string(),
        });
        self
    }

    /// The caller's links for a booking still on, made through an agent (whose hosted page
    /// they open); empty otherwise.
    fn links_for(&self, booking: &Booking, recipient: Recipient) -> (String, String) {
        let (Some(links), Some(agent), Recipient::Caller, BookingStatus::Confirmed) =
            (&self.links, booking.agent_id, recipient, booking.status)
        else {
            return (String::new(), String::new());
        };
        let now = step_now();
        let url = |action| {
            let link = links
                .signer
                .sign(&LinkClaims::for_booking(booking, action, now));
            format!("{}/book/{agent}?manage={link}", links.public_url)
        };
        (url(Action::Reschedule), url(Action::Cancel))
    }

    /// Reads the settings from `source` (the environment) and builds the deliverer.
    ///
    /// # Errors
    /// As [`EmailSettings::from_source`].
    pub fn from_source(
        store: Arc<dyn Store>,
        source: &dyn Source,
    ) -> Result<EmailDeliverer, ConfigError> {
        Ok(EmailDeliverer::new(
            store,
            EmailSettings::from_source(source)?,
        ))
    }
}

#[async_trait::async_trait]
impl Deliverer for EmailDeliverer {
    fn name(&self) -> &'static str {
        "email"
    }

    fn kinds(&self) -> Vec<JobKind> {
        vec![JobKind::EmailBooking, JobKind::EmailReminder]
    }

    /// An SMTP server takes a repeated message as a new one.
    fn settles_each_job(&self) -> bool {
        true
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        let Some(mailer) = &self.mailer else {
            return Ok(());
        };
        let message = match what {
            OutboxJob::Notice(_, notice) => self.compose(mailer, job, notice).await?,
            OutboxJob::Reminder(_, reminder) => self.remind(mailer, job, reminder).await?,
            _ => None,
        };
        let Some(message) = message else {
            return Ok(());
        };
        let started = Instant::now();
        let sent = mailer
            .sender
            .send(message.envelope(), &message.formatted())
            .await;
        metrics::histogram!("notifications_latency_seconds", "channel" => "email")
            .record(started.elapsed().as_secs_f64());
        match sent {
            Ok(_) => {
                metrics::counter!("notifications_total", "channel" => "email", "outcome" => "sent")
                    .increment(1);
                Ok(())
            }
            Err(error) => {
                metrics::counter!("notifications_total", "channel" => "email", "outcome" => "failed")
                    .increment(1);
                // A 5xx answer (no such mailbox, refused) will not change on a retry.
                if error.is_permanent() {
                    Err(DeliveryError::Permanent(format!("SMTP refused: {error}")))
                } else {
                    Err(DeliveryError::Retry(format!("SMTP: {error}")))
                }
            }
        }
    }
}

impl EmailDeliverer {
    /// The message of `notice`, or `None` when there is nobody to send it to (a caller who
    /// gave no e-mail address).
    async fn compose(
        &self,
        mailer: &Mailer,
        job: &Job,
        notice: &BookingNotice,
    ) -> Result<Option<Message>, DeliveryError> {
        let tenant = job.tenant_id;
        let store = self.store.as_ref();
        let booking = store
            .get_booking(tenant, notice.booking_id)
            .await
            .map_err(DeliveryError::retry)?
            .ok_or_else(|| DeliveryError::Permanent("the booking no longer exists".into()))?;
        let member = store
            .get_user(tenant, booking.user_id)
            .await
            .map_err(DeliveryError::retry)?
            .ok_or_else(|| DeliveryError::Permanent("the booked member no longer exists".into()))?;
        let to = match notice.recipient {
            Recipient::Caller => match &booking.attendee.email {
                Some(email) => (booking.attendee.name.as_str(), email.as_str()),
                None => return Ok(None),
            },
            Recipient::Member => (member.name.as_str(), member.email.as_str()),
        };
        let to = Mailbox::new(
            Some(to.0.to_string()),
            to.1.parse()
                .map_err(|e| DeliveryError::Permanent(format!("bad address {:?}: {e}", to.1)))?,
        );
        let (facts, zone_name) = self
            .facts(tenant, &booking, &member, notice.recipient)
            .await?;
        let template = super::wording(store, tenant, MessageKind::of(notice.change))
            .await
            .map_err(DeliveryError::retry)?;
        let Rendered {
            subject,
            text,
            html,
        } = templates::render(&template, &facts)
            .or_else(|_| {
                templates::render(
                    &templates::default_template(MessageKind::of(notice.change)),
                    &facts,
                )
            })
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let invite = Invite {
            booking_id: booking.id.to_string(),
            domain: &mailer.domain,
            change: notice.change,
            sequence: notice.sequence,
            title: &booking.title,
            description: &format!(
                "Confirmation code: {}\nTimes in {zone_name}.",
                booking.confirmation_code
            ),
            start: booking.start,
            end: booking.end,
            organizer: (&member.name, &member.email),
            attendee: booking
                .attendee
                .email
                .as_deref()
                .map(|email| (booking.attendee.name.as_str(), email)),
            stamp: job.created_at,
        };
        // `zone_name` reads "America/New_York (EST)": the IANA name is before the bracket.
        let iana = zone_name.split(" (").next().unwrap_or_default();
        let zone = jiff::tz::TimeZone::get(iana).unwrap_or(jiff::tz::TimeZone::UTC);
        let series = super::series_ics::series_invite(store, tenant, &booking, &invite, &zone)
            .await
            .map_err(DeliveryError::retry)?;
        let method = invite.method();
        let ics = series.unwrap_or_else(|| invite.to_ics());
        let calendar =
            ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let attachment = ContentType::parse("application/ics")
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let body = MultiPart::mixed()
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(SinglePart::html(html))
                    .singlepart(SinglePart::builder().header(calendar).body(ics.clone())),
            )
            .singlepart(Attachment::new("invite.ics".into()).body(ics, attachment));
        Message::builder()
            .from(mailer.from.clone())
            .to(to)
            .subject(subject)
            // The job's id: the same on every retry of this message, another for any other.
            .message_id(Some(format!("<{}@{}>", job.id, mailer.domain)))
            .multipart(body)
            .map(Some)
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
    }

    /// The reminder of `reminder` to the caller, or `None` when it is no longer wanted (the
    /// booking was cancelled or moved, or its time passed during an outage) or the caller gave
    /// no e-mail address.
    async fn remind(
        &self,
        mailer: &Mailer,
        job: &Job,
        reminder: &Reminder,
    ) -> Result<Option<Message>, DeliveryError> {
        let tenant = job.tenant_id;
        let store = self.store.as_ref();
        let booking = store
            .get_booking(tenant, reminder.booking_id)
            .await
            .map_err(DeliveryError::retry)?;
        if let Err(skip) = reminders::still_wanted(reminder, booking.as_ref(), step_now()) {
            tracing::info!(job = %job.id, booking = %reminder.booking_id, reason = skip.as_str(),
                "reminder not sent");
            metrics::counter!("notifications_total", "channel" => "email", "outcome" => "skipped")
                .increment(1);
            return Ok(None);
        }
        let Some(booking) = booking else {
            return Ok(None);
        };
        let Some(email) = booking.attendee.email.as_deref() else {
            return Ok(None);
        };
        let to = Mailbox::new(
            Some(booking.attendee.name.clone()),
            email
                .parse()
                .map_err(|e| DeliveryError::Permanent(format!("bad address {email:?}: {e}")))?,
        );
        let member = store
            .get_user(tenant, booking.user_id)
            .await
            .map_err(DeliveryError::retry)?
            .ok_or_else(|| DeliveryError::Permanent("the booked member no longer exists".into()))?;
        let (facts, _) = self
            .facts(tenant, &booking, &member, Recipient::Caller)
            .await?;
        let kind = MessageKind::BookingReminder;
        let template = super::wording(store, tenant, kind)
            .await
            .map_err(DeliveryError::retry)?;
        let Rendered {
            subject,
            text,
            html,
        } = templates::render(&template, &facts)
            .or_else(|_| templates::render(&templates::default_template(kind), &facts))
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        Message::builder()
            .from(mailer.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{}@{}>", job.id, mailer.domain)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map(Some)
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
    }

    /// What the templates may say, with times in the agent's zone (the member's without an
    /// agent), and that zone's name.
    async fn facts(
        &self,
        tenant: TenantId,
        booking: &Booking,
        member: &User,
        recipient: Recipient,
    ) -> Result<(MessageFacts, String), DeliveryError> {
        let agent = match booking.agent_id {
            Some(id) => self
                .store
                .get_agent(tenant, id)
                .await
                .map_err(DeliveryError::retry)?,
            None => None,
        };
        let zone_name = agent
            .as_ref()
            .map_or(member.time_zone.as_str(), |a| a.time_zone.as_str())
            .to_string();
        let local = LocalTimes::of(booking.start, booking.end, &zone_name);
        let (reschedule_url, cancel_url) = self.links_for(booking, recipient);
        let facts = MessageFacts {
            recipient: match recipient {
                Recipient::Caller => "caller",
                Recipient::Member => "member",
            },
            customer_name: booking.attendee.name.clone(),
            customer_email: booking.attendee.email.clone().unwrap_or_default(),
            customer_phone: booking.attendee.phone.clone().unwrap_or_default(),
            notes: booking.notes.clone().unwrap_or_default(),
            host_name: member.name.clone(),
            agent_name: agent.map(|a| a.name).unwrap_or_default(),
            title: booking.title.clone(),
            date: local.date,
            time: local.time,
            end_time: local.end_time,
            time_zone: local.time_zone.clone(),
            duration: booking
                .end
                .duration_since(booking.start)
                .as_mins()
                .to_string(),
            confirmation_code: booking.confirmation_code.clone(),
            reschedule_url,
            cancel_url,
        };
        Ok((facts, local.time_zone))
    }
}

/// A booking's times as people read them in one zone, with the zone named.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LocalTimes {
    pub date: String,
    pub time: String,
    pub end_time: String,
    /// The IANA name and the abbreviation in force at the start: `America/New_York (EDT)`.
    pub time_zone: String,
}

impl LocalTimes {
    pub(crate) fn of(start: jiff::Timestamp, end: jiff::Timestamp, zone_name: &str) -> LocalTimes {
        let zone = stored_zone(zone_name);
        let start = start.to_zoned(zone.clone());
        let end = end.to_zoned(zone);
        LocalTimes {
            date: start.strftime("%A, %B %-d, %Y").to_string(),
            time: start.strftime("%-I:%M %p").to_string(),
            end_time: end.strftime("%-I:%M %p").to_string(),
            time_zone: format!("{zone_name} ({})", start.strftime("%Z")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(start: &str, minutes: i64, zone: &str) -> LocalTimes {
        let start: jiff::Timestamp = start.parse().unwrap();
        let end = start + jiff::SignedDuration::from_mins(minutes);
        LocalTimes::of(start, end, zone)
    }

    #[test]
    fn times_are_shown_in_the_zone_with_its_name_on_either_side_of_dst() {
        // New York springs forward on 2026-03-08: 14:00 UTC is 9 AM EST the day before and
        // 10 AM EDT the day after.
        let before = local("2026-03-07T14:00:00Z", 30, "America/New_York");
        assert_eq!(
            (
                before.date.as_str(),
                before.time.as_str(),
                before.time_zone.as_str()
            ),
            (
                "Saturday, March 7, 2026",
                "9:00 AM",
                "America/New_York (EST)"
            )
        );
        let after = local("2026-03-09T14:00:00Z", 30, "America/New_York");
        assert_eq!(
            (
                after.time.as_str(),
                after.end_time.as_str(),
                after.time_zone.as_str()
            ),
            ("10:00 AM", "10:30 AM", "America/New_York (EDT)")
        );
        // Berlin falls back on 2026-10-25 at 01:00 UTC: a meeting across it ends an hour
        // earlier on the wall clock than its length suggests.
        let across = local("2026-10-25T00:30:00Z", 60, "Europe/Berlin");
        assert_eq!(
            (across.time.as_str(), across.end_time.as_str()),
            ("2:30 AM", "2:30 AM")
        );
        assert!(
            across.time_zone.starts_with("Europe/Berlin (CEST"),
            "{across:?}"
        );
        // Sydney is on daylight time in January: 23:00 UTC is 10 AM the next day.
        let sydney = local("2026-01-14T23:00:00Z", 30, "Australia/Sydney");
        assert_eq!(
            (
                sydney.date.as_str(),
                sydney.time.as_str(),
                sydney.time_zone.as_str()
            ),
            (
                "Thursday, January 15, 2026",
                "10:00 AM",
                "Australia/Sydney (AEDT)"
            )
        );
    }
}
