//! `/report [YYYY-MM]`, `/report chart growth|credits|revenue` and
//! `/export subscribers|ledger|summary|orders [YYYY-MM]`: core computes, this renders the
//! month as HTML and sends charts and CSV files as uploads.

use super::{Ctx, HandlerResult};
use crate::reply;
use reseller_core::payments::format_money;
use reseller_core::reports::{Chart, Export, Figures, Kpis, Money, Month, MonthReport};
use std::fmt::Write;
use teloxide::prelude::*;
use teloxide::types::InputFile;
use teloxide::utils::html::escape;

/// Resellers listed in the admins' ranking; the rest are in `/export summary`.
const RANKED: usize = 20;

pub(crate) async fn month(ctx: &Ctx, month: Option<Month>) -> HandlerResult {
    let month = month.unwrap_or_else(Month::current);
    match ctx.app.core.month_report(&ctx.actor, month).await {
        Ok(report) => ctx.say(&render(&report)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

pub(crate) async fn chart(ctx: &Ctx, chart: Chart) -> HandlerResult {
    let png = match ctx.app.core.chart_png(&ctx.actor, chart).await {
        Ok(png) => png,
        Err(e) => return ctx.refuse(&e).await,
    };
    let file = InputFile::memory(png).file_name(chart.file_name());
    let caption = match chart {
        Chart::Growth => "📈 Active subscribers per day, last 90 days (UTC)",
        Chart::Credits => "📊 Credits spent per week, last 12 weeks (UTC)",
        Chart::Revenue => "💰 Revenue from paid orders per month, last 12 months",
    };
    reply::retrying(|| {
        ctx.bot
            .send_photo(ctx.chat, file.clone())
            .caption(caption)
            .into_future()
    })
    .await?;
    Ok(())
}

pub(crate) async fn export(ctx: &Ctx, what: Export, month: Option<Month>) -> HandlerResult {
    let month = month.unwrap_or_else(Month::current);
    let csv = match ctx.app.core.export_csv(&ctx.actor, what, month).await {
        Ok(csv) => csv,
        Err(e) => return ctx.refuse(&e).await,
    };
    let name = what.file_name(month);
    if csv.is_empty() {
        return ctx
            .say(&format!("Nothing to export in {}.", escape(&name)))
            .await;
    }
    let caption = format!("📄 {name}: UTF-8 CSV, dates in ISO 8601 (UTC)");
    let file = InputFile::memory(csv).file_name(name);
    reply::retrying(|| {
        ctx.bot
            .send_document(ctx.chat, file.clone())
            .caption(&caption)
            .into_future()
    })
    .await?;
    Ok(())
}

/// The report as Telegram HTML, well under one message's 4,096 characters.
fn render(r: &MonthReport) -> String {
    let (now, was) = (&r.totals, &r.previous);
    let mut t = format!(
        "📊 <b>Report for {}</b> (UTC; compared with {})\n\n<b>Credits</b>\n",
        r.month,
        r.month.previous()
    );
    let line = |t: &mut String, label: &str, a: i64, b: i64| {
        let _ = writeln!(t, "{label}: <b>{a}</b> ({b}, {:+})", a - b);
    };
    line(&mut t, "Bought", now.bought, was.bought);
    line(&mut t, "Granted", now.granted, was.granted);
    line(&mut t, "Spent", now.spent, was.spent);
    line(&mut t, "Taken back", now.taken_back, was.taken_back);
    line(&mut t, "Left at month end", now.left, was.left);
    t.push_str("\n<b>Subscribers</b>\n");
    line(&mut t, "Created", now.created, was.created);
    line(&mut t, "Extended", now.extended, was.extended);
    line(&mut t, "Expired", now.expired, was.expired);
    line(
        &mut t,
        "Churned (expired + deleted)",
        now.churned(),
        was.churned(),
    );
    line(
        &mut t,
        "Active at month end",
        now.active_end,
        was.active_end,
    );
    let _ = writeln!(t, "\n<b>Paid orders</b>: {}", money(&r.revenue));
    if let Some(k) = &r.kpis {
        kpis(&mut t, k);
        ranking(&mut t, r);
    }
    t
}

fn money(amounts: &[Money]) -> String {
    if amounts.is_empty() {
        return "none".into();
    }
    amounts
        .iter()
        .map(|m| escape(&format_money(m.minor, &m.currency)))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn percent(share: Option<f64>) -> String {
    share.map_or("n/a".into(), |s| format!("{:.1}%", s * 100.0))
}

fn kpis(t: &mut String, k: &Kpis) {
    let _ = write!(
        t,
        "\n<b>KPIs</b>\nActive resellers: {} of {}\nSubscribers per reseller: {:.1}\n\
         Credits bought: {}\nReseller churn: {}\nCreation success: {}\nSync success: {}\n",
        k.active_resellers,
        k.resellers,
        k.subscribers_per_reseller,
        k.purchase_volume,
        percent(k.reseller_churn),
        percent(k.creation_success),
        percent(k.sync_success),
    );
}

fn ranking(t: &mut String, r: &MonthReport) {
    if r.ranking.is_empty() {
        return;
    }
    t.push_str("\n<b>Resellers</b> (bought · spent · active · paid)\n");
    for (i, l) in r.ranking.iter().take(RANKED).enumerate() {
        let f: &Figures = &l.figures;
        let _ = writeln!(
            t,
            "{}. {} · {} · {} · {} · {}",
            i + 1,
            escape(&l.username),
            f.bought,
            f.spent,
            f.active_end,
            money(&l.revenue)
        );
    }
    if r.ranking.len() > RANKED {
        let _ = writeln!(
            t,
            "… and {} more: /export summary {}",
            r.ranking.len() - RANKED,
            r.month
        );
    }
}
