//! Walk-forward retraining, pure: the fold schedule, the rows a fold may read, the
//! [`FoldTrainer`] seam training goes through, and [`FoldPredictor`], which serves each
//! trading day with the model of the fold whose trade window contains it (so one engine
//! run walks the whole test window, positions carried across folds).
//!
//! The schedule (`docs/backtest.md`, "Walk-forward"): retrain dates every
//! `retrain_every_weeks` weeks from the test window's first trading day (the first NYSE
//! trading day on or after `first + 7·N·k` calendar days). Fold `k` trades
//! `[retrain_k, retrain_{k+1})` and reads only rows strictly before `retrain_k`:
//!
//! ```text
//! train_from .. train_to | purge | calibrate_from .. calibrate_to | purge | trade_from (= retrain_k) .. trade_to
//! ```
//!
//! - `train_from`: the first trading day on or after `retrain_k − train_years` years;
//! - `calibrate_to`: `purge_trading_days` NYSE trading days lie strictly between it and
//!   `retrain_k`; `calibrate_from`: the first trading day after `calibrate_to −
//!   calibrate_months` months;
//! - `train_to`: `purge_trading_days` trading days strictly between it and `calibrate_from`.
//!
//! The label of the row dated `s` reads bars up to [`LABEL_READS_TRADING_DAYS`] trading days
//! after `s` (the next-open entry, then the 7-day hold); its features read bars `<= s`. With
//! a purge of at least that many days, no training row's label reads a bar on or after
//! `calibrate_from` and no calibration row's label reads a bar on or after `retrain_k`
//! ([`Fold::check`], tested on real label reads in this module's tests).

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::core::nyse;
use crate::core::prediction::{FeatureWindow, Prediction, Predictor, PredictorError};

/// How many trading days after its signal date a row's label may read a bar: the entry at
/// the next open plus the 7-trading-day hold (entry day = 1), rounded up by one so a
/// label that also reads the exit day's following open stays covered.
pub const LABEL_READS_TRADING_DAYS: i64 = 8;

/// The walk-forward's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WalkForwardConfig {
    /// Weeks between retrain dates.
    pub retrain_every_weeks: u32,
    /// Years of training rows before the calibration slice.
    pub train_years: u32,
    /// Calendar months of the calibration slice.
    pub calibrate_months: u32,
    /// Trading days left out between training and calibration, and between calibration
    /// and the retrain date (at least [`LABEL_READS_TRADING_DAYS`]).
    pub purge_trading_days: u32,
}

impl Default for WalkForwardConfig {
    /// Retrain every 4 weeks on 5 years, a 3-month calibration slice, a 10-day purge (the
    /// purge `models/` used before walk-forward; 2 days of slack over the label's 8).
    fn default() -> Self {
        Self {
            retrain_every_weeks: 4,
            train_years: 5,
            calibrate_months: 3,
            purge_trading_days: 10,
        }
    }
}

/// One retraining: the rows it reads and the days its model trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Fold {
    pub index: usize,
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub calibrate_from: NaiveDate,
    pub calibrate_to: NaiveDate,
    /// The retrain date: the model trades from this day's signals on.
    pub trade_from: NaiveDate,
    pub trade_to: NaiveDate,
}

/// A fold whose rows would read a bar its model trades on (or a malformed fold).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldLeak {
    #[error("fold {fold}: {what} ({from}..={to}) is empty or reversed")]
    Reversed {
        fold: usize,
        what: &'static str,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error(
        "fold {fold}: a {rows} row dated {row_date} has a label reading {reads} trading days \
         ahead, up to {last_read}, on or after {boundary} ({boundary_name})"
    )]
    LabelReadsPast {
        fold: usize,
        rows: &'static str,
        row_date: NaiveDate,
        reads: i64,
        last_read: NaiveDate,
        boundary: NaiveDate,
        boundary_name: &'static str,
    },
}

/// Which slice of a fold a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldSlice {
    Train,
    Calibrate,
}

