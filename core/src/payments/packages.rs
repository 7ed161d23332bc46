//! Credit packages: what resellers can buy. Stored in the database so admins manage them.

use crate::audit::{self, Entry};
use crate::domain::{Label, ParseError};
use crate::{Actor, Core, CoreError, Result};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct Package {
    pub id: i64,
    pub name: String,
    pub credits: i64,
    pub price_minor: i64,
    pub currency: String,
    pub stars_price: Option<i64>,
    pub active: bool,
    pub sort_order: i64,
}

/// A package as an admin describes it: `/package add Business 3600 180.00 USD [stars]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPackage {
    pub name: Label,
    pub credits: i64,
    pub price_minor: i64,
    pub currency: String,
    pub stars_price: Option<i64>,
}

impl NewPackage {
    pub fn parse(
        name: &str,
        credits: &str,
        price: &str,
        currency: &str,
        stars: Option<&str>,
    ) -> Result<NewPackage, ParseError> {
        let name = Label::parse(name, "A package name", 32)?;
        let credits = credits
            .parse::<i64>()
            .ok()
            .filter(|c| (1..=1_000_000).contains(c))
            .ok_or_else(|| {
                ParseError(format!(
                    "Credits must be a whole number from 1 to 1000000; you gave “{credits}”."
                ))
            })?;
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ParseError(format!(
                "“{currency}” is not a currency code; use three letters like USD."
            )));
        }
        let price_minor = super::parse_minor(price, &currency).ok_or_else(|| {
            let example = super::to_decimal(
                18000 * 10i64.pow(super::exponent(&currency)) / 100,
                &currency,
            );
            ParseError(format!(
                "“{price}” is not a price in {currency}; write it like {example}."
            ))
        })?;
        let stars_price = match stars {
            None => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        ParseError(format!(
                            "A Stars price must be from 1 to 100000; you gave “{s}”."
                        ))
                    })?,
            ),
        };
        Ok(NewPackage {
            name,
            credits,
            price_minor,
            currency,
            stars_price,
        })
    }
}

pub(super) fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<Package, sqlx::Error> {
    Ok(Package {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        credits: r.try_get("credits")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        stars_price: r.try_get("stars_price")?,
        active: r.try_get::<i64, _>("active")? != 0,
        sort_order: r.try_get("sort_order")?,
    })
}

pub(super) const COLUMNS: &str =
    "id, name, credits, price_minor, currency, stars_price, active, sort_order";

pub(super) async fn by_id<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
) -> Result<Package> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM credit_packages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(e)
    .await?;
    match row {
        Some(r) => Ok(from_row(&r)?),
        None => Err(CoreError::NotFound {
            kind: "package",
            name: id.to_string(),
        }),
    }
}

impl Core {
    /// Packages in display order; inactive ones only for admins.
    pub async fn packages(&self, include_inactive: bool) -> Result<Vec<Package>> {
        let filter = if include_inactive {
            ""
        } else {
            "WHERE active = 1"
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM credit_packages {filter} ORDER BY sort_order, id"
        ))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows
            .iter()
            .map(from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    pub async fn package(&self, id: i64) -> Result<Package> {
        by_id(self.db.read(), id).await
    }

    /// Adds a package (admins), or replaces the one with the same name.
    pub async fn save_package(&self, actor: &Actor, p: &NewPackage) -> Result<Package> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO credit_packages (name, credits, price_minor, currency, stars_price, sort_order, created_at) \
             VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(sort_order), 0) + 1 FROM credit_packages), $6) \
             ON CONFLICT (name) DO UPDATE SET credits = excluded.credits, price_minor = excluded.price_minor, \
             currency = excluded.currency, stars_price = excluded.stars_price, active = 1 RETURNING id",
        )
        .bind(p.name.as_str())
        .bind(p.credits)
        .bind(p.price_minor)
        .bind(&p.currency)
        .bind(p.stars_price)
        .bind(crate::core::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "package.save",
                reseller: None,
                target: Some(p.name.as_str()),
                details: serde_json::json!({ "credits": p.credits, "price_minor": p.price_minor, "currency": p.currency, "stars": p.stars_price }),
            },
        )
        .await?;
        tx.commit().await?;
        self.package(id).await
    }

    /// Hides a package from resellers; past orders keep pointing at it.
    pub async fn set_package_active(
        &self,
        actor: &Actor,
        name: &str,
        active: bool,
    ) -> Result<Package> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE credit_packages SET active = $1 WHERE name = $2 RETURNING id",
        )
        .bind(i64::from(active))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or_else(|| CoreError::NotFound {
            kind: "package",
            name: name.to_string(),
        })?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "package.active",
                reseller: None,
                target: Some(name),
                details: serde_json::json!({ "active": active }),
            },
        )
        .await?;
        tx.commit().await?;
        self.package(id).await
    }
}
