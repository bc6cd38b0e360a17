//! The values both backends bind and read, in the models' own types.
//!
//! A statement both backends run takes the same parameters in the same order; the resource files
//! list them once as [`StoredValue`]s (e.g. [`crate::NewUser::insert_values`]), and each backend
//! binds every kind as its columns store it: SQLite instants as microseconds, JSON as text and
//! flags as 0 or 1; PostgreSQL as `timestamptz`, `jsonb` and `boolean`. Rows come back the same
//! way (see [`crate::StoredRow`]).
//!
//! The two statements built at run time (listing bookings and events, patching a connection)
//! take their conditions and assignments from here as [`Fragment`]s: the only SQL text this
//! crate holds, pieces both backends spell alike.

use std::borrow::Cow;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{AgentId, BookingId, ConnectionId, EventId, RuleId, TenantId, UserId};

/// One value for a statement's parameter or from a row's column; `None` is SQL `NULL`. The
/// variant, not the value, says which column type a backend uses, so a `NULL` is typed too.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValue<'a> {
    Id(Option<Uuid>),
    Text(Option<Cow<'a, str>>),
    Flag(Option<bool>),
    /// A 32-bit integer column (`integer` on PostgreSQL).
    Int(Option<i32>),
    /// A 64-bit integer (`bigint`), such as a `LIMIT`.
    BigInt(Option<i64>),
    Instant(Option<Timestamp>),
    Json(Option<Cow<'a, serde_json::Value>>),
    /// A list of ids, for `= ANY(…)` on PostgreSQL and `json_each(…)` on SQLite; bound only.
    Ids(Cow<'a, [Uuid]>),
    /// A list of text, likewise.
    Texts(Cow<'a, [String]>),
}

/// Which [`StoredValue`] variant a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKind {
    Id,
    Text,
    Flag,
    Int,
    BigInt,
    Instant,
    Json,
}

/// `From` for a type and its `Option`, into one variant.
macro_rules! stored_from {
    ($variant:ident: $($type:ty => $convert:expr),+ $(,)?) => {$(
        impl<'a> From<$type> for StoredValue<'a> {
            fn from(value: $type) -> Self {
                StoredValue::$variant(Some($convert(value)))
            }
        }

        impl<'a> From<Option<$type>> for StoredValue<'a> {
            fn from(value: Option<$type>) -> Self {
                StoredValue::$variant(value.map($convert))
            }
        }
    )+};
}

stored_from!(Id:
    Uuid => |id| id,
    TenantId => Uuid::from,
    UserId => Uuid::from,
    AgentId => Uuid::from,
    BookingId => Uuid::from,
    RuleId => Uuid::from,
    EventId => Uuid::from,
    ConnectionId => Uuid::from,
);
stored_from!(Text:
    &'a str => Cow::Borrowed,
    &'a String => |text: &'a String| Cow::Borrowed(text.as_str()),
    String => Cow::Owned,
);
stored_from!(Flag: bool => |flag| flag);
stored_from!(Int: i32 => |int| int);
stored_from!(BigInt: i64 => |int| int);
stored_from!(Instant: Timestamp => |instant| instant);
stored_from!(Json:
    &'a serde_json::Value => Cow::Borrowed,
    serde_json::Value => Cow::Owned,
);

impl<'a> From<&'a Option<String>> for StoredValue<'a> {
    fn from(text: &'a Option<String>) -> Self {
        StoredValue::Text(text.as_deref().map(Cow::Borrowed))
    }
}

impl<'a> From<&'a [Uuid]> for StoredValue<'a> {
    fn from(ids: &'a [Uuid]) -> Self {
        StoredValue::Ids(Cow::Borrowed(ids))
    }
}

impl<'a> From<&'a [UserId]> for StoredValue<'a> {
    fn from(ids: &'a [UserId]) -> Self {
        StoredValue::Ids(Cow::Owned(ids.iter().map(|id| id.0).collect()))
    }
}

impl<'a> From<&'a [String]> for StoredValue<'a> {
    fn from(texts: &'a [String]) -> Self {
        StoredValue::Texts(Cow::Borrowed(texts))
    }
}

/// The [`StoredValue`]s of a statement's parameters, in order: `stored![tenant, id, now]`.
#[macro_export]
macro_rules! stored {
    ($($value:expr),* $(,)?) => {
        [$($crate::StoredValue::from($value)),*]
    };
}

/// A piece of a statement built at run time (a condition, an assignment): SQL text both
/// backends spell alike, with `?` where its value, if any, is bound. Never input: every
/// fragment is a literal of this crate.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment<'a> {
    pub sql: &'static str,
    pub value: Option<StoredValue<'a>>,
}

impl<'a> Fragment<'a> {
    /// A fragment without a parameter.
    pub fn new(sql: &'static str) -> Self {
        Fragment { sql, value: None }
    }

    /// A fragment with one parameter, at the `?` in `sql`.
    pub fn bound(sql: &'static str, value: impl Into<StoredValue<'a>>) -> Self {
        Fragment {
            sql,
            value: Some(value.into()),
        }
    }

    /// `sql` before and after the `?`.
    pub fn split(&self) -> (&'static str, &'static str) {
        self.sql.split_once('?').unwrap_or((self.sql, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_splits_at_its_parameter() {
        let condition = Fragment::bound("(all_day OR end_at > ?)", Timestamp::UNIX_EPOCH);
        assert_eq!(condition.split(), ("(all_day OR end_at > ", ")"));
        assert_eq!(Fragment::new("status <> 'cancelled'").split().1, "");
    }

    #[test]
    fn stored_lists_values_in_order() {
        let name = String::from("Ada");
        assert_eq!(
            stored![&name, 7_i32, None::<bool>],
            [
                StoredValue::Text(Some(Cow::Borrowed("Ada"))),
                StoredValue::Int(Some(7)),
                StoredValue::Flag(None),
            ]
        );
    }

    #[test]
    fn a_null_keeps_its_kind() {
        assert_eq!(
            StoredValue::from(None::<Timestamp>),
            StoredValue::Instant(None)
        );
        assert_eq!(StoredValue::from(&None::<String>), StoredValue::Text(None));
        assert_eq!(
            StoredValue::from(TenantId(Uuid::nil())),
            StoredValue::Id(Some(Uuid::nil()))
        );
    }
}
