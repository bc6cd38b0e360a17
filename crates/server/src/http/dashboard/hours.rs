//! Working hours: a member's weekly ranges, zone, slot length, buffers, notice and date
//! overrides, saved as their default availability rule through the domain (the engine checks
//! it as it checks the API's rule documents), with the next 7 days' slots as the engine sees
//! them. Members edit their own; owners and admins anyone's in their organisation.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};
use pillow_engine::{Interval, OverrideDocument, RangeDocument, RuleDocument};
use pillow_store::{User, UserId};
use serde::Deserialize;

use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout::{self, Extras, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::domain::rules::{default_rule, save_default_rule};

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Two ranges a day cover split days (a lunch break); more go through the API.
const RANGES_PER_DAY: usize = 2;

#[derive(Deserialize, Default)]
pub struct HoursQuery {
    user: Option<String>,
    done: Option<String>,
}

/// Whose hours: the viewer's own, or (owners and admins) a member named by `user`.
async fn subject(state: &AppState, viewer: &Viewer, raw: Option<&str>) -> PageResult<User> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(viewer.user.clone());
    };
    let id: UserId = raw.parse().map_err(|_| PageError::not_found("member"))?;
    if id != viewer.user.id {
        viewer.require_admin()?;
    }
    state
        .store
        .get_user(viewer.user.tenant_id, id)
        .await?
        .ok_or_else(|| PageError::not_found("member"))
}

/// The form's values, as text, keyed by input name: what is shown, and what was sent back.
type Values = HashMap<String, String>;

fn values_of(document: &RuleDocument) -> Values {
    let mut values = Values::new();
    values.insert("timezone".into(), document.timezone.clone());
    values.insert("slot_duration".into(), document.slot_duration.to_string());
    values.insert("buffer_before".into(), document.buffer_before.to_string());
    values.insert("buffer_after".into(), document.buffer_after.to_string());
    values.insert(
        "min_notice_hours".into(),
        trim_number(document.min_booking_notice as f64 / 60.0),
    );
    if let Some(max) = document.max_booking_notice {
        values.insert("max_notice_days".into(), trim_number(max as f64 / 1440.0));
    }
    for day in DAYS {
        for (i, range) in document
            .schedule
            .get(day)
            .into_iter()
            .flatten()
            .take(RANGES_PER_DAY)
            .enumerate()
        {
            values.insert(format!("{day}_start_{}", i + 1), range.start.clone());
            values.insert(format!("{day}_end_{}", i + 1), range.end.clone());
        }
    }
    for (i, o) in document.date_overrides.iter().enumerate() {
        values.insert(format!("override_date_{i}"), o.date.clone());
        values.insert(
            format!("override_kind_{i}"),
            if o.available { "hours" } else { "closed" }.into(),
        );
        values.insert(
            format!("override_reason_{i}"),
            o.reason.clone().unwrap_or_default(),
        );
        if let Some(range) = o.ranges.as_ref().and_then(|r| r.first()) {
            values.insert(format!("override_start_{i}"), range.start.clone());
            values.insert(format!("override_end_{i}"), range.end.clone());
        }
    }
    values
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What a new member starts from: weekdays 09:00–17:00 in their own zone.
fn starting_document(user: &User) -> RuleDocument {
    let schedule = DAYS[..5]
        .iter()
        .map(|d| {
            (
                d.to_string(),
                vec![RangeDocument {
                    start: "09:00".into(),
                    end: "17:00".into(),
                }],
            )
        })
        .collect();
    RuleDocument {
        name: Some("Working hours".into()),
        schedule,
        timezone: user.time_zone.clone(),
        slot_duration: 30,
        slot_interval: None,
        buffer_before: 0,
        buffer_after: 0,
        min_booking_notice: 0,
        max_booking_notice: None,
        date_overrides: Vec::new(),
        is_default: true,
    }
}

/// How many override rows the form has: those sent, plus one empty row to add another.
fn override_rows(values: &Values) -> usize {
    (0..)
        .take_while(|i| values.contains_key(&format!("override_date_{i}")))
        .count()
        + 1
}

/// A field's error, keyed by input name.
struct FieldError {
    input: String,
    message: String,
}

fn minutes(
    values: &Values,
    name: &str,
    label: &str,
    scale: f64,
) -> Result<Option<i64>, FieldError> {
    let raw = values.get(name).map(|v| v.trim()).unwrap_or("");
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Some((v * scale).round() as i64))
        .ok_or_else(|| FieldError {
            input: name.into(),
            message: format!("{label} must be a number, 0 or more."),
        })
}

