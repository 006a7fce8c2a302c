//! SQL on either engine, so each rule (a processing change, an import's
//! repeat check, a mailbox batch, a login's throttle) is written once: the
//! statements take `?1`-style parameters (rewritten to `$1` for PostgreSQL),
//! values go in as [`V`] and rows come back as [`Row`]. The few statements
//! whose SQL has to differ ask [`Sql::engine`].
//!
//! The PostgreSQL side is synchronous over the async client: it blocks on
//! the runtime's handle, so it runs on a blocking thread (`spawn_blocking`)
//! or a command's own thread, never on an async worker.

use super::StoreError;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Which database a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// A parameter or a column value: the schema only uses integers and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum V {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for V {
    fn from(v: i64) -> V {
        V::Int(v)
    }
}
impl From<bool> for V {
    fn from(v: bool) -> V {
        V::Int(i64::from(v))
    }
}
impl From<&str> for V {
    fn from(v: &str) -> V {
        V::Text(v.to_string())
    }
}
impl From<String> for V {
    fn from(v: String) -> V {
        V::Text(v)
    }
}
impl From<&String> for V {
    fn from(v: &String) -> V {
        V::Text(v.clone())
    }
}
impl<T: Into<V>> From<Option<T>> for V {
    fn from(v: Option<T>) -> V {
        v.map(Into::into).unwrap_or(V::Null)
    }
}

/// Parameters from a list of values of any convertible types.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::sql::V::from($v)),*][..] };
}
pub(crate) use vals;

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<V>);

fn bad(i: usize, want: &str, got: &V) -> StoreError {
    StoreError::Sqlite(format!("column {i}: expected {want}, got {got:?}"))
}

impl Row {
    fn at(&self, i: usize) -> Result<&V, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Sqlite(format!("no column {i}")))
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            V::Int(n) => Ok(*n),
            v => Err(bad(i, "an integer", v)),
        }
    }

    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            V::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    pub(crate) fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.int(i)? != 0)
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            V::Text(s) => Ok(s.clone()),
            v => Err(bad(i, "text", v)),
        }
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            V::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// A column holding a stable code (`status::*`), read through `parse`.
    pub(crate) fn code<T>(
        &self,
        i: usize,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        let text = self.text(i)?;
        parse(&text).ok_or_else(|| StoreError::Sqlite(format!("column {i}: unknown code {text:?}")))
    }
}

