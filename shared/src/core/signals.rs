//! A signal date's trades from its predictions: the one function live signal generation
//! (`jobs::generate_signals`) and the backtester both call, so a day is planned the same
//! way whichever runs it.
//!
//! [`plan_day`], after the close of `date`:
//! 1. marks the portfolio at that day's closes (the risk manager reads it marked) and
//!    steps the drawdown breaker there ([`risk::breaker::step`]: a trip locks the day's
//!    entries, a release resets the peak; [`DayPlan::apply_breaker`] carries it over);
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
use super::risk::{
    self, Breaker, BreakerEvent, Candidate, Decision, EntryGate, Rejection, RiskConfig, TradePlan,
};

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
    /// The drawdown breaker after the day's closes (`risk::breaker::step`, before the
    /// entries were decided): locked days plan no entries.
    pub breaker: Breaker,
    /// The day's trip or release, if any (a release reset the peak to `equity`).
    pub breaker_event: Option<BreakerEvent>,
}

impl DayPlan {
    /// Carries the day's breaker move into the caller's portfolio: the new lock, and on
    /// a release the peak reset to the equity at the closes.
    pub fn apply_breaker(&self, state: &mut PortfolioState) {
        state.breaker = self.breaker;
        if let Some(BreakerEvent::Released { equity, .. }) = self.breaker_event {
            state.peak_equity = equity;
        }
    }
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
    let breaker_event = risk::breaker::step(&mut working, date, risk_config);

    let mut no_market_data = Vec::new();
    let mut flips = Vec::new();
    for p in todays
        .iter()
        .filter(|p| risk_config.sell_flip.closes(&p.probabilities, p.signal))
    {
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

    let candidates = match risk_config.entry_gate {
        EntryGate::SeedConfidence => seed_candidates(date, &todays, market, &mut no_market_data),
        EntryGate::ExpectedValue {
            round_trip_cost, ..
        } => priced_candidates(
            date,
            &todays,
            market,
            risk_config,
            round_trip_cost,
            &mut no_market_data,
        ),
    };
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
        breaker: working.breaker,
        breaker_event,
    }
}

/// The seed's gate: every BUY prediction with a market row, at its probability.
fn seed_candidates(
    date: NaiveDate,
    todays: &[&Prediction],
    market: &impl MarketRows,
    no_market_data: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in todays.iter().filter(|p| p.signal == Label::Buy) {
        match market.market_row(&p.ticker) {
            Some(row) => out.push(Candidate {
                ticker: p.ticker.clone(),
                date,
                entry_price: row.close,
                confidence: p.confidence,
                predicted: p.signal,
                volatility_20d: row.volatility_20d,
                expected_return: None,
            }),
            None => no_market_data.push(p.ticker.clone()),
        }
    }
    out
}

/// Candidates of the expected-value gate shown when refused: the best this many below
/// the minimum ("why no trade today"); the rest of the day's tickers are not listed.
pub const REFUSED_EXPECTED_VALUE_SHOWN: usize = 5;