/// The form read into a rule document, with the input each document field came from.
fn document_of(
    values: &Values,
    user: &User,
) -> Result<(RuleDocument, HashMap<String, String>), FieldError> {
    let mut origin = HashMap::new();
    let mut schedule = BTreeMap::new();
    for day in DAYS {
        let mut ranges = Vec::new();
        for n in 1..=RANGES_PER_DAY {
            let start = values
                .get(&format!("{day}_start_{n}"))
                .map(|v| v.trim())
                .unwrap_or("");
            let end = values
                .get(&format!("{day}_end_{n}"))
                .map(|v| v.trim())
                .unwrap_or("");
            if start.is_empty() && end.is_empty() {
                continue;
            }
            let i = ranges.len();
            origin.insert(
                format!("schedule.{day}[{i}].start"),
                format!("{day}_start_{n}"),
            );
            origin.insert(format!("schedule.{day}[{i}].end"), format!("{day}_end_{n}"));
            ranges.push(RangeDocument {
                start: start.into(),
                end: end.into(),
            });
        }
        if !ranges.is_empty() {
            schedule.insert(day.to_string(), ranges);
        }
    }
    let mut date_overrides = Vec::new();
    for row in 0..override_rows(values) {
        let get = |field: &str| {
            values
                .get(&format!("override_{field}_{row}"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let date = get("date");
        if date.is_empty() || get("remove") == "on" {
            continue;
        }
        let i = date_overrides.len();
        origin.insert(
            format!("date_overrides[{i}].date"),
            format!("override_date_{row}"),
        );
        origin.insert(
            format!("date_overrides[{i}].ranges[0].start"),
            format!("override_start_{row}"),
        );
        origin.insert(
            format!("date_overrides[{i}].ranges[0].end"),
            format!("override_end_{row}"),
        );
        origin.insert(
            format!("date_overrides[{i}].ranges"),
            format!("override_start_{row}"),
        );
        let available = get("kind") == "hours";
        let reason = Some(get("reason")).filter(|r| !r.is_empty());
        date_overrides.push(OverrideDocument {
            date,
            available,
            reason,
            ranges: available.then(|| {
                vec![RangeDocument {
                    start: get("start"),
                    end: get("end"),
                }]
            }),
        });
    }
    let number = |name: &str, label: &str| minutes(values, name, label, 1.0);
    let slot = number("slot_duration", "Slot length")?.unwrap_or(30);
    let document = RuleDocument {
        name: Some("Working hours".into()),
        schedule,
        timezone: values
            .get("timezone")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| user.time_zone.clone()),
        slot_duration: slot,
        slot_interval: None,
        buffer_before: number("buffer_before", "Buffer before")?.unwrap_or(0),
        buffer_after: number("buffer_after", "Buffer after")?.unwrap_or(0),
        min_booking_notice: minutes(values, "min_notice_hours", "Minimum notice", 60.0)?
            .unwrap_or(0),
        max_booking_notice: minutes(values, "max_notice_days", "Maximum notice", 1440.0)?,
        date_overrides,
        is_default: true,
    };
    for field in ["timezone", "slot_duration", "buffer_before", "buffer_after"] {
        origin.insert(field.into(), field.into());
    }
    origin.insert("min_booking_notice".into(), "min_notice_hours".into());
    origin.insert("max_booking_notice".into(), "max_notice_days".into());
    Ok((document, origin))
}

/// The input an engine error's field path points at (or its nearest parent's).
fn input_for(origin: &HashMap<String, String>, field: &str) -> String {
    let mut path = field.to_string();
    loop {
        if let Some(input) = origin.get(&path) {
            return input.clone();
        }
        match path.rfind(['.', '[']) {
            Some(cut) => path.truncate(cut),
            None => break,
        }
    }
    // A day with no mapped range (say `schedule.monday`): its first start field.
    if let Some(day) = field.strip_prefix("schedule.") {
        let day: String = day.chars().take_while(char::is_ascii_alphabetic).collect();
        return format!("{day}_start_1");
    }
    "timezone".into()
}

/// Zones most offices are in: short suggestions where the whole list would weigh too much.
pub(super) const COMMON_ZONES: [&str; 24] = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
];

/// Every IANA zone name the engine knows, for the zone picker's suggestions.
pub(super) fn zones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .filter(|name| name.contains('/') || name == "UTC")
        .collect();
    names.sort();
    names
}

