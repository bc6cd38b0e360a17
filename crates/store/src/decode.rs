//! Building the models from stored rows, once for both backends.
//!
//! A backend reads each column in its own type and hands it over as a [`StoredValue`] through
//! [`StoredRow::read`]; which columns make a model, and which stored text is no known value, is
//! said here, in one [`FromStored`] impl per model (in the model's resource file).

use jiff::Timestamp;
use uuid::Uuid;

use crate::{
    AgentId, BookingId, ConnectionId, EventId, RuleId, StoreError, StoreResult, StoredKind,
    StoredValue, TenantId, UserId,
};

/// One row of a query's result, as a backend reads it.
pub trait StoredRow {
    /// The column's value as `kind` (`None` for SQL `NULL`).
    ///
    /// # Errors
    /// A database error when the column is missing or its type does not read as `kind`;
    /// [`StoreError::Corrupt`] when the value itself cannot be read (an instant out of range,
    /// JSON text that does not parse).
    fn read(&self, column: &str, kind: StoredKind) -> StoreResult<StoredValue<'static>>;

    /// A column that is never `NULL`.
    fn get<T: StoredType>(&self, column: &str) -> StoreResult<T> {
        self.get_optional(column)?
            .ok_or_else(|| StoreError::Database(format!("column {column:?} is NULL")))
    }

    /// A column that may be `NULL`.
    fn get_optional<T: StoredType>(&self, column: &str) -> StoreResult<Option<T>> {
        let value = self.read(column, T::KIND)?;
        T::from_value(value).ok_or_else(|| {
            StoreError::Database(format!("column {column:?} was not read as {:?}", T::KIND))
        })
    }

    /// A column holding one of an enum's names, as the variant (`parse` is the enum's own);
    /// a name it does not know makes the row corrupt, reported as `what` and the text.
    fn get_parsed<T>(
        &self,
        column: &str,
        what: &str,
        parse: fn(&str) -> Option<T>,
    ) -> StoreResult<T> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{what} {text:?}")))
    }
}

/// A model built from one row.
pub trait FromStored: Sized {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self>;
}

/// A type that columns of one [`StoredKind`] hold.
pub trait StoredType: Sized {
    const KIND: StoredKind;
    /// The value inside (`None` for `NULL`); `None` outside when it is of another kind.
    fn from_value(value: StoredValue<'static>) -> Option<Option<Self>>;
}

/// [`StoredType`] for the type one variant holds.
macro_rules! stored_type {
    ($($type:ty => $variant:ident $(($convert:expr))?),+ $(,)?) => {$(
        impl StoredType for $type {
            const KIND: StoredKind = StoredKind::$variant;

            fn from_value(value: StoredValue<'static>) -> Option<Option<Self>> {
                match value {
                    StoredValue::$variant(inner) => Some(inner$(.map($convert))?),
                    _ => None,
                }
            }
        }
    )+};
}

stored_type!(
    Uuid => Id,
    TenantId => Id(TenantId),
    UserId => Id(UserId),
    AgentId => Id(AgentId),
    BookingId => Id(BookingId),
    RuleId => Id(RuleId),
    EventId => Id(EventId),
    ConnectionId => Id(ConnectionId),
    String => Text(std::borrow::Cow::into_owned),
    bool => Flag,
    i32 => Int,
    i64 => BigInt,
    Timestamp => Instant,
    serde_json::Value => Json(std::borrow::Cow::into_owned),
);

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use super::*;

    struct Row(HashMap<&'static str, StoredValue<'static>>);

    impl StoredRow for Row {
        fn read(&self, column: &str, _kind: StoredKind) -> StoreResult<StoredValue<'static>> {
            self.0
                .get(column)
                .cloned()
                .ok_or_else(|| StoreError::Database(format!("no column {column}")))
        }
    }

    #[test]
    fn columns_read_as_their_kind() {
        let row = Row(HashMap::from([
            ("name", StoredValue::Text(Some(Cow::Borrowed("Ada")))),
            ("gone", StoredValue::Instant(None)),
            ("status", StoredValue::Text(Some(Cow::Borrowed("lost")))),
        ]));
        assert_eq!(row.get::<String>("name").unwrap(), "Ada");
        assert_eq!(row.get_optional::<Timestamp>("gone").unwrap(), None);
        assert!(matches!(
            row.get::<Timestamp>("gone"),
            Err(StoreError::Database(_))
        ));
        assert!(matches!(
            row.get::<bool>("name"),
            Err(StoreError::Database(_))
        ));
        match row.get_parsed("status", "booking status", crate::BookingStatus::parse) {
            Err(StoreError::Corrupt(message)) => assert_eq!(message, r#"booking status "lost""#),
            other => panic!("expected a corrupt row, got {other:?}"),
        }
    }
}
