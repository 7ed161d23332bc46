use crate::core::to_time;
use crate::domain::{Permission, ResellerId, Username};
use crate::{Actor, Core, CoreError, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The set of permissions a reseller holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u16);

impl Permissions {
    pub fn allows(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    fn bit(p: Permission) -> u16 {
        1 << Permission::ALL.iter().position(|q| *q == p).unwrap_or(15)
    }

    fn with(self, p: Permission, on: bool) -> Permissions {
        if on {
            Permissions(self.0 | Self::bit(p))
        } else {
            Permissions(self.0 & !Self::bit(p))
        }
    }
}

/// A reseller account as stored.
#[derive(Debug, Clone)]
pub struct Reseller {
    pub id: ResellerId,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// False while suspended.
    pub active: bool,
    pub telegram_id: Option<i64>,
    pub balance: i64,
    pub permissions: Permissions,
    pub max_users: i64,
    pub max_connections_per_user: i64,
    pub panel_name: Option<String>,
    pub parent_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

pub(crate) const COLUMNS: &str = "r.id, r.username, r.display_name, r.email, r.phone, r.active, r.telegram_id, \
    r.balance, r.can_create_users, r.can_edit_users, r.can_delete_users, r.can_extend_users, r.can_reset_tokens, \
    r.can_view_users, r.can_view_statistics, r.can_view_connections, r.can_view_logs, r.can_bulk_operations, \
    r.can_api_access, r.can_customize_branding, r.max_users, r.max_connections_per_user, r.panel_name, \
    r.parent_id, r.created_at, r.last_seen_at";

impl Reseller {
    pub(crate) fn from_row(row: &AnyRow) -> std::result::Result<Reseller, sqlx::Error> {
        let mut permissions = Permissions::default();
        for p in Permission::ALL {
            permissions = permissions.with(p, row.try_get::<i64, _>(p.column())? != 0);
        }
        Ok(Reseller {
            id: ResellerId(row.try_get("id")?),
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            active: row.try_get::<i64, _>("active")? != 0,
            telegram_id: row.try_get("telegram_id")?,
            balance: row.try_get("balance")?,
            permissions,
            max_users: row.try_get("max_users")?,
            max_connections_per_user: row.try_get("max_connections_per_user")?,
            panel_name: row.try_get("panel_name")?,
            parent_id: row.try_get("parent_id")?,
            created_at: to_time(row.try_get("created_at")?),
            last_seen_at: row.try_get::<Option<i64>, _>("last_seen_at")?.map(to_time),
        })
    }

    /// The name subscribers see on their credentials: the panel name, else the display name.
    pub fn brand(&self) -> &str {
        self.panel_name.as_deref().unwrap_or(&self.display_name)
    }
}

/// A line of the admins' reseller overview.
#[derive(Debug, Clone)]
pub struct ResellerSummary {
    pub reseller: Reseller,
    pub subscribers: i64,
    pub active_subscribers: i64,
}

pub(crate) async fn by_id<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: ResellerId,
) -> Result<Reseller> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM resellers r WHERE r.id = $1"
    ))
    .bind(id.0)
    .fetch_one(e)
    .await?;
    Ok(Reseller::from_row(&row)?)
}

pub(crate) async fn by_username<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    username: &Username,
) -> Result<Reseller> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM resellers r WHERE r.username = $1"
    ))
    .bind(username.as_str())
    .fetch_optional(e)
    .await?;
    match row {
        Some(row) => Ok(Reseller::from_row(&row)?),
        None => Err(CoreError::NotFound {
            kind: "reseller",
            name: username.to_string(),
        }),
    }
}

impl Core {
    /// The asker's own reseller account (a suspended one too: it is how they learn they are).
    pub async fn me(&self, id: ResellerId) -> Result<Reseller> {
        by_id(self.db.read(), id).await
    }

    /// Every reseller with their subscriber counts, in one query.
    pub async fn resellers(&self, actor: &Actor) -> Result<Vec<ResellerSummary>> {
        actor.require_admin()?;
        let now = crate::core::now();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, COUNT(s.id) AS subscribers, \
             CAST(COALESCE(SUM(CASE WHEN s.active = 1 AND s.expires_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS active_subscribers \
             FROM resellers r LEFT JOIN subscribers s ON s.reseller_id = r.id \
             GROUP BY r.id ORDER BY r.username"
        ))
        .bind(now)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ResellerSummary {
                    reseller: Reseller::from_row(row)?,
                    subscribers: row.try_get("subscribers")?,
                    active_subscribers: row.try_get("active_subscribers")?,
                })
            })
            .collect()
    }

    /// One reseller in detail, for admins.
    pub async fn reseller(&self, actor: &Actor, username: &Username) -> Result<ResellerSummary> {
        actor.require_admin()?;
        let reseller = by_username(self.db.read(), username).await?;
        let (subscribers, active_subscribers): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN active = 1 AND expires_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM subscribers WHERE reseller_id = $2",
        )
        .bind(crate::core::now())
        .bind(reseller.id.0)
        .fetch_one(self.db.read())
        .await?;
        Ok(ResellerSummary {
            reseller,
            subscribers,
            active_subscribers,
        })
    }
}
