//! Per-reseller prices. What a reseller pays for a package is, first match wins: their own price
//! of that package (an amount, or a percent off its list price), their own discount on every
//! package, their template's discount, the list price. Prices are computed here, on read and
//! inside the order's transaction, so `/buy`, a checkout and the order's stored amount (which the
//! webhooks compare a payment with) always agree.
//!
//! Rounding: a percent off is rounded half up to the currency's minor unit (a cent, a yen, one
//! Star) and is never below 1. Stars prices get the same percent; a package price set as an
//! amount moves its Stars price in the same proportion, rounded the same way.

use super::packages::{self, Package};
use super::{format_money, parse_minor};
use crate::audit::{self, Entry};
use crate::core::now;
use crate::domain::{Discount, ParseError, ResellerId, Username, scale};
use crate::queries::resellers;
use crate::{Actor, Core, CoreError, Result};
use sqlx::Row;

/// Why a reseller pays what they pay for a package, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    /// Their own price of this package, set as an amount.
    PackagePrice,
    /// Their own percent off this package.
    PackageDiscount(Discount),
    /// Their own discount on every package.
    Reseller(Discount),
    /// Their template's discount.
    Template(Discount),
    List,
}

/// A package with what one reseller pays for it (the list price for admins).
#[derive(Debug, Clone)]
pub struct PricedPackage {
    pub package: Package,
    /// In the package's currency's minor unit.
    pub price_minor: i64,
    pub stars_price: Option<i64>,
    pub source: PriceSource,
}

impl PricedPackage {
    fn list(package: Package) -> PricedPackage {
        PricedPackage {
            price_minor: package.price_minor,
            stars_price: package.stars_price,
            source: PriceSource::List,
            package,
        }
    }

    fn discounted(package: Package, d: Discount, source: PriceSource) -> PricedPackage {
        PricedPackage {
            price_minor: d.apply(package.price_minor),
            stars_price: package.stars_price.map(|s| d.apply(s)),
            source,
            package,
        }
    }
}

/// One reseller's own rule for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PackageRule {
    /// Ignored once the package's currency is no longer this one.
    Amount(i64, String),
    Percent(Discount),
}

/// Everything that decides one reseller's prices.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    template: String,
    template_discount: Discount,
    own: Option<Discount>,
    packages: Vec<(i64, PackageRule)>,
}

impl Terms {
    pub(crate) fn price(&self, package: Package) -> PricedPackage {
        let rule = self
            .packages
            .iter()
            .find(|(id, _)| *id == package.id)
            .map(|(_, r)| r);
        match rule {
            Some(PackageRule::Amount(minor, currency)) if *currency == package.currency => {
                // Never above the list price, even after the list price was lowered under it.
                let minor = (*minor).min(package.price_minor);
                PricedPackage {
                    stars_price: package
                        .stars_price
                        .map(|s| scale(s, minor, package.price_minor)),
                    price_minor: minor,
                    source: PriceSource::PackagePrice,
                    package,
                }
            }
            Some(PackageRule::Percent(d)) => {
                PricedPackage::discounted(package, *d, PriceSource::PackageDiscount(*d))
            }
            _ => match self.own {
                Some(d) => PricedPackage::discounted(package, d, PriceSource::Reseller(d)),
                None if self.template_discount.percent() > 0 => {
                    let d = self.template_discount;
                    PricedPackage::discounted(package, d, PriceSource::Template(d))
                }
                None => PricedPackage::list(package),
            },
        }
    }
}

pub(crate) async fn terms(conn: &mut sqlx::AnyConnection, reseller: ResellerId) -> Result<Terms> {
    let row = sqlx::query(
        "SELECT t.name, t.discount_percent AS template_discount, r.discount_percent AS own \
         FROM resellers r JOIN permission_templates t ON t.id = r.template_id WHERE r.id = $1",
    )
    .bind(reseller.0)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT package_id, price_minor, currency, discount_percent FROM reseller_prices \
         WHERE reseller_id = $1",
    )
    .bind(reseller.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut packages = Vec::with_capacity(rows.len());
    for r in &rows {
        let rule = match (
            r.try_get::<Option<i64>, _>("price_minor")?,
            r.try_get::<Option<String>, _>("currency")?,
            r.try_get::<Option<i64>, _>("discount_percent")?,
        ) {
            (Some(minor), Some(currency), _) => PackageRule::Amount(minor, currency),
            (_, _, Some(p)) => PackageRule::Percent(Discount::from_stored(p)),
            _ => continue,
        };
        packages.push((r.try_get("package_id")?, rule));
    }
    Ok(Terms {
        template: row.try_get("name")?,
        template_discount: Discount::from_stored(row.try_get("template_discount")?),
        own: row
            .try_get::<Option<i64>, _>("own")?
            .map(Discount::from_stored),
        packages,
    })
}

/// A reseller's prices as admins see them on `/price <reseller>`.
#[derive(Debug, Clone)]
pub struct ResellerPricing {
    pub reseller: String,
    pub template: String,
    pub template_discount: Discount,
    /// `None` where the template's discount applies.
    pub own_discount: Option<Discount>,
    /// Every package, disabled ones too, at this reseller's price.
    pub packages: Vec<PricedPackage>,
}

