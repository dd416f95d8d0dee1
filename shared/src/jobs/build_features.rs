//! The `build-features` handler: after `prices.updated` for trading day D, recompute D's
//! Reddit aggregate (its cutoff has passed), compute every ticker's features from its
//! stored bars and daily sentiment up to D, upsert the recent rows, announce
//! `features.built`.
//!
//! The rows come from [`ticker_features`], the same function the export for training
//! and the backtester call, over the same inputs (bars <= D, aggregates <= D), so what
//! predict reads equals what the models were trained on.

use chrono::{Days, NaiveDate};
use deadpool_postgres::Pool;
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::adapters::db::DbError;
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::feature_store;
use crate::adapters::price_store::{self, UpsertCounts};
use crate::core::features::{ticker_features, DailySentiment, FEATURE_SCHEMA};
use crate::jobs::daily_sentiment::recompute_days;
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
}

impl BuildFeatures {
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

        let tickers = match &run.tickers {
            Some(t) => t.clone(),
            None => {
                let client = self.pool.get().await.map_err(DbError::from)?;
                feature_store::tickers_with_bar_on(&**client, day).await?
            }
        };
        let results: Vec<(String, Result<UpsertCounts, DbError>)> = stream::iter(tickers)
            .map(|ticker| {
                let hash = schema_hash.clone();
                async move {
                    let r = self.build_ticker(&ticker, day, &hash).await;
                    (ticker, r)
                }
            })
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        for (ticker, result) in results {
            match result {
                Ok(counts) => {
                    summary.rows_inserted += counts.inserted;
                    summary.rows_updated += counts.updated;
                    summary.tickers_ok.push(ticker);
                }
                Err(e) => summary.tickers_failed.push(TickerFailure {
                    ticker,
                    error: e.to_string(),
                }),
            }
        }
        if summary.tickers_ok.is_empty() && !summary.tickers_failed.is_empty() {
            anyhow::bail!(
                "every ticker failed; first: {:?}",
                summary.tickers_failed[0]
            );
        }
        if let (Some(events), false) = (&self.events, summary.tickers_ok.is_empty()) {
            let detail = FeaturesBuilt {
                trading_date: day,
                schema_hash,
                tickers: summary.tickers_ok.clone(),
            };
            events.publish(FEATURES_BUILT, &detail).await?;
            summary.event_published = true;
        }
        Ok(summary)
    }

    async fn build_ticker(
        &self,
        ticker: &str,
        day: NaiveDate,
        schema_hash: &str,
    ) -> Result<UpsertCounts, DbError> {
        let client = self.pool.get().await?;
        let mut bars = price_store::load_bars(&**client, ticker).await?;
        bars.retain(|b| b.date <= day);
        let sentiment: Vec<DailySentiment> =
            feature_store::ticker_sentiment_until(&**client, ticker, day)
                .await?
                .iter()
                .map(DailySentiment::from)
                .collect();
        let since = day.checked_sub_days(Days::new(REWRITE_DAYS)).unwrap_or(day);
        let rows: Vec<_> = ticker_features(ticker, &bars, &sentiment)
            .into_iter()
            .filter(|r| r.date >= since)
            .collect();
        feature_store::upsert_features(&**client, schema_hash, FEATURE_SCHEMA.len(), &rows).await
    }
}
