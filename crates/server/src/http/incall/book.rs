//! `POST .../calendar/book`: books a slot the caller picked, on this calendar or on Cal.com.

use super::*;
use crate::domain::appointment_types::Offered;
use crate::domain::error::DomainResult;
use crate::http::error::ErrorCode;
use crate::notify::confirmation::{self, CalendarLinks, SentTo};
use pillow_store::AgentId;

/// The in-call API's booking body.
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(crate) struct BookBody {
    /// A `CS_…` id from the slots answer.
    slotId: String,
    attendeeName: String,
    attendeeEmail: Option<String>,
    #[serde(default)]
    attendeePhone: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    /// The voice platform's id of the call the page is on: the booking is filed under it, so
    /// the agent learns of it (`get_call_booking_state` and the call's `booked` event).
    #[serde(default)]
    callId: Option<String>,
    /// Book a recurring series starting at the slot, as on `POST /api/calendar/booking`:
    /// `{"frequency": "weekly", "count": 6}` or an RRULE string. All occurrences or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    recurrence: Option<Value>,
    /// With `recurrence`: book the free occurrences and skip the taken ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowPartial: Option<bool>,
}
/// The attendee checks of the bookings API, reported under the in-call API's field names.
pub(crate) fn check_book_body(
    body: &BookBody,
) -> ApiResult<(pillow_store::Attendee, Option<String>)> {
    if body
        .attendeeEmail
        .as_deref()
        .is_none_or(|e| e.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "attendeeEmail",
            ErrorCode::InvalidEmail,
            "The attendee's e-mail address is required.",
        ));
    }
    let attendee = check_attendee(&AttendeeBody {
        name: body.attendeeName.clone(),
        email: body.attendeeEmail.clone(),
        phone: body.attendeePhone.clone(),
    })
    .map_err(|mut e| {
        let renamed = match e.details.get("field").and_then(Value::as_str) {
            Some("attendee.name") => Some("attendeeName"),
            Some("attendee.email") => Some("attendeeEmail"),
            Some("attendee.phone") => Some("attendeePhone"),
            _ => None,
        };
        if let Some(field) = renamed {
            e.details.insert("field".into(), field.into());
        }
        e
    })?;
    let notes = match &body.notes {
        Some(n) if n.chars().count() > 2000 => {
            return Err(ApiError::invalid(
                "notes",
                ErrorCode::TooLong,
                "Notes may have at most 2000 characters.",
            ));
        }
        other => other.clone().filter(|n| !n.trim().is_empty()),
    };
    Ok((attendee, notes))
}
/// Books a slot with the agent's own team: the native path. Answers the bookings API's view of
/// the new booking (what the idempotency record keeps).
pub async fn native_book(
    state: &AppState,
    tenant: TenantId,
    context: Arc<TeamContext>,
    request: &BookingRequest,
    offered: Option<&Offered>,
    record: Option<(&str, &str)>,
) -> DomainResult<BookingView> {
    let subject = Subject::Agent(context);
    booking::book_typed(state, tenant, &subject, request, offered, record).await
}
/// Where an in-call booking comes from: the hosted booking page is ours, so a request sent
/// from it (a `Referer` on this same host under `/book/`, which browsers send to their own
/// origin) is the hosted page; any other is the widget, on a site or the demo call page.
pub(crate) fn channel_of(headers: &HeaderMap) -> pillow_store::BookingChannel {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let hosted = match (
        text(axum::http::header::REFERER),
        text(axum::http::header::HOST),
    ) {
        (Some(referer), Some(host)) => reqwest::Url::parse(referer).is_ok_and(|url| {
            let authority = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_string(),
            };
            authority.eq_ignore_ascii_case(host) && url.path().starts_with("/book/")
        }),
        _ => false,
    };
    if hosted {
        pillow_store::BookingChannel::Hosted
    } else {
        pillow_store::BookingChannel::Widget
    }
}
/// The `BK_…` id of a booking: its confirmation code, which the bookings API also finds.
pub fn booking_id(code: &str) -> String {
    format!("BK_{code}")
}
/// Book a slot (the in-call API's `POST …/calendar/book`).
///
/// A slot taken meanwhile is a 409 `slot_unavailable` with up to three `alternatives` (slots
/// like those of the slots answer). Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/agents/{agent_id}/calendar/book", tag = "in-call",
    security(("bearer" = [])), request_body = BookBody,
    params(("agent_id" = Uuid, Path),
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    responses((status = 201, body = InCallBooked, description = "Inside the envelope: `{\"success\":true,\"data\":{…}}`"),
              (status = 409, description = "slot_unavailable"), (status = 422), (status = 429)))]
