//! Message texts (Telegram HTML). Anything a user typed is escaped here.

use chrono::{DateTime, Utc};
use reseller_core::Actor;
use reseller_core::activity::{Happening, LogEntry, Who};
use reseller_core::domain::Permission;
use reseller_core::domain::{Limit, Placeholder};
use reseller_core::ledger::Kind;
use reseller_core::ops::{Command, Outcome, Quote, Refused, Selection, Transferred};
use reseller_core::payments::{PriceSource, PricedPackage, ResellerPricing, format_money};
use reseller_core::queries::Page;
use reseller_core::queries::history::Entry;
use reseller_core::queries::resellers::{ResellerCard, ResellerSummary};
use reseller_core::queries::stats::{Activity, Counts, GlobalStats, Recent, ResellerStats};
use reseller_core::queries::subscribers::{Credentials, Filter, Status, Subscriber};
use reseller_core::queries::templates::Template;
use teloxide::utils::html::escape;

pub(crate) use reseller_core::queries::thousands as credits;

pub(crate) fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) fn not_registered() -> &'static str {
    "Hello! This bot is for registered resellers only, and your Telegram account is not linked to one. \
     If you are a reseller, open the invite link your provider sent you."
}

pub(crate) fn help(actor: &Actor) -> String {
    let reseller = "<b>Subscribers</b>\n\
        /new &lt;days&gt; &lt;username&gt; — create (or /new alone to be guided)\n\
        /trial &lt;username&gt; [hours] — a trial line (24 hours unless you say)\n\
        /users [active|expired|expiring|disabled] [search] — list\n\
        /user &lt;username&gt; — details and actions\n\
        /extend &lt;username&gt; &lt;days&gt; — add days\n\
        /bulk — create many from a list or CSV file; /bulk extend expiring &lt;days&gt; (if allowed)\n\
        /reset &lt;username&gt; — new password and token\n\
        /disable, /enable &lt;username&gt;\n\
        /delete &lt;username&gt;\n\
        /show &lt;username&gt; — credentials again\n\
        /note &lt;username&gt; &lt;text&gt; — notes on a subscriber\n\
        /kick &lt;username&gt; — end their live connections\n\
        /bouquet &lt;username&gt; all|&lt;category, ...&gt; — the channels they get\n\n\
        <b>Account</b>\n\
        /balance — your credits (1 credit = 1 day)\n\
        /history — credit history\n\
        /stats — dashboard\n\
        /report [YYYY-MM] — the month's report; /report chart growth|credits|revenue\n\
        /export subscribers|ledger|summary|orders [YYYY-MM] — CSV files\n\
        /buy — buy credits\n\
        /settings — notifications on/off, low-credit level, time zone\n\
        /brand &lt;panel name&gt; — the name on your credentials (if allowed)\n\
        /brand support &lt;text&gt;, /brand template &lt;text&gt;, /brand preview — your credentials message; placeholders {panel} {username} {password} {expires} {max_connections} {m3u_url} {player_api_url} {support}; a photo captioned /brand logo sets the logo\n\
        /logs [csv] [username|action] [page] — activity log, e.g. /logs extend 2 (if allowed)\n\
        /apikey new|list|revoke &lt;prefix&gt; — keys for the reseller API (if allowed)\n\
        /cancel — stop a guided flow";
    match actor {
        Actor::Reseller(_) => format!(
            "<b>Reseller menu</b>\n\n{reseller}\n\n<b>Sub-resellers</b> (if your account allows)\n\
             /newreseller &lt;username&gt; [display name] — create one and get their invite link\n\
             /subs — your sub-resellers, their balances and subscribers\n\
             /subs &lt;sub-reseller&gt; [page] — their subscribers (read-only)\n\
             /reseller &lt;sub-reseller&gt; — details and permission buttons\n\
             /transfer &lt;sub-reseller&gt; &lt;days&gt; — give them credits; -&lt;days&gt; takes unused ones back\n\
             /suspend, /unsuspend &lt;sub-reseller&gt;\n\
             /perm &lt;sub-reseller&gt; &lt;permission&gt; on|off — never beyond your own"
        ),
        Actor::Admin(_) => format!(
            "<b>Admin menu</b>\n\n<b>Resellers</b>\n\
             /newreseller &lt;username&gt; [display name] [template] — create and get an invite link\n\
             /invite &lt;reseller&gt; — a new invite link\n\
             /resellers — all resellers, sub-resellers indented under their parent\n\
             /reseller &lt;username&gt; — details, permission buttons and templates\n\
             /grant &lt;reseller&gt; &lt;days&gt; [note]\n\
             /deduct &lt;reseller&gt; &lt;days&gt; &lt;reason&gt;\n\
             /history &lt;reseller&gt; — their credit history\n\
             /suspend, /unsuspend &lt;reseller&gt;\n\
             /perm &lt;reseller&gt; &lt;permission&gt; on|off — an override of their template (default removes it)\n\
             /limit &lt;reseller&gt; &lt;limit&gt; &lt;value&gt; — likewise, e.g. max_users 100\n\
             /price &lt;reseller&gt; [&lt;package&gt;] &lt;amount&gt;|&lt;percent&gt;%|reset — their own prices\n\
             /templates — permission templates\n\
             /template add|edit &lt;name&gt; [title] [setting=value ...]\n\
             /template apply &lt;name&gt; &lt;reseller&gt; [reset] — reset clears their overrides\n\
             /template delete &lt;name&gt; — once no reseller is on it\n\
             /panelname &lt;reseller&gt; &lt;panel name&gt; — branding on their credentials\n\
             /stats — global dashboard\n\
             /report [YYYY-MM] — every reseller's month, KPIs and ranking (charts and /export too)\n\
             /channels [import &lt;playlist URL&gt;] — the channel list players get\n\
             /epg [source &lt;XMLTV URL&gt;|refresh|map &lt;channel&gt; &lt;guide id&gt;] — the programme guide\n\
             /bouquet &lt;reseller&gt; all|&lt;category, ...&gt; — what they may sell\n\
             /syncstatus — changes waiting for the external streaming panel\n\
             /packages, /package — credit packages; /refund &lt;order&gt; — refund Stars\n\
             /broadcast all|active|low|template:&lt;name&gt; &lt;text&gt; — message resellers\n\
             /digest now — today's expiry digests not sent yet\n\n\
             {}",
            reseller
                .replace("/balance — your credits (1 credit = 1 day)\n", "")
                .replace("/history — credit history\n", "")
                .replace("/buy — buy credits\n", "")
                .replace(
                    "/bouquet &lt;username&gt; all|&lt;category, ...&gt; — the channels they get\n",
                    ""
                )
                .replace(
                    "/brand &lt;panel name&gt; — the name on your credentials (if allowed)\n",
                    ""
                )
                .replace(
                    "/brand support &lt;text&gt;, /brand template &lt;text&gt;, /brand preview — your credentials message; placeholders {panel} {username} {password} {expires} {max_connections} {m3u_url} {player_api_url} {support}; a photo captioned /brand logo sets the logo\n",
                    ""
                )
                .replace(
                    "/logs [csv] [username|action] [page] — activity log, e.g. /logs extend 2 (if allowed)\n",
                    "/logs [csv] [username|action] [reseller=&lt;name&gt;] [from=YYYY-MM-DD] [to=YYYY-MM-DD] [page] — everyone's activity, e.g. /logs reseller=alice from=2026-11-01 to=2026-11-30\n"
                )
                .replace(
                    "<b>Subscribers</b>",
                    "<b>Your own subscribers</b> (no credits)"
                )
        ),
    }
}

