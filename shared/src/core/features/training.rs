//! The training set: features and labels of many tickers over a date range, computed by
//! the same functions serving uses, from bars and scored Reddit items alone.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{
    triple_barrier_labels, universe_features, BarrierConfig, DailySentiment, Label, Market,
    FEATURE_SCHEMA,
};
use crate::core::mention_sentiment::{aggregate, ScoredItem, SentimentWindow};
use crate::core::nyse::is_trading_day;
use crate::core::DailyBar;

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRow {
    pub ticker: String,
    pub date: NaiveDate,
    pub values: Vec<f64>,
    pub label: Label,
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
    pub barrier: BarrierConfig,
    pub tickers: usize,
    pub rows: usize,
    pub rows_per_class: BTreeMap<&'static str, usize>,
    pub rows_with_mentions: usize,
    /// Rows dropped because fewer than `horizon_days` bars follow (no label yet).
    pub unlabelled_rows: usize,
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
/// for warm-up; bars after `to` only for labels (up to `horizon_days` ahead). The market
/// block ranks over `market.universe` and reads `market.benchmark` (`universe_features`,
/// as the backtester and build-features).
pub fn training_set(
    prices: &[(String, Vec<DailyBar>)],
    sentiment: &BTreeMap<String, Vec<DailySentiment>>,
    market: &Market,
    from: NaiveDate,
    to: NaiveDate,
    barrier: &BarrierConfig,
) -> (Vec<TrainingRow>, TrainingSetInfo) {
    let mut rows = Vec::new();
    let mut unlabelled = 0;
    let mut tickers = 0;
    let (features_by_ticker, offsets) = universe_features(prices, sentiment, market, from);
    for (((_, bars), features), offset) in prices.iter().zip(features_by_ticker).zip(offsets) {
        let labels = triple_barrier_labels(bars, barrier);
        let before = rows.len();
        for (row, label) in features.into_iter().zip(labels.into_iter().skip(offset)) {
            if row.date < from || row.date > to {
                continue;
            }
            match label {
                Some(label) => rows.push(TrainingRow {
                    ticker: row.ticker,
                    date: row.date,
                    values: row.values,
                    label,
                }),
                None => unlabelled += 1,
            }
        }
        tickers += usize::from(rows.len() > before);
    }
    let mentions_at = FEATURE_SCHEMA.index_of("has_mentions");
    let mut per_class: BTreeMap<&'static str, usize> =
        Label::CLASSES.iter().map(|c| (c.name(), 0)).collect();
    for r in &rows {
        *per_class.entry(r.label.name()).or_default() += 1;
    }
    let info = TrainingSetInfo {
        schema_version: FEATURE_SCHEMA.version,
        schema_hash: FEATURE_SCHEMA.hash(),
        feature_names: FEATURE_SCHEMA.names.to_vec(),
        classes: Label::CLASSES.iter().map(|c| c.name()).collect(),
        from,
        to,
        barrier: *barrier,
        tickers,
        rows: rows.len(),
        rows_per_class: per_class,
        rows_with_mentions: mentions_at
            .map_or(0, |i| rows.iter().filter(|r| r.values[i] > 0.0).count()),
        unlabelled_rows: unlabelled,
        universe: market.universe.iter().cloned().collect(),
        rows_with_regime: FEATURE_SCHEMA
            .index_of("regime_ready")
            .map_or(0, |i| rows.iter().filter(|r| r.values[i] > 0.0).count()),
    };
    (rows, info)
}

/// Writes the rows as CSV: `ticker,date,<features in schema order>,label` (the label as
/// its class index: SELL=0, HOLD=1, BUY=2). Floats round-trip exactly.
pub fn write_csv(rows: &[TrainingRow], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut header = String::from("ticker,date");
    for name in FEATURE_SCHEMA.names {
        header.push(',');
        header.push_str(name);
    }
    header.push_str(",label\n");
    out.write_all(header.as_bytes())?;
    let mut line = String::new();
    for r in rows {
        use std::fmt::Write as _;
        line.clear();
        let _ = write!(line, "{},{}", r.ticker, r.date);
        for v in &r.values {
            let _ = write!(line, ",{v}");
        }
        let _ = writeln!(line, ",{}", r.label.index());
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
                    date: start + chrono::Days::new(i as u64),
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
            &BarrierConfig::default(),
        );
        assert_eq!(info.rows + info.unlabelled_rows, 50);
        assert_eq!(info.unlabelled_rows, BarrierConfig::default().horizon_days);
        assert!(rows.iter().all(|r| r.date >= from && r.date <= to));
        assert_eq!(info.rows_per_class.values().sum::<usize>(), info.rows);
        let mut csv = Vec::new();
        write_csv(&rows, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let header = text.lines().next().unwrap();
        assert_eq!(header.split(',').count(), 2 + FEATURE_SCHEMA.len() + 1);
        assert_eq!(text.lines().count(), rows.len() + 1);
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
