//! The paper portfolio in PostgreSQL (`migrations/V7__paper_portfolio.sql`): the one
//! `paper_portfolio` row (cash, realised P&L, costs), the open BUY signals as positions,
//! the daily equity curve, the signal runs and the refused candidates.
//!
//! Writers lock the portfolio row first ([`lock`]) and do everything else in the same
//! transaction, so entries, exits and marks serialise on one row in one lock order.
//! Every statement goes through `query_typed` (PgBouncer in transaction mode).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use super::breaker_store;
use super::db::{DbError, QueryContext};
use crate::core::portfolio::{Costs, PortfolioState, Position};

/// The portfolio row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PortfolioAccount {
    pub starting_equity: f64,
    pub cash: f64,
    pub realized_pnl: f64,
    pub costs: Costs,
}

/// The portfolio as the risk manager reads it, with the signal id of each position.
///
/// A pending entry (booked after its signal date's close, not yet filled at the next
/// open) is in `state.positions` as the risk manager must see it: held, its slot taken,
/// its reserved cash gone, priced at the close estimate with its planned levels. It is
/// also in `pending`, and only [`crate::jobs::portfolio_book::fill_entry`] or
/// [`crate::jobs::portfolio_book::miss_entry`] may settle it (the exit rules skip it).
#[derive(Debug, Clone, PartialEq)]
pub struct LivePortfolio {
    pub account: PortfolioAccount,
    pub state: PortfolioState,
    /// Ticker → id of its open BUY signal (pending or filled).
    pub signal_ids: HashMap<String, i64>,
    /// Ticker → its pending entry.
    pub pending: HashMap<String, PendingEntry>,
}

/// A BUY booked at generation and waiting for its session's open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingEntry {
    pub signal_id: i64,
    pub ticker: String,
    /// The signal date (its close priced the plan).
    pub trading_date: NaiveDate,
    /// The session whose open fills it.
    pub entry_date: NaiveDate,
    /// The close estimate the plan was priced at.
    pub planned_entry: f64,
    pub shares: u64,
    pub reserved_cash: f64,
    /// The plan's stop and target distances (fractions of the entry price).
    pub stop_pct: f64,
    pub target_pct: f64,
    pub confidence: f64,
}

/// Creates the portfolio with `starting_equity` all in cash unless it exists (a later
/// change of the configured starting equity does not reset a running portfolio).
#[tracing::instrument(skip(client))]
pub async fn ensure(
    client: &impl GenericClient,
    starting_equity: f64,
    costs: Costs,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "INSERT INTO paper_portfolio (id, starting_equity, cash, commission_bps, slippage_bps) \
             VALUES (1, $1, $1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id",
            &[
                (&starting_equity, Type::FLOAT8),
                (&costs.commission_bps, Type::FLOAT8),
                (&costs.slippage_bps, Type::FLOAT8),
            ],
        )
        .await
        .context("create the paper portfolio")?;
    Ok(!rows.is_empty())
}

fn account(row: &tokio_postgres::Row) -> PortfolioAccount {
    PortfolioAccount {
        starting_equity: row.get(0),
        cash: row.get(1),
        realized_pnl: row.get(2),
        costs: Costs {
            commission_bps: row.get(3),
            slippage_bps: row.get(4),
        },
    }
}

const ACCOUNT_COLUMNS: &str = "starting_equity, cash, realized_pnl, commission_bps, slippage_bps";

/// Locks the portfolio row for the rest of the transaction and reads it. Call first in
/// every writing transaction. `None` when the portfolio was never created ([`ensure`]).
pub async fn lock(client: &impl GenericClient) -> Result<Option<PortfolioAccount>, DbError> {
    let rows = client
        .query_typed(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM paper_portfolio WHERE id = 1 FOR UPDATE"),
            &[],
        )
        .await
        .context("lock the paper portfolio")?;
    Ok(rows.first().map(account))
}

