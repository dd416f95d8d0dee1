//! Booking entries and exits into the paper portfolio, each with its notifications, in
//! the caller's transaction (which has locked the portfolio row first:
//! `portfolio_store::lock`). Used by generate-signals (entries, flips) and the monitor
//! (exits), so both account and announce a trade the same way.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::GenericClient;

use crate::adapters::db::DbError;
use crate::adapters::outbox::{self, Channel, Notification};
use crate::adapters::portfolio_store::{self, LivePortfolio, PendingEntry};
use crate::adapters::signal_store::{self, NewSignal};
use crate::core::exits::Exit;
use crate::core::portfolio::{ClosedTrade, PortfolioError};
use crate::core::risk::TradePlan;

/// The notification types (docs/notifications.md).
pub const SIGNAL_OPENED: &str = "signal.opened";
pub const SIGNAL_CLOSED: &str = "signal.closed";
/// A pending entry filled at its session's open (the live stop and target).
pub const SIGNAL_FILLED: &str = "signal.filled";
/// A pending entry that could not be filled (no open that session).
pub const SIGNAL_MISSED: &str = "signal.missed";

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot book {ticker}: {source}")]
    Portfolio {
        ticker: String,
        #[source]
        source: PortfolioError,
    },
}

/// A BUY booked as a pending entry (filled at its entry date's open).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Opened {
    pub signal_id: i64,
    pub ticker: String,
    pub shares: u64,
    /// The close estimate the plan was priced at (the signal's entry price).
    pub entry_price: f64,
    /// Cash set aside until the fill: shares at the estimate with slippage, plus commission.
    pub reserved_cash: f64,
    /// Planned levels (re-based on the open at the fill).
    pub stop_loss: f64,
    pub target_price: f64,
    pub confidence: f64,
    /// The session whose open fills it.
    pub entry_date: NaiveDate,
}

/// A pending entry filled at its session's open.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Filled {
    pub signal_id: i64,
    pub ticker: String,
    pub entry_date: NaiveDate,
    /// The session open (market price).
    pub open: f64,
    pub shares: u64,
    /// Paid per share, slippage included.
    pub fill_price: f64,
    pub entry_commission: f64,
    /// Re-based on the open.
    pub stop_loss: f64,
    pub target_price: f64,
    pub filled_at: DateTime<Utc>,
}

/// A pending entry that could not be filled.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Missed {
    pub signal_id: i64,
    pub ticker: String,
    pub entry_date: NaiveDate,
    pub reason: String,
}

/// A position the portfolio closed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Closed {
    pub signal_id: i64,
    pub ticker: String,
    pub exit_reason: String,
    /// Market price of the exit.
    pub exit_price: f64,
    /// Received per share, slippage included (absent when the row had no fill to book).
    pub exit_fill_price: Option<f64>,
    pub realized_pnl: Option<f64>,
    pub closed_at: DateTime<Utc>,
}

fn links(ticker: &str) -> Value {
    json!({"chart": format!("https://finance.yahoo.com/quote/{ticker}")})
}

