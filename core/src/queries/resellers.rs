use super::templates::{Overrides, Template};
use super::{PER_PAGE, Page};
use crate::core::to_time;
use crate::domain::{Limit, Permission, ResellerId, Username};
use crate::ops::subresellers;
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
    /// False while suspended, or while any reseller above them is: a suspended parent
    /// suspends the whole subtree's ability to act.
    pub active: bool,
    /// The reseller's own flag, what suspending and unsuspending them toggles.
    pub own_active: bool,
    pub telegram_id: Option<i64>,
    pub balance: i64,
    /// Effective: each the reseller's override if set, else their template's, and for a
    /// sub-reseller only what every reseller above them also holds.
    pub permissions: Permissions,
    pub max_users: i64,
    pub max_connections_per_user: i64,
    pub trial_quota: i64,
    /// How many levels of sub-resellers may nest below this one: for a sub-reseller never
    /// more than their parent's less one.
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
            own_active: row.try_get::<i64, _>("active")? != 0,
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

    /// A row of [`under_ancestors`]: narrowed to what every reseller above allows, so a
    /// suspended parent suspends the subtree and a sub-reseller holds no permission (and no
    /// nesting depth) beyond any ancestor's.
    fn from_row_under_ancestors(row: &AnyRow) -> std::result::Result<Reseller, sqlx::Error> {
        let mut r = Reseller::from_row(row)?;
        let Some(active) = row.try_get::<Option<i64>, _>("up_active")? else {
            return Ok(r);
        };
        r.active &= active != 0;
        for p in Permission::ALL {
            let above = row.try_get::<Option<i64>, _>(format!("up_{}", p.column()).as_str())?;
            if above == Some(0) {
                r.permissions = r.permissions.with(p, false);
            }
        }
        if let Some(depth) = row.try_get::<Option<i64>, _>("up_subreseller_depth")? {
            r.subreseller_depth = r.subreseller_depth.min(depth);
        }
        Ok(r)
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
    /// Levels below the top of the list shown (0 for its top).
    pub level: i64,
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
    let row = sqlx::query(&UNDER_ANCESTORS_BY_ID)
        .bind(id.0)
        .fetch_one(e)
        .await?;
    Ok(Reseller::from_row_under_ancestors(&row)?)
}

pub(crate) async fn by_username<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    username: &Username,
) -> Result<Reseller> {
    let row = sqlx::query(&UNDER_ANCESTORS_BY_USERNAME)
        .bind(username.as_str())
        .fetch_optional(e)
        .await?;
    match row {
        Some(row) => Ok(Reseller::from_row_under_ancestors(&row)?),
        None => Err(CoreError::NotFound {
            kind: "reseller",
            name: username.to_string(),
        }),
    }
}

/// The deepest a chain of resellers is followed, a guard against a cycle in `parent_id`.
const MAX_DEPTH: i64 = 32;

static UNDER_ANCESTORS_BY_ID: LazyLock<String> = LazyLock::new(|| under_ancestors("id"));
static UNDER_ANCESTORS_BY_USERNAME: LazyLock<String> =
    LazyLock::new(|| under_ancestors("username"));

/// One reseller (where `key` = $1) with what every reseller above them allows, in one query: a
/// recursive CTE walks up `parent_id`, and one aggregate row folds the ancestors (`up_*`
/// columns, NULL for a top-level reseller): the lowest `active`, each permission's lowest
/// effective value, and the lowest depth left once the levels between are taken off.
fn under_ancestors(key: &str) -> String {
    let folded: Vec<String> = std::iter::once("MIN(a.active) AS up_active".to_string())
        .chain(Permission::ALL.iter().map(|p| {
            let c = p.column();
            format!("MIN(COALESCE(o.{c}, t.{c})) AS up_{c}")
        }))
        .chain(std::iter::once(
            "MIN(COALESCE(o.subreseller_depth, t.subreseller_depth) - up.levels) AS up_subreseller_depth"
                .to_string(),
        ))
        .collect();
    format!(
        "WITH RECURSIVE up(id, levels) AS ( \
           SELECT parent_id, CAST(1 AS BIGINT) FROM resellers WHERE {key} = $1 AND parent_id IS NOT NULL \
           UNION ALL \
           SELECT p.parent_id, up.levels + 1 FROM resellers p JOIN up ON p.id = up.id \
           WHERE p.parent_id IS NOT NULL AND up.levels < {MAX_DEPTH}) \
         SELECT {}, anc.* FROM {FROM} CROSS JOIN ( \
           SELECT {} FROM up JOIN resellers a ON a.id = up.id \
           JOIN permission_templates t ON t.id = a.template_id \
           LEFT JOIN reseller_overrides o ON o.reseller_id = a.id) anc \
         WHERE r.{key} = $1",
        *COLUMNS,
        folded.join(", ")
    )
}

