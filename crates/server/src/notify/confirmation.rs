//! What a booking's confirmation on screen says about messages: where the details were sent
//! (masked, so a shared screen does not show the whole address), and "Add to calendar" links
//! for Google Calendar and Outlook on the web with the appointment's times in UTC, beside an
//! `.ics` download of the same event as the e-mailed invite (same `UID`).

use std::sync::Arc;

use jiff::Timestamp;
use pillow_store::{Booking, BookingStatus, Store, StoreResult, TenantId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Config;
use crate::domain::bookings::{BookingView, Notifications};
use crate::notify::sms::e164;

/// Where a new booking's confirmation went, each address masked; only channels that are on
/// for the agent and on this server and that queued a message appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SentTo {
    /// The caller's e-mail address, masked: `j…@example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The caller's phone number, masked to its last digits: `…0123`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// "Add to calendar": where the caller can put the appointment in their own calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CalendarLinks {
    /// The appointment as an `.ics` file (`METHOD:PUBLISH`), behind a signed link that works
    /// until the appointment starts; `null` when the booking is not held here (Cal.com).
    pub ics: Option<String>,
    /// Google Calendar's "new event" page, filled in.
    pub google: String,
    /// Outlook on the web's "new event" page, filled in.
    pub outlook: String,
}

/// What an event in someone's calendar says: title, details, and its instants.
#[derive(Debug, Clone)]
pub struct Appointment<'a> {
    pub title: &'a str,
    pub details: &'a str,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Appointment<'_> {
    /// Google Calendar's template link, the times in UTC (`20260310T183000Z/…`).
    pub fn google(&self) -> String {
        let dates = format!("{}/{}", compact(self.start), compact(self.end));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("action", "TEMPLATE")
            .append_pair("text", self.title)
            .append_pair("dates", &dates)
            .append_pair("details", self.details)
            .finish();
        format!("https://calendar.google.com/calendar/render?{query}")
    }

    /// Outlook on the web's compose link, the times in UTC (`2026-03-10T18:30:00Z`).
    pub fn outlook(&self) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("path", "/calendar/action/compose")
            .append_pair("rru", "addevent")
            .append_pair("subject", self.title)
            .append_pair("startdt", &rfc3339(self.start))
            .append_pair("enddt", &rfc3339(self.end))
            .append_pair("body", self.details)
            .finish();
        format!("https://outlook.live.com/calendar/0/action/compose?{query}")
    }
}

/// `j…@example.com`: the first character of the mailbox, and the domain.
pub fn mask_email(email: &str) -> String {
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
    }
}

/// `…0123`: the last four digits of a phone number.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("…{last}")
}

/// Where a booking's confirmation went: e-mail when the agent sends it and this server has
/// SMTP, a text when the agent sends texts, the server has Twilio and the caller's number is
/// one Twilio takes (E.164) and has not opted out. `None` when nothing was sent.
///
/// # Errors
/// Database failures.
pub async fn sent_to(
    store: &dyn Store,
    config: &Config,
    notifications: &Notifications,
    view: &BookingView,
) -> StoreResult<Option<SentTo>> {
    let email = view
        .attendee
        .email
        .as_deref()
        .filter(|e| notifications.send_email && config.email.is_some() && !e.trim().is_empty())
        .map(mask_email);
    let mut phone = None;
    if let Some(number) = view.attendee.phone.as_deref().and_then(e164)
        && notifications.send_sms
        && config.sms.is_some()
        && store.get_sms_opt_out(&number).await?.is_none()
    {
        phone = Some(mask_phone(&number));
    }
    Ok((email.is_some() || phone.is_some()).then_some(SentTo { email, phone }))
}

