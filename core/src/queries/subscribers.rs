use super::{PER_PAGE, Page, clamp_page};
use crate::core::{now, to_time};
use crate::db::Tx;
use crate::domain::{OperationId, ParseError, Permission, ResellerId, SubscriberId, Username};
use crate::ops::Command;
use crate::queries::resellers::{self, Reseller};
use crate::{Actor, Core, CoreError, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A subscriber line, without its secrets.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub username: String,
    pub expires_at: DateTime<Utc>,
    pub max_connections: i64,
    pub active: bool,
    pub notes: String,
    /// `None` for subscribers the admins own.
    pub reseller_id: Option<ResellerId>,
    pub owner_username: Option<String>,
    pub created_by_admin: bool,
    /// Live connections; `None` for resellers not allowed to view connections.
    pub active_connections: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_access_at: Option<DateTime<Utc>>,
    /// A trial (`/trial`) until it is extended.
    pub is_trial: bool,
}

/// Whether a subscriber can watch right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Expired,
    Disabled,
}

impl Subscriber {
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        if !self.active {
            Status::Disabled
        } else if self.expires_at <= now {
            Status::Expired
        } else {
            Status::Active
        }
    }

    /// Whole days of access left, rounded down; 0 once expired.
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.expires_at - now).num_days().max(0)
    }
}

const COLUMNS: &str = "s.id, s.username, s.expires_at, s.max_connections, s.active, s.notes, s.reseller_id, \
    r.username AS owner_username, s.created_by_admin, s.active_connections, s.created_at, s.last_access_at, s.is_trial";
const FROM: &str = "FROM subscribers s LEFT JOIN resellers r ON r.id = s.reseller_id";

fn from_row(row: &AnyRow) -> std::result::Result<Subscriber, sqlx::Error> {
    Ok(Subscriber {
        id: SubscriberId(row.try_get("id")?),
        username: row.try_get("username")?,
        expires_at: to_time(row.try_get("expires_at")?),
        max_connections: row.try_get("max_connections")?,
        active: row.try_get::<i64, _>("active")? != 0,
        notes: row.try_get("notes")?,
        reseller_id: row
            .try_get::<Option<i64>, _>("reseller_id")?
            .map(ResellerId),
        owner_username: row.try_get("owner_username")?,
        created_by_admin: row.try_get::<i64, _>("created_by_admin")? != 0,
        active_connections: Some(row.try_get("active_connections")?),
        created_at: to_time(row.try_get("created_at")?),
        last_access_at: row
            .try_get::<Option<i64>, _>("last_access_at")?
            .map(to_time),
        is_trial: row.try_get::<i64, _>("is_trial")? != 0,
    })
}

/// Which subscribers a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    Active,
    Expired,
    ExpiringSoon,
    Disabled,
}

impl Filter {
    pub const ALL: [Filter; 5] = [
        Filter::All,
        Filter::Active,
        Filter::Expired,
        Filter::ExpiringSoon,
        Filter::Disabled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Active => "active",
            Filter::Expired => "expired",
            Filter::ExpiringSoon => "expiring",
            Filter::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Filter> {
        Filter::ALL
            .into_iter()
            .find(|f| f.name() == s.trim().to_ascii_lowercase())
    }
}

/// Credentials, decrypted for the subscriber's owner.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub max_connections: i64,
    /// The panel name the reseller brands their lines with.
    pub brand: String,
    /// The rest of the owner's branding (none for an admin's own subscribers).
    #[serde(default)]
    pub branding: crate::ops::Branding,
}

