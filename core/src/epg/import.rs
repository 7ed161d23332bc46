//! Fetch claims and the streaming import: the download is parsed on a blocking thread as it
//! arrives and written in batches, each its own short transaction, into the next generation;
//! the switch to it is one more. The claim is a lease on the source row, renewed by every
//! batch, so one instance imports at a time and a dead importer's claim runs out.

use super::parse::{self, Item};
use crate::core::now;
use crate::db::Tx;
use crate::domain::ParseError;
use crate::{Core, CoreError, Result};
use futures::{Stream, StreamExt};
use std::io::Read;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a claim lasts without a batch renewing it.
const LEASE: Duration = Duration::from_secs(120);
/// Items written per transaction (7 values a programme, well under SQLite's bind limit).
const BATCH: usize = 500;
/// What is kept of a title and a description, in characters.
const TITLE_CHARS: usize = 300;
const DESCRIPTION_CHARS: usize = 2_000;

/// What an import keeps and reads, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct GuideLimits {
    /// Programmes that ended longer ago than this are dropped.
    pub back: Duration,
    /// Programmes starting later than this from now are dropped.
    pub ahead: Duration,
    /// The largest guide read, uncompressed.
    pub max_bytes: u64,
}

/// The right to import now, with what the last fetch left for a conditional request.
#[derive(Debug)]
pub struct FetchClaim {
    /// The source URL; `None` for an uploaded file.
    pub url: Option<String>,
    pub etag: String,
    pub last_modified: String,
    generation: i64,
}

/// What an import held on to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub channels: u64,
    pub programmes: u64,
    /// Programmes outside the window (`epg.days_back`, `epg.days_ahead`), dropped.
    pub outside_window: u64,
    /// Programmes without a readable channel, time or title, skipped.
    pub unreadable: u64,
}

