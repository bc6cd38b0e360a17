//! Between sqlx and pillow-store: [`StoredValue`]s bound as PostgreSQL keeps each kind, rows read
//! back for [`FromStored`], and the few ways every statement here is run.

use std::borrow::Cow;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgExecutor, PgRow, PgTypeInfo};
use sqlx::{Arguments, Encode, Type};

use super::*;

/// A [`StoredValue`] bound as PostgreSQL types its kind: `uuid`, `text`, `boolean`, `integer`,
/// `bigint`, `timestamptz` or `jsonb`, a `NULL` too.
pub(super) struct Bound<'a>(pub(super) StoredValue<'a>);

impl Type<Postgres> for Bound<'_> {
    /// Never asked: [`Encode::produces`] names the type of each value.
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Bound<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match &self.0 {
            StoredValue::Id(id) => encode(id, buf),
            StoredValue::Instant(at) => encode(at.map(|t| t.to_sqlx()), buf),
            StoredValue::Text(text) => encode(text.as_deref(), buf),
            StoredValue::Json(json) => encode(json.as_deref(), buf),
            StoredValue::Flag(flag) => encode(flag, buf),
            StoredValue::Int(int) => encode(int, buf),
            StoredValue::BigInt(int) => encode(int, buf),
            StoredValue::Ids(ids) => encode(ids.as_ref(), buf),
            StoredValue::Texts(texts) => encode(texts.as_ref(), buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self.0 {
            StoredValue::Id(_) => <Uuid as Type<Postgres>>::type_info(),
            StoredValue::Instant(_) => <jiff_sqlx::Timestamp as Type<Postgres>>::type_info(),
            StoredValue::Text(_) => <String as Type<Postgres>>::type_info(),
            StoredValue::Json(_) => <sqlx::types::JsonValue as Type<Postgres>>::type_info(),
            StoredValue::Flag(_) => <bool as Type<Postgres>>::type_info(),
            StoredValue::Int(_) => <i32 as Type<Postgres>>::type_info(),
            StoredValue::BigInt(_) => <i64 as Type<Postgres>>::type_info(),
            StoredValue::Ids(_) => <Vec<Uuid> as Type<Postgres>>::type_info(),
            StoredValue::Texts(_) => <Vec<String> as Type<Postgres>>::type_info(),
        })
    }
}

/// Encodes `value` for PostgreSQL: a function of its own because the workspace builds both drivers,
/// and `value.encode(buf)` alone would not know whose `Encode` of `Option<T>` is meant.
pub(super) fn encode<'q>(
    value: impl Encode<'q, Postgres>,
    buf: &mut PgArgumentBuffer,
) -> Result<IsNull, BoxDynError> {
    value.encode(buf)
}

/// A row read for pillow-store's [`FromStored`], each kind in the column type [`Bound`] names.
pub(super) struct Columns<'r>(&'r PgRow);

impl StoredRow for Columns<'_> {
    fn read(&self, column: &str, kind: StoredKind) -> StoreResult<StoredValue<'static>> {
        let row = self.0;
        Ok(match kind {
            StoredKind::Id => StoredValue::Id(row.try_get(column).map_err(db)?),
            StoredKind::Instant => {
                let at: Option<jiff_sqlx::Timestamp> = row.try_get(column).map_err(db)?;
                StoredValue::Instant(at.map(|t| t.to_jiff()))
            }
            StoredKind::Text => {
                let text: Option<String> = row.try_get(column).map_err(db)?;
                StoredValue::Text(text.map(Cow::Owned))
            }
            StoredKind::Json => {
                let json: Option<sqlx::types::JsonValue> = row.try_get(column).map_err(db)?;
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
    query: &mut QueryBuilder<Postgres>,
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
    query: &mut QueryBuilder<Postgres>,
    conn: impl PgExecutor<'_>,
) -> StoreResult<Vec<M>> {
    let rows = query.build().fetch_all(conn).await.map_err(db)?;
    rows.iter().map(model).collect()
}

/// The model pillow-store builds from one row.
pub(super) fn model<M: FromStored>(row: &PgRow) -> StoreResult<M> {
    M::from_stored(&Columns(row))
}

/// A statement's parameters, in order.
pub(super) fn arguments<'a>(
    values: impl IntoIterator<Item = StoredValue<'a>>,
) -> StoreResult<PgArguments> {
    let mut arguments = PgArguments::default();
    for value in values {
        arguments
            .add(Bound(value))
            .map_err(|e| db(sqlx::Error::Encode(e)))?;
    }
    Ok(arguments)
}

/// Runs `sql` with `values` bound in order: the models of the rows it returns.
pub(super) async fn fetch<M: FromStored>(
    conn: impl PgExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<Vec<M>> {
    let query = sqlx::query_with(sql, arguments(values)?);
    let rows = query.fetch_all(conn).await.map_err(db)?;
    rows.iter().map(model).collect()
}

/// Like [`fetch`], for a statement that returns at most one row.
pub(super) async fn fetch_optional<M: FromStored>(
    conn: impl PgExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<Option<M>> {
    let query = sqlx::query_with(sql, arguments(values)?);
    let row = query.fetch_optional(conn).await.map_err(db)?;
    row.as_ref().map(model).transpose()
}

/// Like [`fetch`], for a statement that returns exactly one row.
pub(super) async fn fetch_one<M: FromStored>(
    conn: impl PgExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<M> {
    let query = sqlx::query_with(sql, arguments(values)?);
    model(&query.fetch_one(conn).await.map_err(db)?)
}

/// Runs `sql` with `values` bound in order: how many rows it changed.
pub(super) async fn execute(
    conn: impl PgExecutor<'_>,
    sql: &'static str,
    values: impl IntoIterator<Item = StoredValue<'_>>,
) -> StoreResult<u64> {
    let query = sqlx::query_with(sql, arguments(values)?);
    Ok(query.execute(conn).await.map_err(db)?.rows_affected())
}
