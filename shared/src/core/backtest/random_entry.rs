//! The random-entry baseline: a [`Predictor`] that knows nothing. Each day it picks BUY
//! candidates at random among the tickers with a complete feature window, with random
//! confidences, and the engine trades them through the same risk manager, `plan_day`,
//! fills, costs and exits as any strategy. Many seeds give the distribution of what chance
//! alone achieves under those rules; a strategy's percentile in it says whether it does
//! better ("better than chance" measured, not assumed). `docs/backtest.md` has the reasons.
//!
//! - **How many candidates.** Each eligible ticker is a candidate with probability
//!   `candidates_per_day / eligible tickers that day` (capped at 1), so the expected number
//!   of candidates a day is the strategy's own rate ([`candidates_per_day`]: its BUY
//!   predictions that pass the confidence gate, per signal day). Same rate, random
//!   tickers and random days: neither selection nor timing is the strategy's.
//! - **Confidence**: `gate + (1 − gate) × (0.01 + 0.98 u)`, u uniform: always above the
//!   risk manager's gate (the gate is not part of the chance being measured), and a random
//!   rank among the day's candidates. Probabilities `[0, 1 − c, c]`; never SELL.
//! - **Pure and seeded**: the draws of day D come from a [`SplitMix64`] seeded with
//!   `mix(seed) ⊕ mix(D)`, walked over the eligible tickers in window order (the market
//!   data's ticker order): a day's candidates depend only on (seed, D, the eligible
//!   tickers), not on call order, threads or the portfolio.

use chrono::{Datelike, NaiveDate};

use super::engine::BacktestRun;
use super::stats::{mix64, SplitMix64};
use crate::core::prediction::{FeatureWindow, Prediction, Predictor, PredictorError};

/// The random-entry predictor (module docs).
#[derive(Debug, Clone)]
pub struct RandomEntry {
    seed: u64,
    candidates_per_day: f64,
    gate: f64,
    version: String,
}

impl RandomEntry {
    /// `candidates_per_day` expected BUY candidates a day, confidences above `gate` (the
    /// risk manager's `min_confidence`).
    pub fn new(seed: u64, candidates_per_day: f64, gate: f64) -> Self {
        let rate = if candidates_per_day.is_finite() {
            candidates_per_day.max(0.0)
        } else {
            0.0
        };
        Self {
            seed,
            candidates_per_day: rate,
            gate: gate.clamp(0.0, 0.99),
            version: format!("random-entry-{rate:.4}-per-day-seed-{seed}"),
        }
    }

    fn day_rng(&self, date: NaiveDate) -> SplitMix64 {
        SplitMix64::new(mix64(self.seed) ^ mix64(date.num_days_from_ce() as u64))
    }
}

impl Predictor for RandomEntry {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let eligible: Vec<&FeatureWindow<'_>> = windows
            .iter()
            .filter(|w| w.is_complete() && w.latest().is_some_and(|r| r.date == date))
            .collect();
        if eligible.is_empty() || self.candidates_per_day <= 0.0 {
            return Ok(Vec::new());
        }
        let p = (self.candidates_per_day / eligible.len() as f64).min(1.0);
        let mut rng = self.day_rng(date);
        let mut out = Vec::new();
        for w in eligible {
            let (pick, rank) = (rng.next_f64(), rng.next_f64());
            if pick < p {
                let c = self.gate + (1.0 - self.gate) * (0.01 + 0.98 * rank);
                out.push(Prediction::from_probabilities(
                    w.ticker,
                    date,
                    &self.version,
                    [0.0, 1.0 - c, c],
                ));
            }
        }
        Ok(out)
    }
}

/// A run's candidates that passed its entry gate, per signal day (every trading day but
/// the last): accepted, or refused only by the portfolio's or the sizing rules
/// ([`BacktestRun::gate_passed`]). The portfolio does not change it: it is the
/// predictor's rate, whichever gate (the seed's confidence or the expected value) chose.
pub fn candidates_per_day(run: &BacktestRun) -> f64 {
    let signal_days = run.equity.len().saturating_sub(1).max(1);
    run.gate_passed as f64 / signal_days as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::features::{FeatureRow, Label};
    use crate::core::prediction::{OwnedWindow, SEQUENCE_DAYS};

    fn window(ticker: &str, rows: usize, last: NaiveDate) -> OwnedWindow {
        OwnedWindow {
            ticker: ticker.into(),
            rows: (0..rows)
                .map(|i| FeatureRow {
                    ticker: ticker.into(),
                    date: last - chrono::Days::new((rows - 1 - i) as u64),
                    values: vec![0.0; 3],
                })
                .collect(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn random_entry_picks_only_complete_windows_of_the_day_above_the_gate() {
        let day = d("2021-03-01");
        let mut owned: Vec<OwnedWindow> = (0..20)
            .map(|i| window(&format!("T{i:02}"), SEQUENCE_DAYS, day))
            .collect();
        owned.push(window("SHORT", SEQUENCE_DAYS - 1, day));
        owned.push(window("STALE", SEQUENCE_DAYS, d("2021-02-26")));
        let windows: Vec<FeatureWindow<'_>> = owned.iter().map(OwnedWindow::as_window).collect();
        // A rate above the eligible count: every eligible ticker, never the other two.
        let all = RandomEntry::new(1, 1000.0, 0.7)
            .predict_day(day, &windows)
            .unwrap();
        assert_eq!(all.len(), 20);
        assert!(all.iter().all(|p| p.ticker.starts_with('T')));
        assert!(all
            .iter()
            .all(|p| p.signal == Label::Buy && p.confidence > 0.7 && p.confidence < 1.0));
        // 2 a day on average over many days and seeds.
        let mut total = 0;
        for seed in 0..50 {
            let r = RandomEntry::new(seed, 2.0, 0.7);
            let picks = r.predict_day(day, &windows).unwrap();
            assert!(picks.iter().all(|p| p.ticker.starts_with('T')));
            total += picks.len();
        }
        assert!((70..=130).contains(&total), "{total}");
        assert!(RandomEntry::new(1, 0.0, 0.7)
            .predict_day(day, &windows)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn random_entry_same_seed_same_picks_other_seed_other_picks() {
        let day = d("2021-03-01");
        let owned: Vec<OwnedWindow> = (0..50)
            .map(|i| window(&format!("T{i:02}"), SEQUENCE_DAYS, day))
            .collect();
        let windows: Vec<FeatureWindow<'_>> = owned.iter().map(OwnedWindow::as_window).collect();
        let picks = |seed| RandomEntry::new(seed, 5.0, 0.7).predict_day(day, &windows);
        assert_eq!(picks(3).unwrap(), picks(3).unwrap());
        let names =
            |seed| -> Vec<String> { picks(seed).unwrap().into_iter().map(|p| p.ticker).collect() };
        assert_ne!(names(3), names(4));
        // The day's draws do not depend on what was asked before.
        let r = RandomEntry::new(3, 5.0, 0.7);
        let first = r.predict_day(day, &windows).unwrap();
        let _ = r.predict_day(d("2021-03-02"), &windows);
        assert_eq!(r.predict_day(day, &windows).unwrap(), first);
    }
}
