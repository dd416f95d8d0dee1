//! The backtester on small hand-made markets: fills, costs, exits, limits, flips, the
//! probe, the out-of-sample check, metrics on hand-computed series, determinism.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::metrics::{self, max_drawdown, trade_stats};
use super::probe::{altered_run, compare_until};
use super::*;
use crate::core::exits::ExitReason;
use crate::core::features::Label;
use crate::core::nyse;
use crate::core::portfolio::{ClosedTrade, Costs};
use crate::core::prediction::{FeatureWindow, Prediction, Predictor, PredictorError};
use crate::core::DailyBar;

/// Trading days from 2021-01-04.
fn days(n: usize) -> Vec<NaiveDate> {
    let mut d = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        if nyse::is_trading_day(d) {
            out.push(d);
        }
        d = d.succ_opt().unwrap();
    }
    out
}

fn bar(date: NaiveDate, o: f64, h: f64, l: f64, c: f64) -> DailyBar {
    DailyBar {
        date,
        open: o,
        high: h,
        low: l,
        close: c,
        adjusted_close: c,
        volume: 1_000,
    }
}

/// 50 trading days at a flat 100 (volatility 0: the 5 % stop and 10 % target), with
/// `edits` replacing bars by index.
/// Open, high, low, close.
type Ohlc = (f64, f64, f64, f64);

fn flat(edits: &[(usize, Ohlc)]) -> Vec<DailyBar> {
    let d = days(50);
    (0..50)
        .map(|i| match edits.iter().find(|e| e.0 == i) {
            Some((_, (o, h, l, c))) => bar(d[i], *o, *h, *l, *c),
            None => bar(d[i], 100.0, 100.0, 100.0, 100.0),
        })
        .collect()
}

