//! The streaming side for admins: `/channels` (import the streaming server's M3U playlist by
//! URL, and see what is there), `/bouquet`, and `/syncstatus` for the external panel's outbox.

use super::{Ctx, HandlerResult};
use reseller_core::CoreError;
use reseller_core::bouquets::Bouquet;
use reseller_core::channels::{BouquetOwner, Imported, parse_m3u};
use reseller_core::domain::Username;
use teloxide::utils::html::escape;

pub(crate) async fn show(ctx: &Ctx) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    let core = &ctx.app.core;
    let (categories, channels) = (
        core.categories_of(reseller_core::catalogue::Kind::Live)
            .await?,
        core.channels(None).await?,
    );
    let (movies, series) = (core.movies(None).await?, core.series(None).await?);
    let mut text = format!(
        "📺 <b>{}</b> channels in <b>{}</b> categories; <b>{}</b> movies and <b>{}</b> series.",
        channels.len(),
        categories.len(),
        movies.len(),
        series.len()
    );
    for c in categories.iter().take(30) {
        let n = channels.iter().filter(|ch| ch.category_id == c.id).count();
        text.push_str(&format!("\n• {} — {n}", escape(&c.name)));
    }
    text.push_str("\n\nImport or refresh with /channels import &lt;playlist URL&gt;.");
    ctx.say(&text).await
}

pub(crate) async fn import(ctx: &Ctx, url: &str) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    let fetched = crate::playlist::fetch(url, &ctx.app.import).await;
    replace_channels(ctx, fetched).await
}

/// `/channels import` as the caption of an uploaded playlist file.
pub(crate) async fn import_file(
    ctx: &Ctx,
    document: Option<&teloxide::types::Document>,
) -> HandlerResult {
    if !ctx.actor.is_admin() {
        return ctx.refuse(&CoreError::AdminOnly).await;
    }
    let Some(document) = document else {
        return ctx
            .say("Send the playlist file with the caption /channels import, or give its URL: /channels import &lt;URL&gt;.")
            .await;
    };
    let fetched = crate::playlist::download(&ctx.bot, document, &ctx.app.import).await;
    replace_channels(ctx, fetched).await
}

/// Parses a fetched playlist and makes it the channel list.
async fn replace_channels(ctx: &Ctx, fetched: Result<String, String>) -> HandlerResult {
    let text = match fetched {
        Ok(t) => t,
        Err(why) => {
            return ctx
                .say(&format!("⚠️ Could not read the playlist: {}", escape(&why)))
                .await;
        }
    };
    let entries = match parse_m3u(&text) {
        Ok(e) => e,
        Err(e) => return ctx.say(&format!("⚠️ {}", escape(&e.0))).await,
    };
    match ctx.app.core.import_channels(&ctx.actor, &entries).await {
        Ok(done) => ctx.say(&import_report(&done)).await,
        Err(e) => ctx.refuse(&e).await,
    }
}

/// Room for the list of narrowed bouquets, well under Telegram's 4,096 characters.
const REPORT_BUDGET: usize = 3_500;

/// What an import did, and which bouquets lost categories (their owners may now see less, or
/// nothing), so the admin can choose again.
fn import_report(done: &Imported) -> String {
    let mut text = format!(
        "✅ Imported {} channels in {} categories; {} channels no longer in the playlist were removed.\n🎬 {} movies and {} episodes of {} series.",
        done.channels, done.categories, done.removed, done.movies, done.episodes, done.series
    );
    if done.narrowed.is_empty() {
        return text;
    }
    text.push_str(&format!(
        "\n\n⚠️ {} bouquets lost categories that are no longer in the playlist:",
        done.narrowed.len()
    ));
    for (shown, n) in done.narrowed.iter().enumerate() {
        let (kind, who) = match &n.owner {
            BouquetOwner::Reseller(u) => ("reseller", u),
            BouquetOwner::Subscriber(u) => ("subscriber", u),
        };
        let lost: Vec<String> = n.lost.iter().map(|c| escape(&short(c))).collect();
        let left = if n.left == 0 {
            "nothing left: no channels until you choose again".to_string()
        } else {
            format!("{} categories left", n.left)
        };
        let line = format!(
            "\n• {kind} <b>{}</b> lost {} — {left}",
            escape(who),
            lost.join(", ")
        );
        if text.len() + line.len() > REPORT_BUDGET {
            text.push_str(&format!("\n…and {} more.", done.narrowed.len() - shown));
            break;
        }
        text.push_str(&line);
    }
    text.push_str("\n\nChoose again with /bouquet &lt;name&gt; &lt;categories&gt; or all.");
    text
}

