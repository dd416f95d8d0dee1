//! What the query API reads (docs/api.md): signals with keyset pagination, one signal's
//! whole story, refusals, predictions, and the freshness of each daily step. Read only;
//! the API's writes (pause, close requests, keys) are in `api_keys` and `signal_store`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};

use super::db::{DbError, QueryContext};

/// A signal's life stage, as the API filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignalStatus {
    /// Booked after the signal day's close, not filled yet.
    Pending,
    /// Filled and held.
    Open,
    /// Exited (target, stop, flip, time decay, manual).
    Closed,
    /// Never filled (no bar on its session, not one share affordable, cancelled).
    Missed,
}

impl SignalStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            "missed" => Some(Self::Missed),
            _ => None,
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Self::Pending => "is_active AND entry_status = 'pending'",
            Self::Open => "is_active AND coalesce(entry_status, 'filled') = 'filled'",
            Self::Closed => "NOT is_active AND exit_reason IS NOT NULL",
            Self::Missed => "entry_status = 'missed'",
        }
    }
}

const STATUS_SQL: &str = "CASE WHEN entry_status = 'missed' THEN 'missed' \
     WHEN is_active AND entry_status = 'pending' THEN 'pending' \
     WHEN is_active THEN 'open' ELSE 'closed' END";

/// Filters of `GET /v1/signals`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalFilter {
    pub status: Option<SignalStatus>,
    pub ticker: Option<String>,
    /// Signal dates, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A BUY signal as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalSummary {
    pub id: i64,
    pub ticker: String,
    pub trading_date: NaiveDate,
    pub status: String,
    pub confidence: f64,
    pub model_version: String,
    pub entry_price: f64,
    pub stop_loss: Option<f64>,
    pub target_price: Option<f64>,
    pub risk_reward_ratio: Option<f64>,
    pub position_size_pct: Option<f64>,
    pub shares: Option<i64>,
    pub entry_date: Option<NaiveDate>,
    pub fill_price: Option<f64>,
    pub mark_price: Option<f64>,
    pub exit_price: Option<f64>,
    pub exit_reason: Option<String>,
    pub realized_pnl: Option<f64>,
    pub generated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_requested_at: Option<DateTime<Utc>>,
}

const SUMMARY_COLUMNS: &str = "id, ticker::text, trading_date, confidence, model_version::text, entry_price, \
     stop_loss, target_price, risk_reward_ratio, position_size_pct, shares, entry_date, fill_price, \
     mark_price, exit_price, exit_reason::text, realized_pnl, generated_at, closed_at, close_requested_at";

fn summary_from(r: &Row) -> SignalSummary {
    SignalSummary {
        id: r.get(0),
        ticker: r.get(1),
        trading_date: r.get(2),
        confidence: r.get(3),
        model_version: r.get(4),
        entry_price: r.get(5),
        stop_loss: r.get(6),
        target_price: r.get(7),
        risk_reward_ratio: r.get(8),
        position_size_pct: r.get(9),
        shares: r.get(10),
        entry_date: r.get(11),
        fill_price: r.get(12),
        mark_price: r.get(13),
        exit_price: r.get(14),
        exit_reason: r.get(15),
        realized_pnl: r.get(16),
        generated_at: r.get(17),
        closed_at: r.get(18),
        close_requested_at: r.get(19),
        status: r.get(20),
    }
}

/// BUY signals newest first on (generated_at, id), after the keyset `after` (the last
/// item of the previous page), at most `limit`.
#[tracing::instrument(skip(client))]
pub async fn list_signals(
    client: &impl GenericClient,
    filter: &SignalFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<SignalSummary>, DbError> {
    let status = filter.status.map_or("TRUE", SignalStatus::condition);
    let (after_at, after_id) = after.unzip();
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {STATUS_SQL} FROM trading_signals \
         WHERE signal = 'BUY' AND {status} \
           AND ($1::text IS NULL OR ticker = $1) \
           AND ($2::date IS NULL OR trading_date >= $2) AND ($3::date IS NULL OR trading_date <= $3) \
           AND ($4::timestamptz IS NULL OR (generated_at, id) < ($4, $5::int8)) \
         ORDER BY generated_at DESC, id DESC LIMIT $6"
    );
    let rows = client
        .query_typed(
            &sql,
            &[
                (&filter.ticker, Type::TEXT),
                (&filter.from, Type::DATE),
                (&filter.to, Type::DATE),
                (&after_at, Type::TIMESTAMPTZ),
                (&after_id, Type::INT8),
                (&limit, Type::INT8),
            ],
        )
        .await
        .context("list signals")?;
    Ok(rows.iter().map(summary_from).collect())
}

