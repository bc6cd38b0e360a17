//! The CalDAV adapter: iCloud, Fastmail, Nextcloud, Radicale, any RFC 4791 server, through the
//! client in `pillow_providers::caldav` (libdav).
//!
//! A connection keeps the calendar's absolute URL as its `calendar_id`, the user name as its
//! account, and the app password sealed where OAuth connections keep their access token.
//! One `.ics` resource can hold a recurring event, so it becomes one busy event per instance
//! in the sync window, keyed `<href>#<instance id>`; the cursor we store remembers which
//! instance ids each resource gave, so a changed or deleted resource replaces exactly its own
//! instances. A full listing runs at least daily to move the window on.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::Uri;
use jiff::{SignedDuration, Timestamp};
use pillow_providers::caldav::{
    self as dav, AddressPolicy, CalDavAccount, CalDavClient, CalDavError, CalendarObject, Deleted,
    EventTime, SyncCursor, Window, Written,
};
use pillow_providers::crypto::SecretBox;
use pillow_store::{
    BookingId, CalendarConnection, EventSource, EventStatus, NewCalendarEvent, Store, Transparency,
};
use serde::{Deserialize, Serialize};

use super::provider::{BookingEntry, CalendarProvider, ChangeSet, OwnEvent, ProviderError};
use crate::domain::time::{AllDayDate, stored_zone};

/// The sync window: this far back and ahead of now. Further ahead than Google's 90 days:
/// recurring events are expanded here, which is cheap, and bookings may be made months out.
pub const DAYS_BACK: i64 = 30;
pub const DAYS_AHEAD: i64 = 180;
/// A full listing at least this often, so recurring events' instances follow the window.
const FULL_EVERY: SignedDuration = SignedDuration::from_hours(24);
/// How often a write re-reads after a 412 before giving up until the next retry.
const WRITE_ATTEMPTS: usize = 3;

/// Server URLs for providers people name rather than know.
pub fn preset(server_url: &str) -> &str {
    match server_url.trim().to_ascii_lowercase().as_str() {
        "icloud" | "caldav.icloud.com" => "https://caldav.icloud.com",
        "fastmail" | "caldav.fastmail.com" => "https://caldav.fastmail.com",
        _ => server_url.trim(),
    }
}

/// What we store as a CalDAV connection's `sync_token`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    /// The server's cursor (sync token, or ctag and ETags).
    sync: Option<SyncCursor>,
    /// The instance ids each resource (href) gave at its last change.
    instances: BTreeMap<String, Vec<String>>,
    /// When the last full listing ran.
    full_at: Option<Timestamp>,
}

/// The CalDAV [`CalendarProvider`].
pub struct CalDavProvider {
    store: Arc<dyn Store>,
    secrets: SecretBox,
    policy: AddressPolicy,
}

impl CalDavProvider {
    pub fn new(store: Arc<dyn Store>, secrets: SecretBox, policy: AddressPolicy) -> Self {
        Self {
            store,
            secrets,
            policy,
        }
    }

    /// The zone of the connection's member: floating times and all-day dates in their
    /// calendar are theirs, not UTC.
    async fn owner_zone(
        &self,
        connection: &CalendarConnection,
    ) -> Result<jiff::tz::TimeZone, ProviderError> {
        let user = self
            .store
            .get_user(connection.tenant_id, connection.user_id)
            .await?;
        Ok(user.map_or(jiff::tz::TimeZone::UTC, |u| stored_zone(&u.time_zone)))
    }

    /// A client for `account`, under this server's address policy.
    ///
    /// # Errors
    /// [`CalDavError::BadUrl`].
    pub fn client(&self, account: &CalDavAccount) -> Result<CalDavClient, CalDavError> {
        CalDavClient::connect(account, self.policy)
    }

    /// The client and calendar path of a stored connection.
    fn open(
        &self,
        connection: &CalendarConnection,
    ) -> Result<(CalDavClient, String), ProviderError> {
        let sealed = connection
            .access_token_encrypted
            .as_deref()
            .ok_or(ProviderError::NeedsReauth)?;
        let password = self
            .secrets
            .open(sealed)
            .map_err(|e| ProviderError::Sealed(e.to_string()))?;
        let (server_url, href) = split_url(&connection.calendar_id).ok_or_else(|| {
            ProviderError::Other(format!("bad calendar URL {}", connection.calendar_id))
        })?;
        let account = CalDavAccount {
            server_url,
            username: connection.account_email.clone(),
            password: password.into(),
        };
        Ok((self.client(&account).map_err(failed)?, href))
    }
}

