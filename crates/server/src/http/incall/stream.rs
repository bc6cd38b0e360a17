//! `GET .../calendar/stream?callId=…`: the server-sent events a widget listens to while its
//! call is connected. The agent's `show_booking_calendar` tool opens the calendar through it
//! (`event: show`), and a booking made in the widget during the call is told to the call's
//! other listeners (`event: booked`). Messages arrive through the live-call bus
//! ([`crate::live`]), so the tool call may reach any server process.

use super::*;
use crate::http::error::ErrorCode;
use crate::live::{CallEvent, CallKey};
use axum::response::sse::{Event, KeepAlive, Sse};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub(crate) struct StreamQuery {
    /// The voice platform's id of the call the page is on (1 to 128 visible characters).
    callId: String,
    /// The publishable widget key, for `EventSource`, which cannot send `X-Pillow-Key`.
    key: Option<String>,
}

/// The call's live events, as server-sent events (`show`, `booked`).
///
/// Authenticated as the slots are: a widget key (`X-Pillow-Key`, or `key` in the query since
/// `EventSource` sends no headers) from an allowed origin, or the tenant's JWT or API key.
#[utoipa::path(get, path = "/api/v1/agents/{agent_id}/calendar/stream", tag = "in-call",
    security(("bearer" = [])),
    params(("agent_id" = Uuid, Path), StreamQuery,
           ("X-Pillow-Key" = Option<String>, Header, description = "Publishable widget key")),
    responses((status = 200, content_type = "text/event-stream", body = String,
               description = "Server-sent events: `event: show` with the calendar's preset, `event: booked` with a booking made during the call"),
              (status = 401), (status = 403), (status = 404), (status = 422), (status = 429)))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    peer: PeerIp,
    mut headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> InCallResult {
    let agent_id = parse_id(&agent_id, "agent")?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.body_text()))?;
    if let Some(key) = &query.key
        && !headers.contains_key(WIDGET_KEY_HEADER)
    {
        let value = HeaderValue::from_str(key.trim()).map_err(|_| {
            ApiError::unauthorized(
                "The widget key is not valid; ask the site owner for a current one.",
            )
        })?;
        headers.insert(WIDGET_KEY_HEADER, value);
    }
    let access = access(&state, &headers, &peer, agent_id, Operation::Slots).await?;
    let cors = access.cors.clone();
    let fail = |error: ApiError| InCallError {
        error,
        cors: cors.clone(),
    };
    let call_id = CallKey::check_call_id(&query.callId).ok_or_else(|| {
        fail(ApiError::invalid(
            "callId",
            ErrorCode::InvalidCallId,
            "callId is the call's id from the voice platform: 1 to 128 visible characters.",
        ))
    })?;
    // A tenant's own key may name any agent id: only its own agents have streams.
    if state
        .store
        .get_agent(access.tenant, agent_id)
        .await
        .map_err(|e| fail(e.into()))?
        .is_none()
    {
        return Err(fail(ApiError::not_found("agent")));
    }
    let call = CallKey {
        tenant: access.tenant,
        agent: agent_id,
        call_id: call_id.to_string(),
    };
    let receiver = state
        .bus
        .subscribe(&call)
        .await
        .map_err(|e| fail(ApiError::internal(e)))?;
    let events = futures_util::stream::unfold(
        (receiver, state.shutdown.clone()),
        |(mut receiver, stop)| async move {
            loop {
                let received = tokio::select! {
                    () = stop.cancelled() => return None,
                    received = receiver.recv() => received,
                };
                match received {
                    Ok(event) => {
                        let sse = sse_event(&event);
                        return Some((Ok::<_, std::convert::Infallible>(sse), (receiver, stop)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies that buffer would hold the events back until the stream ends.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    add_cors(response.headers_mut(), access.cors);
    Ok(response)
}

fn sse_event(event: &CallEvent) -> Event {
    Event::default().event(event.name()).data(event.data())
}
