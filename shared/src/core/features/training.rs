//! The training set: features and labels of many tickers over a date range, computed by
//! the same functions serving uses, from bars and scored Reddit items alone. Labels are
//! the exits ([`super::labels`]): each row carries its trade's outcome.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::labels::{exit_labels, LABEL_RULE};
use super::{universe_features, DailySentiment, Label, Market, FEATURE_SCHEMA};
use crate::core::exits::{ExitReason, TradeOutcome, TradeRules};
use crate::core::mention_sentiment::{aggregate, ScoredItem, SentimentWindow};
use crate::core::nyse;
use crate::core::nyse::is_trading_day;
use crate::core::DailyBar;

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRow {
    pub ticker: String,
    pub date: NaiveDate,
    pub values: Vec<f64>,
    pub label: Label,
    /// The trade the label comes from (net return, its stop and target, exit reason).
    pub trade: TradeOutcome,
}

/// How the labels were made (meta.json's `label`): the rule and every number in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelDefinition {
    pub rule: &'static str,
    /// Class index -> the exits it stands for.
    pub classes: BTreeMap<usize, &'static str>,
    /// Stop distance = clamp(multiple × volatility_20d, min, max); max when σ is unknown.
    pub stop_volatility_multiple: f64,
    pub min_stop_pct: f64,
    pub max_stop_pct: f64,
    /// Target distance = clamp(reward_risk × stop distance, min, max).
    pub min_reward_risk: f64,
    pub min_target_pct: f64,
    pub max_target_pct: f64,
    /// Trading days held before time decay, the entry day included.
    pub hold_days: u32,
    pub flip_min_mentions: u32,
    pub flip_max_trend: f64,
    pub flip_max_score: f64,
    /// Per side, in basis points of the notional.
    pub commission_bps: f64,
    pub slippage_bps: f64,
}

impl LabelDefinition {
    pub fn new(rules: &TradeRules) -> Self {
        let (r, e, c) = (&rules.risk, &rules.exits, &rules.costs);
        Self {
            rule: LABEL_RULE,
            classes: BTreeMap::from([
                (Label::Sell.index(), "stop_loss"),
                (Label::Hold.index(), "time_decay or signal_flip"),
                (Label::Buy.index(), "target"),
            ]),
            stop_volatility_multiple: r.stop_volatility_multiple,
            min_stop_pct: r.min_stop_pct,
            max_stop_pct: r.max_stop_pct,
            min_reward_risk: r.min_reward_risk,
            min_target_pct: r.min_target_pct,
            max_target_pct: r.max_target_pct,
            hold_days: e.hold_days,
            flip_min_mentions: e.flip_min_mentions,
            flip_max_trend: e.flip_max_trend,
            flip_max_score: e.flip_max_score,
            commission_bps: c.commission_bps,
            slippage_bps: c.slippage_bps,
        }
    }
}

/// What went into a training set (recorded beside it, and in the model manifest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingSetInfo {
    pub schema_version: u32,
    pub schema_hash: String,
    pub feature_names: Vec<&'static str>,
    pub classes: Vec<&'static str>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub label: LabelDefinition,
    pub tickers: usize,
    pub rows: usize,
    pub rows_per_class: BTreeMap<&'static str, usize>,
    /// Labelled rows by the exit that ended their trade.
    pub rows_per_exit_reason: BTreeMap<&'static str, usize>,
    /// Mean net return of the labelled rows' trades, by class and `"all"`.
    pub mean_net_return: BTreeMap<&'static str, f64>,
    pub rows_with_mentions: usize,
    /// Rows without a label: the bars do not reach their time-decay day yet, or the
    /// next trading day has no bar (the entry would be missed).
    pub unlabelled_rows: usize,
    /// Of those, rows whose next NYSE trading day has no bar (a halt or a data gap).
    pub unlabelled_no_entry_bar: usize,
    /// The universe the cross-sectional features ranked over (the model's universe).
    pub universe: Vec<String>,
    /// Rows whose market regime was known (a benchmark was given and warmed up).
    pub rows_with_regime: usize,
}

/// Daily aggregates of every ticker for the trading days `from..=to`, from scored items.
pub fn daily_sentiment_by_ticker(
    items: &[ScoredItem],
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<String, Vec<DailySentiment>> {
    let mut sorted: Vec<&ScoredItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.created_at);
    let mut out: BTreeMap<String, Vec<DailySentiment>> = BTreeMap::new();
    for day in from
        .iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| is_trading_day(*d))
    {
        let window = SentimentWindow::for_trading_date(day);
        let lo = sorted.partition_point(|i| i.created_at < window.start);
        let hi = sorted.partition_point(|i| i.created_at < window.cutoff);
        if lo == hi {
            continue;
        }
        let in_window: Vec<ScoredItem> = sorted[lo..hi].iter().map(|i| (*i).clone()).collect();
        for t in aggregate(&in_window, &window) {
            out.entry(t.ticker.clone())
                .or_default()
                .push(DailySentiment::from(&t));
        }
    }
    out
}