/// Reads the portfolio row without locking.
pub async fn account_of(client: &impl GenericClient) -> Result<Option<PortfolioAccount>, DbError> {
    let rows = client
        .query_typed(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM paper_portfolio WHERE id = 1"),
            &[],
        )
        .await
        .context("read the paper portfolio")?;
    Ok(rows.first().map(account))
}

/// The positions (open BUY signals, filled or pending), the peak from the equity curve,
/// and `account`'s cash: the state the risk manager reads (marked at the stored marks).
pub async fn load(
    client: &impl GenericClient,
    account: PortfolioAccount,
) -> Result<LivePortfolio, DbError> {
    let rows = client
        .query_typed(
            "SELECT id, ticker::text, shares, entry_date, fill_price, entry_commission, stop_loss, target_price, \
                    COALESCE(mark_price, entry_price), entry_status::text, reserved_cash, entry_price, trading_date, \
                    confidence \
             FROM trading_signals \
             WHERE is_active AND signal = 'BUY' AND (fill_price IS NOT NULL OR entry_status = 'pending') \
             ORDER BY ticker",
            &[],
        )
        .await
        .context("read the open positions")?;
    let mut positions = Vec::with_capacity(rows.len());
    let mut signal_ids = HashMap::new();
    let mut pending = HashMap::new();
    for r in &rows {
        let id: i64 = r.get(0);
        let ticker: String = r.get(1);
        let shares = r.get::<_, Option<i64>>(2).unwrap_or(0).max(0) as u64;
        // Nullable (rows older than the column, or written by hand): the session after the
        // signal's date, as booking sets it. Read as a plain date it would panic.
        let entry_date = r
            .get::<_, Option<NaiveDate>>(3)
            .unwrap_or_else(|| crate::core::nyse::next_trading_day(r.get(12)));
        let stop = r.get::<_, Option<f64>>(6).unwrap_or(0.0);
        let target = r.get::<_, Option<f64>>(7).unwrap_or(f64::INFINITY);
        let mark: f64 = r.get(8);
        signal_ids.insert(ticker.clone(), id);
        let fill: Option<f64> = r.get(4);
        let position = match fill {
            Some(fill_price) => Position {
                ticker: ticker.clone(),
                shares,
                entry_date,
                entry_price: fill_price,
                entry_commission: r.get::<_, Option<f64>>(5).unwrap_or(0.0),
                stop,
                target,
                mark,
            },
            None => {
                // Pending: as booked at generation, at the close estimate.
                let planned: f64 = r.get(11);
                let reserved = r.get::<_, Option<f64>>(10).unwrap_or(0.0);
                let paid = account.costs.buy_price(planned);
                pending.insert(
                    ticker.clone(),
                    PendingEntry {
                        signal_id: id,
                        ticker: ticker.clone(),
                        trading_date: r.get(12),
                        entry_date,
                        planned_entry: planned,
                        shares,
                        reserved_cash: reserved,
                        stop_pct: 1.0 - stop / planned,
                        target_pct: target / planned - 1.0,
                        confidence: r.get(13),
                    },
                );
                Position {
                    ticker: ticker.clone(),
                    shares,
                    entry_date,
                    entry_price: paid,
                    entry_commission: (reserved - shares as f64 * paid).max(0.0),
                    stop,
                    target,
                    mark,
                }
            }
        };
        positions.push(position);
    }
    // After a breaker release the peak restarts at the release's equity: only marks
    // from that day on count (docs/risk.md, "Drawdown breaker").
    let stored = breaker_store::load(client).await?;
    let (since, floor) = match stored.last_release {
        Some((date, equity)) => (Some(date), equity),
        None => (None::<NaiveDate>, account.starting_equity),
    };
    let peak: Option<f64> = client
        .query_typed(
            "SELECT max(peak_equity) FROM portfolio_equity_curve WHERE $1::date IS NULL OR date >= $1",
            &[(&since, Type::DATE)],
        )
        .await
        .context("read the equity peak")?[0]
        .get(0);
    let state = PortfolioState {
        cash: account.cash,
        positions,
        peak_equity: peak.unwrap_or(floor).max(floor),
        realized_pnl: account.realized_pnl,
        breaker: stored.breaker,
    };
    // The peak is not raised from the stored marks: an intraday mark (the monitor's)
    // is not a close, and only equity at the closes sets a peak (generate-signals marks
    // the closes). `EquityMark::of` never reports equity above its peak.
    Ok(LivePortfolio {
        account,
        state,
        signal_ids,
        pending,
    })
}

