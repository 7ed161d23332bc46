//! Buying credits in the chat: `/buy`, Telegram Stars invoices, manual receipts approved by
//! admins, and the admins' package management. Crediting itself happens in core, once.

use super::{Ctx, HandlerResult};
use crate::app::App;
use crate::callback::{Method, Press};
use crate::conversation::{self, State};
use crate::{render, reply};
use reseller_core::CoreError;
use reseller_core::payments::{NewPackage, Order, Part, PaymentEvent, Received, format_money};
use std::sync::Arc;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LabeledPrice, PhotoSize, UserId,
};
use teloxide::utils::html::escape;

fn button(label: &str, press: Press) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(label, press.encode())
}

/// `/buy` and `/packages`: the active packages at the reseller's own prices, one button each;
/// every package at its list price for admins.
pub(crate) async fn list(ctx: &Ctx) -> HandlerResult {
    let admin = ctx.actor.is_admin();
    let packages = match ctx.app.core.packages_for(&ctx.actor).await {
        Ok(p) => p,
        Err(e) => return ctx.refuse(&e).await,
    };
    let mut text = String::from("<b>Credit packages</b> (1 credit = 1 day)\n");
    for p in &packages {
        let stars = p
            .stars_price
            .map(|s| format!(" or {s} ⭐"))
            .unwrap_or_default();
        let off = if p.package.active {
            ""
        } else {
            " — disabled"
        };
        text.push_str(&format!(
            "\n• <b>{}</b>: {} credits for {}{stars}{}{off}",
            escape(&p.package.name),
            render::credits(p.package.credits),
            format_money(p.price_minor, &p.package.currency),
            render::price_note(p)
        ));
    }
    if admin {
        text.push_str("\n\nManage: /package add|edit &lt;name&gt; &lt;credits&gt; &lt;price&gt; &lt;currency&gt; [stars], /package disable|enable &lt;name&gt;; a reseller's prices: /price &lt;reseller&gt;");
        return ctx.say(&text).await;
    }
    text.push_str("\n\nPick one:");
    let rows: Vec<Vec<InlineKeyboardButton>> = packages
        .iter()
        .map(|p| {
            vec![button(
                &format!(
                    "{} — {}",
                    p.package.name,
                    format_money(p.price_minor, &p.package.currency)
                ),
                Press::Buy(p.package.id),
            )]
        })
        .collect();
    ctx.say_with(&text, InlineKeyboardMarkup::new(rows)).await
}

/// A package was picked: the payment methods for it, at the reseller's price.
pub(crate) async fn methods(ctx: &Ctx, package_id: i64) -> HandlerResult {
    let priced = match ctx.app.core.package_for(&ctx.actor, package_id).await {
        Ok(p) => p,
        Err(e) => return ctx.refuse(&e).await,
    };
    let package = &priced.package;
    let configured = ctx.app.checkout.providers();
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Method::ONLINE
        .into_iter()
        .filter(|m| configured.contains(&m.provider()))
        .map(|m| vec![button(m.label(), Press::Pay(package.id, m))])
        .collect();
    if let (true, Some(stars)) = (ctx.app.stars_enabled, priced.stars_price) {
        let label = format!("{} ({stars})", Method::Stars.label());
        rows.push(vec![button(&label, Press::Pay(package.id, Method::Stars))]);
    }
    rows.push(vec![button(
        Method::Manual.label(),
        Press::Pay(package.id, Method::Manual),
    )]);
    let text = format!(
        "<b>{}</b>: {} credits for {}{}. How do you want to pay?",
        escape(&package.name),
        render::credits(package.credits),
        format_money(priced.price_minor, &package.currency),
        render::price_note(&priced)
    );
    ctx.say_with(&text, InlineKeyboardMarkup::new(rows)).await
}

/// A method was picked: create the order and hand over the checkout.
pub(crate) async fn pay(ctx: &Ctx, package_id: i64, method: Method) -> HandlerResult {
    if !ctx.within_rate_limit().await? {
        return Ok(());
    }
    if method == Method::Stars && !ctx.app.stars_enabled {
        return ctx.say("Telegram Stars payments are not enabled.").await;
    }
    let order = match ctx
        .app
        .core
        .create_order(&ctx.actor, package_id, method.provider())
        .await
    {
        Ok(o) => o,
        Err(e) => return ctx.refuse(&e).await,
    };
    match method {
        Method::Manual => {
            conversation::save(
                &ctx.app.core,
                ctx.chat.0,
                &State::AwaitingReceipt {
                    order: order.public_id.clone(),
                },
            )
            .await?;
            ctx.say(&format!(
                "Order <code>{}</code>: pay <b>{}</b>.\n{}\n\nThen send a photo of the receipt here.",
                order.public_id,
                format_money(order.amount_minor, &order.currency),
                escape(&ctx.app.manual_instructions)
            ))
            .await
        }
        Method::Stripe | Method::Btcpay | Method::NowPayments | Method::Cryptomus => {
            online(ctx, &order).await
        }
        Method::Stars => {
            let title = format!("{} credits", render::credits(order.credits));
            let description = format!(
                "{}: {} days of subscriptions to sell",
                order.package.as_deref().unwrap_or("Credits"),
                order.credits
            );
            let amount = u32::try_from(order.amount_minor).unwrap_or(u32::MAX);
            reply::retrying(|| {
                ctx.bot
                    .send_invoice(
                        ctx.chat,
                        &title,
                        &description,
                        &order.public_id,
                        "XTR",
                        [LabeledPrice::new(&title, amount)],
                    )
                    .into_future()
            })
            .await?;
            Ok(())
        }
    }
}

