//! Bulk create and bulk extend (`can_bulk_operations`). A list is parsed at the edge into rows
//! (each bad row refused with its reason, the list refused past [`BULK_MAX_ROWS`]); `quote`
//! refuses the rows the database rules out and prices the rest; confirming runs every accepted
//! row through the single operation's own steps in **one** transaction under one operation id,
//! so a batch is all or nothing and a double press charges once.
//!
//! Each line gets its own ledger row (key `<op>:debit:<n>`), as a single creation or extension
//! would: the history names the subscriber each credit went to, and a creation the panel
//! refuses is refunded per line by the sync worker against that line's debit. The balance is
//! checked by each row's conditional `UPDATE`, so the card's figure is never trusted.

use super::Quote;
use crate::core::{now, to_time};
use crate::domain::{Days, Label, OperationId, ParseError, Permission, Username, shorten};
use crate::idempotency::Claim;
use crate::ledger::{self, Kind, Posting};
use crate::queries::resellers::{self, Reseller};
use crate::queries::subscribers::Credentials;
use crate::{Actor, Core, CoreError, Done, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The most rows one bulk operation takes: one transaction a few seconds long at most, one card.
pub const BULK_MAX_ROWS: usize = 500;

/// The longest note a bulk row may give a subscriber, as `/note` allows.
pub const BULK_NOTE_MAX: usize = 500;

/// One subscriber to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRow {
    /// The row's line in what was sent, for the card.
    pub line: u64,
    pub username: Username,
    pub days: Days,
    pub note: Option<Label>,
}

/// A row that will not run, and why (a sentence with the numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub line: u64,
    /// What the row named, shortened.
    pub row: String,
    pub reason: String,
}

/// The subscribers a bulk extension covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The actor's enabled subscribers expiring within `expiring_soon_days`; the quote turns
    /// it into the names, so confirming extends exactly the lines the card counted.
    Expiring,
    Named(Vec<Username>),
}

/// A parsed list: the rows to create and those refused already.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkPlan {
    pub rows: Vec<BulkRow>,
    pub refused: Vec<Refused>,
}

impl BulkPlan {
    /// Reads `username,days[,note]` rows, each line one CSV record (RFC 4180 quoting; a note
    /// cannot hold a line break anyway), so a refusal names the line the sender sees. A header
    /// row starting with `username`, blank lines and `#` comments are skipped. Bad rows and
    /// repeated usernames are refused one by one; the whole list only when empty or too long.
    pub fn parse(text: &str) -> std::result::Result<BulkPlan, ParseError> {
        let mut plan = BulkPlan::default();
        let mut seen: HashMap<Username, u64> = HashMap::new();
        let mut count = 0;
        for (i, text) in text.lines().enumerate() {
            let line = i as u64 + 1;
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let record = match reader.records().next() {
                Some(Ok(r)) => r,
                Some(Err(e)) => {
                    count += 1;
                    plan.refused.push(Refused {
                        line,
                        row: shorten(text),
                        reason: format!("not readable as CSV: {e}"),
                    });
                    continue;
                }
                None => continue,
            };
            if count == 0
                && record
                    .get(0)
                    .is_some_and(|f| f.eq_ignore_ascii_case("username"))
            {
                continue;
            }
            count += 1;
            if count > BULK_MAX_ROWS {
                continue;
            }
            match parse_row(&record, line) {
                Ok(row) => match seen.get(&row.username) {
                    Some(first) => plan.refused.push(Refused {
                        line,
                        row: row.username.to_string(),
                        reason: format!("repeats the username of line {first}"),
                    }),
                    None => {
                        seen.insert(row.username.clone(), line);
                        plan.rows.push(row);
                    }
                },
                Err(reason) => plan.refused.push(Refused {
                    line,
                    row: shorten(record.get(0).unwrap_or_default()),
                    reason,
                }),
            }
        }
        check_count(count)?;
        Ok(plan)
    }
}

