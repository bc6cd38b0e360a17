//! Writing the events we own: `PUT` with `If-None-Match: *` to create (so a retried create
//! never makes a second event), `PUT` and `DELETE` with `If-Match` so we never overwrite a
//! change made on the server since we read it.

use libdav::caldav::GetCalendarResources;
use libdav::dav::{Delete, GetEtag, PutResource, WebDavError};

use super::ical::parse_events;
use super::{CalDavClient, CalDavError, CalendarObject};

const ICALENDAR: &str = "text/calendar; charset=utf-8";

/// What a conditional `PUT` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; with the new ETag when the server sent one (else it was read back).
    Done { href: String, etag: String },
    /// A create found this booking's event already there (the retry of a create that had
    /// succeeded): nothing was written, and this is the event as it is.
    AlreadyThere(CalendarObject),
    /// An update's ETag no longer matched (412): someone changed the event on the server.
    /// Nothing was written; this is the event as it is now, to decide again from.
    Stale(CalendarObject),
}

/// What a conditional `DELETE` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Done,
    /// It was already gone (404): a retried delete.
    AlreadyGone,
    /// The ETag no longer matched (412); nothing was deleted; the event as it is now.
    Stale(CalendarObject),
}

impl CalDavClient {
    /// The href of the event for `booking_id` in the calendar at `calendar_href`: always the
    /// same, so a retried create aims at the same resource.
    pub fn booking_href(calendar_href: &str, booking_id: uuid::Uuid) -> String {
        format!(
            "{}/pillow-booking-{booking_id}.ics",
            calendar_href.trim_end_matches('/')
        )
    }

    /// Creates the event for `booking_id` (its text from [`super::booking_ical`]) with
    /// `If-None-Match: *`. When the server answers 412 (something is there already), it is
    /// read back: if it is this booking's event the create had already happened and the
    /// answer is [`Written::AlreadyThere`].
    ///
    /// # Errors
    /// [`CalDavError::Conflict`] when the resource at our name is not this booking's.
    pub async fn create_event(
        &self,
        calendar_href: &str,
        booking_id: uuid::Uuid,
        ical: &str,
    ) -> Result<Written, CalDavError> {
        let href = Self::booking_href(calendar_href, booking_id);
        let put = PutResource::new(&href).create(ical, ICALENDAR);
        match self.dav.request(put).await {
            Ok(r) => Ok(Written::Done {
                etag: self.etag_or_read(&href, r.etag).await?,
                href,
            }),
            Err(WebDavError::BadStatusCode(s)) if s.as_u16() == 412 => {
                let current = self.get_event(&href).await?;
                let ours = parse_events(&current.ical)?
                    .iter()
                    .any(|e| e.booking_id.as_deref() == Some(&booking_id.to_string()));
                if ours {
                    Ok(Written::AlreadyThere(current))
                } else {
                    Err(CalDavError::Conflict(href))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the event at `href` if it still has `etag`; a 412 reads it again
    /// ([`Written::Stale`]).
    pub async fn update_event(
        &self,
        href: &str,
        etag: &str,
        ical: &str,
    ) -> Result<Written, CalDavError> {
        let put = PutResource::new(href).update(ical, ICALENDAR, etag);
        match self.dav.request(put).await {
            Ok(r) => Ok(Written::Done {
                etag: self.etag_or_read(href, r.etag).await?,
                href: href.to_owned(),
            }),
            Err(WebDavError::BadStatusCode(s)) if s.as_u16() == 412 => {
                Ok(Written::Stale(self.get_event(href).await?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the event at `href` if it still has `etag`.
    pub async fn delete_event(&self, href: &str, etag: &str) -> Result<Deleted, CalDavError> {
        match self.dav.request(Delete::new(href).with_etag(etag)).await {
            Ok(_) => Ok(Deleted::Done),
            Err(WebDavError::BadStatusCode(s)) if s.as_u16() == 404 => Ok(Deleted::AlreadyGone),
            Err(WebDavError::BadStatusCode(s)) if s.as_u16() == 412 => {
                match self.get_event(href).await {
                    Ok(current) => Ok(Deleted::Stale(current)),
                    Err(CalDavError::NotFound) => Ok(Deleted::AlreadyGone),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One event resource as it is now (by `calendar-multiget` on its calendar).
    ///
    /// # Errors
    /// [`CalDavError::NotFound`] when there is none at `href`.
    pub async fn get_event(&self, href: &str) -> Result<CalendarObject, CalDavError> {
        let collection = match href.rfind('/') {
            Some(i) => &href[..=i],
            None => "/",
        };
        let response = self
            .dav
            .request(GetCalendarResources::new(collection).with_hrefs([href]))
            .await?;
        let resource = response
            .resources
            .into_iter()
            .next()
            .ok_or(CalDavError::NotFound)?;
        match resource.content {
            Ok(content) => Ok(CalendarObject {
                href: resource.href,
                etag: content.etag,
                ical: content.data,
            }),
            Err(status) => Err(CalDavError::from_status(status)),
        }
    }

    /// The ETag a `PUT` answered with, or else the one the server has now.
    async fn etag_or_read(&self, href: &str, etag: Option<String>) -> Result<String, CalDavError> {
        match etag {
            Some(etag) => Ok(etag),
            None => Ok(self.dav.request(GetEtag::new(href)).await?.etag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ical::BOOKING_ID_PROPERTY;
    use super::*;

    #[test]
    fn a_bookings_href_is_the_same_every_time_and_inside_its_calendar() {
        let id = uuid::Uuid::new_v4();
        let a = CalDavClient::booking_href("/user/cal/", id);
        assert_eq!(a, CalDavClient::booking_href("/user/cal", id));
        assert_eq!(a, format!("/user/cal/pillow-booking-{id}.ics"));
        assert!(BOOKING_ID_PROPERTY.starts_with("X-"));
    }
}
