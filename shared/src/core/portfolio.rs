//! The paper portfolio: cash, open positions, the equity peak and realised P&L.
//!
//! Plain data and pure state transitions; the database (live) and the backtester both
//! drive it, so both account for a trade the same way:
//! - a buy pays `price × (1 + slippage)` per share plus a commission on that notional;
//!   a sell receives `price × (1 − slippage)` per share minus a commission (both in
//!   basis points, [`Costs`], 5 + 5 by default);
//! - a position's stop and target are re-based on its market fill price with the plan's
//!   percentages (the plan priced them from the last close; the fill is the next open),
//!   as the triple-barrier labels measure barriers from the entry open;
//! - equity is cash plus every position at its market price (no exit costs deducted);
//!   the peak is the highest equity seen by [`PortfolioState::mark_to_market`], `open`
//!   or `close`; the drawdown is `1 − equity / peak`.
//!
//! Identity: equity = starting cash + realised P&L + unrealised P&L.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::exits::ExitReason;
use super::nyse;
use super::risk::{Breaker, TradePlan};

/// Transaction costs in basis points of the traded notional, charged on each side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    pub commission_bps: f64,
    pub slippage_bps: f64,
}

impl Default for Costs {
    /// 5 bps commission + 5 bps slippage (the backtester's default).
    fn default() -> Self {
        Self {
            commission_bps: 5.0,
            slippage_bps: 5.0,
        }
    }
}

impl Costs {
    /// No costs (planning, tests).
    pub const ZERO: Costs = Costs {
        commission_bps: 0.0,
        slippage_bps: 0.0,
    };

    /// Price paid per share when buying at market price `price`.
    pub fn buy_price(&self, price: f64) -> f64 {
        price * (1.0 + self.slippage_bps / 10_000.0)
    }

    /// Price received per share when selling at market price `price`.
    pub fn sell_price(&self, price: f64) -> f64 {
        price * (1.0 - self.slippage_bps / 10_000.0)
    }

    /// Commission on a traded notional.
    pub fn commission(&self, notional: f64) -> f64 {
        notional * self.commission_bps / 10_000.0
    }
}

/// One open long position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub ticker: String,
    pub shares: u64,
    /// The trading day of the fill.
    pub entry_date: NaiveDate,
    /// Paid per share, slippage included.
    pub entry_price: f64,
    /// Commission paid on entry.
    pub entry_commission: f64,
    /// Stop-loss price: the market fill price × (1 − the plan's stop distance).
    pub stop: f64,
    /// Profit target: the market fill price × (1 + the plan's target distance).
    pub target: f64,
    /// The last market price seen (the fill price until the first mark).
    pub mark: f64,
}

impl Position {
    /// Market value at the mark.
    pub fn market_value(&self) -> f64 {
        self.shares as f64 * self.mark
    }

    /// P&L if sold at the mark without exit costs, the entry commission included.
    pub fn unrealized_pnl(&self) -> f64 {
        self.shares as f64 * (self.mark - self.entry_price) - self.entry_commission
    }
}

/// A round trip, as the trade list and the signal's exit record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedTrade {
    pub ticker: String,
    pub shares: u64,
    pub entry_date: NaiveDate,
    /// Paid per share, slippage included.
    pub entry_price: f64,
    pub exit_date: NaiveDate,
    /// Received per share, slippage included.
    pub exit_price: f64,
    pub exit_reason: ExitReason,
    /// Entry and exit commissions.
    pub commission: f64,
    /// Net of slippage and both commissions.
    pub pnl: f64,
    /// `pnl / (shares × entry_price + entry commission)`: the return on the cash put in.
    pub return_pct: f64,
    /// Trading days from entry to exit, both counted (exit on the entry day is 1).
    pub trading_days_held: i64,
}

/// Why a fill could not be booked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortfolioError {
    #[error("{0} is already held")]
    AlreadyHeld(String),
    #[error("{0} is not held")]
    NotHeld(String),
    #[error("price {0} is not a positive finite number")]
    InvalidPrice(f64),
    #[error("not enough cash for one share: {needed:.2} needed, {available:.2} available")]
    InsufficientCash { needed: f64, available: f64 },
}

/// The paper portfolio the risk manager reads and the fills change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortfolioState {
    pub cash: f64,
    pub positions: Vec<Position>,
    /// Highest equity seen.
    pub peak_equity: f64,
    /// Sum of the closed trades' net P&L.
    pub realized_pnl: f64,
    /// The drawdown breaker's lock (`risk::breaker`): armed unless a trip is cooling off.
    #[serde(default)]
    pub breaker: Breaker,
}

