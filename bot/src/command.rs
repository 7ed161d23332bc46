//! The one-line commands, parsed once into typed requests. A malformed command becomes a sentence
//! saying what was wrong and how to write it.

use reseller_core::activity::LogFilter;
use reseller_core::broadcast::Audience;
use reseller_core::domain::CredentialsTemplate;
use reseller_core::domain::Discount;
use reseller_core::domain::{
    Days, Label, Limit, LimitValue, ParseError, Permission, Setting, TemplateName, Username,
    parse_switch, shorten,
};
use reseller_core::payments::{NewPackage, PriceChange};
use reseller_core::queries::subscribers::{Filter, parse_filter};
use reseller_core::reports::{Chart, Export, Month};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Start(Option<String>),
    Help,
    Cancel,
    Stats,
    Balance,
    History(Option<Username>),
    /// `None`: start the guided flow.
    New(Option<(Days, Username)>),
    Users {
        filter: Filter,
        search: Option<String>,
    },
    User(Username),
    /// `/trial <username> [hours]`: hours as typed; core checks the range.
    Trial(Username, Option<i64>),
    Extend(Username, Days),
    Reset(Username),
    Disable(Username),
    Enable(Username),
    Delete(Username),
    Show(Username),
    Note(Username, Label),
    /// A reseller names their own panel.
    Brand(Label),
    /// An admin names a reseller's panel.
    PanelName(Username, Label),
    /// `/brand logo` as the caption of a photo.
    BrandLogo,
    /// `/brand support <text>`.
    BrandSupport(Label),
    /// `/brand template <text>`, line breaks kept.
    BrandTemplate(CredentialsTemplate),
    /// `/brand preview`: what a subscriber gets.
    BrandPreview,
    /// `/logs [csv] [filters] [page]`; `page` zero-based; `words`, the filters as typed.
    Logs {
        filter: LogFilter,
        page: i64,
        csv: bool,
        words: String,
    },
    /// The last word of `rest` may name a template: the handler asks core which ones exist.
    NewReseller {
        username: Username,
        rest: Option<String>,
    },
    Templates,
    /// `/template add|edit <name> [title] [setting=value ...]`.
    SaveTemplate {
        add: bool,
        name: TemplateName,
        title: Option<Label>,
        settings: Vec<Setting>,
    },
    /// `/template delete <name>`.
    DeleteTemplate(TemplateName),
    /// `/template apply <name> <reseller> [reset]`.
    ApplyTemplate {
        name: TemplateName,
        reseller: Username,
        reset: bool,
    },
    Invite(Username),
    Buy,
    Packages,
    SavePackage(NewPackage),
    PackageActive(String, bool),
    /// An admin refunds a Stars order.
    Refund(String),
    Channels,
    ImportChannels(String),
    /// `/epg`, `/epg source <URL>`, `/epg refresh`, `/epg map <channel name> <guide id>`.
    Epg,
    EpgSource(String),
    /// `/epg source` as the caption of an uploaded XMLTV file.
    EpgUpload,
    EpgRefresh,
    EpgMap(String, String),
    /// `/channels import` as the caption of an uploaded playlist file.
    ImportUploadedChannels,
    Kick(Username),
    /// `/bulk` (or `/bulk create`) alone: the list comes next.
    BulkStart,
    /// `/bulk [create]` followed by the list's lines.
    BulkCreate(String),
    /// `/bulk extend expiring <days>` (`None`) or `/bulk extend <days> <usernames>`.
    BulkExtend(Days, Option<String>),
    /// `/syncstatus`, or `/syncstatus retry|drop <job>`.
    SyncStatus(Option<(bool, i64)>),
    /// Admins: a reseller's sellable categories; resellers: a subscriber's.
    Bouquet(Username, reseller_core::bouquets::Bouquet),
    Resellers,
    Reseller(Username),
    Grant {
        reseller: Username,
        days: Days,
        note: Option<String>,
    },
    Deduct {
        reseller: Username,
        days: Days,
        note: String,
    },
    Suspend(Username),
    Unsuspend(Username),
    Perm {
        reseller: Username,
        permission: Permission,
        on: bool,
    },
    Limit {
        reseller: Username,
        limit: Limit,
        value: LimitValue,
    },
    /// `/transfer <sub-reseller> <days>`, or `-<days>` to take unused credits back.
    Transfer {
        sub: Username,
        days: Days,
        back: bool,
    },
    /// `/subs`: the asker's sub-resellers; `/subs <sub-reseller> [page]`: their subscribers.
    Subs(Option<(Username, i64)>),
    /// `/perm <reseller> <permission> default`: back to the template's value.
    PermDefault {
        reseller: Username,
        permission: Permission,
    },
    /// `/limit <reseller> <limit> default`.
    LimitDefault {
        reseller: Username,
        limit: Limit,
    },
    /// `/price <reseller> [package] [amount|percent%|reset]`; no change: show their prices.
    Price {
        reseller: Username,
        package: Option<String>,
        change: Option<PriceChange>,
    },
    /// `/report [YYYY-MM]`: the month's report, the current month by default.
    Report(Option<Month>),
    /// `/report chart growth|credits|revenue`.
    ReportChart(Chart),
    /// `/export subscribers|ledger|summary|orders [YYYY-MM]`.
    Export(Export, Option<Month>),
    /// `/settings` (or `/notifications`): the notification settings; with a change to make.
    Settings(Option<SettingsChange>),
    /// `/digest now`: today's digests not queued yet.
    DigestNow,
    /// `/broadcast <audience> <text>`: a preview to confirm.
    Broadcast(Audience, String),
    /// `/apikey new|list|revoke <prefix>`: keys for the reseller API.
    ApiKey(ApiKeyRequest),
}