pub(crate) fn quote(q: &Quote) -> String {
    let what = match &q.command {
        Command::CreateSubscriber { username, days } => {
            format!(
                "Create subscriber <b>{}</b> for <b>{days}</b> days?",
                escape(username.as_str())
            )
        }
        Command::CreateTrial { username, hours } => format!(
            "Create trial <b>{}</b> for <b>{}</b> hours?",
            escape(username.as_str()),
            hours.unwrap_or_default()
        ),
        Command::Extend { username, days } => {
            format!(
                "Extend <b>{}</b> by <b>{days}</b> days?",
                escape(username.as_str())
            )
        }
        Command::Reset { username } => format!(
            "Reset <b>{}</b>? A new password and token are generated; the old ones stop working at once.",
            escape(username.as_str())
        ),
        Command::Delete { username } => format!(
            "Delete <b>{}</b> for good? {} paid days left will be lost; credits are not refunded.",
            escape(username.as_str()),
            q.days_lost.unwrap_or(0)
        ),
        Command::Grant {
            reseller,
            days,
            note,
        } => format!(
            "Grant <b>{}</b> credits to <b>{}</b>?{}",
            credits(days.get()),
            escape(reseller.as_str()),
            note.as_deref()
                .map(|n| format!("\nNote: {}", escape(n)))
                .unwrap_or_default()
        ),
        Command::Deduct {
            reseller,
            days,
            note,
        } => format!(
            "Deduct <b>{}</b> credits from <b>{}</b>?\nReason: {}",
            credits(days.get()),
            escape(reseller.as_str()),
            escape(note)
        ),
        Command::BulkCreate { rows, refused } => format!(
            "Create <b>{}</b> subscribers ({} days in all)?{}",
            rows.len(),
            credits(rows.iter().map(|r| r.days.get()).sum()),
            refused_rows(refused)
        ),
        Command::BulkExtend { days, refused, .. } => format!(
            "Extend <b>{}</b> subscribers by <b>{days}</b> days?{}",
            bulk_count(&q.command),
            refused_rows(refused)
        ),
    };
    let mut text = what;
    if q.cost > 0 && !matches!(q.command, Command::Deduct { .. }) {
        text.push_str(&format!("\nCost: {} credits", credits(q.cost)));
    }
    if let (Some(b), Some(a)) = (q.balance, q.balance_after) {
        text.push_str(&format!(
            "\nBalance: {} → <b>{}</b>",
            credits(b),
            credits(a)
        ));
    }
    text
}