/// Labelled rows of every ticker with `from <= date <= to`. Bars before `from` are used
/// for warm-up; bars after `to` only for labels (up to the time-decay day ahead).
/// `rules` = the label definition (the live system's: `TradeRules::default()`). The
/// market block ranks over `market.universe` and reads `market.benchmark`
/// (`universe_features`, as the backtester and build-features).
pub fn training_set(
    prices: &[(String, Vec<DailyBar>)],
    sentiment: &BTreeMap<String, Vec<DailySentiment>>,
    market: &Market,
    from: NaiveDate,
    to: NaiveDate,
    rules: &TradeRules,
) -> (Vec<TrainingRow>, TrainingSetInfo) {
    let mut rows = Vec::new();
    let mut unlabelled = 0;
    let mut no_entry_bar = 0;
    let mut tickers = 0;
    let (features_by_ticker, offsets) = universe_features(prices, sentiment, market, from);
    for (((_, all_bars), features), offset) in prices.iter().zip(features_by_ticker).zip(offsets) {
        // The rows start at `offset` into the bars (warm-up dropped); labels read the
        // bars from the same day on.
        let bars = &all_bars[offset..];
        let trades = exit_labels(bars, &features, rules);
        let before = rows.len();
        for (i, (row, trade)) in features.into_iter().zip(trades).enumerate() {
            if row.date < from || row.date > to {
                continue;
            }
            match trade {
                Some(trade) => rows.push(TrainingRow {
                    ticker: row.ticker,
                    date: row.date,
                    values: row.values,
                    label: Label::of_exit(trade.reason),
                    trade,
                }),
                None => {
                    unlabelled += 1;
                    no_entry_bar += usize::from(
                        bars.get(i + 1)
                            .is_some_and(|next| next.date != nyse::next_trading_day(row.date)),
                    );
                }
            }
        }
        tickers += usize::from(rows.len() > before);
    }
    let mentions_at = FEATURE_SCHEMA.index_of("has_mentions");
    let mut per_class: BTreeMap<&'static str, usize> =
        Label::CLASSES.iter().map(|c| (c.name(), 0)).collect();
    let mut per_reason: BTreeMap<&'static str, usize> =
        ExitReason::ALL.iter().map(|r| (r.as_str(), 0)).collect();
    let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
    for r in &rows {
        *per_class.entry(r.label.name()).or_default() += 1;
        *per_reason.entry(r.trade.reason.as_str()).or_default() += 1;
        *sums.entry(r.label.name()).or_default() += r.trade.net_return;
        *sums.entry("all").or_default() += r.trade.net_return;
    }
    let mean_net_return = sums
        .into_iter()
        .map(|(k, sum)| {
            let n = if k == "all" { rows.len() } else { per_class[k] };
            (k, sum / n as f64)
        })
        .collect();
    let info = TrainingSetInfo {
        schema_version: FEATURE_SCHEMA.version,
        schema_hash: FEATURE_SCHEMA.hash(),
        feature_names: FEATURE_SCHEMA.names.to_vec(),
        classes: Label::CLASSES.iter().map(|c| c.name()).collect(),
        from,
        to,
        label: LabelDefinition::new(rules),
        tickers,
        rows: rows.len(),
        rows_per_class: per_class,
        rows_per_exit_reason: per_reason,
        mean_net_return,
        rows_with_mentions: mentions_at
            .map_or(0, |i| rows.iter().filter(|r| r.values[i] > 0.0).count()),
        unlabelled_rows: unlabelled,
        unlabelled_no_entry_bar: no_entry_bar,
        universe: market.universe.iter().cloned().collect(),
        rows_with_regime: FEATURE_SCHEMA
            .index_of("regime_ready")
            .map_or(0, |i| rows.iter().filter(|r| r.values[i] > 0.0).count()),
    };
    (rows, info)
}

/// The columns after the features, in order.
pub const LABEL_COLUMNS: [&str; 5] = [
    "label",
    "net_return",
    "stop_pct",
    "target_pct",
    "exit_reason",
];