impl Core {
    /// The asker's own reseller account (a suspended one too: it is how they learn they are).
    pub async fn me(&self, id: ResellerId) -> Result<Reseller> {
        by_id(self.db.read(), id).await
    }

    /// A page of the admins' overview: every reseller as a tree, each top-level reseller (by
    /// username) followed by their sub-resellers, indented by `level`. A page past the end shows
    /// the last one. The counts come from the reseller's row and the expiry buckets, so a page
    /// costs the same at a thousand resellers and a million subscribers.
    pub async fn resellers(&self, actor: &Actor, page: i64) -> Result<Page<ResellerSummary>> {
        actor.require_admin()?;
        self.tree_page(None, page).await
    }

    /// A parent's page of their sub-resellers, and theirs below them, as a tree: balance and
    /// subscriber counts, never their subscribers' details.
    pub async fn subresellers(&self, actor: &Actor, page: i64) -> Result<Page<ResellerSummary>> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let me = by_id(self.db.read(), *id).await?;
        if !me.active {
            return Err(CoreError::Suspended);
        }
        self.tree_page(Some(me.id), page).await
    }

    /// The descendants of `root` (everyone for `None`) in tree order, one page. Siblings are
    /// ordered by username: each line's sort key is the path of its ancestors' username ranks,
    /// fixed-width digits, so it sorts the same under any collation.
    async fn tree_page(
        &self,
        root: Option<ResellerId>,
        page: i64,
    ) -> Result<Page<ResellerSummary>> {
        let tree = format!(
            "WITH RECURSIVE ranked AS ( \
               SELECT id, parent_id, ROW_NUMBER() OVER (ORDER BY username) + 1000000000000 AS pos FROM resellers), \
             tree(id, level, path) AS ( \
               SELECT id, CAST(0 AS BIGINT), CAST(pos AS TEXT) FROM ranked WHERE {} \
               UNION ALL \
               SELECT k.id, tree.level + 1, tree.path || CAST(k.pos AS TEXT) FROM ranked k \
               JOIN tree ON k.parent_id = tree.id WHERE tree.level < {MAX_DEPTH}) ",
            if root.is_some() {
                "parent_id = $1"
            } else {
                "parent_id IS NULL AND $1 = 0"
            }
        );
        let root = root.map_or(0, |r| r.0);
        let total: i64 = sqlx::query_scalar(&format!("{tree} SELECT COUNT(*) FROM tree"))
            .bind(root)
            .fetch_one(self.db.read())
            .await?;
        let page = super::clamp_page(page, total);
        let mut conn = self.db.read().acquire().await?;
        let rows = sqlx::query(&format!(
            "{tree} SELECT {}, r.subscriber_count, tree.level FROM {FROM} JOIN tree ON tree.id = r.id \
             ORDER BY tree.path LIMIT $2 OFFSET $3",
            *COLUMNS
        ))
        .bind(root)
        .bind(PER_PAGE)
        .bind(page * PER_PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut reseller = Reseller::from_row(row)?;
            if reseller.parent_id.is_some() {
                reseller = by_id(&mut *conn, reseller.id).await?;
            }
            let subscribers: i64 = row.try_get("subscriber_count")?;
            lines.push((reseller, subscribers, row.try_get::<i64, _>("level")?));
        }
        drop(conn);
        let mut items = Vec::with_capacity(lines.len());
        for (reseller, subscribers, level) in lines {
            let active_subscribers = self
                .watching(Some(reseller.id.0), crate::core::now())
                .await?;
            items.push(ResellerSummary {
                reseller,
                subscribers,
                active_subscribers,
                level,
            });
        }
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }

    /// One reseller in detail, for admins and for the reseller's parent: with their template
    /// and each explicit override.
    pub async fn reseller(&self, actor: &Actor, username: &Username) -> Result<ResellerCard> {
        let mut conn = self.db.read().acquire().await?;
        let reseller = match by_username(&mut *conn, username).await {
            Err(CoreError::NotFound { .. }) if !actor.is_admin() => {
                return Err(subresellers::not_a_subreseller(username.as_str()));
            }
            other => other?,
        };
        subresellers::require_manager(&mut conn, actor, &reseller).await?;
        drop(conn);
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
                level: 0,
            },
            template,
            overrides,
        })
    }
}
