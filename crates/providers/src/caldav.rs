//! A CalDAV client (RFC 4791, RFC 6578) for iCloud, Fastmail, Nextcloud, Radicale and any
//! other standard server, and the iCalendar reading that turns what it lists into busy time.
//!
//! The WebDAV requests themselves (discovery, `sync-collection`, `calendar-multiget`,
//! conditional `PUT` and `DELETE`) come from the maintained `libdav` crate, driven over our
//! own `reqwest` client (`http.rs`); see `docs/caldav.md` for why.
//!
//! - [`CalDavClient::connect`] and [`CalDavClient::discover`]: Basic auth with an app
//!   password, only to public addresses unless [`AddressPolicy`] allows more (`network.rs`),
//!   and finding the event calendar when no calendar URL is given (`discovery.rs`).
//! - [`CalDavClient::changes`]: a full listing, then incremental `sync-collection` with its
//!   token, or `getctag`/ETag comparison on servers without it (`sync.rs`).
//! - [`CalDavClient::create_event`], [`CalDavClient::update_event`],
//!   [`CalDavClient::delete_event`]: writes with `If-None-Match: *` / `If-Match` (`write.rs`).
//! - [`CalendarObject::occurrences`]: parse and expand a resource's events over a window, in
//!   UTC, respecting `TRANSP` and `STATUS` (`ical.rs`, `expand.rs`).

mod discovery;
mod error;
mod expand;
mod http;
mod ical;
mod network;
mod sync;
mod write;

pub use discovery::CalendarInfo;
pub use error::CalDavError;
pub use expand::{BusyInterval, EventTime, Occurrence, Window, busy_intervals};
pub use ical::{BOOKING_ID_PROPERTY, EventStatus, Transparency, booking_ical};
pub use network::{AddressPolicy, is_public};
pub use sync::{Changes, SyncCursor};
pub use write::{Deleted, Written};

use std::time::Duration;

use ::http::Uri;
use libdav::dav::WebDavClient;
use secrecy::{ExposeSecret, SecretString};

/// A CalDAV account: where it lives and how to sign in (user name and app-specific password).
#[derive(Debug, Clone)]
pub struct CalDavAccount {
    /// The server's URL (`https://caldav.icloud.com`, `https://caldav.fastmail.com`, or any
    /// URL on the server: discovery starts from its scheme, host and port).
    pub server_url: String,
    pub username: String,
    pub password: SecretString,
}

/// One calendar resource (one `.ics` file on the server: an event, or a recurring event with
/// its overridden instances), as listed by a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarObject {
    /// The resource's path on the server, its stable id.
    pub href: String,
    pub etag: String,
    /// The iCalendar text.
    pub ical: String,
}

/// The CalDAV client for one account. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CalDavClient {
    dav: WebDavClient<http::DavHttp>,
    /// `false` makes [`CalDavClient::changes`] compare ETags even where the server offers
    /// `sync-collection` (how servers without it are handled, and how that path is tested).
    use_sync_collection: bool,
}

impl CalDavClient {
    /// A client for `account`, reaching only the addresses `policy` allows (use
    /// [`AddressPolicy::PublicOnly`] unless the deployment configured otherwise). No request
    /// is made yet; [`CalDavClient::discover`] is the first.
    ///
    /// Redirects are not followed by the HTTP client itself, because discovery must see the
    /// `/.well-known/caldav` redirect to learn the server's context path (and a redirect must
    /// not lead past the address policy).
    ///
    /// # Errors
    /// [`CalDavError::BadUrl`] when `server_url` is not an absolute http(s) URL.
    pub fn connect(account: &CalDavAccount, policy: AddressPolicy) -> Result<Self, CalDavError> {
        let base: Uri = account
            .server_url
            .parse()
            .map_err(|e| CalDavError::BadUrl(format!("{}: {e}", account.server_url)))?;
        if !matches!(base.scheme_str(), Some("http" | "https")) || base.host().is_none() {
            return Err(CalDavError::BadUrl(format!(
                "{}: not an absolute http(s) URL",
                account.server_url
            )));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(network::PolicyResolver(policy)))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CalDavError::Transport(e.to_string()))?;
        let service = http::DavHttp::new(
            http,
            policy,
            &account.username,
            account.password.expose_secret(),
        )?;
        Ok(Self {
            dav: WebDavClient::new(base, service),
            use_sync_collection: true,
        })
    }

    /// Never use `sync-collection`; always compare `getctag` and ETags.
    pub fn without_sync_collection(mut self) -> Self {
        self.use_sync_collection = false;
        self
    }
}