/// Queues `event_type` for `entity` on both channels (webhook and e-mail); how many rows
/// were new.
pub(crate) async fn announce(
    client: &impl GenericClient,
    event_type: &str,
    entity: i64,
    payload: Value,
) -> Result<usize, DbError> {
    let mut queued = 0;
    for channel in [Channel::Webhook, Channel::Email] {
        let n = Notification::new(event_type, entity, channel, payload.clone());
        if outbox::enqueue(client, &n).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Inserts `signal` (a BUY of `plan`, priced at the close estimate `plan.entry`) as a
/// pending entry for `entry_date`'s open, reserves its cash (what a fill at the estimate
/// would cost, cut to the cash at hand as a fill would be), and queues `signal.opened`.
/// `None` when the signal already existed (nothing changed). `live` follows the booking:
/// the risk manager sees the entry as held from now on.
pub async fn book_entry(
    client: &impl GenericClient,
    live: &mut LivePortfolio,
    signal: &NewSignal,
    plan: &TradePlan,
    entry_date: NaiveDate,
    at: DateTime<Utc>,
) -> Result<Option<(Opened, usize)>, BookError> {
    let costs = live.account.costs;
    let mut after = live.state.clone();
    let position = after
        .open(plan, plan.entry, entry_date, &costs)
        .map_err(|source| BookError::Portfolio {
            ticker: plan.ticker.clone(),
            source,
        })?
        .clone();
    let mut signal = signal.clone();
    signal.shares = Some(position.shares as i64);
    let Some(id) = signal_store::insert_signal(client, &signal).await? else {
        return Ok(None);
    };
    let reserved = position.shares as f64 * position.entry_price + position.entry_commission;
    portfolio_store::add_cash(client, -reserved, 0.0).await?;
    portfolio_store::record_pending_entry(client, id, entry_date, reserved, plan.entry, at).await?;
    live.state = after;
    live.signal_ids.insert(plan.ticker.clone(), id);
    live.pending.insert(
        plan.ticker.clone(),
        PendingEntry {
            signal_id: id,
            ticker: plan.ticker.clone(),
            trading_date: signal.trading_date,
            entry_date,
            planned_entry: plan.entry,
            shares: position.shares,
            reserved_cash: reserved,
            stop_pct: plan.stop_pct,
            target_pct: plan.target_pct,
            confidence: plan.confidence,
        },
    );
    let opened = Opened {
        signal_id: id,
        ticker: plan.ticker.clone(),
        shares: position.shares,
        entry_price: plan.entry,
        reserved_cash: reserved,
        stop_loss: position.stop,
        target_price: position.target,
        confidence: plan.confidence,
        entry_date,
    };
    let payload = json!({
        "signal_id": id,
        "ticker": opened.ticker,
        "signal": "BUY",
        "trading_date": signal.trading_date,
        "entry_date": entry_date,
        "entry": "market order at the open of entry_date",
        "entry_price": plan.entry,
        "target_price": position.target,
        "stop_loss": position.stop,
        "target_pct": plan.target_pct,
        "stop_pct": plan.stop_pct,
        "shares": position.shares,
        "position_size_pct": signal.position_size_pct,
        "risk_reward_ratio": signal.risk_reward_ratio,
        "confidence": plan.confidence,
        "model_version": signal.model_version,
        "expires_at": signal.expires_at,
        "links": links(&opened.ticker),
    });
    let queued = announce(client, SIGNAL_OPENED, id, payload).await?;
    Ok(Some((opened, queued)))
}

/// Fills the pending entry of `ticker` at its session's `open` (market price), with
/// costs, stop and target re-based on the open, shares cut to the cash if a gap up made
/// the plan unaffordable (all as the backtester's `PortfolioState::open`); returns the
/// reserved cash and pays the real cost; queues `signal.filled`. Conditional: `None`
/// when it is not pending any more (another monitor filled it). A fill nothing can pay
/// for is booked as missed instead ([`Settled::Missed`]).
pub async fn fill_entry(
    client: &impl GenericClient,
    live: &mut LivePortfolio,
    ticker: &str,
    open: f64,
    at: DateTime<Utc>,
) -> Result<Option<(Settled, usize)>, BookError> {
    let Some(pending) = live.pending.get(ticker).cloned() else {
        return Ok(None);
    };
    let costs = live.account.costs;
    let mut after = live.state.clone();
    after.positions.retain(|p| p.ticker != ticker);
    after.cash += pending.reserved_cash;
    let plan = TradePlan {
        ticker: ticker.to_string(),
        date: pending.trading_date,
        confidence: pending.confidence,
        entry: pending.planned_entry,
        stop: pending.planned_entry * (1.0 - pending.stop_pct),
        target: pending.planned_entry * (1.0 + pending.target_pct),
        stop_pct: pending.stop_pct,
        target_pct: pending.target_pct,
        shares: pending.shares,
        position_pct: 0.0,
        risk_pct: 0.0,
        reward_risk: 0.0,
        limited_by: crate::core::risk::SizeLimit::PositionCap,
        expected_return: None,
    };
    let position = match after.open(&plan, open, pending.entry_date, &costs) {
        Ok(p) => p.clone(),
        Err(e) => {
            let reason = format!("cannot fill at the open {open}: {e}");
            return miss_entry(client, live, ticker, &reason, at).await;
        }
    };
    let fill = portfolio_store::EntryFill {
        signal_id: pending.signal_id,
        open,
        shares: position.shares,
        fill_price: position.entry_price,
        entry_commission: position.entry_commission,
        stop_loss: position.stop,
        target_price: position.target,
        filled_at: at,
    };
    if !portfolio_store::record_entry_fill(client, &fill).await? {
        return Ok(None);
    }
    let paid = position.shares as f64 * position.entry_price + position.entry_commission;
    portfolio_store::add_cash(client, pending.reserved_cash - paid, 0.0).await?;
    live.state = after;
    live.pending.remove(ticker);
    let filled = Filled {
        signal_id: pending.signal_id,
        ticker: ticker.to_string(),
        entry_date: pending.entry_date,
        open,
        shares: position.shares,
        fill_price: position.entry_price,
        entry_commission: position.entry_commission,
        stop_loss: position.stop,
        target_price: position.target,
        filled_at: at,
    };
    let payload = json!({
        "signal_id": filled.signal_id,
        "ticker": ticker,
        "signal": "BUY",
        "entry_date": filled.entry_date,
        "open": open,
        "shares": filled.shares,
        "fill_price": filled.fill_price,
        "entry_commission": filled.entry_commission,
        "stop_loss": filled.stop_loss,
        "target_price": filled.target_price,
        "planned_entry_price": pending.planned_entry,
        "filled_at": at,
        "links": links(ticker),
    });
    let queued = announce(client, SIGNAL_FILLED, filled.signal_id, payload).await?;
    Ok(Some((Settled::Filled(filled), queued)))
}

/// How a pending entry was settled.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum Settled {
    Filled(Filled),
    Missed(Missed),
}

/// Gives up the pending entry of `ticker` (`reason` for people): releases its reserved
/// cash, marks it missed, queues `signal.missed`. `None` when it is not pending any more.
pub async fn miss_entry(
    client: &impl GenericClient,
    live: &mut LivePortfolio,
    ticker: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Option<(Settled, usize)>, BookError> {
    let Some(pending) = live.pending.get(ticker).cloned() else {
        return Ok(None);
    };
    if !portfolio_store::record_missed_entry(client, pending.signal_id, reason, at).await? {
        return Ok(None);
    }
    portfolio_store::add_cash(client, pending.reserved_cash, 0.0).await?;
    live.state.positions.retain(|p| p.ticker != ticker);
    live.state.cash += pending.reserved_cash;
    live.pending.remove(ticker);
    live.signal_ids.remove(ticker);
    let missed = Missed {
        signal_id: pending.signal_id,
        ticker: ticker.to_string(),
        entry_date: pending.entry_date,
        reason: reason.to_string(),
    };
    let payload = json!({
        "signal_id": missed.signal_id,
        "ticker": ticker,
        "signal": "BUY",
        "entry_date": missed.entry_date,
        "reason": reason,
        "links": links(ticker),
    });
    let queued = announce(client, SIGNAL_MISSED, missed.signal_id, payload).await?;
    Ok(Some((Settled::Missed(missed), queued)))
}

/// Closes the open BUY `signal_id` of `ticker` at `exit` (conditional: `None` when it
/// was already closed, by another monitor or an earlier delivery), books the sale in
/// the portfolio, and queues `signal.closed`. `extra` is merged into the payload.
#[allow(clippy::too_many_arguments)]
pub async fn book_exit(
    client: &impl GenericClient,
    live: &mut LivePortfolio,
    signal_id: i64,
    ticker: &str,
    exit: Exit,
    date: NaiveDate,
    at: DateTime<Utc>,
    extra: Value,
) -> Result<Option<(Closed, usize)>, BookError> {
    if !signal_store::close_position(client, signal_id, exit.price, exit.reason, at).await? {
        return Ok(None);
    }
    let entry_commission = live
        .state
        .position(ticker)
        .map(|p| p.entry_commission)
        .unwrap_or(0.0);
    let trade: Option<ClosedTrade> =
        match live
            .state
            .close(ticker, exit.price, date, exit.reason, &live.account.costs)
        {
            Ok(t) => Some(t),
            Err(PortfolioError::NotHeld(_)) => {
                // A signal without a fill (written before the paper portfolio existed):
                // closed and announced, nothing to book.
                tracing::warn!(
                    signal_id,
                    ticker,
                    "closed a signal the portfolio did not hold"
                );
                None
            }
            Err(source) => {
                return Err(BookError::Portfolio {
                    ticker: ticker.to_string(),
                    source,
                })
            }
        };
    live.signal_ids.remove(ticker);
    if let Some(t) = &trade {
        let exit_commission = t.commission - entry_commission;
        let received = t.shares as f64 * t.exit_price - exit_commission;
        portfolio_store::add_cash(client, received, t.pnl).await?;
        portfolio_store::record_exit_fill(client, signal_id, t.exit_price, exit_commission, t.pnl)
            .await?;
    }
    let closed = Closed {
        signal_id,
        ticker: ticker.to_string(),
        exit_reason: exit.reason.as_str().to_string(),
        exit_price: exit.price,
        exit_fill_price: trade.as_ref().map(|t| t.exit_price),
        realized_pnl: trade.as_ref().map(|t| t.pnl),
        closed_at: at,
    };
    let mut payload = json!({
        "signal_id": signal_id,
        "ticker": ticker,
        "signal": "BUY",
        "exit_price": exit.price,
        "exit_reason": closed.exit_reason,
        "closed_at": at,
        "links": links(ticker),
    });
    if let Some(t) = &trade {
        payload["shares"] = json!(t.shares);
        payload["entry_price"] = json!(t.entry_price);
        payload["entry_date"] = json!(t.entry_date);
        payload["pnl"] = json!(t.pnl);
        payload["return_pct"] = json!(t.return_pct);
        payload["trading_days_held"] = json!(t.trading_days_held);
    }
    if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        p.extend(extra);
    }
    let queued = announce(client, SIGNAL_CLOSED, signal_id, payload).await?;
    Ok(Some((closed, queued)))
}
