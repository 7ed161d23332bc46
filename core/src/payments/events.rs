//! What providers tell us: stored raw first, then applied once per event identity.

use super::format_money;
use super::orders::{COLUMNS, FROM, Order, OrderStatus, from_row};
use crate::core::now;
use crate::db::Tx;
use crate::domain::ResellerId;
use crate::ledger::{self, Kind, Posting};
use crate::queries::thousands;
use crate::{Core, Result, audit, notify};

/// A provider event, reduced to what it means for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The order was paid this much; `reference` is the provider's id for the payment.
    Paid {
        order: String,
        amount_minor: i64,
        currency: String,
        reference: Option<String>,
    },
    /// The provider settled in full the invoice we created at the order's price (BTCPay says
    /// no amount); `reference` is its invoice id, which must be the one on the order.
    Settled { order: String, reference: String },
    /// Refunded or charged back, found by order id or by the provider's payment id.
    Reversed {
        order: Option<String>,
        reference: Option<String>,
        reason: String,
    },
    /// Paid in part: credits nothing, the admins look into it.
    PartiallyPaid { order: String, detail: String },
    /// Nothing to do (an intermediate status, an event type we do not use).
    Ignored,
}

/// What receiving an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Seen before (or being processed right now by a concurrent delivery).
    Duplicate,
    Credited {
        order: String,
        credits: i64,
        balance: i64,
    },
    /// The order was already paid, refunded or rejected: nothing moved.
    AlreadyClosed,
    /// Less than the order's price, or another currency: nothing credited, admins told.
    AmountMismatch,
    Reversed {
        order: String,
        credits: i64,
        balance: i64,
    },
    /// A reversal before any payment: the order is closed so a late payment event credits nothing.
    ClosedBeforePayment,
    UnknownOrder,
    Partial,
    Ignored,
}

impl Core {
    /// Stores a verified provider event raw, then applies it at most once per
    /// (`provider`, `event_key`), however many times and however concurrently it is delivered.
    pub async fn receive_payment(
        &self,
        provider: &str,
        event_key: &str,
        headers: &str,
        body: &str,
        event: PaymentEvent,
    ) -> Result<Received> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO payment_events (provider, event_key, headers, body, received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, event_key) DO NOTHING",
        )
        .bind(provider)
        .bind(event_key)
        .bind(headers)
        .bind(body)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        // Claim processing: of concurrent deliveries, one marks the row and the rest find it marked.
        let mut tx = self.db.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE payment_events SET processed_at = $1 WHERE provider = $2 AND event_key = $3 AND processed_at IS NULL",
        )
        .bind(now())
        .bind(provider)
        .bind(event_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            return Ok(Received::Duplicate);
        }
        let received = apply(&mut tx, provider, event).await?;
        sqlx::query(
            "UPDATE payment_events SET outcome = $1 WHERE provider = $2 AND event_key = $3",
        )
        .bind(format!("{received:?}"))
        .bind(provider)
        .bind(event_key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(received)
    }
}

async fn find(
    tx: &mut Tx,
    provider: &str,
    order: Option<&str>,
    reference: Option<&str>,
) -> Result<Option<Order>> {
    let row = match (order, reference) {
        (Some(o), _) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} {FROM} WHERE o.public_id = $1 AND o.provider = $2"
            ))
            .bind(o)
            .bind(provider)
            .fetch_optional(&mut **tx)
            .await?
        }
        (None, Some(r)) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} {FROM} WHERE o.provider_reference = $1 AND o.provider = $2"
            ))
            .bind(r)
            .bind(provider)
            .fetch_optional(&mut **tx)
            .await?
        }
        (None, None) => None,
    };
    Ok(row.as_ref().map(from_row).transpose()?)
}

