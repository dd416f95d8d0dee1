//! The risk manager: which predictions become trades, with what stop, target and size.
//!
//! [`evaluate`] checks one [`Candidate`] against the seed's rules and the
//! [`PortfolioState`] (marked at the last close) and returns a [`TradePlan`] or every
//! failed rule ([`Rejection`]); [`decide_day`] ranks a day's candidates and accepts
//! greedily, booking each accepted plan into a working copy of the portfolio before the
//! next. Rules and numbers: [`RiskConfig`]; stop/target and sizing: [`sizing`]; the rule
//! checks and their boundaries: [`rules`]; prose: `docs/risk.md`.

pub mod breaker;
pub mod gate;
pub mod rules;
pub mod sizing;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use breaker::{Breaker, BreakerEvent, BreakerMode};
pub use gate::{expected_return, EntryGate, SellFlip};
pub use rules::Rejection;
pub use sizing::{position_size, price_levels, PositionSize, PriceLevels, SizeLimit};

use crate::core::features::Label;
use crate::core::portfolio::{Costs, PortfolioState};

/// The risk manager's numbers; `Default` is the seed's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskConfig {
    /// Model confidence must be above this (0.70; 0.70 itself is refused).
    pub min_confidence: f64,
    /// Position value at most this share of equity (0.20).
    pub max_position_pct: f64,
    /// Loss at the stop at most this share of equity (0.02).
    pub max_risk_pct: f64,
    /// Stop distance at most this (0.05, the seed's stop).
    pub max_stop_pct: f64,
    /// Stop distance at least this (0.02), so a calm stock's noise does not stop it out.
    pub min_stop_pct: f64,
    /// Stop distance = this × `volatility_20d` before clipping (2.0).
    pub stop_volatility_multiple: f64,
    /// Target distance at least this (0.05).
    pub min_target_pct: f64,
    /// Target distance at most this (0.10).
    pub max_target_pct: f64,
    /// Target distance / stop distance at least this (2.0).
    pub min_reward_risk: f64,
    /// Open positions at most this (5): a candidate arriving with 5 open is refused.
    pub max_positions: usize,
    /// No new entries while the drawdown from the equity peak is above this (0.15).
    pub max_drawdown: f64,
    /// Which predictions may enter and in what order ([`gate`]).
    pub entry_gate: EntryGate,
    /// When the model's prediction closes a held position ([`gate`]).
    pub sell_flip: SellFlip,
    /// What a drawdown above `max_drawdown` does: a 20-trading-day cool-off, then the
    /// peak resets (default), or the seed's permanent halt ([`breaker`]).
    #[serde(default)]
    pub breaker: BreakerMode,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.70,
            max_position_pct: 0.20,
            max_risk_pct: 0.02,
            max_stop_pct: 0.05,
            min_stop_pct: 0.02,
            stop_volatility_multiple: 2.0,
            min_target_pct: 0.05,
            max_target_pct: 0.10,
            min_reward_risk: 2.0,
            max_positions: 5,
            max_drawdown: 0.15,
            entry_gate: EntryGate::SeedConfidence,
            sell_flip: SellFlip::ArgMaxSell,
            breaker: BreakerMode::default(),
        }
    }
}

impl RiskConfig {
    /// The same rules with the seed's entry gate and sell flip: for strategies whose calls
    /// are not calibrated probabilities (the rule strategy, random entries).
    pub fn with_seed_gate(mut self) -> Self {
        self.entry_gate = EntryGate::SeedConfidence;
        self.sell_flip = SellFlip::ArgMaxSell;
        self
    }
}

/// A prediction that might become a trade, known after the close of `date`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub ticker: String,
    /// The trading day whose close produced the prediction (the signal date).
    pub date: NaiveDate,
    /// Estimate of the next open: the last close.
    pub entry_price: f64,
    /// The ensemble's probability of `predicted`, 0..1.
    pub confidence: f64,
    pub predicted: Label,
    /// Daily volatility (the `volatility_20d` feature: std of 20 daily log returns);
    /// 0 or not finite when unknown.
    pub volatility_20d: f64,
    /// Expected net return of the trade as planned ([`gate::expected_return`]), under the
    /// expected-value gate; `None` under the seed's gate.
    pub expected_return: Option<f64>,
}

/// An accepted entry: what to buy, how much, and where to get out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradePlan {
    pub ticker: String,
    /// The signal date.
    pub date: NaiveDate,
    pub confidence: f64,
    /// The entry price estimate the plan was priced at.
    pub entry: f64,
    pub stop: f64,
    pub target: f64,
    /// Stop distance below the entry, a fraction.
    pub stop_pct: f64,
    /// Target distance above the entry, a fraction.
    pub target_pct: f64,
    pub shares: u64,
    /// `shares × entry / equity`.
    pub position_pct: f64,
    /// `shares × entry × stop_pct / equity`: the share of equity lost at the stop.
    pub risk_pct: f64,
    /// `target_pct / stop_pct`.
    pub reward_risk: f64,
    pub limited_by: SizeLimit,
    /// Expected net return at planning (the expected-value gate), a fraction.
    #[serde(default)]
    pub expected_return: Option<f64>,
}

