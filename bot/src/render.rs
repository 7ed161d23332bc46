//! Message texts (Telegram HTML). Anything a user typed is escaped here.

use chrono::{DateTime, Utc};
use reseller_core::Actor;
use reseller_core::domain::Limit;
use reseller_core::domain::Permission;
use reseller_core::ledger::Kind;
use reseller_core::ops::{Command, Outcome, Quote};
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
        /buy — buy credits\n\
        /brand &lt;panel name&gt; — the name on your credentials (if allowed)\n\
        /apikey new|list|revoke &lt;prefix&gt; — keys for the reseller API (if allowed)\n\
        /cancel — stop a guided flow";
    match actor {
        Actor::Reseller(_) => format!("<b>Reseller menu</b>\n\n{reseller}"),
        Actor::Admin(_) => format!(
            "<b>Admin menu</b>\n\n<b>Resellers</b>\n\
             /newreseller &lt;username&gt; [display name] [template] — create and get an invite link\n\
             /invite &lt;reseller&gt; — a new invite link\n\
             /resellers — all resellers\n\
             /reseller &lt;username&gt; — details, permission buttons and templates\n\
             /grant &lt;reseller&gt; &lt;days&gt; [note]\n\
             /deduct &lt;reseller&gt; &lt;days&gt; &lt;reason&gt;\n\
             /history &lt;reseller&gt; — their credit history\n\
             /suspend, /unsuspend &lt;reseller&gt;\n\
             /perm &lt;reseller&gt; &lt;permission&gt; on|off — an override of their template\n\
             /limit &lt;reseller&gt; &lt;limit&gt; &lt;value&gt; — likewise, e.g. max_users 100\n\
             /templates — permission templates\n\
             /template add|edit &lt;name&gt; [title] [setting=value ...]\n\
             /template apply &lt;name&gt; &lt;reseller&gt; [reset] — reset clears their overrides\n\
             /panelname &lt;reseller&gt; &lt;panel name&gt; — branding on their credentials\n\
             /stats — global dashboard\n\
             /channels [import &lt;playlist URL&gt;] — the channel list players get\n\
             /epg [source &lt;XMLTV URL&gt;|refresh|map &lt;channel&gt; &lt;guide id&gt;] — the programme guide\n\
             /bouquet &lt;reseller&gt; all|&lt;category, ...&gt; — what they may sell\n\
             /syncstatus — changes waiting for the external streaming panel\n\
             /packages, /package — credit packages; /refund &lt;order&gt; — refund Stars\n\n\
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

pub(crate) fn credentials(c: &Credentials) -> String {
    format!(
        "<b>{}</b>\n\nUsername: <code>{}</code>\nPassword: <code>{}</code>\nExpires: {}\nMax connections: {}",
        escape(&c.brand),
        escape(&c.username),
        escape(&c.password),
        date(c.expires_at),
        c.max_connections
    )
}

/// The result of a confirmed command; `creds` for creations and resets.
pub(crate) fn outcome(o: &Outcome, creds: Option<&Credentials>) -> String {
    let creds = creds
        .map(|c| format!("\n\n{}", credentials(c)))
        .unwrap_or_default();
    let balance = |b: Option<i64>| {
        b.map(|b| format!("\nBalance: {}", credits(b)))
            .unwrap_or_default()
    };
    match o {
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
        "👤 <b>{}</b> — {}\nExpires: {} ({} days left)\n{connections}\nCreated: {}",
        escape(&s.username),
        status(s, now),
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
            "\n{} <code>{}</code> — until {}",
            icon(s, now),
            escape(&s.username),
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

pub(crate) fn resellers(p: &Page<ResellerSummary>) -> String {
    if p.total == 0 {
        return "No resellers yet. Create one with /newreseller &lt;username&gt;.".into();
    }
    let mut text = format!(
        "<b>Resellers</b> — {} · page {} of {}\n",
        credits(p.total),
        p.page + 1,
        p.pages()
    );
    for s in &p.items {
        let r = &s.reseller;
        text.push_str(&format!(
            "\n{} <code>{}</code> — {} credits, {} subscribers ({} active){}",
            if r.active { "🟢" } else { "⛔" },
            escape(&r.username),
            credits(r.balance),
            credits(s.subscribers),
            credits(s.active_subscribers),
            if r.telegram_id.is_none() {
                ", not linked yet"
            } else {
                ""
            }
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
        if r.active { "active" } else { "suspended" },
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
        "<b>{}</b> (<code>{}</code>) — {} reseller{}\nAllows: {}\nLimits: {}",
        escape(&t.title),
        escape(&t.name),
        t.resellers,
        if t.resellers == 1 { "" } else { "s" },
        if allowed.is_empty() {
            "nothing".to_string()
        } else {
            allowed.join(", ")
        },
        limits.join(", ")
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
