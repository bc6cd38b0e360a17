//! Where a Google event becomes busy time: its span, its status and transparency, all-day dates,
//! and which of our own events came back.

use super::*;

/// A timed event's `[start, end)`; `None` for all-day or incomplete events.
pub(crate) fn timed_span(item: &GoogleEvent) -> Option<(Timestamp, Timestamp)> {
    Some((
        item.start.as_ref()?.date_time?,
        item.end.as_ref()?.date_time?,
    ))
}
/// A Google event as a local busy event: timed events keep their instants, all-day events
/// carry their dates at 00:00 UTC (end exclusive), as [`pillow_store::CalendarEvent`] does.
pub(crate) fn to_local(
    connection: &CalendarConnection,
    item: &GoogleEvent,
) -> Option<NewCalendarEvent> {
    let (start, end, all_day) = match (item.start.as_ref()?, item.end.as_ref()) {
        (s, e) if s.date_time.is_some() => {
            let start = s.date_time?;
            let end = e.and_then(|e| e.date_time).unwrap_or(start);
            (start, end, false)
        }
        (s, e) => {
            let carrier = |d: jiff::civil::Date| crate::domain::time::AllDayDate(d).carrier();
            let start_date = s.date?;
            let end_date = e
                .and_then(|e| e.date)
                .unwrap_or_else(|| start_date.tomorrow().unwrap_or(start_date));
            (carrier(start_date)?, carrier(end_date)?, true)
        }
    };
    if end < start {
        return None;
    }
    Some(NewCalendarEvent {
        user_id: connection.user_id,
        provider_id: Some(connection.id),
        external_id: Some(item.id.clone()),
        etag: item.etag.clone(),
        title: item
            .summary
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "(busy)".to_string()),
        description: item.description.clone(),
        start,
        end,
        all_day,
        status: match item.status {
            Some(g::EventStatus::Tentative) => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        },
        transparency: match item.transparency {
            Some(g::Transparency::Transparent) => Transparency::Transparent,
            _ => Transparency::Opaque,
        },
        source: EventSource::Google,
        booking_id: None,
    })
}