/// Statements on an open transaction (or a read connection).
pub(crate) trait Sql {
    fn engine(&self) -> Engine;
    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Row>, StoreError>;
    fn execute(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError>;
    /// Several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// The first row, if any.
    fn opt(&mut self, sql: &str, params: &[V]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row; none is an error.
    fn one(&mut self, sql: &str, params: &[V]) -> Result<Row, StoreError> {
        self.opt(sql, params)?
            .ok_or_else(|| StoreError::Sqlite(format!("no row from {sql}")))
    }
}

/// A SQLite connection (or transaction, which derefs to one).
pub(crate) struct Lite<'a>(pub(crate) &'a rusqlite::Connection);

impl rusqlite::ToSql for V {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            V::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            V::Int(n) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*n)),
            V::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Sql for Lite<'_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => V::Null,
                    ValueRef::Integer(v) => V::Int(v),
                    ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                    // Not in the schema: said, not rounded or guessed at.
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(StoreError::Sqlite(format!(
                            "column {i}: neither an integer nor text"
                        )))
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError> {
        Ok(self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

/// A PostgreSQL transaction, driven from a blocking thread. Statements are
/// prepared once per transaction (an import runs the same few thousands
/// of times).
pub(crate) struct Pg<'a, 'b> {
    tx: &'a tokio_postgres::Transaction<'b>,
    rt: tokio::runtime::Handle,
    prepared: std::collections::HashMap<String, tokio_postgres::Statement>,
}

impl<'a, 'b> Pg<'a, 'b> {
    pub(crate) fn new(tx: &'a tokio_postgres::Transaction<'b>, rt: tokio::runtime::Handle) -> Self {
        Pg {
            tx,
            rt,
            prepared: Default::default(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .rt
            .block_on(self.tx.prepare(&dollars(sql)))
            .map_err(pg_err)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// The error with its causes: the client's own text is only "db error";
/// the server's message is its source.
pub(crate) fn pg_err(e: impl Into<Box<dyn std::error::Error>>) -> StoreError {
    let e = e.into();
    let mut text = format!("postgresql: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    StoreError::Sqlite(text)
}

/// `?1` → `$1` outside quoted text.
pub(crate) fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

mod pgtypes {
    use super::V;
    use bytes::{BufMut, BytesMut};
    use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    // Written as the parameter's inferred type asks: the statements are
    // shared with SQLite, so they carry no casts of their own.
    impl ToSql for V {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
            match self {
                V::Null => Ok(IsNull::Yes),
                V::Int(n) => match *ty {
                    Type::INT8 => n.to_sql(ty, out),
                    Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                    Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                    Type::BOOL => (*n != 0).to_sql(ty, out),
                    Type::TEXT | Type::VARCHAR => n.to_string().as_str().to_sql(ty, out),
                    _ => Err(format!("an integer for a parameter of type {ty}").into()),
                },
                V::Text(s) => match *ty {
                    // jsonb's binary form: a version byte, then the text.
                    Type::JSONB => {
                        out.put_u8(1);
                        out.put_slice(s.as_bytes());
                        Ok(IsNull::No)
                    }
                    Type::JSON => {
                        out.put_slice(s.as_bytes());
                        Ok(IsNull::No)
                    }
                    _ => s.as_str().to_sql(ty, out),
                },
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        tokio_postgres::types::to_sql_checked!();
    }

    impl<'a> FromSql<'a> for V {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<V, BoxError> {
            Ok(match *ty {
                Type::INT8 => V::Int(i64::from_sql(ty, raw)?),
                Type::INT4 => V::Int(i64::from(i32::from_sql(ty, raw)?)),
                Type::INT2 => V::Int(i64::from(i16::from_sql(ty, raw)?)),
                Type::BOOL => V::Int(i64::from(bool::from_sql(ty, raw)?)),
                Type::JSONB => V::Text(String::from_utf8(raw.get(1..).unwrap_or(&[]).to_vec())?),
                _ => V::Text(String::from_utf8(raw.to_vec())?),
            })
        }

        fn from_sql_null(_: &Type) -> Result<V, BoxError> {
            Ok(V::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}

impl Pg<'_, '_> {
    fn params(params: &[V]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect()
    }
}

impl Sql for Pg<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let p = Self::params(params);
        let rows = self.rt.block_on(self.tx.query(&stmt, &p)).map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<_, V>(i).map_err(pg_err))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        let p = Self::params(params);
        self.rt.block_on(self.tx.execute(&stmt, &p)).map_err(pg_err)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.rt.block_on(self.tx.batch_execute(sql)).map_err(pg_err)
    }
}

/// `?1, ?2, …` from `first` for `n` values (an `IN` list both engines read).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            dollars("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d IN (?10, ?3)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d IN ($10, $3)"
        );
        assert_eq!(placeholders(2, 3), "?2, ?3, ?4");
    }

    #[test]
    fn sqlite_rows_come_back_as_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut db = Lite(&conn);
        db.execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
            .unwrap();
        db.execute("INSERT INTO t VALUES (?1, ?2)", vals![7i64, "七"])
            .unwrap();
        db.execute(
            "INSERT INTO t VALUES (?1, ?2)",
            vals![None::<i64>, None::<String>],
        )
        .unwrap();
        let rows = db.query("SELECT a, b FROM t ORDER BY a", &[]).unwrap();
        assert_eq!(rows[0].opt_int(0).unwrap(), None);
        assert_eq!(rows[1].int(0).unwrap(), 7);
        assert_eq!(rows[1].text(1).unwrap(), "七");
        assert!(rows[1].text(0).is_err());
    }
}
