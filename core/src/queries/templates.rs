//! Permission templates and a reseller's overrides, as admins see them.

use super::resellers::Permissions;
use crate::domain::{Discount, Limit, Permission, ResellerId, TemplateName};
use crate::{Actor, Core, CoreError, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::sync::LazyLock;

/// A named set of permissions and limits that resellers are put on.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: i64,
    /// What admins type, e.g. `premium`.
    pub name: String,
    /// What people read, e.g. “Premium reseller”.
    pub title: String,
    pub permissions: Permissions,
    /// In [`Limit::ALL`] order.
    pub limits: [i64; 4],
    /// Resellers on this template.
    pub resellers: i64,
    /// Credits a trial costs its resellers.
    pub trial_cost: i64,
    /// Off every package for its resellers, unless their own pricing says otherwise.
    pub discount: Discount,
}

impl Template {
    pub fn limit(&self, limit: Limit) -> i64 {
        self.limits[limit_index(limit)]
    }

    fn from_row(row: &AnyRow) -> std::result::Result<Template, sqlx::Error> {
        let mut permissions = Permissions::default();
        for p in Permission::ALL {
            permissions = permissions.with(p, row.try_get::<i64, _>(p.column())? != 0);
        }
        let mut limits = [0; 4];
        for (i, l) in Limit::ALL.into_iter().enumerate() {
            limits[i] = row.try_get(l.column())?;
        }
        Ok(Template {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            title: row.try_get("title")?,
            permissions,
            limits,
            resellers: row.try_get("resellers")?,
            trial_cost: row.try_get("trial_cost_credits")?,
            discount: Discount::from_stored(row.try_get("discount_percent")?),
        })
    }
}

fn limit_index(limit: Limit) -> usize {
    Limit::ALL.iter().position(|l| *l == limit).unwrap_or(0)
}

/// A reseller's explicit settings: `None` where they follow their template.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub permissions: Vec<(Permission, bool)>,
    pub limits: Vec<(Limit, i64)>,
}

impl Overrides {
    pub fn permission(&self, p: Permission) -> Option<bool> {
        self.permissions.iter().find(|(q, _)| *q == p).map(|x| x.1)
    }

    pub fn limit(&self, l: Limit) -> Option<i64> {
        self.limits.iter().find(|(m, _)| *m == l).map(|x| x.1)
    }

    pub fn is_empty(&self) -> bool {
        self.permissions.is_empty() && self.limits.is_empty()
    }
}

/// Every setting column, permissions then limits.
static SETTINGS: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = Permission::ALL
        .iter()
        .map(|p| p.column())
        .chain(Limit::ALL.iter().map(|l| l.column()))
        .collect();
    names.join(", ")
});

static TEMPLATE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "t.id, t.name, t.title, t.trial_cost_credits, t.discount_percent, {}, \
         (SELECT COUNT(*) FROM resellers r WHERE r.template_id = t.id) AS resellers",
        SETTINGS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

pub(crate) async fn by_name<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    name: &TemplateName,
) -> Result<Template> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM permission_templates t WHERE t.name = $1",
        *TEMPLATE_COLUMNS
    ))
    .bind(name.as_str())
    .fetch_optional(e)
    .await?;
    match row {
        Some(row) => Ok(Template::from_row(&row)?),
        None => Err(CoreError::NotFound {
            kind: "template",
            name: name.to_string(),
        }),
    }
}

pub(crate) async fn of_reseller<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    reseller: ResellerId,
) -> Result<Template> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM permission_templates t JOIN resellers x ON x.template_id = t.id WHERE x.id = $1",
        *TEMPLATE_COLUMNS
    ))
    .bind(reseller.0)
    .fetch_one(e)
    .await?;
    Ok(Template::from_row(&row)?)
}

pub(crate) async fn overrides<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    reseller: ResellerId,
) -> Result<Overrides> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM reseller_overrides WHERE reseller_id = $1",
        *SETTINGS
    ))
    .bind(reseller.0)
    .fetch_optional(e)
    .await?;
    let mut found = Overrides::default();
    let Some(row) = row else {
        return Ok(found);
    };
    for p in Permission::ALL {
        if let Some(v) = row.try_get::<Option<i64>, _>(p.column())? {
            found.permissions.push((p, v != 0));
        }
    }
    for l in Limit::ALL {
        if let Some(v) = row.try_get::<Option<i64>, _>(l.column())? {
            found.limits.push((l, v));
        }
    }
    Ok(found)
}

impl Core {
    /// Every template, by name, with how many resellers are on each.
    pub async fn templates(&self, actor: &Actor) -> Result<Vec<Template>> {
        actor.require_admin()?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM permission_templates t ORDER BY t.id",
            *TEMPLATE_COLUMNS
        ))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .iter()
            .map(Template::from_row)
            .collect::<std::result::Result<_, _>>()?)
    }
}
