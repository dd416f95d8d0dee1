//! `tft indicators --csv FILE`: the indicators of one ticker's daily bars, as CSV.
//!
//! Input: a Yahoo-style CSV with the header `Date,Open,High,Low,Close,Adj Close,Volume`
//! (columns are found by name), one bar per line in date order. Indicators are
//! computed on `Close` (split-adjusted), never on `Adj Close`, which embeds later
//! dividends. Output (stdout): `date,close,rsi_14,macd,macd_signal,macd_hist,bb_upper,
//! bb_middle,bb_lower,sma_50,sma_200,volume_ratio`, an empty field where a value is
//! undefined, floats in Rust's shortest round-trip form.
//!
//! `tft bench-indicators --dir DIR` (hidden) loads every CSV of a directory, then
//! times only the computation; `tools/bench/indicators_vs_talib.py` compares it with
//! TA-Lib.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use chrono::NaiveDate;
use shared::core::indicators::{compute, IndicatorRow};

/// The output header, kept stable: outside checks parse it.
pub const OUTPUT_HEADER: &str = "date,close,rsi_14,macd,macd_signal,macd_hist,bb_upper,\
bb_middle,bb_lower,sma_50,sma_200,volume_ratio";

/// How many times `bench` repeats the computation (the best time is reported).
const BENCH_REPEATS: usize = 20;

/// A ticker's bars as the indicators need them, in date order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceSeries {
    pub dates: Vec<NaiveDate>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

/// Reads the prices CSV at `csv_path` and writes its indicators as CSV to `out`.
pub fn run(csv_path: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let series = load(csv_path)?;
    write_indicators(&series, out)
}

/// Loads every `*.csv` of `dir` (sorted by name), then computes the indicators of all of
/// them `BENCH_REPEATS` times and returns the best wall time of one full pass as
/// `{"tickers": N, "bars": M, "seconds": S}`. Loading and parsing are not timed.
pub fn bench(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "csv") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        bail!("no .csv files in {}", dir.display());
    }
    let all = paths
        .iter()
        .map(|p| load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bars: usize = all.iter().map(|s| s.close.len()).sum();

    let mut best = Duration::MAX;
    for _ in 0..BENCH_REPEATS {
        let start = Instant::now();
        for series in &all {
            let rows = compute(
                std::hint::black_box(&series.close),
                std::hint::black_box(&series.volume),
            );
            std::hint::black_box(rows);
        }
        best = best.min(start.elapsed());
    }
    Ok(serde_json::json!({
        "tickers": all.len(),
        "bars": bars,
        "seconds": best.as_secs_f64(),
    }))
}

/// Opens and parses one prices CSV; errors name the file (and the line, for a bad row).
pub fn load(csv_path: &Path) -> anyhow::Result<PriceSeries> {
    let file = File::open(csv_path).with_context(|| format!("opening {}", csv_path.display()))?;
    read_prices(BufReader::new(file), &csv_path.display().to_string())
}

/// Parses a prices CSV from `reader`; `source` names it in error messages.
///
/// Every row must have a valid `Date` (YYYY-MM-DD, strictly after the previous row's),
/// a finite `Close` and a finite, non-negative `Volume`; the other columns are not read.
pub fn read_prices(reader: impl Read, source: &str) -> anyhow::Result<PriceSeries> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .headers()
        .with_context(|| format!("{source}: reading the header"))?
        .clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim() == name).with_context(|| {
            format!("{source}: no `{name}` column in the header (expected Date,Open,High,Low,Close,Adj Close,Volume)")
        })
    };
    let (date_col, close_col, volume_col) = (column("Date")?, column("Close")?, column("Volume")?);

    let mut series = PriceSeries::default();
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            anyhow!("{source}:{line}: malformed CSV row: {e}")
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: usize, name: &str| {
            record
                .get(col)
                .map(str::trim)
                .with_context(|| format!("{source}:{line}: missing `{name}` field"))
        };
        let date_text = field(date_col, "Date")?;
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d").with_context(|| {
            format!("{source}:{line}: bad Date {date_text:?} (expected YYYY-MM-DD)")
        })?;
        if let Some(previous) = series.dates.last() {
            if date <= *previous {
                bail!("{source}:{line}: Date {date} is not after the previous row's {previous} (rows must be in date order, without duplicates)");
            }
        }
        let close = parse_number(field(close_col, "Close")?, "Close", source, line)?;
        let volume = parse_number(field(volume_col, "Volume")?, "Volume", source, line)?;
        if volume < 0.0 {
            bail!("{source}:{line}: negative Volume {volume}");
        }
        series.dates.push(date);
        series.close.push(close);
        series.volume.push(volume);
    }
    Ok(series)
}

