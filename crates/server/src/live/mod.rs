//! The live-call bus: messages for the browsers of one call (the agent asks the in-call
//! calendar to open; the caller booked in it), delivered to whichever server process holds the
//! browser's stream. A voice platform's tool call and the caller's browser rarely reach the
//! same process, so on PostgreSQL the bus is `LISTEN`/`NOTIFY` ([`postgres`]); on SQLite, one
//! process serves everything and the bus stays in it ([`InProcessBus`]).
//!
//! The bus carries no secrets and holds nothing: a message nobody listens for is dropped, and
//! what a browser booked is read back from the store, not from the bus.

pub mod postgres;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use pillow_store::{AgentId, TenantId};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// One call of one agent: the key every message and stream is filed under, so a browser of
/// one tenant never hears another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallKey {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub call_id: String,
}

impl CallKey {
    /// A platform's call id as we accept it: 1 to 128 visible ASCII characters, trimmed.
    pub fn check_call_id(raw: &str) -> Option<&str> {
        let id = raw.trim();
        (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
            .then_some(id)
    }
}

/// What a call's browsers are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum CallEvent {
    /// Open the calendar, set to what the caller asked for.
    Show(CalendarPreset),
    /// The caller booked in the widget during the call.
    Booked(BookedNotice),
}

impl CallEvent {
    /// The server-sent event's name: `show` or `booked`.
    pub fn name(&self) -> &'static str {
        match self {
            CallEvent::Show(_) => "show",
            CallEvent::Booked(_) => "booked",
        }
    }

    /// The event's data as one line of JSON.
    pub fn data(&self) -> String {
        match self {
            CallEvent::Show(preset) => serde_json::to_string(preset),
            CallEvent::Booked(notice) => serde_json::to_string(notice),
        }
        .unwrap_or_default()
    }
}

/// How the calendar opens: the first day to show and the hours to keep, in the business's
/// zone, and a line telling the caller why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarPreset {
    /// First day asked about, `YYYY-MM-DD` in the business's zone.
    pub from: String,
    /// Last day asked about, included.
    pub to: String,
    /// `[first, end)` hours of the day in the business's zone, when a part of the day was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<[u8; 2]>,
    /// Shown above the calendar, e.g. "Afternoons next week, as you asked."
    pub note: String,
    /// The times to put first, best first: ranked by what the caller asked for and by their
    /// history (their previous host, the time of their previous appointment). Empty when the
    /// caller asked for nothing to rank by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested: Vec<SuggestedTime>,
}

/// A time the calendar offers first, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestedTime {
    /// UTC, in the form of the in-call slots' `start_time` (e.g. `2024-01-15T15:00:00Z`), so the
    /// widget finds the slot it names.
    pub start_time: String,
    /// Why it comes first, for people, e.g. "Dr. Lee is free, as last time." (only on the
    /// first when there is a reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A booking the caller made in the widget, as the call's other listeners see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookedNotice {
    pub confirmation_code: String,
    /// RFC 3339, UTC.
    pub start_time: String,
    pub host_name: String,
}

/// Why the bus could not carry a message.
#[derive(Debug, thiserror::Error)]
#[error("the live-call bus failed: {0}")]
pub struct BusError(pub String);

/// Carries messages to a call's browsers, wherever they are connected.
#[async_trait]
pub trait CallBus: Send + Sync {
    /// Sends `event` to every browser listening for `call`, in any process; answers how many
    /// streams received it (0: nobody was listening).
    async fn publish(&self, call: &CallKey, event: CallEvent) -> Result<usize, BusError>;

    /// Listens for `call`'s messages in this process until the receiver is dropped. Once this
    /// returns, a message published anywhere reaches the receiver.
    async fn subscribe(&self, call: &CallKey) -> Result<broadcast::Receiver<CallEvent>, BusError>;
}