/// One signal with everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalDetail {
    #[serde(flatten)]
    pub signal: SignalSummary,
    /// The levels planned at the signal day's close, before the fill re-based them.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub planned: serde_json::Value,
    /// Costs and the fill.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fill: serde_json::Value,
    /// The exit as booked (market price, fill after slippage, commission, P&L).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub exit: serde_json::Value,
    /// The stored feature row of the signal day (name → value), if any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub features: Option<serde_json::Value>,
    /// The prediction behind it: per-model probabilities and the vote.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub prediction: Option<serde_json::Value>,
    /// The notifications about it and how they went.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub deliveries: Vec<serde_json::Value>,
}

/// `GET /v1/signals/{id}`; `None` for no BUY signal with that id.
#[tracing::instrument(skip(client))]
pub async fn signal_detail(
    client: &impl GenericClient,
    id: i64,
    schema_hash: &str,
    feature_names: &[&str],
) -> Result<Option<SignalDetail>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT {SUMMARY_COLUMNS}, {STATUS_SQL}, planned_stop_loss, planned_target_price, reserved_cash, \
                     entry_open, entry_commission, filled_at, entry_note, exit_fill_price, exit_commission, \
                     expires_at, close_requested_by::text \
                 FROM trading_signals WHERE id = $1 AND signal = 'BUY'"
            ),
            &[(&id, Type::INT8)],
        )
        .await
        .context("read a signal")?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let signal = summary_from(r);
    let planned = serde_json::json!({
        "entry_price": signal.entry_price,
        "stop_loss": r.get::<_, Option<f64>>(21).or(signal.stop_loss),
        "target_price": r.get::<_, Option<f64>>(22).or(signal.target_price),
        "reserved_cash": r.get::<_, Option<f64>>(23),
    });
    let fill = serde_json::json!({
        "entry_date": signal.entry_date,
        "open": r.get::<_, Option<f64>>(24),
        "fill_price": signal.fill_price,
        "commission": r.get::<_, Option<f64>>(25),
        "filled_at": r.get::<_, Option<DateTime<Utc>>>(26),
        "note": r.get::<_, Option<String>>(27),
        "stop_loss": signal.stop_loss,
        "target_price": signal.target_price,
        "expires_at": r.get::<_, Option<DateTime<Utc>>>(30),
    });
    let exit = serde_json::json!({
        "exit_price": signal.exit_price,
        "exit_fill_price": r.get::<_, Option<f64>>(28),
        "commission": r.get::<_, Option<f64>>(29),
        "exit_reason": signal.exit_reason,
        "closed_at": signal.closed_at,
        "realized_pnl": signal.realized_pnl,
        "close_requested_at": signal.close_requested_at,
        "close_requested_by": r.get::<_, Option<String>>(31),
    });
    let features = client
        .query_typed(
            "SELECT feature_values FROM features WHERE ticker = $1 AND date = $2 AND schema_hash = $3",
            &[
                (&signal.ticker, Type::VARCHAR),
                (&signal.trading_date, Type::DATE),
                (&schema_hash, Type::VARCHAR),
            ],
        )
        .await
        .context("read a signal's features")?
        .first()
        .map(|r| {
            let values: Vec<f64> = r.get(0);
            let map: serde_json::Map<String, serde_json::Value> = feature_names
                .iter()
                .zip(values)
                .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
                .collect();
            serde_json::Value::Object(map)
        });
    let prediction = client
        .query_typed(
            "SELECT prob_sell, prob_hold, prob_buy, signal::text, confidence, model_probabilities::text, timeout_return \
             FROM predictions WHERE ticker = $1 AND date = $2 AND model_version = $3",
            &[
                (&signal.ticker, Type::VARCHAR),
                (&signal.trading_date, Type::DATE),
                (&signal.model_version, Type::VARCHAR),
            ],
        )
        .await
        .context("read a signal's prediction")?
        .first()
        .map(|r| {
            let per_model: String = r.get(5);
            serde_json::json!({
                "vote": {"sell": r.get::<_, f64>(0), "hold": r.get::<_, f64>(1), "buy": r.get::<_, f64>(2)},
                "signal": r.get::<_, String>(3),
                "confidence": r.get::<_, f64>(4),
                "models": serde_json::from_str::<serde_json::Value>(&per_model).unwrap_or_default(),
                "timeout_return": r.get::<_, Option<f64>>(6),
            })
        });
    let deliveries = client
        .query_typed(
            "SELECT idempotency_key::text, event_type::text, channel::text, attempts, sent_at, failed_at, skipped_at, last_error \
             FROM notification_outbox WHERE idempotency_key LIKE '%:' || $1 || ':%' ORDER BY id",
            &[(&id.to_string(), Type::TEXT)],
        )
        .await
        .context("read a signal's notifications")?
        .iter()
        .map(|r| {
            let status = if r.get::<_, Option<DateTime<Utc>>>(4).is_some() {
                "sent"
            } else if r.get::<_, Option<DateTime<Utc>>>(5).is_some() {
                "given_up"
            } else if r.get::<_, Option<DateTime<Utc>>>(6).is_some() {
                "skipped"
            } else {
                "pending"
            };
            serde_json::json!({
                "key": r.get::<_, String>(0), "event_type": r.get::<_, String>(1),
                "channel": r.get::<_, String>(2), "attempts": r.get::<_, i32>(3),
                "status": status, "last_error": r.get::<_, Option<String>>(7),
            })
        })
        .collect();
    Ok(Some(SignalDetail {
        signal,
        planned,
        fill,
        exit,
        features,
        prediction,
        deliveries,
    }))
}

