//! `features` and `feature_schemas`: the bulk upsert and the reads of predict
//! ([`load_windows`]: a day's feature windows).

use chrono::NaiveDate;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};
use super::price_store::UpsertCounts;
use super::reddit_store;
use crate::core::features::{FeatureRow, FeatureSchema};
use crate::core::mention_sentiment::TickerSentiment;
use crate::core::prediction::OwnedWindow;

/// Records the schema (idempotent).
pub async fn register_schema(
    client: &impl GenericClient,
    schema: &FeatureSchema,
) -> Result<String, DbError> {
    let hash = schema.hash();
    let names: Vec<&str> = schema.names.to_vec();
    let version = schema.version as i32;
    client
        .query_typed(
            "INSERT INTO feature_schemas (schema_hash, version, names) VALUES ($1, $2, $3) \
             ON CONFLICT (schema_hash) DO NOTHING",
            &[
                (&hash, Type::VARCHAR),
                (&version, Type::INT4),
                (&names, Type::TEXT_ARRAY),
            ],
        )
        .await
        .context("register the feature schema")?;
    Ok(hash)
}

/// Upserts rows of one schema; unchanged rows are left alone. The values travel as one
/// flat array plus the row width, since PostgreSQL arrays of arrays cannot be UNNESTed
/// row by row.
#[tracing::instrument(skip(client, rows), fields(rows = rows.len()))]
pub async fn upsert_features(
    client: &impl GenericClient,
    schema_hash: &str,
    width: usize,
    rows: &[FeatureRow],
) -> Result<UpsertCounts, DbError> {
    let mut counts = UpsertCounts::default();
    for chunk in rows.chunks(2_000) {
        let tickers: Vec<&str> = chunk.iter().map(|r| r.ticker.as_str()).collect();
        let dates: Vec<NaiveDate> = chunk.iter().map(|r| r.date).collect();
        let mut flat: Vec<f64> = Vec::with_capacity(chunk.len() * width);
        for r in chunk {
            debug_assert_eq!(r.values.len(), width);
            flat.extend_from_slice(&r.values);
        }
        let width_i = width as i32;
        let params: [(&(dyn ToSql + Sync), Type); 5] = [
            (&tickers, Type::VARCHAR_ARRAY),
            (&dates, Type::DATE_ARRAY),
            (&schema_hash, Type::VARCHAR),
            (&flat, Type::FLOAT8_ARRAY),
            (&width_i, Type::INT4),
        ];
        let returned = client
            .query_typed(
                "INSERT INTO features AS f (ticker, date, schema_hash, feature_values) \
                 SELECT u.ticker, u.date, $3, $4[(u.n - 1) * $5 + 1 : u.n * $5] \
                 FROM UNNEST($1::varchar[], $2::date[]) WITH ORDINALITY AS u(ticker, date, n) \
                 ON CONFLICT (ticker, date, schema_hash) DO UPDATE SET feature_values = EXCLUDED.feature_values, \
                     computed_at = now() \
                 WHERE f.feature_values IS DISTINCT FROM EXCLUDED.feature_values \
                 RETURNING (xmax = 0) AS inserted",
                &params,
            )
            .await
            .context("upsert features")?;
        counts.add_returned(&returned);
    }
    Ok(counts)
}

/// The feature rows of `tickers` (all when empty) from `from` to `to`, by ticker and date.
pub async fn load_features(
    client: &impl GenericClient,
    schema_hash: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FeatureRow>, DbError> {
    let rows = client
        .query_typed(
            "SELECT ticker, date, feature_values FROM features \
             WHERE schema_hash = $1 AND date >= $2 AND date <= $3 ORDER BY ticker, date",
            &[
                (&schema_hash, Type::VARCHAR),
                (&from, Type::DATE),
                (&to, Type::DATE),
            ],
        )
        .await
        .context("load features")?;
    Ok(rows
        .iter()
        .map(|r| FeatureRow {
            ticker: r.get(0),
            date: r.get(1),
            values: r.get(2),
        })
        .collect())
}

/// Tickers with a bar on `date`.
pub async fn tickers_with_bar_on(
    client: &impl GenericClient,
    date: NaiveDate,
) -> Result<Vec<String>, DbError> {
    let rows = client
        .query_typed(
            "SELECT ticker::text FROM stock_prices WHERE date = $1 ORDER BY ticker",
            &[(&date, Type::DATE)],
        )
        .await
        .context("list tickers with a bar")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The stored daily sentiment of one ticker up to `to` (inclusive).
pub async fn ticker_sentiment_until(
    client: &impl GenericClient,
    ticker: &str,
    to: NaiveDate,
) -> Result<Vec<TickerSentiment>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT {} FROM ticker_sentiment_daily \
                 WHERE ticker = $1 AND trading_date <= $2 ORDER BY trading_date",
                reddit_store::SENTIMENT_COLUMNS
            ),
            &[(&ticker, Type::VARCHAR), (&to, Type::DATE)],
        )
        .await
        .context("load ticker sentiment")?;
    Ok(rows.iter().map(reddit_store::sentiment_from_row).collect())
}

/// predict's input for `date`: for every ticker with a row ON `date` (schema
/// `schema_hash`; only `tickers` when given), its last `days` rows ending at `date`, oldest
/// first, by ticker. A ticker with a shorter history gets a shorter window (the predictor
/// skips it). One statement: a LATERAL walk down the primary key per ticker of the day.
#[tracing::instrument(skip(client, tickers))]
pub async fn load_windows(
    client: &impl GenericClient,
    schema_hash: &str,
    date: NaiveDate,
    days: usize,
    tickers: Option<&[String]>,
) -> Result<Vec<OwnedWindow>, DbError> {
    let limit = days as i64;
    let tickers: Option<Vec<&str>> = tickers.map(|t| t.iter().map(String::as_str).collect());
    let rows = client
        .query_typed(
            "SELECT d.ticker::text, w.date, w.feature_values FROM features d \
             CROSS JOIN LATERAL ( \
                 SELECT x.date, x.feature_values FROM features x \
                 WHERE x.ticker = d.ticker AND x.schema_hash = $1 AND x.date <= $2 \
                 ORDER BY x.date DESC LIMIT $3) w \
             WHERE d.schema_hash = $1 AND d.date = $2 \
                 AND ($4::varchar[] IS NULL OR d.ticker = ANY($4::varchar[])) \
             ORDER BY d.ticker, w.date",
            &[
                (&schema_hash, Type::VARCHAR),
                (&date, Type::DATE),
                (&limit, Type::INT8),
                (&tickers, Type::VARCHAR_ARRAY),
            ],
        )
        .await
        .context("load feature windows")?;
    let mut windows: Vec<OwnedWindow> = Vec::new();
    for r in &rows {
        let row = FeatureRow {
            ticker: r.get(0),
            date: r.get(1),
            values: r.get(2),
        };
        match windows.last_mut() {
            Some(w) if w.ticker == row.ticker => w.rows.push(row),
            _ => windows.push(OwnedWindow {
                ticker: row.ticker.clone(),
                rows: vec![row],
            }),
        }
    }
    Ok(windows)
}