/// A category name cut to a length that fits a list line.
fn short(name: &str) -> String {
    const MAX: usize = 60;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// `/bouquet`: admins choose what a reseller may sell, resellers what a subscriber gets.
pub(crate) async fn bouquet(ctx: &Ctx, target: &Username, bouquet: &Bouquet) -> HandlerResult {
    let result = if ctx.actor.is_admin() {
        ctx.app
            .core
            .set_reseller_bouquet(&ctx.actor, target, bouquet)
            .await
    } else {
        ctx.app
            .core
            .set_subscriber_bouquet(&ctx.actor, target, bouquet)
            .await
    };
    match result {
        Ok(0) => {
            ctx.say(&format!(
                "✅ <b>{target}</b> now gets every category allowed."
            ))
            .await
        }
        Ok(n) => {
            ctx.say(&format!("✅ <b>{target}</b> now gets {n} categories."))
                .await
        }
        Err(e) => ctx.refuse(&e).await,
    }
}

/// `/syncstatus`: jobs waiting, retrying or failed towards the external panel; retry or drop one.
pub(crate) async fn sync_status(ctx: &Ctx, decision: Option<(bool, i64)>) -> HandlerResult {
    if let Some((retry, id)) = decision {
        return match ctx.app.core.sync_decide(&ctx.actor, id, retry).await {
            Ok(()) => {
                ctx.say(&format!(
                    "✅ Job {id} {}.",
                    if retry {
                        "will be sent again now"
                    } else {
                        "dropped"
                    }
                ))
                .await
            }
            Err(e) => ctx.refuse(&e).await,
        };
    }
    let jobs = match ctx.app.core.sync_status(&ctx.actor).await {
        Ok(j) => j,
        Err(e) => return ctx.refuse(&e).await,
    };
    if jobs.is_empty() {
        return ctx
            .say("✅ Nothing waiting: every change reached the streaming panel.")
            .await;
    }
    ctx.say(&sync_status_text(&jobs)).await
}

/// Each stored error is shown up to this many characters (it is the panel's wording).
const SHOWN_ERROR_CHARS: usize = 200;
/// Room for the listing within Telegram's 4,096 characters, with margin for what Telegram
/// counts twice (characters outside the basic plane).
const SYNC_STATUS_BUDGET: usize = 3_500;

/// The `/syncstatus` listing, newest first: every stored string escaped, each error cut short,
/// and the jobs that do not fit counted instead of shown.
fn sync_status_text(jobs: &[reseller_core::sync::JobSummary]) -> String {
    let footer = "\n\n/syncstatus retry &lt;job&gt; sends one again now; /syncstatus drop &lt;job&gt; gives up on it.";
    let mut text = String::from("<b>Sync to the streaming panel</b>\n");
    let mut shown = 0;
    for j in jobs {
        let error = j
            .last_error
            .as_deref()
            .map(|e| {
                let cut: String = e.chars().take(SHOWN_ERROR_CHARS).collect();
                let more = if cut.len() < e.len() { "…" } else { "" };
                format!(": {}{more}", escape(&cut))
            })
            .unwrap_or_default();
        let line = format!(
            "\n#{} {} <code>{}</code> — {} after {} attempts{error}",
            j.id,
            escape(&j.kind),
            escape(&j.username),
            escape(&j.status),
            j.attempts,
        );
        if text.chars().count() + line.chars().count() + footer.chars().count() > SYNC_STATUS_BUDGET
        {
            break;
        }
        text.push_str(&line);
        shown += 1;
    }
    if shown < jobs.len() {
        text.push_str(&format!(
            "\n… and {} older jobs not shown: retry or drop these first.",
            jobs.len() - shown
        ));
    }
    text.push_str(footer);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reseller_core::sync::JobSummary;

    fn job(id: i64, error: &str) -> JobSummary {
        JobSummary {
            id,
            kind: "create".into(),
            username: "<b>x</b>".into(),
            status: "failed".into(),
            attempts: 1,
            last_error: Some(error.into()),
        }
    }

    #[test]
    fn the_listing_fits_one_message_and_escapes_what_was_stored() {
        let long = format!("<html>{}</html>", "é".repeat(5_000));
        let jobs: Vec<JobSummary> = (1..=30).rev().map(|id| job(id, &long)).collect();
        let text = sync_status_text(&jobs);
        assert!(
            text.chars().count() <= 4_096,
            "{} characters",
            text.chars().count()
        );
        assert!(
            text.contains("#30 create <code>&lt;b&gt;x&lt;/b&gt;</code>"),
            "{text}"
        );
        assert!(!text.contains("<html>") && !text.contains("<b>x"), "{text}");
        assert!(text.contains("older jobs not shown"), "{text}");
    }
}
