//! The fake's booking endpoints: create, list, get, cancel, reschedule.

use super::*;

pub(super) fn booking_json(inner: &Inner, booking: &FakeBooking) -> Value {
    let event_type = inner
        .event_types
        .iter()
        .find(|event_type| event_type.id == booking.event_type_id);
    let host = inner.user(booking.host_id);
    let attendee_name = booking.attendee["name"].as_str().unwrap_or_default();
    let title = match (event_type, host) {
        (Some(event_type), Some(host)) => format!(
            "{} between {} and {attendee_name}",
            event_type.spec.title, host.spec.name
        ),
        _ => String::new(),
    };
    let mut attendee = booking.attendee.clone();
    attendee["absent"] = false.into();
    attendee["language"] = attendee
        .get("language")
        .cloned()
        .unwrap_or_else(|| "en".into());
    let mut out = json!({
        "id": booking.id,
        "uid": booking.uid,
        "title": title,
        "description": "",
        "hosts": host.map(|host| vec![json!({
            "id": host.id,
            "name": host.spec.name,
            "email": host.spec.email,
            "username": host.spec.username,
            "timeZone": host.spec.time_zone,
        })]).unwrap_or_default(),
        "status": booking.status,
        "start": utc_iso(booking.start),
        "end": utc_iso(booking.end),
        "duration": booking.end.duration_since(booking.start).as_mins(),
        "eventTypeId": booking.event_type_id,
        "eventType": {
            "id": booking.event_type_id,
            "slug": event_type.map(|event_type| event_type.spec.slug.clone()).unwrap_or_default(),
        },
        "meetingUrl": format!("https://app.cal.com/video/{}", booking.uid),
        "location": format!("https://app.cal.com/video/{}", booking.uid),
        "absentHost": false,
        "attendees": [attendee],
        "guests": [],
        "bookingFieldsResponses": booking.booking_fields_responses,
        "metadata": booking.metadata,
    });
    let optional = [
        ("cancellationReason", &booking.cancellation_reason),
        ("reschedulingReason", &booking.rescheduling_reason),
        ("rescheduledFromUid", &booking.rescheduled_from_uid),
        ("rescheduledToUid", &booking.rescheduled_to_uid),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            out[name] = value.clone().into();
        }
    }
    if booking.rescheduled_to_uid.is_some() {
        out["rescheduled"] = true.into();
    }
    out
}

/// A short random uid, like Cal.com's (alphanumeric, 22 characters).
pub(super) fn new_uid() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::new_v4().as_u128();
    (0..22)
        .map(|_| {
            let c = ALPHABET[(n % 62) as usize] as char;
            n /= 62;
            c
        })
        .collect()
}

pub(super) const BOOKING_FIELDS: &[&str] = &[
    "start",
    "lengthInMinutes",
    "eventTypeId",
    "eventTypeSlug",
    "username",
    "teamSlug",
    "organizationSlug",
    "attendee",
    "guests",
    "meetingUrl",
    "location",
    "metadata",
    "bookingFieldsResponses",
    "instant",
    "recurrenceCount",
];

/// Checks the attendee object the way Cal.com's validators do.
pub(super) fn check_attendee(attendee: Option<&Value>) -> Result<Value, String> {
    let Some(attendee) = attendee.and_then(Value::as_object) else {
        return Err(
            "attendee property is wrong,nested property attendee must be either object or array"
                .into(),
        );
    };
    if !attendee.get("name").is_some_and(Value::is_string) {
        return Err("attendee property is wrong,name must be a string".into());
    }
    let zone = attendee.get("timeZone").and_then(Value::as_str);
    if zone.is_none_or(|zone| TimeZone::get(zone).is_err()) {
        return Err("attendee property is wrong,timeZone must be a valid IANA time zone".into());
    }
    let email = attendee.get("email").and_then(Value::as_str).unwrap_or("");
    let phone = attendee
        .get("phoneNumber")
        .and_then(Value::as_str)
        .unwrap_or("");
    if email.trim().is_empty() && phone.trim().is_empty() {
        return Err("attendee property is wrong,At least one contact method (email or phone number) must be provided".into());
    }
    let email_ok = email.is_empty() || (email.contains('@') && email.contains('.'));
    if !email_ok {
        return Err("attendee property is wrong,Invalid email format".into());
    }
    let phone_ok = phone.is_empty()
        || (phone.starts_with('+')
            && phone.len() >= 8
            && phone[1..].bytes().all(|b| b.is_ascii_digit()));
    if !phone_ok {
        return Err(
            "attendee property is wrong,Invalid phone number format. Please use international format."
                .into(),
        );
    }
    Ok(Value::Object(attendee.clone()))
}