/// Predictions by (signal day index, ticker): BUY or SELL with a confidence.
struct Scripted(Vec<(usize, &'static str, Label, f64)>);

impl Predictor for Scripted {
    fn version(&self) -> &str {
        "scripted"
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let d = days(50);
        Ok(windows
            .iter()
            .map(|w| {
                let call = self
                    .0
                    .iter()
                    .find(|(i, t, _, _)| d[*i] == date && *t == w.ticker);
                let p = match call {
                    Some((_, _, label, c)) => {
                        let mut p = [(1.0 - c) / 2.0; 3];
                        p[label.index()] = *c;
                        p
                    }
                    None => [0.0, 1.0, 0.0],
                };
                Prediction::from_probabilities(w.ticker, date, "scripted", p)
            })
            .collect())
    }
}

fn market(tickers: &[(&str, Vec<DailyBar>)]) -> (RawInputs, BacktestConfig) {
    let raw = RawInputs {
        prices: tickers
            .iter()
            .map(|(t, b)| (t.to_string(), b.clone()))
            .collect(),
        items: Vec::new(),
        benchmark: Vec::new(),
        daily_sentiment: None,
    };
    let d = days(50);
    (raw, BacktestConfig::new(d[34], d[49]))
}

fn backtest(
    tickers: &[(&str, Vec<DailyBar>)],
    script: Vec<(usize, &'static str, Label, f64)>,
    costs: Costs,
) -> BacktestRun {
    let (raw, mut config) = market(tickers);
    config.costs = costs;
    let data = MarketData::build(&raw, config.from, config.to);
    run(&data, &Scripted(script), &config, &mut |_, _| {}).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn backtest_enters_at_the_next_open_and_a_same_day_stop_and_target_is_the_stop() {
    // Signal after day 35's close; day 36 opens at 101 (the fill), touches 112 and 94.
    let bars = flat(&[(36, (101.0, 112.0, 94.0, 105.0))]);
    let r = backtest(
        &[("AAA", bars)],
        vec![(35, "AAA", Label::Buy, 0.8)],
        Costs::ZERO,
    );
    let d = days(50);
    assert_eq!(r.plans.len(), 1);
    assert_eq!((r.plans[0].date, r.plans[0].entry), (d[35], 100.0));
    assert_eq!(r.trades.len(), 1, "{:?}", r.trades);
    let t = &r.trades[0];
    assert_eq!((t.entry_date, t.entry_price), (d[36], 101.0));
    // Stop and target re-based on the fill: 101 × 0.95 and 101 × 1.10 (both touched).
    assert_eq!(t.exit_reason, ExitReason::StopLoss);
    assert!(close(t.exit_price, 101.0 * 0.95), "{}", t.exit_price);
    assert_eq!((t.exit_date, t.trading_days_held), (d[36], 1));
    // 200 shares (the 20 % cap at the estimate 100).
    assert_eq!(t.shares, 200);
    assert!(close(t.pnl, 200.0 * (101.0 * 0.95 - 101.0)));
}

#[test]
fn backtest_gap_through_the_stop_exits_at_the_open_and_a_target_at_its_price() {
    let gap = flat(&[(38, (90.0, 99.0, 89.0, 95.0))]);
    let up = flat(&[(37, (100.0, 111.0, 99.0, 108.0))]);
    let r = backtest(
        &[("GAP", gap), ("UP", up)],
        vec![(35, "GAP", Label::Buy, 0.8), (35, "UP", Label::Buy, 0.9)],
        Costs::ZERO,
    );
    let d = days(50);
    let by = |t: &str| r.trades.iter().find(|x| x.ticker == t).unwrap().clone();
    let gap = by("GAP");
    assert_eq!(
        (gap.exit_reason, gap.exit_price, gap.exit_date),
        (ExitReason::StopLoss, 90.0, d[38])
    );
    let up = by("UP");
    assert_eq!(up.exit_reason, ExitReason::Target);
    assert!(close(up.exit_price, 110.0) && up.exit_date == d[37]);
}

#[test]
fn backtest_costs_are_charged_on_both_sides() {
    let bars = flat(&[(37, (100.0, 111.0, 99.0, 108.0))]);
    let script = vec![(35, "AAA", Label::Buy, 0.8)];
    let free = backtest(&[("AAA", bars.clone())], script.clone(), Costs::ZERO);
    let paid = backtest(&[("AAA", bars)], script, Costs::default());
    let (f, p) = (&free.trades[0], &paid.trades[0]);
    // Free: 200 × (110 − 100) = 2 000.
    assert!(close(f.pnl, 2_000.0));
    // 5 bps slippage each way, 5 bps commission on each notional.
    let buy = 100.0 * 1.0005;
    let sell = 110.0 * 0.9995;
    let expected = 200.0 * sell * (1.0 - 0.0005) - 200.0 * buy * (1.0 + 0.0005);
    assert!(close(p.pnl, expected), "{} vs {expected}", p.pnl);
    assert!(close(p.entry_price, buy) && close(p.exit_price, sell));
    assert!(close(p.commission, 200.0 * (buy + sell) * 0.0005));
    let end = |r: &BacktestRun| r.equity.last().unwrap().equity;
    assert!(close(end(&paid), 100_000.0 + expected));
    assert!(close(end(&free) - end(&paid), 2_000.0 - expected));
}

#[test]
fn backtest_time_decay_on_the_7th_trading_day_at_the_close() {
    let bars = flat(&[(42, (100.0, 101.0, 99.0, 100.5))]);
    let r = backtest(
        &[("AAA", bars)],
        vec![(35, "AAA", Label::Buy, 0.8)],
        Costs::ZERO,
    );
    let d = days(50);
    let t = &r.trades[0];
    // Entered day 36 = hold day 1; day 42 = hold day 7.
    assert_eq!(
        (
            t.exit_reason,
            t.exit_date,
            t.exit_price,
            t.trading_days_held
        ),
        (ExitReason::TimeDecay, d[42], 100.5, 7)
    );
}

#[test]
fn backtest_limits_and_the_confidence_gate_are_the_risk_managers() {
    let names = ["A1", "A2", "A3", "A4", "A5", "A6", "A7"];
    let tickers: Vec<(&str, Vec<DailyBar>)> = names.iter().map(|n| (*n, flat(&[]))).collect();
    let mut script: Vec<(usize, &'static str, Label, f64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (35, *n, Label::Buy, 0.95 - i as f64 * 0.01))
        .collect();
    script.push((35, "A7", Label::Buy, 0.70)); // overridden by the earlier A7 entry
    let r = backtest(&tickers, script, Costs::ZERO);
    // Five positions at most; A6 and A7 refused for slots. At 20 % each the fifth fits.
    let entered: Vec<&str> = r.plans.iter().map(|p| p.ticker.as_str()).collect();
    assert_eq!(entered, ["A1", "A2", "A3", "A4", "A5"]);
    assert_eq!(r.rejections.get("too_many_positions"), Some(&2));
    // Flat prices: all five time out on day 42.
    assert_eq!(r.trades.len(), 5);

    let gate = backtest(
        &[("AAA", flat(&[]))],
        vec![(35, "AAA", Label::Buy, 0.70)],
        Costs::ZERO,
    );
    assert!(gate.plans.is_empty());
    assert_eq!(gate.rejections.get("confidence_too_low"), Some(&1));
}

#[test]
fn backtest_a_sell_on_a_held_ticker_closes_it_at_that_close() {
    let bars = flat(&[(38, (100.0, 103.0, 99.0, 102.0))]);
    let r = backtest(
        &[("AAA", bars)],
        vec![(35, "AAA", Label::Buy, 0.8), (38, "AAA", Label::Sell, 0.6)],
        Costs::ZERO,
    );
    let d = days(50);
    let t = &r.trades[0];
    assert_eq!(
        (t.exit_reason, t.exit_date, t.exit_price),
        (ExitReason::SignalFlip, d[38], 102.0)
    );
}

#[test]
fn backtest_an_entry_without_a_bar_is_missed_and_open_positions_stay_open() {
    let mut bars = flat(&[]);
    bars.remove(36);
    let r = backtest(
        &[("AAA", bars), ("BBB", flat(&[]))],
        vec![(35, "AAA", Label::Buy, 0.8), (46, "BBB", Label::Buy, 0.8)],
        Costs::ZERO,
    );
    assert_eq!(r.missed_entries.len(), 1);
    assert_eq!(r.missed_entries[0].ticker, "AAA");
    assert!(r.trades.is_empty());
    assert_eq!(
        r.open_at_end.len(),
        1,
        "BBB entered day 47, still open on day 49"
    );
    assert_eq!(r.equity.last().unwrap().open_positions, 1);
}

/// A random walk per ticker (fixed seed).
fn walk(seed: u64, n: usize) -> Vec<DailyBar> {
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let d = days(n);
    let mut close = 50.0;
    d.iter()
        .map(|&date| {
            let open = close * (1.0 + 0.01 * next());
            close = open * (1.0 + 0.06 * next());
            let high = open.max(close) * (1.0 + 0.02 * (next() + 0.5));
            let low = open.min(close) * (1.0 - 0.02 * (next() + 0.5));
            DailyBar {
                date,
                open,
                high,
                low,
                close,
                adjusted_close: close,
                volume: 1_000 + (next() * 500.0) as i64 + 500,
            }
        })
        .collect()
}

/// Buys after a down day: reads only the window (point in time).
struct Honest;

impl Predictor for Honest {
    fn version(&self) -> &str {
        "honest"
    }
    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        Ok(windows
            .iter()
            .map(|w| {
                let row = w.latest().unwrap();
                let r1 = row.get("return_1d").unwrap();
                // The cross-sectional block too: the probe covers the other tickers' rows.
                let laggard = row.get("rank_return_5d").unwrap() < 0.2
                    && row.get("breadth_above_sma_50").unwrap() >= 0.0;
                let p = if r1 < -0.01 || laggard {
                    [0.05, 0.15, 0.8]
                } else {
                    [0.0, 1.0, 0.0]
                };
                Prediction::from_probabilities(w.ticker, date, "honest", p)
            })
            .collect())
    }
}

/// Buys when tomorrow's close is 5 % higher: it peeks at the market data it was built from.
struct Peeking(HashMap<(String, NaiveDate), bool>);

impl Peeking {
    fn new(data: &MarketData) -> Self {
        let mut up = HashMap::new();
        for t in &data.tickers {
            for w in t.bars.windows(2) {
                up.insert(
                    (t.ticker.clone(), w[0].date),
                    w[1].close > w[0].close * 1.05,
                );
            }
        }
        Self(up)
    }
}

impl Predictor for Peeking {
    fn version(&self) -> &str {
        "peeking"
    }
    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        Ok(windows
            .iter()
            .map(|w| {
                let up = self.0.get(&(w.ticker.to_string(), date)) == Some(&true);
                let p = if up {
                    [0.05, 0.15, 0.8]
                } else {
                    [0.0, 1.0, 0.0]
                };
                Prediction::from_probabilities(w.ticker, date, "peeking", p)
            })
            .collect())
    }
}

fn walks() -> (RawInputs, BacktestConfig, NaiveDate) {
    let raw = RawInputs {
        prices: (0..6)
            .map(|i| (format!("T{i}"), walk(7 + i, 120)))
            .collect(),
        items: Vec::new(),
        benchmark: walk(99, 120),
        daily_sentiment: None,
    };
    let d = days(120);
    (raw, BacktestConfig::new(d[40], d[119]), d[80])
}

#[test]
fn backtest_probe_passes_a_point_in_time_strategy_and_its_future_did_change() {
    let (raw, config, probe_day) = walks();
    let data = MarketData::build(&raw, config.from, config.to);
    let base = run(&data, &Honest, &config, &mut |_, _| {}).unwrap();
    let altered = altered_run(&raw, probe_day, &config, |_| Honest, &mut |_, _| {}).unwrap();
    let outcome = compare_until(probe_day, &base, &altered);
    assert!(outcome.passed(), "{:?}", outcome.differences);
    assert!(outcome.entries_compared > 3, "{outcome:?}");
    assert!(
        outcome.future_changed,
        "the alteration must matter after the date"
    );
}

#[test]
fn backtest_probe_catches_a_strategy_that_peeks_at_tomorrow() {
    let (raw, config, probe_day) = walks();
    let data = MarketData::build(&raw, config.from, config.to);
    let base = run(&data, &Peeking::new(&data), &config, &mut |_, _| {}).unwrap();
    let altered = altered_run(&raw, probe_day, &config, Peeking::new, &mut |_, _| {}).unwrap();
    let outcome = compare_until(probe_day, &base, &altered);
    assert!(!outcome.passed(), "the peek must be caught: {outcome:?}");
    assert!(
        outcome.differences[0].contains("entry plans"),
        "{outcome:?}"
    );
}

#[test]
fn backtest_same_inputs_same_run() {
    let (raw, config, _) = walks();
    let data = MarketData::build(&raw, config.from, config.to);
    let a = run(&data, &Honest, &config, &mut |_, _| {}).unwrap();
    let b = run(
        &MarketData::build(&raw, config.from, config.to),
        &Honest,
        &config,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(a, b);
    assert!(!a.trades.is_empty());
}

fn window(name: &str, from: &str, to: &str) -> ModelWindow {
    ModelWindow {
        name: name.into(),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    }
}

#[test]
fn backtest_refuses_a_test_window_overlapping_the_models_windows() {
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let windows = [
        window("training", "2016-01-01", "2018-12-31"),
        window("validation", "2019-01-01", "2019-12-31"),
    ];
    assert!(check_out_of_sample(d("2020-01-01"), d("2021-12-31"), &windows).is_ok());
    let err = check_out_of_sample(d("2019-12-31"), d("2021-12-31"), &windows).unwrap_err();
    assert_eq!(err.window, "validation");
    assert_eq!(err.earliest, d("2020-01-01"));
    assert!(err.to_string().contains("--from 2020-01-01"), "{err}");
    let err = check_out_of_sample(d("2015-01-01"), d("2016-01-01"), &windows).unwrap_err();
    assert_eq!(err.window, "training");
    // Entirely before the training window is out of sample too.
    assert!(check_out_of_sample(d("2014-01-01"), d("2015-12-31"), &windows).is_ok());
}

fn point(date: NaiveDate, equity: f64, exposed: bool) -> EquityPoint {
    EquityPoint {
        date,
        equity,
        cash: 0.0,
        open_positions: 0,
        exposed,
    }
}

#[test]
fn backtest_metrics_on_a_hand_computed_curve() {
    let d = days(4);
    // Returns +10 %, −10 %, +10 % from 100.
    let eq = [
        point(d[0], 110.0, true),
        point(d[1], 99.0, false),
        point(d[2], 108.9, true),
    ];
    let m = metrics::metrics(100.0, &eq, &[]);
    assert!(close(m.total_return, 0.089));
    // mean 1/30, sample variance 0.04/3.
    let sharpe = (1.0 / 30.0) / (0.04f64 / 3.0).sqrt() * 252f64.sqrt();
    assert!((m.sharpe.unwrap() - sharpe).abs() < 1e-9 && (sharpe - 4.582576).abs() < 1e-6);
    // Downside deviation √(0.01 / 3).
    let sortino = (1.0 / 30.0) / (0.01f64 / 3.0).sqrt() * 252f64.sqrt();
    assert!((m.sortino.unwrap() - sortino).abs() < 1e-9);
    assert!(close(m.max_drawdown, 0.1));
    assert_eq!(
        (
            m.max_drawdown_peak,
            m.max_drawdown_trough,
            m.max_drawdown_recovery
        ),
        (Some(d[0]), Some(d[1]), None)
    );
    assert!(close(m.annualized_return, 1.089f64.powf(84.0) - 1.0));
    assert!(close(m.calmar.unwrap(), m.annualized_return / 0.1));
    assert!(close(m.exposure, 2.0 / 3.0));
    // Recovery: back to 110 on the 4th day.
    let dd = max_drawdown(
        100.0,
        &[(d[0], 110.0), (d[1], 99.0), (d[2], 104.0), (d[3], 110.0)],
    );
    assert_eq!(dd.recovery, Some(d[3]));
    // A flat curve: no Sharpe, no Calmar (0 denominators are None, never NaN).
    let flat = metrics::metrics(
        100.0,
        &[point(d[0], 100.0, false), point(d[1], 100.0, false)],
        &[],
    );
    assert_eq!((flat.sharpe, flat.sortino, flat.calmar), (None, None, None));
}

fn trade(ret: f64, pnl: f64, reason: ExitReason, held: i64, exit: NaiveDate) -> ClosedTrade {
    ClosedTrade {
        ticker: "X".into(),
        shares: 1,
        entry_date: exit,
        entry_price: 1.0,
        exit_date: exit,
        exit_price: 1.0,
        exit_reason: reason,
        commission: 1.0,
        pnl,
        return_pct: ret,
        trading_days_held: held,
    }
}

#[test]
fn backtest_trade_statistics_by_hand() {
    let d = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let trades = [
        trade(0.10, 100.0, ExitReason::Target, 3, d),
        trade(-0.05, -50.0, ExitReason::StopLoss, 2, d),
        trade(0.02, 20.0, ExitReason::TimeDecay, 7, d),
        trade(-0.01, -10.0, ExitReason::TimeDecay, 7, d),
    ];
    let s = trade_stats(&trades);
    assert_eq!(s.trades, 4);
    assert_eq!(s.win_rate, Some(0.5));
    assert!(close(s.avg_trade_return.unwrap(), 0.015));
    assert!(close(s.median_trade_return.unwrap(), 0.005));
    assert_eq!(s.profit_factor, Some(2.0));
    assert_eq!(s.expectancy, Some(15.0));
    assert_eq!(s.avg_hold_days, Some(4.75));
    assert_eq!(s.commissions, 4.0);
    let by = metrics::by_exit_reason(&trades);
    assert_eq!(by["time_decay"].trades, 2);
    assert_eq!(by["signal_flip"].trades, 0);
    assert_eq!(by["target"].profit_factor, None, "no losing trade");
    let none = trade_stats(&[]);
    assert_eq!((none.win_rate, none.expectancy), (None, None));
}

#[test]
fn backtest_years_and_months_from_the_curve() {
    let p = |s: &str, v: f64| point(s.parse().unwrap(), v, false);
    let eq = [
        p("2020-12-30", 105.0),
        p("2020-12-31", 110.0),
        p("2021-01-04", 99.0),
        p("2021-02-01", 121.0),
    ];
    let years = metrics::by_year(100.0, &eq, &[]);
    assert_eq!(years.len(), 2);
    assert!(close(years[0].return_pct, 0.10) && close(years[1].return_pct, 0.10));
    assert!(close(years[1].max_drawdown, 0.10));
    let curve: Vec<(NaiveDate, f64)> = eq.iter().map(|e| (e.date, e.equity)).collect();
    let months = metrics::monthly_returns(100.0, &curve);
    assert_eq!(months.len(), 3);
    assert_eq!((months[0].0, months[0].1), (2020, 12));
    assert!(close(months[1].2, -0.1) && close(months[2].2, 121.0 / 99.0 - 1.0));
}

#[test]
fn backtest_buy_and_hold_buys_at_the_first_open_with_costs() {
    let d = days(50);
    let bars = flat(&[
        (34, (100.0, 101.0, 99.0, 100.0)),
        (49, (110.0, 111.0, 109.0, 110.0)),
    ]);
    let config = BacktestConfig::new(d[34], d[49]);
    let curve = benchmark::buy_and_hold(&bars, &config).unwrap();
    assert_eq!(curve.len(), 16);
    let shares = 100_000.0 / (100.0 * 1.0005 * 1.0005);
    assert!(close(curve[0].equity, shares * 100.0));
    assert!(close(curve[15].equity, shares * 110.0));
}

/// BUY AAA at 0.9 on every day, BUY BBB at 0.85 on `bbb_on` only; HOLD otherwise.
struct BuyAaaDaily {
    bbb_on: NaiveDate,
}

impl Predictor for BuyAaaDaily {
    fn version(&self) -> &str {
        "buy-aaa-daily"
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        Ok(windows
            .iter()
            .map(|w| {
                let p = match w.ticker {
                    "AAA" => [0.05, 0.05, 0.9],
                    "BBB" if date == self.bbb_on => [0.075, 0.075, 0.85],
                    _ => [0.0, 1.0, 0.0],
                };
                Prediction::from_probabilities(w.ticker, date, "buy-aaa-daily", p)
            })
            .collect())
    }
}

/// AAA bought after day 34's close and BBB after day 35's (200 shares each at 100); AAA gaps to 20 at
/// day 40's open (stopped out at the open: −16 000, equity 84 000, 16 % down: the
/// breaker trips on day 40); BBB reaches its target on day 41 during the lock.
fn breaker_run(mode: crate::core::risk::BreakerMode) -> BacktestRun {
    let d = days(100);
    let aaa: Vec<DailyBar> = (0..100)
        .map(|i| {
            let p = if i < 40 { 100.0 } else { 20.0 };
            bar(d[i], p, p, p, p)
        })
        .collect();
    let bbb: Vec<DailyBar> = (0..100)
        .map(|i| match i {
            41 => bar(d[i], 100.0, 111.0, 99.0, 108.0),
            _ => bar(d[i], 100.0, 100.0, 100.0, 100.0),
        })
        .collect();
    let raw = RawInputs {
        prices: vec![("AAA".to_string(), aaa), ("BBB".to_string(), bbb)],
        items: Vec::new(),
        benchmark: Vec::new(),
        daily_sentiment: None,
    };
    let mut config = BacktestConfig::new(d[34], d[99]);
    config.costs = Costs::ZERO;
    config.risk.breaker = mode;
    let data = MarketData::build(&raw, config.from, config.to);
    let predictor = BuyAaaDaily { bbb_on: d[35] };
    run(&data, &predictor, &config, &mut |_, _| {}).unwrap()
}

#[test]
fn backtest_a_strategy_that_trips_the_breaker_trades_again_after_the_cool_off() {
    use crate::core::risk::{BreakerEvent, BreakerMode};
    let d = days(100);
    let r = breaker_run(BreakerMode::default());
    // Tripped at day 40's closes; locked through the 20th trading day after (day 60);
    // released at day 61's closes with the peak reset to the equity there (86 000:
    // BBB's target was booked during the lock).
    assert_eq!(
        r.breaker_events,
        vec![
            BreakerEvent::Tripped {
                date: d[40],
                drawdown: 1.0 - 84_000.0 / 100_000.0,
                equity: 84_000.0,
                peak_equity: 100_000.0,
                locked_until: Some(d[60]),
            },
            BreakerEvent::Released {
                date: d[61],
                tripped_on: d[40],
                drawdown: 1.0 - 86_000.0 / 100_000.0,
                equity: 86_000.0,
                previous_peak: 100_000.0,
            },
        ]
    );
    assert_eq!(nyse::trading_days_between(d[40], d[60]), 20);
    // No entry planned on a locked day; AAA again on the release day, sized on 86 000.
    let planned: Vec<(NaiveDate, &str, u64)> = r
        .plans
        .iter()
        .filter(|p| p.date >= d[40])
        .map(|p| (p.date, p.ticker.as_str(), p.shares))
        .take(1)
        .collect();
    assert_eq!(planned, [(d[61], "AAA", 860)]);
    // Exits kept running while locked: BBB's target on day 41.
    let summary: Vec<(&str, ExitReason, NaiveDate, NaiveDate)> = r
        .trades
        .iter()
        .map(|t| (t.ticker.as_str(), t.exit_reason, t.entry_date, t.exit_date))
        .take(3)
        .collect();
    assert_eq!(
        summary,
        [
            ("AAA", ExitReason::StopLoss, d[35], d[40]),
            ("BBB", ExitReason::Target, d[36], d[41]),
            ("AAA", ExitReason::TimeDecay, d[62], d[68]),
        ]
    );
    // Refusals: day 40 at 16 % down, then days 41..=60 locked although only 14 % down.
    assert_eq!(r.rejections.get("drawdown_breaker"), Some(&1));
    assert_eq!(r.rejections.get("breaker_locked"), Some(&20));
}

#[test]
fn backtest_a_permanent_breaker_never_trades_again() {
    use crate::core::risk::BreakerMode;
    let d = days(100);
    let r = breaker_run(BreakerMode::Permanent);
    assert_eq!(r.breaker_events.len(), 1, "{:?}", r.breaker_events);
    assert!(r.plans.iter().all(|p| p.date < d[40]), "{:?}", r.plans);
    // The exit during the halt still happened.
    assert!(r
        .trades
        .iter()
        .any(|t| t.ticker == "BBB" && t.exit_reason == ExitReason::Target));
    // Every later day (41..=98, signals stop before the last day) is refused.
    assert_eq!(r.rejections.get("breaker_locked"), Some(&58));
}