/// Reads usernames for a bulk extension, separated by spaces, commas or line breaks; bad and
/// repeated ones are refused one by one.
pub fn parse_usernames(
    text: &str,
) -> std::result::Result<(Vec<Username>, Vec<Refused>), ParseError> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    check_count(words.len())?;
    let mut names = Vec::new();
    let mut refused = Vec::new();
    let mut seen = HashSet::new();
    for (i, word) in words.iter().enumerate() {
        let line = i as u64 + 1;
        match Username::parse(word) {
            Ok(u) if !seen.insert(u.clone()) => refused.push(Refused {
                line,
                row: u.to_string(),
                reason: "is named twice".into(),
            }),
            Ok(u) => names.push(u),
            Err(e) => refused.push(Refused {
                line,
                row: shorten(word),
                reason: e.0,
            }),
        }
    }
    Ok((names, refused))
}

fn check_count(count: usize) -> std::result::Result<(), ParseError> {
    if count == 0 {
        return Err(ParseError(
            "The list is empty: send one subscriber per line as username,days[,note], e.g. john.doe,30"
                .into(),
        ));
    }
    if count > BULK_MAX_ROWS {
        return Err(ParseError(format!(
            "A bulk list may have at most {BULK_MAX_ROWS} rows; yours has {count}. Split it and send each part."
        )));
    }
    Ok(())
}

fn parse_row(record: &csv::StringRecord, line: u64) -> std::result::Result<BulkRow, String> {
    let fields: Vec<&str> = record.iter().collect();
    let (username, days, note) = match fields.as_slice() {
        [u, d] => (u, d, None),
        [u, d, n] => (u, d, Some(n)),
        _ => {
            return Err(format!(
                "write username,days[,note]; this row has {} fields",
                fields.len()
            ));
        }
    };
    Ok(BulkRow {
        line,
        username: Username::parse(username).map_err(|e| e.0)?,
        days: Days::parse(days).map_err(|e| e.0)?,
        note: note
            .filter(|n| !n.is_empty())
            .map(|n| Label::parse(n, "A note", BULK_NOTE_MAX))
            .transpose()
            .map_err(|e| e.0)?,
    })
}

/// One line of a confirmed bulk operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkLine {
    pub username: String,
    pub expires_at: DateTime<Utc>,
    pub charged: i64,
}

/// What a confirmed bulk operation did. Holds no secrets (it is stored for replay): the
/// created lines' credentials come from [`Core::bulk_credentials`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkDone {
    /// Created (else extended).
    pub created: bool,
    pub lines: Vec<BulkLine>,
    pub charged: i64,
    /// The reseller's balance afterwards; `None` for admins.
    pub balance: Option<i64>,
}

/// The actor as a bulk operation needs them: a reseller with `permission` and
/// `can_bulk_operations`, or an admin (`None`).
fn bulk_owner(reseller: Option<Reseller>, permission: Permission) -> Result<Option<Reseller>> {
    if let Some(r) = &reseller {
        r.require(Permission::CanBulkOperations)?;
        r.require(permission)?;
    }
    Ok(reseller)
}

async fn load_owner(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    permission: Permission,
) -> Result<Option<Reseller>> {
    let reseller = match actor {
        Actor::Reseller(id) => Some(resellers::by_id(&mut *conn, *id).await?),
        Actor::Admin(_) => None,
    };
    bulk_owner(reseller, permission)
}

/// `$1, $2, ...` for `n` binds.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The refusal when the balance does not cover a batch, at the card or at confirmation.
fn short_of_credits(action: String, needed: i64, balance: i64) -> CoreError {
    CoreError::InsufficientCredits {
        action: format!("{action} (nothing was changed)"),
        needed,
        balance,
    }
}

fn quote_of(
    command: super::Command,
    cost: i64,
    balance: Option<i64>,
    action: String,
) -> Result<Quote> {
    if let Some(b) = balance
        && b < cost
    {
        return Err(short_of_credits(action, cost, b));
    }
    Ok(Quote {
        command,
        cost,
        balance,
        balance_after: balance.map(|b| b - cost),
        days_lost: None,
    })
}

