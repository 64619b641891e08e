//! A direct connection to a server's database on either store, for what the API does not show
//! (shared by the HTTP tests and the dispatch benchmark).

/// A connection to a PostgreSQL or SQLite database.
pub enum Db {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Db {
    /// Connects to the database of `url` (either store).
    pub async fn connect(url: &str) -> Self {
        use sqlx::Connection;
        if url.starts_with("sqlite:") {
            Db::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            Db::Postgres(sqlx::PgConnection::connect(url).await.unwrap())
        }
    }

    /// Every row of `sql`, which must be valid on both stores (ids compared as text literals).
    pub async fn rows<T>(&mut self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        match self {
            Db::Postgres(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
            Db::Sqlite(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
        }
    }

    /// The one integer `sql` selects.
    pub async fn number(&mut self, sql: &str) -> i64 {
        let rows: Vec<(i64,)> = self.rows(sql).await;
        rows[0].0
    }
}