/// What `/price` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceChange {
    /// A package's price as typed (`150.00`), read in the package's currency.
    Amount(String),
    Percent(Discount),
    /// Back to the next rule down.
    Reset,
}

impl Core {
    /// The packages an actor may buy, at their own prices: a reseller's active packages priced
    /// for them, or every package at its list price for admins.
    pub async fn packages_for(&self, actor: &Actor) -> Result<Vec<PricedPackage>> {
        let Actor::Reseller(id) = actor else {
            actor.require_admin()?;
            let all = self.packages(true).await?;
            return Ok(all.into_iter().map(PricedPackage::list).collect());
        };
        let mut conn = self.db.read().acquire().await?;
        if !resellers::by_id(&mut *conn, *id).await?.active {
            return Err(CoreError::Suspended);
        }
        let terms = terms(&mut conn, *id).await?;
        drop(conn);
        let active = self.packages(false).await?;
        Ok(active.into_iter().map(|p| terms.price(p)).collect())
    }

    /// One package at the actor's price; a disabled one is "not found" for resellers.
    pub async fn package_for(&self, actor: &Actor, package_id: i64) -> Result<PricedPackage> {
        let package = self.package(package_id).await?;
        let Actor::Reseller(id) = actor else {
            actor.require_admin()?;
            return Ok(PricedPackage::list(package));
        };
        if !package.active {
            return Err(CoreError::NotFound {
                kind: "package",
                name: package.name,
            });
        }
        let mut conn = self.db.read().acquire().await?;
        if !resellers::by_id(&mut *conn, *id).await?.active {
            return Err(CoreError::Suspended);
        }
        Ok(terms(&mut conn, *id).await?.price(package))
    }

    /// A reseller's pricing rules and every package at their price (admins).
    pub async fn pricing(&self, actor: &Actor, reseller: &Username) -> Result<ResellerPricing> {
        actor.require_admin()?;
        let mut conn = self.db.read().acquire().await?;
        let r = resellers::by_username(&mut *conn, reseller).await?;
        let terms = terms(&mut conn, r.id).await?;
        drop(conn);
        let all = self.packages(true).await?;
        Ok(ResellerPricing {
            reseller: r.username,
            template: terms.template.clone(),
            template_discount: terms.template_discount,
            own_discount: terms.own,
            packages: all.into_iter().map(|p| terms.price(p)).collect(),
        })
    }

    /// Sets or clears a reseller's price of one package (`package`), or their discount on every
    /// package (`None`; `Reset` there clears every package's price too). One transaction with
    /// its audit row; a price outside 10% to 100% of the list price changes nothing.
    pub async fn set_price(
        &self,
        actor: &Actor,
        reseller: &Username,
        package: Option<&str>,
        change: PriceChange,
    ) -> Result<ResellerPricing> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let r = resellers::by_username(&mut *tx, reseller).await?;
        let details = match package {
            None => set_reseller_discount(&mut tx, r.id, &change).await?,
            Some(name) => set_package_price(&mut tx, r.id, name, &change).await?,
        };
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: if change == PriceChange::Reset {
                    "price.reset"
                } else {
                    "price.set"
                },
                reseller: Some(r.id),
                target: Some(&r.username),
                details,
            },
        )
        .await?;
        tx.commit().await?;
        self.pricing(actor, reseller).await
    }
}

async fn set_reseller_discount(
    tx: &mut crate::db::Tx,
    reseller: ResellerId,
    change: &PriceChange,
) -> Result<serde_json::Value> {
    match change {
        PriceChange::Amount(a) => Err(CoreError::Invalid(ParseError(format!(
            "A price ({}) needs a package: /price <reseller> <package> <amount>. For every package, give a percent such as 10%.",
            crate::domain::shorten(a)
        )))),
        PriceChange::Percent(d) => {
            sqlx::query("UPDATE resellers SET discount_percent = $1 WHERE id = $2")
                .bind(d.percent())
                .bind(reseller.0)
                .execute(&mut **tx)
                .await?;
            Ok(serde_json::json!({ "package": null, "discount_percent": d.percent() }))
        }
        PriceChange::Reset => {
            sqlx::query("UPDATE resellers SET discount_percent = NULL WHERE id = $1")
                .bind(reseller.0)
                .execute(&mut **tx)
                .await?;
            let cleared = sqlx::query("DELETE FROM reseller_prices WHERE reseller_id = $1")
                .bind(reseller.0)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            Ok(serde_json::json!({ "package": null, "package_prices_cleared": cleared }))
        }
    }
}