/// Sends the reseller to the provider's payment page.
async fn online(ctx: &Ctx, order: &Order) -> HandlerResult {
    match ctx.app.checkout.create(order, &ctx.app.return_url).await {
        Ok(link) => {
            ctx.app
                .core
                .set_order_reference(&order.public_id, &link.reference)
                .await?;
            let text = format!(
                "Order <code>{}</code>: pay <b>{}</b> on the payment page. Your credits arrive here within seconds of the payment.",
                order.public_id,
                format_money(order.amount_minor, &order.currency)
            );
            match url::Url::parse(&link.url) {
                Ok(url) => {
                    ctx.say_with(
                        &text,
                        InlineKeyboardMarkup::new([[InlineKeyboardButton::url("Pay now", url)]]),
                    )
                    .await
                }
                Err(_) => ctx.say(&format!("{text}\n{}", escape(&link.url))).await,
            }
        }
        Err(e) => {
            tracing::warn!(provider = %order.provider, error = %e, "checkout failed");
            ctx.say(&format!(
                "⚠️ {} is not available right now. Please try again in a minute or pick another payment method.",
                order.provider
            ))
            .await
        }
    }
}

/// Telegram asks, before charging Stars, whether the order is still payable: answer at once.
pub(crate) async fn pre_checkout(bot: Bot, q: PreCheckoutQuery, app: Arc<App>) -> HandlerResult {
    let ok = app
        .core
        .stars_payable(&q.invoice_payload, i64::from(q.total_amount))
        .await
        .unwrap_or(false);
    let mut answer = bot.answer_pre_checkout_query(q.id.clone(), ok);
    if !ok {
        answer =
            answer.error_message("This order can no longer be paid. Please start again with /buy.");
    }
    reply::retrying(|| answer.clone().into_future()).await?;
    Ok(())
}

/// Stars arrived: credit the order, once per Telegram charge id.
pub(crate) async fn paid_with_stars(
    app: &App,
    payment: &teloxide::types::SuccessfulPayment,
) -> reseller_core::Result<Received> {
    let charge = payment.telegram_payment_charge_id.0.clone();
    let body = serde_json::json!({
        "invoice_payload": payment.invoice_payload,
        "total_amount": payment.total_amount,
        "currency": payment.currency,
        "telegram_payment_charge_id": charge,
    });
    app.core
        .receive_payment(
            "stars",
            &charge,
            "{}",
            &body.to_string(),
            PaymentEvent::Paid {
                order: payment.invoice_payload.clone(),
                amount_minor: i64::from(payment.total_amount),
                currency: payment.currency.clone(),
                reference: Some(charge.clone()),
            },
        )
        .await
}

/// The receipt photo of a manual payment: forwarded to every admin with Approve and Reject.
pub(crate) async fn receipt(ctx: &Ctx, order: &str, photo: &[PhotoSize]) -> HandlerResult {
    let Some(largest) = photo.iter().max_by_key(|p| p.width * p.height) else {
        return Ok(());
    };
    let o: Order = match ctx.app.core.order(order).await {
        Ok(o) => o,
        Err(e) => return ctx.refuse(&e).await,
    };
    let caption = format!(
        "🧾 Receipt from {} for order {}: {} ({} credits), {}.",
        o.reseller,
        o.public_id,
        o.package.as_deref().unwrap_or("credits"),
        render::credits(o.credits),
        format_money(o.amount_minor, &o.currency)
    );
    let keyboard = InlineKeyboardMarkup::new([[
        button("✅ Approve", Press::Receipt(true, o.public_id.clone())),
        button("✖️ Reject", Press::Receipt(false, o.public_id.clone())),
    ]]);
    for admin in ctx.app.core.admin_ids().await? {
        let file = InputFile::file_id(largest.file.id.clone());
        reply::retrying(|| {
            ctx.bot
                .send_photo(ChatId(admin), file.clone())
                .caption(&caption)
                .reply_markup(keyboard.clone())
                .into_future()
        })
        .await?;
    }
    conversation::clear(&ctx.app.core, ctx.chat.0).await?;
    ctx.say("🧾 Receipt sent to the admins. You will get a message as soon as it is checked.")
        .await
}