impl Fold {
    /// The day the fold's model is retrained (its first trading day).
    pub fn retrain_date(&self) -> NaiveDate {
        self.trade_from
    }

    /// Does this fold's model make `date`'s predictions?
    pub fn trades_on(&self, date: NaiveDate) -> bool {
        self.trade_from <= date && date <= self.trade_to
    }

    /// The slice a row dated `date` is read in, if any: the rows the fold server reads are
    /// exactly the labelled rows dated in `[train_from, train_to]` and
    /// `[calibrate_from, calibrate_to]`.
    pub fn slice_of(&self, date: NaiveDate) -> Option<FoldSlice> {
        if self.train_from <= date && date <= self.train_to {
            Some(FoldSlice::Train)
        } else if self.calibrate_from <= date && date <= self.calibrate_to {
            Some(FoldSlice::Calibrate)
        } else {
            None
        }
    }

    /// The first day a row of `slice` must not read: `calibrate_from` for training rows,
    /// the retrain date for calibration rows.
    pub fn boundary(&self, slice: FoldSlice) -> (NaiveDate, &'static str) {
        match slice {
            FoldSlice::Train => (self.calibrate_from, "calibrate_from"),
            FoldSlice::Calibrate => (self.trade_from, "trade_from"),
        }
    }

    /// Checks, in NYSE trading days, that the last row of each slice has a label that
    /// reads only bars before the slice's boundary (`reads` trading days ahead).
    pub fn check(&self, reads: i64) -> Result<(), FoldLeak> {
        let ordered = [
            ("training", self.train_from, self.train_to),
            ("calibration", self.calibrate_from, self.calibrate_to),
            ("trade window", self.trade_from, self.trade_to),
        ];
        for (what, from, to) in ordered {
            if from > to {
                return Err(FoldLeak::Reversed {
                    fold: self.index,
                    what,
                    from,
                    to,
                });
            }
        }
        for (slice, name, last) in [
            (FoldSlice::Train, "training", self.train_to),
            (FoldSlice::Calibrate, "calibration", self.calibrate_to),
        ] {
            let last_read = nyse::add_trading_days(last, reads);
            let (boundary, boundary_name) = self.boundary(slice);
            if last_read >= boundary {
                return Err(FoldLeak::LabelReadsPast {
                    fold: self.index,
                    rows: name,
                    row_date: last,
                    reads,
                    last_read,
                    boundary,
                    boundary_name,
                });
            }
        }
        Ok(())
    }
}

/// Why no schedule can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the test window {from}..={to} has no NYSE trading day")]
    EmptyWindow { from: NaiveDate, to: NaiveDate },
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Leak(#[from] FoldLeak),
}

/// The first NYSE trading day on or after `d`.
fn trading_day_on_or_after(d: NaiveDate) -> NaiveDate {
    if nyse::is_trading_day(d) {
        d
    } else {
        nyse::next_trading_day(d)
    }
}