fn parse_number(text: &str, name: &str, source: &str, line: u64) -> anyhow::Result<f64> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => bail!("{source}:{line}: bad {name} value {text:?} (expected a finite number)"),
    }
}

/// Computes the indicators of `series` and writes them as CSV (with the header).
pub fn write_indicators(series: &PriceSeries, out: &mut dyn Write) -> anyhow::Result<()> {
    let rows = compute(&series.close, &series.volume);
    let mut text = String::with_capacity(64 + rows.len() * 200);
    text.push_str(OUTPUT_HEADER);
    text.push('\n');
    for ((date, close), row) in series.dates.iter().zip(&series.close).zip(&rows) {
        push_row(&mut text, date, *close, row);
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the indicators")
}

fn push_row(text: &mut String, date: &NaiveDate, close: f64, row: &IndicatorRow) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(text, "{date},{close}");
    for value in [
        row.rsi_14,
        row.macd,
        row.macd_signal,
        row.macd_hist,
        row.bb_upper,
        row.bb_middle,
        row.bb_lower,
        row.sma_50,
        row.sma_200,
        row.volume_ratio,
    ] {
        text.push(',');
        if let Some(v) = value {
            let _ = write!(text, "{v}");
        }
    }
    text.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n";

    /// `n` synthetic bars starting 2021-01-04, one per calendar day.
    fn csv_text(n: usize) -> String {
        let start = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
        let mut text = HEADER.to_string();
        for i in 0..n {
            let date = start + chrono::Days::new(i as u64);
            let close = 100.0 + (i as f64 * 0.5).sin() * 3.0 + i as f64 * 0.1;
            // Adj Close deliberately different: it must not be used.
            text.push_str(&format!(
                "{date},{close},{close},{close},{close},{},{}\n",
                close * 0.5,
                1000 + (i % 7) * 10
            ));
        }
        text
    }

    fn output_of(text: &str) -> anyhow::Result<String> {
        let series = read_prices(text.as_bytes(), "mem.csv")?;
        let mut out = Vec::new();
        write_indicators(&series, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn writes_header_and_one_row_per_bar() {
        let out = output_of(&csv_text(40)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], OUTPUT_HEADER);
        assert_eq!(lines.len(), 41);
        // Bar 0: nothing defined yet, close echoed.
        assert_eq!(lines[1], "2021-01-04,100,,,,,,,,,,");
        // Bar 14 has an RSI, bar 19 Bollinger and volume ratio, bar 33 MACD; never SMA 50/200.
        let fields = |i: usize| {
            lines[i + 1]
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert!(!fields(14)[2].is_empty() && fields(13)[2].is_empty());
        assert!(!fields(19)[6].is_empty() && !fields(19)[11].is_empty());
        assert!(fields(32)[3].is_empty() && !fields(33)[3].is_empty());
        assert!(fields(39)[9].is_empty() && fields(39)[10].is_empty());
    }

    #[test]
    fn values_round_trip_and_equal_compute() {
        let text = csv_text(60);
        let series = read_prices(text.as_bytes(), "mem.csv").unwrap();
        let rows = compute(&series.close, &series.volume);
        let out = output_of(&text).unwrap();
        let line = out.lines().nth(59 + 1).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[1].parse::<f64>().unwrap(), series.close[59]);
        assert_eq!(fields[2].parse::<f64>().unwrap(), rows[59].rsi_14.unwrap());
        assert_eq!(
            fields[5].parse::<f64>().unwrap(),
            rows[59].macd_hist.unwrap()
        );
        assert_eq!(fields[9].parse::<f64>().unwrap(), rows[59].sma_50.unwrap());
        assert_eq!(
            fields[11].parse::<f64>().unwrap(),
            rows[59].volume_ratio.unwrap()
        );
    }

    #[test]
    fn uses_close_not_adj_close() {
        let text = csv_text(30);
        let series = read_prices(text.as_bytes(), "mem.csv").unwrap();
        assert!((series.close[0] - 100.0).abs() < 1e-12);
        assert_eq!(series.volume[1], 1010.0);
    }

    #[test]
    fn header_only_gives_header_only() {
        assert_eq!(output_of(HEADER).unwrap(), format!("{OUTPUT_HEADER}\n"));
    }

    #[test]
    fn zero_volume_gives_empty_ratio() {
        let mut text = HEADER.to_string();
        for day in 1..=25 {
            text.push_str(&format!("2021-02-{day:02},1,1,1,1,1,0\n"));
        }
        let out = output_of(&text).unwrap();
        assert!(out.lines().skip(1).all(|l| l.ends_with(',')));
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let good = csv_text(3);
        let cases = [
            (
                good.replacen(",1010\n", ",null\n", 1),
                "mem.csv:3: bad Volume value \"null\"",
            ),
            (
                good.replacen("2021-01-05", "2021-13-05", 1),
                "mem.csv:3: bad Date",
            ),
            (
                good.replacen("2021-01-06", "2021-01-04", 1),
                "mem.csv:4: Date 2021-01-04 is not after",
            ),
            (
                format!("{good}2021-02-01,1,1,1,,1,5\n"),
                "mem.csv:5: bad Close value \"\"",
            ),
            (
                format!("{good}2021-02-01,1,1,1,NaN,1,5\n"),
                "mem.csv:5: bad Close value \"NaN\"",
            ),
            (
                format!("{good}2021-02-01,1,1,1,2,1,-5\n"),
                "mem.csv:5: negative Volume",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", read_prices(text.as_bytes(), "mem.csv").unwrap_err());
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
        let short = format!("{good}2021-02-01,1,1\n");
        let err = format!(
            "{:#}",
            read_prices(short.as_bytes(), "mem.csv").unwrap_err()
        );
        assert!(err.contains("mem.csv:5: malformed CSV row"), "{err}");
        let err = format!(
            "{:#}",
            read_prices("Date,Open\n".as_bytes(), "mem.csv").unwrap_err()
        );
        assert!(err.contains("no `Close` column"), "{err}");
    }

    #[test]
    fn run_reads_a_file_and_reports_a_missing_one() {
        let path = std::env::temp_dir().join(format!("tft-indicators-{}.csv", std::process::id()));
        std::fs::write(&path, csv_text(35)).unwrap();
        let mut out = Vec::new();
        let result = run(&path, &mut out);
        std::fs::remove_file(&path).unwrap();
        result.unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 36);

        let err = run(&path, &mut Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("opening"), "{err:#}");
    }

    #[test]
    fn bench_reports_tickers_and_bars() {
        let dir = std::env::temp_dir().join(format!("tft-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("AAA.csv"), csv_text(50)).unwrap();
        std::fs::write(dir.join("BBB.csv"), csv_text(30)).unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let result = bench(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let value = result.unwrap();
        assert_eq!(value["tickers"], 2);
        assert_eq!(value["bars"], 80);
        assert!(value["seconds"].as_f64().unwrap() >= 0.0);
    }
}
