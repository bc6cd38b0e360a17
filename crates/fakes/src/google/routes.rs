//! The fake's HTTP surface: the router, its error bodies, and one handler per Calendar endpoint.

use super::*;

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke))
        .route(
            "/calendar/v3/calendars/{calendar_id}/events",
            get(list_events).post(insert_event),
        )
        .route(
            "/calendar/v3/calendars/{calendar_id}/events/watch",
            post(watch),
        )
        .route(
            "/calendar/v3/calendars/{calendar_id}/events/{event_id}",
            get(get_event).patch(patch_event).delete(delete_event),
        )
        .route("/calendar/v3/channels/stop", post(stop_channel))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), timed))
        .with_state(shared)
}

/// Adds each request's handling time to [`FakeGoogle::busy_time`].
pub(super) async fn timed(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    crate::timing::add_handling_time(&shared.0.busy_nanos, request, next).await
}

/// Google's error body: `{"error":{"errors":[{domain,reason,message}],"code","message"}}`.
pub(super) fn api_error(status: u16, reason: &str, message: &str) -> Response {
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded" => "usageLimits",
        _ => "global",
    };
    let body = json!({"error": {
        "errors": [{"domain": domain, "reason": reason, "message": message}],
        "code": status,
        "message": message,
    }});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

pub(super) fn default_message(reason: &str) -> &'static str {
    match reason {
        "rateLimitExceeded" => "Rate Limit Exceeded",
        "userRateLimitExceeded" => "User Rate Limit Exceeded",
        "backendError" => "Backend Error",
        _ => "Injected failure",
    }
}

/// Counting, outage, injected failures, Bearer auth, scope and calendar access: what every
/// Calendar API call goes through first. Returns the locked state and the real calendar id.
pub(super) fn begin<'a>(
    shared: &'a Shared,
    call: Call,
    headers: &HeaderMap,
    calendar_id: Option<&str>,
) -> Result<(MutexGuard<'a, FakeState>, String), Box<Response>> {
    let mut state = shared.lock();
    *state.counts.entry(call).or_default() += 1;
    if state.down {
        return Err(Box::new(api_error(503, "backendError", "Backend Error")));
    }
    if let Some((status, reason)) = state.failures.pop_front() {
        let mut response = api_error(status, &reason, default_message(&reason));
        if let Some(seconds) = state.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        return Err(Box::new(response));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(access) = state
        .oauth
        .access
        .get(token)
        .filter(|a| a.expires > Timestamp::now())
        .cloned()
    else {
        let body = json!({"error": {
            "errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials",
                        "locationType": "header", "location": "Authorization"}],
            "code": 401, "message": "Invalid Credentials",
        }});
        return Err(Box::new(
            (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response(),
        ));
    };
    if !access
        .scopes
        .iter()
        .any(|s| s == CALENDAR_EVENTS_SCOPE || s == CALENDAR_SCOPE)
    {
        return Err(Box::new(api_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )));
    }
    let calendar_id = match calendar_id {
        Some("primary") => access.email.clone(),
        Some(id) => id.to_owned(),
        None => access.email.clone(),
    };
    // A user sees only their own calendar; Google answers 404 for the rest.
    if calendar_id != access.email || !state.calendars.contains_key(&calendar_id) {
        return Err(Box::new(api_error(404, "notFound", "Not Found")));
    }
    Ok((state, calendar_id))
}

pub(super) fn json_ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// One `events.list` call being answered; counted in and out of the calendar's in-flight
/// number, whatever way the handler returns.
pub(super) struct ListInFlight {
    shared: Shared,
    calendar_id: String,
}

impl ListInFlight {
    fn enter(shared: &Shared, calendar_id: &str) -> Self {
        let mut state = shared.lock();
        let now = state
            .lists_in_flight
            .entry(calendar_id.to_owned())
            .or_default();
        *now += 1;
        let now = *now;
        let max = state
            .max_lists_in_flight
            .entry(calendar_id.to_owned())
            .or_default();
        *max = (*max).max(now);
        Self {
            shared: shared.clone(),
            calendar_id: calendar_id.to_owned(),
        }
    }
}