pub(crate) async fn book(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    headers: HeaderMap,
    body: Bytes,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let access = access(&state, &headers, &peer, agent_id, Operation::Book).await?;
    let cors = access.cors.clone();
    let tenant = access.tenant;
    match book_for(&state, tenant, agent_id, &headers, &body).await {
        Ok(data) => Ok(success(StatusCode::CREATED, data, cors)),
        Err(error) => Err(InCallError { error, cors }),
    }
}
pub(crate) async fn book_for(
    state: &AppState,
    tenant: TenantId,
    agent_id: AgentId,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<InCallBooked> {
    let body: BookBody = crate::json::parse(raw)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().map(str::trim).unwrap_or_default();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    ErrorCode::InvalidIdempotencyKey,
                    "An Idempotency-Key has 1 to 255 visible characters.",
                ));
            }
            Some(key.to_string())
        }
    };
    let slot = state.slot_ids.verify(body.slotId.trim()).map_err(|e| {
        ApiError::invalid(
            "slotId",
            ErrorCode::InvalidSlot,
            format!("{e}; fetch the slots again and use one of their ids."),
        )
    })?;
    if slot.agent_id != agent_id {
        return Err(ApiError::invalid(
            "slotId",
            ErrorCode::InvalidSlot,
            "This slot id belongs to another agent; fetch this agent's slots.",
        ));
    }
    let (attendee, notes) = check_book_body(&body)?;
    let call_id = match body.callId.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            crate::live::CallKey::check_call_id(raw)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "callId",
                        ErrorCode::InvalidCallId,
                        "callId is the call's id from the voice platform: 1 to 128 visible characters.",
                    )
                })?
                .to_string(),
        ),
    };
    let series = body
        .recurrence
        .as_ref()
        .map(|r| {
            booking::parse_recurrence(r).map(|rrule| booking::SeriesRequest {
                rrule,
                allow_partial: body.allowPartial.unwrap_or(false),
            })
        })
        .transpose()?;
    let context = state.teams.get(state, tenant, agent_id).await?;
    let zone = agent_zone(&context);
    if context.agent.backend == AgentBackend::Calcom && series.is_some() {
        return Err(ApiError::invalid(
            "recurrence",
            ErrorCode::ConflictingParameters,
            "Recurring series are booked on this calendar only, not on Cal.com.",
        ));
    }
    if context.agent.backend == AgentBackend::Calcom {
        // The Idempotency-Key becomes the adapter's hint: a retry finds the booking it made.
        let hint = key.map(|key| format!("incall:{agent_id}:{key}"));
        let booked = crate::domain::calcom::book(
            state,
            &context.agent,
            slot.start,
            Some(slot.duration),
            &attendee,
            notes.as_deref(),
            hint.as_deref(),
        )
        .await?;
        return Ok(calcom_booking_data(
            &booked,
            &attendee,
            notes.as_deref(),
            &body.slotId,
            &zone,
        ));
    }
    // A slot offered for an appointment type books that type (its hosts, buffers and notice).
    let offered = match slot.appointment_type {
        None => None,
        Some(kind) => Some(
            crate::domain::appointment_types::resolve(
                state,
                tenant,
                agent_id,
                "slotId",
                &kind.to_string(),
            )
            .await?,
        ),
    };
    let request = BookingRequest {
        preferred_host: None,
        start: slot.start,
        duration: Some(slot.duration),
        attendee,
        notes,
        call_id: call_id.clone(),
        channel: channel_of(headers),
    };
    let hash = request_hash(
        "incall-book",
        &format!("agent:{agent_id}"),
        &serde_json::to_value(&body).unwrap_or_default(),
    );
    let notifications = context.team.settings.notifications.clone();
    let view = booked(
        state,
        tenant,
        context,
        &request,
        offered.as_ref(),
        series.as_ref(),
        key,
        &hash,
    )
    .await
    .map_err(|e| with_incall_alternatives(state, agent_id, slot.appointment_type, &zone, e))?;
    state.incall.slots.forget_tenant(tenant);
    if let Some(call_id) = call_id {
        tell_the_call(state, tenant, agent_id, call_id, &view);
    }
    let mut data = booking_data(&view, &body.slotId, &zone);
    data.booking.sent_to =
        confirmation::sent_to(&*state.store, &state.config, &notifications, &view).await?;
    data.booking.add_to_calendar = Some(confirmation::links(
        &state.manage_links,
        &state.config.public_url,
        tenant,
        &view,
    ));
    Ok(data)
}
/// Tells the call's other listeners that the caller booked; in the background, since nobody
/// need be listening and the caller should not wait for the bus.
fn tell_the_call(
    state: &AppState,
    tenant: TenantId,
    agent: AgentId,
    call_id: String,
    view: &BookingView,
) {
    let call = crate::live::CallKey {
        tenant,
        agent,
        call_id,
    };
    let event = crate::live::CallEvent::Booked(crate::live::BookedNotice {
        confirmation_code: view.confirmation_code.clone(),
        start_time: view.start_time.to_string(),
        host_name: view.user_name.clone(),
    });
    let bus = state.bus.clone();
    tokio::spawn(async move {
        if let Err(error) = bus.publish(&call, event).await {
            tracing::warn!(%error, "in-call booking: the live-call bus failed");
        }
    });
}
/// Books under an optional idempotency key: replays a recorded answer, records client errors,
/// releases the key on server errors (the same rules as every booking write).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn booked(
    state: &AppState,
    tenant: TenantId,
    context: Arc<TeamContext>,
    request: &BookingRequest,
    offered: Option<&Offered>,
    series: Option<&booking::SeriesRequest>,
    key: Option<String>,
    hash: &str,
) -> ApiResult<BookingView> {
    let (_, view) = idempotent(
        state,
        tenant,
        key,
        hash.to_string(),
        StatusCode::CREATED,
        |record| async move {
            let record = record.as_ref().map(|(k, h)| (k.as_str(), h.as_str()));
            match series {
                Some(series) => {
                    let subject = Subject::Agent(context);
                    booking::book_series(state, tenant, &subject, request, offered, series, record)
                        .await
                }
                None => native_book(state, tenant, context, request, offered, record).await,
            }
        },
    )
    .await?;
    Ok(view)
}
/// A booking as the in-call API shows it: camelCase, with the caller-facing local time.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InCallBooking {
    /// `BK_` + the confirmation code (`BK_cal_` + the uid for Cal.com bookings).
    pub booking_id: String,
    pub slot_id: String,
    pub attendee_name: String,
    pub attendee_email: Option<String>,
    pub attendee_phone: Option<String>,
    pub notes: Option<String>,
    /// `confirmed` or `cancelled`.
    pub status: String,
    pub confirmation_code: String,
    /// RFC 3339, UTC.
    #[schema(value_type = String, format = DateTime)]
    pub start_time: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_time: Timestamp,
    pub duration_min: i64,
    /// The start in the agent's zone, for people, e.g. "Tuesday, March 12 at 2:00 PM".
    pub local_time: String,
    /// The agent's IANA zone.
    pub timezone: String,
    /// Who the appointment is with; `null` when the backend does not say (Cal.com).
    pub host_name: Option<String>,
    /// Only for a recurring series: its id, rule and every occurrence booked (this booking is
    /// the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<crate::domain::bookings::SeriesView>,
    /// Where the details were sent, masked (`{"email": "j…@example.com", "phone": "…0123"}`):
    /// the channels on for the agent and this server that queued a message; `null` when none.
    pub sent_to: Option<SentTo>,
    /// "Add to calendar": Google and Outlook links (times in UTC) and a signed `.ics`
    /// download; `null` for bookings held on Cal.com.
    pub add_to_calendar: Option<CalendarLinks>,
}

