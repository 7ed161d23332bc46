//! The activity log (issue 10 §7): the audit trail read back as typed entries, for a reseller
//! with `can_view_logs` (their own rows and their sub-resellers') or an admin (every row).

use crate::core::to_time;
use crate::domain::{ParseError, Permission, Username, shorten};
use crate::queries::{PER_PAGE, Page, clamp_page, resellers};
use crate::{Actor, Core, Result};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use std::collections::HashMap;

/// Every action the audit log holds, so a word such as `extend` can be told from a username.
const ACTIONS: &[&str] = &[
    "subscriber.create",
    "subscriber.trial",
    "subscriber.extend",
    "subscriber.reset",
    "subscriber.enable",
    "subscriber.disable",
    "subscriber.delete",
    "subscriber.notes",
    "subscriber.bouquet",
    "credits.grant",
    "credits.deduct",
    "reseller.create",
    "reseller.invite",
    "reseller.link",
    "reseller.suspend",
    "reseller.unsuspend",
    "reseller.permission",
    "reseller.limit",
    "reseller.template",
    "reseller.branding",
    "reseller.bouquet",
    "template.add",
    "template.edit",
    "package.save",
    "package.active",
    "order.create",
    "order.rejected",
    "channels.import",
    "epg.source",
    "epg.map",
    "sync.rejected",
];

/// The most rows a CSV export holds: newest first, the rest left out (the filters narrow it).
pub const CSV_MAX: i64 = 10_000;

/// Which rows to show. Every filter narrows the asker's own scope; none widens it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Rows of this reseller's business.
    pub reseller: Option<Username>,
    /// Rows about this subscriber or reseller (the target), or made by this reseller.
    pub user: Option<Username>,
    /// The actions a word such as `extend` names.
    pub actions: Vec<&'static str>,
    pub from: Option<NaiveDate>,
    /// Inclusive: the whole day.
    pub to: Option<NaiveDate>,
}

impl LogFilter {
    /// Parses `reseller=<name>`, `user=<name>`, `action=<action>`, `from=<YYYY-MM-DD>`,
    /// `to=<YYYY-MM-DD>`, and a bare word: an action if it names one (`extend`,
    /// `subscriber.extend`), else a username.
    pub fn parse(words: &[&str]) -> std::result::Result<LogFilter, ParseError> {
        let mut f = LogFilter::default();
        for w in words {
            match w.split_once('=') {
                Some(("reseller", v)) => f.reseller = Some(Username::parse(v)?),
                Some(("user", v)) => f.user = Some(Username::parse(v)?),
                Some(("action", v)) => f.actions = actions(v).ok_or_else(|| unknown_action(v))?,
                Some(("from", v)) => f.from = Some(date(v)?),
                Some(("to", v)) => f.to = Some(date(v)?),
                Some((k, _)) => {
                    return Err(ParseError(format!(
                        "“{}” is not a log filter. Use reseller=, user=, action=, from= or to=.",
                        shorten(k)
                    )));
                }
                None => match actions(w) {
                    Some(a) => f.actions = a,
                    None => f.user = Some(Username::parse(w)?),
                },
            }
        }
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from > to
        {
            return Err(ParseError(format!(
                "The range is backwards: from={from} is after to={to}."
            )));
        }
        Ok(f)
    }
}

/// The actions `word` names: a full name, or the part after the dot (`create` names three).
fn actions(word: &str) -> Option<Vec<&'static str>> {
    let w = word.to_ascii_lowercase();
    let found: Vec<&'static str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| *a == w || a.rsplit('.').next() == Some(w.as_str()))
        .collect();
    (!found.is_empty()).then_some(found)
}

fn unknown_action(v: &str) -> ParseError {
    let mut short: Vec<&str> = ACTIONS
        .iter()
        .filter_map(|a| a.rsplit('.').next())
        .collect();
    short.sort_unstable();
    short.dedup();
    ParseError(format!(
        "“{}” is not an action. Use one of: {}.",
        shorten(v),
        short.join(", ")
    ))
}

fn date(v: &str) -> std::result::Result<NaiveDate, ParseError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ParseError(format!(
            "“{}” is not a date; write it as 2026-11-30.",
            shorten(v)
        ))
    })
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Admin(i64),
    Reseller(String),
    /// No person: the sync worker, the payment worker.
    System(String),
}

