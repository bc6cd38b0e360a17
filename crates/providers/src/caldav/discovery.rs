//! Finding the calendar to sync: `/.well-known/caldav` (RFC 6764), `current-user-principal`
//! (RFC 5397), `calendar-home-set` and the calendars in it (RFC 4791).

use http::Uri;
use libdav::caldav::{
    CalendarComponent, FindCalendarHomeSet, FindCalendars, GetSupportedComponents,
};
use libdav::dav::FoundCollection;
use libdav::names;

use super::{CalDavClient, CalDavError};

/// A calendar collection on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarInfo {
    /// The collection's path on the server (ends with `/`).
    pub href: String,
    /// Its `displayname`, when it has one.
    pub display_name: Option<String>,
    /// Whether it offers `sync-collection` (RFC 6578).
    pub supports_sync: bool,
}

impl CalendarInfo {
    /// Whether `name` names this calendar: its display name, or the last segment of its path
    /// (case-insensitive), so both "Work" and "work-calendar" can be asked for.
    fn is_named(&self, name: &str) -> bool {
        let segment = self.href.trim_end_matches('/').rsplit('/').next();
        self.display_name
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case(name))
            || segment.is_some_and(|s| s.eq_ignore_ascii_case(name))
    }
}

impl CalDavClient {
    /// The calendar to sync: the one named `name` (display name or path segment), or else the
    /// first calendar that holds events.
    ///
    /// # Errors
    /// [`CalDavError::NoCalendar`] when there is none (or none of that name);
    /// [`CalDavError::Unauthorized`] for a wrong user name or password.
    pub async fn discover(&mut self, name: Option<&str>) -> Result<CalendarInfo, CalDavError> {
        let calendars = self.event_calendars().await?;
        let found = match name {
            Some(name) => calendars.into_iter().find(|c| c.is_named(name)),
            None => calendars.into_iter().next(),
        };
        found.ok_or_else(|| {
            CalDavError::NoCalendar(match name {
                Some(name) => format!("no event calendar is named {name:?}"),
                None => "the account has no event calendar".into(),
            })
        })
    }

    /// Every calendar of the account that can hold events, in the server's order.
    ///
    /// Follows `/.well-known/caldav` to the context path first (and keeps it as the base for
    /// later requests), then the principal's `calendar-home-set`.
    pub async fn event_calendars(&mut self) -> Result<Vec<CalendarInfo>, CalDavError> {
        self.follow_well_known().await?;
        let principal = self
            .dav
            .find_current_user_principal()
            .await
            .map_err(|e| match e {
                libdav::dav::FindCurrentUserPrincipalError::RequestError(e) => e.into(),
                other => CalDavError::Invalid(other.to_string()),
            })?;
        let base_path = self.dav.base_url.path().to_owned();
        let principal = principal.map_or(base_path.clone(), |p| p.path().to_owned());
        let mut homes: Vec<String> = self
            .dav
            .request(FindCalendarHomeSet::new(&principal))
            .await?
            .home_sets
            .into_iter()
            .map(|u| u.path().to_owned())
            .collect();
        if homes.is_empty() {
            homes.push(principal);
        }
        let mut calendars = Vec::new();
        for home in &homes {
            let found = self.dav.request(FindCalendars::new(home)).await?;
            for collection in found.calendars {
                if self.holds_events(&collection.href).await? {
                    calendars.push(info(collection));
                }
            }
        }
        Ok(calendars)
    }

    /// Uses the context path `/.well-known/caldav` redirects to, if it does (RFC 6764).
    ///
    /// Only the redirect itself is read: following it further with GETs (as libdav's
    /// `find_context_path` does) can land on a server's web UI (Radicale sends `/` to `/.web`).
    async fn follow_well_known(&mut self) -> Result<(), CalDavError> {
        let base = self.dav.base_url.clone();
        // A URL that already names a path is taken as the context path itself.
        if base.path() != "/" && !base.path().is_empty() {
            return Ok(());
        }
        let well_known = self
            .dav
            .relative_uri("/.well-known/caldav")
            .map_err(|e| CalDavError::BadUrl(e.to_string()))?;
        let request = http::Request::get(well_known)
            .body(String::new())
            .map_err(|e| CalDavError::BadUrl(e.to_string()))?;
        let (head, _) = self
            .dav
            .request_raw(request)
            .await
            .map_err(|e| CalDavError::from(libdav::dav::WebDavError::Request(e)))?;
        if head.status == http::StatusCode::UNAUTHORIZED {
            return Err(CalDavError::Unauthorized);
        }
        if !head.status.is_redirection() {
            return Ok(());
        }
        let Some(location) = head
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(());
        };
        let target: Uri = location
            .parse()
            .map_err(|_| CalDavError::Invalid(format!("well-known redirect to {location:?}")))?;
        if target.host().is_some() {
            self.dav.base_url = target;
        } else {
            self.dav.base_url = self
                .dav
                .relative_uri(target.path())
                .map_err(|e| CalDavError::BadUrl(e.to_string()))?;
        }
        Ok(())
    }

    /// Whether a calendar accepts events; a server that does not say accepts every kind.
    async fn holds_events(&self, href: &str) -> Result<bool, CalDavError> {
        match self.dav.request(GetSupportedComponents::new(href)).await {
            Ok(r) => {
                Ok(r.components.is_empty() || r.components.contains(&CalendarComponent::VEvent))
            }
            Err(e) => match CalDavError::from(e) {
                CalDavError::Invalid(_) | CalDavError::NotFound => Ok(true),
                other => Err(other),
            },
        }
    }
}

fn info(collection: FoundCollection) -> CalendarInfo {
    let display_name = collection
        .properties
        .iter()
        .find(|(name, _)| **name == names::DISPLAY_NAME)
        .and_then(|(_, value)| value.clone())
        .filter(|v| !v.trim().is_empty());
    CalendarInfo {
        href: collection.href,
        display_name,
        supports_sync: collection.supports_sync,
    }
}
