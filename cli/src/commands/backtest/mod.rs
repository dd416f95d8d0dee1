//! `tft backtest`: the pure backtester (`shared::core::backtest`) on CSV bars and Reddit
//! dumps, with the baselines, the optional look-ahead probe, and the report
//! (`report.json`, `trades.csv`, `report.html`) plus a terminal summary.
//!
//! Contract (kept stable): `tft backtest --prices DIR --posts FILE... --benchmark SPY_CSV
//! --from YYYY-MM-DD --to YYYY-MM-DD --out DIR [--models DIR] [--strategy ensemble|rules]
//! [--probe-lookahead YYYY-MM-DD]`, and `--walk-forward [--retrain-every WEEKS]
//! [--train-years N]` (the `walkforward` module). See `docs/backtest.md`.

mod chance;
mod html;
mod load;
mod replay;
mod report;
mod summary;
mod walkforward;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use shared::core::backtest::probe::{altered_run, compare_until, ProbeOutcome};
use shared::core::backtest::walkforward::FoldPredictor;
use shared::core::backtest::{self, BacktestConfig, BacktestRun, MarketData};
use shared::core::prediction::Predictor;
use shared::core::rules_strategy::{RuleStrategy, SentimentFilter};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// The committed ONNX ensemble (LSTM + XGBoost + LightGBM) from --models.
    Ensemble,
    /// The seed's rule-only entry (RSI oversold + MACD crossover + volume spike +
    /// bullish sentiment), no ML.
    Rules,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesSentiment {
    /// A ticker nobody mentioned passes the sentiment condition.
    WhereCovered,
    /// The sentiment condition needs bullish mentions.
    Required,
}

#[derive(Args, Debug, Clone)]
pub struct BacktestArgs {
    /// Directory of <TICKER>.csv daily bars (Date,Open,High,Low,Close[,Adj Close],Volume):
    /// the tradable universe. Split-adjusted OHLC is used; Adj Close never.
    #[arg(long)]
    pub prices: PathBuf,
    /// Reddit dumps (any format `tft import-reddit` reads); none: no mentions anywhere.
    #[arg(long, num_args = 1..)]
    pub posts: Vec<PathBuf>,
    /// A daily sentiment file (`tft sentiment-file`), read instead of scoring --posts: a
    /// decade of Reddit is scored once, not on every backtest.
    #[arg(long, conflicts_with = "posts")]
    pub sentiment: Option<PathBuf>,
    /// The buy-and-hold benchmark's daily bars (SPY).
    #[arg(long)]
    pub benchmark: PathBuf,
    /// First trading day of the test.
    #[arg(long)]
    pub from: NaiveDate,
    /// Last trading day of the test.
    #[arg(long)]
    pub to: NaiveDate,
    /// Where report.json, trades.csv and report.html go (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Model store root (<DIR>/ensemble/current -> the bundle version).
    #[arg(long, default_value = "models/store")]
    pub models: PathBuf,
    #[arg(long, value_enum, default_value_t = Strategy::Ensemble)]
    pub strategy: Strategy,
    /// Rerun with every bar and post after this date altered; fail if anything decided
    /// on or before it changes.
    #[arg(long)]
    pub probe_lookahead: Option<NaiveDate>,
    /// The rule strategy's sentiment condition.
    #[arg(long, value_enum, default_value_t = RulesSentiment::WhereCovered)]
    pub rules_sentiment: RulesSentiment,
    /// Starting cash.
    #[arg(long, default_value_t = 100_000.0)]
    pub cash: f64,
    /// Commission per side, basis points of the notional.
    #[arg(long, default_value_t = 5.0)]
    pub commission_bps: f64,
    /// Slippage per side, basis points of the price.
    #[arg(long, default_value_t = 5.0)]
    pub slippage_bps: f64,
    /// The drawdown breaker after a drop of more than 15 %: trading days without entries
    /// before the peak resets (20), or `permanent` / `0` for the seed's halt.
    #[arg(long, default_value = "20")]
    pub breaker_cooloff_days: shared::core::risk::BreakerMode,
    /// No progress bars or summary table (report files only).
    #[arg(long)]
    pub quiet: bool,
    /// Entry gate of the model strategies: `seed` (arg-max BUY above 0.70) or
    /// `ev[:MIN_EXPECTED_RETURN[:MIN_P_TARGET]]` (docs/risk.md); default `ev:0.001`. The
    /// rule strategy always uses the seed's gate.
    #[arg(long)]
    pub gate: Option<shared::core::risk::EntryGate>,
    /// When the model closes a held position: `argmax` (SELL arg-max), `stop:P` or `off`
    /// (default).
    #[arg(long)]
    pub sell_flip: Option<shared::core::risk::SellFlip>,
    #[command(flatten)]
    pub walk: walkforward::WalkForwardArgs,
    /// Random-entry seeds per strategy (the same risk manager and exits fed random
    /// candidates at the strategy's rate); 0: none.
    #[arg(long, default_value_t = 100)]
    pub random_seeds: usize,
    /// Configurations tried before this one (features, labels, gates, parameters): the N
    /// of the deflated Sharpe ratio, recorded in the report.
    #[arg(long, default_value_t = 1)]
    pub configs_tried: usize,
    /// Variance of the annualised Sharpe across the configurations tried (the deflated
    /// Sharpe's V); default: that of the random-entry seeds at the strategy's rate.
    #[arg(long)]
    pub trials_sharpe_variance: Option<f64>,
    /// CSV `ticker,in_sp500_2020_08,...`: also run every strategy without the tickers
    /// outside the S&P 500 of 2020-08 (and those not in the file).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
}

