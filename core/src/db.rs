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
    /// SQLite's database file (`None` on PostgreSQL), next to which migrations take their lock.
    sqlite_file: Option<std::path::PathBuf>,
    /// PostgreSQL only: where connections of their own are opened, outside the pool (the `Any`
    /// pool cannot `LISTEN`, and the poller lock must die with its connection).
    postgres_url: Option<PostgresUrl>,
}

/// A database URL, which may hold a password: never shown by `Debug`.
#[derive(Clone)]
struct PostgresUrl(std::sync::Arc<str>);

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresUrl(..)")
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
                sqlite_file: None,
                postgres_url: Some(PostgresUrl(url.into())),
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
            sqlite_file: Some(file.into()),
            postgres_url: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL for connections of their own (the change listener, the poller lock); `None` on
    /// SQLite.
    pub(crate) fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_ref().map(|u| &*u.0)
    }

    /// Applies the pending migrations of this backend. Instances starting at once apply them
    /// one after the other: sqlx holds an advisory lock on PostgreSQL, and on SQLite (where
    /// sqlx takes none) an exclusive lock on a file next to the database, so a second
    /// migrator never re-runs a migration the first is applying.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match &self.sqlite_file {
            Some(file) => {
                let mut lock_path = file.clone().into_os_string();
                lock_path.push("-migrations.lock");
                let lock = tokio::task::spawn_blocking(move || {
                    let lock = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(lock_path)?;
                    lock.lock()?;
                    Ok::<_, std::io::Error>(lock)
                })
                .await
                .map_err(|e| sqlx::migrate::MigrateError::Source(Box::new(e)))?
                .map_err(|e| sqlx::migrate::MigrateError::Source(Box::new(e)))?;
                let applied = SQLITE_MIGRATIONS.run(&self.write).await;
                drop(lock);
                applied
            }
            None => POSTGRES_MIGRATIONS.run(&self.write).await,
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

    /// Writes a consistent copy of this SQLite database to the new file `dest` with
    /// `VACUUM INTO`, which reads one snapshot while writers carry on (WAL mode). SQLite refuses
    /// a `dest` that exists and is not empty.
    pub async fn backup_into(&self, dest: &std::path::Path) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Err(sqlx::Error::Configuration(
                "VACUUM INTO copies SQLite databases only".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(dest.to_string_lossy().into_owned())
            .execute(&self.read)
            .await?;
        Ok(())
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
