//! A signal date's trades from its predictions: the one function live signal generation
//! (`jobs::generate_signals`) and the backtester both call, so a day is planned the same
//! way whichever runs it.
//!
//! [`plan_day`], after the close of `date`:
//! 1. marks the portfolio at that day's closes (the risk manager reads it marked);
//! 2. **flips**: every held ticker whose prediction is SELL (the ensemble's arg-max) is
//!    closed at that close (`signal_flip`), in ticker order; its slot and cash are free
//!    for the day's entries (booked in the working copy without costs, as `decide_day`
//!    books entries);
//! 3. **entries**: every BUY prediction with a market row becomes a
//!    [`risk::Candidate`] (entry estimate = the close, `volatility_20d` from the row) and
//!    [`risk::decide_day`] ranks and accepts them; refused ones come back with every rule
//!    they failed.
//!
//! HOLD predictions and SELL predictions for tickers not held do nothing (long-only). A
//! BUY (or a held ticker's SELL) without a market row cannot be priced: it is listed in
//! [`DayPlan::no_market_data`] (code `no_market_data` where refusals are stored).
//! Predictions dated other than `date` are ignored. The result does not depend on the
//! order of `predictions`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use chrono::NaiveDate;
use serde::Serialize;

use super::exits::{Exit, ExitReason};
use super::features::Label;
use super::portfolio::{Costs, PortfolioState};
use super::prediction::Prediction;
use super::risk::{self, Candidate, Decision, Rejection, RiskConfig, TradePlan};

/// What the market said about a ticker at the signal date's close.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MarketRow {
    /// The signal date's close: the entry estimate and the flip's exit price.
    pub close: f64,
    /// The `volatility_20d` feature (0 or not finite when unknown: the 5 % stop).
    pub volatility_20d: f64,
}

/// Where [`plan_day`] reads a ticker's [`MarketRow`]: a map keyed by ticker (live), or
/// the backtester's view of one day of its market data (no map built per day).
pub trait MarketRows {
    fn market_row(&self, ticker: &str) -> Option<MarketRow>;
}

impl<K, S> MarketRows for HashMap<K, MarketRow, S>
where
    K: Borrow<str> + Hash + Eq,
    S: BuildHasher,
{
    fn market_row(&self, ticker: &str) -> Option<MarketRow> {
        self.get(ticker).copied()
    }
}

/// A held ticker the ensemble now calls SELL: close it at the signal date's close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flip {
    pub ticker: String,
    pub prediction: Prediction,
    /// `signal_flip` at the close (a market price; costs apply when it is booked).
    pub exit: Exit,
}

/// A signal date's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPlan {
    pub date: NaiveDate,
    /// Accepted entries, in the risk manager's rank order (confidence, then ticker).
    pub entries: Vec<TradePlan>,
    /// Held tickers to close, by ticker.
    pub flips: Vec<Flip>,
    /// BUY candidates the risk manager refused, with every failed rule, in rank order.
    pub rejected: Vec<(String, Vec<Rejection>)>,
    /// Tickers with a BUY, or a held ticker with a SELL, but no market row: not priced,
    /// so neither entered nor flipped. Sorted.
    pub no_market_data: Vec<String>,
    /// Equity at the signal date's closes, before the day's trades.
    pub equity: f64,
    /// Drawdown from the peak at those closes, before the day's trades.
    pub drawdown: f64,
}

