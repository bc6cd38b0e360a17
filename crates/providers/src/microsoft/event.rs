//! Graph's event resource, with the fields sync and write-back need, named as Graph sends them.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::BOOKING_PROPERTY_ID;

/// A Graph `event`. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEvent {
    pub id: String,
    /// The weak ETag (`W/"..."`) to send as `If-Match`.
    #[serde(
        rename = "@odata.etag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTimeTimeZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub is_all_day: bool,
    #[serde(default)]
    pub is_cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_as: Option<ShowAs>,
    /// `singleInstance`, `occurrence`, `exception` or `seriesMaster`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_master_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub single_value_extended_properties: Vec<ExtendedProperty>,
    /// Present (with only `id`) on a delta entry for an event that left the view.
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<serde_json::Value>,
}

/// `{"id": "String {guid} Name X", "value": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperty {
    pub id: String,
    pub value: String,
}

/// Graph's `dateTimeTimeZone`: a wall time without offset and the zone it is in. We ask for
/// UTC (`Prefer: outlook.timezone="UTC"`), and read IANA names too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeTimeZone {
    pub date_time: String,
    pub time_zone: String,
}

impl DateTimeTimeZone {
    /// An instant, written in UTC as Graph does (`2026-03-10T15:00:00.0000000`).
    pub fn utc(t: Timestamp) -> Self {
        Self {
            date_time: t.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(),
            time_zone: "UTC".into(),
        }
    }

    fn wall(&self) -> Option<DateTime> {
        self.date_time.parse::<DateTime>().ok()
    }

    /// The instant, or `None` when the time or zone cannot be read.
    pub fn instant(&self) -> Option<Timestamp> {
        let zone = match self.time_zone.as_str() {
            "UTC" | "tzone://Microsoft/Utc" | "" => TimeZone::UTC,
            name => TimeZone::get(name).ok()?,
        };
        zone.to_ambiguous_zoned(self.wall()?)
            .compatible()
            .ok()
            .map(|z| z.timestamp())
    }

    /// The calendar date (all-day events start and end at midnight).
    pub fn date(&self) -> Option<Date> {
        self.wall().map(|w| w.date())
    }
}

/// `showAs`: how the event shows on the owner's free/busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ShowAs {
    Free,
    Tentative,
    Busy,
    Oof,
    WorkingElsewhere,
    #[serde(other)]
    Unknown,
}

impl GraphEvent {
    /// Whether it blocks time: not cancelled, and shown as busy, tentative or out of office.
    /// `free` and `workingElsewhere` (working, just not at the office) leave time open.
    pub fn is_busy(&self) -> bool {
        !self.is_cancelled && !matches!(self.show_as, Some(ShowAs::Free | ShowAs::WorkingElsewhere))
    }

    /// Our booking id, when we wrote the event (read with the extended property expanded).
    pub fn booking_id(&self) -> Option<&str> {
        self.single_value_extended_properties
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(BOOKING_PROPERTY_ID))
            .map(|p| p.value.as_str())
    }
}

/// One entry of a delta page.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaItem {
    Changed(Box<GraphEvent>),
    /// Deleted, or moved out of the window.
    Removed {
        id: String,
    },
}

impl From<GraphEvent> for DeltaItem {
    fn from(e: GraphEvent) -> Self {
        if e.removed.is_some() {
            Self::Removed { id: e.id }
        } else {
            Self::Changed(Box::new(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_graph_sends_it() {
        let json = r#"{
          "@odata.etag": "W/\"DwAAABYAAAB\"", "id": "AAMkAGI2TG93AAA=", "changeKey": "DwAAABYAAAB",
          "subject": "Review", "isAllDay": false, "isCancelled": false, "showAs": "oof",
          "type": "singleInstance", "transactionId": "pillow-booking-x",
          "start": {"dateTime": "2026-03-10T15:00:00.0000000", "timeZone": "UTC"},
          "end": {"dateTime": "2026-03-10T11:30:00.0000000", "timeZone": "America/New_York"},
          "singleValueExtendedProperties": [{"id": "String {6d3c1f0e-8a4b-4f2e-9c5d-7b1a2e3f4c5d} Name PillowBookingId", "value": "b-1"}]
        }"#;
        let e: GraphEvent = serde_json::from_str(json).unwrap();
        assert_eq!(e.etag.as_deref(), Some("W/\"DwAAABYAAAB\""));
        assert_eq!(e.show_as, Some(ShowAs::Oof));
        assert!(e.is_busy());
        assert_eq!(e.booking_id(), Some("b-1"));
        assert_eq!(
            e.start.unwrap().instant(),
            Some("2026-03-10T15:00:00Z".parse().unwrap())
        );
        assert_eq!(
            e.end.unwrap().instant(),
            Some("2026-03-10T15:30:00Z".parse().unwrap()),
            "11:30 EDT"
        );
    }

    #[test]
    fn free_working_elsewhere_and_cancelled_events_do_not_block_time() {
        for (show_as, cancelled, busy) in [
            ("free", false, false),
            ("workingElsewhere", false, false),
            ("tentative", false, true),
            ("busy", true, false),
            ("somethingNew", false, true),
        ] {
            let json = format!(r#"{{"id":"x","showAs":"{show_as}","isCancelled":{cancelled}}}"#);
            let e: GraphEvent = serde_json::from_str(&json).unwrap();
            assert_eq!(e.is_busy(), busy, "{show_as} cancelled={cancelled}");
        }
    }

    #[test]
    fn a_removed_entry_is_a_removal() {
        let json = r##"{"@odata.type":"#microsoft.graph.event","id":"gone","@removed":{"reason":"deleted"}}"##;
        let e: GraphEvent = serde_json::from_str(json).unwrap();
        assert_eq!(DeltaItem::from(e), DeltaItem::Removed { id: "gone".into() });
    }
}
