//! Between sqlx and pillow-store: [`StoredValue`]s bound as SQLite keeps each kind, rows read
//! back for [`FromStored`], and the few ways every statement here is run.

use std::borrow::Cow;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteArgumentsBuffer, SqliteRow, SqliteTypeInfo};
use sqlx::{Arguments, Encode, Row, SqliteExecutor, Type};

use super::*;

/// A [`StoredValue`] bound as SQLite keeps its kind: instants as microseconds since the epoch,
/// JSON as text, flags as 0 or 1.
pub(super) struct Bound<'a>(pub(super) StoredValue<'a>);

impl Type<Sqlite> for Bound<'_> {
    /// SQLite types a parameter by the value bound, never by this.
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Bound<'_> {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        match &self.0 {
            StoredValue::Id(id) => encode(id, buf),
            StoredValue::Instant(at) => encode(at.map(micros), buf),
            StoredValue::Text(text) => encode(text.as_deref(), buf),
            StoredValue::Json(json) => encode(json.as_ref().map(|j| j.to_string()), buf),
            StoredValue::Flag(flag) => encode(flag, buf),
            StoredValue::Int(int) => encode(int, buf),
            StoredValue::BigInt(int) => encode(int, buf),
            StoredValue::Ids(ids) => encode(id_list(ids), buf),
            StoredValue::Texts(texts) => {
                encode(serde_json::Value::from(texts.to_vec()).to_string(), buf)
            }
        }
    }
}

/// Encodes `value` for SQLite: a function of its own because the workspace builds both drivers,
/// and `value.encode(buf)` alone would not know whose `Encode` of `Option<T>` is meant.
pub(super) fn encode<'q>(
    value: impl Encode<'q, Sqlite>,
    buf: &mut SqliteArgumentsBuffer,
) -> Result<IsNull, BoxDynError> {
    value.encode(buf)
}

/// A row read for pillow-store's [`FromStored`], each kind as [`Bound`] writes it.
pub(super) struct Columns<'r>(&'r SqliteRow);

impl StoredRow for Columns<'_> {
    fn read(&self, column: &str, kind: StoredKind) -> StoreResult<StoredValue<'static>> {
        let row = self.0;
        Ok(match kind {
            StoredKind::Id => StoredValue::Id(row.try_get(column).map_err(db)?),
            StoredKind::Instant => {
                let us: Option<i64> = row.try_get(column).map_err(db)?;
                StoredValue::Instant(us.map(instant).transpose()?)
            }
            StoredKind::Text => {
                let text: Option<String> = row.try_get(column).map_err(db)?;
                StoredValue::Text(text.map(Cow::Owned))
            }
            StoredKind::Json => {
                let text: Option<String> = row.try_get(column).map_err(db)?;
                let json = text.map(|t| json_value(column, &t)).transpose()?;
                StoredValue::Json(json.map(Cow::Owned))
            }
            StoredKind::Flag => StoredValue::Flag(row.try_get(column).map_err(db)?),
            StoredKind::Int => StoredValue::Int(row.try_get(column).map_err(db)?),
            StoredKind::BigInt => StoredValue::BigInt(row.try_get(column).map_err(db)?),
        })
    }
}

/// Appends each fragment after `separator`, its value bound where its `?` stands.
pub(super) fn push_fragments(
    query: &mut QueryBuilder<Sqlite>,
    separator: &str,
    fragments: Vec<Fragment<'_>>,
) {
    for fragment in fragments {
        let (before, after) = fragment.split();
        query.push(separator).push(before);
        if let Some(value) = fragment.value {
            query.push_bind(Bound(value));
        }
        query.push(after);
    }
}

/// Runs a statement built at run time: the models of the rows it returns.
pub(super) async fn fetch_built<M: FromStored>(
    query: &mut QueryBuilder<Sqlite>,
    conn: impl SqliteExecutor<'_>,
) -> StoreResult<Vec<M>> {
    let rows = query.build().fetch_all(conn).await.map_err(db)?;
    rows.iter().map(model).collect()
}

/// The model pillow-store builds from one row.
pub(super) fn model<M: FromStored>(row: &SqliteRow) -> StoreResult<M> {
    M::from_stored(&Columns(row))
}

/// A statement's parameters, in order.
pub(super) fn arguments<'a>(
    values: impl IntoIterator<Item = StoredValue<'a>>,
) -> StoreResult<SqliteArguments> {
    let mut arguments = SqliteArguments::default();
    for value in values {
        arguments
            .add(Bound(value))
            .map_err(|e| db(sqlx::Error::Encode(e)))?;
    }
    Ok(arguments)
}

/// Runs `sql` with `values` bound in order: the models of the rows it returns.
pub(super) async fn fetch<M: FromStored>(
    conn: impl SqliteExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<Vec<M>> {
    let query = sqlx::query_with(sql, arguments(values)?);
    let rows = query.fetch_all(conn).await.map_err(db)?;
    rows.iter().map(model).collect()
}

/// Like [`fetch`], for a statement that returns at most one row.
pub(super) async fn fetch_optional<M: FromStored>(
    conn: impl SqliteExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<Option<M>> {
    let query = sqlx::query_with(sql, arguments(values)?);
    let row = query.fetch_optional(conn).await.map_err(db)?;
    row.as_ref().map(model).transpose()
}

/// Like [`fetch`], for a statement that returns exactly one row.
pub(super) async fn fetch_one<M: FromStored>(
    conn: impl SqliteExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<M> {
    let query = sqlx::query_with(sql, arguments(values)?);
    model(&query.fetch_one(conn).await.map_err(db)?)
}

/// Runs `sql` with `values` bound in order: how many rows it changed.
pub(super) async fn execute(
    conn: impl SqliteExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<u64> {
    let query = sqlx::query_with(sql, arguments(values)?);
    Ok(query.execute(conn).await.map_err(db)?.rows_affected())
}