/// A change typed after `/settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SettingsChange {
    /// The low-credit alert level, as typed; core checks the range.
    LowCredit(i64),
    TimeZone(String),
}

/// `/apikey new`, `/apikey list`, `/apikey revoke <prefix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiKeyRequest {
    New,
    List,
    Revoke(String),
}

/// Turns a parse error into the error plus the usage line.
fn usage(u: &'static str) -> impl Fn(ParseError) -> String {
    move |e| format!("{e}\nUsage: {u}")
}

/// Parses a message. `None` when it is not a command (plain text, for a conversation).
pub(crate) fn parse(text: &str, bot_username: &str) -> Option<Result<Request, String>> {
    let text = text.trim();
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = match head.split_once('@') {
        Some((name, to)) if to.eq_ignore_ascii_case(bot_username) => name,
        Some(_) => return None,
        None => head,
    };
    let name = name.to_ascii_lowercase();
    if name == "brand" {
        return Some(parse_brand(args));
    }
    if name.eq_ignore_ascii_case("broadcast") {
        // The text keeps its line breaks, so it is read whole rather than word by word.
        return Some(parse_broadcast(args));
    }
    if name.eq_ignore_ascii_case("bulk") {
        // Lines matter here: the list follows the command in the same message.
        return Some(parse_bulk(args));
    }
    let args: Vec<&str> = args.split_whitespace().collect();
    Some(parse_command(&name, &args))
}

const BRAND_USAGE: &str = "/brand <panel name>, /brand support <text>, /brand template <text with {placeholders}>, /brand preview, or send a photo with the caption /brand logo";

/// `/brand ...`, from the raw text after the command: a template keeps its line breaks.
fn parse_brand(raw: &str) -> Result<Request, String> {
    let u = BRAND_USAGE;
    let raw = raw.trim();
    let (first, rest) = raw.split_once(char::is_whitespace).unwrap_or((raw, ""));
    Ok(match first.to_ascii_lowercase().as_str() {
        "preview" if rest.trim().is_empty() => Request::BrandPreview,
        "logo" if rest.trim().is_empty() => Request::BrandLogo,
        "support" => Request::BrandSupport(
            Label::parse(rest, "A support line", reseller_core::ops::SUPPORT_MAX)
                .map_err(usage(u))?,
        ),
        "template" => Request::BrandTemplate(CredentialsTemplate::parse(rest).map_err(usage(u))?),
        _ => Request::Brand(Label::parse(raw, "A panel name", 64).map_err(usage(u))?),
    })
}

const LOGS_USAGE: &str = "/logs [csv] [username|action] [reseller=<name>] [action=<action>] [from=YYYY-MM-DD] [to=YYYY-MM-DD] [page], e.g. /logs extend 2";

/// `/logs`: `csv` first for the file, a page number last.
fn parse_logs(args: &[&str]) -> Result<Request, String> {
    let (csv, args) = match args.split_first() {
        Some((first, rest)) if first.eq_ignore_ascii_case("csv") => (true, rest),
        _ => (false, args),
    };
    let (page, args) = match args.split_last() {
        Some((last, rest)) if !csv && last.chars().all(|c| c.is_ascii_digit()) => {
            match last.parse::<i64>() {
                Ok(n) if n >= 1 => (n - 1, rest),
                _ => {
                    return Err(format!(
                        "Pages start at 1; you gave {last}.\nUsage: {LOGS_USAGE}"
                    ));
                }
            }
        }
        _ => (0, args),
    };
    Ok(Request::Logs {
        filter: LogFilter::parse(args).map_err(usage(LOGS_USAGE))?,
        page,
        csv,
        words: args.join(" "),
    })
}

