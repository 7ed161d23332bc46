//! Button payloads. Telegram gives 64 bytes of `callback_data` and hands it back verbatim, from
//! anyone who can forge it: so it names an action, never a permission, and every press is
//! checked again by core against the presser's own rights.

use reseller_core::domain::{Days, OperationId, Permission, Username};
use reseller_core::notify::Kind;
use reseller_core::queries::subscribers::Filter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Press {
    Confirm(OperationId),
    Cancel(OperationId),
    Users {
        filter: Filter,
        page: i64,
        search: Option<String>,
    },
    History {
        page: i64,
        reseller: Option<Username>,
    },
    /// A page of the admins' reseller overview.
    Resellers {
        page: i64,
    },
    Open(Username),
    Act(CardAction, Username),
    /// A number of days picked in the guided `/new` flow.
    NewDays(Days),
    /// A package picked in `/buy`.
    Buy(i64),
    /// A payment method picked for a package.
    Pay(i64, Method),
    /// An admin's decision on a manual payment: approve (true) or reject.
    Receipt(bool, String),
    /// On a reseller's card: set a permission's override to on or off (the state wanted, not
    /// "toggle", so a double tap sets it once).
    Permission(Permission, bool, Username),
    /// On a reseller's card: put them on the template with this id; `true` clears overrides.
    Template(i64, bool, Username),
    /// In /settings: switch a notification kind on or off (the state wanted).
    Notify(Kind, bool),
    /// Under a broadcast preview: send it (true) or cancel it.
    Broadcast(i64, bool),
}

/// How a reseller pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Manual,
    Stars,
    Stripe,
    Btcpay,
    NowPayments,
    Cryptomus,
}

impl Method {
    pub(crate) const ONLINE: [Method; 4] = [
        Method::Stripe,
        Method::Btcpay,
        Method::NowPayments,
        Method::Cryptomus,
    ];

    pub(crate) fn provider(self) -> &'static str {
        match self {
            Method::Manual => "manual",
            Method::Stars => "stars",
            Method::Stripe => "stripe",
            Method::Btcpay => "btcpay",
            Method::NowPayments => "nowpayments",
            Method::Cryptomus => "cryptomus",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Method::Manual => "🏦 Bank transfer / card (manual)",
            Method::Stars => "⭐ Telegram Stars",
            Method::Stripe => "💳 Card (Stripe)",
            Method::Btcpay => "₿ Bitcoin (BTCPay)",
            Method::NowPayments => "🪙 Crypto (NOWPayments)",
            Method::Cryptomus => "🪙 Crypto (Cryptomus)",
        }
    }

    fn parse(s: &str) -> Option<Method> {
        [Method::Manual, Method::Stars]
            .into_iter()
            .chain(Method::ONLINE)
            .find(|m| m.provider() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CardAction {
    Extend(Days),
    Reset,
    Disable,
    Enable,
    Delete,
    Show,
}

impl Press {
    pub(crate) fn encode(&self) -> String {
        let s = match self {
            Press::Confirm(id) => format!("c:{id}"),
            Press::Cancel(id) => format!("x:{id}"),
            Press::Users {
                filter,
                page,
                search,
            } => {
                format!(
                    "u:{}:{page}:{}",
                    filter.name(),
                    search.as_deref().unwrap_or("")
                )
            }
            Press::History { page, reseller } => {
                format!("h:{page}:{}", reseller.as_ref().map_or("", |r| r.as_str()))
            }
            Press::Resellers { page } => format!("r:{page}"),
            Press::Open(u) => format!("s:{u}"),
            Press::Act(action, u) => {
                let a = match action {
                    CardAction::Extend(d) => format!("e{d}"),
                    CardAction::Reset => "r".into(),
                    CardAction::Disable => "d".into(),
                    CardAction::Enable => "n".into(),
                    CardAction::Delete => "x".into(),
                    CardAction::Show => "s".into(),
                };
                format!("a:{a}:{u}")
            }
            Press::NewDays(d) => format!("n:{d}"),
            Press::Buy(p) => format!("b:{p}"),
            Press::Pay(p, m) => format!("p:{p}:{}", m.provider()),
            Press::Receipt(approve, order) => {
                format!("m:{}:{order}", if *approve { "a" } else { "r" })
            }
            Press::Permission(p, on, u) => {
                let index = Permission::ALL.iter().position(|q| q == p).unwrap_or(0);
                format!("t:{index}:{}:{u}", u8::from(*on))
            }
            Press::Template(id, reset, u) => format!("g:{id}:{}:{u}", u8::from(*reset)),
            Press::Notify(kind, on) => format!("k:{}:{}", kind.name(), u8::from(*on)),
            Press::Broadcast(id, send) => format!("w:{id}:{}", u8::from(*send)),
        };
        // Searches are the only free text; cut them to fit Telegram's 64-byte limit.
        s.char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= 64)
            .map(|(_, c)| c)
            .collect()
    }

    pub(crate) fn decode(data: &str) -> Option<Press> {
        let (kind, rest) = data.split_once(':')?;
        Some(match kind {
            "c" => Press::Confirm(OperationId::parse(rest).ok()?),
            "x" => Press::Cancel(OperationId::parse(rest).ok()?),
            "u" => {
                let mut parts = rest.splitn(3, ':');
                let filter = Filter::parse(parts.next()?)?;
                let page = page_number(parts.next()?)?;
                let search = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
                Press::Users {
                    filter,
                    page,
                    search,
                }
            }
            "h" => {
                let (page, reseller) = rest.split_once(':')?;
                let reseller = if reseller.is_empty() {
                    None
                } else {
                    Some(Username::parse(reseller).ok()?)
                };
                Press::History {
                    page: page_number(page)?,
                    reseller,
                }
            }
            "r" => Press::Resellers {
                page: page_number(rest)?,
            },
            "s" => Press::Open(Username::parse(rest).ok()?),
            "a" => {
                let (a, u) = rest.split_once(':')?;
                let action = match a {
                    "r" => CardAction::Reset,
                    "d" => CardAction::Disable,
                    "n" => CardAction::Enable,
                    "x" => CardAction::Delete,
                    "s" => CardAction::Show,
                    _ => CardAction::Extend(Days::parse(a.strip_prefix('e')?).ok()?),
                };
                Press::Act(action, Username::parse(u).ok()?)
            }
            "n" => Press::NewDays(Days::parse(rest).ok()?),
            "b" => Press::Buy(rest.parse().ok()?),
            "p" => {
                let (package, method) = rest.split_once(':')?;
                Press::Pay(package.parse().ok()?, Method::parse(method)?)
            }
            "m" => {
                let (decision, order) = rest.split_once(':')?;
                let approve = match decision {
                    "a" => true,
                    "r" => false,
                    _ => return None,
                };
                if !order.starts_with("ord_")
                    || !order
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return None;
                }
                Press::Receipt(approve, order.to_string())
            }
            "t" => {
                let (index, on, u) = three(rest)?;
                let p = *Permission::ALL.get(index.parse::<usize>().ok()?)?;
                Press::Permission(p, flag(on)?, Username::parse(u).ok()?)
            }
            "g" => {
                let (id, reset, u) = three(rest)?;
                Press::Template(id.parse().ok()?, flag(reset)?, Username::parse(u).ok()?)
            }
            "k" => {
                let (kind, on) = rest.split_once(':')?;
                Press::Notify(Kind::parse(kind)?, flag(on)?)
            }
            "w" => {
                let (id, send) = rest.split_once(':')?;
                Press::Broadcast(id.parse().ok()?, flag(send)?)
            }
            _ => return None,
        })
    }
}

