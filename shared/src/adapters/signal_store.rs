//! `trading_signals`: idempotent inserts, the open positions, and the conditional close
//! that makes concurrent monitors close each position exactly once.

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};
use crate::core::exits::ExitReason;

/// A signal to store (a BUY with its plan, or a SELL/HOLD for the record).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub ticker: String,
    pub trading_date: NaiveDate,
    pub signal: &'static str,
    pub confidence: f64,
    pub model_version: String,
    pub entry_price: f64,
    pub target_price: Option<f64>,
    pub stop_loss: Option<f64>,
    pub risk_reward_ratio: Option<f64>,
    pub position_size_pct: Option<f64>,
    pub shares: Option<i64>,
    pub rsi_value: Option<f64>,
    pub macd_value: Option<f64>,
    pub sentiment_score: Option<f64>,
    pub sentiment_trend: Option<f64>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewSignal {
    /// The uniqueness key: one signal per day, ticker and direction, whatever the model
    /// (a day is traded once: migrations/V12). Keys stored before V12 end with the model
    /// version and stay as they are.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.trading_date, self.ticker, self.signal)
    }
}

/// An open position as the monitor reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSignal {
    pub id: i64,
    pub ticker: String,
    pub trading_date: NaiveDate,
    pub entry_price: f64,
    pub target_price: Option<f64>,
    pub stop_loss: Option<f64>,
    pub shares: Option<i64>,
    pub generated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts a signal unless its key exists; returns its id when it was new. A BUY is
/// inserted open (`is_active`); a SELL or HOLD is a record, inserted inactive.
#[tracing::instrument(skip(client, s), fields(ticker = %s.ticker))]
pub async fn insert_signal(
    client: &impl GenericClient,
    s: &NewSignal,
) -> Result<Option<i64>, DbError> {
    let key = s.key();
    let rows = client
        .query_typed(
            "INSERT INTO trading_signals (signal_key, ticker, trading_date, signal, confidence, model_version, \
                 entry_price, target_price, stop_loss, risk_reward_ratio, position_size_pct, shares, rsi_value, \
                 macd_value, sentiment_score, sentiment_trend, expires_at, is_active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $4 = 'BUY') \
             ON CONFLICT (signal_key) DO NOTHING RETURNING id",
            &[
                (&key, Type::VARCHAR),
                (&s.ticker, Type::VARCHAR),
                (&s.trading_date, Type::DATE),
                (&s.signal, Type::VARCHAR),
                (&s.confidence, Type::FLOAT8),
                (&s.model_version, Type::VARCHAR),
                (&s.entry_price, Type::FLOAT8),
                (&s.target_price, Type::FLOAT8),
                (&s.stop_loss, Type::FLOAT8),
                (&s.risk_reward_ratio, Type::FLOAT8),
                (&s.position_size_pct, Type::FLOAT8),
                (&s.shares, Type::INT8),
                (&s.rsi_value, Type::FLOAT8),
                (&s.macd_value, Type::FLOAT8),
                (&s.sentiment_score, Type::FLOAT8),
                (&s.sentiment_trend, Type::FLOAT8),
                (&s.expires_at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("insert a trading signal")?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// The open BUY positions, oldest first.
pub async fn open_positions(client: &impl GenericClient) -> Result<Vec<OpenSignal>, DbError> {
    let rows = client
        .query_typed(
            "SELECT id, ticker, trading_date, entry_price, target_price, stop_loss, shares, generated_at, expires_at \
             FROM trading_signals WHERE is_active AND signal = 'BUY' ORDER BY generated_at, id",
            &[],
        )
        .await
        .context("read open positions")?;
    Ok(rows
        .iter()
        .map(|r| OpenSignal {
            id: r.get(0),
            ticker: r.get(1),
            trading_date: r.get(2),
            entry_price: r.get(3),
            target_price: r.get(4),
            stop_loss: r.get(5),
            shares: r.get(6),
            generated_at: r.get(7),
            expires_at: r.get(8),
        })
        .collect())
}

/// Closes a position if it is still open (a pending entry, not yet filled, is not a
/// position and is never closed here). Returns false when another monitor (or an
/// earlier delivery of the same event) closed it first: the caller then announces nothing.
#[tracing::instrument(skip(client))]
pub async fn close_position(
    client: &impl GenericClient,
    id: i64,
    exit_price: f64,
    reason: ExitReason,
    closed_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let reason = reason.as_str();
    let rows = client
        .query_typed(
            "UPDATE trading_signals SET is_active = false, exit_price = $2, exit_reason = $3, closed_at = $4 \
             WHERE id = $1 AND is_active AND entry_status IS DISTINCT FROM 'pending' RETURNING id",
            &[
                (&id, Type::INT8),
                (&exit_price, Type::FLOAT8),
                (&reason, Type::VARCHAR),
                (&closed_at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("close a position")?;
    Ok(!rows.is_empty())
}

/// Links a SELL signal to the held BUY it closed (a `signal_flip`).
pub async fn link_flip(
    client: &impl GenericClient,
    sell_id: i64,
    closed_buy_id: i64,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE trading_signals SET closes_signal_id = $2 WHERE id = $1",
            &[(&sell_id, Type::INT8), (&closed_buy_id, Type::INT8)],
        )
        .await
        .context("link a SELL to the position it closed")?;
    Ok(())
}
/// The open positions a trader asked to close (`POST /v1/positions/{id}/close`): the
/// monitor's next run closes them at its quote, reason `manual`.
#[tracing::instrument(skip(client))]
pub async fn close_requested(
    client: &impl GenericClient,
) -> Result<std::collections::HashSet<i64>, DbError> {
    let rows = client
        .query_typed(
            "SELECT id FROM trading_signals WHERE is_active AND signal = 'BUY' AND close_requested_at IS NOT NULL",
            &[],
        )
        .await
        .context("read the close requests")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