/// An admin approved or rejected a receipt.
pub(crate) async fn decide(ctx: &Ctx, approve: bool, order: &str) -> HandlerResult {
    let text = if approve {
        match ctx.app.core.approve_manual(&ctx.actor, order).await {
            Ok(Received::Credited {
                credits, balance, ..
            }) => format!(
                "✅ Order {order} approved: +{} credits, their balance is {}.",
                render::credits(credits),
                render::credits(balance)
            ),
            Ok(_) => format!("Order {order} was already handled; nothing changed."),
            Err(e) => reply::error_text(&e),
        }
    } else {
        match ctx.app.core.reject_manual(&ctx.actor, order).await {
            Ok(true) => format!("✖️ Order {order} rejected; the reseller was told."),
            Ok(false) => format!("Order {order} was already handled; nothing changed."),
            Err(e) => reply::error_text(&e),
        }
    };
    ctx.say(&text).await
}

/// An admin refunds a Stars order: Telegram returns the Stars, then core takes the credits back.
pub(crate) async fn refund(ctx: &Ctx, order: &str) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    let o = match ctx.app.core.order(order).await {
        Ok(o) => o,
        Err(e) => return ctx.refuse(&e).await,
    };
    let (Some(charge), Some(telegram_id)) = (
        o.provider_reference.clone(),
        ctx.app.core.reseller_telegram_id(o.reseller_id).await?,
    ) else {
        return ctx
            .say(&format!("Order {order} has no Stars payment to refund."))
            .await;
    };
    if o.provider != "stars" {
        return ctx
            .say(&format!("Order {order} was paid through {}: refund it there; its webhook takes the credits back.", o.provider))
            .await;
    }
    // The intent is stored before Telegram moves the Stars: if we die after Telegram refunded
    // them, the replay worker takes the credits back. A refusal withdraws it.
    let key = format!("refund:{charge}");
    let event = PaymentEvent::Reversed {
        order: Some(o.public_id.clone()),
        reference: None,
        reason: "refunded".into(),
        part: Part::Whole,
    };
    let body = serde_json::json!({ "order": o.public_id, "telegram_payment_charge_id": charge });
    let headers = serde_json::json!({ "requested_by": ctx.chat.0 });
    if let Err(e) = ctx
        .app
        .core
        .store_payment(
            "stars",
            &key,
            &headers.to_string(),
            &body.to_string(),
            &event,
        )
        .await
    {
        return ctx.refuse(&e).await;
    }
    let charge_id = teloxide::types::TelegramTransactionId(charge.clone());
    let refunded = reply::retrying(|| {
        ctx.bot
            .refund_star_payment(UserId(telegram_id as u64), charge_id.clone())
            .into_future()
    })
    .await;
    match refunded {
        Ok(_) => {}
        // Refunded before (say, by a try whose answer we never got): the Stars are back.
        Err(e) if e.to_string().contains("CHARGE_ALREADY_REFUNDED") => {}
        Err(e) => {
            ctx.app.core.withdraw_payment("stars", &key).await?;
            return ctx
                .say(&format!(
                    "⚠️ Telegram refused the refund: {}. Nothing changed.",
                    escape(&e.to_string())
                ))
                .await;
        }
    }
    let reversed = ctx.app.core.apply_payment("stars", &key, event).await;
    match reversed {
        Ok(Received::Reversed {
            credits, balance, ..
        }) => {
            ctx.say(&format!(
                "↩️ Order {order} refunded: -{} credits, their balance is {}.",
                render::credits(credits),
                render::credits(balance)
            ))
            .await
        }
        Ok(_) => {
            ctx.say(&format!("Order {order} was already refunded."))
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn save_package(ctx: &Ctx, p: &NewPackage) -> HandlerResult {
    match ctx.app.core.save_package(&ctx.actor, p).await {
        Ok(p) => {
            ctx.say(&format!(
                "✅ Package <b>{}</b> saved: {} credits for {}.",
                escape(&p.name),
                render::credits(p.credits),
                format_money(p.price_minor, &p.currency)
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn package_active(ctx: &Ctx, name: &str, active: bool) -> HandlerResult {
    match ctx
        .app
        .core
        .set_package_active(&ctx.actor, name, active)
        .await
    {
        Ok(p) => {
            ctx.say(&format!(
                "✅ Package <b>{}</b> is {}.",
                escape(&p.name),
                if active { "on sale" } else { "disabled" }
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}