/// A refused candidate's failed rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusal {
    pub ticker: String,
    pub rule: String,
    pub reason: String,
    pub confidence: Option<f64>,
    pub model_version: String,

    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// The refusals of `date` (or of the latest date that has any).
pub async fn rejections(
    client: &impl GenericClient,
    date: Option<NaiveDate>,
) -> Result<(Option<NaiveDate>, Vec<Refusal>), DbError> {
    let rows = client
        .query_typed(
            "WITH d AS (SELECT coalesce($1::date, (SELECT max(trading_date) FROM signal_rejections)) AS day) \
             SELECT r.trading_date, r.ticker::text, r.rule::text, r.reason, r.confidence, r.model_version::text, r.detail::text \
             FROM signal_rejections r, d WHERE r.trading_date = d.day \
             ORDER BY r.confidence DESC NULLS LAST, r.ticker, r.rule",
            &[(&date, Type::DATE)],
        )
        .await
        .context("read refusals")?;
    let day = rows.first().map(|r| r.get(0)).or(date);
    Ok((
        day,
        rows.iter()
            .map(|r| Refusal {
                ticker: r.get(1),
                rule: r.get(2),
                reason: r.get(3),
                confidence: r.get(4),
                model_version: r.get(5),
                detail: serde_json::from_str(&r.get::<_, String>(6)).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// One prediction as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PredictionView {
    pub ticker: String,
    pub model_version: String,
    pub signal: String,
    pub confidence: f64,
    pub prob_sell: f64,
    pub prob_hold: f64,
    pub prob_buy: f64,

    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub models: serde_json::Value,
    pub timeout_return: Option<f64>,
}

/// The predictions of `date` (or of the latest predicted date) with confidence at least
/// `min_confidence`, most confident first.
pub async fn predictions(
    client: &impl GenericClient,
    date: Option<NaiveDate>,
    min_confidence: f64,
) -> Result<(Option<NaiveDate>, Vec<PredictionView>), DbError> {
    let rows = client
        .query_typed(
            "WITH d AS (SELECT coalesce($1::date, (SELECT max(date) FROM predictions)) AS day) \
             SELECT p.date, p.ticker::text, p.model_version::text, p.signal::text, p.confidence, p.prob_sell, \
                    p.prob_hold, p.prob_buy, p.model_probabilities::text, p.timeout_return \
             FROM predictions p, d WHERE p.date = d.day AND p.confidence >= $2 \
             ORDER BY p.confidence DESC, p.ticker",
            &[(&date, Type::DATE), (&min_confidence, Type::FLOAT8)],
        )
        .await
        .context("read predictions")?;
    let day = rows.first().map(|r| r.get(0)).or(date);
    Ok((
        day,
        rows.iter()
            .map(|r| PredictionView {
                ticker: r.get(1),
                model_version: r.get(2),
                signal: r.get(3),
                confidence: r.get(4),
                prob_sell: r.get(5),
                prob_hold: r.get(6),
                prob_buy: r.get(7),
                models: serde_json::from_str(&r.get::<_, String>(8)).unwrap_or_default(),
                timeout_return: r.get(9),
            })
            .collect(),
    ))
}

/// The last run of each daily step, read from what each one writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepFreshness {
    pub step: String,
    /// The newest trading day it produced.
    pub trading_date: Option<NaiveDate>,
    /// When it last wrote.
    pub at: Option<DateTime<Utc>>,
}

/// scrape-prices (stock_prices), scrape-reddit (reddit_posts), build-features
/// (features), predict (predictions), generate-signals (signal_runs), monitor-positions
/// (the newest mark of a position), notify (the newest message sent); and the model the
/// last run traded with.
pub async fn freshness(
    client: &impl GenericClient,
) -> Result<(Vec<StepFreshness>, Option<String>), DbError> {
    let r = client
        .query_typed(
            "SELECT (SELECT max(date) FROM stock_prices), \
                    (SELECT max(scraped_at) FROM reddit_posts), \
                    (SELECT max(date) FROM features), (SELECT max(computed_at) FROM features), \
                    (SELECT max(date) FROM predictions), (SELECT max(created_at) FROM predictions), \
                    (SELECT max(trading_date) FROM signal_runs), (SELECT max(created_at) FROM signal_runs), \
                    (SELECT max(marked_at) FROM trading_signals WHERE signal = 'BUY'), \
                    (SELECT max(sent_at) FROM notification_outbox), \
                    (SELECT model_version::text FROM signal_runs ORDER BY trading_date DESC LIMIT 1)",
            &[],
        )
        .await
        .context("read the steps' freshness")?;
    let r = &r[0];
    let steps = vec![
        StepFreshness {
            step: "scrape-prices".into(),
            trading_date: r.get(0),
            at: None,
        },
        StepFreshness {
            step: "scrape-reddit".into(),
            trading_date: None,
            at: r.get(1),
        },
        StepFreshness {
            step: "build-features".into(),
            trading_date: r.get(2),
            at: r.get(3),
        },
        StepFreshness {
            step: "predict".into(),
            trading_date: r.get(4),
            at: r.get(5),
        },
        StepFreshness {
            step: "generate-signals".into(),
            trading_date: r.get(6),
            at: r.get(7),
        },
        StepFreshness {
            step: "monitor-positions".into(),
            trading_date: None,
            at: r.get(8),
        },
        StepFreshness {
            step: "notify".into(),
            trading_date: None,
            at: r.get(9),
        },
    ];
    Ok((steps, r.get(10)))
}

/// Asks the monitor to close an open (filled) position at its next run; `false` when
/// `id` is not an open, filled position (or a close was already asked).
pub async fn request_close(
    client: &impl GenericClient,
    id: i64,
    by: &str,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE trading_signals SET close_requested_at = now(), close_requested_by = $2 \
             WHERE id = $1 AND signal = 'BUY' AND is_active AND coalesce(entry_status, 'filled') = 'filled' \
               AND close_requested_at IS NULL RETURNING id",
            &[(&id, Type::INT8), (&by, Type::VARCHAR)],
        )
        .await
        .context("request a close")?;
    Ok(!rows.is_empty())
}

/// One day of the equity curve, with the benchmark scaled to the curve's first equity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EquityPoint {
    pub date: NaiveDate,
    pub equity: f64,
    pub drawdown: f64,
    pub cash: f64,
    pub open_positions: i32,
    /// The benchmark's close × (first equity / first benchmark close): buy & hold of the
    /// same money on the same days; `null` on a day it has no bar.
    pub benchmark: Option<f64>,
}

/// The marks of `portfolio_equity_curve` in [from, to] with `benchmark`'s closes.
pub async fn equity_curve(
    client: &impl GenericClient,
    benchmark: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<EquityPoint>, DbError> {
    let rows = client
        .query_typed(
            "SELECT e.date, e.equity, e.drawdown, e.cash, e.open_positions, b.close \
             FROM portfolio_equity_curve e \
             LEFT JOIN stock_prices b ON b.ticker = $1 AND b.date = e.date \
             WHERE ($2::date IS NULL OR e.date >= $2) AND ($3::date IS NULL OR e.date <= $3) \
             ORDER BY e.date",
            &[
                (&benchmark, Type::VARCHAR),
                (&from, Type::DATE),
                (&to, Type::DATE),
            ],
        )
        .await
        .context("read the equity curve")?;
    let mut base: Option<(f64, f64)> = None;
    Ok(rows
        .iter()
        .map(|r| {
            let equity: f64 = r.get(1);
            let close: Option<f64> = r.get(5);
            if let (None, Some(c)) = (base, close) {
                base = Some((equity, c));
            }
            EquityPoint {
                date: r.get(0),
                equity,
                drawdown: r.get(2),
                cash: r.get(3),
                open_positions: r.get(4),
                benchmark: match (base, close) {
                    (Some((e0, c0)), Some(c)) if c0 > 0.0 => Some(e0 * c / c0),
                    _ => None,
                },
            }
        })
        .collect())
}

/// The backtest's trade metrics on a group of live closed trades.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradeStats {
    /// The group's key (a ticker, an exit reason, `YYYY-MM`, `YYYY`; `all` for the total).
    pub key: String,
    pub trades: i64,
    pub wins: i64,
    pub win_rate: f64,
    /// Net P&L, costs included.
    pub total_pnl: f64,
    /// Mean net return per trade (P&L over what the entry cost).
    pub avg_return: f64,
    /// Gross wins over gross losses (`null` without a loss).
    pub profit_factor: Option<f64>,
    /// Mean P&L per trade.
    pub expectancy: f64,
    pub avg_days_held: Option<f64>,
}

/// How [`performance`] groups the closed trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Ticker,
    ExitReason,
    Month,
    Year,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ticker" => Some(Self::Ticker),
            "exit_reason" => Some(Self::ExitReason),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    fn key_sql(self) -> &'static str {
        match self {
            Self::Ticker => "ticker::text",
            Self::ExitReason => "exit_reason::text",
            Self::Month => "to_char(closed_at AT TIME ZONE 'America/New_York', 'YYYY-MM')",
            Self::Year => "to_char(closed_at AT TIME ZONE 'America/New_York', 'YYYY')",
        }
    }
}