async fn apply(tx: &mut Tx, provider: &str, event: PaymentEvent) -> Result<Received> {
    match event {
        PaymentEvent::Ignored => Ok(Received::Ignored),
        PaymentEvent::Paid {
            order,
            amount_minor,
            currency,
            reference,
        } => {
            let Some(o) = pending_order(tx, provider, &order).await? else {
                return closed_or_unknown(tx, provider, &order).await;
            };
            if amount_minor < o.amount_minor || !currency.eq_ignore_ascii_case(&o.currency) {
                let paid = format_money(amount_minor, &currency);
                return mismatch(tx, provider, &o, &format!("was paid {paid}")).await;
            }
            fulfil(
                tx,
                provider,
                &o,
                &format_money(amount_minor, &currency),
                reference,
            )
            .await
        }
        PaymentEvent::Settled { order, reference } => {
            let Some(o) = pending_order(tx, provider, &order).await? else {
                return closed_or_unknown(tx, provider, &order).await;
            };
            if o.provider_reference
                .as_deref()
                .is_some_and(|r| r != reference)
            {
                return mismatch(
                    tx,
                    provider,
                    &o,
                    &format!("was settled through another invoice ({reference})"),
                )
                .await;
            }
            fulfil(
                tx,
                provider,
                &o,
                &format_money(o.amount_minor, &o.currency),
                Some(reference),
            )
            .await
        }
        PaymentEvent::Reversed {
            order,
            reference,
            reason,
        } => {
            let Some(o) = find(tx, provider, order.as_deref(), reference.as_deref()).await? else {
                return Ok(Received::UnknownOrder);
            };
            match o.status {
                OrderStatus::Pending => {
                    sqlx::query("UPDATE orders SET status = 'refunded', closed_at = $1 WHERE id = $2 AND status = 'pending'")
                        .bind(now())
                        .bind(o.id)
                        .execute(&mut **tx)
                        .await?;
                    Ok(Received::ClosedBeforePayment)
                }
                OrderStatus::Paid => reverse(tx, provider, &o, &reason).await,
                _ => Ok(Received::AlreadyClosed),
            }
        }
        PaymentEvent::PartiallyPaid { order, detail } => {
            notify::to_admins(
                tx,
                &format!("⚠️ Order {order} was only partly paid through {provider} ({detail}). Nothing was credited; please check it."),
            )
            .await?;
            Ok(Received::Partial)
        }
    }
}

async fn pending_order(tx: &mut Tx, provider: &str, order: &str) -> Result<Option<Order>> {
    Ok(find(tx, provider, Some(order), None)
        .await?
        .filter(|o| o.status == OrderStatus::Pending))
}

async fn closed_or_unknown(tx: &mut Tx, provider: &str, order: &str) -> Result<Received> {
    if find(tx, provider, Some(order), None).await?.is_some() {
        return Ok(Received::AlreadyClosed);
    }
    notify::to_admins(
        tx,
        &format!(
            "⚠️ {provider} reported a payment for unknown order {order}; nothing was credited."
        ),
    )
    .await?;
    Ok(Received::UnknownOrder)
}

/// Closes an order whose payment does not match it; credits nothing.
async fn mismatch(tx: &mut Tx, provider: &str, o: &Order, what: &str) -> Result<Received> {
    sqlx::query("UPDATE orders SET status = 'underpaid', closed_at = $1 WHERE id = $2 AND status = 'pending'")
        .bind(now())
        .bind(o.id)
        .execute(&mut **tx)
        .await?;
    notify::to_admins(
        tx,
        &format!(
            "⚠️ Order {} of {} {what} through {provider}, but costs {}. Nothing was credited; please check it.",
            o.public_id,
            o.reseller,
            format_money(o.amount_minor, &o.currency)
        ),
    )
    .await?;
    Ok(Received::AmountMismatch)
}

