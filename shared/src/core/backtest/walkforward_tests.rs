//! The walk-forward schedule at its boundaries, and the acceptance test: a trainer that
//! memorises the labels of the rows a fold gives it (and would profit from any row that
//! reads the fold's trade window) is never handed such a row by the schedule, while a
//! deliberately leaky schedule is caught by the same row-level check and does profit.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;

use super::*;
use crate::core::backtest::{self, BacktestConfig, MarketData, RawInputs};
use crate::core::exits::TradeRules;
use crate::core::features::training::{training_set, TrainingRow};
use crate::core::features::{Label, Market};
use crate::core::DailyBar;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn trading_days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| nyse::is_trading_day(*d))
        .collect()
}

#[test]
fn retrain_dates_every_n_weeks_from_the_first_trading_day_and_trade_windows_tile_the_test() {
    let config = WalkForwardConfig::default();
    // 2020-01-01 is a holiday: the first trading day is Thursday 2020-01-02.
    let folds = schedule(day("2020-01-01"), day("2020-03-31"), &config).unwrap();
    let retrains: Vec<NaiveDate> = folds.iter().map(|f| f.trade_from).collect();
    assert_eq!(
        retrains,
        [
            day("2020-01-02"),
            day("2020-01-30"),
            day("2020-02-27"),
            day("2020-03-26")
        ]
    );
    assert_eq!(
        folds.iter().map(|f| f.trade_to).collect::<Vec<_>>(),
        [
            day("2020-01-29"),
            day("2020-02-26"),
            day("2020-03-25"),
            day("2020-03-31")
        ]
    );
    // Every trading day of the test is traded by exactly one fold, in order.
    for d in trading_days(day("2020-01-01"), day("2020-03-31")) {
        assert_eq!(folds.iter().filter(|f| f.trades_on(d)).count(), 1, "{d}");
    }
    assert!(folds.iter().enumerate().all(|(i, f)| f.index == i));
}

#[test]
fn a_retrain_date_on_a_holiday_moves_to_the_next_trading_day() {
    let config = WalkForwardConfig {
        retrain_every_weeks: 1,
        ..WalkForwardConfig::default()
    };
    // Thursday 2020-11-19 + 1 week = Thanksgiving (closed) -> Friday 2020-11-27; the next
    // step counts from the first day again (2020-12-03), not from the moved date.
    let folds = schedule(day("2020-11-19"), day("2020-12-04"), &config).unwrap();
    let retrains: Vec<NaiveDate> = folds.iter().map(|f| f.trade_from).collect();
    assert_eq!(
        retrains,
        [day("2020-11-19"), day("2020-11-27"), day("2020-12-03")]
    );
    assert_eq!(folds[0].trade_to, day("2020-11-25"));
}

#[test]
fn slices_are_purged_in_trading_days_on_both_sides_and_sized_as_configured() {
    let config = WalkForwardConfig::default();
    let folds = schedule(day("2020-01-13"), day("2021-12-31"), &config).unwrap();
    assert_eq!(folds.len(), 26);
    for f in &folds {
        // `purge` trading days strictly between the slices (count of t with a < t < b).
        let between = |a: NaiveDate, b: NaiveDate| nyse::trading_days_between(a, b) - 1;
        assert_eq!(between(f.train_to, f.calibrate_from), 10, "{f:?}");
        assert_eq!(between(f.calibrate_to, f.trade_from), 10, "{f:?}");
        for d in [
            f.train_from,
            f.train_to,
            f.calibrate_from,
            f.calibrate_to,
            f.trade_from,
            f.trade_to,
        ] {
            assert!(nyse::is_trading_day(d), "{d} in {f:?}");
        }
        // Five years of training back from the retrain date.
        let five_years = f.trade_from.checked_sub_months(Months::new(60)).unwrap();
        assert!(f.train_from >= five_years);
        assert!(nyse::previous_trading_day(f.train_from) < five_years);
        // A calibration slice of three calendar months ending at calibrate_to.
        let three_months = f.calibrate_to.checked_sub_months(Months::new(3)).unwrap();
        assert!(f.calibrate_from > three_months);
        assert!(nyse::previous_trading_day(f.calibrate_from) <= three_months);
        assert!(f.check(LABEL_READS_TRADING_DAYS).is_ok());
    }
    // The first fold, by hand: retrain 2020-01-13; 10 trading days before it are
    // 2019-12-27..2020-01-10 (Christmas and New Year's Day closed), so calibration ends
    // 2019-12-26 and starts 2019-09-27 (the first trading day after 2019-09-26).
    let f = folds[0];
    assert_eq!(f.trade_from, day("2020-01-13"));
    assert_eq!(f.calibrate_to, day("2019-12-26"));
    assert_eq!(f.calibrate_from, day("2019-09-27"));
    assert_eq!(f.train_to, day("2019-09-12"));
    assert_eq!(f.train_from, day("2015-01-13"));
    assert_eq!(folds.last().unwrap().trade_to, day("2021-12-31"));
}

