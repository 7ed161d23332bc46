//! What providers tell us: stored raw first, then applied once per event identity.

use super::format_money;
use super::orders::{COLUMNS, FROM, Order, OrderStatus, from_row};
use crate::core::now;
use crate::db::Tx;
use crate::domain::ResellerId;
use crate::ledger::{self, Kind, Posting};
use crate::queries::thousands;
use crate::{Core, Result, audit, notify};
use serde::{Deserialize, Serialize};

/// A provider event, reduced to what it means for an order. Stored with the raw event, so an
/// event left unapplied (a crash, a failed transaction) is applied later without its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        part: Part,
    },
    /// A chargeback the merchant won: the credits it took back are given back, once.
    DisputeWon {
        order: Option<String>,
        reference: Option<String>,
    },
    /// Paid in part: credits nothing, the admins look into it.
    PartiallyPaid { order: String, detail: String },
    /// Nothing to do (an intermediate status, an event type we do not use).
    Ignored,
}

/// How much of a payment a reversal takes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// All of it (what is left of it after partial refunds).
    Whole,
    /// Refunds so far total `refunded` of the payment's `of`, in the provider's units: refunds
    /// add up, so each event carries the running total and the credits follow it, rounded up.
    Refunded { refunded: i64, of: i64 },
    /// All that is left, taken by a dispute: given back if the merchant wins it.
    Disputed,
}