/// Adds to cash and realised P&L (negative for a buy).
pub async fn add_cash(
    client: &impl GenericClient,
    cash_delta: f64,
    realized_delta: f64,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE paper_portfolio SET cash = cash + $1, realized_pnl = realized_pnl + $2, updated_at = now() \
             WHERE id = 1",
            &[(&cash_delta, Type::FLOAT8), (&realized_delta, Type::FLOAT8)],
        )
        .await
        .context("update the portfolio cash")?;
    Ok(())
}

/// Marks a just-inserted BUY as a pending entry for `entry_date`'s open, with the cash
/// it reserved and its mark (the close estimate).
pub async fn record_pending_entry(
    client: &impl GenericClient,
    signal_id: i64,
    entry_date: NaiveDate,
    reserved_cash: f64,
    mark: f64,
    marked_at: DateTime<Utc>,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE trading_signals SET entry_status = 'pending', entry_date = $2, reserved_cash = $3, \
                 mark_price = $4, marked_at = $5 WHERE id = $1",
            &[
                (&signal_id, Type::INT8),
                (&entry_date, Type::DATE),
                (&reserved_cash, Type::FLOAT8),
                (&mark, Type::FLOAT8),
                (&marked_at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("record a pending entry")?;
    Ok(())
}

/// What a pending entry's fill changes on its row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryFill {
    pub signal_id: i64,
    /// The session open (market price).
    pub open: f64,
    pub shares: u64,
    /// Paid per share, slippage included, and the commission.
    pub fill_price: f64,
    pub entry_commission: f64,
    /// Re-based on the open.
    pub stop_loss: f64,
    pub target_price: f64,
    pub filled_at: DateTime<Utc>,
}

/// Fills a pending entry if it is still pending (conditional, as the close is: two
/// monitors racing fill it once). False when it was not pending any more.
pub async fn record_entry_fill(
    client: &impl GenericClient,
    f: &EntryFill,
) -> Result<bool, DbError> {
    let shares = f.shares as i64;
    let rows = client
        .query_typed(
            "UPDATE trading_signals SET entry_status = 'filled', entry_open = $2, shares = $3, fill_price = $4, \
                 entry_commission = $5, planned_stop_loss = stop_loss, planned_target_price = target_price, \
                 stop_loss = $6, target_price = $7, filled_at = $8, mark_price = $2, marked_at = $8 \
             WHERE id = $1 AND is_active AND entry_status = 'pending' RETURNING id",
            &[
                (&f.signal_id, Type::INT8),
                (&f.open, Type::FLOAT8),
                (&shares, Type::INT8),
                (&f.fill_price, Type::FLOAT8),
                (&f.entry_commission, Type::FLOAT8),
                (&f.stop_loss, Type::FLOAT8),
                (&f.target_price, Type::FLOAT8),
                (&f.filled_at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("fill a pending entry")?;
    Ok(!rows.is_empty())
}

/// Gives up a pending entry (no open to fill it at): inactive, `missed`, with why.
/// False when it was not pending any more.
pub async fn record_missed_entry(
    client: &impl GenericClient,
    signal_id: i64,
    note: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE trading_signals SET entry_status = 'missed', is_active = false, entry_note = $2, closed_at = $3 \
             WHERE id = $1 AND is_active AND entry_status = 'pending' RETURNING id",
            &[
                (&signal_id, Type::INT8),
                (&note, Type::TEXT),
                (&at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("record a missed entry")?;
    Ok(!rows.is_empty())
}

/// Records what an exit received on the closed signal row.
pub async fn record_exit_fill(
    client: &impl GenericClient,
    signal_id: i64,
    exit_fill_price: f64,
    exit_commission: f64,
    realized_pnl: f64,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE trading_signals SET exit_fill_price = $2, exit_commission = $3, realized_pnl = $4, \
                 mark_price = exit_price, marked_at = closed_at WHERE id = $1",
            &[
                (&signal_id, Type::INT8),
                (&exit_fill_price, Type::FLOAT8),
                (&exit_commission, Type::FLOAT8),
                (&realized_pnl, Type::FLOAT8),
            ],
        )
        .await
        .context("record an exit fill")?;
    Ok(())
}

/// Sets an open position's mark (a later price than the stored one).
pub async fn mark_position(
    client: &impl GenericClient,
    signal_id: i64,
    price: f64,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE trading_signals SET mark_price = $2, marked_at = $3 \
             WHERE id = $1 AND is_active AND (marked_at IS NULL OR marked_at <= $3)",
            &[
                (&signal_id, Type::INT8),
                (&price, Type::FLOAT8),
                (&at, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .context("mark a position")?;
    Ok(())
}

/// One day's mark of the whole portfolio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EquityMark {
    pub date: NaiveDate,
    pub cash: f64,
    pub positions_value: f64,
    pub equity: f64,
    pub peak_equity: f64,
    pub drawdown: f64,
    pub realized_pnl: f64,
    pub unrealized_pnl: f64,
    pub open_positions: i32,
}

impl EquityMark {
    /// The mark of `state` (marked at the day's closes) on `date`.
    pub fn of(date: NaiveDate, state: &PortfolioState) -> Self {
        let equity = state.equity_at_marks();
        Self {
            date,
            cash: state.cash,
            positions_value: equity - state.cash,
            equity,
            peak_equity: state.peak_equity.max(equity),
            drawdown: state.drawdown_at_marks(),
            realized_pnl: state.realized_pnl,
            unrealized_pnl: state.unrealized_pnl(),
            open_positions: state.positions.len() as i32,
        }
    }
}

/// Writes (or rewrites) the day's mark.
pub async fn upsert_equity_mark(
    client: &impl GenericClient,
    m: &EquityMark,
) -> Result<(), DbError> {
    client
        .query_typed(
            "INSERT INTO portfolio_equity_curve (date, cash, positions_value, equity, peak_equity, drawdown, \
                 realized_pnl, unrealized_pnl, open_positions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (date) DO UPDATE SET cash = EXCLUDED.cash, positions_value = EXCLUDED.positions_value, \
                 equity = EXCLUDED.equity, peak_equity = EXCLUDED.peak_equity, drawdown = EXCLUDED.drawdown, \
                 realized_pnl = EXCLUDED.realized_pnl, unrealized_pnl = EXCLUDED.unrealized_pnl, \
                 open_positions = EXCLUDED.open_positions, marked_at = now()",
            &[
                (&m.date, Type::DATE),
                (&m.cash, Type::FLOAT8),
                (&m.positions_value.max(0.0), Type::FLOAT8),
                (&m.equity, Type::FLOAT8),
                (&m.peak_equity, Type::FLOAT8),
                (&m.drawdown.clamp(0.0, 1.0), Type::FLOAT8),
                (&m.realized_pnl, Type::FLOAT8),
                (&m.unrealized_pnl, Type::FLOAT8),
                (&m.open_positions, Type::INT4),
            ],
        )
        .await
        .context("mark the equity curve")?;
    Ok(())
}

/// The whole equity curve, by date.
pub async fn equity_curve(client: &impl GenericClient) -> Result<Vec<EquityMark>, DbError> {
    let rows = client
        .query_typed(
            "SELECT date, cash, positions_value, equity, peak_equity, drawdown, realized_pnl, unrealized_pnl, \
                 open_positions FROM portfolio_equity_curve ORDER BY date",
            &[],
        )
        .await
        .context("read the equity curve")?;
    Ok(rows
        .iter()
        .map(|r| EquityMark {
            date: r.get(0),
            cash: r.get(1),
            positions_value: r.get(2),
            equity: r.get(3),
            peak_equity: r.get(4),
            drawdown: r.get(5),
            realized_pnl: r.get(6),
            unrealized_pnl: r.get(7),
            open_positions: r.get(8),
        })
        .collect())
}

/// Claims the date's run (one per date, whatever the model: `model_version` is recorded
/// as the model the day is traded with); false when it already committed (or another
/// delivery holds it: this waits for that transaction, then sees its row).
pub async fn begin_signal_run(
    client: &impl GenericClient,
    date: NaiveDate,
    model_version: &str,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "INSERT INTO signal_runs (trading_date, model_version) VALUES ($1, $2) \
             ON CONFLICT (trading_date) DO NOTHING RETURNING trading_date",
            &[(&date, Type::DATE), (&model_version, Type::VARCHAR)],
        )
        .await
        .context("claim the signal run")?;
    Ok(!rows.is_empty())
}

/// Stores the run's summary on its row.
pub async fn finish_signal_run(
    client: &impl GenericClient,
    date: NaiveDate,
    model_version: &str,
    summary: &serde_json::Value,
) -> Result<(), DbError> {
    client
        .query_typed(
            "UPDATE signal_runs SET summary = $3::jsonb WHERE trading_date = $1 AND model_version = $2",
            &[
                (&date, Type::DATE),
                (&model_version, Type::VARCHAR),
                (&summary.to_string(), Type::TEXT),
            ],
        )
        .await
        .context("store the signal run summary")?;
    Ok(())
}

/// The committed run of `date` (one per date, whatever the model): the model it traded
/// and its stored summary.
pub async fn signal_run_of(
    client: &impl GenericClient,
    date: NaiveDate,
) -> Result<Option<(String, serde_json::Value)>, DbError> {
    let rows = client
        .query_typed(
            "SELECT model_version::text, summary::text FROM signal_runs WHERE trading_date = $1",
            &[(&date, Type::DATE)],
        )
        .await
        .context("read the signal run")?;
    Ok(rows.first().map(|r| (r.get(0), json(r.get(1)))))
}

fn json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// One refused candidate's failed rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectionRecord {
    pub trading_date: NaiveDate,
    pub ticker: String,
    pub model_version: String,
    pub rule: String,
    pub confidence: Option<f64>,
    pub reason: String,
    pub detail: serde_json::Value,
}

/// Stores a refusal (once per date, ticker, model version and rule).
pub async fn insert_rejection(
    client: &impl GenericClient,
    r: &RejectionRecord,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "INSERT INTO signal_rejections (trading_date, ticker, model_version, rule, confidence, reason, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING RETURNING ticker",
            &[
                (&r.trading_date, Type::DATE),
                (&r.ticker, Type::VARCHAR),
                (&r.model_version, Type::VARCHAR),
                (&r.rule, Type::VARCHAR),
                (&r.confidence, Type::FLOAT8),
                (&r.reason, Type::TEXT),
                (&r.detail.to_string(), Type::TEXT),
            ],
        )
        .await
        .context("record a rejection")?;
    Ok(!rows.is_empty())
}

/// The refusals of a day, by ticker and rule.
pub async fn rejections_on(
    client: &impl GenericClient,
    date: NaiveDate,
) -> Result<Vec<RejectionRecord>, DbError> {
    let rows = client
        .query_typed(
            "SELECT trading_date, ticker::text, model_version::text, rule::text, confidence, reason, detail::text \
             FROM signal_rejections WHERE trading_date = $1 ORDER BY ticker, rule",
            &[(&date, Type::DATE)],
        )
        .await
        .context("read rejections")?;
    Ok(rows
        .iter()
        .map(|r| RejectionRecord {
            trading_date: r.get(0),
            ticker: r.get(1),
            model_version: r.get(2),
            rule: r.get(3),
            confidence: r.get(4),
            reason: r.get(5),
            detail: json(r.get(6)),
        })
        .collect())
}