/// The closed trades' metrics in total and by `group_by`.
pub async fn performance(
    client: &impl GenericClient,
    group_by: Option<GroupBy>,
) -> Result<(TradeStats, Vec<TradeStats>), DbError> {
    let stats = |key_sql: &str| {
        format!(
            "SELECT {key_sql} AS key, count(*), count(*) FILTER (WHERE realized_pnl > 0), \
                 coalesce(sum(realized_pnl), 0), \
                 coalesce(avg(realized_pnl / nullif(shares * fill_price + coalesce(entry_commission, 0), 0)), 0), \
                 sum(realized_pnl) FILTER (WHERE realized_pnl > 0), -sum(realized_pnl) FILTER (WHERE realized_pnl < 0), \
                 avg((closed_at AT TIME ZONE 'America/New_York')::date - entry_date + 1)::float8 \
             FROM trading_signals \
             WHERE signal = 'BUY' AND NOT is_active AND exit_reason IS NOT NULL AND realized_pnl IS NOT NULL \
             GROUP BY 1 ORDER BY 1"
        )
    };
    let read = |r: &Row| {
        let trades: i64 = r.get(1);
        let wins: i64 = r.get(2);
        let total: f64 = r.get(3);
        let gains: Option<f64> = r.get(5);
        let losses: Option<f64> = r.get(6);
        TradeStats {
            key: r.get(0),
            trades,
            wins,
            win_rate: if trades > 0 {
                wins as f64 / trades as f64
            } else {
                0.0
            },
            total_pnl: total,
            avg_return: r.get(4),
            profit_factor: match losses {
                Some(l) if l > 0.0 => Some(gains.unwrap_or(0.0) / l),
                _ => None,
            },
            expectancy: if trades > 0 {
                total / trades as f64
            } else {
                0.0
            },
            avg_days_held: r.get(7),
        }
    };
    let total = client
        .query_typed(&stats("'all'"), &[])
        .await
        .context("read the performance")?
        .first()
        .map(read)
        .unwrap_or(TradeStats {
            key: "all".into(),
            trades: 0,
            wins: 0,
            win_rate: 0.0,
            total_pnl: 0.0,
            avg_return: 0.0,
            profit_factor: None,
            expectancy: 0.0,
            avg_days_held: None,
        });
    let groups = match group_by {
        None => Vec::new(),
        Some(g) => client
            .query_typed(&stats(g.key_sql()), &[])
            .await
            .context("read the performance by group")?
            .iter()
            .map(read)
            .collect(),
    };
    Ok((total, groups))
}