/// The expected-value gate: every prediction priced as the trade the risk manager would
/// place (stop and target from `volatility_20d` at the close), its confidence the
/// calibrated P(target). Candidates above the gate's minimum are all kept (the risk
/// manager ranks them); of those below it, only the best
/// [`REFUSED_EXPECTED_VALUE_SHOWN`] are kept, to be refused with their numbers. A
/// prediction without a market row is listed in `no_market_data` only if it would have
/// been a candidate on its probabilities alone (its argmax is BUY), so a day with a
/// missing bar does not list every ticker.
fn priced_candidates(
    date: NaiveDate,
    todays: &[&Prediction],
    market: &impl MarketRows,
    config: &RiskConfig,
    round_trip_cost: f64,
    no_market_data: &mut Vec<String>,
) -> Vec<Candidate> {
    let min = match config.entry_gate {
        EntryGate::ExpectedValue {
            min_expected_return,
            ..
        } => min_expected_return,
        EntryGate::SeedConfidence => f64::NEG_INFINITY,
    };
    let mut priced = Vec::new();
    for p in todays {
        let Some(row) = market.market_row(&p.ticker) else {
            if p.signal == Label::Buy {
                no_market_data.push(p.ticker.clone());
            }
            continue;
        };
        let levels = risk::price_levels(row.close, row.volatility_20d, config);
        let ev = p.timeout_return.and_then(|timeout| {
            risk::expected_return(
                &p.probabilities,
                levels.stop_pct,
                levels.target_pct,
                timeout,
                round_trip_cost,
            )
        });
        priced.push(Candidate {
            ticker: p.ticker.clone(),
            date,
            entry_price: row.close,
            confidence: p.probabilities[Label::Buy.index()],
            predicted: Label::Buy,
            volatility_20d: row.volatility_20d,
            expected_return: ev,
        });
    }
    let key = |c: &Candidate| c.expected_return.unwrap_or(f64::NEG_INFINITY);
    priced.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.ticker.cmp(&b.ticker))
    });
    let above = priced.iter().take_while(|c| key(c) > min).count();
    priced.truncate(above + REFUSED_EXPECTED_VALUE_SHOWN);
    priced
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::risk::{test_plan, SellFlip};

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

    fn ev_config(min: f64) -> RiskConfig {
        RiskConfig {
            entry_gate: EntryGate::expected_value(min),
            ..RiskConfig::default()
        }
    }

    /// Calibrated [P(stop), P(time-out), P(target)] with a time-out return of +0.2 %.
    fn calibrated(ticker: &str, p: [f64; 3]) -> Prediction {
        Prediction::from_probabilities(ticker, day(), "v2", p).with_timeout_return(Some(0.002))
    }

    #[test]
    fn signals_expected_value_gate_ranks_by_expected_return_not_argmax() {
        // vol 1.5 %: stop 3 %, target 6 %. EV = pt·0.058 − ps·0.032 + po·0.002.
        // AAA: argmax HOLD but EV 0.35·0.058 − 0.20·0.032 + 0.45·0.002 = +0.01480.
        // BBB: EV 0.30·0.058 − 0.30·0.032 + 0.40·0.002 = +0.00860.
        // CCC: argmax BUY at 0.40 but EV 0.40·0.058 − 0.55·0.032 + 0.05·0.002 = +0.00570.
        // DDD: EV 0.10·0.058 − 0.60·0.032 + 0.30·0.002 = −0.01280: refused, shown.
        let preds = [
            calibrated("CCC", [0.55, 0.05, 0.40]),
            calibrated("AAA", [0.20, 0.45, 0.35]),
            calibrated("DDD", [0.60, 0.30, 0.10]),
            calibrated("BBB", [0.30, 0.40, 0.30]),
        ];
        let mkt = market(&[
            ("AAA", 50.0, 0.015),
            ("BBB", 50.0, 0.015),
            ("CCC", 50.0, 0.015),
            ("DDD", 50.0, 0.015),
        ]);
        let plan = plan_day(
            day(),
            &preds,
            &mkt,
            &PortfolioState::new(100_000.0),
            &ev_config(0.006),
        );
        let entered: Vec<&str> = plan.entries.iter().map(|e| e.ticker.as_str()).collect();
        assert_eq!(entered, ["AAA", "BBB"], "{plan:?}");
        let ev = plan.entries[0].expected_return.unwrap();
        assert!((ev - 0.0148).abs() < 1e-12, "{ev}");
        // The confidence shown is P(target).
        assert_eq!(plan.entries[0].confidence, 0.35);
        let refused: Vec<(&str, Vec<&str>)> = plan
            .rejected
            .iter()
            .map(|(t, why)| (t.as_str(), why.iter().map(|r| r.code()).collect()))
            .collect();
        assert_eq!(
            refused,
            [
                ("CCC", vec!["expected_return_too_low"]),
                ("DDD", vec!["expected_return_too_low"])
            ]
        );
    }

    #[test]
    fn signals_expected_value_gate_fills_free_slots_with_the_best() {
        // 3 positions held: 2 free slots for 4 positive candidates.
        let held = holding(&["H1", "H2", "H3"]);
        let preds: Vec<Prediction> = [0.30, 0.36, 0.33, 0.31]
            .iter()
            .zip(["E1", "E2", "E3", "E4"])
            .map(|(pt, t)| calibrated(t, [0.2, 0.8 - pt, *pt]))
            .collect();
        let mkt = market(&[
            ("E1", 20.0, 0.015),
            ("E2", 20.0, 0.015),
            ("E3", 20.0, 0.015),
            ("E4", 20.0, 0.015),
            ("H1", 50.0, 0.015),
            ("H2", 50.0, 0.015),
            ("H3", 50.0, 0.015),
        ]);
        let plan = plan_day(day(), &preds, &mkt, &held, &ev_config(0.0));
        let entered: Vec<&str> = plan.entries.iter().map(|e| e.ticker.as_str()).collect();
        assert_eq!(entered, ["E2", "E3"]);
        assert!(plan
            .rejected
            .iter()
            .all(|(_, why)| why.iter().any(|r| r.code() == "too_many_positions")));
    }

    #[test]
    fn signals_expected_value_gate_needs_the_models_timeout_return() {
        let p = Prediction::from_probabilities("AAA", day(), "v1", [0.0, 0.1, 0.9]);
        let plan = plan_day(
            day(),
            &[p],
            &market(&[("AAA", 50.0, 0.015)]),
            &PortfolioState::new(100_000.0),
            &ev_config(0.0),
        );
        assert!(plan.entries.is_empty());
        assert_eq!(plan.rejected[0].1[0].code(), "expected_return_too_low");
    }

    #[test]
    fn signals_sell_flip_settings_decide_which_held_tickers_close() {
        let held = holding(&["AAA", "BBB"]);
        let preds = [
            calibrated("AAA", [0.45, 0.40, 0.15]), // argmax SELL, P(stop) 0.45
            calibrated("BBB", [0.38, 0.42, 0.20]), // argmax HOLD, P(stop) 0.38
        ];
        let mkt = market(&[("AAA", 50.0, 0.015), ("BBB", 50.0, 0.015)]);
        let flips = |sell_flip| {
            let config = RiskConfig {
                sell_flip,
                ..ev_config(1.0)
            };
            plan_day(day(), &preds, &mkt, &held, &config)
                .flips
                .iter()
                .map(|f| f.ticker.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(flips(SellFlip::ArgMaxSell), ["AAA"]);
        assert_eq!(
            flips(SellFlip::StopProbabilityAbove { min: 0.35 }),
            ["AAA", "BBB"]
        );
        assert!(flips(SellFlip::Off).is_empty());
    }
}