/// `https://host:port` and the path of an absolute calendar URL.
pub fn split_url(url: &str) -> Option<(String, String)> {
    let uri: Uri = url.parse().ok()?;
    let base = format!("{}://{}", uri.scheme_str()?, uri.authority()?);
    Some((base, uri.path().to_string()))
}

/// A CalDAV failure as the engine acts on it.
pub fn failed(error: CalDavError) -> ProviderError {
    match error {
        CalDavError::Unauthorized => ProviderError::NeedsReauth,
        CalDavError::Status(429 | 503) => ProviderError::RateLimited { retry_after: None },
        other => ProviderError::Other(other.to_string()),
    }
}

/// The sync window, with `zone` (the member's) for times that name no zone of their own.
fn window(now: Timestamp, zone: jiff::tz::TimeZone) -> Window {
    Window {
        start: now - SignedDuration::from_hours(24 * DAYS_BACK),
        end: now + SignedDuration::from_hours(24 * DAYS_AHEAD),
        zone,
    }
}

/// The booking a resource we wrote belongs to, from its name (`pillow-booking-<id>.ics`).
fn booking_of_href(href: &str) -> Option<BookingId> {
    let name = href.rsplit('/').next()?;
    let id = name.strip_prefix("pillow-booking-")?.strip_suffix(".ics")?;
    id.parse().ok().map(BookingId)
}

fn instant(t: EventTime) -> Option<Timestamp> {
    match t {
        EventTime::At(t) => Some(t),
        EventTime::On(d) => AllDayDate(d).carrier(),
    }
}

/// One resource's busy events (one per instance in the window) and our bookings among them.
fn resource_events(
    connection: &CalendarConnection,
    object: &CalendarObject,
    window: &Window,
) -> (Vec<NewCalendarEvent>, Vec<OwnEvent>) {
    let occurrences = match object.occurrences(window) {
        Ok(o) => o,
        Err(error) => {
            tracing::warn!(connection = %connection.id, href = %object.href, %error,
                "skipping a CalDAV resource we cannot read");
            return (Vec::new(), Vec::new());
        }
    };
    let mut events = Vec::new();
    let mut own = Vec::new();
    for o in occurrences {
        let cancelled = o.status == dav::EventStatus::Cancelled;
        if let Some(booking) = o.booking_id.as_deref().and_then(|b| b.parse().ok()) {
            let span = match (o.start, o.end) {
                (EventTime::At(s), EventTime::At(e)) if !cancelled => Some((s, e)),
                _ => None,
            };
            own.push(OwnEvent {
                booking: BookingId(booking),
                span,
            });
            continue;
        }
        let (Some(start), Some(end)) = (instant(o.start), instant(o.end)) else {
            continue;
        };
        if cancelled || end < start {
            continue;
        }
        events.push(NewCalendarEvent {
            user_id: connection.user_id,
            provider_id: Some(connection.id),
            external_id: Some(format!("{}#{}", object.href, o.id)),
            etag: Some(object.etag.clone()),
            title: o
                .summary
                .clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "(busy)".to_string()),
            description: None,
            start,
            end,
            all_day: o.is_all_day(),
            status: match o.status {
                dav::EventStatus::Tentative => EventStatus::Tentative,
                _ => EventStatus::Confirmed,
            },
            transparency: match o.transparency {
                dav::Transparency::Transparent => Transparency::Transparent,
                _ => Transparency::Opaque,
            },
            source: EventSource::Caldav,
            booking_id: None,
        });
    }
    (events, own)
}

