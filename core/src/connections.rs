//! Live viewing sessions, for the streaming server's authorization calls: who watches what, held
//! to `max_connections` across every instance sharing the database.
//!
//! A session is admitted in one write transaction that locks the subscriber's row (`FOR UPDATE`
//! on PostgreSQL; SQLite has one writer) and counts the live rows of `stream_sessions`, so two
//! instances cannot both take the last slot; `subscribers.active_connections` is written in the
//! same transaction, for the cards and dashboards. After that, heartbeats of a session this
//! instance knows cost no query: its `last_seen` is written at most every [`REFRESH_EVERY`],
//! and a refresh that finds the row gone (kicked, or cleaned up as idle) sends the session
//! through admission again. `/kick` deletes the rows, leaves a marker that refuses the sessions
//! until they have been idle for [`IDLE_TIMEOUT`], and tells every instance to forget them.

use crate::access::Access;
use crate::bus::Event;
use crate::core::now;
use crate::db::{Backend, Tx};
use crate::domain::{Permission, Username};
use crate::queries::subscribers;
use crate::{Actor, Core, Result};
use dashmap::DashMap;
use std::time::{Duration, Instant};

/// A session not heard from for this long is over (the player went away without saying so).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often a live session's `last_seen` is written, at most: well within [`IDLE_TIMEOUT`], so
/// other instances never count a live session as idle, and rare enough that heartbeats are
/// nearly free.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// A session this instance serves.
#[derive(Debug, Clone)]
struct Session {
    id: String,
    last_seen: Instant,
    /// When its `last_seen` was last written to the database.
    refreshed: Instant,
}

/// What this instance knows of live sessions; the database has the truth.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_user: DashMap<String, Vec<Session>>,
    /// Sessions found kicked (`username`, newline, session id), refused without a query until
    /// their marker expires.
    kicked: DashMap<String, Instant>,
}

/// What memory says of a heartbeat.
enum Heartbeat {
    /// Known and refreshed recently: allowed without a query.
    Fresh,
    /// Known, and its `last_seen` is due to be written.
    Refresh,
    /// Not known here: admission decides.
    Unknown,
}

impl Sessions {
    fn heartbeat(&self, username: &str, session: &str) -> Heartbeat {
        let Some(mut sessions) = self.by_user.get_mut(username) else {
            return Heartbeat::Unknown;
        };
        sessions.retain(|s| s.last_seen.elapsed() < IDLE_TIMEOUT);
        let Some(s) = sessions.iter_mut().find(|s| s.id == session) else {
            return Heartbeat::Unknown;
        };
        s.last_seen = Instant::now();
        if s.refreshed.elapsed() < REFRESH_EVERY {
            return Heartbeat::Fresh;
        }
        s.refreshed = s.last_seen;
        Heartbeat::Refresh
    }

    fn remember(&self, username: &str, session: &str) {
        let now = Instant::now();
        let mut sessions = self.by_user.entry(username.to_string()).or_default();
        sessions.retain(|s| s.id != session);
        sessions.push(Session {
            id: session.to_string(),
            last_seen: now,
            refreshed: now,
        });
    }

    fn remove(&self, username: &str, session: &str) {
        if let Some(mut sessions) = self.by_user.get_mut(username) {
            sessions.retain(|s| s.id != session);
        }
    }

    /// Drops what is known of `username`'s sessions (kicked, here or on another instance).
    pub(crate) fn forget(&self, username: &str) {
        self.by_user.remove(username);
    }

    /// Drops every known session: each is checked against the database on its next heartbeat.
    pub(crate) fn forget_all(&self) {
        self.by_user.clear();
    }

    fn drop_expired(&self) {
        self.kicked.retain(|_, until| *until > Instant::now());
        self.by_user.retain(|_, sessions| {
            sessions.retain(|s| s.last_seen.elapsed() < IDLE_TIMEOUT);
            !sessions.is_empty()
        });
    }
}

fn kick_key(username: &str, session: &str) -> String {
    format!("{username}\n{session}")
}

/// The streaming server's question: may this session play?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Disabled, expired or wrong credentials.
    Denied,
    /// Already at `max_connections` with other sessions.
    TooManyConnections,
}

impl Core {
    /// Starts or refreshes `session` for an authenticated subscriber, if allowed.
    pub async fn authorize_stream(&self, access: &Access, session: &str) -> Result<Verdict> {
        if !access.active || access.expires_at <= chrono::Utc::now() {
            return Ok(Verdict::Denied);
        }
        let username = access.username.as_str();
        match self.sessions.heartbeat(username, session) {
            Heartbeat::Fresh => return Ok(Verdict::Allow),
            Heartbeat::Refresh => match self.refresh_session(username, session).await {
                Ok(true) => return Ok(Verdict::Allow),
                // Kicked or cleaned up meanwhile: admission decides.
                Ok(false) => self.sessions.remove(username, session),
                Err(e) => {
                    self.sessions.remove(username, session);
                    return Err(e);
                }
            },
            Heartbeat::Unknown => {}
        }
        if let Some(until) = self.sessions.kicked.get(&kick_key(username, session))
            && *until > Instant::now()
        {
            return Ok(Verdict::Denied);
        }
        self.admit(access, session).await
    }

