//! The `build-features` handler: after `prices.updated` for trading day D, recompute D's
//! Reddit aggregate (its cutoff has passed), compute the features of every ticker from
//! stored bars and daily sentiment up to D, upsert the recent rows in one transaction,
//! announce `features.built`.
//!
//! The rows come from [`universe_features`], the function the training export and the
//! backtester call, over the same inputs (bars <= D, aggregates <= D, the benchmark's bars
//! <= D, the universe's rows of each day), so what predict reads equals what the models
//! were trained on. The universe is the watchlist (the model's universe): its rows make the
//! cross-sectional ranks, so they are computed whatever tickers the run names; trending
//! tickers outside it are ranked against it. The benchmark (SPY) is read for the market
//! regime and never gets a feature row, so it is never a candidate.

use chrono::{Days, NaiveDate};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::adapters::db::{self, DbError, Pool, QueryContext};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::feature_store;
use crate::adapters::price_store;
use crate::config::PriceJobConfig;
use crate::core::features::{universe_features, DailySentiment, Market, FEATURE_SCHEMA};
use crate::core::universe::Universe;
use crate::core::DailyBar;
use crate::jobs::daily_sentiment::recompute_days;
use crate::jobs::run_outcome::{daily_step_verdict, ItemCounts, RunMetrics};
use crate::jobs::scheduled::DailyRun;
use crate::jobs::scrape_prices::TickerFailure;

/// The detail-type announced when features are stored.
pub const FEATURES_BUILT: &str = "features.built";

/// Calendar days of rows rewritten per run: D itself plus enough history for predict's
/// 30-day LSTM sequences to be complete after a missed day or a late correction.
pub const REWRITE_DAYS: u64 = 60;

/// The handler's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildFeaturesSummary {
    pub trading_date: Option<NaiveDate>,
    pub schema_hash: String,
    pub tickers_ok: Vec<String>,
    pub tickers_failed: Vec<TickerFailure>,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub sentiment_rows_changed: u64,
    pub event_published: bool,
    /// The run's items by outcome (the run metrics).
    pub counts: ItemCounts,
}

/// The `features.built` detail (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeaturesBuilt {
    pub trading_date: NaiveDate,
    pub schema_hash: String,
    pub tickers: Vec<String>,
}

#[derive(Clone)]
pub struct BuildFeatures {
    pub pool: Pool,
    pub events: Option<EventPublisher>,
    pub concurrency: usize,
    /// The model's universe (the watchlist); empty: every stored ticker with a bar on the
    /// day (the benchmark excepted).
    pub universe: Vec<String>,
    /// The benchmark's stored ticker (SPY); `None`: no market regime.
    pub benchmark: Option<String>,
}

/// One ticker's stored inputs up to D.
type Loaded = (String, Vec<DailyBar>, Vec<DailySentiment>);

impl BuildFeatures {
    /// The job with the universe and benchmark of the price job's configuration.
    pub fn new(
        pool: Pool,
        events: Option<EventPublisher>,
        concurrency: usize,
        prices: &PriceJobConfig,
    ) -> Self {
        Self {
            pool,
            events,
            concurrency,
            universe: prices.watchlist.clone(),
            benchmark: prices.benchmark.clone(),
        }
    }

    #[tracing::instrument(skip(self), fields(trading_date = %run.trading_date))]
    pub async fn handle(&self, run: &DailyRun) -> anyhow::Result<BuildFeaturesSummary> {
        let day = run.trading_date;
        let schema_hash = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            feature_store::register_schema(&**client, &FEATURE_SCHEMA).await?
        };
        let mut summary = BuildFeaturesSummary {
            trading_date: Some(day),
            schema_hash: schema_hash.clone(),
            ..Default::default()
        };
        summary.sentiment_rows_changed = recompute_days(&self.pool, &[day]).await?;