async fn set_package_price(
    tx: &mut crate::db::Tx,
    reseller: ResellerId,
    name: &str,
    change: &PriceChange,
) -> Result<serde_json::Value> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM credit_packages WHERE LOWER(name) = LOWER($1)")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    let package = match id {
        Some(id) => packages::by_id(&mut **tx, id).await?,
        None => {
            return Err(CoreError::NotFound {
                kind: "package",
                name: crate::domain::shorten(name),
            });
        }
    };
    let (minor, currency, percent) = match change {
        PriceChange::Reset => {
            sqlx::query("DELETE FROM reseller_prices WHERE reseller_id = $1 AND package_id = $2")
                .bind(reseller.0)
                .bind(package.id)
                .execute(&mut **tx)
                .await?;
            return Ok(serde_json::json!({ "package": package.name }));
        }
        PriceChange::Percent(d) => (None, None, Some(d.percent())),
        PriceChange::Amount(text) => {
            let minor = package_price(&package, text)?;
            (Some(minor), Some(package.currency.clone()), None)
        }
    };
    sqlx::query(
        "INSERT INTO reseller_prices (reseller_id, package_id, price_minor, currency, discount_percent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (reseller_id, package_id) DO UPDATE SET \
         price_minor = excluded.price_minor, currency = excluded.currency, \
         discount_percent = excluded.discount_percent, created_at = excluded.created_at",
    )
    .bind(reseller.0)
    .bind(package.id)
    .bind(minor)
    .bind(currency.as_deref())
    .bind(percent)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(serde_json::json!({
        "package": package.name,
        "price_minor": minor,
        "currency": currency,
        "discount_percent": percent,
        "list_price_minor": package.price_minor,
    }))
}

/// A price typed for `package`: in its currency, from 10% of its list price (the deepest
/// discount allowed) up to the list price itself.
fn package_price(package: &Package, text: &str) -> Result<i64> {
    let c = &package.currency;
    let list = format_money(package.price_minor, c);
    let minor = parse_minor(text, c).ok_or_else(|| {
        ParseError(format!(
            "“{}” is not a price in {c}; write it like {}, or a percent like 10%.",
            crate::domain::shorten(text.trim()),
            super::to_decimal(package.price_minor, c)
        ))
    })?;
    let lowest = scale(package.price_minor, 100 - Discount::MAX, 100);
    if !(lowest..=package.price_minor).contains(&minor) {
        return Err(CoreError::Invalid(ParseError(format!(
            "A price of {} must be from {} to its list price {list} (at most {}% off); you gave {}.",
            package.name,
            format_money(lowest, c),
            Discount::MAX,
            format_money(minor, c)
        ))));
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(id: i64, price_minor: i64, currency: &str, stars: Option<i64>) -> Package {
        Package {
            id,
            name: format!("p{id}"),
            credits: 100,
            price_minor,
            currency: currency.into(),
            stars_price: stars,
            active: true,
            sort_order: id,
        }
    }

    fn terms(template: i64, own: Option<i64>, packages: Vec<(i64, PackageRule)>) -> Terms {
        Terms {
            template: "basic".into(),
            template_discount: Discount::from_stored(template),
            own: own.map(Discount::from_stored),
            packages,
        }
    }

    #[test]
    fn the_first_matching_rule_prices_a_package() {
        let d = Discount::from_stored;
        let t = terms(
            20,
            Some(10),
            vec![
                (1, PackageRule::Amount(15000, "USD".into())),
                (2, PackageRule::Percent(d(50))),
            ],
        );
        let own = t.price(package(1, 18000, "USD", Some(250)));
        // 250 Stars × 150/180 = 208.33: 208.
        assert_eq!(
            (own.price_minor, own.stars_price, own.source),
            (15000, Some(208), PriceSource::PackagePrice)
        );
        let half = t.price(package(2, 5000, "USD", Some(3)));
        assert_eq!(
            (half.price_minor, half.stars_price, half.source),
            (2500, Some(2), PriceSource::PackageDiscount(d(50)))
        );
        let rest = t.price(package(3, 999, "USD", None));
        assert_eq!(
            (rest.price_minor, rest.source),
            (899, PriceSource::Reseller(d(10)))
        );
        let template = terms(20, None, vec![]).price(package(3, 999, "USD", None));
        assert_eq!(
            (template.price_minor, template.source),
            (799, PriceSource::Template(d(20)))
        );
        let lowered = t.price(package(1, 12000, "USD", None));
        assert_eq!(lowered.price_minor, 12000, "never above the list price");
        let list = terms(0, None, vec![]).price(package(3, 999, "USD", Some(7)));
        assert_eq!(
            (list.price_minor, list.stars_price, list.source),
            (999, Some(7), PriceSource::List)
        );
        // An explicit 0% of their own beats the template's discount.
        let zero = terms(20, Some(0), vec![]).price(package(3, 999, "USD", None));
        assert_eq!(zero.price_minor, 999);
    }

    #[test]
    fn a_package_price_in_another_currency_than_the_packages_is_ignored() {
        let t = terms(
            0,
            Some(10),
            vec![(1, PackageRule::Amount(100, "EUR".into()))],
        );
        let p = t.price(package(1, 18000, "USD", None));
        assert_eq!(
            (p.price_minor, p.source),
            (16200, PriceSource::Reseller(Discount::from_stored(10)))
        );
    }
}