/// The lines a bulk card would change.
pub(crate) fn bulk_count(command: &Command) -> usize {
    match command {
        Command::BulkCreate { rows, .. } => rows.len(),
        Command::BulkExtend {
            selection: Selection::Named(names),
            ..
        } => names.len(),
        _ => 1,
    }
}

/// Rows a bulk card shows refused one by one; the rest are counted.
const REFUSED_SHOWN: usize = 15;

/// The refused rows of a bulk card with their reasons, within a message.
fn refused_rows(refused: &[Refused]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let mut text = format!("\n\n⚠️ {} rows refused:", refused.len());
    for r in refused.iter().take(REFUSED_SHOWN) {
        let reason: String = r.reason.chars().take(140).collect();
        text.push_str(&format!(
            "\n• line {} {}: {}",
            r.line,
            escape(&r.row),
            escape(&reason)
        ));
    }
    if refused.len() > REFUSED_SHOWN {
        let lines: Vec<String> = refused[REFUSED_SHOWN..]
            .iter()
            .take(40)
            .map(|r| r.line.to_string())
            .collect();
        text.push_str(&format!(
            "\n…and {} more: lines {}{}",
            refused.len() - REFUSED_SHOWN,
            lines.join(", "),
            if refused.len() > REFUSED_SHOWN + 40 {
                ", …"
            } else {
                ""
            }
        ));
    }
    text
}

/// The playlist and player API links of `c` on the public streaming URL `base`.
fn player_links(base: &url::Url, c: &Credentials) -> (String, String) {
    let link = |path: &str, extra: &[(&str, &str)]| {
        let mut u = base.clone();
        u.set_path(&format!("{}/{path}", base.path().trim_end_matches('/')));
        u.query_pairs_mut()
            .append_pair("username", &c.username)
            .append_pair("password", &c.password)
            .extend_pairs(extra);
        u.to_string()
    };
    (
        link("get.php", &[("type", "m3u_plus"), ("output", "ts")]),
        link("player_api.php", &[]),
    )
}

/// The message a subscriber gets: the reseller's template if they saved one (their text as
/// Telegram HTML, checked when saved; every value escaped), else the standard one.
pub(crate) fn credentials(c: &Credentials, base: &url::Url) -> String {
    let support = c.branding.support.as_deref().unwrap_or_default();
    let Some(template) = &c.branding.template else {
        let support = if support.is_empty() {
            String::new()
        } else {
            format!("\nSupport: {}", escape(support))
        };
        return format!(
            "<b>{}</b>\n\nUsername: <code>{}</code>\nPassword: <code>{}</code>\nExpires: {}\nMax connections: {}{support}",
            escape(&c.brand),
            escape(&c.username),
            escape(&c.password),
            date(c.expires_at),
            c.max_connections
        );
    };
    let (m3u, api) = player_links(base, c);
    template.render(|p| {
        escape(&match p {
            Placeholder::Panel => c.brand.clone(),
            Placeholder::Username => c.username.clone(),
            Placeholder::Password => c.password.clone(),
            Placeholder::Expires => date(c.expires_at),
            Placeholder::MaxConnections => c.max_connections.to_string(),
            Placeholder::M3uUrl => m3u.clone(),
            Placeholder::PlayerApiUrl => api.clone(),
            Placeholder::Support => support.to_string(),
        })
    })
}

