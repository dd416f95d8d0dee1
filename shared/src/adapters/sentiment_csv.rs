//! The daily sentiment file: the point-in-time aggregate per (ticker, trading day) that
//! `tft sentiment-file` builds once from Reddit archives, and that `tft backtest` and
//! `tft features export` read with `--sentiment FILE` instead of scoring the archives
//! again on every run.
//!
//! One header line, then one row per (ticker, trading day) with at least one mention,
//! sorted by trading day then ticker:
//!
//! ```text
//! trading_date,ticker,mentions,items,unique_authors,mean_sentiment,weighted_sentiment,bullish_share
//! 2021-01-27,GME,5123,9120,5011,0.0912,0.1034,0.4121
//! ```
//!
//! Floats are written in Rust's shortest round-trip form, so a file read back gives the
//! very numbers that were aggregated (the backtest on a file equals the backtest on the
//! archives it was built from, bit for bit).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use chrono::NaiveDate;

use crate::core::features::DailySentiment;
use crate::core::mention_sentiment::{SentimentWindow, TickerSentiment};

/// The header, in column order.
pub const HEADER: [&str; 8] = [
    "trading_date",
    "ticker",
    "mentions",
    "items",
    "unique_authors",
    "mean_sentiment",
    "weighted_sentiment",
    "bullish_share",
];

#[derive(Debug, thiserror::Error)]
pub enum SentimentFileError {
    #[error("{name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{name}: not a daily sentiment file: the header must be `{expected}`, found `{found}`"
    )]
    Header {
        name: String,
        expected: String,
        found: String,
    },
    #[error("{name}:{line}: {message}")]
    Row {
        name: String,
        line: u64,
        message: String,
    },
}

/// The daily sentiment by ticker, each ticker's days in date order (as the features read it).
pub type DailySentimentTable = BTreeMap<String, Vec<DailySentiment>>;

/// Writes the header and `rows` (in the order given).
pub struct SentimentCsvWriter<W: Write> {
    out: csv::Writer<W>,
    rows: u64,
}

impl<W: Write> SentimentCsvWriter<W> {
    pub fn new(out: W) -> csv::Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(HEADER)?;
        Ok(Self { out, rows: 0 })
    }

    pub fn write(&mut self, row: &TickerSentiment) -> csv::Result<()> {
        self.out.write_record([
            row.trading_date.to_string(),
            row.ticker.clone(),
            row.mentions.to_string(),
            row.items.to_string(),
            row.unique_authors.to_string(),
            row.mean_sentiment.to_string(),
            row.weighted_sentiment.to_string(),
            row.bullish_share.to_string(),
        ])?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and gives the writer back.
    pub fn finish(self) -> std::io::Result<W> {
        self.out
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// Reads a daily sentiment file. Any bad row is an error naming its line: a backtest must
/// not run on a silently partial file.
pub fn read(path: &Path) -> Result<DailySentimentTable, SentimentFileError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| SentimentFileError::Io {
        name: name.clone(),
        source,
    })?;
    parse(file, &name)
}

/// [`read`] over any reader; `name` is used in errors.
pub fn parse(input: impl Read, name: &str) -> Result<DailySentimentTable, SentimentFileError> {
    let mut table = DailySentimentTable::new();
    for (line, row) in parse_rows(input, name)? {
        let days = table.entry(row.ticker.clone()).or_default();
        if let Some(last) = days.last() {
            if last.trading_date >= row.trading_date {
                return Err(SentimentFileError::Row {
                    name: name.to_string(),
                    line,
                    message: format!(
                        "{} comes after {} for this ticker: the file must be sorted by trading \
                         day and hold one row per (ticker, day)",
                        row.trading_date, last.trading_date
                    ),
                });
            }
        }
        days.push(DailySentiment::from(&row));
    }
    Ok(table)
}

/// Every row of a daily sentiment file in full (with its line), its window derived from
/// the trading day: what the database's `ticker_sentiment_daily` stores.
pub fn read_rows(path: &Path) -> Result<Vec<(u64, TickerSentiment)>, SentimentFileError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| SentimentFileError::Io {
        name: name.clone(),
        source,
    })?;
    parse_rows(file, &name)
}