#[test]
fn bad_configurations_and_empty_windows_are_refused() {
    let short = WalkForwardConfig {
        purge_trading_days: 7,
        ..WalkForwardConfig::default()
    };
    assert!(matches!(
        schedule(day("2020-01-02"), day("2020-06-30"), &short),
        Err(ScheduleError::Config(m)) if m.contains("shorter than the 8 days")
    ));
    let never = WalkForwardConfig {
        retrain_every_weeks: 0,
        ..WalkForwardConfig::default()
    };
    assert!(matches!(
        schedule(day("2020-01-02"), day("2020-06-30"), &never),
        Err(ScheduleError::Config(_))
    ));
    // A weekend has no trading day.
    assert_eq!(
        schedule(day("2020-01-04"), day("2020-01-05"), &Default::default()),
        Err(ScheduleError::EmptyWindow {
            from: day("2020-01-04"),
            to: day("2020-01-05")
        })
    );
    // One day: one fold trading it.
    let one = schedule(day("2020-01-06"), day("2020-01-06"), &Default::default()).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0].trade_from, one[0].trade_to),
        (day("2020-01-06"), day("2020-01-06"))
    );
}

#[test]
fn the_fold_check_catches_a_slice_whose_labels_read_the_next_one() {
    let f = schedule(day("2020-03-02"), day("2020-03-31"), &Default::default()).unwrap()[0];
    // Calibration right up to the retrain date: its last labels read the traded days.
    let leaky = Fold {
        calibrate_to: nyse::previous_trading_day(f.trade_from),
        ..f
    };
    assert!(matches!(
        leaky.check(LABEL_READS_TRADING_DAYS),
        Err(FoldLeak::LabelReadsPast {
            boundary_name: "trade_from",
            ..
        })
    ));
    // Training 5 trading days before calibration: its labels read calibration bars.
    let leaky = Fold {
        train_to: nyse::add_trading_days(f.calibrate_from, -5),
        ..f
    };
    assert!(matches!(
        leaky.check(LABEL_READS_TRADING_DAYS),
        Err(FoldLeak::LabelReadsPast {
            boundary_name: "calibrate_from",
            ..
        })
    ));
    let reversed = Fold {
        calibrate_from: f.calibrate_to + chrono::Days::new(1),
        ..f
    };
    assert!(matches!(
        reversed.check(LABEL_READS_TRADING_DAYS),
        Err(FoldLeak::Reversed { .. })
    ));
}

/// Predicts BUY where the fold's label was "target first", nothing else.
struct Memorised {
    buys: HashSet<(String, NaiveDate)>,
}

impl Predictor for Memorised {
    fn version(&self) -> &str {
        "memoriser"
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        Ok(windows
            .iter()
            .map(|w| {
                let p = if self.buys.contains(&(w.ticker.to_string(), date)) {
                    [0.0, 0.02, 0.98]
                } else {
                    [0.0, 1.0, 0.0]
                };
                Prediction::from_probabilities(w.ticker, date, "memoriser", p)
            })
            .collect())
    }
}

/// A row handed to a fold whose label reads a bar at or after the slice's boundary.
#[derive(Debug)]
struct Violation {
    fold: usize,
    ticker: String,
    date: NaiveDate,
    last_read: NaiveDate,
    boundary: NaiveDate,
}

/// A fold trainer that is given the rows the fold server would read (the labelled rows of
/// the training and calibration slices), memorises their BUY labels, and records every row
/// whose label reads (on the ticker's own bars, not the calendar) a bar at or after the
/// slice's boundary, or whose features are dated on or after it.
struct Memoriser<'a> {
    rows: &'a [TrainingRow],
    bars: BTreeMap<&'a str, Vec<NaiveDate>>,
    violations: Vec<Violation>,
    rows_given: usize,
}