fn field(
    values: &Values,
    error: Option<&FieldError>,
    name: &str,
    label: &str,
    kind: &str,
    hint: Option<&str>,
) -> Markup {
    let wrong = error.filter(|e| e.input == name);
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described = match (hint.is_some(), wrong.is_some()) {
        (true, true) => Some(format!("{hint_id} {error_id}")),
        (true, false) => Some(hint_id.clone()),
        (false, true) => Some(error_id.clone()),
        (false, false) => None,
    };
    html! {
        div {
            label for=(name) { (label) }
            @if let Some(hint) = hint {
                span.muted.hint id=(hint_id) { (hint) }
            }
            @if let Some(wrong) = wrong {
                p.field-error id=(error_id) { (wrong.message) }
            }
            @if kind == "zone" {
                input id=(name) name=(name) type="text" list="zones" autocomplete="off"
                    value=[values.get(name)] required
                    aria-invalid=[wrong.map(|_| "true")] aria-describedby=[described];
            } @else if kind == "number" {
                input id=(name) name=(name) type="number" min="0" step="any" inputmode="decimal"
                    value=[values.get(name)]
                    aria-invalid=[wrong.map(|_| "true")] aria-describedby=[described];
            } @else if kind == "time" {
                // Text, not type=time: 24-hour everywhere, and `24:00` (midnight) as an end.
                input id=(name) name=(name) type="text" inputmode="numeric" placeholder="HH:MM"
                    pattern="[0-2][0-9]:[0-5][0-9]" maxlength="5" value=[values.get(name)]
                    aria-invalid=[wrong.map(|_| "true")] aria-describedby=[described];
            } @else {
                input id=(name) name=(name) type=(kind) value=[values.get(name)]
                    aria-invalid=[wrong.map(|_| "true")] aria-describedby=[described];
            }
        }
    }
}

