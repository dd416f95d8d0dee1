//! The day loop. For each NYSE trading day `t` of the test window, in order:
//!
//! 1. **open**: the entries planned after the previous trading day's close fill at `t`'s
//!    open ([`PortfolioState::open`]: slippage and commission, stop and target re-based on
//!    the fill; cut to the cash at hand if a gap up made the plan unaffordable); a ticker
//!    without a bar on `t` misses its entry;
//! 2. **the bar**: every open position, in ticker order, meets `t`'s bar through
//!    [`exits::exit_on_bar`] (gaps through a barrier at the open, stop before target when
//!    both are touched, the sentiment flip read after an earlier day's cutoff, time decay
//!    on the 7th trading day), with the previous bar's sentiment reading;
//! 3. **the close**: positions are marked at `t`'s closes; unless `t` is the last day,
//!    the feature windows ending at `t` (the last [`SEQUENCE_DAYS`] point-in-time rows of
//!    every ticker with a bar on `t`) go to [`Predictor::predict_day`] and the predictions
//!    to [`signals::plan_day`], the function live signal generation calls: its flips are
//!    booked at `t`'s close, its entries wait for the next open; the drawdown breaker's
//!    trip or release at `t`'s closes is carried into the portfolio (a lock plans no
//!    entries, a release resets the peak) and listed in [`BacktestRun::breaker_events`];
//! 4. the equity after the close is one point of the curve.
//!
//! Positions still open after the last day stay open (listed, marked at the last close,
//! in the equity) and are not counted as trades: backtesting.py's default.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::data::{MarketData, TickerData};
use crate::core::exits::{self, ExitConfig, ExitReason, SentimentReading};
use crate::core::portfolio::{ClosedTrade, Costs, PortfolioState, Position};
use crate::core::prediction::{FeatureWindow, Predictor, PredictorError, SEQUENCE_DAYS};
use crate::core::risk::{BreakerEvent, Rejection, RiskConfig, TradePlan};
use crate::core::signals::{self, MarketRow, MarketRows};
use crate::core::{features::Label, nyse};

/// A backtest's numbers; `Default` is the live system's (risk, exits) with 5 + 5 bps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BacktestConfig {
    /// First trading day (the first possible signal date; its open fills nothing).
    pub from: NaiveDate,
    /// Last trading day (no signals are made after its close).
    pub to: NaiveDate,
    pub starting_cash: f64,
    pub costs: Costs,
    pub risk: RiskConfig,
    pub exits: ExitConfig,
}

impl BacktestConfig {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            from,
            to,
            starting_cash: 100_000.0,
            costs: Costs::default(),
            risk: RiskConfig::default(),
            exits: ExitConfig::default(),
        }
    }

    /// The NYSE trading days of the window.
    pub fn trading_days(&self) -> Vec<NaiveDate> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .filter(|d| nyse::is_trading_day(*d))
            .collect()
    }
}

/// The portfolio after one trading day's close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EquityPoint {
    pub date: NaiveDate,
    pub equity: f64,
    pub cash: f64,
    /// Positions open after the close.
    pub open_positions: usize,
    /// At least one position was held at some time during the day.
    pub exposed: bool,
}

/// A planned entry that could not be filled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissedEntry {
    pub ticker: String,
    pub signal_date: NaiveDate,
    pub reason: String,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestRun {
    pub strategy: String,
    pub config: BacktestConfig,
    /// Closed trades in the order they closed (same day: ticker order).
    pub trades: Vec<ClosedTrade>,
    pub open_at_end: Vec<Position>,
    pub equity: Vec<EquityPoint>,
    /// Every entry plan_day accepted, in signal-date then rank order.
    pub plans: Vec<TradePlan>,
    pub missed_entries: Vec<MissedEntry>,
    /// Refused BUY candidates by rule code (a candidate counts once per failed rule).
    pub rejections: BTreeMap<String, usize>,
    pub predictions: usize,
    pub buy_predictions: usize,
    /// Candidates that passed the entry gate (accepted, or refused by a portfolio or
    /// sizing rule only): the strategy's rate of tradeable ideas, whatever the gate.
    pub gate_passed: usize,
    /// The drawdown breaker's trips and releases, by date (`risk::breaker`).
    pub breaker_events: Vec<BreakerEvent>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("the test window {from}..{to} has no NYSE trading day")]
    EmptyWindow { from: NaiveDate, to: NaiveDate },
    #[error("predicting {date}: {source}")]
    Predictor {
        date: NaiveDate,
        #[source]
        source: PredictorError,
    },
}

