//! "Better than chance?": the report's `random_entry`, `bootstrap`, `deflated_sharpe`,
//! `universe_split` and `survivorship`. The statistics are pure
//! (`shared::core::backtest::{random_entry, stats, universe}`); this module runs them on
//! the strategies' runs and renders them. `docs/backtest.md` says why each one and how.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use shared::core::backtest::metrics::{self, daily_returns, Metrics};
use shared::core::backtest::random_entry::{candidates_per_day, RandomEntry};
use shared::core::backtest::stats::{
    bootstrap_mean, bootstrap_sharpe, deflated_sharpe, percentile_rank, DeflatedSharpe, Interval,
    Spread, BOOTSTRAP_BLOCK_DAYS, BOOTSTRAP_RESAMPLES,
};
use shared::core::backtest::universe::{Split, Survivorship};
use shared::core::backtest::{self, BacktestConfig, BacktestRun, MarketData};
use shared::core::rules_strategy::RuleStrategy;

use super::load::Models;
use super::summary::{loss, num, pct};
use super::walkforward::WalkForward;
use super::{progress, NamedRun};

/// The first random-entry seed; seeds are `FIRST_SEED..FIRST_SEED + N`.
pub const FIRST_SEED: u64 = 1;
/// The seed of every bootstrap (the same resampling indices for every strategy).
pub const BOOTSTRAP_SEED: u64 = 20_200_113;

pub const RANDOM_ENTRY_METHOD: &str =
    "Each seed is a run of the same engine (risk manager, plan_day, fills, costs, exits) \
     fed by a predictor that, every signal day, makes each ticker with a complete 30-day window \
     a BUY candidate with probability rate / eligible tickers (so `candidates_per_day` \
     candidates a day on average: the strategy's own BUY predictions above the confidence gate \
     per signal day), with a uniform random confidence above the gate (a random rank). Seeds \
     1..N. A percentile is the share of seeds below the strategy's value plus half the ties.";

pub const BOOTSTRAP_METHOD: &str =
    "Average net trade: percentile bootstrap of the closed trades' net returns (10 000 \
     resamples with replacement, 2.5th and 97.5th percentiles). Sharpe: stationary bootstrap \
     (Politis & Romano 1994) of the daily returns, geometric blocks of mean 5 trading days \
     (wrapping), 10 000 resamples, 2.5th and 97.5th percentiles of the annualised Sharpe. \
     Fixed seed.";

pub const DEFLATED_METHOD: &str =
    "Bailey & López de Prado (2014): the probability that the true Sharpe exceeds the Sharpe \
     the best of N zero-skill configurations would reach, sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g \
     Z^-1(1 - 1/(N e))), from the daily returns' skewness and kurtosis. V, the variance of the \
     Sharpe across the configurations tried, is unknown here: --trials-sharpe-variance if \
     given, else the variance of the random-entry seeds' Sharpe at the strategy's rate (the \
     spread chance gives under these rules), else 252 / T (the variance of a zero Sharpe's \
     estimate). N = 1: no deflation (the probabilistic Sharpe against 0).";

/// What this module needs from the command line.
#[derive(Debug, Clone)]
pub struct ChanceOptions {
    pub random_seeds: usize,
    pub configs_tried: usize,
    pub trials_sharpe_variance: Option<f64>,
    pub quiet: bool,
}