/// The risk manager's answer for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", content = "detail", rename_all = "snake_case")]
pub enum Decision {
    Accept(TradePlan),
    /// Every rule that failed, never empty.
    Reject(Vec<Rejection>),
}

impl Decision {
    pub fn plan(&self) -> Option<&TradePlan> {
        match self {
            Decision::Accept(p) => Some(p),
            Decision::Reject(_) => None,
        }
    }

    pub fn rejections(&self) -> &[Rejection] {
        match self {
            Decision::Accept(_) => &[],
            Decision::Reject(r) => r,
        }
    }
}

/// Checks `candidate` against every rule, given the portfolio marked at the last close.
pub fn evaluate(candidate: &Candidate, state: &PortfolioState, config: &RiskConfig) -> Decision {
    let mut failed = rules::check_signal(candidate, config);
    failed.extend(rules::check_portfolio(candidate, state, config));
    let entry = candidate.entry_price;
    let equity = state.equity_at_marks();
    if !(entry > 0.0 && entry.is_finite() && equity > 0.0) {
        return Decision::Reject(failed);
    }
    let levels = price_levels(entry, candidate.volatility_20d, config);
    failed.extend(rules::check_levels(&levels, config));
    if !(levels.stop_pct > 0.0 && levels.stop_pct.is_finite()) {
        return Decision::Reject(failed);
    }
    let size = position_size(equity, state.cash, entry, levels.stop_pct, config);
    let value = size.shares as f64 * entry;
    let position_pct = value / equity;
    let risk_pct = value * levels.stop_pct / equity;
    failed.extend(rules::check_size(
        size.shares,
        size.limited_by,
        entry,
        position_pct,
        risk_pct,
        config,
    ));
    if !failed.is_empty() {
        return Decision::Reject(failed);
    }
    Decision::Accept(TradePlan {
        ticker: candidate.ticker.clone(),
        date: candidate.date,
        confidence: candidate.confidence,
        entry,
        stop: levels.stop,
        target: levels.target,
        stop_pct: levels.stop_pct,
        target_pct: levels.target_pct,
        shares: size.shares,
        position_pct,
        risk_pct,
        reward_risk: levels.reward_risk,
        limited_by: size.limited_by,
        expected_return: candidate.expected_return,
    })
}

/// One candidate of a day and what the risk manager made of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayDecision {
    pub candidate: Candidate,
    pub decision: Decision,
}

/// A day's candidates, ranked by expected return when they have one, else by confidence
/// (highest first, then ticker A→Z, NaN last) and evaluated in that order; each accepted plan is booked into a working copy of
/// `state` at its entry estimate without costs before the next candidate, so slots, cash
/// and already-held tickers run out as they would. Returned in ranked order.
pub fn decide_day(
    candidates: &[Candidate],
    state: &PortfolioState,
    config: &RiskConfig,
) -> Vec<DayDecision> {
    let mut ranked: Vec<&Candidate> = candidates.iter().collect();
    let key = |c: &Candidate| {
        let v = c.expected_return.unwrap_or(c.confidence);
        if v.is_nan() {
            f64::NEG_INFINITY
        } else {
            v
        }
    };
    ranked.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.ticker.cmp(&b.ticker))
    });
    let mut working = state.clone();
    ranked
        .into_iter()
        .map(|candidate| {
            let decision = evaluate(candidate, &working, config);
            if let Decision::Accept(plan) = &decision {
                let booked = working.open(plan, plan.entry, candidate.date, &Costs::ZERO);
                debug_assert!(booked.is_ok(), "an accepted plan fits the cash: {booked:?}");
            }
            DayDecision {
                candidate: candidate.clone(),
                decision,
            }
        })
        .collect()
}

/// A plan for portfolio and exit tests: entry 50, the given size and distances.
#[cfg(test)]
pub(crate) fn test_plan(ticker: &str, shares: u64, stop_pct: f64, target_pct: f64) -> TradePlan {
    TradePlan {
        ticker: ticker.into(),
        date: NaiveDate::from_ymd_opt(2021, 2, 26).unwrap(),
        confidence: 0.8,
        entry: 50.0,
        stop: 50.0 * (1.0 - stop_pct),
        target: 50.0 * (1.0 + target_pct),
        stop_pct,
        target_pct,
        shares,
        position_pct: 0.0,
        risk_pct: 0.0,
        reward_risk: target_pct / stop_pct,
        limited_by: SizeLimit::PositionCap,
        expected_return: None,
    }
}

#[cfg(test)]
mod tests;