impl<'a> Memoriser<'a> {
    fn new(rows: &'a [TrainingRow], prices: &'a [(String, Vec<DailyBar>)]) -> Self {
        Self {
            rows,
            bars: prices
                .iter()
                .map(|(t, b)| (t.as_str(), b.iter().map(|b| b.date).collect()))
                .collect(),
            violations: Vec::new(),
            rows_given: 0,
        }
    }
}

impl FoldTrainer for Memoriser<'_> {
    type Model = Memorised;
    type Error = std::convert::Infallible;

    fn train(
        &mut self,
        fold: &Fold,
        _parent: Option<&Memorised>,
    ) -> Result<Memorised, Self::Error> {
        let mut buys = HashSet::new();
        for row in self.rows {
            let Some(slice) = fold.slice_of(row.date) else {
                continue;
            };
            self.rows_given += 1;
            let dates = &self.bars[row.ticker.as_str()];
            let i = dates.binary_search(&row.date).unwrap();
            // The last bar the label reads: the signal day's index + the label horizon
            // (the entry at the next open, then the hold), on the ticker's own bars.
            let reads = usize::try_from(LABEL_READS_TRADING_DAYS).unwrap();
            let last_read = dates[(i + reads).min(dates.len() - 1)];
            let (boundary, _) = fold.boundary(slice);
            if last_read >= boundary || row.date >= boundary {
                self.violations.push(Violation {
                    fold: fold.index,
                    ticker: row.ticker.clone(),
                    date: row.date,
                    last_read,
                    boundary,
                });
            }
            if row.label == Label::Buy {
                buys.insert((row.ticker.clone(), row.date));
            }
        }
        Ok(Memorised { buys })
    }
}

/// Six tickers of seeded random walks with ±5 % days (targets and stops are both hit
/// often), 2014..2021-06.
fn market() -> Vec<(String, Vec<DailyBar>)> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
        .iter()
        .map(|t| {
            let mut close = 50.0;
            let bars = trading_days(day("2014-01-02"), day("2021-06-30"))
                .into_iter()
                .map(|date| {
                    let open = close * (1.0 + (uniform() - 0.5) * 0.02);
                    close = (open * (1.0 + (uniform() - 0.5) * 0.08)).max(1.0);
                    let high = open.max(close) * (1.0 + uniform() * 0.02);
                    let low = open.min(close) * (1.0 - uniform() * 0.02);
                    DailyBar {
                        date,
                        open,
                        high,
                        low,
                        close,
                        adjusted_close: close,
                        volume: 1_000_000 + (uniform() * 500_000.0) as i64,
                    }
                })
                .collect();
            (t.to_string(), bars)
        })
        .collect()
}

struct Outcome {
    violations: Vec<Violation>,
    rows_given: usize,
    run: backtest::BacktestRun,
}

fn walk(folds: &[Fold], prices: &[(String, Vec<DailyBar>)], rows: &[TrainingRow]) -> Outcome {
    let mut trainer = Memoriser::new(rows, prices);
    let trained = train_folds(&mut trainer, folds).unwrap();
    let predictor = FoldPredictor::new("walk-forward memoriser", trained);
    let config = BacktestConfig::new(folds[0].trade_from, folds.last().unwrap().trade_to);
    let raw = RawInputs {
        prices: prices.to_vec(),
        items: Vec::new(),
        benchmark: Vec::new(),
        daily_sentiment: None,
    };
    let data = MarketData::build(&raw, config.from, config.to);
    let run = backtest::run(&data, &predictor, &config, &mut |_, _| {}).unwrap();
    Outcome {
        violations: trainer.violations,
        rows_given: trainer.rows_given,
        run,
    }
}

