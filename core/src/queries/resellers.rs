use super::templates::{Overrides, Template};
use super::{PER_PAGE, Page};
use crate::core::to_time;
use crate::domain::{Limit, Permission, ResellerId, Username};
use crate::{Actor, Core, CoreError, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::sync::LazyLock;

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

    pub(crate) fn with(self, p: Permission, on: bool) -> Permissions {
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
    /// Effective: each the reseller's override if set, else their template's.
    pub permissions: Permissions,
    pub max_users: i64,
    pub max_connections_per_user: i64,
    pub trial_quota: i64,
    pub subreseller_depth: i64,
    /// The name of the template the reseller is on.
    pub template: String,
    pub panel_name: Option<String>,
    pub parent_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A reseller's columns, with each permission and limit resolved as their override if set, else
/// their template's. Selected `FROM` [`FROM`].
pub(crate) static COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let effective: Vec<String> = Permission::ALL
        .iter()
        .map(|p| p.column())
        .chain(Limit::ALL.iter().map(|l| l.column()))
        .map(|c| format!("COALESCE(o.{c}, t.{c}) AS {c}"))
        .collect();
    format!(
        "r.id, r.username, r.display_name, r.email, r.phone, r.active, r.telegram_id, r.balance, \
         {}, t.name AS template, r.panel_name, r.parent_id, r.created_at, r.last_seen_at",
        effective.join(", ")
    )
});

/// The tables [`COLUMNS`] reads: the reseller, their template and their overrides (if any).
pub(crate) const FROM: &str = "resellers r JOIN permission_templates t ON t.id = r.template_id \
    LEFT JOIN reseller_overrides o ON o.reseller_id = r.id";

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
            trial_quota: row.try_get("trial_quota")?,
            subreseller_depth: row.try_get("subreseller_depth")?,
            template: row.try_get("template")?,
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

    /// The effective value of `limit`.
    pub fn limit(&self, limit: Limit) -> i64 {
        match limit {
            Limit::MaxUsers => self.max_users,
            Limit::MaxConnectionsPerUser => self.max_connections_per_user,
            Limit::TrialQuota => self.trial_quota,
            Limit::SubresellerDepth => self.subreseller_depth,
        }
    }
}

/// A line of the admins' reseller overview.
#[derive(Debug, Clone)]
pub struct ResellerSummary {
    pub reseller: Reseller,
    pub subscribers: i64,
    pub active_subscribers: i64,
}

/// One reseller as the admins' card shows them.
#[derive(Debug, Clone)]
pub struct ResellerCard {
    pub summary: ResellerSummary,
    pub template: Template,
    pub overrides: Overrides,
}

pub(crate) async fn by_id<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: ResellerId,
) -> Result<Reseller> {
    let row = sqlx::query(&format!("SELECT {} FROM {FROM} WHERE r.id = $1", *COLUMNS))
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
        "SELECT {} FROM {FROM} WHERE r.username = $1",
        *COLUMNS
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

    /// A page of resellers by username, for the admins' overview. A page past the end shows
    /// the last one. The counts come from the reseller's row and the expiry buckets, so a page
    /// costs the same at a thousand resellers and a million subscribers.
    pub async fn resellers(&self, actor: &Actor, page: i64) -> Result<Page<ResellerSummary>> {
        actor.require_admin()?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resellers")
            .fetch_one(self.db.read())
            .await?;
        let page = super::clamp_page(page, total);
        let rows = sqlx::query(&format!(
            "SELECT {}, r.subscriber_count FROM {FROM} ORDER BY r.username LIMIT $1 OFFSET $2",
            *COLUMNS
        ))
        .bind(PER_PAGE)
        .bind(page * PER_PAGE)
        .fetch_all(self.db.read())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let reseller = Reseller::from_row(row)?;
            let active_subscribers = self
                .watching(Some(reseller.id.0), crate::core::now())
                .await?;
            items.push(ResellerSummary {
                subscribers: row.try_get("subscriber_count")?,
                active_subscribers,
                reseller,
            });
        }
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }

    /// One reseller in detail, for admins: with their template and each explicit override.
    pub async fn reseller(&self, actor: &Actor, username: &Username) -> Result<ResellerCard> {
        actor.require_admin()?;
        let reseller = by_username(self.db.read(), username).await?;
        let template = super::templates::of_reseller(self.db.read(), reseller.id).await?;
        let overrides = super::templates::overrides(self.db.read(), reseller.id).await?;
        let subscribers: i64 =
            sqlx::query_scalar("SELECT subscriber_count FROM resellers WHERE id = $1")
                .bind(reseller.id.0)
                .fetch_one(self.db.read())
                .await?;
        let active_subscribers = self
            .watching(Some(reseller.id.0), crate::core::now())
            .await?;
        Ok(ResellerCard {
            summary: ResellerSummary {
                reseller,
                subscribers,
                active_subscribers,
            },
            template,
            overrides,
        })
    }
}
