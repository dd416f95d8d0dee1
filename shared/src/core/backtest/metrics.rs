//! Performance metrics of an equity curve and a trade list, with backtesting.py's and
//! freqtrade's conventions (each definition below; `docs/backtest.md` has the table).
//!
//! Daily returns `r_t = E_t / E_{t−1} − 1` with `E_{−1}` the starting equity; 252 trading
//! days a year; no risk-free rate.
//! - total return `E_last / E_start − 1`; annualised (compounded, backtesting.py's
//!   "Return (Ann.)") `(1 + total)^(252 / n) − 1` over `n` daily returns;
//! - Sharpe `mean(r) / std(r) × √252` (sample std, n−1; freqtrade's and the usual
//!   daily-returns Sharpe); Sortino `mean(r) / √mean(min(r, 0)²) × √252` (backtesting.py's
//!   downside deviation over all days); Calmar `annualised / max drawdown`;
//! - max drawdown `max_t (1 − E_t / max_{s≤t} E_s)`, with the peak's date, the trough's
//!   date and the first date back at the peak (None if never);
//! - exposure: the share of trading days with a position held at some time of the day;
//! - trades: win rate (return > 0), average and median trade return (`return_pct`, net of
//!   costs), average hold in trading days (entry day = 1), profit factor `Σ gains / |Σ
//!   losses|` (None without a loss), expectancy = mean net P&L per trade in currency
//!   (`win rate × average win − loss rate × average loss`, freqtrade).
//!
//! A ratio whose denominator is 0 is None (serialised as null), never infinite or NaN.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::engine::EquityPoint;
use crate::core::exits::ExitReason;
use crate::core::portfolio::ClosedTrade;

pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// Return, risk and trade statistics of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub start_equity: f64,
    pub end_equity: f64,
    pub total_return: f64,
    pub annualized_return: f64,
    pub annualized_volatility: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub calmar: Option<f64>,
    pub max_drawdown: f64,
    pub max_drawdown_peak: Option<NaiveDate>,
    pub max_drawdown_trough: Option<NaiveDate>,
    pub max_drawdown_recovery: Option<NaiveDate>,
    pub exposure: f64,
    pub trades: usize,
    pub win_rate: Option<f64>,
    pub avg_trade_return: Option<f64>,
    pub median_trade_return: Option<f64>,
    pub best_trade_return: Option<f64>,
    pub worst_trade_return: Option<f64>,
    pub avg_hold_days: Option<f64>,
    pub profit_factor: Option<f64>,
    pub expectancy: Option<f64>,
    pub total_pnl: f64,
    pub commissions: f64,
}

/// The drawdown of a curve at its worst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drawdown {
    pub depth: f64,
    pub peak: Option<NaiveDate>,
    pub trough: Option<NaiveDate>,
    pub recovery: Option<NaiveDate>,
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    let r = num / den;
    (den != 0.0 && r.is_finite()).then_some(r)
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n−1); None under two values.
pub fn sample_std(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    Some(var.sqrt())
}

pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Daily returns of `values` after a starting value.
pub fn daily_returns(start: f64, values: &[f64]) -> Vec<f64> {
    let mut prev = start;
    values
        .iter()
        .map(|&v| {
            let r = if prev != 0.0 { v / prev - 1.0 } else { 0.0 };
            prev = v;
            r
        })
        .collect()
}

pub fn sharpe(returns: &[f64]) -> Option<f64> {
    ratio(mean(returns)?, sample_std(returns)?).map(|s| s * TRADING_DAYS_PER_YEAR.sqrt())
}

pub fn sortino(returns: &[f64]) -> Option<f64> {
    let downside = mean(
        &returns
            .iter()
            .map(|r| r.min(0.0).powi(2))
            .collect::<Vec<_>>(),
    )?
    .sqrt();
    ratio(mean(returns)?, downside).map(|s| s * TRADING_DAYS_PER_YEAR.sqrt())
}