/// One strategy's run, named for the report.
pub struct NamedRun {
    pub name: String,
    pub run: BacktestRun,
}

fn progress(quiet: bool, label: &str, days: usize) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(days as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len} days {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

fn run_one(
    data: &MarketData,
    predictor: &dyn Predictor,
    config: &BacktestConfig,
    name: &str,
    quiet: bool,
) -> anyhow::Result<NamedRun> {
    let bar = progress(quiet, name, config.trading_days().len());
    let run = backtest::run(data, predictor, config, &mut |k, _| {
        bar.set_position(k as u64)
    })
    .with_context(|| format!("backtesting {name}"))?;
    bar.finish();
    Ok(NamedRun {
        name: name.to_string(),
        run,
    })
}

fn rules(args: &BacktestArgs) -> RuleStrategy {
    let filter = match args.rules_sentiment {
        RulesSentiment::WhereCovered => SentimentFilter::WhereCovered,
        RulesSentiment::Required => SentimentFilter::Required,
    };
    RuleStrategy::new(5, filter)
}

/// The engine's configuration from the flags.
fn config(args: &BacktestArgs) -> BacktestConfig {
    let mut config = BacktestConfig::new(args.from, args.to);
    config.starting_cash = args.cash;
    config.costs.commission_bps = args.commission_bps;
    config.costs.slippage_bps = args.slippage_bps;
    config.risk.breaker = args.breaker_cooloff_days;
    config.risk.entry_gate = args
        .gate
        .unwrap_or(shared::core::risk::gate::DEFAULT_ENTRY_GATE);
    config.risk.sell_flip = args
        .sell_flip
        .unwrap_or(shared::core::risk::gate::DEFAULT_SELL_FLIP);
    config
}

/// `config` with the seed's gate and flips: the rule strategy's and the random entries',
/// whose calls are not probabilities.
pub(crate) fn with_seed_gate(config: &BacktestConfig) -> BacktestConfig {
    let mut seeded = *config;
    seeded.risk = seeded.risk.with_seed_gate();
    seeded
}

/// "Better than chance?": random entries, bootstraps, the deflated Sharpe and, with a
/// manifest, the universe split.
fn assess_chance(
    args: &BacktestArgs,
    data: &MarketData,
    config: &BacktestConfig,
    runs: &[NamedRun],
    models: Option<&load::Models>,
    walk: Option<&walkforward::WalkForward>,
    rule_strategy: &RuleStrategy,
) -> anyhow::Result<chance::Chance> {
    let members = match &args.manifest {
        Some(path) => Some(chance::read_manifest(path)?),
        None => None,
    };
    chance::assess(
        data,
        config,
        runs,
        models,
        walk,
        rule_strategy,
        args.manifest.as_deref().zip(members.as_ref()),
        &chance::ChanceOptions {
            random_seeds: args.random_seeds,
            configs_tried: args.configs_tried,
            trials_sharpe_variance: args.trials_sharpe_variance,
            quiet: args.quiet,
        },
    )
}

/// The report's walk-forward parts: the folds with their bundles and trades, the settings,
/// the note, and the model named as the walk-forward's.
fn describe_walk_forward(
    report: &mut report::Report,
    walk: &walkforward::WalkForward,
    main: &NamedRun,
    args: &walkforward::WalkForwardArgs,
) {
    report.folds = Some(walk.fold_reports(&main.run));
    report.walk_forward = Some(walk.info(args));
    report.walk_forward_note = walkforward::NOTE;
    report.model = Some(report::ModelInfo {
        version: walk.version(),
        windows: Vec::new(),
        walk_forward: true,
    });
}

/// The flags `--walk-forward` cannot run with, refused before anything is loaded.
fn check_walk_forward(args: &BacktestArgs) -> anyhow::Result<()> {
    if !args.walk.walk_forward {
        return Ok(());
    }
    anyhow::ensure!(
        args.strategy == Strategy::Ensemble,
        "--walk-forward retrains the ensemble; the rule strategy has no fitted parameters \
         (drop --walk-forward or --strategy rules)"
    );
    anyhow::ensure!(
        args.probe_lookahead.is_none(),
        "--probe-lookahead does not run with --walk-forward: altering the future would \
         change the rows of every fold trained after the probe date, so those folds would \
         have to be retrained on the altered data, which is not implemented; probe the \
         point-in-time features and the engine on a fixed model (without --walk-forward)"
    );
    Ok(())
}

/// The `timings:` lines: each step's share of the run, from the elapsed times at the end
/// of loading, features, the day loops, the chance statistics and the whole run.
fn print_timings(steps: [std::time::Duration; 5], strategies: usize) {
    let [loaded, featured, simulated, chanced, total] = steps;
    println!(
        "timings: models and inputs {:.2} s, features {:.2} s, day loops {:.2} s ({strategies} strategies), report and probe {:.2} s",
        loaded.as_secs_f64(),
        (featured - loaded).as_secs_f64(),
        (simulated - featured).as_secs_f64(),
        (total - chanced).as_secs_f64()
    );
    println!(
        "timings: chance (random entry, bootstrap, universe split) {:.2} s",
        (chanced - simulated).as_secs_f64()
    );
}

pub async fn run(args: BacktestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    anyhow::ensure!(
        args.from <= args.to,
        "--from {} is after --to {}",
        args.from,
        args.to
    );
    let config = config(&args);
    let rules_config = with_seed_gate(&config);
    check_walk_forward(&args)?;
    let models = match args.strategy {
        Strategy::Ensemble if !args.walk.walk_forward => {
            Some(load::models(&args.models, args.from, args.to).await?)
        }
        _ => None,
    };
    let inputs = load::inputs(&args)?;
    let walk = match args.walk.walk_forward {
        true => Some(walkforward::prepare(&args, &inputs).await?),
        false => None,
    };
    let loaded = started.elapsed();
    let data = MarketData::build(&inputs.raw, args.from, args.to);
    let featured = started.elapsed();
    anyhow::ensure!(
        !data.tickers.is_empty(),
        "no ticker in {} has bars up to {}",
        args.prices.display(),
        args.to
    );
    let benchmark = backtest::benchmark::buy_and_hold(&inputs.raw.benchmark, &config)
        .with_context(|| format!("{} has no bar in the test window", args.benchmark.display()))?;

    let rule_strategy = rules(&args);
    let runs = run_strategies(
        &data,
        &config,
        models.as_ref(),
        walk.as_ref(),
        &rule_strategy,
        args.quiet,
        "",
    )?;
    let (main, main_config): (&dyn Predictor, &BacktestConfig) = match &models {
        Some(m) => (&m.ensemble, &config),
        None => (&rule_strategy, &rules_config),
    };

    let simulated = started.elapsed();
    let chance = assess_chance(
        &args,
        &data,
        &config,
        &runs,
        models.as_ref(),
        walk.as_ref(),
        &rule_strategy,
    )?;
    let chanced = started.elapsed();
    let probe = match args.probe_lookahead {
        Some(date) => Some(probe(
            &inputs.raw,
            date,
            main,
            main_config,
            &runs[0].run,
            args.quiet,
        )?),
        None => None,
    };
    let mut report = report::Report::build(
        &args,
        &config,
        &inputs,
        &data,
        &runs,
        &benchmark,
        models.as_ref(),
        probe.as_ref(),
    );
    if let Some(w) = &walk {
        describe_walk_forward(&mut report, w, &runs[0], &args.walk);
    }
    report.chance = Some(chance);
    report::write_all(&args.out, &report, &runs[0].run)?;
    html::write(
        &args.out.join("report.html"),
        &report,
        &runs[0].run,
        &benchmark,
    )?;
    if !args.quiet {
        summary::print(&report, started.elapsed(), &args.out);
        if let Some(w) = &walk {
            println!("{}", w.summary_line());
        }
        let steps = [loaded, featured, simulated, chanced, started.elapsed()];
        print_timings(steps, runs.len());
    }
    if let Some(p) = &probe {
        anyhow::ensure!(
            p.passed(),
            "look-ahead probe FAILED at {}: with every bar and post after it altered, decisions \
             on or before it changed:\n  {}",
            p.date,
            p.differences.join("\n  ")
        );
    }
    Ok(())
}

/// Every strategy of a report on `data`, the main one first: the walk-forward ensemble or
/// the fixed one (each recorded, so each model alone replays its votes), the rule strategy
/// (always with the seed's gate: its calls are not probabilities), then each model alone;
/// the rule strategy only without models. `suffix` names the progress bars (the universe
/// split's second pass), not the runs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_strategies(
    data: &MarketData,
    config: &BacktestConfig,
    models: Option<&load::Models>,
    walk: Option<&walkforward::WalkForward>,
    rule_strategy: &RuleStrategy,
    quiet: bool,
    suffix: &str,
) -> anyhow::Result<Vec<NamedRun>> {
    let rules_config = with_seed_gate(config);
    let one = |predictor: &dyn Predictor, config: &BacktestConfig, name: String| {
        run_one(data, predictor, config, &format!("{name}{suffix}"), quiet).map(|mut run| {
            run.name = name;
            run
        })
    };
    let mut runs = Vec::new();
    match (models, walk) {
        (_, Some(w)) => {
            let served = FoldPredictor::new(w.version(), w.recordings());
            runs.push(one(&served, config, "ensemble walk-forward".into())?);
            runs.push(one(rule_strategy, &rules_config, "rules".into())?);
            for model in &w.names {
                let alone = replay::Replay::concat(
                    model,
                    format!("walk-forward/{model}"),
                    served.folds().iter().map(|(_, r)| r.replay(model)),
                );
                runs.push(one(&alone, config, format!("{model} alone"))?);
            }
        }
        (Some(m), None) => {
            let recording = replay::Recording::new(&m.ensemble);
            let name = format!("ensemble {}", m.ensemble.version());
            runs.push(one(&recording, config, name)?);
            runs.push(one(rule_strategy, &rules_config, "rules".into())?);
            for model in &m.names {
                let alone = recording.replay(model);
                let name = format!("{} alone", alone.name());
                runs.push(one(&alone, config, name)?);
            }
        }
        (None, None) => runs.push(one(rule_strategy, &rules_config, "rules".into())?),
    }
    Ok(runs)
}

fn probe(
    raw: &backtest::RawInputs,
    date: NaiveDate,
    predictor: &dyn Predictor,
    config: &BacktestConfig,
    baseline: &BacktestRun,
    quiet: bool,
) -> anyhow::Result<ProbeOutcome> {
    anyhow::ensure!(
        config.from <= date && date < config.to,
        "--probe-lookahead {date} must be inside the test window and before its last day"
    );
    let bar = progress(quiet, "look-ahead probe", config.trading_days().len());
    let altered = altered_run(raw, date, config, |_| predictor, &mut |k, _| {
        bar.set_position(k as u64)
    })?;
    bar.finish();
    Ok(compare_until(date, baseline, &altered))
}
