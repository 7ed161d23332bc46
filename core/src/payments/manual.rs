//! Payments that are not webhooks: admins approving a receipt, and Telegram Stars.

use super::events::{PaymentEvent, Received};
use super::orders::OrderStatus;
use crate::{Actor, Core, CoreError, Result, notify};

impl Core {
    /// An admin approves a manual payment. Two admins pressing at once credit once: both
    /// deliver the same event, and events apply once.
    pub async fn approve_manual(&self, actor: &Actor, order: &str) -> Result<Received> {
        let Actor::Admin(admin) = actor else {
            return Err(CoreError::AdminOnly);
        };
        let o = self.order(order).await?;
        if o.provider != "manual" {
            return Err(CoreError::NotFound {
                kind: "manual order",
                name: order.to_string(),
            });
        }
        self.receive_payment(
            "manual",
            &format!("approve:{}", o.public_id),
            &serde_json::json!({ "approved_by": admin.0 }).to_string(),
            "",
            PaymentEvent::Paid {
                order: o.public_id,
                amount_minor: o.amount_minor,
                currency: o.currency,
                reference: None,
            },
        )
        .await
    }

    /// An admin rejects a manual payment; the reseller is told. Returns false if the order was
    /// no longer pending (approved or rejected meanwhile).
    pub async fn reject_manual(&self, actor: &Actor, order: &str) -> Result<bool> {
        actor.require_admin()?;
        let o = self.order(order).await?;
        let mut tx = self.db.begin_write().await?;
        let rejected = sqlx::query(
            "UPDATE orders SET status = 'rejected', closed_at = $1 WHERE id = $2 AND status = 'pending' AND provider = 'manual'",
        )
        .bind(crate::core::now())
        .bind(o.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if rejected {
            notify::to_reseller_as(
                &mut tx,
                o.reseller_id,
                notify::Kind::General,
                &format!("Your payment for order {} was not accepted. Contact your admin if you think this is a mistake.", o.public_id),
                &[],
            )
            .await?;
            crate::audit::record(
                &mut tx,
                actor,
                crate::audit::Entry {
                    action: "order.rejected",
                    reseller: Some(crate::domain::ResellerId(o.reseller_id)),
                    target: Some(&o.public_id),
                    details: serde_json::json!({}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rejected)
    }

    /// Whether a Stars invoice may still be paid, answered within Telegram's 10-second window:
    /// the order must be pending, priced in Stars, at exactly this amount.
    pub async fn stars_payable(&self, order: &str, amount: i64) -> Result<bool> {
        let Ok(o) = self.order(order).await else {
            return Ok(false);
        };
        Ok(o.status == OrderStatus::Pending
            && o.provider == "stars"
            && o.currency == "XTR"
            && o.amount_minor == amount)
    }
}