impl Drop for ListInFlight {
    fn drop(&mut self) {
        if let Some(n) = self
            .shared
            .lock()
            .lists_in_flight
            .get_mut(&self.calendar_id)
        {
            *n = n.saturating_sub(1);
        }
    }
}

pub(super) async fn list_events(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (calendar_id, delay) = match begin(&shared, Call::List, &headers, Some(&calendar_id)) {
        Ok((state, calendar_id)) => (calendar_id, state.list_delay),
        Err(response) => return *response,
    };
    // Declared before the state's guard, so it is dropped (and locks) after the guard goes.
    let _in_flight = ListInFlight::enter(&shared, &calendar_id);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = shared.lock();
    let state = &mut *state;
    if let Some(page_token) = q.get("pageToken") {
        return match state.pages.remove(page_token) {
            Some(page) if page.calendar_id == calendar_id => serve_page(state, &calendar_id, page),
            _ => api_error(400, "invalid", "Invalid page token value."),
        };
    }
    let calendar = &state.calendars[&calendar_id];
    let parse_time = |key: &str| -> Result<Option<Timestamp>, Box<Response>> {
        q.get(key)
            .map(|t| {
                t.parse::<Timestamp>()
                    .map_err(|_| Box::new(api_error(400, "invalid", &format!("Bad {key} value."))))
            })
            .transpose()
    };
    let (time_min, time_max) = match (parse_time("timeMin"), parse_time("timeMax")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    let since = match q.get("syncToken") {
        Some(token) => {
            if time_min.is_some() || time_max.is_some() || q.contains_key("updatedMin") {
                return api_error(
                    400,
                    "invalid",
                    "Sync token cannot be used with timeMin, timeMax or updatedMin.",
                );
            }
            match calendar.parse_sync_token(token) {
                Ok(seq) => Some(seq),
                Err(_) => {
                    return api_error(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                    );
                }
            }
        }
        None => None,
    };
    let query = ListQuery {
        since,
        time_min,
        time_max,
        single_events: q.get("singleEvents").is_some_and(|v| v == "true"),
        // Incremental results always include deletions.
        show_deleted: since.is_some() || q.get("showDeleted").is_some_and(|v| v == "true"),
    };
    let items = match calendar.list(&query) {
        Ok(items) => items,
        Err(message) => return api_error(400, "invalid", &message),
    };
    let asked = q
        .get("maxResults")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let page = Page {
        calendar_id: calendar_id.clone(),
        items: Arc::new(items),
        offset: 0,
        size: state.page_size.map_or(asked, |cap| asked.min(cap.max(1))),
        sync_token: calendar.sync_token(),
        empty_next: state.empty_pages,
    };
    serve_page(state, &calendar_id, page)
}

/// One page of a list snapshot; the sync token only on the last one.
pub(super) fn serve_page(state: &mut FakeState, calendar_id: &str, mut page: Page) -> Response {
    let calendar = &state.calendars[calendar_id];
    let mut body = json!({
        "kind": "calendar#events",
        "etag": format!("\"p{}\"", calendar.seq),
        "summary": calendar.id,
        "updated": rfc3339(Timestamp::now()),
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
    });
    let remaining = page.items.len() - page.offset;
    let items: Vec<Value> = if page.empty_next && remaining > 0 {
        page.empty_next = false;
        Vec::new()
    } else {
        let end = (page.offset + page.size).min(page.items.len());
        let chunk = page.items[page.offset..end].to_vec();
        page.offset = end;
        page.empty_next = state.empty_pages;
        chunk
    };
    body["items"] = Value::Array(items);
    if page.offset < page.items.len() {
        let token = random_id(32);
        body["nextPageToken"] = json!(token);
        state.pages.insert(token, page);
    } else {
        body["nextSyncToken"] = json!(page.sync_token);
    }
    json_ok(body)
}

pub(super) async fn get_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (state, calendar_id) = match begin(&shared, Call::Get, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    match state.calendars[&calendar_id].events.get(&event_id) {
        Some(stored) => json_ok(Value::Object(stored.json.clone())),
        None => api_error(404, "notFound", "Not Found"),
    }
}

pub(super) async fn insert_event(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Insert, &headers, Some(&calendar_id))
    {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    if let Some(id) = event.get("id") {
        let Some(id) = id.as_str().filter(|id| valid_event_id(id)) else {
            return api_error(400, "invalid", "Invalid resource id value.");
        };
        if state.calendars[&calendar_id].events.contains_key(id) {
            return api_error(409, "duplicate", "The requested identifier already exists.");
        }
    }
    for key in ["start", "end"] {
        if !event.get(key).is_some_and(Value::is_object) {
            return api_error(400, "required", &format!("Missing {key} time."));
        }
    }
    let base = shared.0.base.clone();
    let created = state
        .calendars
        .get_mut(&calendar_id)
        .map(|c| c.insert(event, &base))
        .unwrap_or_default();
    shared.changed(&mut state, &calendar_id);
    json_ok(Value::Object(created))
}

pub(super) fn if_match_fails(headers: &HeaderMap, etag: Option<&Value>) -> bool {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|wanted| Some(wanted) != etag.and_then(Value::as_str))
}