pub(super) fn check_metadata(metadata: Option<&Value>) -> Result<Value, String> {
    const MESSAGE: &str = "metadata property is wrong,Metadata must have at most 50 keys, each key up to 40 characters, and string values up to 500 characters.";
    match metadata {
        None => Ok(json!({})),
        Some(Value::Object(map)) => {
            let fits = map.len() <= 50
                && map.iter().all(|(key, value)| {
                    key.chars().count() <= 40
                        && value
                            .as_str()
                            .is_none_or(|text| text.chars().count() <= 500)
                });
            if fits {
                Ok(Value::Object(map.clone()))
            } else {
                Err(MESSAGE.into())
            }
        }
        Some(_) => Err(MESSAGE.into()),
    }
}

/// The answer to a time that cannot be booked.
pub(super) fn conflict(inner: &Inner, path: &str) -> Answer {
    if inner.legacy_conflicts {
        Answer::bad_request("no_available_users_found_error", path)
    } else {
        let mut answer = Answer::error(
            StatusCode::CONFLICT,
            "no_available_users_found_error",
            CONFLICT_MESSAGE,
            path,
        );
        answer.body["message"] = CONFLICT_MESSAGE.into();
        answer
    }
}

pub(super) fn out_of_bounds(path: &str) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        "booking_time_out_of_bounds_error",
        "booking_time_out_of_bounds_error",
        path,
    )
}

pub(super) fn create_booking(inner: &mut Inner, request: &Request<'_>) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        // The 2024-04-15 controller wants another body (`responses`, `timeZone`, …).
        return Answer::bad_request(
            "responses property is wrong,responses must be an object",
            path,
        );
    }
    let Some(body) = request.body.and_then(Value::as_object) else {
        return Answer::bad_request("Body should be an object", path);
    };
    if let Some(name) = body
        .keys()
        .find(|key| !BOOKING_FIELDS.contains(&key.as_str()))
    {
        return Answer::bad_request(&format!("property {name} should not exist"), path);
    }
    let Some(start) = body
        .get("start")
        .and_then(Value::as_str)
        .and_then(|start| start.parse::<Timestamp>().ok())
    else {
        return Answer::bad_request(
            "start property is wrong,start must be a valid ISO 8601 date string",
            path,
        );
    };
    let event_type = if let Some(id) = body.get("eventTypeId") {
        let Some(id) = id.as_i64() else {
            return Answer::bad_request(
                "eventTypeId property is wrong,eventTypeId must be an integer number",
                path,
            );
        };
        inner
            .event_types
            .iter()
            .find(|event_type| event_type.id == id)
    } else if let (Some(slug), Some(username)) = (
        body.get("eventTypeSlug").and_then(Value::as_str),
        body.get("username").and_then(Value::as_str),
    ) {
        inner.event_types.iter().find(|event_type| {
            event_type.spec.slug == slug
                && inner
                    .user(event_type.owner_id)
                    .is_some_and(|owner| owner.spec.username == username)
        })
    } else {
        return Answer::bad_request(
            "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug must be provided",
            path,
        );
    };
    let Some(event_type) = event_type.cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    let attendee = match check_attendee(body.get("attendee")) {
        Ok(attendee) => attendee,
        Err(message) => return Answer::bad_request(&message, path),
    };
    let metadata = match check_metadata(body.get("metadata")) {
        Ok(metadata) => metadata,
        Err(message) => return Answer::bad_request(&message, path),
    };
    let length = match body.get("lengthInMinutes") {
        None => event_type.spec.length_minutes,
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(minutes)
                if minutes == event_type.spec.length_minutes
                    || event_type.spec.other_lengths.contains(&minutes) =>
            {
                minutes
            }
            _ => {
                return Answer::bad_request(
                    "lengthInMinutes must be one of the event type's lengths",
                    path,
                );
            }
        },
    };
    let end = start + SignedDuration::from_mins(i64::from(length));
    let Some(host) = inner.user(event_type.owner_id).cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    if start < earliest_bookable(inner, &event_type) {
        return out_of_bounds(path);
    }
    if !bookable(inner, &host, start, end, None) {
        return conflict(inner, path);
    }

    let mut responses = body
        .get("bookingFieldsResponses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    responses.insert("name".into(), attendee["name"].clone());
    if let Some(email) = attendee.get("email") {
        responses.insert("email".into(), email.clone());
    }
    if let Some(phone) = attendee.get("phoneNumber") {
        responses.insert("attendeePhoneNumber".into(), phone.clone());
    }
    let booking = FakeBooking {
        id: inner.next_id(),
        uid: new_uid(),
        event_type_id: event_type.id,
        host_id: host.id,
        start,
        end,
        status: "accepted".into(),
        attendee,
        booking_fields_responses: Value::Object(responses),
        metadata,
        cancellation_reason: None,
        rescheduling_reason: None,
        rescheduled_from_uid: None,
        rescheduled_to_uid: None,
    };
    let data = booking_json(inner, &booking);
    inner.bookings.push(booking);
    Answer::ok(StatusCode::CREATED, data)
}

