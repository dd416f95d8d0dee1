//! `report.json` (the contract: `strategy, from, to, trades, win_rate, avg_trade_return,
//! sharpe, max_drawdown, total_return, benchmark {total_return, sharpe, max_drawdown}` at
//! the top level; everything else beside them) and `trades.csv`. The same inputs give a
//! byte-identical report.json (no timestamps, no timings, maps in key order).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use shared::core::backtest::metrics::{self, Metrics, TradeStats, YearStats};
use shared::core::backtest::probe::ProbeOutcome;
use shared::core::backtest::{BacktestConfig, BacktestRun, EquityPoint, ModelWindow};
use shared::core::features::FEATURE_SCHEMA;
use shared::core::portfolio::Position;
use shared::core::risk::BreakerEvent;

use super::load::{Inputs, Models};
use super::{BacktestArgs, NamedRun};

#[derive(Serialize)]
pub struct BenchmarkSummary {
    pub ticker: String,
    pub total_return: f64,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    pub metrics: Metrics,
}

#[derive(Serialize)]
pub struct Baseline {
    pub strategy: String,
    pub version: String,
    pub metrics: Metrics,
}

#[derive(Serialize)]
pub struct ModelInfo {
    pub version: String,
    pub windows: Vec<ModelWindow>,
    pub walk_forward: bool,
}

#[derive(Serialize)]
pub struct DataInfo {
    pub tickers: usize,
    pub ticker_list: Vec<String>,
    pub reddit_items_with_tickers: usize,
    pub ticker_days_in_test: usize,
    pub ticker_days_with_mentions: usize,
    pub feature_schema_hash: String,
    pub prices: String,
    pub posts: Vec<String>,
    /// The daily sentiment file read instead of posts (`--sentiment`).
    pub sentiment_file: Option<String>,
    pub benchmark: String,
}

#[derive(Serialize)]
pub struct CurvePoint {
    pub date: NaiveDate,
    pub equity: f64,
    pub benchmark: f64,
    pub drawdown: f64,
}

#[derive(Serialize)]
pub struct Report {
    pub strategy: String,
    pub version: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub trades: usize,
    pub win_rate: Option<f64>,
    pub avg_trade_return: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    pub total_return: f64,
    pub benchmark: BenchmarkSummary,
    pub metrics: Metrics,
    pub by_exit_reason: BTreeMap<&'static str, TradeStats>,
    pub by_year: Vec<YearStats>,
    pub monthly_returns: Vec<(i32, u32, f64)>,
    pub baselines: Vec<Baseline>,
    pub config: BacktestConfig,
    pub model: Option<ModelInfo>,
    pub walk_forward_note: &'static str,
    pub data: DataInfo,
    pub biases: Vec<&'static str>,
    pub predictions: usize,
    pub buy_predictions: usize,
    pub entries_planned: usize,
    pub missed_entries: usize,
    pub rejections: BTreeMap<String, usize>,
    /// The drawdown breaker's trips and releases (date, drawdown, equity; docs/risk.md).
    pub breaker_events: Vec<BreakerEvent>,
    pub open_at_end: Vec<Position>,
    pub probe: Option<ProbeOutcome>,
    /// `random_entry`, `bootstrap`, `deflated_sharpe`, `universe_split`, `survivorship`.
    #[serde(flatten)]
    pub chance: Option<super::chance::Chance>,
    pub equity_curve: Vec<CurvePoint>,
    /// Walk-forward only: every fold's dates, bundle, metrics and trades.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folds: Option<Vec<super::walkforward::FoldReport>>,
    /// Walk-forward only: how the folds were scheduled and trained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<super::walkforward::WalkForwardInfo>,
}

pub const BIASES: [&str; 4] = [
    "Survivorship: the universe is the stocks still listed in March 2024 (the price files were \
     pulled then); companies delisted, acquired or bankrupt before that are missing, which flatters \
     any long strategy.",
    "Adj Close is not used: it was computed in 2024 and embeds dividends paid after each bar \
     (look-ahead). Fills, indicators and features use split-adjusted Open/High/Low/Close, so \
     dividends are not credited (the SPY benchmark's return is its price return, too).",
    "Sentiment exists only where the bundled Reddit dumps have posts (mostly r/wallstreetbets, \
     Nov 2020 to Dec 2021, a few thousand items a month): most ticker-days have no mentions, \
     which the features treat as neutral, not missing.",
    "Fills are daily-bar approximations: entries at the next open, a stop and a target touched \
     the same day count as the stop, gaps fill at the open; no partial fills, no borrow, no \
     market impact beyond the slippage in basis points.",
];

pub const WALK_FORWARD_NOTE: &str =
    "No walk-forward retraining: the committed model is fixed, and \
     the run refuses a test window that overlaps its training or validation window (from the \
     manifest). The rule strategy has no fitted parameters.";