/// A ticker's Reddit day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentimentDay {
    pub ticker: String,
    pub trading_date: NaiveDate,
    /// Once per author per day.
    pub mentions: i32,
    pub unique_authors: i32,
    pub sentiment: f64,
    pub weighted_sentiment: f64,
    pub bullish_share: f64,
    /// Against the ticker's previous stored day (`null` without one).
    pub mentions_change: Option<i32>,
    pub sentiment_change: Option<f64>,
    pub bullish_share_change: Option<f64>,
}

const SENTIMENT_SQL: &str =
    "SELECT ticker::text, trading_date, mentions, unique_authors, mean_sentiment, \
     weighted_sentiment, bullish_share, \
     mentions - lag(mentions) OVER w, mean_sentiment - lag(mean_sentiment) OVER w, \
     bullish_share - lag(bullish_share) OVER w \
     FROM ticker_sentiment_daily";

fn sentiment_from(r: &Row) -> SentimentDay {
    SentimentDay {
        ticker: r.get(0),
        trading_date: r.get(1),
        mentions: r.get(2),
        unique_authors: r.get(3),
        sentiment: r.get(4),
        weighted_sentiment: r.get(5),
        bullish_share: r.get(6),
        mentions_change: r.get(7),
        sentiment_change: r.get(8),
        bullish_share_change: r.get(9),
    }
}

