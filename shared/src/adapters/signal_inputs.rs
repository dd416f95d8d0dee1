//! What signal generation and the monitor read besides the predictions (prediction_store):
//! the day's closes with their indicators and features, and each ticker's latest daily sentiment.

use std::collections::HashMap;

use chrono::NaiveDate;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};
use crate::core::exits::SentimentReading;
use crate::core::features::{FeatureRow, FEATURE_SCHEMA};
use crate::core::signals::MarketRow;

/// The model version with the most recent predictions for `date`, if any.
pub async fn latest_model_version(
    client: &impl GenericClient,
    date: NaiveDate,
) -> Result<Option<String>, DbError> {
    let rows = client
        .query_typed(
            "SELECT model_version::text FROM predictions WHERE date = $1 \
             GROUP BY model_version ORDER BY max(created_at) DESC, model_version LIMIT 1",
            &[(&date, Type::DATE)],
        )
        .await
        .context("find the day's model version")?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// One ticker's day as a signal records it.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerDay {
    pub market: MarketRow,
    /// `stock_prices.rsi` (RSI 14) and `.macd` (the MACD line) of the day.
    pub rsi: Option<f64>,
    pub macd: Option<f64>,
    /// The day's `sentiment_score` / `sentiment_trend` features.
    pub sentiment_score: Option<f64>,
    pub sentiment_trend: Option<f64>,
}

/// The day's close, indicators and features of `tickers`. A ticker without a bar that
/// day is absent; without a features row its volatility reads 0 (the 5 % stop) and its
/// sentiment is unknown.
#[tracing::instrument(skip(client, tickers), fields(tickers = tickers.len()))]
pub async fn load_ticker_days(
    client: &impl GenericClient,
    date: NaiveDate,
    tickers: &[String],
) -> Result<HashMap<String, TickerDay>, DbError> {
    let hash = FEATURE_SCHEMA.hash();
    let rows = client
        .query_typed(
            "SELECT p.ticker::text, p.close, p.rsi, p.macd, f.feature_values \
             FROM stock_prices p \
             LEFT JOIN features f ON f.ticker = p.ticker AND f.date = p.date AND f.schema_hash = $3 \
             WHERE p.date = $1 AND p.ticker = ANY($2)",
            &[
                (&date, Type::DATE),
                (&tickers, Type::TEXT_ARRAY),
                (&hash, Type::VARCHAR),
            ],
        )
        .await
        .context("load the day's closes and features")?;
    Ok(rows
        .iter()
        .map(|r| {
            let ticker: String = r.get(0);
            let values: Option<Vec<f64>> = r.get(4);
            let row = values.map(|values| FeatureRow {
                ticker: ticker.clone(),
                date,
                values,
            });
            let feature = |name: &str| row.as_ref().and_then(|f| f.get(name));
            let day = TickerDay {
                market: MarketRow {
                    close: r.get(1),
                    volatility_20d: feature("volatility_20d").unwrap_or(0.0),
                },
                rsi: r.get(2),
                macd: r.get(3),
                sentiment_score: feature("sentiment_score"),
                sentiment_trend: feature("sentiment_trend"),
            };
            (ticker, day)
        })
        .collect())
}

/// Each ticker's latest sentiment reading dated before `today` (a day's reading is
/// known after its 16:30 cutoff, so it acts from the next trading day).
#[tracing::instrument(skip(client, tickers), fields(tickers = tickers.len()))]
pub async fn latest_sentiment_before(
    client: &impl GenericClient,
    today: NaiveDate,
    tickers: &[String],
) -> Result<HashMap<String, SentimentReading>, DbError> {
    let hash = FEATURE_SCHEMA.hash();
    let rows = client
        .query_typed(
            "SELECT DISTINCT ON (ticker) ticker::text, date, feature_values FROM features \
             WHERE schema_hash = $1 AND ticker = ANY($2) AND date < $3 ORDER BY ticker, date DESC",
            &[
                (&hash, Type::VARCHAR),
                (&tickers, Type::TEXT_ARRAY),
                (&today, Type::DATE),
            ],
        )
        .await
        .context("load the latest sentiment")?;
    Ok(rows
        .iter()
        .map(|r| {
            let row = FeatureRow {
                ticker: r.get(0),
                date: r.get(1),
                values: r.get(2),
            };
            (row.ticker.clone(), SentimentReading::from_features(&row))
        })
        .collect())
}