/// Marks a pending order paid and credits it, once.
async fn fulfil(
    tx: &mut Tx,
    provider: &str,
    o: &Order,
    paid: &str,
    reference: Option<String>,
) -> Result<Received> {
    // The ledger row names the order and the provider's own payment id, for reconciliation.
    let note = match &reference {
        Some(r) => format!("order {} ({provider} {r})", o.public_id),
        None => format!("order {}", o.public_id),
    };
    let marked = sqlx::query(
        "UPDATE orders SET status = 'paid', paid_at = $1, provider_reference = COALESCE($2, provider_reference) \
         WHERE id = $3 AND status = 'pending'",
    )
    .bind(now())
    .bind(reference)
    .bind(o.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked == 0 {
        return Ok(Received::AlreadyClosed);
    }
    let moved = ledger::post(
        tx,
        Posting {
            reseller: ResellerId(o.reseller_id),
            amount: o.credits,
            kind: Kind::Purchase,
            actor: format!("payment:{provider}"),
            subscriber: None,
            note: Some(&note),
            key: format!("order:{}:purchase", o.id),
        },
        true,
    )
    .await?
    .expect("an unconditional posting always applies");
    audit::record(
        tx,
        &crate::Actor::Reseller(ResellerId(o.reseller_id)),
        audit::Entry {
            action: "order.paid",
            reseller: Some(ResellerId(o.reseller_id)),
            target: Some(&o.public_id),
            details: serde_json::json!({ "provider": provider, "credits": o.credits, "paid": paid }),
        },
    )
    .await?;
    notify::to_reseller(
        tx,
        o.reseller_id,
        &format!(
            "Payment received: +{} credits, balance {}.",
            thousands(o.credits),
            thousands(moved.after)
        ),
    )
    .await?;
    notify::to_admins(
        tx,
        &format!(
            "💰 {} bought {} ({} credits) for {paid} through {provider}.",
            o.reseller,
            o.package.as_deref().unwrap_or("credits"),
            thousands(o.credits)
        ),
    )
    .await?;
    Ok(Received::Credited {
        order: o.public_id.clone(),
        credits: o.credits,
        balance: moved.after,
    })
}

/// Takes back a paid order's credits once; the balance may go below zero (a debt).
async fn reverse(tx: &mut Tx, provider: &str, o: &Order, reason: &str) -> Result<Received> {
    let closed = sqlx::query(
        "UPDATE orders SET status = 'refunded', closed_at = $1 WHERE id = $2 AND status = 'paid'",
    )
    .bind(now())
    .bind(o.id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if closed == 0 {
        return Ok(Received::AlreadyClosed);
    }
    let moved = ledger::post(
        tx,
        Posting {
            reseller: ResellerId(o.reseller_id),
            amount: -o.credits,
            kind: Kind::Refund,
            actor: format!("payment:{provider}"),
            subscriber: None,
            note: Some(&format!("order {} {reason}", o.public_id)),
            key: format!("order:{}:refund", o.id),
        },
        true,
    )
    .await?
    .expect("an unconditional posting always applies");
    audit::record(
        tx,
        &crate::Actor::Reseller(ResellerId(o.reseller_id)),
        audit::Entry {
            action: "order.reversed",
            reseller: Some(ResellerId(o.reseller_id)),
            target: Some(&o.public_id),
            details: serde_json::json!({ "provider": provider, "credits": o.credits, "reason": reason }),
        },
    )
    .await?;
    let debt = if moved.after < 0 {
        " The balance is negative: spending is blocked until it is cleared."
    } else {
        ""
    };
    notify::to_reseller(
        tx,
        o.reseller_id,
        &format!(
            "Payment {reason}: -{} credits, balance {}.{debt}",
            thousands(o.credits),
            thousands(moved.after)
        ),
    )
    .await?;
    notify::to_admins(
        tx,
        &format!(
            "↩️ Order {} of {} was {reason} through {provider}: -{} credits, their balance is now {}.",
            o.public_id,
            o.reseller,
            thousands(o.credits),
            thousands(moved.after)
        ),
    )
    .await?;
    Ok(Received::Reversed {
        order: o.public_id.clone(),
        credits: o.credits,
        balance: moved.after,
    })
}