/// What booking answers inside the envelope's `data`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InCallBooked {
    pub booking: InCallBooking,
    pub message: String,
}

impl InCallBooked {
    fn new(booking: InCallBooking) -> Self {
        Self {
            booking,
            message: "Appointment booked successfully".into(),
        }
    }
}

/// The in-call API's booking block from the bookings API's view of the booking.
pub(crate) fn booking_data(view: &BookingView, slot_id: &str, zone: &TimeZone) -> InCallBooked {
    InCallBooked::new(InCallBooking {
        booking_id: booking_id(&view.confirmation_code),
        slot_id: slot_id.to_string(),
        attendee_name: view.attendee.name.clone(),
        attendee_email: view.attendee.email.clone(),
        attendee_phone: view.attendee.phone.clone(),
        notes: view.notes.clone(),
        status: view.status.as_str().to_string(),
        confirmation_code: view.confirmation_code.clone(),
        start_time: view.start_time,
        end_time: view.end_time,
        duration_min: view.duration,
        local_time: local_time(view.start_time, zone),
        timezone: zone.iana_name().unwrap_or("UTC").to_string(),
        host_name: Some(view.user_name.clone()),
        series: view.series.clone(),
        sent_to: None,
        add_to_calendar: None,
    })
}
/// The `BK_…` id of a booking held on Cal.com.
pub fn calcom_booking_id(uid: &str) -> String {
    format!("BK_cal_{uid}")
}
/// The in-call booking block for a Cal.com booking. Cal.com's `accepted` is reported as
/// our `confirmed`, so widgets need not know which backend answered; the confirmation code is
/// the Cal.com uid.
pub(crate) fn calcom_booking_data(
    booked: &crate::domain::calcom::CalcomBooked,
    attendee: &pillow_store::Attendee,
    notes: Option<&str>,
    slot_id: &str,
    zone: &TimeZone,
) -> InCallBooked {
    let status = match booked.status.as_str() {
        "accepted" => "confirmed",
        other => other,
    };
    InCallBooked::new(InCallBooking {
        booking_id: calcom_booking_id(&booked.uid),
        slot_id: slot_id.to_string(),
        attendee_name: attendee.name.clone(),
        attendee_email: attendee.email.clone(),
        attendee_phone: attendee.phone.clone(),
        notes: notes.map(str::to_string),
        status: status.to_string(),
        confirmation_code: booked.uid.clone(),
        start_time: booked.start,
        end_time: booked.end,
        duration_min: booked.end.duration_since(booked.start).as_mins(),
        local_time: local_time(booked.start, zone),
        timezone: zone.iana_name().unwrap_or("UTC").to_string(),
        host_name: None,
        series: None,
        sent_to: None,
        add_to_calendar: None,
    })
}