pub(super) fn find_booking(inner: &Inner, uid: &str) -> Option<usize> {
    inner.bookings.iter().position(|booking| booking.uid == uid)
}

pub(super) fn booking_not_found(uid: &str, path: &str) -> Answer {
    Answer::not_found(
        &format!("Booking with uid={uid} was not found in the database"),
        path,
    )
}

pub(super) const LIST_PARAMETERS: &[&str] = &[
    "status",
    "attendeeEmail",
    "attendeeName",
    "bookingUid",
    "eventTypeIds",
    "eventTypeId",
    "teamsIds",
    "teamId",
    "afterStart",
    "beforeEnd",
    "afterCreatedAt",
    "beforeCreatedAt",
    "sortStart",
    "sortEnd",
    "sortCreated",
    "take",
    "skip",
];

/// `GET /v2/bookings`: the caller's bookings as host, filtered and paged.
pub(super) fn list_bookings(inner: &Inner, request: &Request<'_>) -> Answer {
    let path = request.full_path;
    let host = match require_user(request) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::bad_request("property take should not exist", path);
    }
    if let Some((name, _)) = request
        .query
        .iter()
        .find(|(name, _)| !LIST_PARAMETERS.contains(&name.as_str()))
    {
        return Answer::bad_request(&format!("property {name} should not exist"), path);
    }
    let instant = |name: &str| match request.param(name) {
        None => Ok(None),
        Some(text) => text.parse::<Timestamp>().map(Some).map_err(|_| {
            Answer::bad_request(
                &format!("{name} must be a valid ISO 8601 date string"),
                path,
            )
        }),
    };
    let (after_start, before_end) = match (instant("afterStart"), instant("beforeEnd")) {
        (Ok(after), Ok(before)) => (after, before),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    let event_type = match request.param("eventTypeId").map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return Answer::bad_request("eventTypeId must be an integer number", path);
        }
    };
    let number = |name: &str, default: usize| {
        request
            .param(name)
            .map_or(Some(default), |text| text.parse::<usize>().ok())
    };
    let (Some(take), Some(skip)) = (number("take", 100), number("skip", 0)) else {
        return Answer::bad_request("take and skip must be numbers", path);
    };
    if take == 0 {
        return Answer::bad_request("take must not be less than 1", path);
    }
    let now = inner.now();
    let mut matching: Vec<&FakeBooking> = inner
        .bookings
        .iter()
        .filter(|booking| booking.host_id == host)
        .filter(|booking| event_type.is_none_or(|id| booking.event_type_id == id))
        .filter(|booking| after_start.is_none_or(|after| booking.start >= after))
        .filter(|booking| before_end.is_none_or(|before| booking.end <= before))
        .filter(|booking| match request.param("status") {
            None => true,
            Some(statuses) => statuses.split(',').any(|status| match status.trim() {
                "upcoming" => booking.status == "accepted" && booking.end >= now,
                "past" => booking.end < now,
                "cancelled" => booking.status == "cancelled",
                _ => false,
            }),
        })
        .collect();
    match request.param("sortStart") {
        None => {}
        Some("asc") => matching.sort_by_key(|booking| booking.start),
        Some("desc") => matching.sort_by_key(|booking| std::cmp::Reverse(booking.start)),
        Some(_) => {
            return Answer::bad_request(
                "sortStart must be one of the following values: asc, desc",
                path,
            );
        }
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|booking| booking_json(inner, booking))
        .collect();
    let returned = page.len();
    let mut answer = Answer::ok(StatusCode::OK, Value::Array(page));
    answer.body["pagination"] = json!({
        "totalItems": total,
        "remainingItems": total.saturating_sub(skip + returned),
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip / take + 1,
        "totalPages": total.div_ceil(take),
        "hasNextPage": skip + returned < total,
        "hasPreviousPage": skip > 0,
    });
    answer
}

