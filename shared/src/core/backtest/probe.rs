//! The look-ahead probe: rerun with every bar and post after a date altered
//! ([`super::data::alter_after`]); nothing decided on or before that date may change.
//!
//! Compared between the baseline and the altered run, for the probe date D:
//! - every entry plan with signal date `<= D` (made after D's close at the latest, from
//!   data up to D);
//! - every trade entered on or before D: ticker, entry date, fill price, shares;
//! - every trade closed on or before D, whole;
//! - the equity curve up to D.
//!
//! The probe also says whether the alteration changed anything after D at all (if it did
//! not, the comparison proved little: e.g. a strategy that never trades).

use chrono::NaiveDate;
use serde::Serialize;

use super::data::{alter_after, MarketData, RawInputs};
use super::engine::{run, BacktestConfig, BacktestError, BacktestRun};
use crate::core::prediction::Predictor;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeOutcome {
    pub date: NaiveDate,
    /// Entry plans (signal date `<= date`) compared.
    pub plans_compared: usize,
    /// Trades entered on or before `date` compared.
    pub entries_compared: usize,
    /// What differs on or before `date` (empty: no look-ahead found).
    pub differences: Vec<String>,
    /// Whether the altered future changed any plan or trade after `date`.
    pub future_changed: bool,
}

impl ProbeOutcome {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The run on the inputs altered after `date`. `predictor_for` builds the predictor for
/// the altered market data (a real predictor ignores it; a test's peeking one reads it).
pub fn altered_run<P: Predictor>(
    raw: &RawInputs,
    date: NaiveDate,
    config: &BacktestConfig,
    predictor_for: impl FnOnce(&MarketData) -> P,
    on_day: &mut dyn FnMut(usize, usize),
) -> Result<BacktestRun, BacktestError> {
    let altered = alter_after(raw, date);
    let data = MarketData::build(&altered, config.from, config.to);
    let predictor = predictor_for(&data);
    run(&data, &predictor, config, on_day)
}

/// Compares a baseline and an altered run up to `date` (module docs).
pub fn compare_until(
    date: NaiveDate,
    baseline: &BacktestRun,
    altered: &BacktestRun,
) -> ProbeOutcome {
    let mut differences = Vec::new();
    let plans = |r: &BacktestRun| -> Vec<_> {
        r.plans.iter().filter(|p| p.date <= date).cloned().collect()
    };
    let (pa, pb) = (plans(baseline), plans(altered));
    if pa != pb {
        let first = pa
            .iter()
            .zip(&pb)
            .position(|(a, b)| a != b)
            .unwrap_or(pa.len().min(pb.len()));
        differences.push(format!(
            "entry plans up to {date} differ ({} vs {} plans); first difference: {:?} vs {:?}",
            pa.len(),
            pb.len(),
            pa.get(first)
                .map(|p| (&p.ticker, p.date, p.shares, p.entry)),
            pb.get(first)
                .map(|p| (&p.ticker, p.date, p.shares, p.entry)),
        ));
    }
    let entries = |r: &BacktestRun| -> Vec<(String, NaiveDate, u64, u64)> {
        let mut v: Vec<_> = r
            .trades
            .iter()
            .map(|t| (&t.ticker, t.entry_date, t.shares, t.entry_price))
            .chain(
                r.open_at_end
                    .iter()
                    .map(|p| (&p.ticker, p.entry_date, p.shares, p.entry_price)),
            )
            .filter(|e| e.1 <= date)
            .map(|(t, d, s, p)| (t.clone(), d, s, p.to_bits()))
            .collect();
        v.sort();
        v
    };
    let (ea, eb) = (entries(baseline), entries(altered));
    if ea != eb {
        let only_a: Vec<_> = ea.iter().filter(|e| !eb.contains(e)).take(3).collect();
        let only_b: Vec<_> = eb.iter().filter(|e| !ea.contains(e)).take(3).collect();
        differences.push(format!(
            "trades entered on or before {date} differ: baseline only {only_a:?}, altered only {only_b:?}"
        ));
    }
    let closed = |r: &BacktestRun| -> Vec<_> {
        r.trades
            .iter()
            .filter(|t| t.exit_date <= date)
            .cloned()
            .collect()
    };
    if closed(baseline) != closed(altered) {
        differences.push(format!("trades closed on or before {date} differ"));
    }
    let curve = |r: &BacktestRun| -> Vec<_> {
        r.equity
            .iter()
            .filter(|p| p.date <= date)
            .cloned()
            .collect()
    };
    if let Some((a, b)) = curve(baseline)
        .into_iter()
        .zip(curve(altered))
        .find(|(a, b)| a != b)
    {
        differences.push(format!(
            "equity on {} differs: {:.2} vs {:.2}",
            a.date, a.equity, b.equity
        ));
    }
    let after_plans =
        |r: &BacktestRun| -> Vec<_> { r.plans.iter().filter(|p| p.date > date).cloned().collect() };
    let after_trades = |r: &BacktestRun| -> Vec<_> {
        r.trades
            .iter()
            .filter(|t| t.exit_date > date)
            .cloned()
            .collect()
    };
    let future_changed = after_plans(baseline) != after_plans(altered)
        || after_trades(baseline) != after_trades(altered);
    ProbeOutcome {
        date,
        plans_compared: pa.len(),
        entries_compared: ea.len(),
        differences,
        future_changed,
    }
}