pub(super) async fn patch_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Patch, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let calendar = state.calendars.get_mut(&calendar_id).expect("checked");
    let Some(stored) = calendar.events.get(&event_id) else {
        return api_error(404, "notFound", "Not Found");
    };
    if if_match_fails(&headers, stored.json.get("etag")) {
        return api_error(412, "conditionNotMet", "Precondition Failed");
    }
    let updated = calendar.patch(&event_id, &patch).unwrap_or_default();
    shared.changed(&mut state, &calendar_id);
    json_ok(Value::Object(updated))
}

pub(super) async fn delete_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Delete, &headers, Some(&calendar_id))
    {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let calendar = state.calendars.get_mut(&calendar_id).expect("checked");
    match calendar.events.get(&event_id) {
        None => return api_error(404, "notFound", "Not Found"),
        Some(stored) if stored.deleted => {
            return api_error(410, "deleted", "Resource has been deleted");
        }
        Some(stored) if if_match_fails(&headers, stored.json.get("etag")) => {
            return api_error(412, "conditionNotMet", "Precondition Failed");
        }
        Some(_) => {}
    }
    calendar.delete(&event_id);
    shared.changed(&mut state, &calendar_id);
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn watch(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Watch, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(address)) = (text("id"), text("address")) else {
        return api_error(400, "required", "Required");
    };
    if !matches!(text("type").as_deref(), Some("web_hook" | "webhook")) {
        return api_error(400, "invalid", "Invalid value for: type");
    }
    if state.channels.contains_key(&id) {
        return api_error(400, "channelIdNotUnique", "Channel id not unique");
    }
    let ttl = request
        .get("params")
        .and_then(|p| p.get("ttl"))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(DEFAULT_CHANNEL_TTL)
        .clamp(1, MAX_CHANNEL_TTL);
    let calendar = &state.calendars[&calendar_id];
    let channel = ChannelInfo {
        id: id.clone(),
        resource_id: calendar.resource_id.clone(),
        calendar_id: calendar_id.clone(),
        address,
        token: text("token"),
        expiration: Timestamp::now() + SignedDuration::from_secs(ttl),
        message_number: 1,
    };
    let _ = shared
        .0
        .notify
        .send(delivery(&shared.0.base, &channel, "sync"));
    let mut body = json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": format!("{}/calendar/v3/calendars/{}/events?alt=json", shared.0.base, calendar_id),
        "expiration": channel.expiration.as_millisecond().to_string(),
    });
    if let Some(token) = &channel.token {
        body["token"] = json!(token);
    }
    state.channels.insert(id, channel);
    json_ok(body)
}

pub(super) async fn stop_channel(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, email) = match begin(&shared, Call::StopChannel, &headers, None) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(request) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let id = request
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resource = request
        .get("resourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = state
        .channels
        .get(id)
        .is_some_and(|c| c.resource_id == resource && c.calendar_id == email);
    if !found {
        return api_error(
            404,
            "notFound",
            &format!("Channel '{id}' not found for project"),
        );
    }
    state.channels.remove(id);
    StatusCode::NO_CONTENT.into_response()
}