    /// Sessions of `username` this instance serves, heard from within the idle timeout: the
    /// figure a player's login shows, from memory (logins never query the database).
    pub fn live_connections(&self, username: &str) -> usize {
        self.sessions.by_user.get(username).map_or(0, |s| {
            s.iter()
                .filter(|x| x.last_seen.elapsed() < IDLE_TIMEOUT)
                .count()
        })
    }

    /// The streaming server says a session ended.
    pub async fn end_stream(&self, username: &str, session: &str) -> Result<()> {
        self.sessions.remove(username, session);
        let mut tx = self.db.begin_write().await?;
        if !self.lock_subscriber(&mut tx, username).await? {
            return Ok(());
        }
        sqlx::query("DELETE FROM stream_sessions WHERE username = $1 AND session = $2")
            .bind(username)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        prune(&mut tx, username).await?;
        store_count(&mut tx, username).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of a subscriber the actor may edit, on every instance; their next
    /// request is refused until the player connects again. Returns how many were ended.
    pub async fn kick(&self, actor: &Actor, username: &Username) -> Result<usize> {
        let mut tx = self.db.begin_write().await?;
        subscribers::for_actor(&mut tx, actor, username, Permission::CanEditUsers, true).await?;
        let username = username.as_str();
        if !self.lock_subscriber(&mut tx, username).await? {
            return Ok(0);
        }
        prune(&mut tx, username).await?;
        let ended: Vec<String> =
            sqlx::query_scalar("DELETE FROM stream_sessions WHERE username = $1 RETURNING session")
                .bind(username)
                .fetch_all(&mut *tx)
                .await?;
        let now = now();
        for session in &ended {
            sqlx::query(
                "INSERT INTO stream_kicks (username, session, kicked_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (username, session) DO UPDATE SET kicked_at = excluded.kicked_at",
            )
            .bind(username)
            .bind(session)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        store_count(&mut tx, username).await?;
        self.publish(&mut tx, &Event::Kicked(username.to_string()))
            .await?;
        tx.commit().await?;
        self.sessions.forget(username);
        let until = Instant::now() + IDLE_TIMEOUT;
        for session in &ended {
            self.sessions
                .kicked
                .insert(kick_key(username, session), until);
        }
        Ok(ended.len())
    }

    /// Frees what no request will ask about again: expired login-cache entries, kicked sessions
    /// past the idle timeout and subscribers without a live session, so memory follows the
    /// current load rather than every player ever seen. Run it periodically.
    pub fn drop_expired(&self) {
        self.access.drop_expired();
        self.sessions.drop_expired();
    }

    /// Deletes the shared rows that have expired: idle sessions (correcting their subscribers'
    /// `active_connections`), old kick markers and full failed-login allowances. Any instance
    /// may run it, periodically.
    pub async fn clean_up_shared(&self) -> Result<()> {
        let cutoff = now() - IDLE_TIMEOUT.as_secs() as i64;
        let idle: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT username FROM stream_sessions WHERE last_seen <= $1 LIMIT 1000",
        )
        .bind(cutoff)
        .fetch_all(self.db.read())
        .await?;
        for username in idle {
            let mut tx = self.db.begin_write().await?;
            if self.lock_subscriber(&mut tx, &username).await? {
                prune(&mut tx, &username).await?;
                store_count(&mut tx, &username).await?;
            }
            tx.commit().await?;
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM stream_kicks WHERE kicked_at <= $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM failed_logins WHERE full_at <= $1")
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a known session's `last_seen`; `false` if its row is gone.
    async fn refresh_session(&self, username: &str, session: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let found = refresh(&mut tx, username, session, &self.instance).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// A session this instance does not know: refused if kicked, refreshed if another instance
    /// admitted it, else counted against `max_connections` under the subscriber's row lock.
    async fn admit(&self, access: &Access, session: &str) -> Result<Verdict> {
        let username = access.username.as_str();
        let mut tx = self.db.begin_write().await?;
        if !self.lock_subscriber(&mut tx, username).await? {
            return Ok(Verdict::Denied);
        }
        let kicked_at: Option<i64> = sqlx::query_scalar(
            "SELECT kicked_at FROM stream_kicks WHERE username = $1 AND session = $2 AND kicked_at > $3",
        )
        .bind(username)
        .bind(session)
        .bind(now() - IDLE_TIMEOUT.as_secs() as i64)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(at) = kicked_at {
            let left = (at + IDLE_TIMEOUT.as_secs() as i64 - now()).max(0) as u64;
            self.sessions.kicked.insert(
                kick_key(username, session),
                Instant::now() + Duration::from_secs(left),
            );
            return Ok(Verdict::Denied);
        }
        prune(&mut tx, username).await?;
        let verdict = if refresh(&mut tx, username, session, &self.instance).await? {
            Verdict::Allow
        } else {
            let live: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM stream_sessions WHERE username = $1")
                    .bind(username)
                    .fetch_one(&mut *tx)
                    .await?;
            if live < access.max_connections {
                sqlx::query(
                    "INSERT INTO stream_sessions (username, session, instance, last_seen) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(username)
                .bind(session)
                .bind(&*self.instance)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                Verdict::Allow
            } else {
                Verdict::TooManyConnections
            }
        };
        store_count(&mut tx, username).await?;
        tx.commit().await?;
        if verdict == Verdict::Allow {
            self.sessions.remember(username, session);
        }
        Ok(verdict)
    }

    /// Locks the subscriber's row until the transaction ends, so its sessions are counted by one
    /// transaction at a time; `false` if there is no such subscriber.
    async fn lock_subscriber(&self, tx: &mut Tx, username: &str) -> Result<bool> {
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE",
            // Write transactions already run one at a time.
            Backend::Sqlite => "",
        };
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM subscribers WHERE username = $1{lock}"
        ))
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(found.is_some())
    }
}

/// Marks a session seen now, by `instance`; `false` if it has no row.
async fn refresh(tx: &mut Tx, username: &str, session: &str, instance: &str) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE stream_sessions SET last_seen = $1, instance = $2 WHERE username = $3 AND session = $4",
    )
    .bind(now())
    .bind(instance)
    .bind(username)
    .bind(session)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// Deletes `username`'s idle sessions.
async fn prune(tx: &mut Tx, username: &str) -> Result<()> {
    sqlx::query("DELETE FROM stream_sessions WHERE username = $1 AND last_seen <= $2")
        .bind(username)
        .bind(now() - IDLE_TIMEOUT.as_secs() as i64)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes `username`'s live session count where the cards and dashboards read it.
async fn store_count(tx: &mut Tx, username: &str) -> Result<()> {
    sqlx::query(
        "UPDATE subscribers SET active_connections = \
         (SELECT COUNT(*) FROM stream_sessions WHERE username = $1), last_access_at = $2 \
         WHERE username = $1",
    )
    .bind(username)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_kicks_and_idle_subscribers_are_dropped() {
        let sessions = Sessions::default();
        let long_ago = Instant::now()
            .checked_sub(IDLE_TIMEOUT * 2)
            .expect("the clock has run for three minutes");
        sessions.kicked.insert("old".into(), long_ago);
        sessions
            .kicked
            .insert("new".into(), Instant::now() + IDLE_TIMEOUT);
        let session = |id: &str, last_seen| Session {
            id: id.into(),
            last_seen,
            refreshed: last_seen,
        };
        sessions
            .by_user
            .insert("gone".into(), vec![session("a", long_ago)]);
        sessions.by_user.insert(
            "watching".into(),
            vec![session("b", long_ago), session("c", Instant::now())],
        );
        sessions.drop_expired();
        let kicked: Vec<String> = sessions.kicked.iter().map(|k| k.key().clone()).collect();
        assert_eq!(kicked, ["new"]);
        assert!(sessions.by_user.get("gone").is_none());
        let live: Vec<String> = sessions
            .by_user
            .get("watching")
            .expect("still watching")
            .iter()
            .map(|s| s.id.clone())
            .collect();
        assert_eq!(live, ["c"]);
    }

    #[test]
    fn a_known_session_is_written_at_most_every_refresh_interval() {
        let sessions = Sessions::default();
        sessions.remember("viewer", "s1");
        for _ in 0..100 {
            assert!(matches!(
                sessions.heartbeat("viewer", "s1"),
                Heartbeat::Fresh
            ));
        }
        assert!(matches!(
            sessions.heartbeat("viewer", "s2"),
            Heartbeat::Unknown
        ));
        let due = Instant::now()
            .checked_sub(REFRESH_EVERY)
            .expect("the clock has run for a minute");
        sessions.by_user.get_mut("viewer").expect("known")[0].refreshed = due;
        assert!(matches!(
            sessions.heartbeat("viewer", "s1"),
            Heartbeat::Refresh
        ));
        assert!(matches!(
            sessions.heartbeat("viewer", "s1"),
            Heartbeat::Fresh
        ));
    }
}