fn valid_price(p: f64) -> Result<f64, PortfolioError> {
    if p > 0.0 && p.is_finite() {
        Ok(p)
    } else {
        Err(PortfolioError::InvalidPrice(p))
    }
}

impl PortfolioState {
    /// An all-cash portfolio.
    pub fn new(starting_cash: f64) -> Self {
        Self {
            cash: starting_cash,
            positions: Vec::new(),
            peak_equity: starting_cash,
            realized_pnl: 0.0,
            breaker: Breaker::Armed,
        }
    }

    pub fn position(&self, ticker: &str) -> Option<&Position> {
        self.positions.iter().find(|p| p.ticker == ticker)
    }

    pub fn holds(&self, ticker: &str) -> bool {
        self.position(ticker).is_some()
    }

    /// Cash plus every position at `prices` (a position without a price at its mark).
    pub fn equity(&self, prices: &HashMap<String, f64>) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .map(|p| p.shares as f64 * prices.get(&p.ticker).copied().unwrap_or(p.mark))
                .sum::<f64>()
    }

    /// Cash plus every position at its mark: the equity the risk manager reads.
    pub fn equity_at_marks(&self) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .map(Position::market_value)
                .sum::<f64>()
    }

    /// Drawdown from the peak at `prices`, in [0, 1] (0 at a new high).
    pub fn drawdown(&self, prices: &HashMap<String, f64>) -> f64 {
        drawdown_from(self.peak_equity, self.equity(prices))
    }

    /// Drawdown from the peak at the marks.
    pub fn drawdown_at_marks(&self) -> f64 {
        drawdown_from(self.peak_equity, self.equity_at_marks())
    }

    /// Sum of the open positions' unrealised P&L at their marks.
    pub fn unrealized_pnl(&self) -> f64 {
        self.positions.iter().map(Position::unrealized_pnl).sum()
    }

    /// Marks each position that has a valid price in `prices` and raises the peak if
    /// equity is at a new high.
    pub fn mark_to_market(&mut self, prices: &HashMap<String, f64>) {
        self.mark_with(|ticker| prices.get(ticker).copied());
    }

    /// [`Self::mark_to_market`] with the prices read through `price_of` (a ticker
    /// without a valid price keeps its mark).
    pub fn mark_with(&mut self, price_of: impl Fn(&str) -> Option<f64>) {
        for p in &mut self.positions {
            if let Some(price) = price_of(&p.ticker) {
                if valid_price(price).is_ok() {
                    p.mark = price;
                }
            }
        }
        self.raise_peak();
    }

    fn raise_peak(&mut self) {
        self.peak_equity = self.peak_equity.max(self.equity_at_marks());
    }

    /// Shares of a buy at market price `price` that the cash pays for, costs included.
    pub fn affordable_shares(&self, price: f64, costs: &Costs) -> u64 {
        let per_share = costs.buy_price(price) * (1.0 + costs.commission_bps / 10_000.0);
        if !(per_share > 0.0 && per_share.is_finite()) || self.cash <= 0.0 {
            return 0;
        }
        (self.cash / per_share).floor() as u64
    }

    /// Buys `plan` at market price `fill_price` on `date`: the plan's shares, or as many
    /// as the cash pays for if fewer (a gap up at the open can make the plan
    /// unaffordable). Stop and target are re-based on `fill_price`.
    pub fn open(
        &mut self,
        plan: &TradePlan,
        fill_price: f64,
        date: NaiveDate,
        costs: &Costs,
    ) -> Result<&Position, PortfolioError> {
        let fill_price = valid_price(fill_price)?;
        if self.holds(&plan.ticker) {
            return Err(PortfolioError::AlreadyHeld(plan.ticker.clone()));
        }
        let shares = plan.shares.min(self.affordable_shares(fill_price, costs));
        let entry_price = costs.buy_price(fill_price);
        if shares == 0 {
            return Err(PortfolioError::InsufficientCash {
                needed: entry_price + costs.commission(entry_price),
                available: self.cash,
            });
        }
        let notional = shares as f64 * entry_price;
        let entry_commission = costs.commission(notional);
        self.cash -= notional + entry_commission;
        self.positions.push(Position {
            ticker: plan.ticker.clone(),
            shares,
            entry_date: date,
            entry_price,
            entry_commission,
            stop: fill_price * (1.0 - plan.stop_pct),
            target: fill_price * (1.0 + plan.target_pct),
            mark: fill_price,
        });
        self.raise_peak();
        Ok(self.positions.last().expect("just pushed"))
    }

    /// Sells the whole position in `ticker` at market price `exit_price` on `date`.
    pub fn close(
        &mut self,
        ticker: &str,
        exit_price: f64,
        date: NaiveDate,
        reason: ExitReason,
        costs: &Costs,
    ) -> Result<ClosedTrade, PortfolioError> {
        let exit_market = valid_price(exit_price)?;
        let i = self
            .positions
            .iter()
            .position(|p| p.ticker == ticker)
            .ok_or_else(|| PortfolioError::NotHeld(ticker.to_string()))?;
        let p = self.positions.remove(i);
        let shares = p.shares as f64;
        let exit_price = costs.sell_price(exit_market);
        let proceeds = shares * exit_price;
        let exit_commission = costs.commission(proceeds);
        self.cash += proceeds - exit_commission;
        let cost_basis = shares * p.entry_price + p.entry_commission;
        let pnl = proceeds - exit_commission - cost_basis;
        self.realized_pnl += pnl;
        self.raise_peak();
        Ok(ClosedTrade {
            ticker: p.ticker,
            shares: p.shares,
            entry_date: p.entry_date,
            entry_price: p.entry_price,
            exit_date: date,
            exit_price,
            exit_reason: reason,
            commission: p.entry_commission + exit_commission,
            pnl,
            return_pct: pnl / cost_basis,
            trading_days_held: nyse::trading_days_between(p.entry_date, date) + 1,
        })
    }
}

