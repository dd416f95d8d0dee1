//! Daily bars from Yahoo-style CSV files (`Date,Open,High,Low,Close,Adj Close,Volume`),
//! as in `../shared/data/prices/daily/` and the test fixtures.
//!
//! Columns are found by name, in any order, extra columns ignored; `Adj Close` may be
//! absent (it is then set to `Close`: nothing downstream may use it, since it embeds
//! later dividends). Each row must have:
//! - a `Date` `YYYY-MM-DD` (a trailing time such as `2021-01-04 00:00:00-05:00` is
//!   ignored), strictly after the previous row's;
//! - finite, positive `Open`, `High`, `Low`, `Close` (and `Adj Close` when present), with
//!   `High >= Low`;
//! - a non-negative whole `Volume` (`1200` or `1200.0`). Zero volume is kept: it is a
//!   real day without trades (thin or pre-listing names), and the features treat it.
//!
//! A row that breaks a rule is an error naming `file:line`, not a skipped row: dropping a
//! bar would silently shift every trading-day window (the 20-bar features, the 7-day
//! label horizon), and Yahoo's `null` rows or an unsorted file are worth a look. A caller
//! loading many files decides whether one bad file stops it ([`load_dir`] stops).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::NaiveDate;

use crate::core::DailyBar;

/// Why a prices CSV could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PriceCsvError {
    #[error("{file}: {error}")]
    Io {
        file: String,
        #[source]
        error: std::io::Error,
    },
    /// A problem with the file as a whole (the header).
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// A problem with one row; `line` is 1-based, the header being line 1.
    #[error("{file}:{line}: {message}")]
    Row {
        file: String,
        line: u64,
        message: String,
    },
}

/// Reads the bars of one CSV file.
pub fn load_bars(path: &Path) -> Result<Vec<DailyBar>, PriceCsvError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|error| PriceCsvError::Io {
        file: name.clone(),
        error,
    })?;
    read_bars(BufReader::new(file), &name)
}

/// The `*.csv` files of `dir`, sorted by file name.
pub fn csv_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, PriceCsvError> {
    let io = |error| PriceCsvError::Io {
        file: dir.display().to_string(),
        error,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "csv") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The ticker of a price file: its stem (`GME.csv` -> `GME`).
pub fn ticker_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads every `*.csv` of `dir`, sorted by file name, as `(ticker, bars)` with the
/// ticker taken from the file stem (`GME.csv` -> `GME`).
pub fn load_dir(dir: &Path) -> Result<Vec<(String, Vec<DailyBar>)>, PriceCsvError> {
    csv_files(dir)?
        .iter()
        .map(|path| Ok((ticker_of(path), load_bars(path)?)))
        .collect()
}

/// Column positions of the header.
struct Columns {
    date: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    adj_close: Option<usize>,
    volume: usize,
}

impl Columns {
    fn find(headers: &csv::StringRecord, file: &str) -> Result<Self, PriceCsvError> {
        let position = |name: &str| headers.iter().position(|h| h.trim() == name);
        let required = |name: &str| {
            position(name).ok_or_else(|| PriceCsvError::File {
                file: file.to_string(),
                message: format!(
                    "no `{name}` column in the header (expected Date,Open,High,Low,Close,Adj Close,Volume)"
                ),
            })
        };
        Ok(Self {
            date: required("Date")?,
            open: required("Open")?,
            high: required("High")?,
            low: required("Low")?,
            close: required("Close")?,
            adj_close: position("Adj Close"),
            volume: required("Volume")?,
        })
    }
}

/// Reads bars from CSV text; `file` names the source in errors.
pub fn read_bars(reader: impl Read, file: &str) -> Result<Vec<DailyBar>, PriceCsvError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| PriceCsvError::File {
            file: file.to_string(),
            message: format!("reading the header: {e}"),
        })?
        .clone();
    let columns = Columns::find(&headers, file)?;

    let mut bars: Vec<DailyBar> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv
            .read_record(&mut record)
            .map_err(|e| PriceCsvError::Row {
                file: file.to_string(),
                line: e.position().map_or(0, |p| p.line()),
                message: format!("malformed CSV row: {e}"),
            })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let bar = parse_row(&record, &columns).map_err(|message| PriceCsvError::Row {
            file: file.to_string(),
            line,
            message,
        })?;
        if let Some(previous) = bars.last() {
            if bar.date <= previous.date {
                return Err(PriceCsvError::Row {
                    file: file.to_string(),
                    line,
                    message: format!(
                        "Date {} is not after the previous row's {} (rows must be in date order, without duplicates)",
                        bar.date, previous.date
                    ),
                });
            }
        }
        bars.push(bar);
    }
    Ok(bars)
}

fn parse_row(record: &csv::StringRecord, columns: &Columns) -> Result<DailyBar, String> {
    let field = |col: usize, name: &str| {
        record
            .get(col)
            .map(str::trim)
            .ok_or_else(|| format!("missing `{name}` field"))
    };
    let date_text = field(columns.date, "Date")?;
    let date = parse_date(date_text)
        .ok_or_else(|| format!("bad Date {date_text:?} (expected YYYY-MM-DD)"))?;
    let price = |col: usize, name: &str| -> Result<f64, String> {
        let text = field(col, name)?;
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            Ok(v) if v.is_finite() => Err(format!("{name} {text} is not positive")),
            _ => Err(format!(
                "bad {name} value {text:?} (expected a finite number)"
            )),
        }
    };
    let (open, high, low, close) = (
        price(columns.open, "Open")?,
        price(columns.high, "High")?,
        price(columns.low, "Low")?,
        price(columns.close, "Close")?,
    );
    let adjusted_close = match columns.adj_close {
        Some(col) => price(col, "Adj Close")?,
        None => close,
    };
    if high < low {
        return Err(format!("High {high} is below Low {low}"));
    }
    let volume_text = field(columns.volume, "Volume")?;
    let volume = parse_volume(volume_text).ok_or_else(|| {
        format!("bad Volume value {volume_text:?} (expected a non-negative whole number)")
    })?;
    Ok(DailyBar {
        date,
        open,
        high,
        low,
        close,
        adjusted_close,
        volume,
    })
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let day = match text.get(10..11) {
        None => text,
        Some(" " | "T") => &text[..10],
        Some(_) => return None,
    };
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

