//! Messages: identify the sender, then route a command, continue a guided flow, take a receipt
//! photo, or record a Stars payment.

use super::{
    Ctx, HandlerResult, apikeys, branding, broadcast, bulk, channels, confirm, credits, epg,
    guided, link, logs, payments, pricing, reports, resellers, settings, stats, subresellers,
    subscribers,
};
use crate::app::App;
use crate::command::{self, Request};
use crate::{conversation, render};
use reseller_core::Actor;
use reseller_core::domain::{OperationId, TelegramId};
use std::sync::Arc;
use teloxide::prelude::*;
use teloxide::types::Me;

pub(crate) async fn on_message(bot: Bot, msg: Message, me: Me, app: Arc<App>) -> HandlerResult {
    let Some(user) = msg.from.as_ref() else {
        return Ok(());
    };
    if !msg.chat.is_private() {
        return Ok(());
    }
    if let Some(payment) = msg.successful_payment() {
        // Telegram has taken the Stars: record them whatever else is going on.
        if let Err(e) = payments::paid_with_stars(&app, payment).await {
            crate::reply::send(&bot, msg.chat.id, &crate::reply::error_text(&e), None).await?;
        }
        return Ok(());
    }
    let telegram_id = TelegramId(user.id.0 as i64);
    // A command can also be the caption of a file (an uploaded playlist).
    let text = msg.text().or(msg.caption()).unwrap_or_default();
    let parsed = command::parse(text, me.username());
    let actor = match app.core.identify(telegram_id).await {
        Ok(a) => a,
        Err(e) => {
            crate::reply::send(&bot, msg.chat.id, &crate::reply::error_text(&e), None).await?;
            return Ok(());
        }
    };
    let Some(actor) = actor else {
        if let Some(Ok(Request::Start(Some(code)))) = parsed {
            return link::redeem(&bot, &app, msg.chat.id, telegram_id, &code).await;
        }
        tracing::info!(
            telegram_id = telegram_id.0,
            "message from an unregistered Telegram user"
        );
        crate::reply::send(&bot, msg.chat.id, render::not_registered(), None).await?;
        return Ok(());
    };
    if let Actor::Reseller(id) = actor
        && let Err(e) = app.core.touch_reseller(id).await
    {
        tracing::warn!(error = ?e, "could not record last seen");
    }
    let ctx = Ctx {
        bot,
        app,
        chat: msg.chat.id,
        actor,
    };
    if let (Some(Ok(Request::BulkStart)), Some(document)) = (&parsed, msg.document()) {
        conversation::clear(&ctx.app.core, ctx.chat.0).await?;
        return bulk::create_from_file(&ctx, document).await;
    }
    match parsed {
        Some(Ok(Request::ImportUploadedChannels)) => channels::import_file(&ctx, msg.document()).await,
        Some(Ok(Request::EpgUpload)) => epg::upload(&ctx, msg.document()).await,
        Some(Ok(Request::BrandLogo)) => branding::set_logo(&ctx, msg.photo()).await,
        Some(Ok(request)) => {
            conversation::clear(&ctx.app.core, ctx.chat.0).await?;
            // A redelivered update carries the same message id, so the same operation id.
            let op = OperationId::parse(&format!("msg_{}_{}", ctx.chat.0, msg.id.0))
                .unwrap_or_else(|_| OperationId::random());
            route(&ctx, request, &me, op).await
        }
        Some(Err(usage)) => {
            ctx.say(&format!("⚠️ {}", teloxide::utils::html::escape(&usage)))
                .await
        }
        None => match (msg.document(), msg.photo()) {
            (Some(document), _) => bulk::file_in_flow(&ctx, document).await,
            (None, Some(photo)) => match conversation::load(&ctx.app.core, ctx.chat.0).await? {
                Some(conversation::State::AwaitingReceipt { order }) => payments::receipt(&ctx, &order, photo).await,
                _ => ctx.say("Photos are only taken as payment receipts, after choosing manual payment in /buy.").await,
            },
            (None, None) if text.is_empty() => Ok(()),
            (None, None) => guided::on_text(&ctx, text).await,
        },
    }
}

