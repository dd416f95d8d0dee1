//! The `scrape-prices` handler: fetch daily bars for the universe, compute indicators,
//! upsert `stock_prices`, announce `prices.updated`.
//!
//! Per ticker: read the stored history, fetch from the last stored day minus an overlap
//! (or the initial history for a new ticker), re-fetch everything if the overlap shows
//! the series was re-scaled (a split), compute indicators over stored + fetched bars and
//! upsert the fetched days in one transaction. Tickers run with bounded concurrency and
//! fail alone: the summary lists which failed and why. What succeeded is announced; the
//! run then fails when a retryable failure left a ticker undone or nothing was stored
//! (`run_outcome`, docs/events.md), and prints its run metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::adapters::db::{self, DbError, Pool, QueryContext};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::price_store::{self, PriceRow};
use crate::adapters::yahoo::{YahooClient, YahooError};
use crate::config::PriceJobConfig;
use crate::core::indicators;
use crate::core::price_history::{compare_overlap, drop_invalid_bars, merge_history, Overlap};
use crate::core::universe::Universe;
use crate::core::DailyBar;
use crate::jobs::run_outcome::{daily_step_verdict, FailureKind, ItemCounts, RunMetrics};
use crate::jobs::scheduled::DailyRun;

/// The detail-type announced when a run stored at least one ticker.
pub const PRICES_UPDATED: &str = "prices.updated";

/// The seam through which the Reddit ingestion adds the tickers trending there for a
/// trading day. The watchlist alone is used until a source is attached.
pub trait TrendingTickers: Send + Sync {
    fn trending<'a>(
        &'a self,
        trading_date: NaiveDate,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<String>>> + Send + 'a>>;
}

/// How far back a run fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchWindow {
    /// From the last stored day minus the overlap (the daily run).
    Incremental,
    /// At least this many calendar days of history, whatever is stored (`tft backfill`).
    Backfill { days: u32 },
}

/// Why one ticker failed; the batch goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum TickerError {
    #[error("yahoo: {0}")]
    Yahoo(#[from] YahooError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("not done before the run's deadline")]
    Deadline,
}

impl TickerError {
    /// Yahoo's 429/5xx/timeouts and any database error may succeed on the retry; a 404,
    /// a delisted symbol or malformed data will not.
    pub fn kind(&self) -> FailureKind {
        match self {
            TickerError::Yahoo(e) if !e.is_retryable() => FailureKind::Permanent,
            _ => FailureKind::Retryable,
        }
    }
}

/// What happened to one ticker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickerReport {
    pub ticker: String,
    pub bars_fetched: usize,
    pub null_bars_skipped: usize,
    pub invalid_bars_dropped: usize,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    /// True when the overlap showed a re-scaled series and the history was re-fetched.
    pub full_refetch: bool,
}

/// A failed ticker and the reason, as the summary and the event report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TickerFailure {
    pub ticker: String,
    pub error: String,
}

/// What the Lambda keeps back from its remaining time for the run's end (the
/// announcement, the run metrics, the response).
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

/// The handler's result (also the Lambda's response).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrapePricesSummary {
    pub trading_date: Option<NaiveDate>,
    pub tickers_ok: Vec<String>,
    pub tickers_failed: Vec<TickerFailure>,
    /// Answered without one bar for the window: nothing stored, not announced.
    pub tickers_skipped: Vec<TickerFailure>,
    pub rejected_symbols: Vec<String>,
    pub bars_fetched: usize,
    pub null_bars_skipped: usize,
    pub invalid_bars_dropped: usize,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub full_refetches: Vec<String>,
    pub event_published: bool,
    /// The run's items by outcome (the run metrics).
    pub counts: ItemCounts,
}

impl ScrapePricesSummary {
    pub fn rows_written(&self) -> u64 {
        self.rows_inserted + self.rows_updated
    }
}

/// The `prices.updated` event's detail (schema in `docs/events.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricesUpdated {
    pub trading_date: NaiveDate,
    pub tickers: Vec<String>,
    pub tickers_failed: Vec<TickerFailure>,
    pub rows_written: u64,
}

/// Called after each ticker (progress bars).
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// The handler with its clients, built once per container.
#[derive(Clone)]
pub struct ScrapePrices {
    pub pool: Pool,
    pub yahoo: YahooClient,
    pub config: PriceJobConfig,
    pub events: Option<EventPublisher>,
    pub trending: Option<Arc<dyn TrendingTickers>>,
    pub progress: Option<ProgressFn>,
    /// Write each ticker by binary COPY and a set-based upsert
    /// (`price_store::copy_upsert_prices`) instead of the UNNEST upsert: `tft backfill`
    /// over the direct URL. Never behind PgBouncer (COPY prepares a named statement).
    pub bulk_copy: bool,
}

