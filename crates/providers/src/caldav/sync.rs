//! Listing a calendar's changes: `sync-collection` (RFC 6578) with its token where the server
//! offers it, else `getctag` and ETag comparison; changed resources are fetched with
//! `calendar-multiget`.

use std::collections::BTreeMap;

use libdav::caldav::GetCalendarResources;
use libdav::dav::{GetProperty, ListResources, SyncCollection, WebDavError};
use libdav::names;
use libdav::{Precondition, PropertyName};
use serde::{Deserialize, Serialize};

use super::{CalDavClient, CalDavError, CalendarObject};

/// `CS:getctag`: changes whenever anything in the collection does (a de-facto standard from
/// Apple's calendar server that iCloud, Nextcloud and Radicale all offer).
const GETCTAG: PropertyName<'static, 'static> =
    PropertyName::new(names::CALENDAR_SERVER, "getctag");

/// Resources fetched per `calendar-multiget` request.
const MULTIGET_BATCH: usize = 100;

/// Where the last sync of one calendar left off; store it and pass it to the next
/// [`CalDavClient::changes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncCursor {
    /// The server's RFC 6578 sync token.
    Token { token: String },
    /// For servers without `sync-collection`: the collection's ctag and each resource's ETag.
    Etags {
        ctag: Option<String>,
        etags: BTreeMap<String, String>,
    },
}

/// What changed in a calendar since a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// A full listing: there was no cursor, or the server no longer accepted it. `changed` is
    /// then everything in the calendar, and anything the caller had that is not in it is gone.
    pub full: bool,
    /// New and changed resources, with their content.
    pub changed: Vec<CalendarObject>,
    /// The hrefs of deleted resources (empty on a full listing).
    pub deleted: Vec<String>,
    /// Pass this to the next call.
    pub cursor: SyncCursor,
}

impl CalDavClient {
    /// The changes in the calendar at `calendar_href` since `since` (everything when `None`).
    ///
    /// A sync token the server rejects (403 or 409, the `DAV:valid-sync-token` precondition)
    /// gives a full listing with `full: true`, as does an ETag cursor for a calendar that is
    /// now served with `sync-collection`. A server that refuses `sync-collection` itself is
    /// synced by ETag comparison instead.
    ///
    /// # Errors
    /// [`CalDavError::Unauthorized`], [`CalDavError::NotFound`] (the calendar is gone), and
    /// transport or server errors.
    pub async fn changes(
        &self,
        calendar_href: &str,
        since: Option<&SyncCursor>,
    ) -> Result<Changes, CalDavError> {
        if self.use_sync_collection {
            let token = match since {
                Some(SyncCursor::Token { token }) => Some(token.as_str()),
                _ => None,
            };
            match self.sync_collection(calendar_href, token).await {
                Ok(changes) => return Ok(changes),
                Err(SyncFailure::TokenInvalid) => {
                    tracing::info!(calendar_href, "sync token no longer valid; full resync");
                    if let Ok(changes) = self.sync_collection(calendar_href, None).await {
                        return Ok(changes);
                    }
                }
                Err(SyncFailure::Unsupported) => {
                    tracing::info!(calendar_href, "no sync-collection; comparing ETags");
                }
                Err(SyncFailure::Other(e)) => return Err(e),
            }
        }
        let previous = match since {
            Some(SyncCursor::Etags { ctag, etags }) => Some((ctag.as_deref(), etags)),
            _ => None,
        };
        self.compare_etags(calendar_href, previous).await
    }

