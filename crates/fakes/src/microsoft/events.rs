//! The fake's mailbox: events as Graph stores and answers them, and what a delta round lists.

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::oauth::random_token;
use super::{DeltaState, FakeState, Mailbox, StoredEvent};

/// A Graph error: status, code, message.
pub(crate) type GraphFailure = (u16, &'static str, String);

fn bad(message: impl Into<String>) -> GraphFailure {
    (400, "ErrorInvalidRequest", message.into())
}

/// Reads a `dateTimeTimeZone` (`UTC` or an IANA name) as an instant.
fn instant(v: &Value) -> Option<Timestamp> {
    let wall: DateTime = v.get("dateTime")?.as_str()?.parse().ok()?;
    let zone = match v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC") {
        "UTC" => TimeZone::UTC,
        name => TimeZone::get(name).ok()?,
    };
    zone.to_ambiguous_zoned(wall)
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

fn utc(t: Timestamp) -> Value {
    json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"})
}

fn mailbox<'a>(state: &'a mut FakeState, user: &str) -> Result<&'a mut Mailbox, GraphFailure> {
    state.mailboxes.get_mut(user).ok_or((
        404,
        "ErrorItemNotFound",
        "The mailbox was not found.".into(),
    ))
}

/// `POST /me/events`. With a `transactionId` already used by a live event, answers that
/// event instead of making a second one.
pub(crate) fn insert(
    state: &mut FakeState,
    user: &str,
    body: Value,
) -> Result<Value, GraphFailure> {
    let start = body
        .get("start")
        .and_then(instant)
        .ok_or_else(|| bad("start is required"))?;
    let end = body
        .get("end")
        .and_then(instant)
        .ok_or_else(|| bad("end is required"))?;
    if end < start {
        return Err(bad("The end time must be after the start time."));
    }
    let transaction = body
        .get("transactionId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mailbox = mailbox(state, user)?;
    if let Some(t) = &transaction
        && let Some(existing) = mailbox
            .events
            .values()
            .find(|e| !e.deleted && e.json["transactionId"].as_str() == Some(t))
    {
        return Ok(existing.json.clone());
    }
    mailbox.seq += 1;
    let id = format!("{}=", random_token("AAMkAGI2"));
    let change_key = random_token("DwAAABYAAAB");
    let now = Timestamp::now().to_string();
    let json = json!({
        "@odata.etag": format!("W/\"{change_key}\""),
        "id": id,
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "changeKey": change_key,
        "transactionId": transaction,
        "subject": body.get("subject").cloned().unwrap_or(json!("")),
        "body": body.get("body").cloned().unwrap_or(json!({"contentType": "text", "content": ""})),
        "start": utc(start),
        "end": utc(end),
        "isAllDay": body.get("isAllDay").cloned().unwrap_or(json!(false)),
        "isCancelled": body.get("isCancelled").cloned().unwrap_or(json!(false)),
        "showAs": body.get("showAs").cloned().unwrap_or(json!("busy")),
        "type": "singleInstance",
        "seriesMasterId": null,
    });
    let extended = extended(&body);
    mailbox.events.insert(
        id,
        StoredEvent {
            json: json.clone(),
            extended,
            start,
            end,
            changed: mailbox.seq,
            deleted: false,
        },
    );
    Ok(json)
}

fn extended(body: &Value) -> Vec<(String, String)> {
    body.get("singleValueExtendedProperties")
        .and_then(Value::as_array)
        .map(|props| {
            props
                .iter()
                .filter_map(|p| {
                    Some((
                        p["id"].as_str()?.to_owned(),
                        p["value"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `PATCH`: merges the fields the fake knows; a new change key (and ETag).
pub(crate) fn update(
    state: &mut FakeState,
    user: &str,
    id: &str,
    patch: &Value,
) -> Result<Value, GraphFailure> {
    let mailbox = mailbox(state, user)?;
    mailbox.seq += 1;
    let seq = mailbox.seq;
    let event = live(mailbox, id)?;
    for key in ["subject", "body", "isAllDay", "isCancelled", "showAs"] {
        if let Some(v) = patch.get(key) {
            event.json[key] = v.clone();
        }
    }
    if let Some(start) = patch.get("start") {
        event.start = instant(start).ok_or_else(|| bad("bad start"))?;
        event.json["start"] = utc(event.start);
    }
    if let Some(end) = patch.get("end") {
        event.end = instant(end).ok_or_else(|| bad("bad end"))?;
        event.json["end"] = utc(event.end);
    }
    for (k, v) in extended(patch) {
        event.extended.retain(|(id, _)| *id != k);
        event.extended.push((k, v));
    }
    let change_key = random_token("DwAAABYAAAB");
    event.json["changeKey"] = json!(change_key);
    event.json["@odata.etag"] = json!(format!("W/\"{change_key}\""));
    event.json["lastModifiedDateTime"] = json!(Timestamp::now().to_string());
    event.changed = seq;
    Ok(event.json.clone())
}

/// Deletes; false when there was nothing to delete.
pub(crate) fn delete(state: &mut FakeState, user: &str, id: &str) -> bool {
    let Ok(mailbox) = mailbox(state, user) else {
        return false;
    };
    mailbox.seq += 1;
    let seq = mailbox.seq;
    match live(mailbox, id) {
        Ok(event) => {
            event.deleted = true;
            event.changed = seq;
            true
        }
        Err(_) => false,
    }
}

pub(crate) fn live<'a>(
    mailbox: &'a mut Mailbox,
    id: &str,
) -> Result<&'a mut StoredEvent, GraphFailure> {
    mailbox.events.get_mut(id).filter(|e| !e.deleted).ok_or((
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.".into(),
    ))
}

/// The event with its extended properties, as `GET ?$expand=singleValueExtendedProperties`.
pub(crate) fn expanded(event: &StoredEvent) -> Value {
    let mut json = event.json.clone();
    json["singleValueExtendedProperties"] = event
        .extended
        .iter()
        .map(|(id, value)| json!({"id": id, "value": value}))
        .collect();
    json
}

/// The entries of a delta round and the ids in view at its end: every event in the window for
/// a full round; for one from a token, the events changed since, with `@removed` for those
/// that were in view and are now deleted or out of it.
pub(crate) fn delta_items(
    mailbox: &Mailbox,
    window: (Timestamp, Timestamp),
    since: Option<&DeltaState>,
) -> (Vec<Value>, HashSet<String>) {
    let in_view = |e: &StoredEvent| !e.deleted && e.start < window.1 && e.end > window.0;
    let seen: HashSet<String> = mailbox
        .events
        .iter()
        .filter(|(_, e)| in_view(e))
        .map(|(id, _)| id.clone())
        .collect();
    let items = mailbox
        .events
        .iter()
        .filter_map(|(id, e)| match since {
            None => in_view(e).then(|| e.json.clone()),
            Some(s) if e.changed <= s.seq => None,
            Some(_) if in_view(e) => Some(e.json.clone()),
            Some(s) if s.seen.contains(id) => Some(json!({
                "@odata.type": "#microsoft.graph.event",
                "id": id,
                "@removed": {"reason": "deleted"},
            })),
            Some(_) => None,
        })
        .collect();
    (items, seen)
}
