//! Live viewing sessions, for the streaming server's authorization calls: who watches what from
//! where, enforced against `max_connections`. Sessions live in memory (heartbeats cost no
//! write); the count per subscriber is written to the database when it changes, so the cards
//! and dashboards show real figures.

use crate::access::Access;
use crate::domain::{Permission, Username};
use crate::queries::subscribers;
use crate::{Actor, Core, Result};
use dashmap::DashMap;
use std::time::{Duration, Instant};

/// A session not heard from for this long is over (the player went away without saying so).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone)]
struct Session {
    id: String,
    last_seen: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_user: DashMap<String, Vec<Session>>,
    /// Kicked sessions, refused until they have been idle long enough to be forgotten.
    kicked: DashMap<String, Instant>,
}

impl Sessions {
    fn drop_expired(&self) {
        self.kicked.retain(|_, at| at.elapsed() < IDLE_TIMEOUT);
        self.by_user.retain(|_, sessions| {
            sessions.retain(|s| s.last_seen.elapsed() < IDLE_TIMEOUT);
            !sessions.is_empty()
        });
    }
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
        if let Some(at) = self.sessions.kicked.get(session).map(|k| *k) {
            if at.elapsed() < IDLE_TIMEOUT {
                return Ok(Verdict::Denied);
            }
            self.sessions.kicked.remove(session);
        }
        let (verdict, changed_to, admitted) = {
            let mut sessions = self
                .sessions
                .by_user
                .entry(access.username.clone())
                .or_default();
            let before = sessions.len();
            sessions.retain(|s| s.last_seen.elapsed() < IDLE_TIMEOUT);
            let pruned = (sessions.len() != before).then_some(sessions.len());
            if let Some(s) = sessions.iter_mut().find(|s| s.id == session) {
                s.last_seen = Instant::now();
                (Verdict::Allow, pruned, false)
            } else if (sessions.len() as i64) < access.max_connections {
                sessions.push(Session {
                    id: session.to_string(),
                    last_seen: Instant::now(),
                });
                (Verdict::Allow, Some(sessions.len()), true)
            } else {
                (Verdict::TooManyConnections, pruned, false)
            }
        };
        if let Some(n) = changed_to
            && let Err(e) = self.record_connections(&access.username, n).await
        {
            // The player is told no and will retry, likely under a new session id: a session
            // kept here would hold its slot for the idle timeout and lock that retry out.
            if admitted && let Some(mut sessions) = self.sessions.by_user.get_mut(&access.username)
            {
                sessions.retain(|s| s.id != session);
            }
            return Err(e);
        }
        Ok(verdict)
    }

    /// Sessions of `username` heard from within the idle timeout.
    pub fn live_connections(&self, username: &str) -> usize {
        self.sessions.by_user.get(username).map_or(0, |s| {
            s.iter()
                .filter(|x| x.last_seen.elapsed() < IDLE_TIMEOUT)
                .count()
        })
    }

    /// The streaming server says a session ended.
    pub async fn end_stream(&self, username: &str, session: &str) -> Result<()> {
        let remaining = self.sessions.by_user.get_mut(username).map(|mut s| {
            s.retain(|x| x.id != session && x.last_seen.elapsed() < IDLE_TIMEOUT);
            s.len()
        });
        if let Some(n) = remaining {
            self.record_connections(username, n).await?;
        }
        Ok(())
    }

    /// Ends every session of a subscriber the actor may edit; their next request is refused
    /// until the player connects again. Returns how many were ended.
    pub async fn kick(&self, actor: &Actor, username: &Username) -> Result<usize> {
        let mut conn = self.db.read().acquire().await?;
        subscribers::for_actor(&mut conn, actor, username, Permission::CanEditUsers, true).await?;
        drop(conn);
        let ended = self
            .sessions
            .by_user
            .remove(username.as_str())
            .map(|(_, s)| s)
            .unwrap_or_default();
        for s in &ended {
            self.sessions.kicked.insert(s.id.clone(), Instant::now());
        }
        self.record_connections(username.as_str(), 0).await?;
        Ok(ended.len())
    }

    /// Frees what no request will ask about again: expired login-cache entries, kicked sessions
    /// past the idle timeout and subscribers without a live session, so memory follows the
    /// current load rather than every player ever seen. Run it periodically.
    pub fn drop_expired(&self) {
        self.access.drop_expired();
        self.sessions.drop_expired();
    }

    async fn record_connections(&self, username: &str, count: usize) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE subscribers SET active_connections = $1, last_access_at = $2 WHERE username = $3")
            .bind(count as i64)
            .bind(crate::core::now())
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
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
        sessions.kicked.insert("new".into(), Instant::now());
        let session = |id: &str, last_seen| Session {
            id: id.into(),
            last_seen,
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
}
