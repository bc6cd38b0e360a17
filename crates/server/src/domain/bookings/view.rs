//! A booking as clients see it, and finding one by id or confirmation code.

use super::*;
use pillow_store::{AgentId, Attendee, BookingId, BookingStatus, UserId};

/// A booking as the API shows it: what the booking endpoints send and what their OpenAPI
/// entries document, from this one struct. It reads back too: an idempotent write records it
/// and a retry gets exactly the recorded booking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookingView {
    pub id: BookingId,
    /// Nine characters from an alphabet without look-alikes, e.g. `K7MQ3RXTA`.
    pub confirmation_code: String,
    /// `confirmed` or `cancelled`.
    #[schema(value_type = String)]
    pub status: BookingStatus,
    /// RFC 3339, UTC.
    #[schema(value_type = String, format = DateTime)]
    pub start_time: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_time: Timestamp,
    /// Minutes.
    pub duration: i64,
    /// The assigned member.
    pub user_id: UserId,
    pub user_name: String,
    pub assigned_user: AssignedUser,
    pub agent_id: Option<AgentId>,
    /// `{name, email, phone}`.
    #[schema(value_type = Object)]
    pub attendee: Attendee,
    pub notes: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub cancel_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Every host of a collective booking, the lead (`assigned_user`) first; empty for a
    /// booking of one host. Always sent, like every field, so the schema names what arrives.
    #[serde(default)]
    pub hosts: Vec<AssignedUser>,
    /// The recurring series the booking belongs to; `null` for a one-off booking.
    #[serde(default)]
    pub series: Option<SeriesView>,
    /// Where it was made: `retell`, `vapi`, `mcp`, `widget`, `hosted`, `api` or `dashboard`;
    /// `null` for bookings made before channels were recorded.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub channel: Option<pillow_store::BookingChannel>,
}

/// A booking's recurring series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeriesView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// The series' RFC 5545 RRULE, expanded in the agent's zone.
    pub rrule: String,
    /// This booking's place among the occurrences booked, from 0.
    pub position: u32,
    /// Every occurrence, in order: listed when the series is booked or changed as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occurrences: Vec<OccurrenceView>,
    /// With `allow_partial`: the occurrences left out because they could not be booked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub skipped: Vec<crate::domain::error::Alternative>,
}

/// One occurrence of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OccurrenceView {
    pub id: BookingId,
    pub confirmation_code: String,
    #[schema(value_type = String)]
    pub status: BookingStatus,
    #[schema(value_type = String, format = DateTime)]
    pub start_time: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_time: Timestamp,
    pub user_id: UserId,
}

impl OccurrenceView {
    pub fn of(booking: &Booking) -> Self {
        OccurrenceView {
            id: booking.id,
            confirmation_code: booking.confirmation_code.clone(),
            status: booking.status,
            start_time: booking.start,
            end_time: booking.end,
            user_id: booking.user_id,
        }
    }
}

/// The member a booking is with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssignedUser {
    pub id: UserId,
    pub name: String,
}

/// `{"bookings": [...]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingList {
    pub bookings: Vec<BookingView>,
}

impl BookingView {
    pub fn new(booking: &Booking, host_name: &str) -> Self {
        BookingView {
            id: booking.id,
            confirmation_code: booking.confirmation_code.clone(),
            status: booking.status,
            start_time: booking.start,
            end_time: booking.end,
            duration: booking.end.duration_since(booking.start).as_mins(),
            user_id: booking.user_id,
            user_name: host_name.to_string(),
            assigned_user: AssignedUser {
                id: booking.user_id,
                name: host_name.to_string(),
            },
            agent_id: booking.agent_id,
            attendee: booking.attendee.clone(),
            notes: booking.notes.clone(),
            title: booking.title.clone(),
            description: booking.description.clone(),
            cancel_reason: booking.cancel_reason.clone(),
            cancelled_at: booking.cancelled_at,
            created_at: booking.created_at,
            updated_at: booking.updated_at,
            hosts: Vec::new(),
            series: None,
            channel: booking.channel,
        }
    }
}

/// Finds a booking by id or confirmation code, in the caller's tenant. The in-call API's
/// booking ids (`BK_` + the code) are accepted as they are, so a client can use what it got.
pub(crate) async fn find(
    state: &AppState,
    tenant: TenantId,
    id_or_code: &str,
) -> DomainResult<Booking> {
    let id_or_code = id_or_code.strip_prefix("BK_").unwrap_or(id_or_code);
    let found = if let Ok(id) = id_or_code.parse::<BookingId>() {
        state.store.get_booking(tenant, id).await?
    } else if looks_like_code(id_or_code) {
        state
            .store
            .find_booking_by_code(tenant, &id_or_code.to_ascii_uppercase())
            .await?
    } else {
        None
    };
    found.ok_or_else(|| DomainError::not_found("booking"))
}

/// The view of a booking, with its member's name read from the store, and every host's when it
/// is collective.
pub(crate) async fn view_of(state: &AppState, booking: &Booking) -> DomainResult<BookingView> {
    let host = state
        .store
        .get_user(booking.tenant_id, booking.user_id)
        .await?;
    let mut view = BookingView::new(booking, host.as_ref().map_or("", |u| u.name.as_str()));
    let group = state
        .store
        .booking_group(booking.tenant_id, booking.id)
        .await?;
    if !group.is_empty() {
        let names: HashMap<UserId, String> = state
            .store
            .list_users(booking.tenant_id)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let hosts: Vec<UserId> = group.iter().map(|b| b.user_id).collect();
        view.hosts = super::collective::host_views(&hosts, &names);
    }
    if let Some(link) = state.store.series_of(booking.tenant_id, booking.id).await? {
        view.series = Some(SeriesView {
            id: link.series_id,
            rrule: link.rrule,
            position: link.position,
            occurrences: Vec::new(),
            skipped: Vec::new(),
        });
    }
    Ok(view)
}