/// One strategy against its random-entry distribution.
#[derive(Debug, Clone, Serialize)]
pub struct RandomVsStrategy {
    pub strategy: String,
    pub candidates_per_day: f64,
    pub seeds: usize,
    pub sharpe: Spread,
    pub avg_trade_return: Spread,
    pub total_return: Spread,
    pub trades: Spread,
    pub max_drawdown: Spread,
    pub strategy_sharpe: Option<f64>,
    pub strategy_avg_trade_return: Option<f64>,
    /// 0..100: where the strategy falls in the seeds' distribution.
    pub sharpe_percentile: Option<f64>,
    pub avg_trade_percentile: Option<f64>,
    #[serde(skip)]
    sharpe_variance: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RandomEntryReport {
    pub seeds: usize,
    pub first_seed: u64,
    pub method: &'static str,
    pub by_strategy: Vec<RandomVsStrategy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BootstrapRow {
    pub strategy: String,
    pub trades: usize,
    pub avg_trade_return: Option<f64>,
    pub avg_trade_ci: Option<Interval>,
    pub sharpe: Option<f64>,
    pub sharpe_ci: Option<Interval>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BootstrapReport {
    pub resamples: usize,
    pub level: f64,
    pub block_days: f64,
    pub seed: u64,
    pub method: &'static str,
    pub by_strategy: Vec<BootstrapRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeflatedRow {
    pub strategy: String,
    /// "input", "random_entry" or "null_estimate" (module docs of the report).
    pub variance_source: &'static str,
    pub result: Option<DeflatedSharpe>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeflatedReport {
    pub configs_tried: usize,
    pub method: &'static str,
    pub by_strategy: Vec<DeflatedRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitRow {
    pub strategy: String,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct UniverseSplitReport {
    pub manifest: String,
    pub column: &'static str,
    /// Tickers kept (members), excluded (not members), not in the manifest (excluded).
    pub kept: usize,
    pub excluded: Vec<String>,
    pub not_in_manifest: Vec<String>,
    pub by_strategy: Vec<SplitRow>,
    pub bootstrap: Vec<BootstrapRow>,
    /// The main strategy against random entry on the restricted universe.
    pub random_entry: Option<RandomVsStrategy>,
}

/// The report's chance sections (flattened into `report.json` at the top level).
#[derive(Debug, Clone, Serialize)]
pub struct Chance {
    pub random_entry: Option<RandomEntryReport>,
    pub bootstrap: BootstrapReport,
    pub deflated_sharpe: DeflatedReport,
    pub universe_split: Option<UniverseSplitReport>,
    pub survivorship: Survivorship,
}

/// `ticker → in_sp500_2020_08` from a manifest CSV (`ticker,in_sp500_2020_08,...`;
/// True/False, true/false or 1/0).
pub fn read_manifest(path: &Path) -> anyhow::Result<BTreeMap<String, bool>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = r.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{} has no column {name}", path.display()))
    };
    let (ticker, member) = (col("ticker")?, col("in_sp500_2020_08")?);
    let mut out = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        let flag = match rec.get(member).unwrap_or("").trim() {
            "True" | "true" | "TRUE" | "1" => true,
            "False" | "false" | "FALSE" | "0" => false,
            other => anyhow::bail!(
                "{} row {}: in_sp500_2020_08 is {other:?}, not True/False",
                path.display(),
                i + 2
            ),
        };
        out.insert(rec.get(ticker).unwrap_or("").trim().to_uppercase(), flag);
    }
    Ok(out)
}

fn metrics_of(run: &BacktestRun) -> Metrics {
    metrics::metrics(run.config.starting_cash, &run.equity, &run.trades)
}

fn returns_of(run: &BacktestRun) -> Vec<f64> {
    let values: Vec<f64> = run.equity.iter().map(|p| p.equity).collect();
    daily_returns(run.config.starting_cash, &values)
}

/// The metrics of `seeds` random-entry runs at `rate` candidates a day, in seed order
/// (spread over the machine's cores; each run is independent and seeded).
fn random_runs(
    data: &MarketData,
    config: &BacktestConfig,
    rate: f64,
    seeds: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Metrics>> {
    // Random candidates are not calibrated probabilities: they pass the seed's gate at
    // their random confidences, then meet the same risk manager and exits.
    let seeded = &super::with_seed_gate(config);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(seeds.max(1));
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    (0..seeds)
                        .filter(|i| i % threads == k)
                        .map(|i| {
                            let seed = FIRST_SEED + i as u64;
                            let p = RandomEntry::new(seed, rate, config.risk.min_confidence);
                            let run = backtest::run(data, &p, seeded, &mut |_, _| {})?;
                            bar.inc(1);
                            Ok((i, metrics_of(&run)))
                        })
                        .collect::<Result<Vec<_>, backtest::BacktestError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a random-entry thread panicked"))
            .collect::<Result<Vec<_>, _>>()
    })
    .context("random-entry baseline")?;
    let mut all: Vec<(usize, Metrics)> = results.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, m)| m).collect())
}

fn versus(name: &str, run: &BacktestRun, rate: f64, seeds: &[Metrics]) -> RandomVsStrategy {
    let m = metrics_of(run);
    let sharpes: Vec<f64> = seeds.iter().filter_map(|s| s.sharpe).collect();
    let avgs: Vec<f64> = seeds.iter().filter_map(|s| s.avg_trade_return).collect();
    RandomVsStrategy {
        strategy: name.to_string(),
        candidates_per_day: rate,
        seeds: seeds.len(),
        sharpe: Spread::of(&sharpes),
        avg_trade_return: Spread::of(&avgs),
        total_return: Spread::of(&seeds.iter().map(|s| s.total_return).collect::<Vec<_>>()),
        trades: Spread::of(&seeds.iter().map(|s| s.trades as f64).collect::<Vec<_>>()),
        max_drawdown: Spread::of(&seeds.iter().map(|s| s.max_drawdown).collect::<Vec<_>>()),
        strategy_sharpe: m.sharpe,
        strategy_avg_trade_return: m.avg_trade_return,
        sharpe_percentile: m.sharpe.and_then(|x| percentile_rank(&sharpes, x)),
        avg_trade_percentile: m.avg_trade_return.and_then(|x| percentile_rank(&avgs, x)),
        sharpe_variance: metrics::sample_std(&sharpes).map(|s| s * s),
    }
}