/// The folds of the test window `from..=to` (module docs). Every fold passes
/// [`Fold::check`] with [`LABEL_READS_TRADING_DAYS`].
pub fn schedule(
    from: NaiveDate,
    to: NaiveDate,
    config: &WalkForwardConfig,
) -> Result<Vec<Fold>, ScheduleError> {
    if config.retrain_every_weeks == 0 || config.train_years == 0 || config.calibrate_months == 0 {
        return Err(ScheduleError::Config(format!(
            "retrain every {} weeks, {} training years and {} calibration months: each must be at least 1",
            config.retrain_every_weeks, config.train_years, config.calibrate_months
        )));
    }
    if i64::from(config.purge_trading_days) < LABEL_READS_TRADING_DAYS {
        return Err(ScheduleError::Config(format!(
            "a purge of {} trading days is shorter than the {LABEL_READS_TRADING_DAYS} days a label reads ahead",
            config.purge_trading_days
        )));
    }
    let first = trading_day_on_or_after(from);
    let last = if nyse::is_trading_day(to) {
        to
    } else {
        nyse::previous_trading_day(to)
    };
    if from > to || first > last {
        return Err(ScheduleError::EmptyWindow { from, to });
    }
    let step = u64::from(config.retrain_every_weeks) * 7;
    let mut retrains = Vec::new();
    for k in 0.. {
        let r = trading_day_on_or_after(first + chrono::Days::new(step * k));
        if r > last {
            break;
        }
        retrains.push(r);
    }
    let purge = i64::from(config.purge_trading_days);
    let folds = retrains
        .iter()
        .enumerate()
        .map(|(index, &retrain)| {
            let trade_to = retrains
                .get(index + 1)
                .map_or(last, |next| nyse::previous_trading_day(*next));
            let calibrate_to = nyse::add_trading_days(retrain, -(purge + 1));
            let calibrate_from = nyse::next_trading_day(
                calibrate_to
                    .checked_sub_months(Months::new(config.calibrate_months))
                    .unwrap_or(calibrate_to),
            );
            let train_to = nyse::add_trading_days(calibrate_from, -(purge + 1));
            let train_from = trading_day_on_or_after(
                retrain
                    .checked_sub_months(Months::new(12 * config.train_years))
                    .unwrap_or(retrain),
            );
            Fold {
                index,
                train_from,
                train_to,
                calibrate_from,
                calibrate_to,
                trade_from: retrain,
                trade_to,
            }
        })
        .collect::<Vec<_>>();
    for fold in &folds {
        fold.check(LABEL_READS_TRADING_DAYS)?;
    }
    Ok(folds)
}

/// Trains one fold's model. The real trainer sends the fold's dates to the Python fold
/// server (`tft backtest --walk-forward`), which reads exactly the rows
/// [`Fold::slice_of`] names; a test trainer can memorise them.
pub trait FoldTrainer {
    type Model;
    type Error;

    /// Trains `fold` (on rows strictly before its retrain date); `parent` is the previous
    /// fold's model, for a warm start.
    fn train(
        &mut self,
        fold: &Fold,
        parent: Option<&Self::Model>,
    ) -> Result<Self::Model, Self::Error>;
}

/// Trains every fold in order, each warm-started from the previous one's model.
pub fn train_folds<T: FoldTrainer>(
    trainer: &mut T,
    folds: &[Fold],
) -> Result<Vec<(Fold, T::Model)>, T::Error> {
    let mut out: Vec<(Fold, T::Model)> = Vec::with_capacity(folds.len());
    for fold in folds {
        let model = trainer.train(fold, out.last().map(|(_, m)| m))?;
        out.push((*fold, model));
    }
    Ok(out)
}

/// The walk-forward's predictor: each day is predicted by the model of the fold whose
/// trade window contains it.
pub struct FoldPredictor<P> {
    version: String,
    folds: Vec<(Fold, P)>,
}

impl<P: Predictor> FoldPredictor<P> {
    /// `folds` in schedule order (trade windows ascending, not overlapping).
    pub fn new(version: impl Into<String>, folds: Vec<(Fold, P)>) -> Self {
        Self {
            version: version.into(),
            folds,
        }
    }

    pub fn folds(&self) -> &[(Fold, P)] {
        &self.folds
    }

    /// The fold that trades `date`.
    pub fn fold_on(&self, date: NaiveDate) -> Option<&(Fold, P)> {
        let k = self.folds.partition_point(|(f, _)| f.trade_to < date);
        self.folds.get(k).filter(|(f, _)| f.trades_on(date))
    }
}

impl<P: Predictor> Predictor for FoldPredictor<P> {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        match self.fold_on(date) {
            Some((_, model)) => model.predict_day(date, windows),
            None => Err(PredictorError {
                predictor: self.version.clone(),
                message: format!("no fold trades {date}"),
            }),
        }
    }
}

#[cfg(test)]
#[path = "walkforward_tests.rs"]
mod tests;