/// The "Add to calendar" links of a booking held here; the `.ics` link is signed with the
/// server's manage-link key.
pub fn links(
    signer: &Arc<crate::manage_link::ManageLinks>,
    public_url: &str,
    tenant: TenantId,
    view: &BookingView,
) -> CalendarLinks {
    let claims = crate::manage_link::LinkClaims::calendar(tenant, view.id, view.start_time);
    let (title, details) = caller_texts(&view.user_name, &view.confirmation_code);
    let appointment = Appointment {
        title: &title,
        details: &details,
        start: view.start_time,
        end: view.end_time,
    };
    CalendarLinks {
        ics: Some(format!(
            "{public_url}/api/public/bookings/link/ics?token={}",
            signer.sign(&claims)
        )),
        google: appointment.google(),
        outlook: appointment.outlook(),
    }
}

/// The event's title and details in the caller's calendar: who it is with and the code.
pub fn caller_texts(host: &str, code: &str) -> (String, String) {
    (
        format!("Appointment with {host}"),
        format!("Confirmation code: {code}. Keep it to change or cancel the appointment."),
    )
}

/// The downloadable `.ics` of a booking as it is now: a `PUBLISH` of the invite's `UID`, so a
/// calendar holding the e-mailed invite keeps one event. Its `SEQUENCE` is the booking's first
/// (0): a later e-mailed change, at a higher one, still updates the imported copy.
pub fn download(booking: &Booking, domain: &str, host: &str) -> String {
    let (title, details) = caller_texts(host, &booking.confirmation_code);
    crate::notify::ics::Invite {
        booking_id: booking.id.to_string(),
        domain,
        change: if booking.status == BookingStatus::Cancelled {
            crate::outbox::Change::Cancelled
        } else {
            crate::outbox::Change::Created
        },
        sequence: 0,
        title: &title,
        description: &details,
        start: booking.start,
        end: booking.end,
        organizer: (host, ""),
        attendee: None,
        stamp: booking.updated_at,
    }
    .to_published_ics()
}

/// The host of the server's public URL (`calendar.example.com`), which qualifies `UID`s when
/// the server sends no e-mail.
pub fn public_host(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() {
        "pillow-calendar".into()
    } else {
        host.to_string()
    }
}

/// An instant as `20260310T183000Z`.
fn compact(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// An instant as `2026-03-10T18:30:00Z`.
fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appointment() -> Appointment<'static> {
        Appointment {
            title: "Appointment with Ada & Co",
            details: "Confirmation code: K7M4PQ2XR.",
            start: "2026-03-10T18:30:00Z".parse().unwrap(),
            end: "2026-03-10T19:00:00Z".parse().unwrap(),
        }
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let (_, query) = url.split_once('?').unwrap();
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn the_google_link_carries_the_title_and_utc_times() {
        let url = appointment().google();
        assert!(url.starts_with("https://calendar.google.com/calendar/render?"));
        let pairs = query(&url);
        assert!(pairs.contains(&("action".into(), "TEMPLATE".into())));
        assert!(pairs.contains(&("text".into(), "Appointment with Ada & Co".into())));
        assert!(pairs.contains(&("dates".into(), "20260310T183000Z/20260310T190000Z".into())));
    }

    #[test]
    fn the_outlook_link_carries_the_subject_and_utc_times() {
        let url = appointment().outlook();
        assert!(url.starts_with("https://outlook.live.com/calendar/0/action/compose?"));
        let pairs = query(&url);
        assert!(pairs.contains(&("subject".into(), "Appointment with Ada & Co".into())));
        assert!(pairs.contains(&("startdt".into(), "2026-03-10T18:30:00Z".into())));
        assert!(pairs.contains(&("enddt".into(), "2026-03-10T19:00:00Z".into())));
        assert!(pairs.contains(&("rru".into(), "addevent".into())));
    }

    #[test]
    fn addresses_are_masked_to_what_the_caller_recognises() {
        assert_eq!(mask_email("john.smith@example.com"), "j…@example.com");
        assert_eq!(mask_email("j@example.com"), "j…@example.com");
        assert_eq!(mask_phone("+15555550123"), "…0123");
        assert_eq!(mask_phone("+1 (555) 555-0199"), "…0199");
    }
}