        let benchmark = self.benchmark.as_deref();
        let not_benchmark = |t: &String| Some(t.as_str()) != benchmark;
        let with_bar = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            feature_store::tickers_with_bar_on(&**client, day).await?
        };
        let targets: Vec<String> = match &run.tickers {
            Some(t) => t.iter().filter(|t| not_benchmark(t)).cloned().collect(),
            None => with_bar
                .iter()
                .filter(|t| not_benchmark(t))
                .cloned()
                .collect(),
        };
        let universe: Vec<String> = if self.universe.is_empty() {
            with_bar
                .iter()
                .filter(|t| not_benchmark(t))
                .cloned()
                .collect()
        } else {
            let (u, _) = Universe::from_watchlist(&self.universe);
            u.tickers()
                .map(str::to_string)
                .filter(|t| not_benchmark(t))
                .collect()
        };
        let mut to_load: Vec<String> = targets.iter().chain(&universe).cloned().collect();
        to_load.sort();
        to_load.dedup();

        let loaded: Vec<(String, Result<Loaded, DbError>)> = stream::iter(to_load)
            .map(|ticker| async move {
                let r = self.load_ticker(&ticker, day).await;
                (ticker, r)
            })
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        let mut prices = Vec::new();
        let mut sentiment = std::collections::BTreeMap::new();
        for (ticker, result) in loaded {
            match result {
                Ok((t, bars, daily)) => {
                    sentiment.insert(t.clone(), daily);
                    prices.push((t, bars));
                }
                Err(e) if targets.contains(&ticker) => summary.tickers_failed.push(TickerFailure {
                    ticker,
                    error: e.to_string(),
                }),
                Err(e) => {
                    tracing::warn!(%ticker, error = %e, "universe ticker left out of the ranks")
                }
            }
        }
        if targets.is_empty() {
            return finish(
                summary,
                Some(format!("no ticker has a stored bar on {day}")),
            );
        }
        if summary.tickers_failed.len() == targets.len() {
            let first = &summary.tickers_failed[0];
            return finish(
                summary.clone(),
                Some(format!(
                    "every ticker failed; first: {} — {}",
                    first.ticker, first.error
                )),
            );
        }
        let benchmark_bars = match benchmark {
            Some(b) => {
                let client = self.pool.get().await.map_err(DbError::from)?;
                let mut bars = price_store::load_bars(&**client, b).await?;
                bars.retain(|bar| bar.date <= day);
                bars
            }
            None => Vec::new(),
        };

        // The pure part: the same function as the export and the backtester.
        let since = day.checked_sub_days(Days::new(REWRITE_DAYS)).unwrap_or(day);
        let market = Market::new(benchmark_bars, universe);
        let (rows, _) = universe_features(&prices, &sentiment, &market, since);
        let rows: Vec<_> = rows
            .into_iter()
            .flatten()
            .filter(|r| targets.contains(&r.ticker))
            .collect();

        let counts = {
            let mut client = self.pool.get().await.map_err(DbError::from)?;
            let tx = db::begin(&mut client, self.pool.statement_timeout())
                .await
                .context("begin features")?;
            let counts =
                feature_store::upsert_features(&*tx, &schema_hash, FEATURE_SCHEMA.len(), &rows)
                    .await?;
            tx.commit().await.context("commit features")?;
            counts
        };
        summary.rows_inserted = counts.inserted;
        summary.rows_updated = counts.updated;
        summary.tickers_ok = prices
            .iter()
            .map(|(t, _)| t)
            .filter(|t| targets.contains(t))
            .cloned()
            .collect();

        if let (Some(events), false) = (&self.events, summary.tickers_ok.is_empty()) {
            let detail = FeaturesBuilt {
                trading_date: day,
                schema_hash,
                tickers: summary.tickers_ok.clone(),
            };
            events.publish(FEATURES_BUILT, &detail).await?;
            summary.event_published = true;
        }
        let empty = summary
            .tickers_ok
            .is_empty()
            .then(|| format!("no features stored for {day}"));
        finish(summary, empty)
    }

    /// A ticker's stored bars and daily sentiment up to `day`.
    async fn load_ticker(&self, ticker: &str, day: NaiveDate) -> Result<Loaded, DbError> {
        let client = self.pool.get().await?;
        let mut bars = price_store::load_bars(&**client, ticker).await?;
        bars.retain(|b| b.date <= day);
        let sentiment: Vec<DailySentiment> =
            feature_store::ticker_sentiment_until(&**client, ticker, day)
                .await?
                .iter()
                .map(DailySentiment::from)
                .collect();
        Ok((ticker.to_string(), bars, sentiment))
    }
}

/// The partial-failure rule (`run_outcome`): a ticker that failed here failed on the
/// database (retryable); the run fails when one did or nothing was built. Prints the run
/// metrics either way.
fn finish(
    mut summary: BuildFeaturesSummary,
    empty: Option<String>,
) -> anyhow::Result<BuildFeaturesSummary> {
    summary.counts = ItemCounts {
        ok: summary.tickers_ok.len(),
        failed_retryable: summary.tickers_failed.len(),
        ..Default::default()
    };
    let first = summary
        .tickers_failed
        .first()
        .map(|f| format!("{}: {}", f.ticker, f.error));
    let verdict = daily_step_verdict("build-features", summary.counts, first.as_deref(), empty);
    RunMetrics::new("build-features", summary.counts)
        .with_failed(verdict.is_err())
        .emit();
    verdict?;
    Ok(summary)
}
