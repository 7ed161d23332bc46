//! The one-line commands, parsed once into typed requests. A malformed command becomes a sentence
//! saying what was wrong and how to write it.

use reseller_core::domain::{
    Days, Label, Limit, LimitValue, ParseError, Permission, Setting, TemplateName, Username,
    parse_switch, shorten,
};
use reseller_core::payments::NewPackage;
use reseller_core::queries::subscribers::{Filter, parse_filter};

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
    ApiKey(ApiKeyRequest),
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
    let args: Vec<&str> = args.split_whitespace().collect();
    Some(parse_command(&name.to_ascii_lowercase(), &args))
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
        "brand" => Request::Brand(Label::parse(&args.join(" "), "A panel name", 64).map_err(usage("/brand <panel name>"))?),
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
            let u = "/perm <reseller> <permission> on|off";
            match args {
                [r, p, state] => Request::Perm {
                    reseller: Username::parse(r).map_err(usage(u))?,
                    permission: Permission::parse(p).map_err(usage(u))?,
                    on: parse_switch(state).map_err(usage(u))?,
                },
                _ => return Err(format!("Usage: {u}")),
            }
        }
        "limit" => {
            let u = "/limit <reseller> max_users|max_connections_per_user|trial_quota|subreseller_depth <value>";
            match args {
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
        "apikey" => match args {
            ["new"] => Request::ApiKey(ApiKeyRequest::New),
            [] | ["list"] => Request::ApiKey(ApiKeyRequest::List),
            ["revoke", prefix] => Request::ApiKey(ApiKeyRequest::Revoke(prefix.to_string())),
            _ => return Err("Usage: /apikey new, /apikey list, or /apikey revoke <prefix>".into()),
        },
        other => return Err(format!("I don't know the command /{}. Send /help for the list.", shorten(other))),
    })
}

const TEMPLATE_USAGE: &str = "/template add|edit <name> [title] [setting=value ...], e.g. /template add gold Gold reseller can_delete_users=on max_users=1000; or /template apply <name> <reseller> [reset]";

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
            p("/template apply premium alice RESET"),
            Ok(Request::ApplyTemplate {
                name: TemplateName::parse("premium").unwrap(),
                reseller: Username::parse("alice").unwrap(),
                reset: true,
            })
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
        let pasted = p(&format!("/{}", "x".repeat(5000))).unwrap_err();
        assert!(pasted.contains("/xxxx") && pasted.len() < 120, "{pasted}");
        assert!(
            p(&format!("/users expired {}", "x".repeat(65)))
                .unwrap_err()
                .contains("A search must be 1 to 64 characters; yours has 65.")
        );
    }
}