fn parse_command(name: &str, args: &[&str]) -> Result<Request, String> {
    let user = |u: &'static str| {
        let usage = usage(u);
        move |args: &[&str]| match args {
            [name] => Username::parse(name).map_err(&usage),
            _ => Err(format!("Usage: {u}")),
        }
    };
    let rest = |args: &[&str]| Some(args.join(" ")).filter(|s| !s.is_empty());
    Ok(match name {
        "start" => Request::Start(args.first().map(|s| s.to_string())),
        "help" | "menu" => Request::Help,
        "cancel" => Request::Cancel,
        "stats" => Request::Stats,
        "report" => {
            let u = "/report [YYYY-MM], or /report chart growth|credits|revenue";
            let month = |m: &str| Month::parse(m).map_err(|e| format!("{e}\nUsage: {u}"));
            match args {
                [] => Request::Report(None),
                ["chart", kind] => Request::ReportChart(Chart::parse(kind).map_err(|e| format!("{e}\nUsage: {u}"))?),
                [m] => Request::Report(Some(month(m)?)),
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "export" => {
            let u = "/export subscribers|ledger|summary|orders [YYYY-MM]";
            let what = |w: &str| Export::parse(w).map_err(|e| format!("{e}\nUsage: {u}"));
            match args {
                [w] => Request::Export(what(w)?, None),
                [w, m] => Request::Export(what(w)?, Some(Month::parse(m).map_err(|e| format!("{e}\nUsage: {u}"))?)),
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "balance" => Request::Balance,
        "history" => match args {
            [] => Request::History(None),
            [r] => Request::History(Some(Username::parse(r).map_err(usage("/history [reseller]"))?)),
            _ => return Err("Usage: /history [reseller]".into()),
        },
        "new" => match args {
            [] => Request::New(None),
            [days, name] => {
                let u = "/new <days> <username>, e.g. /new 30 john.doe";
                Request::New(Some((Days::parse(days).map_err(usage(u))?, Username::parse(name).map_err(usage(u))?)))
            }
            _ => return Err("Usage: /new <days> <username>, e.g. /new 30 john.doe — or /new alone to be guided.".into()),
        },
        "users" => {
            let (filter, search) = match args.split_first() {
                Some((first, more)) if Filter::parse(first).is_some() => {
                    (parse_filter(first).map_err(|e| e.to_string())?, rest(more))
                }
                _ => (Filter::All, rest(args)),
            };
            // The search is shown back at the head of the list.
            let u = "/users [active|expired|expiring|disabled] [search]";
            let search = search
                .map(|s| Label::parse(&s, "A search", 64).map(|l| l.as_str().to_string()))
                .transpose()
                .map_err(usage(u))?;
            Request::Users { filter, search }
        }
        "user" => Request::User(user("/user <username>")(args)?),
        "trial" => {
            let u = "/trial <username> [hours], e.g. /trial john.doe 24";
            match args {
                [name] => Request::Trial(Username::parse(name).map_err(usage(u))?, None),
                [name, hours] => Request::Trial(
                    Username::parse(name).map_err(usage(u))?,
                    Some(hours.parse().map_err(|_| format!("The hours must be a whole number; you gave {hours}. Usage: {u}"))?),
                ),
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "extend" => match args {
            [name, days] => {
                let u = "/extend <username> <days>, e.g. /extend john.doe 30";
                Request::Extend(Username::parse(name).map_err(usage(u))?, Days::parse(days).map_err(usage(u))?)
            }
            _ => return Err("Usage: /extend <username> <days>, e.g. /extend john.doe 30".into()),
        },
        "reset" => Request::Reset(user("/reset <username>")(args)?),
        "disable" => Request::Disable(user("/disable <username>")(args)?),
        "enable" => Request::Enable(user("/enable <username>")(args)?),
        "delete" => Request::Delete(user("/delete <username>")(args)?),
        "show" => Request::Show(user("/show <username>")(args)?),
        "note" => {
            let u = "/note <username> <text>";
            match args.split_first() {
                Some((name, text)) => Request::Note(
                    Username::parse(name).map_err(usage(u))?,
                    Label::parse(&text.join(" "), "A note", 500).map_err(usage(u))?,
                ),
                None => return Err(format!("Usage: {u}")),
            }
        }
        "logs" => parse_logs(args)?,
        "panelname" => {
            let u = "/panelname <reseller> <panel name>";
            match args.split_first() {
                Some((r, name)) => Request::PanelName(
                    Username::parse(r).map_err(usage(u))?,
                    Label::parse(&name.join(" "), "A panel name", 64).map_err(usage(u))?,
                ),
                None => return Err(format!("Usage: {u}")),
            }
        }
        "buy" => Request::Buy,
        "packages" => Request::Packages,
        "package" => {
            let u = "/package add|edit <name> <credits> <price> <currency> [stars], or /package disable|enable <name>";
            match args {
                [op, name, credits, price, currency, stars @ ..] if matches!(*op, "add" | "edit") && stars.len() <= 1 => {
                    Request::SavePackage(NewPackage::parse(name, credits, price, currency, stars.first().copied()).map_err(usage(u))?)
                }
                [op, name] if matches!(*op, "disable" | "enable") => Request::PackageActive(name.to_string(), *op == "enable"),
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "bouquet" => match args.split_first() {
            Some((name, rest)) if !rest.is_empty() => Request::Bouquet(
                Username::parse(name).map_err(usage("/bouquet <name> all|<category, category, ...>"))?,
                reseller_core::bouquets::Bouquet::parse(&rest.join(" ")),
            ),
            _ => return Err("Usage: /bouquet <name> all|<category, category, ...>".into()),
        },
        "syncstatus" => match args {
            [] => Request::SyncStatus(None),
            [op @ ("retry" | "drop"), id] => match id.parse::<i64>() {
                Ok(id) if id > 0 => Request::SyncStatus(Some((*op == "retry", id))),
                _ => return Err(format!("“{}” is not a job number.", shorten(id))),
            },
            _ => return Err("Usage: /syncstatus, or /syncstatus retry|drop <job number>".into()),
        },
        "kick" => Request::Kick(user("/kick <username>")(args)?),
        "channels" => match args {
            [] => Request::Channels,
            ["import", url] => Request::ImportChannels(url.to_string()),
            ["import"] => Request::ImportUploadedChannels,
            _ => return Err("Usage: /channels, or /channels import <playlist URL> (or send the playlist file with the caption /channels import)".into()),
        },
        "epg" => match args {
            [] => Request::Epg,
            ["source", url] => Request::EpgSource(url.to_string()),
            ["source"] => Request::EpgUpload,
            ["refresh"] => Request::EpgRefresh,
            ["map", name @ .., id] if !name.is_empty() => Request::EpgMap(name.join(" "), id.to_string()),
            _ => return Err("Usage: /epg, /epg source <XMLTV URL> (or send the file with the caption /epg source), /epg refresh, or /epg map <channel name> <guide channel id>".into()),
        },
        "refund" => match args {
            [order] if order.starts_with("ord_") => Request::Refund(order.to_string()),
            _ => return Err("Usage: /refund <order id>, e.g. /refund ord_AbC123".into()),
        },
        "newreseller" => match args.split_first() {
            Some((name, more)) => Request::NewReseller {
                username: Username::parse(name).map_err(usage("/newreseller <username> [display name] [template]"))?,
                rest: rest(more),
            },
            None => return Err("Usage: /newreseller <username> [display name] [template]".into()),
        },
        "templates" => Request::Templates,
        "template" => parse_template(args)?,
        "invite" => Request::Invite(user("/invite <reseller>")(args)?),
        "resellers" => Request::Resellers,
        "reseller" => Request::Reseller(user("/reseller <username>")(args)?),
        "grant" => {
            let u = "/grant <reseller> <days> [note]";
            match args {
                [r, days, note @ ..] => Request::Grant {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    days: Days::parse(days).map_err(usage(u))?,
                    note: rest(note),
                },
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "deduct" => {
            let u = "/deduct <reseller> <days> <reason>";
            match args {
                [r, days, note @ ..] => Request::Deduct {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    days: Days::parse(days).map_err(usage(u))?,
                    note: rest(note).ok_or_else(|| format!("Give a reason for the deduction.\nUsage: {u}"))?,
                },
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "suspend" => Request::Suspend(user("/suspend <reseller>")(args)?),
        "unsuspend" => Request::Unsuspend(user("/unsuspend <reseller>")(args)?),
        "perm" => {
            let u = "/perm <reseller> <permission> on|off|default";
            match args {
                [r, p, d] if d.eq_ignore_ascii_case("default") => Request::PermDefault {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    permission: Permission::parse(p).map_err(usage(u))?,
                },
                [r, p, state] => Request::Perm {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    permission: Permission::parse(p).map_err(usage(u))?,
                    on: parse_switch(state).map_err(usage(u))?,
                },
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "limit" => {
            let u = "/limit <reseller> max_users|max_connections_per_user|trial_quota|subreseller_depth <value>|default";
            match args {
                [r, l, d] if d.eq_ignore_ascii_case("default") => Request::LimitDefault {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    limit: Limit::parse(l).map_err(usage(u))?,
                },
                [r, l, v] => {
                    let limit = Limit::parse(l).map_err(usage(u))?;
                    Request::Limit {
                        reseller: Username::parse(r).map_err(usage(u))?,
                        limit,
                        value: limit.value(v).map_err(usage(u))?,
                    }
                }
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "transfer" => {
            let u = "/transfer <sub-reseller> <days>, or -<days> to take unused credits back";
            match args {
                [sub, amount] => {
                    let (back, days) = match amount.strip_prefix('-') {
                        Some(d) => (true, d),
                        None => (false, *amount),
                    };
                    Request::Transfer {
                        sub: Username::parse(sub).map_err(usage(u))?,
                        days: Days::parse(days).map_err(usage(u))?,
                        back,
                    }
                }
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "settings" | "notifications" => {
            let u = "/settings, /settings lowcredit <credits>, /settings timezone <zone, e.g. Europe/Berlin>";
            match args {
                [] => Request::Settings(None),
                [what, credits] if what.eq_ignore_ascii_case("lowcredit") => {
                    let credits = credits
                        .parse()
                        .map_err(|_| format!("“{}” is not a number of credits.\nUsage: {u}", shorten(credits)))?;
                    Request::Settings(Some(SettingsChange::LowCredit(credits)))
                }
                [what, zone] if what.eq_ignore_ascii_case("timezone") || what.eq_ignore_ascii_case("tz") => {
                    Request::Settings(Some(SettingsChange::TimeZone(zone.to_string())))
                }
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "subs" => {
            let u = "/subs, or /subs <sub-reseller> [page]";
            match args {
                [] => Request::Subs(None),
                [sub] => Request::Subs(Some((Username::parse(sub).map_err(usage(u))?, 0))),
                [sub, page] => match page.parse::<i64>() {
                    Ok(n) if n >= 1 => Request::Subs(Some((Username::parse(sub).map_err(usage(u))?, n - 1))),
                    _ => return Err(format!("“{}” is not a page number.\nUsage: {u}", shorten(page))),
                },
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "price" => parse_price(args)?,
        "digest" => match args {
            [now] if now.eq_ignore_ascii_case("now") => Request::DigestNow,
            _ => return Err("Usage: /digest now".into()),
        },
        "apikey" => match args {
            ["new"] => Request::ApiKey(ApiKeyRequest::New),
            [] | ["list"] => Request::ApiKey(ApiKeyRequest::List),
            ["revoke", prefix] => Request::ApiKey(ApiKeyRequest::Revoke(prefix.to_string())),
            _ => return Err("Usage: /apikey new, /apikey list, or /apikey revoke <prefix>".into()),
        },
        other => return Err(format!("I don't know the command /{}. Send /help for the list.", shorten(other))),
    })
}

const TEMPLATE_USAGE: &str = "/template add|edit <name> [title] [setting=value ...], e.g. /template add gold Gold reseller can_delete_users=on max_users=1000 trial_cost=1 discount=10%; /template apply <name> <reseller> [reset]; or /template delete <name>";

const PRICE_USAGE: &str = "/price <reseller> [<package>] <amount>|<percent>%|reset, e.g. /price bob Business 150.00, /price bob 10%; or /price <reseller> for their prices";

/// `/price bob`, `/price bob 10%`, `/price bob reset`, `/price bob Business 150.00|20%|reset`.
/// A package name may have spaces: it is every word between the reseller and the last one.
fn parse_price(args: &[&str]) -> Result<Request, String> {
    let u = PRICE_USAGE;
    let change = |w: &str| -> Result<PriceChange, String> {
        if w.eq_ignore_ascii_case("reset") {
            Ok(PriceChange::Reset)
        } else if w.ends_with('%') {
            Ok(PriceChange::Percent(Discount::parse(w).map_err(usage(u))?))
        } else {
            Ok(PriceChange::Amount(w.to_string()))
        }
    };
    let (reseller, package, change) = match args {
        [] => return Err(format!("Usage: {u}")),
        [r] => (r, None, None),
        [r, w] if w.eq_ignore_ascii_case("reset") || w.ends_with('%') => {
            (r, None, Some(change(w)?))
        }
        [_, w] => {
            return Err(format!(
                "Give a price, a percent or reset after “{}”.\nUsage: {u}",
                shorten(w)
            ));
        }
        [r, package @ .., w] => (r, Some(package.join(" ")), Some(change(w)?)),
    };
    Ok(Request::Price {
        reseller: Username::parse(reseller).map_err(usage(u))?,
        package,
        change,
    })
}

const BROADCAST_USAGE: &str = "/broadcast all|active|low|template:<name> <text>";

/// `/broadcast <audience> <text>`, the text as typed (line breaks kept).
fn parse_broadcast(args: &str) -> Result<Request, String> {
    let args = args.trim_start();
    let (audience, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if audience.is_empty() || text.trim().is_empty() {
        return Err(format!("Usage: {BROADCAST_USAGE}"));
    }
    let audience = Audience::parse(audience).map_err(usage(BROADCAST_USAGE))?;
    Ok(Request::Broadcast(audience, text.trim().to_string()))
}

const BULK_USAGE: &str = "/bulk followed by lines username,days[,note] (or send a CSV file with the caption /bulk); /bulk extend expiring <days>; or /bulk extend <days> <usernames>";

/// `/bulk [create] [lines]`, `/bulk extend expiring <days>`, `/bulk extend <days> <names>`.
fn parse_bulk(args: &str) -> Result<Request, String> {
    let args = args.trim();
    let (first, rest) = args
        .split_once(char::is_whitespace)
        .map_or((args, ""), |(f, r)| (f, r.trim()));
    match first.to_ascii_lowercase().as_str() {
        "" => Ok(Request::BulkStart),
        "create" if rest.is_empty() => Ok(Request::BulkStart),
        "create" => Ok(Request::BulkCreate(rest.to_string())),
        "extend" => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                [w, days] if w.eq_ignore_ascii_case("expiring") => Ok(Request::BulkExtend(
                    Days::parse(days).map_err(usage(BULK_USAGE))?,
                    None,
                )),
                [days, _, ..] => {
                    let names = rest[days.len()..].trim();
                    Ok(Request::BulkExtend(
                        Days::parse(days).map_err(usage(BULK_USAGE))?,
                        Some(names.to_string()),
                    ))
                }
                _ => Err(format!("Usage: {BULK_USAGE}")),
            }
        }
        _ => Ok(Request::BulkCreate(args.to_string())),
    }
}

/// `/template add|edit <name> [title words] [setting=value ...]` and `/template apply`.
fn parse_template(args: &[&str]) -> Result<Request, String> {
    let u = TEMPLATE_USAGE;
    match args {
        [op @ ("add" | "edit"), name, more @ ..] => {
            let name = TemplateName::parse(name).map_err(usage(u))?;
            let (settings, title): (Vec<&str>, Vec<&str>) =
                more.iter().partition(|w| w.contains('='));
            let settings = settings
                .into_iter()
                .map(Setting::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage(u))?;
            let title = (!title.is_empty())
                .then(|| {
                    Label::parse(
                        &title.join(" "),
                        "A template title",
                        reseller_core::ops::TEMPLATE_TITLE_MAX,
                    )
                })
                .transpose()
                .map_err(usage(u))?;
            if *op == "edit" && title.is_none() && settings.is_empty() {
                return Err(format!("Say what to change.\nUsage: {u}"));
            }
            Ok(Request::SaveTemplate {
                add: *op == "add",
                name,
                title,
                settings,
            })
        }
        ["delete", name] => Ok(Request::DeleteTemplate(
            TemplateName::parse(name).map_err(usage(u))?,
        )),
        ["apply", name, reseller, more @ ..] => {
            let reset = match more {
                [] => false,
                [w] if w.eq_ignore_ascii_case("reset") => true,
                _ => return Err(format!("Only “reset” may follow the reseller.\nUsage: {u}")),
            };
            Ok(Request::ApplyTemplate {
                name: TemplateName::parse(name).map_err(usage(u))?,
                reseller: Username::parse(reseller).map_err(usage(u))?,
                reset,
            })
        }
        _ => Err(format!("Usage: {u}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Request, String> {
        parse(s, "testbot").expect("is a command")
    }

    #[test]
    fn transfers_parse_both_ways() {
        let bob = Username::parse("bob").unwrap();
        assert_eq!(
            p("/transfer bob 30"),
            Ok(Request::Transfer {
                sub: bob.clone(),
                days: Days::new(30).unwrap(),
                back: false
            })
        );
        assert_eq!(
            p("/transfer bob -30"),
            Ok(Request::Transfer {
                sub: bob.clone(),
                days: Days::new(30).unwrap(),
                back: true
            })
        );
        assert!(
            p("/transfer bob 0")
                .unwrap_err()
                .contains("at least 1; you gave 0")
        );
        assert!(
            p("/transfer bob")
                .unwrap_err()
                .starts_with("Usage: /transfer")
        );
        assert_eq!(p("/subs"), Ok(Request::Subs(None)));
        assert_eq!(p("/subs bob 2"), Ok(Request::Subs(Some((bob, 1)))));
        assert!(p("/subs bob 0").unwrap_err().contains("not a page number"));
    }

    #[test]
    fn commands_parse_into_typed_requests() {
        assert_eq!(
            p("/new 30 Bob"),
            Ok(Request::New(Some((
                Days::new(30).unwrap(),
                Username::parse("bob").unwrap()
            ))))
        );
        assert_eq!(p("/new@testbot"), Ok(Request::New(None)));
        assert_eq!(
            p("/trial demo.user"),
            Ok(Request::Trial(Username::parse("demo.user").unwrap(), None))
        );
        assert_eq!(
            p("/trial demo.user 73"),
            Ok(Request::Trial(
                Username::parse("demo.user").unwrap(),
                Some(73)
            ))
        );
        assert!(
            p("/trial demo.user soon")
                .unwrap_err()
                .contains("you gave soon")
        );
        assert!(p("/trial").unwrap_err().starts_with("Usage: /trial"));
        assert_eq!(parse("/new@otherbot", "testbot"), None);
        assert!(matches!(
            p("/brand template <b>{panel}</b>\nUser: {username}"),
            Ok(Request::BrandTemplate(t)) if t.as_str() == "<b>{panel}</b>\nUser: {username}"
        ));
        assert_eq!(
            p("/brand My Panel"),
            Ok(Request::Brand(Label::parse("My Panel", "", 64).unwrap()))
        );
        assert!(matches!(
            p("/logs alice 3"),
            Ok(Request::Logs { filter, page: 2, csv: false, .. }) if filter.user.as_ref().map(|u| u.as_str()) == Some("alice")
        ));
        assert_eq!(parse("hello", "testbot"), None);
        assert_eq!(
            p("/users expiring jo"),
            Ok(Request::Users {
                filter: Filter::ExpiringSoon,
                search: Some("jo".into())
            })
        );
        assert_eq!(
            p("/users jo"),
            Ok(Request::Users {
                filter: Filter::All,
                search: Some("jo".into())
            })
        );
        assert!(
            matches!(p("/grant alice 100 paid cash"), Ok(Request::Grant { note: Some(n), .. }) if n == "paid cash")
        );
        assert_eq!(
            p("/template add Gold Gold reseller can_delete_users=on max_users=1000"),
            Ok(Request::SaveTemplate {
                add: true,
                name: TemplateName::parse("gold").unwrap(),
                title: Some(Label::parse("Gold reseller", "", 64).unwrap()),
                settings: vec![
                    Setting::parse("can_delete_users=on").unwrap(),
                    Setting::parse("max_users=1000").unwrap(),
                ],
            })
        );
        assert_eq!(
            p("/price bob Gold Plus 150.00"),
            Ok(Request::Price {
                reseller: Username::parse("bob").unwrap(),
                package: Some("Gold Plus".into()),
                change: Some(PriceChange::Amount("150.00".into())),
            })
        );
        assert_eq!(
            p("/price bob 10%"),
            Ok(Request::Price {
                reseller: Username::parse("bob").unwrap(),
                package: None,
                change: Some(PriceChange::Percent(Discount::parse("10").unwrap())),
            })
        );
        assert!(matches!(
            p("/price bob Business RESET"),
            Ok(Request::Price {
                change: Some(PriceChange::Reset),
                package: Some(_),
                ..
            })
        ));
        assert!(matches!(
            p("/perm bob can_view_logs default"),
            Ok(Request::PermDefault {
                permission: Permission::CanViewLogs,
                ..
            })
        ));
        assert_eq!(
            p("/template delete Gold"),
            Ok(Request::DeleteTemplate(
                TemplateName::parse("gold").unwrap()
            ))
        );
        assert_eq!(
            p("/template apply premium alice RESET"),
            Ok(Request::ApplyTemplate {
                name: TemplateName::parse("premium").unwrap(),
                reseller: Username::parse("alice").unwrap(),
                reset: true,
            })
        );
    }

    #[test]
    fn bulk_keeps_the_lines_of_its_list() {
        assert_eq!(p("/bulk"), Ok(Request::BulkStart));
        assert_eq!(p("/bulk create"), Ok(Request::BulkStart));
        assert_eq!(
            p("/bulk create\nalice,30\nbob,7,VIP"),
            Ok(Request::BulkCreate("alice,30\nbob,7,VIP".into()))
        );
        assert_eq!(
            p("/bulk\nalice,30"),
            Ok(Request::BulkCreate("alice,30".into()))
        );
        assert_eq!(
            p("/bulk extend expiring 30"),
            Ok(Request::BulkExtend(Days::new(30).unwrap(), None))
        );
        assert_eq!(
            p("/bulk extend 7 alice\nbob"),
            Ok(Request::BulkExtend(
                Days::new(7).unwrap(),
                Some("alice\nbob".into())
            ))
        );
        assert!(
            p("/bulk extend expiring 0")
                .unwrap_err()
                .contains("at least 1; you gave 0")
        );
        assert!(
            p("/bulk extend 30")
                .unwrap_err()
                .starts_with("Usage: /bulk")
        );
    }

    #[test]
    fn bad_input_explains_itself_with_the_numbers() {
        assert!(
            p("/new 0 bob")
                .unwrap_err()
                .contains("at least 1; you gave 0")
        );
        assert!(p("/new -3 bob").unwrap_err().contains("you gave -3"));
        assert!(
            p("/new 99999 bob")
                .unwrap_err()
                .contains("at most 3650; you gave 99999")
        );
        assert!(
            p("/new abc bob")
                .unwrap_err()
                .contains("“abc” is not a number of days")
        );
        assert!(
            p("/new 30 b!")
                .unwrap_err()
                .contains("not a valid username")
        );
        assert!(p("/deduct alice 10").unwrap_err().contains("Give a reason"));
        assert!(
            p("/perm alice can_view_logs maybe")
                .unwrap_err()
                .contains("neither on nor off")
        );
        assert!(p("/frobnicate").unwrap_err().contains("/help"));
        assert!(
            p("/template add gold max_users=-1")
                .unwrap_err()
                .contains("from 0 to 1000000; you gave “-1”")
        );
        assert!(
            p("/template edit gold")
                .unwrap_err()
                .contains("Say what to change")
        );
        assert!(
            p("/template apply gold alice now")
                .unwrap_err()
                .contains("Only “reset”")
        );
        assert!(
            p("/brand template Hi {user}")
                .unwrap_err()
                .contains("Unknown placeholder {user}. Use only: {panel}")
        );
        assert!(
            p("/logs 0")
                .unwrap_err()
                .contains("Pages start at 1; you gave 0")
        );
        assert!(
            p("/price bob Business 150%")
                .unwrap_err()
                .contains("from 0% to 90%; you gave “150%”")
        );
        assert!(
            p("/price bob Business")
                .unwrap_err()
                .contains("after “Business”")
        );
        let pasted = p(&format!("/{}", "x".repeat(5000))).unwrap_err();
        assert!(pasted.contains("/xxxx") && pasted.len() < 120, "{pasted}");
        assert!(
            p(&format!("/users expired {}", "x".repeat(65)))
                .unwrap_err()
                .contains("A search must be 1 to 64 characters; yours has 65.")
        );
    }

    #[test]
    fn notification_commands_parse() {
        assert_eq!(p("/settings"), Ok(Request::Settings(None)));
        assert_eq!(p("/notifications"), Ok(Request::Settings(None)));
        assert_eq!(
            p("/settings lowcredit 50"),
            Ok(Request::Settings(Some(SettingsChange::LowCredit(50))))
        );
        assert_eq!(
            p("/settings tz Europe/Berlin"),
            Ok(Request::Settings(Some(SettingsChange::TimeZone(
                "Europe/Berlin".into()
            ))))
        );
        assert!(
            p("/settings lowcredit lots")
                .unwrap_err()
                .contains("“lots” is not a number")
        );
        assert_eq!(p("/digest now"), Ok(Request::DigestNow));
        assert_eq!(
            p("/broadcast low Top up today!\nSee /buy."),
            Ok(Request::Broadcast(
                Audience::LowCredit,
                "Top up today!\nSee /buy.".into()
            ))
        );
        assert!(
            p("/broadcast everyone hi")
                .unwrap_err()
                .contains("not an audience")
        );
        assert!(
            p("/broadcast all")
                .unwrap_err()
                .starts_with("Usage: /broadcast")
        );
    }
}