/// Writes the rows as CSV: `ticker,date,<features in schema order>,label,net_return,
/// stop_pct,target_pct,exit_reason`: the label as its class index (SELL=0, HOLD=1,
/// BUY=2), the trade's net return after costs, its stop and target distances (fractions
/// of the entry) and its exit reason (`target`, `stop_loss`, `signal_flip`,
/// `time_decay`). Only labelled rows are written. Floats round-trip exactly.
pub fn write_csv(rows: &[TrainingRow], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut header = String::from("ticker,date");
    for name in FEATURE_SCHEMA.names.iter().chain(&LABEL_COLUMNS) {
        header.push(',');
        header.push_str(name);
    }
    header.push('\n');
    out.write_all(header.as_bytes())?;
    let mut line = String::new();
    for r in rows {
        use std::fmt::Write as _;
        line.clear();
        let _ = write!(line, "{},{}", r.ticker, r.date);
        for v in &r.values {
            let _ = write!(line, ",{v}");
        }
        let t = &r.trade;
        let _ = writeln!(
            line,
            ",{},{},{},{},{}",
            r.label.index(),
            t.net_return,
            t.stop_pct,
            t.target_pct,
            t.reason
        );
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(n: usize) -> Vec<DailyBar> {
        let start = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
        (0..n)
            .map(|i| {
                let c = 100.0 + (i as f64 * 0.7).sin() * 8.0;
                DailyBar {
                    date: nyse::add_trading_days(start, i as i64),
                    open: c,
                    high: c * 1.02,
                    low: c * 0.98,
                    close: c,
                    adjusted_close: c,
                    volume: 1_000 + i as i64,
                }
            })
            .collect()
    }

    #[test]
    fn rows_stay_in_range_and_the_last_horizon_is_unlabelled() {
        let b = bars(60);
        let (from, to) = (b[10].date, b[59].date);
        let (rows, info) = training_set(
            &[("TEST".into(), b)],
            &BTreeMap::new(),
            &Market::new(Vec::new(), ["TEST"]),
            from,
            to,
            &TradeRules::default(),
        );
        assert_eq!(info.rows + info.unlabelled_rows, 50);
        assert_eq!(info.unlabelled_rows, 7, "the last 7 have no time-decay bar");
        assert_eq!(info.unlabelled_no_entry_bar, 0);
        assert!(rows.iter().all(|r| r.date >= from && r.date <= to));
        assert_eq!(info.rows_per_class.values().sum::<usize>(), info.rows);
        let mut csv = Vec::new();
        write_csv(&rows, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let header = text.lines().next().unwrap();
        assert_eq!(header.split(',').count(), 2 + FEATURE_SCHEMA.len() + 5);
        assert!(
            header.ends_with(",label,net_return,stop_pct,target_pct,exit_reason"),
            "{header}"
        );
        assert_eq!(text.lines().count(), rows.len() + 1);
        // Each line ends with its trade, the numbers round-tripping exactly.
        for (line, r) in text.lines().skip(1).zip(&rows) {
            let cols: Vec<&str> = line.split(',').collect();
            let tail = &cols[cols.len() - 5..];
            assert_eq!(tail[0], r.label.index().to_string());
            assert_eq!(tail[1].parse::<f64>().unwrap(), r.trade.net_return);
            assert_eq!(tail[2].parse::<f64>().unwrap(), r.trade.stop_pct);
            assert_eq!(tail[3].parse::<f64>().unwrap(), r.trade.target_pct);
            assert_eq!(tail[4].parse::<ExitReason>().unwrap(), r.trade.reason);
            assert_eq!(Label::of_exit(r.trade.reason), r.label);
        }
        let total: usize = info.rows_per_exit_reason.values().sum();
        assert_eq!(total, info.rows);
        let mean = rows.iter().map(|r| r.trade.net_return).sum::<f64>() / rows.len() as f64;
        assert!((info.mean_net_return["all"] - mean).abs() < 1e-12);
    }

    #[test]
    fn a_missing_next_trading_day_leaves_the_row_unlabelled() {
        // A halt: the ticker has no bar on its 31st trading day. The signal of the day
        // before cannot be entered (the backtester misses it), so it has no label.
        let mut b = bars(60);
        let halted = b.remove(30);
        let (rows, info) = training_set(
            &[("TEST".into(), b.clone())],
            &BTreeMap::new(),
            &Market::new(Vec::new(), ["TEST"]),
            b[0].date,
            b[58].date,
            &TradeRules::default(),
        );
        assert!(!rows.iter().any(|r| r.date == b[29].date));
        assert!(rows.iter().any(|r| r.date == b[28].date));
        assert!(rows.iter().all(|r| r.trade.entry_date != halted.date));
        assert_eq!(info.unlabelled_no_entry_bar, 1);
        assert_eq!(info.unlabelled_rows, 8);
    }

    #[test]
    fn sentiment_lands_on_the_trading_day_of_its_window() {
        let item = ScoredItem {
            post_id: "t1_x".into(),
            author: Some("ape".into()),
            tickers: vec!["GME".into()],
            sentiment: 0.5,
            score: 3,
            // Saturday: belongs to Monday 2021-01-11's window.
            created_at: "2021-01-09T12:00:00Z".parse().unwrap(),
        };
        let by_ticker = daily_sentiment_by_ticker(
            &[item],
            NaiveDate::from_ymd_opt(2021, 1, 4).unwrap(),
            NaiveDate::from_ymd_opt(2021, 1, 15).unwrap(),
        );
        let gme = &by_ticker["GME"];
        assert_eq!(gme.len(), 1);
        assert_eq!(
            gme[0].trading_date,
            NaiveDate::from_ymd_opt(2021, 1, 11).unwrap()
        );
        assert_eq!(gme[0].mentions, 1);
    }
}