impl ScrapePrices {
    pub fn new(pool: Pool, yahoo: YahooClient, config: PriceJobConfig) -> Self {
        Self {
            pool,
            yahoo,
            config,
            events: None,
            trending: None,
            progress: None,
            bulk_copy: false,
        }
    }

    pub fn with_events(mut self, events: Option<EventPublisher>) -> Self {
        self.events = events;
        self
    }

    /// Adds the tickers trending on Reddit to every scheduled run (`None`: watchlist only).
    pub fn with_trending(mut self, trending: Option<Arc<dyn TrendingTickers>>) -> Self {
        self.trending = trending;
        self
    }

    /// The tickers of a run: those the event names, else the watchlist plus trending plus
    /// the benchmark (SPY: stored for the market-regime features, never a candidate).
    pub async fn universe(&self, run: &DailyRun) -> (Universe, Vec<String>) {
        if let Some(tickers) = &run.tickers {
            let (u, rejected) = Universe::from_watchlist(tickers);
            return (u, rejected.into_iter().map(|e| e.to_string()).collect());
        }
        let (mut universe, rejected) = Universe::from_watchlist(
            self.config
                .watchlist
                .iter()
                .chain(self.config.benchmark.as_ref()),
        );
        let mut rejected: Vec<String> = rejected.into_iter().map(|e| e.to_string()).collect();
        if let Some(source) = &self.trending {
            match source.trending(run.trading_date).await {
                Ok(trending) => {
                    let (u, more) = universe.with_trending(trending);
                    universe = u;
                    rejected.extend(more.into_iter().map(|e| e.to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "trending tickers unavailable; watchlist only")
                }
            }
        }
        (universe, rejected)
    }

    /// Runs the daily job for the event's trading date, with no deadline (backfills by
    /// hand).
    pub async fn handle(
        &self,
        run: &DailyRun,
        window: FetchWindow,
    ) -> anyhow::Result<ScrapePricesSummary> {
        Box::pin(self.run(run, window, None)).await
    }

    /// [`Self::handle`] under a deadline (the Lambda's remaining time less a margin): a
    /// ticker not done by then fails retryably ("not done before the run's deadline"),
    /// its transaction rolled back whole, so the run fails and its retry fetches it.
    pub async fn handle_until(
        &self,
        run: &DailyRun,
        window: FetchWindow,
        deadline: Instant,
    ) -> anyhow::Result<ScrapePricesSummary> {
        // Boxed: a deep future (the Lambda runtime's layout query overflows otherwise).
        Box::pin(self.run(run, window, Some(deadline))).await
    }

    #[tracing::instrument(skip(self, deadline), fields(trading_date = %run.trading_date))]
    async fn run(
        &self,
        run: &DailyRun,
        window: FetchWindow,
        deadline: Option<Instant>,
    ) -> anyhow::Result<ScrapePricesSummary> {
        let (universe, rejected_symbols) = self.universe(run).await;
        let mut summary = ScrapePricesSummary {
            trading_date: Some(run.trading_date),
            rejected_symbols,
            ..Default::default()
        };
        tracing::info!(tickers = universe.len(), "fetching prices");

        let mut results: Vec<(String, Result<TickerReport, TickerError>)> =
            stream::iter(universe.tickers().map(str::to_string))
                .map(|ticker| async move {
                    let work = self.process_ticker(&ticker, run.trading_date, window);
                    let result = match deadline {
                        Some(d) => tokio::time::timeout_at(d, work)
                            .await
                            .unwrap_or(Err(TickerError::Deadline)),
                        None => work.await,
                    };
                    if let Some(progress) = &self.progress {
                        progress(&ticker);
                    }
                    (ticker, result)
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));

        let mut first_retryable = None;
        for (ticker, result) in results {
            match result {
                // A window always holds the overlap's trading days: an answer without one
                // bar (`"result": []`, nothing for the range) is not a success to announce.
                Ok(report) if report.bars_fetched == 0 && report.null_bars_skipped == 0 => {
                    tracing::warn!(%ticker, "Yahoo answered no bar for the window: skipped");
                    summary.counts.skipped += 1;
                    summary.tickers_skipped.push(TickerFailure {
                        ticker,
                        error: "Yahoo answered no bar for the window".into(),
                    });
                }
                Ok(report) => {
                    summary.bars_fetched += report.bars_fetched;
                    summary.null_bars_skipped += report.null_bars_skipped;
                    summary.invalid_bars_dropped += report.invalid_bars_dropped;
                    summary.rows_inserted += report.rows_inserted;
                    summary.rows_updated += report.rows_updated;
                    if report.full_refetch {
                        summary.full_refetches.push(ticker.clone());
                    }
                    summary.tickers_ok.push(ticker);
                    summary.counts.ok += 1;
                }
                Err(error) => {
                    let kind = error.kind();
                    tracing::warn!(%ticker, %error, ?kind, "ticker failed");
                    summary.counts.failed(kind);
                    if kind == FailureKind::Retryable && first_retryable.is_none() {
                        first_retryable = Some(format!("{ticker}: {error}"));
                    }
                    summary.tickers_failed.push(TickerFailure {
                        ticker,
                        error: error.to_string(),
                    });
                }
            }
        }

        if !summary.tickers_ok.is_empty() {
            if let Some(events) = &self.events {
                let detail = PricesUpdated {
                    trading_date: run.trading_date,
                    tickers: summary.tickers_ok.clone(),
                    tickers_failed: summary.tickers_failed.clone(),
                    rows_written: summary.rows_written(),
                };
                events.publish(PRICES_UPDATED, &detail).await?;
                summary.event_published = true;
            }
        }

        tracing::info!(
            ok = summary.tickers_ok.len(),
            failed = summary.tickers_failed.len(),
            rows_inserted = summary.rows_inserted,
            rows_updated = summary.rows_updated,
            "prices done"
        );
        // Announced what succeeded above; now the partial-failure rule (run_outcome).
        let empty = summary.tickers_ok.is_empty().then(|| {
            if universe.is_empty() {
                "the universe is empty (no watchlist, no trending ticker)".to_string()
            } else {
                format!("no ticker stored ({} failed)", summary.tickers_failed.len())
            }
        });
        let verdict = daily_step_verdict(
            "scrape-prices",
            summary.counts,
            first_retryable.as_deref(),
            empty,
        );
        RunMetrics::new("scrape-prices", summary.counts)
            .with_failed(verdict.is_err())
            .emit();
        verdict?;
        Ok(summary)
    }

    fn window_start(
        &self,
        stored: &[DailyBar],
        trading_date: NaiveDate,
        window: FetchWindow,
    ) -> NaiveDate {
        let days_back = |d: NaiveDate, n: u32| d.checked_sub_days(Days::new(n.into())).unwrap_or(d);
        let initial = days_back(trading_date, self.config.initial_history_days);
        match (window, stored.last()) {
            (FetchWindow::Backfill { days }, _) => days_back(trading_date, days),
            (FetchWindow::Incremental, Some(last)) => {
                days_back(last.date, self.config.overlap_days)
            }
            (FetchWindow::Incremental, None) => initial,
        }
    }

    /// Fetches, computes and stores one ticker.
    #[tracing::instrument(skip(self))]
    pub async fn process_ticker(
        &self,
        ticker: &str,
        trading_date: NaiveDate,
        window: FetchWindow,
    ) -> Result<TickerReport, TickerError> {
        let stored = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            price_store::load_bars(&**client, ticker).await?
        };
        let from = self.window_start(&stored, trading_date, window);
        let mut series = self.yahoo.fetch_daily(ticker, from, trading_date).await?;
        let mut report = TickerReport {
            ticker: ticker.to_string(),
            ..Default::default()
        };

        if let Overlap::Rescaled { first_mismatch } = compare_overlap(&stored, &series.bars) {
            // A split (or a correction) re-scaled the past: take Yahoo's whole series again.
            let since = stored.first().map_or(from, |b| b.date.min(from));
            tracing::info!(%first_mismatch, %since, "stored history no longer matches; re-fetching");
            let null_bars = series.skipped_null_bars;
            series = self.yahoo.fetch_daily(ticker, since, trading_date).await?;
            series.skipped_null_bars += null_bars;
            report.full_refetch = true;
        }

        report.null_bars_skipped = series.skipped_null_bars;
        let (fetched, dropped) = drop_invalid_bars(series.bars);
        report.bars_fetched = fetched.len();
        report.invalid_bars_dropped = dropped;
        if dropped > 0 {
            tracing::warn!(dropped, "bars with impossible values dropped");
        }
        if fetched.is_empty() {
            return Ok(report);
        }

        let history: &[DailyBar] = if report.full_refetch { &[] } else { &stored };
        let (merged, start) = merge_history(history, &fetched);
        let rows = price_rows(ticker, &merged, start);

        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .context("begin the price upsert")?;
        let counts = if self.bulk_copy {
            price_store::copy_upsert_prices(&tx, &rows).await?
        } else {
            price_store::upsert_prices(&*tx, &rows).await?
        };
        tx.commit().await.context("commit the price upsert")?;
        report.rows_inserted = counts.inserted;
        report.rows_updated = counts.updated;
        Ok(report)
    }
}

/// Computes indicators over `bars` and returns the rows from index `start` on.
pub fn price_rows(ticker: &str, bars: &[DailyBar], start: usize) -> Vec<PriceRow> {
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let volume: Vec<f64> = bars.iter().map(|b| b.volume as f64).collect();
    let computed = indicators::compute(&close, &volume);
    bars.iter()
        .zip(computed)
        .skip(start)
        .map(|(bar, indicators)| PriceRow {
            ticker: ticker.to_string(),
            bar: *bar,
            indicators,
        })
        .collect()
}