pub fn annualized(total_return: f64, days: usize) -> f64 {
    if days == 0 || total_return <= -1.0 {
        return if total_return <= -1.0 { -1.0 } else { 0.0 };
    }
    (1.0 + total_return).powf(TRADING_DAYS_PER_YEAR / days as f64) - 1.0
}

/// The deepest drawdown of `(date, value)` points; the start value is the first peak
/// (a drawdown from it has no peak date).
pub fn max_drawdown(start: f64, curve: &[(NaiveDate, f64)]) -> Drawdown {
    let mut peak_value = start;
    let mut peak_date = None;
    let mut worst = Drawdown {
        depth: 0.0,
        peak: None,
        trough: None,
        recovery: None,
    };
    for &(date, v) in curve {
        if v >= peak_value {
            if worst.depth > 0.0 && worst.recovery.is_none() && worst.peak == peak_date {
                worst.recovery = Some(date);
            }
            peak_value = v;
            peak_date = Some(date);
        } else if peak_value > 0.0 && 1.0 - v / peak_value > worst.depth {
            worst = Drawdown {
                depth: 1.0 - v / peak_value,
                peak: peak_date,
                trough: Some(date),
                recovery: None,
            };
        }
    }
    worst
}

/// Metrics of an equity curve and its closed trades.
pub fn metrics(start_equity: f64, equity: &[EquityPoint], trades: &[ClosedTrade]) -> Metrics {
    let curve: Vec<(NaiveDate, f64)> = equity.iter().map(|p| (p.date, p.equity)).collect();
    let exposed = equity.iter().filter(|p| p.exposed).count();
    let mut m = trade_stats(trades).merge_into(curve_metrics(start_equity, &curve));
    m.exposure = ratio(exposed as f64, equity.len() as f64).unwrap_or(0.0);
    m
}

/// The return and risk part of [`Metrics`] of any curve (the benchmark's too); trade
/// fields empty.
pub fn curve_metrics(start: f64, curve: &[(NaiveDate, f64)]) -> Metrics {
    let values: Vec<f64> = curve.iter().map(|p| p.1).collect();
    let end = values.last().copied().unwrap_or(start);
    let returns = daily_returns(start, &values);
    let total = ratio(end, start).map_or(0.0, |r| r - 1.0);
    let annual = annualized(total, returns.len());
    let dd = max_drawdown(start, curve);
    Metrics {
        start_equity: start,
        end_equity: end,
        total_return: total,
        annualized_return: annual,
        annualized_volatility: sample_std(&returns).unwrap_or(0.0) * TRADING_DAYS_PER_YEAR.sqrt(),
        sharpe: sharpe(&returns),
        sortino: sortino(&returns),
        calmar: ratio(annual, dd.depth),
        max_drawdown: dd.depth,
        max_drawdown_peak: dd.peak,
        max_drawdown_trough: dd.trough,
        max_drawdown_recovery: dd.recovery,
        exposure: 1.0,
        trades: 0,
        win_rate: None,
        avg_trade_return: None,
        median_trade_return: None,
        best_trade_return: None,
        worst_trade_return: None,
        avg_hold_days: None,
        profit_factor: None,
        expectancy: None,
        total_pnl: end - start,
        commissions: 0.0,
    }
}

/// Trade statistics of a list of closed trades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeStats {
    pub trades: usize,
    pub win_rate: Option<f64>,
    pub avg_trade_return: Option<f64>,
    pub median_trade_return: Option<f64>,
    pub best_trade_return: Option<f64>,
    pub worst_trade_return: Option<f64>,
    pub avg_hold_days: Option<f64>,
    pub profit_factor: Option<f64>,
    pub expectancy: Option<f64>,
    pub pnl: f64,
    pub commissions: f64,
}

impl TradeStats {
    fn merge_into(self, m: Metrics) -> Metrics {
        Metrics {
            trades: self.trades,
            win_rate: self.win_rate,
            avg_trade_return: self.avg_trade_return,
            median_trade_return: self.median_trade_return,
            best_trade_return: self.best_trade_return,
            worst_trade_return: self.worst_trade_return,
            avg_hold_days: self.avg_hold_days,
            profit_factor: self.profit_factor,
            expectancy: self.expectancy,
            commissions: self.commissions,
            ..m
        }
    }
}

