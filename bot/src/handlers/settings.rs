//! `/settings`: each notification kind with an on/off button, the low-credit level and the
//! time zone (resellers), and the admins' `/digest now`.

use super::{Ctx, HandlerResult};
use crate::callback::Press;
use crate::command::SettingsChange;
use reseller_core::notify::{Kind, NotificationSettings};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MessageId};
use teloxide::utils::html::escape;

pub(crate) async fn show(ctx: &Ctx, change: Option<SettingsChange>) -> HandlerResult {
    let core = &ctx.app.core;
    let settings = match change {
        None => core.notification_settings(&ctx.actor).await,
        Some(SettingsChange::LowCredit(credits)) => {
            core.set_low_credit_threshold(&ctx.actor, credits).await
        }
        Some(SettingsChange::TimeZone(zone)) => core.set_time_zone(&ctx.actor, &zone).await,
    };
    match settings {
        Ok(s) => ctx.say_with(&text(&s), keyboard(&s)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// An on/off button pressed on the settings card.
pub(crate) async fn switch(ctx: &Ctx, card: MessageId, kind: Kind, on: bool) -> HandlerResult {
    match ctx.app.core.set_notification(&ctx.actor, kind, on).await {
        Ok(s) => ctx.edit(card, &text(&s), Some(keyboard(&s))).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// `/digest now` (admins).
pub(crate) async fn digest_now(ctx: &Ctx) -> HandlerResult {
    match ctx.app.core.queue_digests_now(&ctx.actor).await {
        Ok(q) => {
            ctx.say(&format!(
                "📅 Queued {} digests with subscribers due and {} daily summaries. Digests already queued today are not sent again.",
                q.digests, q.summaries
            ))
            .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

fn text(s: &NotificationSettings) -> String {
    let mut out = String::from("<b>Notifications</b>\n");
    for (kind, on) in &s.kinds {
        out.push_str(&format!(
            "{} {}\n",
            if *on { "🔔" } else { "🔕" },
            kind.title()
        ));
    }
    if let Some((threshold, zone)) = &s.reseller {
        out.push_str(&format!(
            "\nLow-credit alert below <b>{threshold}</b> credits (/settings lowcredit &lt;credits&gt;)\nTime zone: <b>{}</b> (/settings timezone &lt;zone&gt;)",
            escape(zone)
        ));
    }
    out
}

fn keyboard(s: &NotificationSettings) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(s.kinds.iter().map(|(kind, on)| {
        let label = if *on {
            format!("Turn off: {}", kind.title())
        } else {
            format!("Turn on: {}", kind.title())
        };
        [InlineKeyboardButton::callback(
            label,
            Press::Notify(*kind, !on).encode(),
        )]
    }))
}