    async fn sync_collection(
        &self,
        calendar_href: &str,
        token: Option<&str>,
    ) -> Result<Changes, SyncFailure> {
        let mut request = SyncCollection::new(calendar_href);
        if let Some(token) = token {
            request = request.with_sync_token(token);
        }
        let response = match self.dav.request(request).await {
            Ok(r) => r,
            Err(WebDavError::PreconditionFailed(p))
                if p == Precondition::from(names::VALID_SYNC_TOKEN) =>
            {
                return Err(SyncFailure::TokenInvalid);
            }
            Err(WebDavError::BadStatusCode(s))
                if token.is_some() && matches!(s.as_u16(), 403 | 409) =>
            {
                return Err(SyncFailure::TokenInvalid);
            }
            Err(WebDavError::BadStatusCode(s))
                if token.is_none() && matches!(s.as_u16(), 400 | 403 | 405 | 415 | 501) =>
            {
                return Err(SyncFailure::Unsupported);
            }
            Err(e) => return Err(SyncFailure::Other(e.into())),
        };
        let hrefs: Vec<String> = response
            .changed
            .into_iter()
            .map(|r| r.href)
            .filter(|h| !same_href(h, calendar_href))
            .collect();
        let (changed, mut deleted) = self
            .fetch(calendar_href, &hrefs)
            .await
            .map_err(SyncFailure::Other)?;
        deleted.extend(response.deleted);
        Ok(Changes {
            full: token.is_none(),
            changed,
            deleted: if token.is_none() { Vec::new() } else { deleted },
            cursor: SyncCursor::Token {
                token: response.new_sync_token,
            },
        })
    }

    async fn compare_etags(
        &self,
        calendar_href: &str,
        previous: Option<(Option<&str>, &BTreeMap<String, String>)>,
    ) -> Result<Changes, CalDavError> {
        let ctag = self
            .dav
            .request(GetProperty::new(calendar_href, &GETCTAG))
            .await
            .ok()
            .and_then(|r| r.value);
        if let (Some((Some(old), etags)), Some(new)) = (previous, ctag.as_deref())
            && old == new
        {
            return Ok(Changes {
                full: false,
                changed: Vec::new(),
                deleted: Vec::new(),
                cursor: SyncCursor::Etags {
                    ctag,
                    etags: etags.clone(),
                },
            });
        }
        let listed = self.dav.request(ListResources::new(calendar_href)).await?;
        let etags: BTreeMap<String, String> = listed
            .resources
            .into_iter()
            .filter(|r| !same_href(&r.href, calendar_href))
            .filter_map(|r| Some((r.href, r.etag?)))
            .collect();
        let empty = BTreeMap::new();
        let old = previous.map_or(&empty, |(_, e)| e);
        let changed: Vec<String> = etags
            .iter()
            .filter(|(href, etag)| old.get(*href) != Some(*etag))
            .map(|(href, _)| href.clone())
            .collect();
        let mut deleted: Vec<String> = old
            .keys()
            .filter(|h| !etags.contains_key(*h))
            .cloned()
            .collect();
        let (changed, gone) = self.fetch(calendar_href, &changed).await?;
        deleted.extend(gone);
        Ok(Changes {
            full: previous.is_none(),
            changed,
            deleted,
            cursor: SyncCursor::Etags { ctag, etags },
        })
    }

    /// The content of `hrefs` by `calendar-multiget`; those the server no longer has are
    /// returned apart, as deleted.
    async fn fetch(
        &self,
        calendar_href: &str,
        hrefs: &[String],
    ) -> Result<(Vec<CalendarObject>, Vec<String>), CalDavError> {
        let mut found = Vec::new();
        let mut gone = Vec::new();
        for batch in hrefs.chunks(MULTIGET_BATCH) {
            let response = self
                .dav
                .request(GetCalendarResources::new(calendar_href).with_hrefs(batch))
                .await?;
            for resource in response.resources {
                match resource.content {
                    Ok(content) => found.push(CalendarObject {
                        href: resource.href,
                        etag: content.etag,
                        ical: content.data,
                    }),
                    Err(status) if status.as_u16() == 404 => gone.push(resource.href),
                    Err(status) => return Err(CalDavError::from_status(status)),
                }
            }
        }
        Ok((found, gone))
    }
}

enum SyncFailure {
    TokenInvalid,
    Unsupported,
    Other(CalDavError),
}

/// Whether two hrefs name the same collection (servers differ on the trailing slash).
fn same_href(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}
