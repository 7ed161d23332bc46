//! News for every instance sharing the database: what each keeps in memory (the login cache, the
//! stream → category index, live sessions, exhausted failed-login allowances) and must drop
//! when another instance changes the rows behind it.
//!
//! On PostgreSQL a change publishes with `pg_notify` inside its own transaction, so the news is
//! delivered on commit and never for a change that rolled back; each instance listens on one
//! connection of its own ([`Core::listen_for_changes`]). Notifications are not stored: whenever
//! the listening connection is (re)established, [`Event::Resynced`] drops everything cached, since
//! some may have been missed. On SQLite there is one process, which drops its own entries after
//! each commit; publishing does nothing there.

use crate::db::{Backend, Tx};
use crate::{Core, Result};
use sqlx::postgres::PgListener;
use std::future::Future;
use std::time::Duration;
use tokio::sync::broadcast;

/// The PostgreSQL channel every instance listens on.
const CHANNEL: &str = "resellerbot_changes";

/// What happened, as other instances need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A subscriber's credentials, state, expiry or bouquet changed (or it was created/deleted).
    Access(String),
    /// Many subscribers' access changed at once (a reseller's bouquet).
    AccessAll,
    /// The channel list was imported again.
    Channels,
    /// A subscriber's sessions were ended: drop what is known of them locally.
    Kicked(String),
    /// A client address used up its failed logins: its allowance is full again at this Unix
    /// time in milliseconds (so it may fail again `burst - 1` intervals before that).
    LoginsExhausted { client: String, full_at_ms: i64 },
    /// An API key was revoked: forget that it was verified (by its prefix).
    ApiKeyRevoked(String),
    /// The listener (re)connected: anything may have changed meanwhile.
    Resynced,
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Event::Access(u) => format!("a:{u}"),
            Event::AccessAll => "A".into(),
            Event::Channels => "C".into(),
            Event::Kicked(u) => format!("k:{u}"),
            Event::LoginsExhausted { client, full_at_ms } => format!("f:{full_at_ms}:{client}"),
            Event::ApiKeyRevoked(prefix) => format!("K:{prefix}"),
            Event::Resynced => "R".into(),
        }
    }

    fn decode(payload: &str) -> Option<Event> {
        Some(match payload.split_once(':') {
            None => match payload {
                "A" => Event::AccessAll,
                "C" => Event::Channels,
                "R" => Event::Resynced,
                _ => return None,
            },
            Some(("a", u)) => Event::Access(u.into()),
            Some(("k", u)) => Event::Kicked(u.into()),
            Some(("K", prefix)) => Event::ApiKeyRevoked(prefix.into()),
            Some(("f", rest)) => {
                let (at, client) = rest.split_once(':')?;
                Event::LoginsExhausted {
                    client: client.into(),
                    full_at_ms: at.parse().ok()?,
                }
            }
            Some(_) => return None,
        })
    }
}

/// A connection listening for other instances' changes (PostgreSQL).
#[derive(Debug)]
pub struct ChangeListener {
    core: Core,
    listener: PgListener,
}

impl ChangeListener {
    /// Applies the changes heard until `stop`, reconnecting after a lost connection. Run it for
    /// the life of the process.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        tokio::select! {
            () = stop => {}
            () = self.listen() => {}
        }
    }

    async fn listen(self) {
        let ChangeListener { core, mut listener } = self;
        let Some(url) = core.db.postgres_url() else {
            return;
        };
        loop {
            let Err(e) = hear(&core, &mut listener).await;
            tracing::warn!(error = %e, "the change listener lost its connection");
            // Whatever happens until it is back may not be heard.
            core.dispatch(Event::Resynced);
            listener = loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match connect(url).await {
                    Ok(l) => break l,
                    Err(e) => tracing::warn!(error = %e, "the change listener cannot reconnect"),
                }
            };
            core.dispatch(Event::Resynced);
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Applies what `listener` hears until its connection fails for good.
async fn hear(
    core: &Core,
    listener: &mut PgListener,
) -> Result<std::convert::Infallible, sqlx::Error> {
    loop {
        match listener.try_recv().await? {
            Some(n) => match Event::decode(n.payload()) {
                Some(event) => core.dispatch(event),
                None => tracing::warn!(payload = n.payload(), "unknown change notification"),
            },
            // Lost the connection and listening again: what was sent meanwhile is lost.
            None => core.dispatch(Event::Resynced),
        }
    }
}

/// The events received, for the parts of the process outside core (the failed-login limiter).
#[derive(Debug)]
pub(crate) struct Bus {
    received: broadcast::Sender<Event>,
}

impl Default for Bus {
    fn default() -> Bus {
        Bus {
            received: broadcast::channel(1024).0,
        }
    }
}

impl Core {
    /// Tells every instance about `event` when `tx` commits (PostgreSQL); nothing on SQLite,
    /// where the one process updates itself after the commit.
    pub(crate) async fn publish(&self, tx: &mut Tx, event: &Event) -> Result<()> {
        if self.db.backend() == Backend::Postgres {
            // pg_notify returns `void`, which the Any driver cannot describe: count it instead.
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_notify($1, $2)) AS sent")
                .bind(CHANNEL)
                .bind(event.encode())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The events this instance receives from now on (every instance's, its own included).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.bus.received.subscribe()
    }

    /// Connects this instance's listener for other instances' changes; `None` on SQLite. It
    /// is listening when this returns, so a request served afterwards cannot miss a change;
    /// [`ChangeListener::run`] then keeps it going.
    pub async fn listen_for_changes(&self) -> Result<Option<ChangeListener>> {
        let Some(url) = self.db.postgres_url() else {
            return Ok(None);
        };
        let listener = connect(url).await?;
        self.dispatch(Event::Resynced);
        Ok(Some(ChangeListener {
            core: self.clone(),
            listener,
        }))
    }

    /// Applies `event` to what core keeps in memory, then passes it on.
    pub(crate) fn dispatch(&self, event: Event) {
        match &event {
            Event::Access(username) => self.access.forget(username),
            Event::AccessAll => self.access.clear(),
            Event::Channels => self.channel_index.forget(),
            Event::Kicked(username) => self.sessions.forget(username),
            Event::LoginsExhausted { .. } => {}
            Event::ApiKeyRevoked(prefix) => self.api_keys.forget(prefix),
            Event::Resynced => {
                self.api_keys.clear();
                self.access.clear();
                self.channel_index.forget();
                self.sessions.forget_all();
            }
        }
        // Nobody may be subscribed: nothing to do then.
        let _ = self.bus.received.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn events_survive_the_wire() {
        for event in [
            Event::Access("viewer.1".into()),
            Event::AccessAll,
            Event::Channels,
            Event::Kicked("a:b".into()),
            Event::LoginsExhausted {
                client: "2001:db8::".into(),
                full_at_ms: 1_700_000_000_123,
            },
            Event::ApiKeyRevoked("Abc12345".into()),
            Event::Resynced,
        ] {
            assert_eq!(Event::decode(&event.encode()), Some(event));
        }
        assert_eq!(Event::decode("x:y"), None);
    }
}
