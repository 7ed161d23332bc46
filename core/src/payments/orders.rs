//! Orders: one per purchase attempt. The public id (`ord_...`) travels in each provider's
//! merchant-reference field and comes back in its webhooks.

use crate::audit::{self, Entry};
use crate::core::{now, to_time};
use crate::queries::resellers;
use crate::{Actor, Core, CoreError, Result};
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Refunded,
    Rejected,
    Underpaid,
}

impl OrderStatus {
    fn parse(s: &str) -> OrderStatus {
        match s {
            "paid" => OrderStatus::Paid,
            "refunded" => OrderStatus::Refunded,
            "rejected" => OrderStatus::Rejected,
            "underpaid" => OrderStatus::Underpaid,
            _ => OrderStatus::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: i64,
    pub public_id: String,
    pub reseller_id: i64,
    pub reseller: String,
    pub package: Option<String>,
    pub credits: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub provider: String,
    pub status: OrderStatus,
    pub provider_reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "o.id, o.public_id, o.reseller_id, r.username AS reseller, p.name AS package, o.credits, \
    o.amount_minor, o.currency, o.provider, o.status, o.provider_reference, o.created_at";
pub(crate) const FROM: &str = "FROM orders o JOIN resellers r ON r.id = o.reseller_id LEFT JOIN credit_packages p ON p.id = o.package_id";

pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<Order, sqlx::Error> {
    Ok(Order {
        id: r.try_get("id")?,
        public_id: r.try_get("public_id")?,
        reseller_id: r.try_get("reseller_id")?,
        reseller: r.try_get("reseller")?,
        package: r.try_get("package")?,
        credits: r.try_get("credits")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        provider: r.try_get("provider")?,
        status: OrderStatus::parse(&r.try_get::<String, _>("status")?),
        provider_reference: r.try_get("provider_reference")?,
        created_at: to_time(r.try_get("created_at")?),
    })
}

impl Core {
    /// A reseller starts buying `package_id` through `provider`, at their own price (see
    /// `pricing`), computed inside the order's transaction: the stored amount is what every
    /// payment for the order is checked against. Priced in Stars for `stars`.
    pub async fn create_order(
        &self,
        actor: &Actor,
        package_id: i64,
        provider: &str,
    ) -> Result<Order> {
        let Actor::Reseller(id) = actor else {
            return Err(CoreError::ResellersOnly);
        };
        let mut tx = self.db.begin_write().await?;
        let me = resellers::by_id(&mut *tx, *id).await?;
        if !me.active {
            return Err(CoreError::Suspended);
        }
        let package = super::packages::by_id(&mut *tx, package_id).await?;
        if !package.active {
            return Err(CoreError::NotFound {
                kind: "package",
                name: package.name,
            });
        }
        let priced = super::pricing::terms(&mut tx, *id).await?.price(package);
        let package = &priced.package;
        let (amount, currency) = if provider == "stars" {
            (
                priced.stars_price.ok_or(CoreError::NotFound {
                    kind: "Stars price for package",
                    name: package.name.clone(),
                })?,
                "XTR".to_string(),
            )
        } else {
            (priced.price_minor, package.currency.clone())
        };
        let public_id = format!(
            "ord_{}",
            crate::secrets::random_string(crate::secrets::ALNUM, 20)
        );
        sqlx::query(
            "INSERT INTO orders (public_id, reseller_id, package_id, credits, amount_minor, currency, provider, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&public_id)
        .bind(id.0)
        .bind(package.id)
        .bind(package.credits)
        .bind(amount)
        .bind(&currency)
        .bind(provider)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            Entry {
                action: "order.create",
                reseller: Some(*id),
                target: Some(&public_id),
                details: serde_json::json!({
                    "package": package.name, "provider": provider, "amount_minor": amount, "currency": currency,
                    "list_price_minor": package.price_minor, "list_stars": package.stars_price,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.order(&public_id).await
    }

    pub async fn order(&self, public_id: &str) -> Result<Order> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE o.public_id = $1"))
            .bind(public_id)
            .fetch_optional(self.db.read())
            .await?;
        match row {
            Some(r) => Ok(from_row(&r)?),
            None => Err(CoreError::NotFound {
                kind: "order",
                name: public_id.to_string(),
            }),
        }
    }

    /// Records the provider's own id for an order (a checkout session, an invoice).
    pub async fn set_order_reference(&self, public_id: &str, reference: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE orders SET provider_reference = $1 WHERE public_id = $2")
            .bind(reference)
            .bind(public_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