async fn route(ctx: &Ctx, request: Request, me: &Me, op: OperationId) -> HandlerResult {
    use reseller_core::ops::{BrandChange, Command};
    match request {
        Request::Start(Some(code)) if !ctx.actor.is_admin() => {
            // Only private chats reach here, where the chat id is the user id.
            link::redeem(&ctx.bot, &ctx.app, ctx.chat, TelegramId(ctx.chat.0), &code).await
        }
        Request::Start(_) | Request::Help => ctx.say(&render::help(&ctx.actor)).await,
        Request::Cancel => ctx.say("Cancelled. Send /help for the menu.").await,
        Request::Stats => stats::show(ctx).await,
        Request::Report(month) => reports::month(ctx, month).await,
        Request::ReportChart(chart) => reports::chart(ctx, chart).await,
        Request::Export(what, month) => reports::export(ctx, what, month).await,
        Request::Balance => credits::balance(ctx).await,
        Request::History(of) => credits::history(ctx, of.as_ref(), 0, None).await,
        Request::New(None) => guided::start_new(ctx).await,
        Request::New(Some((days, username))) => {
            confirm::propose(ctx, Command::CreateSubscriber { username, days }).await
        }
        Request::Users { filter, search } => {
            subscribers::list(ctx, filter, search.as_deref(), 0, None).await
        }
        Request::User(u) => subscribers::card(ctx, &u).await,
        Request::Trial(username, hours) => {
            confirm::propose(ctx, Command::CreateTrial { username, hours }).await
        }
        Request::Extend(username, days) => {
            confirm::propose(ctx, Command::Extend { username, days }).await
        }
        Request::Reset(username) => confirm::propose(ctx, Command::Reset { username }).await,
        Request::Delete(username) => confirm::propose(ctx, Command::Delete { username }).await,
        Request::Disable(u) => subscribers::set_active(ctx, &op, &u, false).await,
        Request::Enable(u) => subscribers::set_active(ctx, &op, &u, true).await,
        Request::Show(u) => subscribers::show_credentials(ctx, &u).await,
        Request::Note(u, notes) => subscribers::set_notes(ctx, &op, &u, &notes).await,
        Request::Brand(name) => resellers::set_panel_name(ctx, None, &name).await,
        Request::PanelName(r, name) => resellers::set_panel_name(ctx, Some(&r), &name).await,
        Request::BrandLogo => branding::set_logo(ctx, None).await,
        Request::BrandSupport(line) => branding::set(ctx, BrandChange::Support(line)).await,
        Request::BrandTemplate(t) => branding::set_template(ctx, t).await,
        Request::BrandPreview => branding::preview(ctx).await,
        Request::Logs {
            filter,
            page,
            csv: false,
            words,
        } => logs::show(ctx, &filter, page, &words).await,
        Request::Logs { filter, .. } => logs::csv(ctx, &filter).await,
        Request::Grant {
            reseller,
            days,
            note,
        } => {
            confirm::propose(
                ctx,
                Command::Grant {
                    reseller,
                    days,
                    note,
                },
            )
            .await
        }
        Request::Deduct {
            reseller,
            days,
            note,
        } => {
            confirm::propose(
                ctx,
                Command::Deduct {
                    reseller,
                    days,
                    note,
                },
            )
            .await
        }
        Request::NewReseller { username, rest } => {
            resellers::create(ctx, me, &username, rest.as_deref()).await
        }
        Request::Templates => resellers::templates(ctx).await,
        Request::SaveTemplate {
            add,
            name,
            title,
            settings,
        } => resellers::save_template(ctx, add, &name, title.as_ref(), &settings).await,
        Request::ApplyTemplate {
            name,
            reseller,
            reset,
        } => resellers::apply_template(ctx, &name, &reseller, reset).await,
        Request::Invite(r) => resellers::invite(ctx, me, &r).await,
        Request::Resellers => resellers::list(ctx, 0, None).await,
        Request::Reseller(r) => resellers::detail(ctx, &r, None).await,
        Request::Suspend(r) => resellers::set_active(ctx, &r, false).await,
        Request::Unsuspend(r) => resellers::set_active(ctx, &r, true).await,
        Request::Perm {
            reseller,
            permission,
            on,
        } => resellers::set_permission(ctx, &reseller, permission, on).await,
        Request::Limit {
            reseller,
            limit,
            value,
        } => resellers::set_limit(ctx, &reseller, limit, value).await,
        Request::Transfer { sub, days, back } => {
            subresellers::transfer(ctx, &op, &sub, days, back).await
        }
        Request::Subs(None) => resellers::list(ctx, 0, None).await,
        Request::Subs(Some((sub, page))) => subresellers::subscribers(ctx, &sub, page).await,
        Request::PermDefault {
            reseller,
            permission,
        } => {
            let setting = resellers::Overridable::Permission(permission);
            resellers::clear_override(ctx, &reseller, setting).await
        }
        Request::LimitDefault { reseller, limit } => {
            let setting = resellers::Overridable::Limit(limit);
            resellers::clear_override(ctx, &reseller, setting).await
        }
        Request::DeleteTemplate(name) => resellers::delete_template(ctx, &name).await,
        Request::Price {
            reseller,
            package,
            change,
        } => pricing::price(ctx, &reseller, package.as_deref(), change).await,
        Request::ApiKey(r) => apikeys::handle(ctx, &r).await,
        Request::Buy | Request::Packages => payments::list(ctx).await,
        Request::SavePackage(p) => payments::save_package(ctx, &p).await,
        Request::PackageActive(name, active) => payments::package_active(ctx, &name, active).await,
        Request::Refund(order) => payments::refund(ctx, &order).await,
        Request::Channels => channels::show(ctx).await,
        Request::ImportChannels(url) => channels::import(ctx, &url).await,
        Request::ImportUploadedChannels => channels::import_file(ctx, None).await,
        Request::Kick(u) => subscribers::kick(ctx, &u).await,
        Request::Epg => epg::show(ctx).await,
        Request::EpgSource(url) => epg::set_source(ctx, &url).await,
        Request::EpgUpload => epg::upload(ctx, None).await,
        Request::EpgRefresh => epg::refresh(ctx).await,
        Request::EpgMap(channel, id) => epg::map(ctx, &channel, &id).await,
        Request::SyncStatus(decision) => channels::sync_status(ctx, decision).await,
        Request::BulkStart => bulk::start(ctx).await,
        Request::BulkCreate(text) => bulk::create_from_text(ctx, &text).await,
        Request::BulkExtend(days, names) => bulk::extend(ctx, days, names.as_deref()).await,
        Request::Bouquet(target, bouquet) => channels::bouquet(ctx, &target, &bouquet).await,
        Request::Settings(change) => settings::show(ctx, change).await,
        Request::DigestNow => settings::digest_now(ctx).await,
        Request::Broadcast(audience, text) => broadcast::preview(ctx, &audience, &text).await,
    }
}
