//! Inline keyboards. Every button's data is a [`Press`].

use crate::callback::{CardAction, Press};
use reseller_core::domain::{Days, OperationId, Permission, Username};
use reseller_core::queries::Page;
use reseller_core::queries::resellers::ResellerCard;
use reseller_core::queries::subscribers::{Filter, Subscriber};
use reseller_core::queries::templates::Template;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

fn button(label: &str, press: Press) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(label, press.encode())
}

fn days(n: i64) -> Days {
    Days::new(n).expect("button day counts are within range")
}

pub(crate) fn confirm(id: &OperationId) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        button("✅ Confirm", Press::Confirm(id.clone())),
        button("✖️ Cancel", Press::Cancel(id.clone())),
    ]])
}

pub(crate) fn subscriber_card(s: &Subscriber) -> InlineKeyboardMarkup {
    let u = Username::parse(&s.username).expect("stored usernames are valid");
    let act = |label: &str, a: CardAction| button(label, Press::Act(a, u.clone()));
    InlineKeyboardMarkup::new([
        vec![
            act("+30 days", CardAction::Extend(days(30))),
            act("+90 days", CardAction::Extend(days(90))),
            act("+365 days", CardAction::Extend(days(365))),
        ],
        vec![
            act("🔑 Credentials", CardAction::Show),
            act("♻️ Reset", CardAction::Reset),
        ],
        vec![
            if s.active {
                act("⏸ Disable", CardAction::Disable)
            } else {
                act("▶️ Enable", CardAction::Enable)
            },
            act("🗑 Delete", CardAction::Delete),
        ],
    ])
}

pub(crate) fn users_page(
    p: &Page<Subscriber>,
    filter: Filter,
    search: Option<&str>,
) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = p
        .items
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .filter_map(|s| Username::parse(&s.username).ok())
                .map(|u| button(u.as_str(), Press::Open(u.clone())))
                .collect()
        })
        .collect();
    let page = |n: i64, f: Filter| Press::Users {
        filter: f,
        page: n,
        search: search.map(str::to_string),
    };
    let mut nav = Vec::new();
    if p.page > 0 {
        nav.push(button("◀️ Previous", page(p.page - 1, filter)));
    }
    if p.has_next() {
        nav.push(button("Next ▶️", page(p.page + 1, filter)));
    }
    if !nav.is_empty() {
        rows.push(nav);
    }
    rows.push(
        Filter::ALL
            .into_iter()
            .filter(|f| *f != filter)
            .map(|f| button(f.name(), page(0, f)))
            .collect(),
    );
    InlineKeyboardMarkup::new(rows)
}

pub(crate) fn history_page<T>(
    p: &Page<T>,
    reseller: Option<&Username>,
) -> Option<InlineKeyboardMarkup> {
    let page = |n| Press::History {
        page: n,
        reseller: reseller.cloned(),
    };
    let mut nav = Vec::new();
    if p.page > 0 {
        nav.push(button("◀️ Newer", page(p.page - 1)));
    }
    if p.has_next() {
        nav.push(button("Older ▶️", page(p.page + 1)));
    }
    (!nav.is_empty()).then(|| InlineKeyboardMarkup::new([nav]))
}

pub(crate) fn resellers_page<T>(p: &Page<T>) -> Option<InlineKeyboardMarkup> {
    let page = |n| Press::Resellers { page: n };
    let mut nav = Vec::new();
    if p.page > 0 {
        nav.push(button("◀️ Previous", page(p.page - 1)));
    }
    if p.has_next() {
        nav.push(button("Next ▶️", page(p.page + 1)));
    }
    (!nav.is_empty()).then(|| InlineKeyboardMarkup::new([nav]))
}

pub(crate) fn new_days() -> InlineKeyboardMarkup {
    let d = |n| button(&format!("{n} days"), Press::NewDays(days(n)));
    InlineKeyboardMarkup::new([[d(1), d(30), d(90)], [d(180), d(365), d(730)]])
}

/// A reseller's card: one button per permission (showing its state; pressing sets the other),
/// one per other template to move them onto (keeping overrides), and one to clear overrides.
pub(crate) fn reseller_card(card: &ResellerCard, templates: &[Template]) -> InlineKeyboardMarkup {
    let r = &card.summary.reseller;
    let u = Username::parse(&r.username).expect("stored usernames are valid");
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Permission::ALL
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|p| {
                    let on = r.permissions.allows(*p);
                    let name = p.column().trim_start_matches("can_");
                    let label = format!("{} {name}", if on { "✅" } else { "❌" });
                    button(&label, Press::Permission(*p, !on, u.clone()))
                })
                .collect()
        })
        .collect();
    let others: Vec<InlineKeyboardButton> = templates
        .iter()
        .filter(|t| t.id != card.template.id)
        .map(|t| {
            button(
                &format!("📋 Apply {}", t.name),
                Press::Template(t.id, false, u.clone()),
            )
        })
        .collect();
    rows.extend(others.chunks(2).map(<[_]>::to_vec));
    if !card.overrides.is_empty() {
        rows.push(vec![button(
            &format!("♻️ Reset to {}", card.template.name),
            Press::Template(card.template.id, true, u),
        )]);
    }
    InlineKeyboardMarkup::new(rows)
}