/// Loads a subscriber the actor may act on, with `permission`, or refuses. Another reseller's
/// subscriber is “not found”, so probing reveals nothing.
pub(crate) async fn for_actor(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    username: &Username,
    permission: Permission,
    change: bool,
) -> Result<(Subscriber, Option<Reseller>)> {
    let reseller = match actor {
        Actor::Reseller(id) => {
            let r = resellers::by_id(&mut *conn, *id).await?;
            r.require(permission)?;
            Some(r)
        }
        Actor::Admin(_) => None,
    };
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE s.username = $1"))
        .bind(username.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let not_found = || CoreError::NotFound {
        kind: "subscriber",
        name: username.to_string(),
    };
    let subscriber = from_row(&row.ok_or_else(not_found)?)?;
    match (&reseller, subscriber.reseller_id) {
        (Some(r), Some(owner)) if owner == r.id => {}
        (Some(_), _) => return Err(not_found()),
        (None, Some(_)) if change => {
            return Err(CoreError::BelongsToReseller {
                subscriber: subscriber.username.clone(),
                reseller: subscriber.owner_username.clone().unwrap_or_default(),
            });
        }
        (None, _) => {}
    }
    Ok((subscriber, reseller))
}

/// Blanks the connection figures of `s` when `viewer` is a reseller not allowed to see them.
fn with_visible_figures(mut s: Subscriber, viewer: Option<&Reseller>) -> Subscriber {
    if viewer.is_some_and(|r| !r.permissions.allows(Permission::CanViewConnections)) {
        s.active_connections = None;
    }
    s
}

/// [`for_actor`] inside a write transaction, for changes.
pub(crate) async fn for_change(
    tx: &mut Tx,
    actor: &Actor,
    username: &Username,
    permission: Permission,
) -> Result<(Subscriber, Option<Reseller>)> {
    for_actor(tx, actor, username, permission, true).await
}

impl Core {
    /// A page of the actor's subscribers (all of them for admins), newest first.
    pub async fn subscribers(
        &self,
        actor: &Actor,
        filter: Filter,
        search: Option<&str>,
        page: i64,
    ) -> Result<Page<Subscriber>> {
        let mut clauses = vec!["1 = 1".to_string()];
        let mut binds: Vec<i64> = Vec::new();
        let viewer = match actor {
            Actor::Reseller(id) => {
                let r = resellers::by_id(self.db.read(), *id).await?;
                r.require(Permission::CanViewUsers)?;
                binds.push(id.0);
                clauses.push(format!("s.reseller_id = ${}", binds.len()));
                Some(r)
            }
            Actor::Admin(_) => None,
        };
        let now = now();
        let soon = now + self.policy.expiring_soon_days * 86_400;
        match filter {
            Filter::All => {}
            Filter::Active => bind_clause(
                &mut clauses,
                &mut binds,
                "s.active = 1 AND s.expires_at > ?",
                &[now],
            ),
            Filter::Expired => bind_clause(&mut clauses, &mut binds, "s.expires_at <= ?", &[now]),
            Filter::ExpiringSoon => bind_clause(
                &mut clauses,
                &mut binds,
                "s.active = 1 AND s.expires_at > ? AND s.expires_at <= ?",
                &[now, soon],
            ),
            Filter::Disabled => clauses.push("s.active = 0".into()),
        }
        let pattern = search.map(|s| {
            let escaped = s
                .trim()
                .to_ascii_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        if pattern.is_some() {
            clauses.push(format!("s.username LIKE ${} ESCAPE '\\'", binds.len() + 1));
        }
        let where_ = clauses.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) {FROM} WHERE {where_}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(*b);
        }
        if let Some(p) = &pattern {
            count = count.bind(p.clone());
        }
        let total = count.fetch_one(self.db.read()).await?;
        let page = clamp_page(page, total);
        let list_sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE {where_} ORDER BY s.created_at DESC, s.id DESC LIMIT {PER_PAGE} OFFSET {}",
            page * PER_PAGE
        );
        let mut list = sqlx::query(&list_sql);
        for b in &binds {
            list = list.bind(*b);
        }
        if let Some(p) = &pattern {
            list = list.bind(p.clone());
        }
        let items = list
            .fetch_all(self.db.read())
            .await?
            .iter()
            .map(|row| Ok(with_visible_figures(from_row(row)?, viewer.as_ref())))
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }

    /// A page of a sub-reseller's subscribers for their parent, read-only, newest first. The
    /// parent needs `can_view_users` themselves; figures their permissions hide stay hidden.
    pub async fn subreseller_subscribers(
        &self,
        actor: &Actor,
        sub: &Username,
        page: i64,
    ) -> Result<Page<Subscriber>> {
        let Actor::Reseller(_) = actor else {
            return Err(crate::CoreError::ResellersOnly);
        };
        let mut conn = self.db.read().acquire().await?;
        let child = match resellers::by_username(&mut *conn, sub).await {
            Err(crate::CoreError::NotFound { .. }) => {
                return Err(crate::ops::subresellers::not_a_subreseller(sub.as_str()));
            }
            other => other?,
        };
        let parent = crate::ops::subresellers::require_manager(&mut conn, actor, &child)
            .await?
            .ok_or(crate::CoreError::ResellersOnly)?;
        parent.require(Permission::CanViewUsers)?;
        let total: i64 = sqlx::query_scalar("SELECT subscriber_count FROM resellers WHERE id = $1")
            .bind(child.id.0)
            .fetch_one(&mut *conn)
            .await?;
        let page = clamp_page(page, total);
        let items = sqlx::query(&format!(
            "SELECT {COLUMNS} {FROM} WHERE s.reseller_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(child.id.0)
        .bind(PER_PAGE)
        .bind(page * PER_PAGE)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok(with_visible_figures(from_row(row)?, Some(&parent))))
        .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }

    /// One subscriber, if the actor may see it.
    pub async fn subscriber(&self, actor: &Actor, username: &Username) -> Result<Subscriber> {
        let mut conn = self.db.read().acquire().await?;
        let (s, viewer) =
            for_actor(&mut conn, actor, username, Permission::CanViewUsers, false).await?;
        Ok(with_visible_figures(s, viewer.as_ref()))
    }

    /// The username of subscriber `id`, if the actor may see it: the XUI API names lines by id.
    /// Another reseller's subscriber is “not found”, like a username that does not exist.
    pub async fn subscriber_username(&self, actor: &Actor, id: i64) -> Result<Username> {
        let name: Option<String> =
            sqlx::query_scalar("SELECT username FROM subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.read())
                .await?;
        let not_found = || CoreError::NotFound {
            kind: "subscriber with id",
            name: id.to_string(),
        };
        let username = Username::parse(&name.ok_or_else(not_found)?)?;
        match self.subscriber(actor, &username).await {
            Err(CoreError::NotFound { .. }) => Err(not_found()),
            other => other.map(|_| username),
        }
    }

    /// The subscriber's password and token again, for their owner.
    pub async fn credentials(&self, actor: &Actor, username: &Username) -> Result<Credentials> {
        let mut conn = self.db.read().acquire().await?;
        let (s, reseller) =
            for_actor(&mut conn, actor, username, Permission::CanViewUsers, false).await?;
        self.decrypt(&mut conn, s, reseller).await
    }

    /// The credentials that `actor`'s confirmed creation or reset `op` issued, for its
    /// confirmation message; `None` for other commands. The right that allowed the command is
    /// the one checked, not `can_view_users`: whoever may create or reset a subscriber has to
    /// hand the new credentials over.
    pub async fn issued_credentials(
        &self,
        actor: &Actor,
        op: &OperationId,
    ) -> Result<Option<Credentials>> {
        let payload: Option<String> = sqlx::query_scalar(
            "SELECT p.payload FROM pending_actions p JOIN operations o ON o.id = p.id \
             WHERE p.id = $1 AND p.actor = $2 AND o.actor = $2 AND o.outcome IS NOT NULL",
        )
        .bind(op.as_str())
        .bind(actor.label())
        .fetch_optional(self.db.read())
        .await?;
        let Some(payload) = payload else {
            return Ok(None);
        };
        let (username, permission) = match serde_json::from_str(&payload)? {
            Command::CreateSubscriber { username, .. } => (username, Permission::CanCreateUsers),
            // Trials need a quota, not a permission; seeing one's subscribers is enough here.
            Command::CreateTrial { username, .. } => (username, Permission::CanViewUsers),
            Command::Reset { username } => (username, Permission::CanResetTokens),
            _ => return Ok(None),
        };
        let mut conn = self.db.read().acquire().await?;
        let (s, reseller) = for_actor(&mut conn, actor, &username, permission, false).await?;
        self.decrypt(&mut conn, s, reseller).await.map(Some)
    }

    /// Decrypts the credentials of `s`, which the caller has checked the asker may see.
    pub(crate) async fn decrypt(
        &self,
        conn: &mut sqlx::AnyConnection,
        s: Subscriber,
        reseller: Option<Reseller>,
    ) -> Result<Credentials> {
        let (password_enc, token_enc): (String, String) =
            sqlx::query_as("SELECT password_enc, token_enc FROM subscribers WHERE id = $1")
                .bind(s.id.0)
                .fetch_one(&mut *conn)
                .await?;
        let owner = match (reseller, s.reseller_id) {
            (Some(r), _) => Some(r),
            (None, Some(id)) => Some(resellers::by_id(&mut *conn, id).await?),
            (None, None) => None,
        };
        let branding = match &owner {
            Some(r) => crate::ops::branding::load(&mut *conn, r.id).await?,
            None => crate::ops::Branding::default(),
        };
        Ok(Credentials {
            branding,
            password: self.cipher.decrypt(&s.username, &password_enc)?,
            token: self.cipher.decrypt(&s.username, &token_enc)?,
            expires_at: s.expires_at,
            max_connections: s.max_connections,
            brand: owner
                .map(|r| r.brand().to_string())
                .unwrap_or_else(|| "IPTV".to_string()),
            username: s.username,
        })
    }
}

/// Adds `clause` with its `?`s numbered after the binds so far.
fn bind_clause(clauses: &mut Vec<String>, binds: &mut Vec<i64>, clause: &str, values: &[i64]) {
    let mut c = clause.to_string();
    for v in values {
        binds.push(*v);
        c = c.replacen('?', &format!("${}", binds.len()), 1);
    }
    clauses.push(c);
}

/// Parses a listing filter, for front ends.
pub fn parse_filter(s: &str) -> std::result::Result<Filter, ParseError> {
    Filter::parse(s).ok_or_else(|| {
        ParseError(format!(
            "“{}” is not a filter. Use one of: {}.",
            s.trim(),
            Filter::ALL.map(Filter::name).join(", ")
        ))
    })
}