/// What happened, from the action and its details. Unknown actions keep their name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    Created {
        days: i64,
    },
    Trial {
        hours: i64,
    },
    Extended {
        days: i64,
    },
    Reset,
    Enabled,
    Disabled,
    Deleted {
        days_left: i64,
    },
    Notes,
    Granted {
        credits: i64,
        note: Option<String>,
    },
    Deducted {
        credits: i64,
        note: Option<String>,
    },
    ResellerCreated,
    Suspended,
    Unsuspended,
    /// A permission or limit override: the setting and its new value.
    Setting {
        setting: String,
        value: String,
    },
    /// Which part of the branding changed.
    Branding {
        part: String,
    },
    Other {
        action: String,
    },
}

impl Happening {
    fn read(action: &str, d: &serde_json::Value) -> Happening {
        let int = |k: &str| d[k].as_i64().unwrap_or_default();
        let text = |k: &str| d[k].as_str().map(str::to_string);
        match action {
            "subscriber.create" => Happening::Created { days: int("days") },
            "subscriber.trial" => Happening::Trial {
                hours: int("hours"),
            },
            "subscriber.extend" => Happening::Extended { days: int("days") },
            "subscriber.reset" => Happening::Reset,
            "subscriber.enable" => Happening::Enabled,
            "subscriber.disable" => Happening::Disabled,
            "subscriber.delete" => Happening::Deleted {
                days_left: int("days_left"),
            },
            "subscriber.notes" => Happening::Notes,
            "credits.grant" => Happening::Granted {
                credits: int("amount").abs(),
                note: text("note"),
            },
            "credits.deduct" => Happening::Deducted {
                credits: int("amount").abs(),
                note: text("note"),
            },
            "reseller.create" => Happening::ResellerCreated,
            "reseller.suspend" => Happening::Suspended,
            "reseller.unsuspend" => Happening::Unsuspended,
            "reseller.permission" | "reseller.limit" => Happening::Setting {
                setting: text("setting").unwrap_or_default(),
                value: match &d["value"] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
            },
            "reseller.branding" => Happening::Branding {
                part: d
                    .as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default(),
            },
            other => Happening::Other {
                action: other.to_string(),
            },
        }
    }
}

/// One audit row, typed.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub who: Who,
    pub what: Happening,
    /// The subscriber or reseller acted on.
    pub target: Option<String>,
    /// The reseller whose business it was.
    pub reseller: Option<String>,
    /// The stored action name and details, for exports.
    pub action: String,
    pub details: String,
}

/// A value bound into the built query.
enum Bind {
    Int(i64),
    Text(String),
}

/// The scope and filters as SQL over `audit_log l`, with their binds in order.
struct Query {
    with: String,
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Query {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    fn sql(&self, select: &str, tail: &str) -> String {
        let mut wh = self.clauses.join(" AND ");
        if wh.is_empty() {
            wh = "1 = 1".into();
        }
        format!(
            "{} SELECT {select} FROM audit_log l WHERE {wh} {tail}",
            self.with
        )
    }

    fn apply<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }
}

impl Core {
    /// A page of the activity log, newest first.
    pub async fn activity(
        &self,
        actor: &Actor,
        filter: &LogFilter,
        page: i64,
    ) -> Result<Page<LogEntry>> {
        let q = self.log_query(actor, filter).await?;
        let total: i64 = q
            .apply(sqlx::query(&q.sql("COUNT(*) AS n", "")))
            .fetch_one(self.db.read())
            .await?
            .try_get("n")?;
        let page = clamp_page(page, total);
        let items = self.log_rows(&q, PER_PAGE, page * PER_PAGE).await?;
        Ok(Page {
            items,
            page,
            per_page: PER_PAGE,
            total,
        })
    }

    /// Every row the filter selects, newest first, up to [`CSV_MAX`]: for an export.
    pub async fn activity_export(
        &self,
        actor: &Actor,
        filter: &LogFilter,
    ) -> Result<Vec<LogEntry>> {
        let q = self.log_query(actor, filter).await?;
        self.log_rows(&q, CSV_MAX, 0).await
    }