impl Part {
    /// How many of `credits` are reversed in all once this reversal applies.
    fn target(self, credits: i64) -> i64 {
        match self {
            Part::Refunded { refunded, of } if of > 0 => {
                let (credits, refunded, of) = (
                    i128::from(credits),
                    i128::from(refunded.max(0)),
                    i128::from(of),
                );
                // Rounded up: a refund of 33.3 % of 100 credits takes 34.
                ((credits * refunded + of - 1) / of).min(credits) as i64
            }
            _ => credits,
        }
    }
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
    /// Another payment for an order already paid or refunded: nothing credited, admins told.
    AnotherPayment,
    /// Less than the order's price, or another currency: nothing credited, admins told.
    AmountMismatch,
    Reversed {
        order: String,
        credits: i64,
        balance: i64,
    },
    /// A reversal before any payment: the order is closed so a late payment event credits nothing.
    ClosedBeforePayment,
    /// A won dispute gave the credits it had taken back.
    Reinstated {
        order: String,
        credits: i64,
        balance: i64,
    },
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
        self.store_payment(provider, event_key, headers, body, &event)
            .await?;
        self.apply_payment(provider, event_key, event).await
    }

    /// Stores an event without applying it (a redelivery keeps the first copy). Until applied,
    /// [`Core::replay_payments`] picks it up: a crash between receiving and crediting loses
    /// nothing.
    pub async fn store_payment(
        &self,
        provider: &str,
        event_key: &str,
        headers: &str,
        body: &str,
        event: &PaymentEvent,
    ) -> Result<()> {
        let meaning =
            serde_json::to_string(event).map_err(|e| crate::CoreError::Internal(Box::new(e)))?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO payment_events (provider, event_key, headers, body, event, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (provider, event_key) DO NOTHING",
        )
        .bind(provider)
        .bind(event_key)
        .bind(headers)
        .bind(body)
        .bind(meaning)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies a stored event once: of concurrent callers (deliveries, the replay worker), one
    /// marks the row processed in the transaction that applies it, the rest get `Duplicate`.
    pub async fn apply_payment(
        &self,
        provider: &str,
        event_key: &str,
        event: PaymentEvent,
    ) -> Result<Received> {
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
        let received = apply(&mut tx, provider, event_key, event).await?;
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

    /// Takes back a stored event that turned out not to have happened (Telegram refused the
    /// refund it announced). False if it was applied meanwhile.
    pub async fn withdraw_payment(&self, provider: &str, event_key: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let withdrawn = sqlx::query(
            "DELETE FROM payment_events WHERE provider = $1 AND event_key = $2 AND processed_at IS NULL",
        )
        .bind(provider)
        .bind(event_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(withdrawn)
    }

    /// Applies stored events still unapplied `older_than_secs` after they arrived (younger ones
    /// are most likely being applied by their own delivery right now). Returns how many this
    /// call applied; one that fails stays for the next call. Goes through every such event a
    /// page at a time, so events that keep failing never hold back the ones behind them.
    pub async fn replay_payments(&self, older_than_secs: i64) -> Result<usize> {
        const PAGE: usize = 100;
        let mut applied = 0;
        let mut after = 0;
        loop {
            let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                "SELECT id, provider, event_key, event FROM payment_events \
                 WHERE processed_at IS NULL AND event IS NOT NULL AND received_at <= $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
            )
            .bind(now() - older_than_secs)
            .bind(after)
            .bind(PAGE as i64)
            .fetch_all(self.db.read())
            .await?;
            let last_page = rows.len() < PAGE;
            for (id, provider, key, meaning) in rows {
                after = id;
                if self.replay_one(&provider, &key, &meaning).await {
                    applied += 1;
                }
            }
            if last_page {
                return Ok(applied);
            }
        }
    }

    /// Applies one stored event; `true` if this call applied it.
    async fn replay_one(&self, provider: &str, key: &str, meaning: &str) -> bool {
        let event: PaymentEvent = match serde_json::from_str(meaning) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(provider, key, error = %e, "a stored payment event cannot be read");
                crate::metrics::error("payment_replay");
                return false;
            }
        };
        match self.apply_payment(provider, key, event).await {
            Ok(Received::Duplicate) => false,
            Ok(received) => {
                tracing::warn!(provider, key, outcome = ?received, "applied a payment event left unapplied");
                true
            }
            Err(e) => {
                tracing::error!(provider, key, error = ?e, "a stored payment event failed again");
                crate::metrics::error("payment_replay");
                false
            }
        }
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

async fn apply(
    tx: &mut Tx,
    provider: &str,
    event_key: &str,
    event: PaymentEvent,
) -> Result<Received> {
    match event {
        PaymentEvent::Ignored => Ok(Received::Ignored),
        PaymentEvent::Paid {
            order,
            amount_minor,
            currency,
            reference,
        } => {
            let paid = format_money(amount_minor, &currency);
            let Some(o) = pending_order(tx, provider, &order).await? else {
                return closed_or_unknown(tx, provider, &order, reference.as_deref(), Some(&paid))
                    .await;
            };
            if amount_minor < o.amount_minor || !currency.eq_ignore_ascii_case(&o.currency) {
                return mismatch(tx, provider, &o, &format!("was paid {paid}")).await;
            }
            fulfil(tx, provider, &o, &paid, reference).await
        }
        PaymentEvent::Settled { order, reference } => {
            let Some(o) = pending_order(tx, provider, &order).await? else {
                return closed_or_unknown(tx, provider, &order, Some(&reference), None).await;
            };
            // Only the invoice created for this order pays it: "settled in full" means nothing
            // about an invoice we did not price.
            if o.provider_reference.as_deref() != Some(reference.as_str()) {
                let what = match &o.provider_reference {
                    Some(_) => format!("was settled through another invoice ({reference})"),
                    None => format!(
                        "was settled through invoice {reference}, but no invoice was created for it"
                    ),
                };
                return mismatch(tx, provider, &o, &what).await;
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
            part,
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
                OrderStatus::Paid => reverse(tx, provider, event_key, &o, &reason, part).await,
                _ => Ok(Received::AlreadyClosed),
            }
        }
        PaymentEvent::DisputeWon { order, reference } => {
            let Some(o) = find(tx, provider, order.as_deref(), reference.as_deref()).await? else {
                return Ok(Received::UnknownOrder);
            };
            reinstate(tx, provider, event_key, &o).await
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

/// A payment for an order that is not pending. One with another payment reference than the one
/// that paid the order is money received twice: it is kept (the raw event and an audit row),
/// credits nothing, and the admins are told so they can return it or credit it by hand.
async fn closed_or_unknown(
    tx: &mut Tx,
    provider: &str,
    order: &str,
    reference: Option<&str>,
    paid: Option<&str>,
) -> Result<Received> {
    if let Some(o) = find(tx, provider, Some(order), None).await? {
        let closed_by_payment = matches!(o.status, OrderStatus::Paid | OrderStatus::Refunded);
        return match reference {
            Some(r) if closed_by_payment && o.provider_reference.as_deref() != Some(r) => {
                another_payment(tx, provider, &o, r, paid).await
            }
            _ => Ok(Received::AlreadyClosed),
        };
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

async fn another_payment(
    tx: &mut Tx,
    provider: &str,
    o: &Order,
    reference: &str,
    paid: Option<&str>,
) -> Result<Received> {
    let reference: String = reference.chars().take(100).collect();
    let status = if o.status == OrderStatus::Paid {
        "paid"
    } else {
        "refunded"
    };
    let amount = paid.map(|p| format!(" of {p}")).unwrap_or_default();
    audit_order(
        tx,
        o,
        "order.another_payment",
        serde_json::json!({ "provider": provider, "reference": reference, "paid": paid }),
    )
    .await?;
    notify::to_admins(
        tx,
        &format!(
            "⚠️ Order {} of {} is already {status}, but {provider} reported another payment{amount} (reference {reference}). Nothing was credited: return the money or credit it by hand.",
            o.public_id, o.reseller
        ),
    )
    .await?;
    Ok(Received::AnotherPayment)
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
    let moved = post_for_order(
        tx,
        provider,
        o,
        o.credits,
        Kind::Purchase,
        &note,
        format!("order:{}:purchase", o.id),
    )
    .await?;
    audit_order(
        tx,
        o,
        "order.paid",
        serde_json::json!({ "provider": provider, "credits": o.credits, "paid": paid }),
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

/// How much of a paid order is taken back so far, read in the transaction.
async fn reversal_state(tx: &mut Tx, order_id: i64) -> Result<(String, i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT status, reversed_credits, disputed_credits FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Moves `amount` credits on the order's reseller, written as `provider`'s doing. Never refused:
/// a reversal may leave a debt, which blocks spending.
async fn post_for_order(
    tx: &mut Tx,
    provider: &str,
    o: &Order,
    amount: i64,
    kind: Kind,
    note: &str,
    key: String,
) -> Result<ledger::Movement> {
    let moved = ledger::post(
        tx,
        Posting {
            reseller: ResellerId(o.reseller_id),
            amount,
            kind,
            actor: format!("payment:{provider}"),
            subscriber: None,
            note: Some(note),
            key,
        },
        true,
    )
    .await?;
    Ok(moved.expect("an unconditional posting always applies"))
}

/// The audit row of something that happened to an order, on its reseller's trail.
async fn audit_order(
    tx: &mut Tx,
    o: &Order,
    action: &'static str,
    details: serde_json::Value,
) -> Result<()> {
    audit::record(
        tx,
        &crate::Actor::Reseller(ResellerId(o.reseller_id)),
        audit::Entry {
            action,
            reseller: Some(ResellerId(o.reseller_id)),
            target: Some(&o.public_id),
            details,
        },
    )
    .await?;
    Ok(())
}

/// Takes back the part of a paid order's credits that `part` reverses and earlier reversals did
/// not: several partial refunds add up to at most the order's credits, and a late event for a
/// smaller total takes nothing. The balance may go below zero (a debt).
async fn reverse(
    tx: &mut Tx,
    provider: &str,
    event_key: &str,
    o: &Order,
    reason: &str,
    part: Part,
) -> Result<Received> {
    let target = part.target(o.credits);
    // Compare-and-set on what was read: a concurrent reversal of the same order makes the update
    // miss, and the loop reads again what that one committed.
    let taken = loop {
        let (status, reversed, disputed) = reversal_state(tx, o.id).await?;
        let taken = target - reversed;
        if status != "paid" || taken <= 0 {
            return Ok(Received::AlreadyClosed);
        }
        let disputed_now = if part == Part::Disputed { taken } else { 0 };
        let status = if target == o.credits {
            "refunded"
        } else {
            "paid"
        };
        let updated = sqlx::query(
            "UPDATE orders SET reversed_credits = $1, disputed_credits = $2, status = $3, closed_at = $4              WHERE id = $5 AND status = 'paid' AND reversed_credits = $6",
        )
        .bind(target)
        .bind(disputed + disputed_now)
        .bind(status)
        .bind((status == "refunded").then(now))
        .bind(o.id)
        .bind(reversed)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 1 {
            break taken;
        }
    };
    let reason = if target < o.credits {
        format!("partly {reason}")
    } else {
        reason.to_string()
    };
    let moved = post_for_order(
        tx,
        provider,
        o,
        -taken,
        Kind::Refund,
        &format!("order {} {reason}", o.public_id),
        format!("order:{}:refund:{provider}:{event_key}", o.id),
    )
    .await?;
    audit_order(
        tx,
        o,
        "order.reversed",
        serde_json::json!({ "provider": provider, "credits": taken, "reversed": target, "reason": reason }),
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
            thousands(taken),
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
            thousands(taken),
            thousands(moved.after)
        ),
    )
    .await?;
    Ok(Received::Reversed {
        order: o.public_id.clone(),
        credits: taken,
        balance: moved.after,
    })
}

/// Gives back, once, the credits an open dispute took: the merchant won it.
async fn reinstate(tx: &mut Tx, provider: &str, event_key: &str, o: &Order) -> Result<Received> {
    let given = loop {
        let (status, reversed, disputed) = reversal_state(tx, o.id).await?;
        if disputed == 0 || !matches!(status.as_str(), "paid" | "refunded") {
            return Ok(Received::AlreadyClosed);
        }
        let updated = sqlx::query(
            "UPDATE orders SET reversed_credits = $1, disputed_credits = 0, status = 'paid', closed_at = NULL \
             WHERE id = $2 AND disputed_credits = $3 AND reversed_credits = $4",
        )
        .bind(reversed - disputed)
        .bind(o.id)
        .bind(disputed)
        .bind(reversed)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated == 1 {
            break disputed;
        }
    };
    let moved = post_for_order(
        tx,
        provider,
        o,
        given,
        Kind::Refund,
        &format!("order {} dispute won", o.public_id),
        format!("order:{}:reinstate:{provider}:{event_key}", o.id),
    )
    .await?;
    audit_order(
        tx,
        o,
        "order.reinstated",
        serde_json::json!({ "provider": provider, "credits": given }),
    )
    .await?;
    notify::to_reseller(
        tx,
        o.reseller_id,
        &format!(
            "The chargeback on order {} was won: +{} credits back, balance {}.",
            o.public_id,
            thousands(given),
            thousands(moved.after)
        ),
    )
    .await?;
    notify::to_admins(
        tx,
        &format!(
            "✅ The chargeback on order {} of {} was won through {provider}: +{} credits back, their balance is now {}.",
            o.public_id,
            o.reseller,
            thousands(given),
            thousands(moved.after)
        ),
    )
    .await?;
    Ok(Received::Reinstated {
        order: o.public_id.clone(),
        credits: given,
        balance: moved.after,
    })
}
