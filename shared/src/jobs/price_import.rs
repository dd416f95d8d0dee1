//! `tft import-prices DIR`: a directory of daily-bar CSVs (the layout the backtester
//! reads) into `stock_prices`, with the indicators the price job computes, at COPY
//! speed: each batch of tickers goes into a staging table by binary COPY and then into
//! `stock_prices` by one set-based upsert (`price_store::copy_upsert_prices`), in its
//! own transaction. A re-import changes nothing.
//!
//! A file that cannot be read, or whose name is not a ticker, is reported and skipped;
//! the other files still import, and the summary says which failed (the CLI then exits
//! non-zero: a partial import is never reported as success).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::adapters::db::{self, Pool};
use crate::adapters::price_csv;
use crate::adapters::price_store::{self, PriceRow, UpsertCounts};
use crate::core::universe::normalize_ticker;
use crate::jobs::scrape_prices::price_rows;

/// Rows per transaction: one COPY and one upsert each, well inside the statement timeout.
pub const BATCH_ROWS: usize = 100_000;

/// A file that was not imported, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PriceImportSummary {
    pub files: usize,
    pub tickers_imported: usize,
    /// Bars read from the files that imported.
    pub bars: u64,
    pub inserted: u64,
    pub updated: u64,
    pub failed: Vec<FileFailure>,
}

/// The rows of one file, or why it cannot be imported.
pub fn file_rows(path: &Path) -> Result<Vec<PriceRow>, String> {
    let ticker = normalize_ticker(&price_csv::ticker_of(path))
        .map_err(|e| format!("the file name is not a ticker: {e}"))?;
    let bars = price_csv::load_bars(path).map_err(|e| e.to_string())?;
    Ok(price_rows(&ticker, &bars, 0))
}

/// Imports every `*.csv` of `dir`; `progress` gets (files done, files in all, bars so far).
pub async fn import_dir(
    pool: &Pool,
    dir: &Path,
    progress: &mut (dyn FnMut(usize, usize, u64) + Send),
) -> anyhow::Result<PriceImportSummary> {
    let paths = price_csv::csv_files(dir)?;
    let mut summary = PriceImportSummary {
        files: paths.len(),
        ..Default::default()
    };
    let mut batch: Vec<PriceRow> = Vec::with_capacity(BATCH_ROWS);
    let mut batch_tickers = 0;
    for (k, path) in paths.iter().enumerate() {
        match file_rows(path) {
            Ok(rows) => {
                summary.bars += rows.len() as u64;
                batch_tickers += 1;
                batch.extend(rows);
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "price file skipped");
                summary.failed.push(FileFailure {
                    path: path.clone(),
                    reason,
                });
            }
        }
        if batch.len() >= BATCH_ROWS || (k + 1 == paths.len() && !batch.is_empty()) {
            let counts = write_batch(pool, &batch).await?;
            summary.inserted += counts.inserted;
            summary.updated += counts.updated;
            summary.tickers_imported += batch_tickers;
            batch.clear();
            batch_tickers = 0;
        }
        progress(k + 1, paths.len(), summary.bars);
    }
    Ok(summary)
}

/// `rows` (in file order, one ticker after another) cut as [`import_dir`] cuts them: whole
/// tickers, a batch closed once it holds at least `batch_rows` rows.
pub fn ticker_batches(rows: &[PriceRow], batch_rows: usize) -> Vec<&[PriceRow]> {
    let mut batches = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        let ticker_ends = i == rows.len() || rows[i].ticker != rows[i - 1].ticker;
        if ticker_ends && (i - start >= batch_rows || i == rows.len()) {
            batches.push(&rows[start..i]);
            start = i;
        }
    }
    batches
}

async fn write_batch(pool: &Pool, rows: &[PriceRow]) -> anyhow::Result<UpsertCounts> {
    let mut client = pool.get().await?;
    let tx = db::begin(&mut client, pool.statement_timeout()).await?;
    let counts = price_store::copy_upsert_prices(&tx, rows).await?;
    tx.commit().await.context("commit the price import")?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::indicators::IndicatorRow;
    use crate::core::DailyBar;

    #[test]
    fn batches_hold_whole_tickers() {
        let row = |t: &str| PriceRow {
            ticker: t.into(),
            bar: DailyBar {
                date: "2021-01-04".parse().unwrap(),
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                adjusted_close: 1.0,
                volume: 1,
            },
            indicators: IndicatorRow::default(),
        };
        let rows: Vec<PriceRow> = ["A", "A", "A", "B", "C", "C", "D"]
            .iter()
            .map(|t| row(t))
            .collect();
        let sizes: Vec<usize> = ticker_batches(&rows, 2).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [3, 3, 1]);
        let sizes: Vec<usize> = ticker_batches(&rows, 100).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [7]);
        assert!(ticker_batches(&[], 2).is_empty());
    }
}