/// The streams open in this process, by call: what every bus delivers into.
#[derive(Default)]
pub struct LocalHub {
    calls: Mutex<HashMap<CallKey, broadcast::Sender<CallEvent>>>,
}

impl LocalHub {
    pub fn subscribe(&self, call: &CallKey) -> broadcast::Receiver<CallEvent> {
        let mut calls = self.calls.lock().expect("hub lock");
        // Calls whose streams all ended are forgotten as new ones arrive.
        calls.retain(|_, sender| sender.receiver_count() > 0);
        calls
            .entry(call.clone())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    /// Hands `event` to this process's streams of `call`; answers how many there were.
    pub fn deliver(&self, call: &CallKey, event: CallEvent) -> usize {
        let calls = self.calls.lock().expect("hub lock");
        calls
            .get(call)
            .and_then(|sender| sender.send(event).ok())
            .unwrap_or(0)
    }
}

/// The bus of a single process (SQLite deployments): delivery is a function call.
#[derive(Default)]
pub struct InProcessBus {
    hub: LocalHub,
}

#[async_trait]
impl CallBus for InProcessBus {
    async fn publish(&self, call: &CallKey, event: CallEvent) -> Result<usize, BusError> {
        Ok(self.hub.deliver(call, event))
    }

    async fn subscribe(&self, call: &CallKey) -> Result<broadcast::Receiver<CallEvent>, BusError> {
        Ok(self.hub.subscribe(call))
    }
}

/// The bus for a database URL: `LISTEN`/`NOTIFY` on PostgreSQL, in-process otherwise.
pub fn for_database(url: &str) -> std::sync::Arc<dyn CallBus> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        std::sync::Arc::new(postgres::PostgresBus::new(url))
    } else {
        std::sync::Arc::new(InProcessBus::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn call(tenant: u128, id: &str) -> CallKey {
        CallKey {
            tenant: TenantId(Uuid::from_u128(tenant)),
            agent: AgentId(Uuid::from_u128(9)),
            call_id: id.into(),
        }
    }

    fn show() -> CallEvent {
        CallEvent::Show(CalendarPreset {
            from: "2026-12-14".into(),
            to: "2026-12-20".into(),
            hours: Some([12, 17]),
            note: "Afternoons next week.".into(),
            suggested: vec![],
        })
    }

    #[tokio::test]
    async fn only_the_streams_of_the_same_call_and_tenant_receive_a_message() {
        let bus = InProcessBus::default();
        let mut mine = bus.subscribe(&call(1, "c1")).await.unwrap();
        let mut other_call = bus.subscribe(&call(1, "c2")).await.unwrap();
        let mut other_tenant = bus.subscribe(&call(2, "c1")).await.unwrap();
        assert_eq!(bus.publish(&call(1, "c1"), show()).await.unwrap(), 1);
        assert_eq!(mine.try_recv().unwrap(), show());
        assert!(other_call.try_recv().is_err());
        assert!(other_tenant.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_message_with_nobody_listening_reaches_nobody() {
        let bus = InProcessBus::default();
        assert_eq!(bus.publish(&call(1, "c1"), show()).await.unwrap(), 0);
        let stream = bus.subscribe(&call(1, "c1")).await.unwrap();
        drop(stream);
        assert_eq!(bus.publish(&call(1, "c1"), show()).await.unwrap(), 0);
    }

    #[test]
    fn call_ids_are_short_visible_text() {
        assert_eq!(CallKey::check_call_id(" call_8f2a "), Some("call_8f2a"));
        assert_eq!(CallKey::check_call_id(""), None);
        assert_eq!(CallKey::check_call_id("a b"), None);
        assert_eq!(CallKey::check_call_id(&"x".repeat(129)), None);
    }

    #[test]
    fn events_are_named_and_carry_their_data_as_json() {
        assert_eq!(show().name(), "show");
        assert_eq!(
            show().data(),
            r#"{"from":"2026-12-14","to":"2026-12-20","hours":[12,17],"note":"Afternoons next week."}"#
        );
    }
}
