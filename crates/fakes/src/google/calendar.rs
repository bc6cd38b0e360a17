//! One fake Google calendar: its events, the change log behind sync tokens, and rendering of
//! events the way `events.list` and `events.get` show them.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Map, Value, json};

use super::recurrence;

/// At most this many instances of one recurring event are expanded.
const MAX_INSTANCES: usize = 1000;

/// An event as stored: Google's JSON plus what the fake needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub json: Map<String, Value>,
    /// Change-log position of the last change; sync tokens remember a position.
    pub changed: u64,
    pub deleted: bool,
    /// Ids of instances of this recurring event the user cancelled one by one.
    pub cancelled_instances: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Calendar {
    pub id: String,
    pub time_zone: String,
    /// Bumped on every change.
    pub seq: u64,
    /// Bumped by `expire_sync_tokens`: tokens of older generations answer 410.
    pub generation: u64,
    /// Stable id of this calendar's events collection for push channels.
    pub resource_id: String,
    pub events: BTreeMap<String, Stored>,
}

impl Calendar {
    pub fn new(id: String, time_zone: String) -> Self {
        Self {
            id,
            time_zone,
            seq: 1,
            generation: 1,
            resource_id: random_id(27),
            events: BTreeMap::new(),
        }
    }

    fn tz(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    pub fn sync_token(&self) -> String {
        format!("CPDAlvWDx{}x{}", self.generation, self.seq)
    }

    /// The change-log position of a token, or `Err(true)` for one of an expired generation,
    /// `Err(false)` for garbage.
    pub fn parse_sync_token(&self, token: &str) -> Result<u64, bool> {
        let rest = token.strip_prefix("CPDAlvWDx").ok_or(false)?;
        let (generation, seq) = rest.split_once('x').ok_or(false)?;
        let generation: u64 = generation.parse().map_err(|_| false)?;
        let seq: u64 = seq.parse().map_err(|_| false)?;
        if generation != self.generation || seq > self.seq {
            return Err(true);
        }
        Ok(seq)
    }

    fn next_change(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Stores a new event (id already validated unique), filling in what Google fills in.
    pub fn insert(&mut self, mut json: Map<String, Value>, html_base: &str) -> Map<String, Value> {
        let id = match json.get("id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => {
                let id = random_id(26);
                json.insert("id".into(), json!(id));
                id
            }
        };
        let now = now_text();
        json.insert("kind".into(), json!("calendar#event"));
        json.entry("status").or_insert(json!("confirmed"));
        json.insert("created".into(), json!(now));
        json.insert("iCalUID".into(), json!(format!("{id}@google.com")));
        json.insert(
            "htmlLink".into(),
            json!(format!("{html_base}/event?eid={id}")),
        );
        json.insert("organizer".into(), json!({"email": self.id, "self": true}));
        json.insert("creator".into(), json!({"email": self.id, "self": true}));
        let changed = self.next_change();
        stamp(&mut json, changed);
        self.events.insert(
            id,
            Stored {
                json: json.clone(),
                changed,
                deleted: false,
                cancelled_instances: Vec::new(),
            },
        );
        json
    }

    /// Merges `patch` into the event (PATCH semantics: objects merge one level, `null` removes).
    pub fn patch(&mut self, id: &str, patch: &Map<String, Value>) -> Option<Map<String, Value>> {
        let changed = self.next_change();
        let stored = self.events.get_mut(id)?;
        for (key, value) in patch {
            if ["id", "kind", "etag", "created", "iCalUID", "htmlLink"].contains(&key.as_str()) {
                continue;
            }
            match (stored.json.get_mut(key), value) {
                (_, Value::Null) => {
                    stored.json.remove(key);
                }
                (Some(Value::Object(old)), Value::Object(new))
                    if key != "start" && key != "end" =>
                {
                    for (k, v) in new {
                        old.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    stored.json.insert(key.clone(), value.clone());
                }
            }
        }
        stored.deleted = stored.json.get("status").and_then(Value::as_str) == Some("cancelled");
        stored.changed = changed;
        stamp(&mut stored.json, changed);
        Some(stored.json.clone())
    }

    /// Marks the event deleted; it stays as a tombstone for incremental sync.
    pub fn delete(&mut self, id: &str) -> bool {
        let changed = self.next_change();
        let Some(stored) = self.events.get_mut(id) else {
            return false;
        };
        stored.deleted = true;
        stored.changed = changed;
        stored.json.insert("status".into(), json!("cancelled"));
        stamp(&mut stored.json, changed);
        true
    }

    /// Cancels one instance of a recurring event, as "delete only this event" does in the UI.
    pub fn cancel_instance(&mut self, base_id: &str, instance_id: &str) -> bool {
        let changed = self.next_change();
        let Some(stored) = self.events.get_mut(base_id) else {
            return false;
        };
        stored.cancelled_instances.push(instance_id.to_owned());
        stored.changed = changed;
        stamp(&mut stored.json, changed);
        true
    }

    /// The events a list request returns, rendered, before paging.
    pub fn list(&self, query: &ListQuery) -> Result<Vec<Value>, String> {
        let tz = self.tz();
        let mut events: Vec<&Stored> = self
            .events
            .values()
            .filter(|s| query.since.is_none_or(|since| s.changed > since))
            .collect();
        if query.since.is_some() {
            events.sort_by_key(|s| s.changed);
        }
        let mut out = Vec::new();
        let horizon = query
            .time_max
            .unwrap_or_else(|| Timestamp::now() + SignedDuration::from_hours(24 * 366));
        for stored in events {
            let recurring = stored
                .json
                .get("recurrence")
                .and_then(Value::as_array)
                .is_some();
            if recurring && query.single_events {
                for instance in self.instances(stored, &tz, horizon)? {
                    let cancelled = stored.deleted
                        || instance.get("status").and_then(Value::as_str) == Some("cancelled");
                    if cancelled {
                        if query.show_deleted {
                            out.push(tombstone(&instance));
                        }
                    } else if self.overlaps(&instance, query, &tz) {
                        out.push(Value::Object(instance));
                    }
                }
                continue;
            }
            if stored.deleted {
                if query.show_deleted {
                    out.push(tombstone(&stored.json));
                }
            } else if self.overlaps(&stored.json, query, &tz) {
                out.push(Value::Object(stored.json.clone()));
            }
        }
        if query.since.is_none() {
            out.sort_by_key(|e| start_of(e.as_object().unwrap_or(&Map::new()), &tz));
        }
        Ok(out)
    }

    /// A recurring event's instances (cancelled ones with status `cancelled`).
    fn instances(
        &self,
        stored: &Stored,
        tz: &TimeZone,
        horizon: Timestamp,
    ) -> Result<Vec<Map<String, Value>>, String> {
        let master = &stored.json;
        let lines: Vec<String> = master
            .get("recurrence")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(rule) = recurrence::parse(&lines)? else {
            return Ok(vec![master.clone()]);
        };
        let base_id = master.get("id").and_then(Value::as_str).unwrap_or_default();
        let start = master.get("start").cloned().unwrap_or_default();
        let end = master.get("end").cloned().unwrap_or_default();
        let mut out = Vec::new();
        if let Some(date) = start.get("date").and_then(Value::as_str) {
            let first: Date = date.parse().map_err(|_| "bad start.date")?;
            let last: Date = end
                .get("date")
                .and_then(Value::as_str)
                .and_then(|d| d.parse().ok())
                .unwrap_or(first.tomorrow().map_err(|e| e.to_string())?);
            let days = first.until(last).map_err(|e| e.to_string())?.get_days();
            for local in recurrence::occurrences(
                &rule,
                first.to_datetime(jiff::civil::Time::midnight()),
                tz,
                horizon,
                MAX_INSTANCES,
            ) {
                let d = local.date();
                let id = format!("{base_id}_{}", d.strftime("%Y%m%d"));
                let end_day = d.checked_add(days.days()).map_err(|e| e.to_string())?;
                out.push(self.instance(
                    stored,
                    id,
                    json!({"date": d.to_string()}),
                    json!({"date": end_day.to_string()}),
                    json!({"date": d.to_string()}),
                ));
            }
            return Ok(out);
        }
        let zone_name = start.get("timeZone").and_then(Value::as_str);
        let zone = zone_name
            .and_then(|z| TimeZone::get(z).ok())
            .unwrap_or_else(|| tz.clone());
        let first: Timestamp = start
            .get("dateTime")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or("a recurring event needs start.dateTime or start.date")?;
        let finish: Timestamp = end
            .get("dateTime")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(first);
        let length = first.duration_until(finish);
        let local_first: DateTime = first.to_zoned(zone.clone()).datetime();
        for local in recurrence::occurrences(&rule, local_first, &zone, horizon, MAX_INSTANCES) {
            let at = zone.to_timestamp(local).map_err(|e| e.to_string())?;
            let id = format!("{base_id}_{}", at.strftime("%Y%m%dT%H%M%SZ"));
            let with_zone = |t: Timestamp| match zone_name {
                Some(z) => json!({"dateTime": rfc3339(t), "timeZone": z}),
                None => json!({"dateTime": rfc3339(t)}),
            };
            out.push(self.instance(
                stored,
                id,
                with_zone(at),
                with_zone(at + length),
                with_zone(at),
            ));
        }
        Ok(out)
    }

    fn instance(
        &self,
        stored: &Stored,
        id: String,
        start: Value,
        end: Value,
        original: Value,
    ) -> Map<String, Value> {
        let mut json = stored.json.clone();
        json.remove("recurrence");
        let base = json.get("id").cloned().unwrap_or_default();
        if stored.cancelled_instances.contains(&id) {
            json.insert("status".into(), json!("cancelled"));
        }
        json.insert("id".into(), json!(id));
        json.insert("recurringEventId".into(), base);
        json.insert("start".into(), start);
        json.insert("end".into(), end);
        json.insert("originalStartTime".into(), original);
        json
    }

    /// Google's window: the event ends after `timeMin` and starts before `timeMax`.
    fn overlaps(&self, event: &Map<String, Value>, query: &ListQuery, tz: &TimeZone) -> bool {
        let start = start_of(event, tz);
        let end = bound(event.get("end"), tz).unwrap_or(start);
        query.time_min.is_none_or(|min| end > min) && query.time_max.is_none_or(|max| start < max)
    }
}

/// What the list handler asks of a calendar.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    /// Change-log position of the sync token, for incremental sync.
    pub since: Option<u64>,
    pub time_min: Option<Timestamp>,
    pub time_max: Option<Timestamp>,
    pub single_events: bool,
    pub show_deleted: bool,
}

fn start_of(event: &Map<String, Value>, tz: &TimeZone) -> Timestamp {
    bound(event.get("start"), tz).unwrap_or(Timestamp::MIN)
}

/// The instant of a `start`/`end`: `dateTime`, or midnight of `date` in the calendar's zone.
fn bound(value: Option<&Value>, tz: &TimeZone) -> Option<Timestamp> {
    let value = value?;
    if let Some(t) = value.get("dateTime").and_then(Value::as_str) {
        return t.parse().ok();
    }
    let date: Date = value.get("date")?.as_str()?.parse().ok()?;
    tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

/// What incremental results show of a deleted event.
fn tombstone(json: &Map<String, Value>) -> Value {
    let mut t = Map::new();
    t.insert("kind".into(), json!("calendar#event"));
    for key in ["etag", "id", "recurringEventId", "originalStartTime"] {
        if let Some(v) = json.get(key) {
            t.insert(key.into(), v.clone());
        }
    }
    t.insert("status".into(), json!("cancelled"));
    Value::Object(t)
}

/// A new ETag and `updated` on every change.
fn stamp(json: &mut Map<String, Value>, changed: u64) {
    let micros = Timestamp::now().as_microsecond();
    json.insert("etag".into(), json!(format!("\"{micros}{changed:06}\"")));
    json.insert("updated".into(), json!(now_text()));
}

fn now_text() -> String {
    rfc3339(Timestamp::now())
}

/// `2024-01-01T10:00:00.000Z`, Google's format.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// A random id from Google's event id alphabet (base32hex, lower case).
pub(crate) fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Google's rule for client-chosen event ids.
pub(crate) fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}