/// The most mentioned tickers of `date` (default: the latest aggregated day).
pub async fn trending(
    client: &impl GenericClient,
    date: Option<NaiveDate>,
    limit: i64,
) -> Result<(Option<NaiveDate>, Vec<SentimentDay>), DbError> {
    let rows = client
        .query_typed(
            &format!(
                "WITH d AS (SELECT coalesce($1::date, (SELECT max(trading_date) FROM ticker_sentiment_daily)) AS day), \
                 s AS ({SENTIMENT_SQL} WINDOW w AS (PARTITION BY ticker ORDER BY trading_date)) \
                 SELECT s.* FROM s, d WHERE s.trading_date = d.day \
                 ORDER BY s.mentions DESC, s.unique_authors DESC, s.ticker LIMIT $2"
            ),
            &[(&date, Type::DATE), (&limit, Type::INT8)],
        )
        .await
        .context("read the trending tickers")?;
    let day = rows.first().map(|r| r.get(1)).or(date);
    Ok((day, rows.iter().map(sentiment_from).collect()))
}

/// A ticker's daily sentiment in [from, to].
pub async fn sentiment_series(
    client: &impl GenericClient,
    ticker: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<SentimentDay>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT * FROM ({SENTIMENT_SQL} WHERE ticker = $1 \
                     WINDOW w AS (PARTITION BY ticker ORDER BY trading_date)) s \
                 WHERE ($2::date IS NULL OR s.trading_date >= $2) AND ($3::date IS NULL OR s.trading_date <= $3) \
                 ORDER BY s.trading_date"
            ),
            &[(&ticker, Type::VARCHAR), (&from, Type::DATE), (&to, Type::DATE)],
        )
        .await
        .context("read a ticker's sentiment")?;
    Ok(rows.iter().map(sentiment_from).collect())
}