fn three(s: &str) -> Option<(&str, &str, &str)> {
    let mut parts = s.splitn(3, ':');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

fn flag(s: &str) -> Option<bool> {
    match s {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// A page number as written in button data. Out-of-range numbers are kept (saturated past
/// `i64`): core clamps them to the first or last page, so a forged page still shows a list.
fn page_number(s: &str) -> Option<i64> {
    use std::num::IntErrorKind;
    match s.parse::<i64>() {
        Ok(n) => Some(n),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Some(i64::MAX),
        Err(e) if *e.kind() == IntErrorKind::NegOverflow => Some(i64::MIN),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_press_round_trips_and_fits() {
        let bob = Username::parse("bob").unwrap();
        let presses = [
            Press::Confirm(OperationId::random()),
            Press::Cancel(OperationId::random()),
            Press::Users {
                filter: Filter::Expired,
                page: 3,
                search: Some("jo".into()),
            },
            Press::Users {
                filter: Filter::All,
                page: 0,
                search: None,
            },
            Press::History {
                page: 2,
                reseller: Some(bob.clone()),
            },
            Press::History {
                page: 0,
                reseller: None,
            },
            Press::Open(bob.clone()),
            Press::Act(CardAction::Extend(Days::new(90).unwrap()), bob.clone()),
            Press::Act(CardAction::Delete, bob.clone()),
            Press::NewDays(Days::new(30).unwrap()),
            Press::Buy(3),
            Press::Pay(2, Method::Stars),
            Press::Receipt(true, "ord_ABCDEFGHIJKLMNOPQRST".into()),
            Press::Receipt(false, "ord_ABCDEFGHIJKLMNOPQRST".into()),
            Press::Permission(
                Permission::CanCreateSubresellers,
                true,
                Username::parse(&"a".repeat(32)).unwrap(),
            ),
            Press::Permission(Permission::CanCreateUsers, false, bob.clone()),
            Press::Template(i64::MAX, true, Username::parse(&"b".repeat(32)).unwrap()),
            Press::Notify(Kind::CreditMovement, false),
            Press::Notify(Kind::DailySummary, true),
            Press::Broadcast(i64::MAX, true),
            Press::Broadcast(7, false),
        ];
        for p in presses {
            let data = p.encode();
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Press::decode(&data), Some(p));
        }
    }

    #[test]
    fn forged_or_garbled_data_is_refused() {
        for bad in [
            "",
            "c:",
            "c:short",
            "a:e0:bob",
            "a:e-5:bob",
            "a:e99999:bob",
            "u:all:x:",
            "u:all::",
            "s:bad name",
            "z:1",
            "h:x:",
            "t:13:1:bob",
            "t:0:2:bob",
            "t:0:1:bad name",
            "g:x:0:bob",
            "g:1:1",
            "k:general:0",
            "k:low_credit:2",
            "w:x:1",
            "w:1",
        ] {
            assert_eq!(Press::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn out_of_range_pages_decode_for_core_to_clamp() {
        for (data, page) in [
            ("u:all:-1:", -1),
            ("u:all:922337203685477581:", 922_337_203_685_477_581),
            ("u:all:99999999999999999999999:", i64::MAX),
            ("h:-99999999999999999999999:", i64::MIN),
        ] {
            let decoded = Press::decode(data);
            let found = match decoded {
                Some(Press::Users { page, .. } | Press::History { page, .. }) => page,
                other => panic!("{data}: {other:?}"),
            };
            assert_eq!(found, page, "{data}");
        }
    }
}