/// The drawdown of `equity` from `peak`. A non-finite equity or peak (a NaN mark, a
/// corrupted row) is a full drawdown, so the breaker fails closed: `f64::max` ignores a
/// NaN and `NaN.max(0.0)` is 0, which would read as "no drawdown".
fn drawdown_from(peak: f64, equity: f64) -> f64 {
    if !equity.is_finite() || !peak.is_finite() {
        return 1.0;
    }
    let peak = peak.max(equity);
    if peak > 0.0 {
        (1.0 - equity / peak).max(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::risk::test_plan;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn prices(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    /// Issue 11, defect 8: a NaN (or infinite) equity must not read as "no drawdown":
    /// the breaker fails closed.
    #[test]
    fn a_non_finite_equity_is_a_full_drawdown_not_none() {
        let mut p = PortfolioState::new(100_000.0);
        p.cash = f64::NAN;
        assert_eq!(p.drawdown_at_marks(), 1.0);
        assert_eq!(p.drawdown(&HashMap::new()), 1.0);
        let mut p = PortfolioState::new(100_000.0);
        p.peak_equity = f64::INFINITY;
        assert_eq!(p.drawdown_at_marks(), 1.0);
        let mut p = PortfolioState::new(100_000.0);
        p.cash = 90_000.0;
        assert!((p.drawdown_at_marks() - 0.1).abs() < 1e-12);
    }

    fn close_enough(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn portfolio_open_and_close_with_costs() {
        let mut pf = PortfolioState::new(100_000.0);
        // 400 shares, stop 3 %, target 6 %; filled at 50.00 with 5 + 5 bps.
        let plan = test_plan("ABC", 400, 0.03, 0.06);
        let costs = Costs::default();
        let pos = pf.open(&plan, 50.0, day("2021-03-01"), &costs).unwrap();
        assert_eq!(pos.shares, 400);
        assert!(close_enough(pos.entry_price, 50.025)); // 50 × 1.0005
        assert!(close_enough(pos.entry_commission, 10.005)); // 20 010 × 0.0005
        assert!(close_enough(pos.stop, 48.5) && close_enough(pos.target, 53.0));
        assert!(close_enough(pf.cash, 100_000.0 - 20_010.0 - 10.005));
        // Marked at the fill: equity lost exactly the costs.
        assert!(close_enough(
            pf.equity_at_marks(),
            100_000.0 - 10.0 - 10.005
        ));

        let trade = pf
            .close("ABC", 53.0, day("2021-03-05"), ExitReason::Target, &costs)
            .unwrap();
        assert!(close_enough(trade.exit_price, 52.9735)); // 53 × 0.9995
        let proceeds = 400.0 * 52.9735;
        let exit_commission = proceeds * 0.0005;
        let pnl = proceeds - exit_commission - (20_010.0 + 10.005);
        assert!(close_enough(trade.pnl, pnl), "{}", trade.pnl);
        assert!(close_enough(trade.commission, 10.005 + exit_commission));
        assert!(close_enough(trade.return_pct, pnl / 20_020.005));
        assert_eq!(trade.trading_days_held, 5);
        assert_eq!(trade.exit_reason, ExitReason::Target);
        assert!(pf.positions.is_empty());
        assert!(close_enough(pf.cash, 100_000.0 + pnl));
        assert!(close_enough(pf.realized_pnl, pnl));
        assert!(close_enough(pf.peak_equity, 100_000.0 + pnl));
    }

    #[test]
    fn portfolio_equity_is_cash_plus_realized_plus_unrealized() {
        let mut pf = PortfolioState::new(50_000.0);
        let costs = Costs::default();
        pf.open(
            &test_plan("AAA", 100, 0.05, 0.10),
            40.0,
            day("2021-03-01"),
            &costs,
        )
        .unwrap();
        pf.open(
            &test_plan("BBB", 50, 0.05, 0.10),
            90.0,
            day("2021-03-01"),
            &costs,
        )
        .unwrap();
        pf.close("BBB", 85.0, day("2021-03-03"), ExitReason::StopLoss, &costs)
            .unwrap();
        pf.mark_to_market(&prices(&[("AAA", 44.0)]));
        let identity = 50_000.0 + pf.realized_pnl + pf.unrealized_pnl();
        assert!(close_enough(pf.equity_at_marks(), identity));
        assert!(pf.realized_pnl < 0.0 && pf.unrealized_pnl() > 0.0);
    }

    #[test]
    fn portfolio_peak_and_drawdown_follow_the_marks() {
        let mut pf = PortfolioState::new(10_000.0);
        pf.open(
            &test_plan("XYZ", 100, 0.05, 0.10),
            20.0,
            day("2021-03-01"),
            &Costs::ZERO,
        )
        .unwrap();
        // 8 000 cash + 100 × 40 = 12 000: a new peak.
        pf.mark_to_market(&prices(&[("XYZ", 40.0)]));
        assert_eq!(pf.peak_equity, 12_000.0);
        assert_eq!(pf.drawdown_at_marks(), 0.0);
        // Down to 30: 11 000, drawdown 1/12; the peak stays.
        pf.mark_to_market(&prices(&[("XYZ", 30.0)]));
        assert_eq!(pf.peak_equity, 12_000.0);
        assert!(close_enough(pf.drawdown_at_marks(), 1.0 / 12.0));
        // equity()/drawdown() at other prices do not move the state.
        assert_eq!(pf.equity(&prices(&[("XYZ", 10.0)])), 9_000.0);
        assert!(close_enough(pf.drawdown(&prices(&[("XYZ", 10.0)])), 0.25));
        assert!(
            close_enough(pf.drawdown(&prices(&[])), 1.0 / 12.0),
            "missing → mark"
        );
        assert_eq!(pf.drawdown(&prices(&[("XYZ", 50.0)])), 0.0);
        // A non-finite price is ignored by the mark.
        pf.mark_to_market(&prices(&[("XYZ", f64::NAN)]));
        assert_eq!(pf.positions[0].mark, 30.0);
    }

    #[test]
    fn portfolio_open_downsizes_to_the_cash_and_refuses_duplicates() {
        let mut pf = PortfolioState::new(1_000.0);
        let plan = test_plan("ABC", 30, 0.05, 0.10);
        // 30 × 50 = 1 500 > 1 000: 19 shares fit (19 × 50.025 × 1.0005 = 950.97).
        let pos = pf
            .open(&plan, 50.0, day("2021-03-01"), &Costs::default())
            .unwrap();
        assert_eq!(pos.shares, 19);
        assert!(pf.cash >= 0.0);
        assert_eq!(
            pf.open(&plan, 50.0, day("2021-03-01"), &Costs::default()),
            Err(PortfolioError::AlreadyHeld("ABC".into()))
        );
        let other = test_plan("DEF", 1, 0.05, 0.10);
        assert!(matches!(
            pf.open(&other, 100.0, day("2021-03-01"), &Costs::default()),
            Err(PortfolioError::InsufficientCash { .. })
        ));
        assert_eq!(
            pf.open(&other, 0.0, day("2021-03-01"), &Costs::default()),
            Err(PortfolioError::InvalidPrice(0.0))
        );
        assert_eq!(
            pf.close(
                "DEF",
                10.0,
                day("2021-03-02"),
                ExitReason::Target,
                &Costs::ZERO
            ),
            Err(PortfolioError::NotHeld("DEF".into()))
        );
    }

    #[test]
    fn portfolio_state_round_trips_through_json() {
        let mut pf = PortfolioState::new(10_000.0);
        pf.open(
            &test_plan("XYZ", 10, 0.05, 0.10),
            20.0,
            day("2021-03-01"),
            &Costs::ZERO,
        )
        .unwrap();
        let json = serde_json::to_string(&pf).unwrap();
        let back: PortfolioState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pf);
    }
}