impl Core {
    /// Claims the guide fetch: when `due_every` is given, only if the source is a URL last
    /// fetched that long ago; with `None`, now (the admin asked). `None` back while another
    /// instance (or task) holds it, or nothing is due.
    pub async fn claim_epg_fetch(&self, due_every: Option<Duration>) -> Result<Option<FetchClaim>> {
        let now = now();
        let due_before = due_every.map_or(i64::MAX, |d| now - d.as_secs() as i64);
        let mut tx = self.db.begin_write().await?;
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "UPDATE epg_source SET lease_owner = $1, lease_until = $2 \
             WHERE id = 1 AND lease_until < $3 AND ($4 = 1 OR (url <> '' AND fetched_at <= $5)) \
             RETURNING url, etag, last_modified, generation",
        )
        .bind(self.instance_id())
        .bind(now + LEASE.as_secs() as i64)
        .bind(now)
        .bind(i32::from(due_every.is_none()))
        .bind(due_before)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(
            row.map(|(url, etag, last_modified, generation)| FetchClaim {
                url: (!url.is_empty()).then_some(url),
                etag,
                last_modified,
                generation,
            }),
        )
    }

    /// The source answered "not modified": the guide held stays, the attempt is recorded.
    pub async fn epg_unchanged(&self, _claim: FetchClaim) -> Result<()> {
        self.finish_fetch("not modified since the last fetch").await
    }

    /// The fetch failed before any import; `why` (no URL in it) is what `/epg` shows.
    pub async fn epg_fetch_failed(&self, _claim: FetchClaim, why: &str) -> Result<()> {
        self.finish_fetch(&format!("failed: {why}")).await
    }

    /// Records how the fetch ended and gives the claim back.
    async fn finish_fetch(&self, outcome: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE epg_source SET fetched_at = $1, outcome = $2, lease_until = 0 \
             WHERE id = 1 AND lease_owner = $3",
        )
        .bind(now())
        .bind(outcome)
        .bind(self.instance_id())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Imports a guide from `body` (gzip or plain XMLTV) under `claim`, keeping the programmes
    /// in the window; on success it becomes the guide served, with `etag` and `last_modified`
    /// kept for the next conditional fetch. A failure leaves the guide served as it was and
    /// is recorded.
    pub async fn import_epg<B: AsRef<[u8]>>(
        &self,
        claim: FetchClaim,
        body: impl Stream<Item = std::result::Result<B, String>> + Send,
        validators: (String, String),
        limits: &GuideLimits,
    ) -> Result<Imported> {
        let next = claim.generation + 1;
        let outcome = self.import_generation(&claim, next, body, limits).await;
        let outcome = match outcome {
            Ok(done) if done.channels == 0 && done.programmes == 0 => Err(CoreError::Invalid(
                ParseError("The file has no XMLTV channels or programmes.".into()),
            )),
            other => other,
        };
        match outcome {
            Ok(done) => {
                self.switch_generation(next, validators, &done).await?;
                Ok(done)
            }
            Err(e) => {
                let why = if e.is_internal() {
                    "an internal error (see the log)".to_string()
                } else {
                    e.to_string()
                };
                if e.is_internal() {
                    tracing::error!(error = ?e, "guide import failed");
                }
                self.finish_fetch(&format!("failed: {why}")).await?;
                self.drop_generations_but(claim.generation).await?;
                Err(e)
            }
        }
    }

    async fn import_generation<B: AsRef<[u8]>>(
        &self,
        claim: &FetchClaim,
        generation: i64,
        body: impl Stream<Item = std::result::Result<B, String>> + Send,
        limits: &GuideLimits,
    ) -> Result<Imported> {
        // Left by an import that died half-way.
        self.drop_generations_but(claim.generation).await?;
        let now = now();
        let window = now - limits.back.as_secs() as i64..now + limits.ahead.as_secs() as i64;
        let (chunk_tx, chunk_rx) = mpsc::channel::<std::result::Result<Vec<u8>, String>>(8);
        let (item_tx, mut item_rx) = mpsc::channel::<Vec<Item>>(2);
        let max = limits.max_bytes;
        let parser = tokio::task::spawn_blocking(move || {
            let input = parse::open(
                ChunkReader {
                    rx: chunk_rx,
                    chunk: Vec::new(),
                    pos: 0,
                },
                max,
            )
            .map_err(|e| e.to_string())?;
            let mut batch = Vec::with_capacity(BATCH);
            let counts = parse::parse(input, window, |item| {
                batch.push(item);
                batch.len() < BATCH || item_tx.blocking_send(std::mem::take(&mut batch)).is_ok()
            })?;
            if !batch.is_empty() {
                let _ = item_tx.blocking_send(batch);
            }
            Ok::<_, String>(counts)
        });
        let pump = async move {
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let failed = chunk.is_err();
                if chunk_tx
                    .send(chunk.map(|c| c.as_ref().to_vec()))
                    .await
                    .is_err()
                    || failed
                {
                    break;
                }
            }
        };
        let write = async {
            let mut done = Imported::default();
            while let Some(batch) = item_rx.recv().await {
                self.write_batch(generation, &batch, &mut done).await?;
            }
            Ok::<_, CoreError>(done)
        };
        let ((), written) = tokio::join!(pump, write);
        let mut done = written?;
        let counts = parser
            .await
            .map_err(|e| CoreError::Internal(Box::new(e)))?
            .map_err(|why| {
                CoreError::Invalid(ParseError(format!("Could not read the guide: {why}.")))
            })?;
        done.outside_window = counts.outside_window;
        done.unreadable = counts.unreadable;
        Ok(done)
    }

    /// One batch in one transaction, under a still-held claim.
    async fn write_batch(
        &self,
        generation: i64,
        batch: &[Item],
        done: &mut Imported,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.renew_claim(&mut tx).await?;
        let channels: Vec<(&str, &str)> = batch
            .iter()
            .filter_map(|i| match i {
                Item::Channel { id, name } => Some((id.as_str(), name.as_str())),
                Item::Programme(_) => None,
            })
            .collect();
        if !channels.is_empty() {
            let sql = format!(
                "INSERT INTO epg_channels (generation, xmltv_id, name) VALUES {} \
                 ON CONFLICT (generation, xmltv_id) DO NOTHING",
                crate::channels::placeholders(channels.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for (id, name) in &channels {
                q = q.bind(generation).bind(*id).bind(cut(name, TITLE_CHARS));
            }
            q.execute(&mut *tx).await?;
            done.channels += channels.len() as u64;
        }
        let programmes: Vec<&parse::Programme> = batch
            .iter()
            .filter_map(|i| match i {
                Item::Programme(p) if !p.title.trim().is_empty() => Some(p),
                _ => None,
            })
            .collect();
        done.unreadable += (batch.len() - channels.len() - programmes.len()) as u64;
        if !programmes.is_empty() {
            let sql = format!(
                "INSERT INTO epg_programmes (generation, xmltv_id, start_at, stop_at, title, description, lang) VALUES {}",
                crate::channels::placeholders(programmes.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for p in &programmes {
                q = q
                    .bind(generation)
                    .bind(p.channel.as_str())
                    .bind(p.start)
                    .bind(p.stop)
                    .bind(cut(p.title.trim(), TITLE_CHARS))
                    .bind(cut(p.description.trim(), DESCRIPTION_CHARS))
                    .bind(cut(&p.lang, 16));
            }
            q.execute(&mut *tx).await?;
            done.programmes += programmes.len() as u64;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Extends the claim; fails when it ran out and may be another instance's now.
    async fn renew_claim(&self, tx: &mut Tx) -> Result<()> {
        let now = now();
        let renewed = sqlx::query(
            "UPDATE epg_source SET lease_until = $1 WHERE id = 1 AND lease_owner = $2 AND lease_until >= $3",
        )
        .bind(now + LEASE.as_secs() as i64)
        .bind(self.instance_id())
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if renewed == 0 {
            return Err(CoreError::Internal(
                "the guide import lost its claim".into(),
            ));
        }
        Ok(())
    }

    /// Serves generation `next` from now on.
    async fn switch_generation(
        &self,
        next: i64,
        (etag, last_modified): (String, String),
        done: &Imported,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.renew_claim(&mut tx).await?;
        sqlx::query(
            "UPDATE epg_source SET generation = $1, etag = $2, last_modified = $3, fetched_at = $4, \
             outcome = $5, lease_until = 0 WHERE id = 1",
        )
        .bind(next)
        .bind(etag)
        .bind(last_modified)
        .bind(now())
        .bind(format!(
            "imported {} programmes of {} channels ({} outside the window dropped)",
            done.programmes, done.channels, done.outside_window
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.drop_generations_but(next).await
    }

    /// Deletes every generation but `kept`, in batches so no transaction runs long.
    async fn drop_generations_but(&self, kept: i64) -> Result<()> {
        for table in ["epg_programmes", "epg_channels"] {
            let mut tx = self.db.begin_write().await?;
            sqlx::query(&format!("DELETE FROM {table} WHERE generation <> $1"))
                .bind(kept)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// `s` cut to at most `chars` characters.
fn cut(s: &str, chars: usize) -> &str {
    s.char_indices().nth(chars).map_or(s, |(i, _)| &s[..i])
}

/// The download as a blocking reader for the parser's thread: chunks arrive over a channel.
struct ChunkReader {
    rx: mpsc::Receiver<std::result::Result<Vec<u8>, String>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => (self.chunk, self.pos) = (chunk, 0),
                Some(Err(why)) => return Err(std::io::Error::other(why)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