    /// The asker's scope (refusing a reseller without `can_view_logs`) and the filters.
    async fn log_query(&self, actor: &Actor, f: &LogFilter) -> Result<Query> {
        let mut q = Query {
            with: String::new(),
            clauses: Vec::new(),
            binds: Vec::new(),
        };
        if let Actor::Reseller(id) = actor {
            let me = resellers::by_id(self.db.read(), *id).await?;
            me.require(Permission::CanViewLogs)?;
            // Their own rows and every sub-reseller's, however deep (UNION: a cycle ends).
            let p = q.bind(Bind::Int(me.id.0));
            q.with = format!(
                "WITH RECURSIVE scope(id) AS (SELECT id FROM resellers WHERE id = {p} \
                 UNION SELECT r.id FROM resellers r JOIN scope s ON r.parent_id = s.id)"
            );
            q.clauses
                .push("l.reseller_id IN (SELECT id FROM scope)".into());
        }
        if let Some(r) = &f.reseller {
            let p = q.bind(Bind::Text(r.as_str().into()));
            q.clauses.push(format!(
                "l.reseller_id = (SELECT id FROM resellers WHERE username = {p})"
            ));
        }
        if let Some(u) = &f.user {
            let p = q.bind(Bind::Text(u.as_str().into()));
            q.clauses.push(format!(
                "(l.target = {p} OR l.actor = 'reseller:' || CAST((SELECT id FROM resellers WHERE username = {p}) AS TEXT))"
            ));
        }
        if !f.actions.is_empty() {
            let ps: Vec<String> = f
                .actions
                .iter()
                .map(|a| q.bind(Bind::Text((*a).into())))
                .collect();
            q.clauses.push(format!("l.action IN ({})", ps.join(", ")));
        }
        let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
        if let Some(from) = f.from {
            let p = q.bind(Bind::Int(midnight(from)));
            q.clauses.push(format!("l.created_at >= {p}"));
        }
        if let Some(to) = f.to {
            let p = q.bind(Bind::Int(midnight(to) + 86_400));
            q.clauses.push(format!("l.created_at < {p}"));
        }
        Ok(q)
    }

    async fn log_rows(&self, q: &Query, limit: i64, offset: i64) -> Result<Vec<LogEntry>> {
        let sql = q.sql(
            "l.id, l.actor, l.action, l.target, l.details, l.created_at, \
             (SELECT o.username FROM resellers o WHERE o.id = l.reseller_id) AS owner",
            &format!("ORDER BY l.id DESC LIMIT {limit} OFFSET {offset}"),
        );
        let rows = q.apply(sqlx::query(&sql)).fetch_all(self.db.read()).await?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut actor_ids = Vec::new();
        for r in &rows {
            let actor: String = r.try_get("actor")?;
            if let Some(id) = actor
                .strip_prefix("reseller:")
                .and_then(|i| i.parse::<i64>().ok())
            {
                actor_ids.push(id);
            }
            let action: String = r.try_get("action")?;
            let details: String = r.try_get("details")?;
            let parsed = serde_json::from_str(&details).unwrap_or(serde_json::Value::Null);
            entries.push((
                actor,
                LogEntry {
                    id: r.try_get("id")?,
                    at: to_time(r.try_get("created_at")?),
                    who: Who::System(String::new()),
                    what: Happening::read(&action, &parsed),
                    target: r.try_get("target")?,
                    reseller: r.try_get("owner")?,
                    action,
                    details,
                },
            ));
        }
        let names = self.reseller_names(actor_ids).await?;
        Ok(entries
            .into_iter()
            .map(|(actor, mut e)| {
                e.who = who(&actor, &names);
                e
            })
            .collect())
    }

    /// The usernames of resellers `ids`, in one query.
    async fn reseller_names(&self, mut ids: Vec<i64>) -> Result<HashMap<i64, String>> {
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ps: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, username FROM resellers WHERE id IN ({})",
            ps.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.db.read()).await?.into_iter().collect())
    }
}

fn who(label: &str, names: &HashMap<i64, String>) -> Who {
    if let Some(id) = label.strip_prefix("admin:").and_then(|i| i.parse().ok()) {
        return Who::Admin(id);
    }
    match label
        .strip_prefix("reseller:")
        .and_then(|i| i.parse::<i64>().ok())
        .and_then(|id| names.get(&id))
    {
        Some(name) => Who::Reseller(name.clone()),
        None => Who::System(label.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_filter_by_action_else_by_user() {
        let f = LogFilter::parse(&["extend"]).unwrap();
        assert_eq!(f.actions, vec!["subscriber.extend"]);
        let f = LogFilter::parse(&["john.doe", "from=2026-11-01", "to=2026-11-30"]).unwrap();
        assert_eq!(f.user.unwrap().as_str(), "john.doe");
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(
            LogFilter::parse(&["create"]).unwrap().actions,
            vec!["subscriber.create", "reseller.create", "order.create"]
        );
        assert!(
            LogFilter::parse(&["from=2026-13-01"])
                .unwrap_err()
                .0
                .contains("write it as 2026-11-30")
        );
        assert!(
            LogFilter::parse(&["from=2026-11-30", "to=2026-11-01"])
                .unwrap_err()
                .0
                .contains("from=2026-11-30 is after to=2026-11-01")
        );
        assert!(
            LogFilter::parse(&["action=frob"])
                .unwrap_err()
                .0
                .contains("not an action. Use one of: active, add, bouquet")
        );
    }
}