/// The result of a confirmed command; `creds`, the rendered credentials, for creations and
/// resets.
pub(crate) fn outcome(o: &Outcome, creds: Option<&str>) -> String {
    let creds = creds.map(|c| format!("\n\n{c}")).unwrap_or_default();
    let balance = |b: Option<i64>| {
        b.map(|b| format!("\nBalance: {}", credits(b)))
            .unwrap_or_default()
    };
    match o {
        Outcome::Bulk(b) => format!(
            "✅ {} {} subscribers.{}{}{}",
            if b.created { "Created" } else { "Extended" },
            b.lines.len(),
            if b.charged > 0 {
                format!("\nCharged: {} credits", credits(b.charged))
            } else {
                String::new()
            },
            balance(b.balance),
            if b.created {
                "\nTheir credentials follow as a CSV file; it holds passwords, so keep it safe."
            } else {
                ""
            }
        ),
        Outcome::Created(c) => format!(
            "✅ {} <b>{}</b> created until {}.{}{}{creds}",
            if c.trial { "Trial" } else { "Subscriber" },
            escape(&c.username),
            if c.trial {
                datetime(c.expires_at)
            } else {
                date(c.expires_at)
            },
            if c.charged > 0 {
                format!("\nCharged: {} credits", credits(c.charged))
            } else {
                String::new()
            },
            balance(c.balance)
        ),
        Outcome::Extended(e) => format!(
            "✅ <b>{}</b> now expires on {}.{}{}",
            escape(&e.username),
            date(e.expires_at),
            if e.charged > 0 {
                format!("\nCharged: {} credits", credits(e.charged))
            } else {
                String::new()
            },
            balance(e.balance)
        ),
        Outcome::Reset(u) => format!("✅ New credentials for <b>{}</b>.{creds}", escape(u)),
        Outcome::Deleted(d) => format!("🗑 Subscriber <b>{}</b> deleted.", escape(&d.username)),
        Outcome::Moved(m) => format!(
            "✅ {} {} credits {} <b>{}</b>.\nTheir balance: {} → <b>{}</b>",
            if m.amount > 0 { "Granted" } else { "Deducted" },
            credits(m.amount.abs()),
            if m.amount > 0 { "to" } else { "from" },
            escape(&m.reseller),
            credits(m.movement.before),
            credits(m.movement.after)
        ),
    }
}

fn status(s: &Subscriber, now: DateTime<Utc>) -> &'static str {
    match s.status(now) {
        Status::Active => "🟢 active",
        Status::Expired => "🔴 expired",
        Status::Disabled => "⚪ disabled",
    }
}

/// Marks a trial wherever a subscriber is shown, so it is not taken for a paid line.
fn trial(s: &Subscriber) -> &'static str {
    if s.is_trial { " (trial)" } else { "" }
}

fn icon(s: &Subscriber, now: DateTime<Utc>) -> &'static str {
    status(s, now).split(' ').next().unwrap_or_default()
}

pub(crate) fn subscriber_card(s: &Subscriber, show_owner: bool) -> String {
    let now = Utc::now();
    let connections = match s.active_connections {
        Some(n) => format!("Connections: {n} of {}", s.max_connections),
        None => format!("Max connections: {}", s.max_connections),
    };
    let mut text = format!(
        "👤 <b>{}</b> — {}{}\nExpires: {} ({} days left)\n{connections}\nCreated: {}",
        escape(&s.username),
        status(s, now),
        trial(s),
        date(s.expires_at),
        s.days_left(now),
        date(s.created_at),
    );
    if let Some(t) = s.last_access_at {
        text.push_str(&format!("\nLast watched: {}", datetime(t)));
    }
    if show_owner {
        let owner = s
            .owner_username
            .as_deref()
            .map_or("admins".to_string(), escape);
        text.push_str(&format!("\nOwner: {owner}"));
    }
    if !s.notes.is_empty() {
        text.push_str(&format!("\nNotes: {}", escape(&s.notes)));
    }
    text
}