/// Every run against random entry at its own rate (runs at the same rate share seeds).
fn random_entry(
    data: &MarketData,
    config: &BacktestConfig,
    runs: &[&NamedRun],
    opts: &ChanceOptions,
    label: &str,
) -> anyhow::Result<Vec<RandomVsStrategy>> {
    let rates: Vec<f64> = runs.iter().map(|r| candidates_per_day(&r.run)).collect();
    let mut distinct: Vec<u64> = rates.iter().map(|r| r.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let bar = progress(opts.quiet, label, distinct.len() * opts.random_seeds);
    let mut by_rate: BTreeMap<u64, Vec<Metrics>> = BTreeMap::new();
    for bits in distinct {
        let seeds = random_runs(data, config, f64::from_bits(bits), opts.random_seeds, &bar)?;
        by_rate.insert(bits, seeds);
    }
    bar.finish();
    Ok(runs
        .iter()
        .zip(&rates)
        .map(|(r, rate)| versus(&r.name, &r.run, *rate, &by_rate[&rate.to_bits()]))
        .collect())
}

fn bootstrap_rows(runs: &[&NamedRun]) -> Vec<BootstrapRow> {
    runs.iter()
        .map(|r| {
            let trades: Vec<f64> = r.run.trades.iter().map(|t| t.return_pct).collect();
            let returns = returns_of(&r.run);
            let m = metrics_of(&r.run);
            BootstrapRow {
                strategy: r.name.clone(),
                trades: trades.len(),
                avg_trade_return: m.avg_trade_return,
                avg_trade_ci: bootstrap_mean(&trades, BOOTSTRAP_RESAMPLES, 0.95, BOOTSTRAP_SEED),
                sharpe: m.sharpe,
                sharpe_ci: bootstrap_sharpe(
                    &returns,
                    BOOTSTRAP_RESAMPLES,
                    BOOTSTRAP_BLOCK_DAYS,
                    0.95,
                    BOOTSTRAP_SEED,
                ),
            }
        })
        .collect()
}

/// Everything "better than chance" for `runs` (the main strategy first).
#[allow(clippy::too_many_arguments)]
pub fn assess(
    data: &MarketData,
    config: &BacktestConfig,
    runs: &[NamedRun],
    models: Option<&Models>,
    walk: Option<&WalkForward>,
    rules: &RuleStrategy,
    manifest: Option<(&Path, &BTreeMap<String, bool>)>,
    opts: &ChanceOptions,
) -> anyhow::Result<Chance> {
    let all: Vec<&NamedRun> = runs.iter().collect();
    let random = if opts.random_seeds > 0 {
        Some(random_entry(data, config, &all, opts, "random entry")?)
    } else {
        None
    };
    let deflated = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let returns = returns_of(&r.run);
            let from_random = random
                .as_ref()
                .and_then(|v| v[i].sharpe_variance)
                .filter(|v| *v > 0.0);
            let (variance, source) = match (opts.trials_sharpe_variance, from_random) {
                (Some(v), _) => (v, "input"),
                (None, Some(v)) => (v, "random_entry"),
                (None, None) => (
                    metrics::TRADING_DAYS_PER_YEAR / returns.len().max(1) as f64,
                    "null_estimate",
                ),
            };
            DeflatedRow {
                strategy: r.name.clone(),
                variance_source: source,
                result: deflated_sharpe(&returns, opts.configs_tried.max(1), variance),
            }
        })
        .collect();
    let split = manifest.map(|(_, members)| Split::of(data, members));
    let last_day = config.trading_days().last().copied().unwrap_or(config.to);
    let survivorship = Survivorship::of(data, config.from, last_day, split.as_ref());
    let universe_split = match (manifest, &split) {
        (Some((path, _)), Some(split)) => {
            let restricted = split.restricted(data);
            anyhow::ensure!(
                !restricted.tickers.is_empty(),
                "no ticker of the universe is in_sp500_2020_08 in {}",
                path.display()
            );
            let split_runs = super::run_strategies(
                &restricted,
                config,
                models,
                walk,
                rules,
                opts.quiet,
                " (S&P 500 only)",
            )?;
            let refs: Vec<&NamedRun> = split_runs.iter().collect();
            let random_main = if opts.random_seeds > 0 {
                random_entry(
                    &restricted,
                    config,
                    &refs[..1],
                    opts,
                    "random entry (S&P 500 only)",
                )?
                .pop()
            } else {
                None
            };
            Some(UniverseSplitReport {
                manifest: path.display().to_string(),
                column: "in_sp500_2020_08",
                kept: split.kept.len(),
                excluded: split.excluded.clone(),
                not_in_manifest: split.not_in_manifest.clone(),
                by_strategy: split_runs
                    .iter()
                    .map(|r| SplitRow {
                        strategy: r.name.clone(),
                        metrics: metrics_of(&r.run),
                    })
                    .collect(),
                bootstrap: bootstrap_rows(&refs),
                random_entry: random_main,
            })
        }
        _ => None,
    };
    Ok(Chance {
        random_entry: random.map(|by_strategy| RandomEntryReport {
            seeds: opts.random_seeds,
            first_seed: FIRST_SEED,
            method: RANDOM_ENTRY_METHOD,
            by_strategy,
        }),
        bootstrap: BootstrapReport {
            resamples: BOOTSTRAP_RESAMPLES,
            level: 0.95,
            block_days: BOOTSTRAP_BLOCK_DAYS,
            seed: BOOTSTRAP_SEED,
            method: BOOTSTRAP_METHOD,
            by_strategy: bootstrap_rows(&all),
        },
        deflated_sharpe: DeflatedReport {
            configs_tried: opts.configs_tried.max(1),
            method: DEFLATED_METHOD,
            by_strategy: deflated,
        },
        universe_split,
        survivorship,
    })
}