fn parse_volume(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return (v >= 0).then_some(v);
    }
    let v = text.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < i64::MAX as f64).then_some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n";

    fn text(rows: &[&str]) -> String {
        let mut t = HEADER.to_string();
        for r in rows {
            t.push_str(r);
            t.push('\n');
        }
        t
    }

    fn read(t: &str) -> Result<Vec<DailyBar>, PriceCsvError> {
        read_bars(t.as_bytes(), "mem.csv")
    }

    #[test]
    fn reads_yahoo_rows_and_keeps_zero_volume() {
        let bars = read(&text(&[
            "2014-01-02,12.287500,12.440000,12.027500,12.412500,8.941859,11337200",
            "2014-01-03,12.4275,12.5,12.2675,12.31,8.868019,0",
        ]))
        .unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            bars[0],
            DailyBar {
                date: NaiveDate::from_ymd_opt(2014, 1, 2).unwrap(),
                open: 12.2875,
                high: 12.44,
                low: 12.0275,
                close: 12.4125,
                adjusted_close: 8.941859,
                volume: 11_337_200,
            }
        );
        assert_eq!(bars[1].volume, 0);
    }

    #[test]
    fn columns_by_name_and_optional_adj_close() {
        let t = "Volume,Close,Low,High,Open,Date\n5.0,2,1,3,2,2021-01-04 00:00:00-05:00\n";
        let bars = read(t).unwrap();
        assert_eq!((bars[0].close, bars[0].adjusted_close), (2.0, 2.0));
        assert_eq!((bars[0].open, bars[0].high, bars[0].volume), (2.0, 3.0, 5));
        assert_eq!(bars[0].date, NaiveDate::from_ymd_opt(2021, 1, 4).unwrap());
    }

    #[test]
    fn header_only_is_no_bars() {
        assert!(read(HEADER).unwrap().is_empty());
    }

    #[test]
    fn bad_rows_are_errors_naming_file_and_line() {
        let good = "2021-01-04,10,11,9,10,10,100";
        let cases = [
            (
                "2021-01-05,0,11,9,10,10,100",
                "mem.csv:3: Open 0 is not positive",
            ),
            (
                "2021-01-05,10,11,9,-1,10,100",
                "mem.csv:3: Close -1 is not positive",
            ),
            (
                "2021-01-05,null,null,null,null,null,null",
                "mem.csv:3: bad Open value \"null\"",
            ),
            (
                "2021-01-05,10,11,9,NaN,10,100",
                "mem.csv:3: bad Close value \"NaN\"",
            ),
            (
                "2021-01-05,10,9,11,10,10,100",
                "mem.csv:3: High 9 is below Low 11",
            ),
            (
                "2021-01-05,10,11,9,10,10,-5",
                "mem.csv:3: bad Volume value \"-5\"",
            ),
            (
                "2021-01-05,10,11,9,10,10,1.5",
                "mem.csv:3: bad Volume value \"1.5\"",
            ),
            ("2021-13-05,10,11,9,10,10,100", "mem.csv:3: bad Date"),
            ("01/05/2021,10,11,9,10,10,100", "mem.csv:3: bad Date"),
            (
                "2021-01-04,10,11,9,10,10,100",
                "mem.csv:3: Date 2021-01-04 is not after the previous row's 2021-01-04",
            ),
            (
                "2021-01-01,10,11,9,10,10,100",
                "mem.csv:3: Date 2021-01-01 is not after",
            ),
            ("2021-01-05,10,11", "mem.csv:3: malformed CSV row"),
        ];
        for (row, expected) in cases {
            let err = read(&text(&[good, row])).unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
        }
        let err = read("Date,Open,High,Low,Volume\n").unwrap_err().to_string();
        assert!(err.starts_with("mem.csv: no `Close` column"), "{err}");
        assert_eq!(
            read(&text(&[good, "2021-01-05,10,11,9,10,10,7.0"])).unwrap()[1].volume,
            7
        );
    }

    #[test]
    fn loads_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("BBB.csv"),
            text(&["2021-01-04,1,1,1,1,1,1"]),
        )
        .unwrap();
        std::fs::write(dir.path().join("AAA.csv"), text(&[])).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let all = load_dir(dir.path()).unwrap();
        let names: Vec<(&str, usize)> = all.iter().map(|(t, b)| (t.as_str(), b.len())).collect();
        assert_eq!(names, [("AAA", 0), ("BBB", 1)]);

        std::fs::write(dir.path().join("CCC.csv"), text(&["bad,1,1,1,1,1,1"])).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("CCC.csv:2: bad Date"), "{err}");
        let err = load_bars(&dir.path().join("missing.csv")).unwrap_err();
        assert!(matches!(err, PriceCsvError::Io { .. }), "{err}");
    }
}