pub(crate) fn users_page(p: &Page<Subscriber>, filter: Filter, search: Option<&str>) -> String {
    let mut text = format!("<b>Subscribers</b> — {}", filter.name());
    if let Some(s) = search {
        text.push_str(&format!(", matching “{}”", escape(s)));
    }
    if p.total == 0 {
        text.push_str("\n\nNo subscribers here.");
        return text;
    }
    text.push_str(&format!(
        " — {} in all, page {} of {}\n",
        p.total,
        p.page + 1,
        p.pages()
    ));
    let now = Utc::now();
    for s in &p.items {
        text.push_str(&format!(
            "\n{} <code>{}</code>{} — until {}",
            icon(s, now),
            escape(&s.username),
            trial(s),
            date(s.expires_at)
        ));
    }
    text.push_str("\n\nTap a name for details and actions.");
    text
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Credit => "granted",
        Kind::Debit => "spent",
        Kind::Refund => "refund",
        Kind::Adjustment => "deducted",
        Kind::Bonus => "bonus",
        Kind::Purchase => "purchase",
        Kind::TransferOut => "transferred out",
        Kind::TransferIn => "transferred in",
    }
}

pub(crate) fn history_page(p: &Page<Entry>, whose: Option<&str>) -> String {
    let mut text = match whose {
        Some(w) => format!("<b>Credit history of {}</b>", escape(w)),
        None => "<b>Credit history</b>".to_string(),
    };
    if p.total == 0 {
        text.push_str("\n\nNo credit movements yet.");
        return text;
    }
    text.push_str(&format!(" — page {} of {}\n", p.page + 1, p.pages()));
    for e in &p.items {
        text.push('\n');
        text.push_str(&ledger_line(e));
    }
    text
}

/// One credit movement, as history pages and dashboards list it.
fn ledger_line(e: &Entry) -> String {
    let sign = if e.amount > 0 { "+" } else { "" };
    let mut line = format!(
        "{} <b>{sign}{}</b> {}{} — {} → {}",
        e.created_at.format("%m-%d %H:%M"),
        credits(e.amount),
        kind(e.kind),
        e.subscriber
            .as_deref()
            .map(|s| format!(" ({})", escape(s)))
            .unwrap_or_default(),
        credits(e.balance_before),
        credits(e.balance_after),
    );
    if let Some(n) = e
        .note
        .as_deref()
        .filter(|n| !matches!(*n, "new subscriber" | "extension"))
    {
        line.push_str(&format!(" · {}", escape(n)));
    }
    line
}

fn counts(c: &Counts) -> String {
    format!(
        "Subscribers: <b>{}</b>\n🟢 Active: {}\n🟡 Expiring within a week: {}\n🔴 Expired: {}\n⚪ Disabled: {}\n{}🆕 Created this month: {}",
        c.total,
        c.active,
        c.expiring_soon,
        c.expired,
        c.disabled,
        c.connections
            .map(|n| format!("📺 Connections now: {n}\n"))
            .unwrap_or_default(),
        c.created_this_month
    )
}