fn parse_rows(
    input: impl Read,
    name: &str,
) -> Result<Vec<(u64, TickerSentiment)>, SentimentFileError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| SentimentFileError::Row {
            name: name.to_string(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    if header.iter().ne(HEADER.iter().copied()) {
        return Err(SentimentFileError::Header {
            name: name.to_string(),
            expected: HEADER.join(","),
            found: header.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let row_error = |message: String| SentimentFileError::Row {
            name: name.to_string(),
            line,
            message,
        };
        let more = reader
            .read_record(&mut record)
            .map_err(|e| row_error(e.to_string()))?;
        if !more {
            break;
        }
        rows.push((line, parse_row(&record).map_err(row_error)?));
    }
    Ok(rows)
}

fn parse_row(record: &csv::StringRecord) -> Result<TickerSentiment, String> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let number = |i: usize| -> Result<f64, String> {
        let raw = field(i);
        match raw.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(format!("{} is not a number: {raw:?}", HEADER[i])),
        }
    };
    let count = |i: usize| -> Result<u32, String> {
        field(i)
            .parse::<u32>()
            .map_err(|_| format!("{} is not a count: {:?}", HEADER[i], field(i)))
    };
    if record.len() != HEADER.len() {
        return Err(format!(
            "{} fields where the header has {}",
            record.len(),
            HEADER.len()
        ));
    }
    let trading_date = NaiveDate::parse_from_str(field(0), "%Y-%m-%d")
        .map_err(|_| format!("trading_date is not YYYY-MM-DD: {:?}", field(0)))?;
    let ticker = field(1).trim().to_uppercase();
    if ticker.is_empty() || ticker.len() > 10 {
        return Err(format!("ticker must be 1-10 characters: {:?}", field(1)));
    }
    let mentions = count(2)?;
    if mentions == 0 {
        return Err("mentions is 0: a day nobody mentioned the ticker has no row".into());
    }
    let window = SentimentWindow::for_trading_date(trading_date);
    Ok(TickerSentiment {
        ticker,
        trading_date,
        window_start: window.start,
        cutoff_at: window.cutoff,
        mentions,
        items: count(3)?,
        unique_authors: count(4)?,
        mean_sentiment: number(5)?,
        weighted_sentiment: number(6)?,
        bullish_share: number(7)?,
    })
}

/// The rows of `table` with `from <= trading_date <= to` (what a backtest of that span
/// may read; tickers left with no row are dropped).
pub fn between(table: &DailySentimentTable, from: NaiveDate, to: NaiveDate) -> DailySentimentTable {
    table
        .iter()
        .filter_map(|(ticker, days)| {
            let kept: Vec<DailySentiment> = days
                .iter()
                .filter(|d| from <= d.trading_date && d.trading_date <= to)
                .cloned()
                .collect();
            (!kept.is_empty()).then(|| (ticker.clone(), kept))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn row(day: &str, ticker: &str, mentions: u32, mean: f64) -> TickerSentiment {
        TickerSentiment {
            ticker: ticker.into(),
            trading_date: day.parse().unwrap(),
            window_start: Utc.timestamp_opt(0, 0).unwrap(),
            cutoff_at: Utc.timestamp_opt(0, 0).unwrap(),
            mentions,
            items: mentions + 1,
            unique_authors: mentions,
            mean_sentiment: mean,
            weighted_sentiment: mean / 3.0,
            bullish_share: 1.0 / 3.0,
        }
    }

    #[test]
    fn a_written_file_reads_back_bit_for_bit() {
        let rows = [
            row("2021-01-26", "GME", 3, 0.1 + 0.2),
            row("2021-01-26", "AMC", 1, -std::f64::consts::FRAC_1_SQRT_2),
            row("2021-01-27", "GME", 7, 1e-17),
        ];
        let mut w = SentimentCsvWriter::new(Vec::new()).unwrap();
        for r in &rows {
            w.write(r).unwrap();
        }
        assert_eq!(w.rows(), 3);
        let bytes = w.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(&HEADER.join(",")), "{text}");
        let table = parse(&bytes[..], "t.csv").unwrap();
        assert_eq!(table.len(), 2);
        let gme = &table["GME"];
        assert_eq!(gme.len(), 2);
        assert_eq!(gme[0], DailySentiment::from(&rows[0]));
        assert_eq!(gme[1], DailySentiment::from(&rows[2]));
        assert_eq!(
            table["AMC"][0].mean_sentiment.to_bits(),
            (-std::f64::consts::FRAC_1_SQRT_2).to_bits()
        );
        let later = between(
            &table,
            "2021-01-27".parse().unwrap(),
            "2021-12-31".parse().unwrap(),
        );
        assert_eq!(later.keys().collect::<Vec<_>>(), ["GME"]);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let err = parse(&b"date,ticker\n2021-01-01,GME\n"[..], "x.csv").unwrap_err();
        assert!(matches!(err, SentimentFileError::Header { .. }), "{err}");
        let head = HEADER.join(",");
        let bad =
            format!("{head}\n2021-01-26,GME,3,4,3,0.1,0.1,0.5\n2021-01-27,GME,3,4,3,nan,0.1,0.5\n");
        let err = parse(bad.as_bytes(), "x.csv").unwrap_err().to_string();
        assert!(err.starts_with("x.csv:3: mean_sentiment"), "{err}");
        let unsorted =
            format!("{head}\n2021-01-27,GME,3,4,3,0.1,0.1,0.5\n2021-01-26,GME,3,4,3,0.1,0.1,0.5\n");
        let err = parse(unsorted.as_bytes(), "x.csv").unwrap_err().to_string();
        assert!(err.contains("x.csv:3:") && err.contains("sorted"), "{err}");
        let short = format!("{head}\n2021-01-27,GME,3\n");
        let err = parse(short.as_bytes(), "x.csv").unwrap_err().to_string();
        assert!(err.contains("x.csv:2:"), "{err}");
    }
}