pub(super) fn get_booking(inner: &Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    let booking = &inner.bookings[index];
    if request.version != Some(BOOKINGS_VERSION) {
        // The older controller's shape.
        return Answer::ok(
            StatusCode::OK,
            json!({
                "id": booking.id,
                "uid": booking.uid,
                "startTime": utc_iso(booking.start),
                "endTime": utc_iso(booking.end),
                "status": booking.status.to_ascii_uppercase(),
            }),
        );
    }
    Answer::ok(StatusCode::OK, booking_json(inner, booking))
}

pub(super) fn cancel_booking(inner: &mut Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::bad_request("Validation failed (numeric string is expected)", path);
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    if inner.bookings[index].status == "cancelled" {
        return Answer::bad_request("This booking has already been cancelled.", path);
    }
    let reason = request
        .body
        .and_then(|body| body.get("cancellationReason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let booking = &mut inner.bookings[index];
    booking.status = "cancelled".into();
    booking.cancellation_reason = reason;
    let booking = booking.clone();
    Answer::ok(StatusCode::OK, booking_json(inner, &booking))
}

pub(super) fn reschedule_booking(inner: &mut Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::not_found(&format!("Cannot POST {path}"), path);
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    let Some(start) = request
        .body
        .and_then(|body| body.get("start"))
        .and_then(Value::as_str)
        .and_then(|start| start.parse::<Timestamp>().ok())
    else {
        return Answer::bad_request(
            "start property is wrong,start must be a valid ISO 8601 date string",
            path,
        );
    };
    let old = inner.bookings[index].clone();
    if old.status == "cancelled" {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "cancelled_bookings_cannot_be_rescheduled",
            "cancelled_bookings_cannot_be_rescheduled",
            path,
        );
    }
    let Some(event_type) = inner
        .event_types
        .iter()
        .find(|event_type| event_type.id == old.event_type_id)
        .cloned()
    else {
        return Answer::not_found("Event type not found", path);
    };
    let Some(host) = inner.user(old.host_id).cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    let end = start + old.end.duration_since(old.start);
    if start < earliest_bookable(inner, &event_type) {
        return out_of_bounds(path);
    }
    // The booking being moved does not block its own new time.
    if !bookable(inner, &host, start, end, Some(&old.uid)) {
        return conflict(inner, path);
    }
    let reason = request
        .body
        .and_then(|body| body.get("reschedulingReason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let new = FakeBooking {
        id: inner.next_id(),
        uid: new_uid(),
        start,
        end,
        status: "accepted".into(),
        cancellation_reason: None,
        rescheduling_reason: reason,
        rescheduled_from_uid: Some(old.uid.clone()),
        rescheduled_to_uid: None,
        ..old
    };
    let moved = &mut inner.bookings[index];
    moved.status = "cancelled".into();
    moved.rescheduled_to_uid = Some(new.uid.clone());
    let data = booking_json(inner, &new);
    inner.bookings.push(new);
    Answer::ok(StatusCode::CREATED, data)
}