/// Plans `date`'s flips and entries (module docs). `state` is the portfolio before the
/// day's trades; it is not changed.
pub fn plan_day(
    date: NaiveDate,
    predictions: &[Prediction],
    market: &impl MarketRows,
    state: &PortfolioState,
    risk_config: &RiskConfig,
) -> DayPlan {
    let mut todays: Vec<&Prediction> = predictions.iter().filter(|p| p.date == date).collect();
    todays.sort_by(|a, b| {
        a.ticker
            .cmp(&b.ticker)
            .then_with(|| a.model_version.cmp(&b.model_version))
    });

    let mut working = state.clone();
    working.mark_with(|ticker| market.market_row(ticker).map(|m| m.close));
    let equity = working.equity_at_marks();
    let drawdown = working.drawdown_at_marks();

    let mut no_market_data = Vec::new();
    let mut flips = Vec::new();
    for p in todays.iter().filter(|p| p.signal == Label::Sell) {
        if !working.holds(&p.ticker) {
            continue;
        }
        let Some(row) = market.market_row(&p.ticker) else {
            no_market_data.push(p.ticker.clone());
            continue;
        };
        let exit = Exit {
            reason: ExitReason::SignalFlip,
            price: row.close,
        };
        if working
            .close(&p.ticker, row.close, date, exit.reason, &Costs::ZERO)
            .is_ok()
        {
            flips.push(Flip {
                ticker: p.ticker.clone(),
                prediction: (*p).clone(),
                exit,
            });
        } else {
            // A close that cannot be booked has no usable price.
            no_market_data.push(p.ticker.clone());
        }
    }

    let mut candidates = Vec::new();
    for p in todays.iter().filter(|p| p.signal == Label::Buy) {
        match market.market_row(&p.ticker) {
            Some(row) => candidates.push(Candidate {
                ticker: p.ticker.clone(),
                date,
                entry_price: row.close,
                confidence: p.confidence,
                predicted: p.signal,
                volatility_20d: row.volatility_20d,
            }),
            None => no_market_data.push(p.ticker.clone()),
        }
    }
    no_market_data.sort();
    no_market_data.dedup();

    let mut entries = Vec::new();
    let mut rejected = Vec::new();
    for d in risk::decide_day(&candidates, &working, risk_config) {
        match d.decision {
            Decision::Accept(plan) => entries.push(plan),
            Decision::Reject(why) => rejected.push((d.candidate.ticker, why)),
        }
    }
    DayPlan {
        date,
        entries,
        flips,
        rejected,
        no_market_data,
        equity,
        drawdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::risk::test_plan;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
    }

    fn pred(ticker: &str, signal: Label, confidence: f64) -> Prediction {
        let mut p = [(1.0 - confidence) / 2.0; 3];
        p[signal.index()] = confidence;
        Prediction::from_probabilities(ticker, day(), "v1", p)
    }

    fn market(rows: &[(&str, f64, f64)]) -> HashMap<String, MarketRow> {
        rows.iter()
            .map(|(t, close, vol)| {
                (
                    t.to_string(),
                    MarketRow {
                        close: *close,
                        volatility_20d: *vol,
                    },
                )
            })
            .collect()
    }

    /// A portfolio holding `tickers`, each 100 shares bought at 50.
    fn holding(tickers: &[&str]) -> PortfolioState {
        let mut pf = PortfolioState::new(100_000.0);
        for t in tickers {
            let plan = test_plan(t, 100, 0.03, 0.06);
            pf.open(
                &plan,
                50.0,
                NaiveDate::from_ymd_opt(2021, 2, 22).unwrap(),
                &Costs::ZERO,
            )
            .unwrap();
        }
        pf
    }

    #[test]
    fn signals_a_confident_buy_is_planned_at_the_close_with_volatility_levels() {
        let plan = plan_day(
            day(),
            &[pred("AAA", Label::Buy, 0.8)],
            &market(&[("AAA", 50.0, 0.015)]),
            &PortfolioState::new(100_000.0),
            &RiskConfig::default(),
        );
        assert_eq!(plan.entries.len(), 1, "{plan:?}");
        let e = &plan.entries[0];
        assert_eq!((e.ticker.as_str(), e.entry, e.shares), ("AAA", 50.0, 400));
        assert!((e.stop - 48.5).abs() < 1e-9 && (e.target - 53.0).abs() < 1e-9);
        assert!(plan.rejected.is_empty() && plan.flips.is_empty());
        assert_eq!((plan.equity, plan.drawdown), (100_000.0, 0.0));
    }

    #[test]
    fn signals_buy_without_market_row_is_listed_not_entered() {
        let plan = plan_day(
            day(),
            &[pred("NOPE", Label::Buy, 0.9), pred("AAA", Label::Buy, 0.8)],
            &market(&[("AAA", 50.0, 0.015)]),
            &PortfolioState::new(100_000.0),
            &RiskConfig::default(),
        );
        assert_eq!(plan.no_market_data, vec!["NOPE".to_string()]);
        assert_eq!(plan.entries.len(), 1);
        assert_eq!(plan.entries[0].ticker, "AAA");
    }

    #[test]
    fn signals_refusals_carry_every_failed_rule() {
        let plan = plan_day(
            day(),
            &[pred("LOW", Label::Buy, 0.70), pred("HELD", Label::Buy, 0.9)],
            &market(&[("LOW", 50.0, 0.015), ("HELD", 55.0, 0.015)]),
            &holding(&["HELD"]),
            &RiskConfig::default(),
        );
        assert!(plan.entries.is_empty());
        let codes: Vec<(String, Vec<&str>)> = plan
            .rejected
            .iter()
            .map(|(t, r)| (t.clone(), r.iter().map(Rejection::code).collect()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("HELD".to_string(), vec!["already_held"]),
                ("LOW".to_string(), vec!["confidence_too_low"]),
            ]
        );
    }

    #[test]
    fn signals_sell_on_a_held_ticker_flips_at_the_close_and_frees_its_slot() {
        let held = holding(&["H1", "H2", "H3", "H4", "H5"]);
        let preds = [
            pred("H3", Label::Sell, 0.5),
            pred("NOTHELD", Label::Sell, 0.9),
            pred("H1", Label::Hold, 0.9),
            pred("NEW", Label::Buy, 0.8),
        ];
        let mkt = market(&[
            ("H1", 50.0, 0.01),
            ("H2", 50.0, 0.01),
            ("H3", 47.0, 0.01),
            ("H4", 50.0, 0.01),
            ("H5", 50.0, 0.01),
            ("NEW", 20.0, 0.02),
        ]);
        let plan = plan_day(day(), &preds, &mkt, &held, &RiskConfig::default());
        assert_eq!(plan.flips.len(), 1, "{plan:?}");
        let f = &plan.flips[0];
        assert_eq!(f.ticker, "H3");
        assert_eq!(
            f.exit,
            Exit {
                reason: ExitReason::SignalFlip,
                price: 47.0
            }
        );
        assert_eq!(
            plan.entries.len(),
            1,
            "the flip freed the 5th slot: {plan:?}"
        );
        assert_eq!(plan.entries[0].ticker, "NEW");

        // Without the flip, five are open and NEW is refused.
        let no_flip = plan_day(day(), &preds[1..], &mkt, &held, &RiskConfig::default());
        assert!(no_flip.flips.is_empty() && no_flip.entries.is_empty());
        assert_eq!(no_flip.rejected[0].1[0].code(), "too_many_positions");
    }

    #[test]
    fn signals_held_sell_without_market_row_is_not_flipped() {
        let plan = plan_day(
            day(),
            &[pred("H1", Label::Sell, 0.6)],
            &HashMap::<String, MarketRow>::new(),
            &holding(&["H1"]),
            &RiskConfig::default(),
        );
        assert!(plan.flips.is_empty());
        assert_eq!(plan.no_market_data, vec!["H1".to_string()]);
    }

    #[test]
    fn signals_drawdown_at_the_days_closes_blocks_entries() {
        // Bought 4 × 100 shares at 50 (20 000); the peak was 100 000. Closes at 12.49
        // leave equity 84 996: drawdown 15.004 % > 15 %.
        let held = holding(&["H1", "H2", "H3", "H4"]);
        let mut rows = vec![("NEW", 50.0, 0.015)];
        for t in ["H1", "H2", "H3", "H4"] {
            rows.push((t, 12.49, 0.02));
        }
        let plan = plan_day(
            day(),
            &[pred("NEW", Label::Buy, 0.9)],
            &market(&rows),
            &held,
            &RiskConfig::default(),
        );
        assert!(plan.drawdown > 0.15, "{}", plan.drawdown);
        assert!(plan.entries.is_empty());
        assert_eq!(plan.rejected[0].1[0].code(), "drawdown_breaker");

        // At 12.51 equity is 85 004: drawdown 14.996 %, NEW enters.
        for t in ["H1", "H2", "H3", "H4"] {
            rows.retain(|r| r.0 != t);
            rows.push((t, 12.51, 0.02));
        }
        let ok = plan_day(
            day(),
            &[pred("NEW", Label::Buy, 0.9)],
            &market(&rows),
            &held,
            &RiskConfig::default(),
        );
        assert!(ok.drawdown <= 0.15, "{}", ok.drawdown);
        assert_eq!(ok.entries.len(), 1);
    }

    #[test]
    fn signals_plan_is_independent_of_prediction_order_and_ignores_other_days() {
        let mut preds = vec![
            pred("CCC", Label::Buy, 0.8),
            pred("AAA", Label::Buy, 0.8),
            pred("BBB", Label::Buy, 0.85),
            pred("H1", Label::Sell, 0.7),
            pred("H2", Label::Sell, 0.7),
        ];
        let mut other_day = pred("DDD", Label::Buy, 0.99);
        other_day.date = day().succ_opt().unwrap();
        preds.push(other_day);
        let mkt = market(&[
            ("AAA", 10.0, 0.01),
            ("BBB", 20.0, 0.01),
            ("CCC", 30.0, 0.01),
            ("DDD", 30.0, 0.01),
            ("H1", 50.0, 0.01),
            ("H2", 50.0, 0.01),
        ]);
        let held = holding(&["H2", "H1"]);
        let a = plan_day(day(), &preds, &mkt, &held, &RiskConfig::default());
        preds.reverse();
        let b = plan_day(day(), &preds, &mkt, &held, &RiskConfig::default());
        assert_eq!(a, b);
        let order: Vec<&str> = a.entries.iter().map(|e| e.ticker.as_str()).collect();
        assert_eq!(order, ["BBB", "AAA", "CCC"]);
        let flips: Vec<&str> = a.flips.iter().map(|f| f.ticker.as_str()).collect();
        assert_eq!(flips, ["H1", "H2"]);
    }
}