fn ci(i: Option<Interval>, show: fn(Option<f64>) -> String) -> String {
    i.map_or("-".into(), |i| {
        format!("[{}, {}]", show(Some(i.low)), show(Some(i.high)))
    })
}

fn pctl(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.0}"))
}

fn row_lines(c: &Chance) -> Vec<[String; 7]> {
    c.bootstrap
        .by_strategy
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let r = c.random_entry.as_ref().map(|r| &r.by_strategy[i]);
            let d = c.deflated_sharpe.by_strategy[i].result;
            [
                b.strategy.clone(),
                r.map_or("-".into(), |r| pctl(r.sharpe_percentile)),
                r.map_or("-".into(), |r| pctl(r.avg_trade_percentile)),
                ci(b.avg_trade_ci, pct),
                ci(b.sharpe_ci, num),
                num(d.map(|d| d.deflated_sharpe)),
                r.map_or("-".into(), |r| {
                    format!(
                        "{} / {} / {}",
                        num(r.sharpe.p5),
                        num(r.sharpe.p50),
                        num(r.sharpe.p95)
                    )
                }),
            ]
        })
        .collect()
}

/// The terminal lines (after the summary table).
pub fn print_summary(c: &Chance) {
    println!();
    println!(
        "Better than chance? ({} random-entry seeds; bootstrap 95 % intervals; deflated Sharpe for {} configuration(s) tried)",
        c.random_entry.as_ref().map_or(0, |r| r.seeds),
        c.deflated_sharpe.configs_tried
    );
    println!(
        "{:<30} {:>8} {:>9} {:>17} {:>15} {:>6} {:>20}",
        "strategy",
        "Sharpe %",
        "avg tr. %",
        "avg trade 95% CI",
        "Sharpe 95% CI",
        "DSR",
        "random Sharpe 5/50/95"
    );
    for l in row_lines(c) {
        println!(
            "{:<30} {:>8} {:>9} {:>17} {:>15} {:>6} {:>20}",
            l[0], l[1], l[2], l[3], l[4], l[5], l[6]
        );
    }
    if let Some(u) = &c.universe_split {
        let main = &u.by_strategy[0];
        println!(
            "without the {} tickers outside the S&P 500 of 2020-08 ({} not in the manifest): {} Sharpe {}, avg trade {}, {} trades{}",
            u.excluded.len(),
            u.not_in_manifest.len(),
            main.strategy,
            num(main.metrics.sharpe),
            pct(main.metrics.avg_trade_return),
            main.metrics.trades,
            u.random_entry.as_ref().map_or(String::new(), |r| format!(
                " (random Sharpe percentile {})",
                pctl(r.sharpe_percentile)
            ))
        );
    }
    let s = &c.survivorship;
    println!(
        "survivorship: {} tickers, all with price files in March 2024; {} listed during the test, {} ended during it",
        s.tickers,
        s.listed_during_test.len(),
        s.ended_during_test.len()
    );
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The report.html section.
pub fn html(c: &Chance) -> String {
    let mut s = String::from("<h2>Better than chance?</h2>");
    let _ = write!(
        s,
        "<table><tr><th>strategy</th><th>Sharpe percentile in random entry</th><th>avg trade percentile</th><th>avg trade 95 % CI</th><th>Sharpe 95 % CI</th><th>deflated Sharpe (N = {})</th><th>random Sharpe 5 / 50 / 95</th></tr>",
        c.deflated_sharpe.configs_tried
    );
    for l in row_lines(c) {
        s.push_str("<tr>");
        for v in l {
            let _ = write!(s, "<td>{}</td>", esc(&v));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    if let Some(r) = &c.random_entry {
        s.push_str("<table><tr><th>random entry at the rate of</th><th>candidates / day</th><th>seeds</th><th>Sharpe mean</th><th>5th</th><th>50th</th><th>95th</th><th>avg trade 5th</th><th>50th</th><th>95th</th><th>total return 5th</th><th>50th</th><th>95th</th><th>trades 5th</th><th>50th</th><th>95th</th></tr>");
        for v in &r.by_strategy {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&v.strategy), v.candidates_per_day, v.seeds, num(v.sharpe.mean), num(v.sharpe.p5), num(v.sharpe.p50), num(v.sharpe.p95),
                pct(v.avg_trade_return.p5), pct(v.avg_trade_return.p50), pct(v.avg_trade_return.p95),
                pct(v.total_return.p5), pct(v.total_return.p50), pct(v.total_return.p95),
                num(v.trades.p5), num(v.trades.p50), num(v.trades.p95)
            );
        }
        s.push_str("</table>");
        let _ = write!(s, "<p class=\"sub\">{}</p>", esc(r.method));
    }
    let _ = write!(
        s,
        "<p class=\"sub\">{}</p><p class=\"sub\">{}</p>",
        esc(c.bootstrap.method),
        esc(c.deflated_sharpe.method)
    );
    if let Some(u) = &c.universe_split {
        let _ = write!(
            s,
            "<h2>Without the tickers outside the S&amp;P 500 of 2020-08</h2><p>A second run of every strategy on the {} tickers that were S&amp;P 500 members in 2020-08 ({}); excluded: {} ({}).</p>",
            u.kept,
            esc(&u.manifest),
            u.excluded.len() + u.not_in_manifest.len(),
            esc(&[u.excluded.clone(), u.not_in_manifest.clone()].concat().join(" "))
        );
        s.push_str("<table><tr><th>strategy</th><th>return</th><th>Sharpe</th><th>max DD</th><th>trades</th><th>win</th><th>avg trade</th><th>avg trade 95 % CI</th></tr>");
        for (r, b) in u.by_strategy.iter().zip(&u.bootstrap) {
            let m = &r.metrics;
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.strategy), pct(Some(m.total_return)), num(m.sharpe), loss(m.max_drawdown),
                m.trades, pct(m.win_rate), pct(m.avg_trade_return), esc(&ci(b.avg_trade_ci, pct))
            );
        }
        s.push_str("</table>");
        if let Some(r) = &u.random_entry {
            let _ = write!(s, "<p>Random entry on this universe at {:.3} candidates a day: Sharpe 5 / 50 / 95th percentiles {} / {} / {}; {} is at the {} percentile (Sharpe) and {} (average trade).</p>",
                r.candidates_per_day, num(r.sharpe.p5), num(r.sharpe.p50), num(r.sharpe.p95), esc(&r.strategy), pctl(r.sharpe_percentile), pctl(r.avg_trade_percentile));
        }
    }
    let sv = &c.survivorship;
    let _ = write!(
        s,
        "<h2>Survivorship</h2><p>{}</p><p>{} tickers; listed during the test: {} ({}); ended during the test: {}.{}</p>",
        esc(sv.note),
        sv.tickers,
        sv.listed_during_test.len(),
        esc(&sv.listed_during_test.join(" ")),
        sv.ended_during_test.len(),
        match (sv.in_sp500_2020_08, sv.outside_sp500_2020_08, sv.not_in_manifest) {
            (Some(a), Some(b), Some(n)) => format!(
                " In the S&amp;P 500 of 2020-08: {a}; outside it: {b}; not in the manifest: {n}."
            ),
            _ => String::new(),
        }
    );
    s
}
