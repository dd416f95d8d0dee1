//! The terminal summary: one row per strategy (the main one, the baselines, the
//! benchmark), then the report's path.

use std::path::Path;
use std::time::Duration;

use shared::core::backtest::metrics::Metrics;

use super::report::Report;

pub fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:+.1}%", v * 100.0))
}

/// A drawdown shown as a negative percentage (0 as +0.0 %, not −0.0 %).
pub fn loss(x: f64) -> String {
    pct(Some(0.0 - x))
}

pub fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}

fn row(name: &str, m: &Metrics, with_trades: bool) -> String {
    let trades = |s: String| if with_trades { s } else { "-".into() };
    format!(
        "{:<30} {:>9} {:>9} {:>7} {:>7} {:>8} {:>7} {:>8} {:>9} {:>7}",
        name,
        pct(Some(m.total_return)),
        pct(Some(m.annualized_return)),
        num(m.sharpe),
        num(m.sortino),
        loss(m.max_drawdown),
        trades(m.trades.to_string()),
        trades(pct(m.win_rate)),
        trades(pct(m.avg_trade_return)),
        trades(num(m.profit_factor)),
    )
}

pub fn print(report: &Report, elapsed: Duration, out: &Path) {
    println!();
    println!(
        "Backtest {} .. {}  ({} tickers, costs {} + {} bps, start {:.0})",
        report.from,
        report.to,
        report.data.tickers,
        report.config.costs.commission_bps,
        report.config.costs.slippage_bps,
        report.config.starting_cash
    );
    println!(
        "{:<30} {:>9} {:>9} {:>7} {:>7} {:>8} {:>7} {:>8} {:>9} {:>7}",
        "strategy",
        "return",
        "ann.",
        "Sharpe",
        "Sortino",
        "max DD",
        "trades",
        "win",
        "avg trade",
        "PF"
    );
    println!("{}", "-".repeat(112));
    println!("{}", row(&report.strategy, &report.metrics, true));
    for b in &report.baselines {
        println!("{}", row(&b.strategy, &b.metrics, true));
    }
    let bench = format!("{} buy & hold", report.benchmark.ticker);
    println!("{}", row(&bench, &report.benchmark.metrics, false));
    println!();
    let exits: Vec<String> = report
        .by_exit_reason
        .iter()
        .map(|(r, s)| format!("{r} {}", s.trades))
        .collect();
    println!(
        "{}: exits {}; exposure {:.0}%; open at the end {}; {} ticker-days with Reddit mentions of {}",
        report.strategy,
        exits.join(", "),
        report.metrics.exposure * 100.0,
        report.open_at_end.len(),
        report.data.ticker_days_with_mentions,
        report.data.ticker_days_in_test
    );
    if let Some(p) = &report.probe {
        println!(
            "look-ahead probe at {}: {} ({} plans and {} entries compared; the altered future {})",
            p.date,
            if p.passed() { "passed" } else { "FAILED" },
            p.plans_compared,
            p.entries_compared,
            if p.future_changed {
                "did change later trades"
            } else {
                "changed nothing later: the probe proved little"
            }
        );
    }
    if let Some(c) = &report.chance {
        super::chance::print_summary(c);
    }
    println!("finished in {:.1} s", elapsed.as_secs_f64());
    println!("report: {}", out.join("report.html").display());
}