#[async_trait::async_trait]
impl CalendarProvider for CalDavProvider {
    fn kind(&self) -> &'static str {
        "caldav"
    }

    fn name(&self) -> &'static str {
        "CalDAV calendar"
    }

    async fn changes(
        &self,
        connection: &CalendarConnection,
        cursor: Option<&str>,
    ) -> Result<ChangeSet, ProviderError> {
        let now = Timestamp::now();
        let mut stored: Cursor = cursor
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        if stored
            .full_at
            .is_none_or(|at| now.duration_since(at) > FULL_EVERY)
        {
            stored.sync = None;
        }
        let (client, href) = self.open(connection)?;
        let changes = client
            .changes(&href, stored.sync.as_ref())
            .await
            .map_err(failed)?;
        let window = window(now, self.owner_zone(connection).await?);
        let mut set = ChangeSet {
            full: changes.full,
            ..Default::default()
        };
        let mut instances = if changes.full {
            BTreeMap::new()
        } else {
            stored.instances.clone()
        };
        for object in &changes.changed {
            let (events, own) = resource_events(connection, object, &window);
            let ids: Vec<String> = events
                .iter()
                .filter_map(|e| e.external_id.clone())
                .collect();
            if let Some(old) = stored.instances.get(&object.href)
                && !changes.full
            {
                set.deleted
                    .extend(old.iter().filter(|id| !ids.contains(id)).cloned());
            }
            instances.insert(object.href.clone(), ids);
            set.upserts.extend(events);
            set.own.extend(own);
        }
        for href in &changes.deleted {
            if let Some(old) = instances.remove(href) {
                set.deleted.extend(old);
            }
            if let Some(booking) = booking_of_href(href) {
                set.own.push(OwnEvent {
                    booking,
                    span: None,
                });
            }
        }
        let next = Cursor {
            sync: Some(changes.cursor),
            instances,
            full_at: if changes.full {
                Some(now)
            } else {
                stored.full_at
            },
        };
        set.cursor = serde_json::to_string(&next).ok();
        Ok(set)
    }

    async fn write_booking(
        &self,
        connection: &CalendarConnection,
        entry: &BookingEntry,
    ) -> Result<(), ProviderError> {
        let (client, calendar) = self.open(connection)?;
        let ical = dav::booking_ical(
            entry.booking.0,
            &entry.title,
            entry.description.as_deref(),
            entry.start,
            entry.end,
        );
        let mut current = match client
            .create_event(&calendar, entry.booking.0, &ical)
            .await
            .map_err(failed)?
        {
            Written::Done { .. } => return Ok(()),
            Written::AlreadyThere(current) | Written::Stale(current) => current,
        };
        for _ in 0..WRITE_ATTEMPTS {
            if shows(&current, entry) {
                return Ok(());
            }
            match client
                .update_event(&current.href, &current.etag, &ical)
                .await
                .map_err(failed)?
            {
                Written::Done { .. } => return Ok(()),
                // Changed on the server since we read it: decide again from what is there.
                Written::Stale(now) | Written::AlreadyThere(now) => current = now,
            }
        }
        Err(ProviderError::Other(
            "the booking's CalDAV event kept changing under our writes".into(),
        ))
    }

    async fn delete_booking(
        &self,
        connection: &CalendarConnection,
        booking: BookingId,
    ) -> Result<(), ProviderError> {
        let (client, calendar) = self.open(connection)?;
        let href = CalDavClient::booking_href(&calendar, booking.0);
        let mut current = match client.get_event(&href).await {
            Ok(current) => current,
            Err(CalDavError::NotFound) => return Ok(()),
            Err(other) => return Err(failed(other)),
        };
        for _ in 0..WRITE_ATTEMPTS {
            match client
                .delete_event(&current.href, &current.etag)
                .await
                .map_err(failed)?
            {
                Deleted::Done | Deleted::AlreadyGone => return Ok(()),
                Deleted::Stale(now) => current = now,
            }
        }
        Err(ProviderError::Other(
            "the booking's CalDAV event kept changing under our delete".into(),
        ))
    }
}

/// Whether the resource already shows the booking at its time.
fn shows(current: &CalendarObject, entry: &BookingEntry) -> bool {
    let around = Window {
        start: entry.start - SignedDuration::from_hours(24),
        end: entry.end + SignedDuration::from_hours(24),
        zone: jiff::tz::TimeZone::UTC,
    };
    current.occurrences(&around).is_ok_and(|occurrences| {
        occurrences.iter().any(|o| {
            o.booking_id.as_deref() == Some(&entry.booking.to_string())
                && o.start == EventTime::At(entry.start)
                && o.end == EventTime::At(entry.end)
                && o.status != dav::EventStatus::Cancelled
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_icloud_and_fastmail_and_leave_other_urls_alone() {
        assert_eq!(preset("iCloud"), "https://caldav.icloud.com");
        assert_eq!(preset("fastmail"), "https://caldav.fastmail.com");
        assert_eq!(
            preset(" https://dav.example.org/ "),
            "https://dav.example.org/"
        );
    }

    #[test]
    fn a_calendar_url_splits_into_its_server_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:5232/alice/work/"),
            Some(("http://127.0.0.1:5232".into(), "/alice/work/".into()))
        );
        assert_eq!(split_url("/alice/work/"), None);
    }

    #[test]
    fn only_our_booking_resources_name_a_booking() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            booking_of_href(&format!("/alice/cal/pillow-booking-{id}.ics")),
            Some(BookingId(id))
        );
        assert_eq!(booking_of_href("/alice/cal/meeting.ics"), None);
    }
}