pub fn trade_stats(trades: &[ClosedTrade]) -> TradeStats {
    let returns: Vec<f64> = trades.iter().map(|t| t.return_pct).collect();
    let holds: Vec<f64> = trades.iter().map(|t| t.trading_days_held as f64).collect();
    let gains: f64 = trades.iter().map(|t| t.pnl.max(0.0)).sum();
    let losses: f64 = trades.iter().map(|t| (-t.pnl).max(0.0)).sum();
    let wins = trades.iter().filter(|t| t.return_pct > 0.0).count();
    let pnl: f64 = trades.iter().map(|t| t.pnl).sum();
    TradeStats {
        trades: trades.len(),
        win_rate: ratio(wins as f64, trades.len() as f64),
        avg_trade_return: mean(&returns),
        median_trade_return: median(&returns),
        best_trade_return: returns.iter().copied().reduce(f64::max),
        worst_trade_return: returns.iter().copied().reduce(f64::min),
        avg_hold_days: mean(&holds),
        profit_factor: ratio(gains, losses),
        expectancy: ratio(pnl, trades.len() as f64),
        pnl,
        commissions: trades.iter().map(|t| t.commission).sum(),
    }
}

/// Trade statistics per exit reason (every reason listed).
pub fn by_exit_reason(trades: &[ClosedTrade]) -> BTreeMap<&'static str, TradeStats> {
    ExitReason::ALL
        .iter()
        .map(|r| {
            let of: Vec<ClosedTrade> = trades
                .iter()
                .filter(|t| t.exit_reason == *r)
                .cloned()
                .collect();
            (r.as_str(), trade_stats(&of))
        })
        .collect()
}

/// One calendar year of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearStats {
    pub year: i32,
    /// Equity at the year's last point over the previous year's last (or the start).
    pub return_pct: f64,
    pub max_drawdown: f64,
    /// Trades closed in the year.
    #[serde(flatten)]
    pub trades: TradeStats,
}

pub fn by_year(start: f64, equity: &[EquityPoint], trades: &[ClosedTrade]) -> Vec<YearStats> {
    let mut years: Vec<i32> = equity.iter().map(|p| p.date.year()).collect();
    years.dedup();
    let mut base = start;
    years
        .into_iter()
        .map(|year| {
            let curve: Vec<(NaiveDate, f64)> = equity
                .iter()
                .filter(|p| p.date.year() == year)
                .map(|p| (p.date, p.equity))
                .collect();
            let end = curve.last().map_or(base, |p| p.1);
            let of: Vec<ClosedTrade> = trades
                .iter()
                .filter(|t| t.exit_date.year() == year)
                .cloned()
                .collect();
            let out = YearStats {
                year,
                return_pct: ratio(end, base).map_or(0.0, |r| r - 1.0),
                max_drawdown: max_drawdown(base, &curve).depth,
                trades: trade_stats(&of),
            };
            base = end;
            out
        })
        .collect()
}

/// Monthly returns `(year, month, return)` from month-end equity, the first over the start.
pub fn monthly_returns(start: f64, curve: &[(NaiveDate, f64)]) -> Vec<(i32, u32, f64)> {
    let mut out: Vec<(i32, u32, f64)> = Vec::new();
    let mut base = start;
    let mut i = 0;
    while i < curve.len() {
        let (y, m) = (curve[i].0.year(), curve[i].0.month());
        let mut j = i;
        while j + 1 < curve.len() && (curve[j + 1].0.year(), curve[j + 1].0.month()) == (y, m) {
            j += 1;
        }
        let end = curve[j].1;
        out.push((y, m, ratio(end, base).map_or(0.0, |r| r - 1.0)));
        base = end;
        i = j + 1;
    }
    out
}