/// One day of a ticker's sentiment, as a trending row's sparkline draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentimentPoint {
    pub trading_date: NaiveDate,
    pub mentions: i32,
    pub sentiment: f64,
    pub bullish_share: f64,
}

/// The recent days of several tickers, oldest first: the days in
/// `(to - days, to]` for each of `tickers` (one query however many rows are trending).
pub async fn sentiment_history(
    client: &impl GenericClient,
    tickers: &[String],
    to: NaiveDate,
    days: i64,
) -> Result<Vec<(String, SentimentPoint)>, DbError> {
    if tickers.is_empty() {
        return Ok(Vec::new());
    }
    let from = to - chrono::Duration::days(days - 1);
    let rows = client
        .query_typed(
            "SELECT ticker::text, trading_date, mentions, mean_sentiment, bullish_share \
             FROM ticker_sentiment_daily \
             WHERE ticker = ANY($1) AND trading_date BETWEEN $2 AND $3 \
             ORDER BY ticker, trading_date",
            &[
                (&tickers, Type::VARCHAR_ARRAY),
                (&from, Type::DATE),
                (&to, Type::DATE),
            ],
        )
        .await
        .context("read the trending tickers' recent sentiment")?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                SentimentPoint {
                    trading_date: r.get(1),
                    mentions: r.get(2),
                    sentiment: r.get(3),
                    bullish_share: r.get(4),
                },
            )
        })
        .collect())
}

/// A daily bar with its stored indicators.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BarView {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: i64,
    pub rsi: Option<f64>,
    pub macd: Option<f64>,
    pub macd_signal: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_lower: Option<f64>,
    pub sma_50: Option<f64>,
    pub sma_200: Option<f64>,
}

/// A ticker's bars in [from, to] (default: the last 250 stored).
pub async fn bars(
    client: &impl GenericClient,
    ticker: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<BarView>, DbError> {
    let rows = client
        .query_typed(
            "SELECT date, open, high, low, close, volume, rsi, macd, macd_signal, bb_upper, bb_lower, sma_50, sma_200 \
             FROM (SELECT * FROM stock_prices WHERE ticker = $1 \
                     AND ($2::date IS NULL OR date >= $2) AND ($3::date IS NULL OR date <= $3) \
                   ORDER BY date DESC LIMIT CASE WHEN $2::date IS NULL THEN 250 ELSE 100000 END) b \
             ORDER BY date",
            &[(&ticker, Type::VARCHAR), (&from, Type::DATE), (&to, Type::DATE)],
        )
        .await
        .context("read a ticker's bars")?;
    Ok(rows
        .iter()
        .map(|r| BarView {
            date: r.get(0),
            open: r.get(1),
            high: r.get(2),
            low: r.get(3),
            close: r.get(4),
            volume: r.get(5),
            rsi: r.get(6),
            macd: r.get(7),
            macd_signal: r.get(8),
            bb_upper: r.get(9),
            bb_lower: r.get(10),
            sma_50: r.get(11),
            sma_200: r.get(12),
        })
        .collect())
}

/// The last day marked at the closes (`portfolio_equity_curve`).
pub async fn last_marked_day(client: &impl GenericClient) -> Result<Option<NaiveDate>, DbError> {
    let rows = client
        .query_typed("SELECT max(date) FROM portfolio_equity_curve", &[])
        .await
        .context("read the last marked day")?;
    Ok(rows.first().and_then(|r| r.get(0)))
}
