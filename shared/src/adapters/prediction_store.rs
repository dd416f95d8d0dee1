//! `predictions`: what predict writes and generate-signals (and the backtest report) read.
//!
//! One row per (ticker, date, model version). Writes are one `INSERT ... SELECT FROM
//! UNNEST ... ON CONFLICT DO NOTHING` per chunk: a re-run of the same day with the same
//! model inserts nothing and changes nothing; a new model version adds rows beside the old.
//! Every statement is unnamed (`query_typed`), as PgBouncer in transaction mode needs.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};
use crate::core::features::Label;
use crate::core::prediction::{ClassProbabilities, Prediction};

/// A stored prediction: the ensemble's call and each model's own probabilities
/// (`model_probabilities`, e.g. `{"lstm": [s, h, b], ...}`; empty for a single model).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    pub prediction: Prediction,
    pub model_probabilities: BTreeMap<String, ClassProbabilities>,
}

/// A read failed, or a stored row is not a prediction this code can read.
#[derive(Debug, thiserror::Error)]
pub enum PredictionReadError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("unreadable stored prediction: {0}")]
    Decode(String),
}

const CHUNK_ROWS: usize = 2_000;

/// A probability as the table's CHECK accepts it: a weighted vote of probabilities that
/// are each ≤ 1 can exceed 1 by an ulp (0.3 + 0.4 + 0.3 > 1 in binary).
fn stored_probability(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// Inserts predictions that are not stored yet; returns how many were inserted.
#[tracing::instrument(skip(client, records), fields(rows = records.len()))]
pub async fn insert_predictions(
    client: &impl GenericClient,
    records: &[PredictionRecord],
) -> Result<u64, DbError> {
    let mut inserted = 0;
    for chunk in records.chunks(CHUNK_ROWS) {
        let tickers: Vec<&str> = chunk.iter().map(|r| r.prediction.ticker.as_str()).collect();
        let dates: Vec<NaiveDate> = chunk.iter().map(|r| r.prediction.date).collect();
        let versions: Vec<&str> = chunk
            .iter()
            .map(|r| r.prediction.model_version.as_str())
            .collect();
        let class = |i: usize| -> Vec<f64> {
            chunk
                .iter()
                .map(|r| stored_probability(r.prediction.probabilities[i]))
                .collect()
        };
        let (sell, hold, buy) = (class(0), class(1), class(2));
        let signals: Vec<&str> = chunk.iter().map(|r| r.prediction.signal.name()).collect();
        let confidence: Vec<f64> = chunk
            .iter()
            .map(|r| stored_probability(r.prediction.confidence))
            .collect();
        let models: Vec<String> = chunk
            .iter()
            .map(|r| serde_json::to_string(&r.model_probabilities))
            .collect::<Result<_, _>>()
            .map_err(|e| DbError::Encode {
                context: "predictions.model_probabilities",
                reason: e.to_string(),
            })?;
        let timeout: Vec<Option<f64>> = chunk
            .iter()
            .map(|r| r.prediction.timeout_return.filter(|v| v.is_finite()))
            .collect();
        let params: [(&(dyn ToSql + Sync), Type); 10] = [
            (&tickers, Type::VARCHAR_ARRAY),
            (&dates, Type::DATE_ARRAY),
            (&versions, Type::VARCHAR_ARRAY),
            (&sell, Type::FLOAT8_ARRAY),
            (&hold, Type::FLOAT8_ARRAY),
            (&buy, Type::FLOAT8_ARRAY),
            (&signals, Type::VARCHAR_ARRAY),
            (&confidence, Type::FLOAT8_ARRAY),
            (&models, Type::TEXT_ARRAY),
            (&timeout, Type::FLOAT8_ARRAY),
        ];
        let rows = client
            .query_typed(
                "INSERT INTO predictions (ticker, date, model_version, prob_sell, prob_hold, prob_buy, \
                     signal, confidence, model_probabilities, timeout_return) \
                 SELECT u.ticker, u.date, u.version, u.sell, u.hold, u.buy, u.signal, u.confidence, \
                     u.models::jsonb, u.timeout \
                 FROM UNNEST($1::varchar[], $2::date[], $3::varchar[], $4::float8[], $5::float8[], $6::float8[], \
                     $7::varchar[], $8::float8[], $9::text[], $10::float8[]) \
                     AS u(ticker, date, version, sell, hold, buy, signal, confidence, models, timeout) \
                 ON CONFLICT (ticker, date, model_version) DO NOTHING RETURNING 1",
                &params,
            )
            .await
            .context("insert predictions")?;
        inserted += rows.len() as u64;
    }
    Ok(inserted)
}

/// The predictions of one model version for `date`, by ticker.
#[tracing::instrument(skip(client))]
pub async fn load_predictions(
    client: &impl GenericClient,
    date: NaiveDate,
    model_version: &str,
) -> Result<Vec<PredictionRecord>, PredictionReadError> {
    let rows = client
        .query_typed(
            "SELECT ticker::text, date, model_version::text, prob_sell, prob_hold, prob_buy, \
                 signal::text, confidence, model_probabilities::text, timeout_return \
             FROM predictions WHERE date = $1 AND model_version = $2 ORDER BY ticker",
            &[(&date, Type::DATE), (&model_version, Type::VARCHAR)],
        )
        .await
        .context("load predictions")?;
    rows.iter()
        .map(|r| {
            let signal: String = r.get(6);
            let signal = Label::CLASSES
                .into_iter()
                .find(|l| l.name() == signal)
                .ok_or_else(|| {
                    PredictionReadError::Decode(format!("predictions.signal {signal:?}"))
                })?;
            let models: String = r.get(8);
            let model_probabilities = serde_json::from_str(&models).map_err(|e| {
                PredictionReadError::Decode(format!(
                    "predictions.model_probabilities {models:?}: {e}"
                ))
            })?;
            Ok(PredictionRecord {
                prediction: Prediction {
                    ticker: r.get(0),
                    date: r.get(1),
                    model_version: r.get(2),
                    probabilities: [r.get(3), r.get(4), r.get(5)],
                    signal,
                    confidence: r.get(7),
                    timeout_return: r.get(9),
                },
                model_probabilities,
            })
        })
        .collect()
}

/// The model versions with predictions for `date`, oldest first (by their first write).
#[tracing::instrument(skip(client))]
pub async fn versions_on(
    client: &impl GenericClient,
    date: NaiveDate,
) -> Result<Vec<String>, DbError> {
    let rows = client
        .query_typed(
            "SELECT model_version::text FROM predictions WHERE date = $1 \
             GROUP BY model_version ORDER BY min(created_at), model_version",
            &[(&date, Type::DATE)],
        )
        .await
        .context("list prediction versions")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