/// Runs `predictor` over `data` (module docs). `on_day` is called after each trading day
/// with its index and the number of days (a progress bar).
pub fn run(
    data: &MarketData,
    predictor: &dyn Predictor,
    config: &BacktestConfig,
    on_day: &mut dyn FnMut(usize, usize),
) -> Result<BacktestRun, BacktestError> {
    let days = config.trading_days();
    if days.is_empty() {
        return Err(BacktestError::EmptyWindow {
            from: config.from,
            to: config.to,
        });
    }
    let mut out = BacktestRun {
        strategy: predictor.version().to_string(),
        config: *config,
        trades: Vec::new(),
        open_at_end: Vec::new(),
        equity: Vec::with_capacity(days.len()),
        plans: Vec::new(),
        missed_entries: Vec::new(),
        rejections: BTreeMap::new(),
        predictions: 0,
        buy_predictions: 0,
        gate_passed: 0,
        breaker_events: Vec::new(),
    };
    let mut state = PortfolioState::new(config.starting_cash);
    let mut pending: Vec<TradePlan> = Vec::new();
    let mut market = MarketDay::new(data);
    let last = days.len() - 1;
    for (k, &day) in days.iter().enumerate() {
        market.advance_to(day);
        fill_entries(&market, &mut state, &mut pending, day, config, &mut out);
        let exposed = !state.positions.is_empty();
        exit_positions(&market, &mut state, day, config, &mut out);
        state.mark_with(|ticker| market.close(ticker));
        if k < last {
            let windows = market.windows();
            let predictions = predictor
                .predict_day(day, &windows)
                .map_err(|source| BacktestError::Predictor { date: day, source })?;
            out.predictions += predictions.len();
            out.buy_predictions += predictions
                .iter()
                .filter(|p| p.signal == Label::Buy)
                .count();
            let plan = signals::plan_day(day, &predictions, &market, &state, &config.risk);
            plan.apply_breaker(&mut state);
            out.breaker_events.extend(plan.breaker_event);
            for flip in &plan.flips {
                if let Ok(trade) = state.close(
                    &flip.ticker,
                    flip.exit.price,
                    day,
                    flip.exit.reason,
                    &config.costs,
                ) {
                    out.trades.push(trade);
                }
            }
            out.gate_passed += plan.entries.len();
            for (_, why) in &plan.rejected {
                out.gate_passed += usize::from(!why.iter().any(Rejection::is_gate));
                for r in why {
                    *out.rejections.entry(r.code().to_string()).or_default() += 1;
                }
            }
            out.plans.extend(plan.entries.iter().cloned());
            pending = plan.entries;
        }
        out.equity.push(EquityPoint {
            date: day,
            equity: state.equity_at_marks(),
            cash: state.cash,
            open_positions: state.positions.len(),
            exposed,
        });
        on_day(k + 1, days.len());
    }
    out.open_at_end = state.positions;
    Ok(out)
}

/// One trading day of the market data: for every ticker (data order), the index of its
/// bar and feature row dated that day, if it has one. The day loop moves it forward with
/// one cursor per ticker (dates only increase), so no day searches or copies a ticker's
/// history, and it answers [`signals::plan_day`]'s market reads without a map.
pub struct MarketDay<'a> {
    data: &'a MarketData,
    /// Per ticker: the first row not dated before the current day.
    cursors: Vec<usize>,
    /// Per ticker: the row dated the current day.
    rows: Vec<Option<usize>>,
    volatility: usize,
}

impl<'a> MarketDay<'a> {
    /// Before the first day: no ticker has a row yet.
    pub fn new(data: &'a MarketData) -> Self {
        Self {
            data,
            cursors: vec![0; data.tickers.len()],
            rows: vec![None; data.tickers.len()],
            volatility: crate::core::features::FEATURE_SCHEMA
                .index_of("volatility_20d")
                .expect("schema has volatility_20d"),
        }
    }

    /// `day` of `data` on its own (searched, not walked to).
    pub fn on(data: &'a MarketData, day: NaiveDate) -> Self {
        let mut market = Self::new(data);
        market.advance_to(day);
        market
    }