#[test]
fn walk_forward_never_trains_on_a_row_that_reads_its_fold_and_a_leaky_schedule_is_caught() {
    let prices = market();
    let from = day("2020-01-13");
    let to = day("2021-03-31");
    let folds = schedule(from, to, &WalkForwardConfig::default()).unwrap();
    let export_from = folds[0].train_from;
    let (rows, _) = training_set(
        &prices,
        &BTreeMap::new(),
        &Market::new(Vec::new(), prices.iter().map(|(t, _)| t.clone())),
        export_from,
        to,
        &TradeRules::default(),
    );
    let buys = rows.iter().filter(|r| r.label == Label::Buy).count();
    assert!(buys > 500, "the market should give many BUY labels: {buys}");

    // The schedule: every fold gets rows, none reads a bar its model is judged on, and the
    // memoriser, knowing only the past, never calls a BUY while it trades.
    let honest = walk(&folds, &prices, &rows);
    assert!(honest.rows_given > 10_000, "{}", honest.rows_given);
    assert!(
        honest.violations.is_empty(),
        "first violations: {:?}",
        &honest.violations[..honest.violations.len().min(3)]
    );
    assert_eq!(honest.run.buy_predictions, 0);
    assert_eq!(honest.run.trades.len(), 0);

    // Leaky: calibration reaches the end of the fold's own trade window. The same check
    // flags it, and the memoriser now trades the labels it was shown, and profits.
    let leaky: Vec<Fold> = folds
        .iter()
        .map(|f| Fold {
            calibrate_to: f.trade_to,
            ..*f
        })
        .collect();
    let caught = walk(&leaky, &prices, &rows);
    assert!(!caught.violations.is_empty());
    assert!(caught
        .violations
        .iter()
        .any(|v| v.date >= v.boundary && v.last_read > v.boundary && !v.ticker.is_empty()));
    assert!(leaky
        .iter()
        .all(|f| f.check(LABEL_READS_TRADING_DAYS).is_err()));
    let trades = &caught.run.trades;
    assert!(trades.len() > 20, "{} trades", trades.len());
    let wins = trades.iter().filter(|t| t.pnl > 0.0).count();
    assert!(
        wins * 10 > trades.len() * 7,
        "{wins} winners of {}",
        trades.len()
    );
    let last = caught.run.equity.last().unwrap().equity;
    assert!(last > caught.run.config.starting_cash * 1.5, "{last}");

    // Leaky the subtle way: no purge between training and calibration. The memoriser
    // cannot profit (the rows are not trade days), but the row check still catches it.
    let unpurged: Vec<Fold> = folds
        .iter()
        .map(|f| Fold {
            train_to: nyse::previous_trading_day(f.calibrate_from),
            ..*f
        })
        .collect();
    let caught = walk(&unpurged, &prices, &rows);
    assert!(caught
        .violations
        .iter()
        .all(|v| v.last_read >= v.boundary && v.date < v.boundary));
    assert!(caught.violations.len() >= unpurged.len());
    assert!(caught.violations.iter().all(|v| v.fold < unpurged.len()));
}

#[test]
fn the_fold_predictor_serves_each_day_with_its_fold_and_refuses_days_outside() {
    let folds = schedule(day("2020-01-02"), day("2020-03-31"), &Default::default()).unwrap();
    struct Named(String);
    impl Predictor for Named {
        fn version(&self) -> &str {
            &self.0
        }
        fn predict_day(
            &self,
            date: NaiveDate,
            _: &[FeatureWindow<'_>],
        ) -> Result<Vec<Prediction>, PredictorError> {
            Ok(vec![Prediction::from_probabilities(
                "X",
                date,
                self.0.clone(),
                [0.1, 0.8, 0.1],
            )])
        }
    }
    let p = FoldPredictor::new(
        "wf",
        folds
            .iter()
            .map(|f| (*f, Named(format!("fold-{}", f.index))))
            .collect(),
    );
    for d in trading_days(day("2020-01-02"), day("2020-03-31")) {
        let got = p.predict_day(d, &[]).unwrap();
        let want = folds.iter().find(|f| f.trades_on(d)).unwrap().index;
        assert_eq!(got[0].model_version, format!("fold-{want}"), "{d}");
    }
    assert_eq!(
        p.predict_day(day("2020-01-29"), &[]).unwrap()[0].model_version,
        "fold-0"
    );
    assert_eq!(
        p.predict_day(day("2020-01-30"), &[]).unwrap()[0].model_version,
        "fold-1"
    );
    assert!(p.predict_day(day("2019-12-31"), &[]).is_err());
    assert!(p.predict_day(day("2020-04-01"), &[]).is_err());
}