fn recent(items: &[Activity]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = items
        .iter()
        .map(|a| {
            format!(
                "{} {}{}",
                a.at.format("%m-%d %H:%M"),
                escape(&a.action),
                a.target
                    .as_deref()
                    .map(|t| format!(" {}", escape(t)))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!("\n\n<b>Recent activity</b>\n{}", lines.join("\n"))
}

pub(crate) fn reseller_stats(s: &ResellerStats) -> String {
    let recent = match &s.recent {
        Recent::Log(items) => recent(items),
        Recent::Credits(items) if items.is_empty() => String::new(),
        Recent::Credits(items) => {
            let lines: Vec<String> = items.iter().map(ledger_line).collect();
            format!("\n\n<b>Recent credit movements</b>\n{}", lines.join("\n"))
        }
    };
    format!(
        "📊 <b>Dashboard</b>\n\n{}\n💰 Balance: <b>{}</b> credits{recent}",
        counts(&s.counts),
        credits(s.balance),
    )
}

pub(crate) fn global_stats(s: &GlobalStats) -> String {
    format!(
        "📊 <b>All resellers</b>\n\nResellers: <b>{}</b> ({} suspended)\nCredits held by resellers: {}\nCredits spent this month: {}\n\n{}{}",
        s.resellers,
        s.suspended_resellers,
        credits(s.outstanding_credits),
        credits(s.spent_this_month),
        counts(&s.counts),
        recent(&s.recent)
    )
}

/// The reseller tree, one page: the admins' overview (everyone) or a parent's sub-resellers,
/// each line indented by its level below the top of the list.
pub(crate) fn resellers(p: &Page<ResellerSummary>, admin: bool) -> String {
    if p.total == 0 {
        return if admin {
            "No resellers yet. Create one with /newreseller &lt;username&gt;.".into()
        } else {
            "You have no sub-resellers yet. Create one with /newreseller &lt;username&gt; (if your account allows it).".into()
        };
    }
    let mut text = format!(
        "<b>{}</b> — {} · page {} of {}\n",
        if admin {
            "Resellers"
        } else {
            "Your sub-resellers"
        },
        credits(p.total),
        p.page + 1,
        p.pages()
    );
    for s in &p.items {
        let r = &s.reseller;
        let indent = "    ".repeat(usize::try_from(s.level).unwrap_or(0));
        let branch = if s.level > 0 { "└ " } else { "" };
        text.push_str(&format!(
            "\n{indent}{branch}{} <code>{}</code> — {} credits, {} subscribers ({} active){}{}",
            if r.active {
                "🟢"
            } else if r.own_active {
                "⏸"
            } else {
                "⛔"
            },
            escape(&r.username),
            credits(r.balance),
            credits(s.subscribers),
            credits(s.active_subscribers),
            if r.active || !r.own_active {
                ""
            } else {
                ", suspended with a reseller above"
            },
            if r.telegram_id.is_none() {
                ", not linked yet"
            } else {
                ""
            }
        ));
    }
    text
}

/// What a transfer did, for the parent who made it.
pub(crate) fn transferred(t: &Transferred) -> String {
    let (verb, dir) = if t.back {
        ("Took back", "from")
    } else {
        ("Transferred", "to")
    };
    format!(
        "✅ {verb} {} credits {dir} <b>{}</b>.\nYour balance: <b>{}</b>; {}'s: <b>{}</b>.",
        credits(t.days),
        escape(&t.subreseller),
        credits(t.balance),
        escape(&t.subreseller),
        credits(t.subreseller_balance)
    )
}

/// A sub-reseller's subscribers, read-only, for their parent.
pub(crate) fn subreseller_users(p: &Page<Subscriber>, sub: &str) -> String {
    let mut text = format!("<b>Subscribers of {}</b> (read-only)", escape(sub));
    if p.total == 0 {
        text.push_str("\n\nNo subscribers yet.");
        return text;
    }
    text.push_str(&format!(
        " — {} in all, page {} of {}\n",
        p.total,
        p.page + 1,
        p.pages()
    ));
    let now = Utc::now();
    for s in &p.items {
        text.push_str(&format!(
            "\n{} <code>{}</code> — until {}",
            icon(s, now),
            escape(&s.username),
            date(s.expires_at)
        ));
    }
    if p.has_next() {
        text.push_str(&format!(
            "\n\nNext page: /subs {} {}",
            escape(sub),
            p.page + 2
        ));
    }
    text
}

fn tick(on: bool) -> &'static str {
    if on { "✅" } else { "❌" }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A reseller's card: their effective settings, their template, and each override with the
/// template's value beside it.
pub(crate) fn reseller_detail(card: &ResellerCard) -> String {
    let s = &card.summary;
    let r = &s.reseller;
    let t = &card.template;
    let o = &card.overrides;
    let perms: Vec<String> = Permission::ALL
        .iter()
        .map(|p| {
            let note = match o.permission(*p) {
                Some(_) => format!(
                    " — <i>override</i> (template: {})",
                    on_off(t.permissions.allows(*p))
                ),
                None => String::new(),
            };
            format!("{} {}{note}", tick(r.permissions.allows(*p)), p.column())
        })
        .collect();
    let limits: Vec<String> = Limit::ALL
        .iter()
        .map(|l| {
            let note = match o.limit(*l) {
                Some(_) => format!(" — <i>override</i> (template: {})", t.limit(*l)),
                None => String::new(),
            };
            format!("{l}: {}{note}", r.limit(*l))
        })
        .collect();
    let overrides = if o.is_empty() {
        "none".to_string()
    } else {
        let names: Vec<String> = o
            .permissions
            .iter()
            .map(|(p, on)| format!("{} {}", p.column(), on_off(*on)))
            .chain(o.limits.iter().map(|(l, v)| format!("{l} {v}")))
            .collect();
        names.join(", ")
    };
    format!(
        "<b>{}</b> ({})\nStatus: {}\nTelegram: {}\nBalance: <b>{}</b> credits\nSubscribers: {} of max {} ({} active)\nPanel name: {}\nCreated: {}\nLast seen: {}\n\nTemplate: <b>{}</b> (<code>{}</code>)\nOverrides: {}\n\n<b>Permissions</b>\n{}\n\n<b>Limits</b>\n{}",
        escape(&r.username),
        escape(&r.display_name),
        if r.active {
            "active"
        } else if r.own_active {
            "suspended with a reseller above them"
        } else {
            "suspended"
        },
        r.telegram_id
            .map_or("not linked yet".to_string(), |id| id.to_string()),
        credits(r.balance),
        s.subscribers,
        r.max_users,
        s.active_subscribers,
        escape(r.brand()),
        date(r.created_at),
        r.last_seen_at.map_or("never".to_string(), datetime),
        escape(&t.title),
        escape(&t.name),
        overrides,
        perms.join("\n"),
        limits.join("\n")
    )
}

/// One template: what it allows and its limits.
pub(crate) fn template(t: &Template) -> String {
    let allowed: Vec<&str> = Permission::ALL
        .iter()
        .filter(|p| t.permissions.allows(**p))
        .map(|p| p.column())
        .collect();
    let limits: Vec<String> = Limit::ALL
        .iter()
        .map(|l| format!("{l} {}", t.limit(*l)))
        .collect();
    format!(
        "<b>{}</b> (<code>{}</code>) — {} reseller{}\nAllows: {}\nLimits: {}\nTrial cost: {} credits; discount: {}",
        escape(&t.title),
        escape(&t.name),
        t.resellers,
        if t.resellers == 1 { "" } else { "s" },
        if allowed.is_empty() {
            "nothing".to_string()
        } else {
            allowed.join(", ")
        },
        limits.join(", "),
        t.trial_cost,
        t.discount
    )
}

pub(crate) fn templates(list: &[Template]) -> String {
    let items: Vec<String> = list.iter().map(template).collect();
    format!(
        "<b>Permission templates</b>\n\n{}\n\nA reseller's override of a setting (/perm, /limit or the buttons on /reseller) holds whatever their template says.",
        items.join("\n\n")
    )
}

pub(crate) fn invite(reseller: &str, link: &str, expires: DateTime<Utc>) -> String {
    format!(
        "Invite for <b>{}</b>:\n{}\n\nSend this link to the reseller; it works once, until {}.",
        escape(reseller),
        escape(link),
        datetime(expires)
    )
}

/// One activity-log entry as a plain sentence: "alice extended john.doe by 30 days,
/// 2026-11-26 14:02". Escape it for HTML.
pub(crate) fn log_sentence(e: &LogEntry) -> String {
    let who = log_actor(&e.who);
    let target = e.target.as_deref().unwrap_or("—");
    let note = |n: &Option<String>| {
        n.as_deref()
            .filter(|n| !n.is_empty())
            .map(|n| format!(" (“{n}”)"))
            .unwrap_or_default()
    };
    let what = match &e.what {
        Happening::Created { days } => format!("created {target} for {days} days"),
        Happening::Trial { hours } => format!("created trial {target} for {hours} hours"),
        Happening::Extended { days } => format!("extended {target} by {days} days"),
        Happening::Reset => format!("reset the password and token of {target}"),
        Happening::Enabled => format!("enabled {target}"),
        Happening::Disabled => format!("disabled {target}"),
        Happening::Deleted { days_left } => {
            format!("deleted {target} ({days_left} paid days left)")
        }
        Happening::Notes => format!("changed the notes on {target}"),
        Happening::Granted {
            credits: c,
            note: n,
        } => {
            format!("granted {} credits to {target}{}", credits(*c), note(n))
        }
        Happening::Deducted {
            credits: c,
            note: n,
        } => {
            format!("deducted {} credits from {target}{}", credits(*c), note(n))
        }
        Happening::ResellerCreated => format!("created reseller {target}"),
        Happening::Suspended => format!("suspended {target}"),
        Happening::Unsuspended => format!("unsuspended {target}"),
        Happening::Setting { setting, value } => format!("set {setting} to {value} for {target}"),
        Happening::Branding { part } => format!(
            "changed the {} of {target}",
            match part.as_str() {
                "panel_name" => "panel name",
                "support" => "support line",
                "template" => "credentials template",
                other => other,
            }
        ),
        Happening::Other { action } => format!("did “{action}” on {target}"),
    };
    format!("{who} {what}, {}", e.at.format("%Y-%m-%d %H:%M"))
}

/// Who made a logged change, in words.
pub(crate) fn log_actor(who: &Who) -> String {
    match who {
        Who::Admin(id) => format!("admin {id}"),
        Who::Reseller(name) => name.clone(),
        Who::System(label) if label.is_empty() => "the system".to_string(),
        Who::System(label) => label.clone(),
    }
}

/// A page of the activity log; `next` is the command for the next page, if any.
pub(crate) fn log_page(page: &Page<LogEntry>, next: Option<String>) -> String {
    if page.items.is_empty() {
        return "📜 No activity matches.".to_string();
    }
    let lines: Vec<String> = page
        .items
        .iter()
        .map(|e| format!("• {}", escape(&log_sentence(e))))
        .collect();
    let more = next
        .map(|n| format!("\nNext page: <code>{}</code>", escape(&n)))
        .unwrap_or_default();
    format!(
        "📜 <b>Activity</b> ({} entries, page {} of {})\n\n{}{more}",
        page.total,
        page.page + 1,
        page.pages(),
        lines.join("\n")
    )
}

/// After a price: why it is not the list price, e.g. “ (list 180.00 USD, 10% off)”.
pub(crate) fn price_note(p: &PricedPackage) -> String {
    if p.source == PriceSource::List {
        return String::new();
    }
    let why = match p.source {
        PriceSource::PackagePrice => "your price".to_string(),
        PriceSource::PackageDiscount(d) | PriceSource::Reseller(d) | PriceSource::Template(d) => {
            format!("{d} off")
        }
        PriceSource::List => String::new(),
    };
    format!(
        " (list {}, {why})",
        format_money(p.package.price_minor, &p.package.currency)
    )
}

/// Where a price comes from, for admins.
fn price_source(s: PriceSource) -> String {
    match s {
        PriceSource::PackagePrice => "own price for this package".into(),
        PriceSource::PackageDiscount(d) => format!("own {d} off this package"),
        PriceSource::Reseller(d) => format!("own {d} off every package"),
        PriceSource::Template(d) => format!("template's {d} off"),
        PriceSource::List => "list price".into(),
    }
}

/// One line for the reseller's card: the rule for every package and any package's own price.
pub(crate) fn pricing_line(p: &ResellerPricing) -> String {
    let every = match p.own_discount {
        Some(d) => format!(
            "{d} off every package (their own; template {}: {})",
            escape(&p.template),
            p.template_discount
        ),
        None if p.template_discount.percent() > 0 => format!(
            "{} off every package (template {})",
            p.template_discount,
            escape(&p.template)
        ),
        None => "list prices".to_string(),
    };
    let own: Vec<String> = p
        .packages
        .iter()
        .filter(|x| {
            matches!(
                x.source,
                PriceSource::PackagePrice | PriceSource::PackageDiscount(_)
            )
        })
        .map(|x| {
            format!(
                "{} {}",
                escape(&x.package.name),
                format_money(x.price_minor, &x.package.currency)
            )
        })
        .collect();
    if own.is_empty() {
        format!("Pricing: {every}")
    } else {
        format!("Pricing: {every}; own prices: {}", own.join(", "))
    }
}

/// `/price <reseller>`: every package at their price, and why.
pub(crate) fn reseller_pricing(p: &ResellerPricing) -> String {
    let lines: Vec<String> = p
        .packages
        .iter()
        .map(|x| {
            let stars = x
                .stars_price
                .map(|s| format!(" or {s} ⭐"))
                .unwrap_or_default();
            format!(
                "• <b>{}</b>: {}{stars} — {} (list {}){}",
                escape(&x.package.name),
                format_money(x.price_minor, &x.package.currency),
                price_source(x.source),
                format_money(x.package.price_minor, &x.package.currency),
                if x.package.active { "" } else { ", disabled" }
            )
        })
        .collect();
    format!(
        "<b>Prices of {}</b>\n{}\n\n{}\n\nFirst match wins: a package's own price or percent, their percent, the template's, the list price. Change: /price {} [&lt;package&gt;] &lt;amount&gt;|&lt;percent&gt;%|reset",
        escape(&p.reseller),
        pricing_line(p),
        lines.join("\n"),
        escape(&p.reseller)
    )
}
