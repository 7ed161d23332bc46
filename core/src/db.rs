//! The connection pools and migrations. Queries elsewhere are written once, in the SQL that
//! SQLite and PostgreSQL share, and run through sqlx's `Any` driver: `$1` placeholders, integer
//! flags, Unix-second timestamps, `CAST(SUM(..) AS BIGINT)`.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor};
use std::time::Duration;

pub(crate) type Tx = sqlx::Transaction<'static, Any>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database. Cheap to clone.
///
/// SQLite allows one writer at a time, so writes get their own single-connection pool: writers
/// queue fairly in the pool instead of spinning on `SQLITE_BUSY`, and every write transaction is
/// `BEGIN IMMEDIATE`, so a transaction that reads before it writes can never fail to upgrade its
/// lock. On PostgreSQL both handles are the same pool and row locks do the ordering.
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// PostgreSQL only: where [`Core::listen_for_changes`](crate::Core::listen_for_changes)
    /// opens its own connection (the `Any` pool cannot `LISTEN`).
    listen_url: Option<ListenUrl>,
}

/// A database URL, which may hold a password: never shown by `Debug`.
#[derive(Clone)]
struct ListenUrl(std::sync::Arc<str>);

impl std::fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenUrl(..)")
    }
}

impl Db {
    /// Connects to `sqlite://PATH` (creating the file and its folder) or `postgres://...`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            return Ok(Db {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
                listen_url: Some(ListenUrl(url.into())),
            });
        }
        let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(sqlx::Error::Configuration(
                format!(
                    "DATABASE_URL must start with sqlite:// or postgres://, got “{}”",
                    scheme_of(url)
                )
                .into(),
            ));
        };
        let file = path.split('?').next().unwrap_or_default();
        if let Some(dir) = std::path::Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let url = if path.contains("mode=") {
            format!("sqlite://{path}")
        } else if path.contains('?') {
            format!("sqlite://{path}&mode=rwc")
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        let sqlite_pool = |n: u32| {
            AnyPoolOptions::new()
                .max_connections(n)
                .acquire_timeout(Duration::from_secs(60))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // synchronous = FULL: a commit is on disk before we answer, so a
                        // payment we acknowledged survives a power cut (NORMAL in WAL mode may
                        // lose the last commits). The cost is in ARCHITECTURE.md.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
        };
        let write = sqlite_pool(1).await?;
        let read = sqlite_pool(max_connections.max(2)).await?;
        Ok(Db {
            read,
            write,
            backend: Backend::Sqlite,
            listen_url: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL a listener for other instances' changes connects to; `None` on SQLite.
    pub(crate) fn url_for_listener(&self) -> Option<&str> {
        self.listen_url.as_ref().map(|u| &*u.0)
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.write).await,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.write).await,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.write
    }

    pub(crate) fn read(&self) -> &AnyPool {
        &self.read
    }

    /// Starts a transaction that will write. Never acquire a second one while holding this: on
    /// SQLite the write pool has a single connection.
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The URL's scheme alone, so a password in a malformed URL never reaches an error message.
fn scheme_of(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::Db;

    /// Acknowledged payments must survive power loss: every SQLite connection commits with
    /// `synchronous = FULL` (2), not WAL's usual `NORMAL` (1).
    #[tokio::test]
    async fn sqlite_commits_are_durable() {
        let path = std::env::temp_dir().join("resellerbot-tests").join(format!(
            "sync-{}.db",
            crate::secrets::random_string(b"abcdef0123456789", 12)
        ));
        let db = Db::connect(&format!("sqlite://{}", path.display()), 2)
            .await
            .expect("connects");
        for pool in [&db.write, &db.read] {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .expect("pragma reads");
            assert_eq!(level, 2, "synchronous must be FULL");
        }
        db.close().await;
        let _ = std::fs::remove_file(path);
    }
}