impl Core {
    /// Checks a bulk creation: rights, usernames already taken (refused per row), room under
    /// `max_users` and the balance for the accepted rows.
    pub(super) async fn quote_bulk_create(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        rows: &[BulkRow],
        refused: &[Refused],
    ) -> Result<Quote> {
        let owner = load_owner(conn, actor, Permission::CanCreateUsers).await?;
        let sql = format!(
            "SELECT username FROM subscribers WHERE username IN ({})",
            placeholders(rows.len().max(1))
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        if rows.is_empty() {
            query = query.bind(String::new());
        }
        for row in rows {
            query = query.bind(row.username.as_str());
        }
        let taken: HashSet<String> = query.fetch_all(&mut *conn).await?.into_iter().collect();
        let mut refused = refused.to_vec();
        let mut accepted = Vec::new();
        for row in rows {
            if taken.contains(row.username.as_str()) {
                refused.push(Refused {
                    line: row.line,
                    row: row.username.to_string(),
                    reason: "this username is already taken".into(),
                });
            } else {
                accepted.push(row.clone());
            }
        }
        refused.sort_by_key(|r| r.line);
        if let Some(r) = &owner {
            let current: i64 =
                sqlx::query_scalar("SELECT subscriber_count FROM resellers WHERE id = $1")
                    .bind(r.id.0)
                    .fetch_one(&mut *conn)
                    .await?;
            if current + accepted.len() as i64 > r.max_users {
                return Err(CoreError::BatchOverMaxUsers {
                    rows: accepted.len() as i64,
                    max: r.max_users,
                    current,
                });
            }
        }
        let cost = if owner.is_some() {
            accepted.iter().map(|r| r.days.get()).sum()
        } else {
            0
        };
        let action = format!("create these {} subscribers", accepted.len());
        quote_of(
            super::Command::BulkCreate {
                rows: accepted,
                refused,
            },
            cost,
            owner.map(|r| r.balance),
            action,
        )
    }

    /// Checks a bulk extension: rights, and which names are the actor's to extend (the others
    /// refused per row); `Expiring` becomes the names it covers now.
    pub(super) async fn quote_bulk_extend(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        days: Days,
        selection: &Selection,
        refused: &[Refused],
    ) -> Result<Quote> {
        let owner = load_owner(conn, actor, Permission::CanExtendUsers).await?;
        let owner_id = owner.as_ref().map(|r| r.id.0);
        let mut refused = refused.to_vec();
        let names = match selection {
            Selection::Expiring => {
                let now = now();
                let soon = now + self.policy.expiring_soon_days * 86_400;
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT username FROM subscribers WHERE (reseller_id = $1 OR (reseller_id IS NULL AND $1 IS NULL)) \
                     AND active = 1 AND expires_at > $2 AND expires_at <= $3 ORDER BY expires_at, username",
                )
                .bind(owner_id)
                .bind(now)
                .bind(soon)
                .fetch_all(&mut *conn)
                .await?;
                check_count(names.len()).map_err(|_| {
                    ParseError(format!(
                        "{} subscribers expire within {} days; a bulk extension takes 1 to {BULK_MAX_ROWS}.",
                        names.len(),
                        self.policy.expiring_soon_days
                    ))
                })?;
                names
                    .iter()
                    .map(|n| Username::parse(n))
                    .collect::<std::result::Result<Vec<_>, _>>()?
            }
            Selection::Named(names) => {
                let sql = format!(
                    "SELECT s.username, s.reseller_id, r.username FROM subscribers s \
                     LEFT JOIN resellers r ON r.id = s.reseller_id WHERE s.username IN ({})",
                    placeholders(names.len().max(1))
                );
                let mut query = sqlx::query_as::<_, (String, Option<i64>, Option<String>)>(&sql);
                if names.is_empty() {
                    query = query.bind(String::new());
                }
                for n in names {
                    query = query.bind(n.as_str());
                }
                let found: HashMap<String, (Option<i64>, Option<String>)> = query
                    .fetch_all(&mut *conn)
                    .await?
                    .into_iter()
                    .map(|(u, id, r)| (u, (id, r)))
                    .collect();
                let mut mine = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let reason = match (found.get(name.as_str()), owner_id) {
                        (Some((id, _)), _) if *id == owner_id => {
                            mine.push(name.clone());
                            continue;
                        }
                        (Some((Some(_), Some(r))), None) => {
                            format!("belongs to reseller {r}; admins extend only their own")
                        }
                        _ => "no such subscriber of yours".into(),
                    };
                    refused.push(Refused {
                        line: i as u64 + 1,
                        row: name.to_string(),
                        reason,
                    });
                }
                mine
            }
        };
        refused.sort_by_key(|r| r.line);
        let cost = if owner.is_some() {
            days.get() * names.len() as i64
        } else {
            0
        };
        let action = format!("extend these {} subscribers by {days} days", names.len());
        quote_of(
            super::Command::BulkExtend {
                days,
                selection: Selection::Named(names),
                refused,
            },
            cost,
            owner.map(|r| r.balance),
            action,
        )
    }

    /// Creates every row in one transaction, each as `create_subscriber` would (its
    /// `max_users` check, ledger row, sync job and audit row), or none of them.
    pub async fn bulk_create(
        &self,
        actor: &Actor,
        op: &OperationId,
        rows: &[BulkRow],
    ) -> Result<Done<BulkDone>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let owner = load_owner(tx, actor, Permission::CanCreateUsers).await?;
        let total: i64 = rows.iter().map(|r| r.days.get()).sum();
        let now = now();
        let mut done = BulkDone {
            created: true,
            lines: Vec::with_capacity(rows.len()),
            charged: 0,
            balance: None,
        };
        for (i, row) in rows.iter().enumerate() {
            let expires_at = now + row.days.seconds();
            let id = match self
                .insert_line(tx, actor, &row.username, owner.as_ref(), expires_at, false)
                .await
            {
                Err(CoreError::MaxUsersReached { max, current }) => {
                    return Err(CoreError::BatchOverMaxUsers {
                        rows: rows.len() as i64,
                        max,
                        current: current - i as i64,
                    });
                }
                other => other?,
            };
            if let Some(note) = &row.note {
                sqlx::query("UPDATE subscribers SET notes = $1 WHERE id = $2")
                    .bind(note.as_str())
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            let mut charged = 0;
            if let Some(r) = &owner {
                let posting = Posting {
                    reseller: r.id,
                    amount: -row.days.get(),
                    kind: Kind::Debit,
                    actor: actor.label(),
                    subscriber: Some((crate::domain::SubscriberId(id), row.username.as_str())),
                    note: Some("new subscriber (bulk)"),
                    key: format!("{op}:debit:{i}"),
                };
                let Some(moved) = ledger::post(tx, posting, false).await? else {
                    let balance = ledger::balance(tx, r.id).await? + done.charged;
                    return Err(short_of_credits(
                        format!("create these {} subscribers", rows.len()),
                        total,
                        balance,
                    ));
                };
                charged = row.days.get();
                done.charged += charged;
                done.balance = Some(moved.after);
            }
            let line = BulkLine {
                username: row.username.to_string(),
                expires_at: to_time(expires_at),
                charged,
            };
            let details = serde_json::json!({
                "days": row.days.get(),
                "expires_at": expires_at,
                "bulk": op.as_str(),
            });
            self.record_line(
                tx,
                actor,
                owner.as_ref().map(|r| r.id),
                "subscriber.create",
                details,
                &line.username,
                charged,
            )
            .await?;
            done.lines.push(line);
        }
        self.finish_bulk(claimed, op, done).await
    }

    /// Extends every named subscriber by `days` in one transaction, each as `extend` would,
    /// or none of them.
    pub async fn bulk_extend(
        &self,
        actor: &Actor,
        op: &OperationId,
        days: Days,
        names: &[Username],
    ) -> Result<Done<BulkDone>> {
        let mut claimed = match self.claim(op, actor).await? {
            Claim::Fresh(tx) => tx,
            Claim::Replayed(done) => return Ok(done),
        };
        let tx = &mut claimed;
        let owner = load_owner(tx, actor, Permission::CanExtendUsers).await?;
        let total = days.get() * names.len() as i64;
        let mut done = BulkDone {
            created: false,
            lines: Vec::with_capacity(names.len()),
            charged: 0,
            balance: None,
        };
        for (i, name) in names.iter().enumerate() {
            let key = format!("{op}:debit:{i}");
            let extended = match self.extend_line(tx, actor, name, days, key).await {
                Err(CoreError::InsufficientCredits { .. }) => {
                    let r = owner.as_ref().map(|r| r.id);
                    let balance = match r {
                        Some(id) => ledger::balance(tx, id).await? + done.charged,
                        None => 0,
                    };
                    return Err(short_of_credits(
                        format!("extend these {} subscribers by {days} days", names.len()),
                        total,
                        balance,
                    ));
                }
                other => other?,
            };
            done.charged += extended.charged;
            done.balance = extended.balance;
            done.lines.push(BulkLine {
                username: extended.username,
                expires_at: extended.expires_at,
                charged: extended.charged,
            });
        }
        self.finish_bulk(claimed, op, done).await
    }

    async fn finish_bulk(
        &self,
        claimed: crate::db::Tx,
        op: &OperationId,
        done: BulkDone,
    ) -> Result<Done<BulkDone>> {
        let done = self.finish(claimed, op, done).await?;
        for line in &done.value.lines {
            self.access.forget(&line.username);
        }
        Ok(done)
    }

    /// The credentials a confirmed bulk creation `op` of `actor` issued, in its order; lines
    /// deleted since are left out. Empty for any other operation.
    pub async fn bulk_credentials(
        &self,
        actor: &Actor,
        op: &OperationId,
    ) -> Result<Vec<Credentials>> {
        let payload: Option<String> = sqlx::query_scalar(
            "SELECT p.payload FROM pending_actions p JOIN operations o ON o.id = p.id \
             WHERE p.id = $1 AND p.actor = $2 AND o.actor = $2 AND o.outcome IS NOT NULL",
        )
        .bind(op.as_str())
        .bind(actor.label())
        .fetch_optional(self.db.read())
        .await?;
        let Some(super::Command::BulkCreate { rows, .. }) =
            payload.map(|p| serde_json::from_str(&p)).transpose()?
        else {
            return Ok(Vec::new());
        };
        let mut conn = self.db.read().acquire().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // The right that allowed the creation is the one checked: its credentials have to
            // be handed over.
            match crate::queries::subscribers::for_actor(
                &mut conn,
                actor,
                &row.username,
                Permission::CanCreateUsers,
                false,
            )
            .await
            {
                Ok((s, reseller)) => out.push(self.decrypt(&mut conn, s, reseller).await?),
                Err(CoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The credentials file of a bulk creation: `username,password,expires_at,max_connections`.
pub fn credentials_csv(lines: &[Credentials]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| CoreError::Internal(Box::new(e));
    writer
        .write_record(["username", "password", "expires_at", "max_connections"])
        .map_err(internal)?;
    for c in lines {
        writer
            .write_record([
                c.username.as_str(),
                c.password.as_str(),
                &c.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                &c.max_connections.to_string(),
            ])
            .map_err(internal)?;
    }
    writer
        .into_inner()
        .map_err(|e| CoreError::Internal(Box::new(e.into_error())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_one_by_one_and_bad_ones_refused_with_the_reason() {
        let plan = BulkPlan::parse(
            "username,days,note\nalice,30\n\"bob\",7,\"VIP, pays cash\"\n# skipped\nb!,30\ncarol,0\nALICE,10\ndave\n",
        )
        .unwrap();
        let names: Vec<&str> = plan.rows.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(
            plan.rows[1].note.as_ref().unwrap().as_str(),
            "VIP, pays cash"
        );
        let reasons: Vec<(u64, &str)> = plan
            .refused
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].1.contains("not a valid username"), "{reasons:?}");
        assert_eq!(reasons[0].0, 5);
        assert!(reasons[1].1.contains("at least 1; you gave 0"));
        assert_eq!(reasons[2], (7, "repeats the username of line 2"));
        assert!(reasons[3].1.contains("this row has 1 fields"));
    }

    #[test]
    fn empty_and_oversized_lists_are_refused_with_the_numbers() {
        assert!(BulkPlan::parse("\n\n").unwrap_err().0.contains("empty"));
        let big: String = (0..501).map(|i| format!("user{i},30\n")).collect();
        assert!(
            BulkPlan::parse(&big)
                .unwrap_err()
                .0
                .contains("at most 500 rows; yours has 501")
        );
        let (names, refused) = parse_usernames("alice, bob\nalice x!").unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(refused.len(), 2);
    }
}
