//! The in-call API (docs/contracts.md) and the publishable widget keys behind it.
//!
//! - `GET /api/v1/agents/{agentId}/calendar/slots?startDate&endDate` and
//!   `POST /api/v1/agents/{agentId}/calendar/book` answer the in-call envelope
//!   `{"success":true,"data":…}`; every failure is `{"success":false,"error":{"code","message"}}`
//!   (plus `field` or `alternatives` where they help), with the right status.
//! - Callers are the agent's tenant (a user's JWT or an API key), or a browser holding the
//!   agent's publishable widget key (`X-Pillow-Key: pk_…`) on an allowed origin. A widget key
//!   opens these two endpoints for its one agent and nothing else, and is rate limited per key
//!   and client address.
//! - Slot ids are the server-signed `CS_…` ids of [`crate::slot_id`]; booking ids are `BK_` +
//!   the confirmation code, so `GET /api/calendar/bookings/{code}` finds the booking. A booking
//!   held on Cal.com (agents on the `calcom` backend) is `BK_cal_` + its Cal.com uid: codes
//!   never contain `_`, so the two cannot be confused, and the uid is Cal.com's handle for it.
//! - Slot answers are cached briefly per agent and window, and reused only while the members'
//!   busy versions are unchanged: any booking, by any route or process, drops them.
//!
//! Agents whose calendar lives on Cal.com are routed to [`native_slots`] and [`native_book`]'s
//! Cal.com counterparts by their callers; those two functions are the native path only.

mod access;
mod book;
mod envelope;
pub(crate) mod manage;
mod slots;
mod stream;

pub use access::*;
pub use book::*;
pub use envelope::*;
pub use manage::*;
pub use slots::*;
pub(crate) use stream::*;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_engine::Interval;
use pillow_store::{AgentBackend, TenantId, WidgetKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{parse_bound, parse_id};
use crate::AppState;
use crate::credentials::{WIDGET_KEY, key_matches};
use crate::domain::bookings::{
    self as booking, BookingRequest, BookingView, Subject, TeamContext, idempotent, request_hash,
};
use crate::domain::bookings::{AttendeeBody, check_attendee};
use crate::domain::incall::{
    InCallSlot, agent_zone, calcom_slots, local_time, native_slots, slot_view,
};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(slots))
        .routes(routes!(book))
        .routes(routes!(calendar_profile))
        .routes(routes!(find_own_booking))
        .routes(routes!(stream))
        .route(SLOTS_PATH, axum::routing::options(preflight))
        .route(PROFILE_PATH, axum::routing::options(preflight))
        .route(BOOK_PATH, axum::routing::options(preflight))
}

pub(crate) const SLOTS_PATH: &str = "/api/v1/agents/{agent_id}/calendar/slots";
pub(crate) const BOOK_PATH: &str = "/api/v1/agents/{agent_id}/calendar/book";

/// The header a browser sends its publishable key in.
pub const WIDGET_KEY_HEADER: &str = "x-pillow-key";

/// The longest window one slots request may ask for (3 months and a bit).
pub(crate) const MAX_WINDOW_DAYS: i64 = 93;
/// The default window when `endDate` is left out.
pub(crate) const DEFAULT_WINDOW_DAYS: i64 = 7;

type InCallResult = Result<Response, InCallError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::widget_keys::check_origin;

    #[test]
    fn local_times_read_as_the_in_call_contract_shows_them() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let start: Timestamp = "2024-01-15T15:00:00Z".parse().unwrap();
        assert_eq!(local_time(start, &zone), "Mon, Jan 15, 2024 at 10:00 AM");
        let afternoon: Timestamp = "2024-07-04T18:30:00Z".parse().unwrap();
        assert_eq!(local_time(afternoon, &zone), "Thu, Jul 4, 2024 at 2:30 PM");
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            check_origin(0, "https://Shop.Example").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            check_origin(0, "http://localhost:8080").unwrap(),
            "http://localhost:8080"
        );
        for bad in [
            "shop.example",
            "https://shop.example/path",
            "ftp://x",
            "https://",
            "http://a:99999",
            "*",
        ] {
            assert!(check_origin(0, bad).is_err(), "{bad}");
        }
    }
}
