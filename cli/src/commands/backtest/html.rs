//! `report.html`: one self-contained file (inline CSS and SVG, no script, no network):
//! equity against the benchmark, drawdown, the metrics of every strategy, exits and years,
//! monthly returns, the trade list, and the data's known biases.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::Datelike;
use shared::core::backtest::metrics::Metrics;
use shared::core::backtest::{BacktestRun, EquityPoint};

use super::report::Report;
use super::summary::{loss, num, pct};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}.pos{color:#137333}.neg{color:#b3261e}.trades{max-height:420px;overflow:auto;display:block}
svg text{font-size:11px;fill:#555}.note{background:#f6f6f6;padding:8px 12px;border-radius:6px}";

fn signed_class(x: f64) -> &'static str {
    if x > 0.0 {
        "pos"
    } else if x < 0.0 {
        "neg"
    } else {
        ""
    }
}

/// Polylines of `series` (one colour each) over the dates, with min/max labels and years.
fn line_chart(
    dates: &[chrono::NaiveDate],
    series: &[(&str, &str, Vec<f64>)],
    percent: bool,
) -> String {
    let (w, h, left, bottom) = (1000.0, 260.0, 70.0, 20.0);
    let all = series.iter().flat_map(|s| s.2.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let n = dates.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - 10.0) * i as f64 / n;
    let y = |v: f64| 10.0 + (h - bottom - 10.0) * (hi - v) / (hi - lo);
    let label = |v: f64| {
        if percent {
            format!("{:.0}%", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    };
    let mut s = format!("<svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">");
    for v in [lo, (lo + hi) / 2.0, hi] {
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"4\" y=\"{:.1}\">{}</text>",
            w - 10.0,
            y(v) + 4.0,
            label(v),
            y = y(v)
        );
    }
    let mut year = None;
    for (i, d) in dates.iter().enumerate() {
        if year != Some(d.year()) {
            year = Some(d.year());
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"10\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{}\">{}</text>",
                h - bottom,
                x(i) + 3.0,
                h - 4.0,
                d.year(),
                x = x(i)
            );
        }
    }
    for (i, (name, colour, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| format!("{:.1},{:.1}", x(k), y(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" style=\"fill:{colour}\">{}</text>",
            points.join(" "),
            left + 10.0 + 260.0 * i as f64,
            24,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A metrics-table row: its label and how to show it.
type MetricRow = (&'static str, fn(&Metrics) -> String);

const METRIC_ROWS: [MetricRow; 17] = [
    ("Total return", |m| pct(Some(m.total_return))),
    ("Annualised return", |m| pct(Some(m.annualized_return))),
    ("Annualised volatility", |m| {
        pct(Some(m.annualized_volatility))
    }),
    ("Sharpe", |m| num(m.sharpe)),
    ("Sortino", |m| num(m.sortino)),
    ("Calmar", |m| num(m.calmar)),
    ("Max drawdown", |m| loss(m.max_drawdown)),
    ("Max drawdown peak → trough", |m| {
        format!(
            "{} → {}",
            m.max_drawdown_peak
                .map_or("start".into(), |d| d.to_string()),
            m.max_drawdown_trough.map_or("-".into(), |d| d.to_string())
        )
    }),
    ("Recovered on", |m| {
        m.max_drawdown_recovery
            .map_or("not yet".into(), |d| d.to_string())
    }),
    ("Exposure", |m| format!("{:.0}%", m.exposure * 100.0)),
    ("Trades", |m| m.trades.to_string()),
    ("Win rate", |m| pct(m.win_rate)),
    ("Average trade", |m| pct(m.avg_trade_return)),
    ("Median trade", |m| pct(m.median_trade_return)),
    ("Average hold (trading days)", |m| num(m.avg_hold_days)),
    ("Profit factor", |m| num(m.profit_factor)),
    ("Expectancy (per trade)", |m| num(m.expectancy)),
];

fn metrics_table(report: &Report) -> String {
    let mut cols: Vec<(String, &Metrics)> = vec![(report.strategy.clone(), &report.metrics)];
    cols.extend(
        report
            .baselines
            .iter()
            .map(|b| (b.strategy.clone(), &b.metrics)),
    );
    cols.push((
        format!("{} buy & hold", report.benchmark.ticker),
        &report.benchmark.metrics,
    ));
    let mut s = String::from("<table><tr><th>metric</th>");
    for (name, _) in &cols {
        let _ = write!(s, "<th>{}</th>", esc(name));
    }
    s.push_str("</tr>");
    for (label, f) in METRIC_ROWS {
        let _ = write!(s, "<tr><td>{label}</td>");
        for (i, (_, m)) in cols.iter().enumerate() {
            let trade_row = label.contains("rade")
                || label.contains("Win")
                || label.contains("Profit")
                || label.contains("Expect")
                || label.contains("hold");
            let v = if i + 1 == cols.len() && trade_row {
                "-".into()
            } else {
                f(m)
            };
            let _ = write!(s, "<td>{}</td>", esc(&v));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

fn monthly_table(report: &Report) -> String {
    let mut s = String::from("<table><tr><th>year</th>");
    for m in [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "year",
    ] {
        let _ = write!(s, "<th>{m}</th>");
    }
    s.push_str("</tr>");
    for y in &report.by_year {
        let _ = write!(s, "<tr><td>{}</td>", y.year);
        for month in 1..=12 {
            match report
                .monthly_returns
                .iter()
                .find(|r| r.0 == y.year && r.1 == month)
            {
                Some(r) => {
                    let _ = write!(
                        s,
                        "<td class=\"{}\">{:+.1}%</td>",
                        signed_class(r.2),
                        r.2 * 100.0
                    );
                }
                None => s.push_str("<td></td>"),
            }
        }
        let _ = write!(
            s,
            "<td class=\"{}\"><b>{:+.1}%</b></td></tr>",
            signed_class(y.return_pct),
            y.return_pct * 100.0
        );
    }
    s.push_str("</table>");
    s
}

/// A money amount to the unit; an amount that rounds to zero prints "0", never "-0" (an
/// empty sum of f64 is -0.0).
fn whole(v: f64) -> String {
    let rounded = v.round();
    if rounded == 0.0 {
        "0".to_string()
    } else {
        format!("{rounded:.0}")
    }
}

fn breakdowns(report: &Report) -> String {
    let mut s = String::from("<table><tr><th>exit reason</th><th>trades</th><th>win rate</th><th>avg trade</th><th>P&amp;L</th></tr>");
    for (reason, t) in &report.by_exit_reason {
        let _ = write!(
            s,
            "<tr><td>{reason}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            t.trades,
            pct(t.win_rate),
            pct(t.avg_trade_return),
            signed_class(t.pnl),
            whole(t.pnl)
        );
    }
    s.push_str("</table><table><tr><th>year</th><th>return</th><th>max drawdown</th><th>trades</th><th>win rate</th><th>avg trade</th><th>P&amp;L</th></tr>");
    for y in &report.by_year {
        let _ = write!(s, "<tr><td>{}</td><td class=\"{}\">{:+.1}%</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            y.year, signed_class(y.return_pct), y.return_pct * 100.0, y.max_drawdown * 100.0,
            y.trades.trades, pct(y.trades.win_rate), pct(y.trades.avg_trade_return), whole(y.trades.pnl));
    }
    s.push_str("</table>");
    s
}

fn trade_list(run: &BacktestRun) -> String {
    let mut s = String::from("<table class=\"trades\"><tr><th>ticker</th><th>entry</th><th>price</th><th>exit</th><th>price</th><th>reason</th><th>days</th><th>shares</th><th>return</th><th>P&amp;L</th></tr>");
    for t in &run.trades {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{:+.2}%</td><td>{:.0}</td></tr>",
            esc(&t.ticker), t.entry_date, t.entry_price, t.exit_date, t.exit_price, t.exit_reason,
            t.trading_days_held, t.shares, signed_class(t.return_pct), t.return_pct * 100.0, t.pnl);
    }
    s.push_str("</table>");
    s
}

pub fn render(report: &Report, run: &BacktestRun, benchmark: &[EquityPoint]) -> String {
    let dates: Vec<_> = run.equity.iter().map(|p| p.date).collect();
    let equity: Vec<f64> = run.equity.iter().map(|p| p.equity).collect();
    let bench: Vec<f64> = benchmark.iter().map(|p| p.equity).collect();
    let drawdown: Vec<f64> = report.equity_curve.iter().map(|p| -p.drawdown).collect();
    let m = &report.metrics;
    let mut s = String::new();
    let _ = write!(s, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Backtest {} {}..{}</title><style>{CSS}</style></head><body>",
        esc(&report.strategy), report.from, report.to);
    let _ = write!(s, "<h1>Backtest: {}</h1><div class=\"sub\">{} .. {} · {} tickers · start {:.0} · costs {} + {} bps per side · version {}</div>",
        esc(&report.strategy), report.from, report.to, report.data.tickers, report.config.starting_cash,
        report.config.costs.commission_bps, report.config.costs.slippage_bps, esc(&report.version));
    let _ = write!(s, "<div class=\"cards\"><div class=\"card\">return<b class=\"{}\">{}</b>{} {}</div><div class=\"card\">Sharpe<b>{}</b>{} {}</div><div class=\"card\">max drawdown<b>{}</b>{} {}</div><div class=\"card\">trades<b>{}</b>win rate {}</div><div class=\"card\">avg trade<b>{}</b>profit factor {}</div></div>",
        signed_class(m.total_return), pct(Some(m.total_return)), esc(&report.benchmark.ticker), pct(Some(report.benchmark.total_return)),
        num(m.sharpe), esc(&report.benchmark.ticker), num(report.benchmark.sharpe),
        loss(m.max_drawdown), esc(&report.benchmark.ticker), loss(report.benchmark.max_drawdown),
        m.trades, pct(m.win_rate), pct(m.avg_trade_return), num(m.profit_factor));
    s.push_str("<h2>Equity</h2>");
    let bench_name = format!("{} buy & hold", report.benchmark.ticker);
    s.push_str(&line_chart(
        &dates,
        &[
            (report.strategy.as_str(), "#1a56db", equity),
            (bench_name.as_str(), "#999", bench),
        ],
        false,
    ));
    s.push_str("<h2>Drawdown</h2>");
    s.push_str(&line_chart(
        &dates,
        &[("drawdown from the peak", "#b3261e", drawdown)],
        true,
    ));
    s.push_str("<h2>Metrics and baselines</h2>");
    s.push_str(&metrics_table(report));
    if let Some(c) = &report.chance {
        s.push_str(&super::chance::html(c));
    }
    s.push_str("<h2>Exits and years</h2>");
    s.push_str(&breakdowns(report));
    s.push_str("<h2>Monthly returns</h2>");
    s.push_str(&monthly_table(report));
    let _ = write!(
        s,
        "<h2>Trades ({} closed, {} open at the end)</h2>",
        run.trades.len(),
        run.open_at_end.len()
    );
    s.push_str(&trade_list(run));
    let rejected: Vec<String> = report
        .rejections
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = write!(s, "<p class=\"sub\">{} predictions, {} BUY; {} entries planned, {} missed (no bar or no cash at the open); refused by the risk manager: {}.</p>",
        report.predictions, report.buy_predictions, report.entries_planned, report.missed_entries,
        if rejected.is_empty() { "none".into() } else { rejected.join(", ") });
    s.push_str(&breaker_line(report));
    s.push_str("<h2>Model and method</h2><div class=\"note\">");
    if let Some(model) = &report.model {
        let _ = write!(s, "<p>Model {}.", esc(&model.version));
        for w in &model.windows {
            let _ = write!(s, " {} window {} .. {}.", esc(&w.name), w.from, w.to);
        }
        s.push_str("</p>");
    }
    let _ = write!(s, "<p>{}</p>", esc(report.walk_forward_note));
    if let Some(folds) = &report.folds {
        s.push_str(&super::walkforward::folds_table(folds, &esc));
    }
    if let Some(p) = &report.probe {
        let _ = write!(
            s,
            "<p>Look-ahead probe at {}: <b>{}</b> ({} plans, {} entries compared).</p>",
            p.date,
            if p.passed() { "passed" } else { "FAILED" },
            p.plans_compared,
            p.entries_compared
        );
    }
    s.push_str("</div><h2>Data and its biases</h2><ul>");
    for b in &report.biases {
        let _ = write!(s, "<li>{}</li>", esc(b));
    }
    let _ = write!(s, "<li>Coverage here: {} of {} ticker-days in the test window have Reddit mentions ({} scored items with a ticker).</li></ul>",
        report.data.ticker_days_with_mentions, report.data.ticker_days_in_test, report.data.reddit_items_with_tickers);
    s.push_str("</body></html>\n");
    s
}

pub fn write(
    path: &Path,
    report: &Report,
    run: &BacktestRun,
    benchmark: &[EquityPoint],
) -> anyhow::Result<()> {
    std::fs::write(path, render(report, run, benchmark))
        .with_context(|| format!("writing {}", path.display()))
}

/// The drawdown breaker's trips and releases, one sentence.
fn breaker_line(report: &Report) -> String {
    use shared::core::risk::BreakerEvent;
    let events: Vec<String> = report
        .breaker_events
        .iter()
        .map(|e| match e {
            BreakerEvent::Tripped {
                date,
                drawdown,
                equity,
                locked_until,
                ..
            } => format!(
                "tripped on {date} at {:.2} % down (equity {equity:.2}), {}",
                drawdown * 100.0,
                match locked_until {
                    Some(u) => format!("no entries through {u}"),
                    None => "no entries again (permanent)".into(),
                }
            ),
            BreakerEvent::Released { date, equity, .. } => {
                format!("released on {date} (peak reset to {equity:.2})")
            }
        })
        .collect();
    format!(
        "<p class=\"sub\">Drawdown breaker ({}): {}.</p>",
        esc(&report.config.risk.breaker.to_string()),
        if events.is_empty() {
            "never tripped".into()
        } else {
            esc(&events.join("; "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::whole;

    #[test]
    fn money_that_rounds_to_zero_is_zero_not_minus_zero() {
        let empty: f64 = std::iter::empty::<f64>().sum();
        assert_eq!(whole(empty), "0");
        assert_eq!(whole(-0.4), "0");
        assert_eq!(whole(-2103.2), "-2103");
        assert_eq!(whole(1064.6), "1065");
    }
}