fn mentions_in_test(
    run_from: NaiveDate,
    inputs_data: &shared::core::backtest::MarketData,
) -> (usize, usize) {
    let at = FEATURE_SCHEMA
        .index_of("has_mentions")
        .expect("schema has has_mentions");
    let mut days = 0;
    let mut with = 0;
    for t in &inputs_data.tickers {
        for r in t.features.iter().filter(|r| r.date >= run_from) {
            days += 1;
            with += usize::from(r.values[at] > 0.5);
        }
    }
    (days, with)
}

fn metrics_of(run: &BacktestRun) -> Metrics {
    metrics::metrics(run.config.starting_cash, &run.equity, &run.trades)
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        args: &BacktestArgs,
        config: &BacktestConfig,
        inputs: &Inputs,
        data: &shared::core::backtest::MarketData,
        runs: &[NamedRun],
        benchmark: &[EquityPoint],
        models: Option<&Models>,
        probe: Option<&ProbeOutcome>,
    ) -> Self {
        let main = &runs[0].run;
        let m = metrics_of(main);
        let start = config.starting_cash;
        let bench_metrics = metrics::metrics(start, benchmark, &[]);
        let curve: Vec<(NaiveDate, f64)> = main.equity.iter().map(|p| (p.date, p.equity)).collect();
        let mut peak = start;
        let equity_curve = main
            .equity
            .iter()
            .zip(benchmark)
            .map(|(p, b)| {
                peak = peak.max(p.equity);
                CurvePoint {
                    date: p.date,
                    equity: p.equity,
                    benchmark: b.equity,
                    drawdown: 1.0 - p.equity / peak,
                }
            })
            .collect();
        let (ticker_days, with_mentions) = mentions_in_test(config.from, data);
        Report {
            strategy: runs[0].name.clone(),
            version: main.strategy.clone(),
            from: config.from,
            to: config.to,
            trades: m.trades,
            win_rate: m.win_rate,
            avg_trade_return: m.avg_trade_return,
            sharpe: m.sharpe,
            max_drawdown: m.max_drawdown,
            total_return: m.total_return,
            benchmark: BenchmarkSummary {
                ticker: inputs.benchmark_ticker.clone(),
                total_return: bench_metrics.total_return,
                sharpe: bench_metrics.sharpe,
                max_drawdown: bench_metrics.max_drawdown,
                metrics: bench_metrics,
            },
            by_exit_reason: metrics::by_exit_reason(&main.trades),
            by_year: metrics::by_year(start, &main.equity, &main.trades),
            monthly_returns: metrics::monthly_returns(start, &curve),
            metrics: m,
            baselines: runs[1..]
                .iter()
                .map(|r| Baseline {
                    strategy: r.name.clone(),
                    version: r.run.strategy.clone(),
                    metrics: metrics_of(&r.run),
                })
                .collect(),
            config: *config,
            model: models.map(|m| ModelInfo {
                version: m.ensemble.version().to_string(),
                windows: m.windows.clone(),
                walk_forward: false,
            }),
            walk_forward_note: WALK_FORWARD_NOTE,
            data: DataInfo {
                tickers: data.tickers.len(),
                ticker_list: data.tickers.iter().map(|t| t.ticker.clone()).collect(),
                reddit_items_with_tickers: inputs.raw.items.len(),
                ticker_days_in_test: ticker_days,
                ticker_days_with_mentions: with_mentions,
                feature_schema_hash: FEATURE_SCHEMA.hash(),
                prices: args.prices.display().to_string(),
                posts: args.posts.iter().map(|p| p.display().to_string()).collect(),
                sentiment_file: args.sentiment.as_ref().map(|p| p.display().to_string()),
                benchmark: args.benchmark.display().to_string(),
            },
            biases: BIASES.to_vec(),
            predictions: main.predictions,
            buy_predictions: main.buy_predictions,
            entries_planned: main.plans.len(),
            missed_entries: main.missed_entries.len(),
            rejections: main.rejections.clone(),
            breaker_events: main.breaker_events.clone(),
            open_at_end: main.open_at_end.clone(),
            probe: probe.cloned(),
            chance: None,
            equity_curve,
            folds: None,
            walk_forward: None,
        }
    }
}

/// `report.json` and `trades.csv` (the main strategy's closed trades, in closing order).
pub fn write_all(out: &Path, report: &Report, main: &BacktestRun) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join("report.json");
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    std::fs::write(&json, text).with_context(|| format!("writing {}", json.display()))?;
    let path = out.join("trades.csv");
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "ticker",
        "entry_date",
        "entry_price",
        "exit_date",
        "exit_price",
        "exit_reason",
        "return",
        "shares",
        "pnl",
        "commission",
        "trading_days_held",
    ])?;
    for t in &main.trades {
        w.write_record([
            t.ticker.clone(),
            t.entry_date.to_string(),
            format!("{:.4}", t.entry_price),
            t.exit_date.to_string(),
            format!("{:.4}", t.exit_price),
            t.exit_reason.as_str().to_string(),
            format!("{:.6}", t.return_pct),
            t.shares.to_string(),
            format!("{:.2}", t.pnl),
            format!("{:.2}", t.commission),
            t.trading_days_held.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