    /// Moves to `day`, which must not be before the previous day.
    pub fn advance_to(&mut self, day: NaiveDate) {
        for ((t, cursor), row) in self
            .data
            .tickers
            .iter()
            .zip(&mut self.cursors)
            .zip(&mut self.rows)
        {
            let ahead = t.bars[*cursor..].partition_point(|b| b.date < day);
            *cursor += ahead;
            *row = t
                .bars
                .get(*cursor)
                .filter(|b| b.date == day)
                .map(|_| *cursor);
        }
    }

    /// The ticker's data and the index of its row on the day.
    pub fn row_of(&self, ticker: &str) -> Option<(&'a TickerData, usize)> {
        let k = self.data.position(ticker)?;
        Some((&self.data.tickers[k], self.rows[k]?))
    }

    /// The ticker's close on the day.
    pub fn close(&self, ticker: &str) -> Option<f64> {
        self.row_of(ticker).map(|(t, i)| t.bars[i].close)
    }

    /// The windows of every ticker with a bar on the day and [`SEQUENCE_DAYS`] rows up
    /// to it, in ticker order: views into the market data.
    pub fn windows(&self) -> Vec<FeatureWindow<'a>> {
        self.data
            .tickers
            .iter()
            .zip(&self.rows)
            .filter_map(|(t, row)| {
                let i = (*row)?;
                let start = (i + 1).checked_sub(SEQUENCE_DAYS)?;
                Some(FeatureWindow {
                    ticker: &t.ticker,
                    rows: &t.features[start..=i],
                })
            })
            .collect()
    }
}

impl MarketRows for MarketDay<'_> {
    fn market_row(&self, ticker: &str) -> Option<MarketRow> {
        self.row_of(ticker).map(|(t, i)| MarketRow {
            close: t.bars[i].close,
            volatility_20d: t.features[i].values[self.volatility],
        })
    }
}

fn fill_entries(
    market: &MarketDay<'_>,
    state: &mut PortfolioState,
    pending: &mut Vec<TradePlan>,
    day: NaiveDate,
    config: &BacktestConfig,
    out: &mut BacktestRun,
) {
    for plan in pending.drain(..) {
        let bar = market.row_of(&plan.ticker).map(|(t, i)| t.bars[i]);
        let missed = |reason: String| MissedEntry {
            ticker: plan.ticker.clone(),
            signal_date: plan.date,
            reason,
        };
        match bar {
            None => out.missed_entries.push(missed(format!("no bar on {day}"))),
            Some(bar) => {
                if let Err(e) = state.open(&plan, bar.open, day, &config.costs) {
                    out.missed_entries.push(missed(e.to_string()));
                }
            }
        }
    }
}

fn exit_positions(
    market: &MarketDay<'_>,
    state: &mut PortfolioState,
    day: NaiveDate,
    config: &BacktestConfig,
    out: &mut BacktestRun,
) {
    let mut held: Vec<Position> = state.positions.clone();
    held.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    for position in held {
        let Some((t, i)) = market.row_of(&position.ticker) else {
            continue;
        };
        // The latest reading known before today's open: the previous bar's.
        let reading = i
            .checked_sub(1)
            .map(|j| SentimentReading::from_features(&t.features[j]));
        let Some(exit) = exits::exit_on_bar(&position, &t.bars[i], reading.as_ref(), &config.exits)
        else {
            continue;
        };
        if let Ok(trade) = state.close(
            &position.ticker,
            exit.price,
            day,
            exit.reason,
            &config.costs,
        ) {
            out.trades.push(trade);
        }
    }
}

/// The windows of every ticker with a bar on `day` and [`SEQUENCE_DAYS`] rows up to it.
pub fn windows_on(data: &MarketData, day: NaiveDate) -> Vec<FeatureWindow<'_>> {
    MarketDay::on(data, day).windows()
}

/// How many closed trades ended for each reason (every reason listed, 0 included).
pub fn exits_by_reason(trades: &[ClosedTrade]) -> BTreeMap<&'static str, usize> {
    let mut out: BTreeMap<&'static str, usize> =
        ExitReason::ALL.iter().map(|r| (r.as_str(), 0)).collect();
    for t in trades {
        *out.entry(t.exit_reason.as_str()).or_default() += 1;
    }
    out
}