fn form(viewer: &Viewer, user: &User, values: &Values, error: Option<&FieldError>) -> Markup {
    let action = format!("/dashboard/hours?user={}", user.id);
    let kinds = |row: usize| {
        values
            .get(&format!("override_kind_{row}"))
            .cloned()
            .unwrap_or_default()
    };
    html! {
        @if let Some(error) = error {
            p.error role="alert" {
                "Nothing was saved: " (error.message) " "
                a href={ "#" (error.input) } { "Go to the field" }
            }
        }
        form.stack #hours method="post" action=(action) novalidate {
            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
            datalist #zones {
                @for zone in zones() { option value=(zone) {} }
            }
            section.card aria-labelledby="basics-title" {
                h2 #basics-title { "Zone and slots" }
                div.grid2 {
                    (field(values, error, "timezone", "Time zone", "zone", Some("Type to search, e.g. America/New_York")))
                    (field(values, error, "slot_duration", "Slot length (minutes)", "number", None))
                    (field(values, error, "buffer_before", "Buffer before (minutes)", "number", None))
                    (field(values, error, "buffer_after", "Buffer after (minutes)", "number", None))
                    (field(values, error, "min_notice_hours", "Minimum notice (hours)", "number", None))
                    (field(values, error, "max_notice_days", "Maximum notice (days)", "number", Some("Empty: no limit")))
                }
            }
            section.card aria-labelledby="week-title" {
                h2 #week-title { "Weekly hours" }
                p.muted { "Leave a day empty to close it. A second range covers a split day." }
                div.week {
                    @for day in DAYS {
                        fieldset {
                            legend { (capitalise(day)) }
                            @for n in 1..=RANGES_PER_DAY {
                                div.ranges {
                                    (field(values, error, &format!("{day}_start_{n}"), &format!("From ({n})"), "time", None))
                                    (field(values, error, &format!("{day}_end_{n}"), &format!("To ({n})"), "time", None))
                                }
                            }
                            // hours.js shows it and fills Monday to Friday with this day's
                            // ranges; saving stays a separate step.
                            button.secondary.copy type="button" data-copy=(day) hidden {
                                "Copy " (capitalise(day)) " to weekdays"
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="overrides-title" {
                h2 #overrides-title { "Date overrides" }
                p.muted { "Close a date (a holiday) or give it special hours. The last row adds one." }
                @for row in 0..override_rows(values) {
                    fieldset.override {
                        legend { @if values.contains_key(&format!("override_date_{row}")) { "Override " (row + 1) } @else { "New override" } }
                        div.ranges {
                            (field(values, error, &format!("override_date_{row}"), "Date", "date", None))
                            div {
                                label for={ "override_kind_" (row) } { "Kind" }
                                select id={ "override_kind_" (row) } name={ "override_kind_" (row) } {
                                    option value="closed" selected[kinds(row) != "hours"] { "Closed" }
                                    option value="hours" selected[kinds(row) == "hours"] { "Special hours" }
                                }
                            }
                            (field(values, error, &format!("override_start_{row}"), "From", "time", None))
                            (field(values, error, &format!("override_end_{row}"), "To", "time", None))
                            (field(values, error, &format!("override_reason_{row}"), "Reason", "text", None))
                            @if values.contains_key(&format!("override_date_{row}")) {
                                div {
                                    label for={ "override_remove_" (row) } { "Remove" }
                                    input type="checkbox" id={ "override_remove_" (row) } name={ "override_remove_" (row) };
                                }
                            }
                        }
                    }
                }
            }
            button type="submit" id="save" { "Save working hours" }
        }
    }
}

fn capitalise(day: &str) -> String {
    let mut chars = day.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The next 7 days' bookable slots of the member, as the engine computes them for bookings.
async fn preview(state: &AppState, user: &User) -> PageResult<Markup> {
    let now = Timestamp::now();
    let window = Interval::new(now, now + SignedDuration::from_hours(24 * 7))
        .ok_or_else(|| PageError::bad_request("No preview window."))?;
    let calendars = state
        .calendars
        .calendars(
            state.store.as_ref(),
            user.tenant_id,
            &[user.id],
            window,
            now,
        )
        .await?;
    let Some(calendar) = calendars.first() else {
        return Ok(html! { p.muted { "No working hours yet, so no slots." } });
    };
    let zone = calendar.rule.time_zone().clone();
    let slots = crate::domain::availability::team_availability(
        &calendars,
        window,
        calendar.rule.slot_duration(),
        now,
    );
    let mut days: BTreeMap<jiff::civil::Date, Vec<Timestamp>> = BTreeMap::new();
    for slot in &slots {
        days.entry(slot.slot.start.to_zoned(zone.clone()).date())
            .or_default()
            .push(slot.slot.start);
    }
    Ok(html! {
        p.muted { "In " (zone.iana_name().unwrap_or("UTC")) ". " (slots.len()) " slots in the next 7 days." }
        @if days.is_empty() {
            p { "No bookable slots in the next 7 days." }
        }
        ol {
            @for (date, starts) in &days {
                li data-date=(date) {
                    strong { (date.strftime("%a %-d %b")) ": " }
                    (starts.len()) " slots, "
                    (layout::clock(starts[0], &zone)) " to "
                    (layout::clock(*starts.last().unwrap_or(&starts[0]), &zone))
                }
            }
        }
    })
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    values: &Values,
    error: Option<&FieldError>,
    notice: Option<&str>,
) -> PageResult<Markup> {
    let people = if viewer.is_admin() {
        state.store.list_users(viewer.user.tenant_id).await?
    } else {
        Vec::new()
    };
    let preview = preview(state, user).await?;
    let content = html! {
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        @if !people.is_empty() {
            form.filters method="get" action="/dashboard/hours" {
                div {
                    label for="user" { "Member" }
                    select #user name="user" {
                        @for person in &people {
                            option value=(person.id) selected[person.id == user.id] { (person.name) }
                        }
                    }
                }
                div.actions { button.secondary type="submit" { "Show" } }
            }
        }
        p { "Hours of " strong { (user.name) } "." }
        section.card.preview aria-labelledby="preview-title" data-testid="preview" {
            h2 #preview-title { "Bookable in the next 7 days" }
            (preview)
        }
        (form(viewer, user, values, error))
    };
    Ok(layout::page_with(
        "Working hours",
        viewer,
        Nav::Hours,
        Extras::Hours,
        content,
    ))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HoursQuery>,
) -> PageResult<Response> {
    let user = subject(&state, &viewer, query.user.as_deref()).await?;
    let document = match default_rule(&state, user.tenant_id, user.id).await? {
        Some(rule) => serde_json::from_value(rule.document)
            .map_err(crate::domain::error::DomainError::internal)?,
        None => starting_document(&user),
    };
    let notice = (query.done.as_deref() == Some("saved")).then_some("Working hours saved.");
    let markup = render(&state, &viewer, &user, &values_of(&document), None, notice).await?;
    Ok(layout::respond(markup))
}

pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HoursQuery>,
    Form(values): Form<Values>,
) -> PageResult<Response> {
    let user = subject(&state, &viewer, query.user.as_deref()).await?;
    let refused = async |error: FieldError| -> PageResult<Response> {
        let markup = render(&state, &viewer, &user, &values, Some(&error), None).await?;
        let mut response = layout::respond(markup);
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(response)
    };
    let (document, origin) = match document_of(&values, &user) {
        Ok(parsed) => parsed,
        Err(error) => return refused(error).await,
    };
    match save_default_rule(&state, user.tenant_id, user.id, document).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/dashboard/hours?user={}&done=saved", user.id)).into_response(),
        ),
        Err(error) if error.kind == crate::domain::error::ErrorKind::Invalid => {
            let field = error
                .details
                .get("field")
                .and_then(|f| f.as_str())
                .unwrap_or("timezone")
                .to_string();
            // The engine's message starts with the document's path, which means nothing here.
            let message = error
                .message
                .strip_prefix(&format!("{field}: "))
                .map(capitalise)
                .unwrap_or(error.message.clone());
            refused(FieldError {
                input: input_for(&origin, &field),
                message,
            })
            .await
        }
        Err(error) => Err(error.into()),
    }
}
