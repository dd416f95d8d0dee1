//! `tft import-reddit FILE...`: historical dumps into `reddit_posts`, streamed (one batch
//! of items in memory at a time), scored on the same path as scraped items, written by
//! binary COPY into a staging table and one set-based upsert
//! (`reddit_store::copy_upsert_items`, over the direct URL), then the daily aggregates of
//! the trading days they cover.
//!
//! Duplicates: an item is keyed by its Reddit fullname (or the stable synthetic id of the
//! formats without one), so the same item in two files or twice in one is one row, and a
//! re-import changes nothing (the upsert writes only when engagement changed).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;

use crate::adapters::db::{self, Pool};
use crate::adapters::reddit::RedditItem;
use crate::adapters::reddit_archive::{ArchiveFormat, ArchiveReader, Compression, ReadStats};
use crate::adapters::reddit_store;
use crate::core::calendar::new_york_date;
use crate::jobs::daily_sentiment::{recompute_days, trading_days};
use crate::jobs::reddit_rows::score_item;

/// Items scored and written per transaction (one COPY and one upsert).
pub const BATCH_ITEMS: usize = 20_000;

/// What one file gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileImport {
    pub path: PathBuf,
    pub format: ArchiveFormat,
    pub compression: Compression,
    pub stats: ReadStats,
    pub with_tickers: u64,
    pub inserted: u64,
    pub updated: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportSummary {
    pub files: Vec<FileImport>,
    /// The New York days the items were created on.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// Trading days whose aggregate was recomputed.
    pub trading_days: usize,
    /// Daily aggregate rows written or removed.
    pub daily_rows_changed: u64,
}

/// The `source` column of an imported file's rows.
fn source_of(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("import:{name}").chars().take(40).collect()
}

async fn write_batch(
    pool: &Pool,
    items: &[RedditItem],
    source: &str,
    file: &mut FileImport,
) -> anyhow::Result<()> {
    let rows: Vec<_> = items.iter().map(|item| score_item(item, source)).collect();
    file.with_tickers += rows.iter().filter(|r| !r.tickers.is_empty()).count() as u64;
    let mut client = pool.get().await?;
    let tx = db::begin(&mut client, pool.statement_timeout()).await?;
    let counts = reddit_store::copy_upsert_items(&tx, &rows).await?;
    tx.commit().await.context("commit the import")?;
    file.inserted += counts.inserted;
    file.updated += counts.updated;
    Ok(())
}

/// Imports the files in order, then recomputes the daily aggregates of the days covered.
/// A file that cannot be opened (unknown format, unreadable) is an error; a bad line in
/// a file is counted and reported in its [`ReadStats`], and the rest still imports.
pub async fn import_files(pool: &Pool, files: &[PathBuf]) -> anyhow::Result<ImportSummary> {
    import_files_with_progress(pool, files, None, &mut |_| {}).await
}

/// Progress of an import, after each written batch.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    pub items: u64,
    pub with_tickers: u64,
    /// The newest creation time written so far.
    pub reached: Option<chrono::DateTime<chrono::Utc>>,
}

/// [`import_files`], keeping only the items of `subreddits` (when given) and reporting
/// progress after each batch.
pub async fn import_files_with_progress(
    pool: &Pool,
    files: &[PathBuf],
    subreddits: Option<&[String]>,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> anyhow::Result<ImportSummary> {
    let mut done = ImportProgress {
        items: 0,
        with_tickers: 0,
        reached: None,
    };
    let mut summary = ImportSummary {
        files: Vec::with_capacity(files.len()),
        first_day: None,
        last_day: None,
        trading_days: 0,
        daily_rows_changed: 0,
    };
    for path in files {
        let mut reader = ArchiveReader::open(path)?;
        if let Some(keep) = subreddits {
            reader = reader.only_subreddits(keep);
        }
        let source = source_of(path);
        let mut file = FileImport {
            path: path.clone(),
            format: reader.format(),
            compression: reader.compression(),
            stats: ReadStats::default(),
            with_tickers: 0,
            inserted: 0,
            updated: 0,
        };
        let mut batch = Vec::with_capacity(BATCH_ITEMS);
        loop {
            let item = reader.next();
            if let Some(item) = &item {
                let day = new_york_date(item.created_utc);
                summary.first_day = Some(summary.first_day.map_or(day, |f| f.min(day)));
                summary.last_day = Some(summary.last_day.map_or(day, |l| l.max(day)));
            }
            let finished = item.is_none();
            batch.extend(item);
            if batch.len() >= BATCH_ITEMS || (finished && !batch.is_empty()) {
                let before = file.with_tickers;
                write_batch(pool, &batch, &source, &mut file)
                    .await
                    .with_context(|| format!("import {}", path.display()))?;
                done.items += batch.len() as u64;
                done.with_tickers += file.with_tickers - before;
                done.reached = done.reached.max(batch.iter().map(|i| i.created_utc).max());
                progress(done);
                batch.clear();
            }
            if finished {
                break;
            }
        }
        file.stats = reader.stats().clone();
        summary.files.push(file);
    }
    if let (Some(first), Some(last)) = (summary.first_day, summary.last_day) {
        // An item belongs to the trading day whose window holds it: up to a few days later.
        let days = trading_days(first, last + chrono::Days::new(4));
        summary.daily_rows_changed = recompute_days(pool, &days).await?;
        summary.trading_days = days.len();
    }
    Ok(summary)
}
