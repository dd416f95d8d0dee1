//! The `/v8/finance/chart` JSON and its conversion to [`DailyBar`]s. Pure: no I/O.
//!
//! Shape (only the fields read here; everything may be `null` or absent):
//!
//! ```text
//! {"chart": {"error": null | {"code": "Not Found", "description": "..."},
//!            "result": null | [{
//!              "meta": {"exchangeTimezoneName": "America/New_York", "gmtoffset": -18000, ...},
//!              "timestamp": [1598880600, ...],            // absent when there is no bar
//!              "events": {"splits": {"1598880600": {"date": 1598880600, "numerator": 4,
//!                                                   "denominator": 1, "splitRatio": "4:1"}},
//!                         "dividends": {"1604673000": {"date": 1604673000, "amount": 0.205}}},
//!              "indicators": {"quote": [{"open": [..], "high": [..], "low": [..],
//!                                        "close": [..], "volume": [..]}],
//!                             "adjclose": [{"adjclose": [..]}]}}]}}
//! ```
//!
//! Rules applied while converting:
//! - a timestamp's trading date is its calendar date in the exchange time zone
//!   (`exchangeTimezoneName` through chrono-tz, else the fixed `gmtoffset`);
//! - only dates in `from..=to` are kept (bars and events);
//! - a bar with a `null` (or non-positive) open, high, low or close, or a `null`
//!   volume, is skipped and counted in [`ChartSeries::skipped_null_bars`]: nothing is
//!   ever filled with zeros. A volume of `0` that Yahoo actually sent is kept;
//! - a missing or `null` adjclose falls back to the close;
//! - several timestamps on one date (Yahoo appends the live bar): the last valid one wins;
//! - bars come out in strictly increasing date order.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::core::DailyBar;

/// Daily history of one ticker over the requested dates.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    /// The ticker as requested.
    pub ticker: String,
    /// IANA name Yahoo gave (`America/New_York`); empty when Yahoo sent no `meta`
    /// (a `"result": null` answer).
    pub exchange_timezone: String,
    /// Strictly increasing dates, all within the requested range.
    pub bars: Vec<DailyBar>,
    /// Splits in the range, by date.
    pub splits: Vec<Split>,
    /// Cash dividends in the range, by date.
    pub dividends: Vec<Dividend>,
    /// Bars in the range that Yahoo listed with a null price or volume and that were
    /// therefore dropped.
    pub skipped_null_bars: usize,
}

/// A stock split: `numerator` new shares for `denominator` old (4:1 is 4 / 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub date: NaiveDate,
    pub numerator: f64,
    pub denominator: f64,
}

/// A cash dividend per share, dated on its ex-date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dividend {
    pub date: NaiveDate,
    pub amount: f64,
}

/// Why a body could not become a [`ChartSeries`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ParseError {
    /// Yahoo's own `chart.error` object.
    Api { code: String, description: String },
    /// Anything else; the reason is short and meant for logs.
    Malformed(String),
}

fn malformed(reason: impl Into<String>) -> ParseError {
    ParseError::Malformed(reason.into())
}

// ---- wire types ---------------------------------------------------------------------

#[derive(Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    #[serde(default)]
    result: Option<Vec<ChartResult>>,
    #[serde(default)]
    error: Option<ApiErrorBody>,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct ChartResult {
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(default)]
    timestamp: Option<Vec<i64>>,
    #[serde(default)]
    events: Option<Events>,
    #[serde(default)]
    indicators: Option<Indicators>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    exchange_timezone_name: Option<String>,
    #[serde(default)]
    gmtoffset: Option<i32>,
}

#[derive(Deserialize)]
struct Events {
    #[serde(default)]
    splits: Option<BTreeMap<String, SplitEvent>>,
    #[serde(default)]
    dividends: Option<BTreeMap<String, DividendEvent>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SplitEvent {
    date: i64,
    #[serde(default)]
    numerator: Option<f64>,
    #[serde(default)]
    denominator: Option<f64>,
    #[serde(default)]
    split_ratio: Option<String>,
}

#[derive(Deserialize)]
struct DividendEvent {
    date: i64,
    amount: f64,
}

#[derive(Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Option<Vec<Quote>>,
    #[serde(default)]
    adjclose: Option<Vec<AdjClose>>,
}

type Column = Option<Vec<Option<f64>>>;

#[derive(Deserialize)]
struct Quote {
    #[serde(default)]
    open: Column,
    #[serde(default)]
    high: Column,
    #[serde(default)]
    low: Column,
    #[serde(default)]
    close: Column,
    #[serde(default)]
    volume: Column,
}

#[derive(Deserialize)]
struct AdjClose {
    #[serde(default)]
    adjclose: Column,
}

// ---- time zone ----------------------------------------------------------------------

/// The exchange's clock: a real zone (DST-aware) or Yahoo's current fixed offset.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    fn from_meta(meta: &Meta) -> Result<Self, ParseError> {
        if let Some(tz) = meta
            .exchange_timezone_name
            .as_deref()
            .and_then(|name| name.parse::<Tz>().ok())
        {
            return Ok(Self::Named(tz));
        }
        // Unknown (or absent) zone name: Yahoo's `gmtoffset` is the offset *now*, so
        // dates are right except for bars within a few hours of midnight across a DST
        // change, which daily bars stamped at the open never are.
        meta.gmtoffset
            .and_then(FixedOffset::east_opt)
            .map(Self::Fixed)
            .ok_or_else(|| {
                malformed(format!(
                    "no usable time zone (exchangeTimezoneName {:?}, gmtoffset {:?})",
                    meta.exchange_timezone_name, meta.gmtoffset
                ))
            })
    }

    fn date(self, epoch: i64) -> Result<NaiveDate, ParseError> {
        let utc = DateTime::from_timestamp(epoch, 0)
            .ok_or_else(|| malformed(format!("timestamp {epoch} out of range")))?;
        Ok(match self {
            Self::Named(tz) => utc.with_timezone(&tz).date_naive(),
            Self::Fixed(offset) => utc.with_timezone(&offset).date_naive(),
        })
    }
}

// ---- conversion ---------------------------------------------------------------------

/// Parses a chart body and keeps the days `from..=to`.
pub(super) fn parse_chart(
    ticker: &str,
    body: &[u8],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ChartSeries, ParseError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        let mut reason = format!("not chart JSON: {e}");
        reason.truncate(200);
        ParseError::Malformed(reason)
    })?;
    if let Some(err) = envelope.chart.error {
        return Err(ParseError::Api {
            code: err.code.unwrap_or_else(|| "unknown".to_string()),
            description: err.description.unwrap_or_default(),
        });
    }
    let mut series = ChartSeries {
        ticker: ticker.to_string(),
        exchange_timezone: String::new(),
        bars: Vec::new(),
        splits: Vec::new(),
        dividends: Vec::new(),
        skipped_null_bars: 0,
    };
    // `"result": null` (or `[]`) without an error: Yahoo has nothing for the range.
    let Some(result) = envelope.chart.result.and_then(|r| r.into_iter().next()) else {
        return Ok(series);
    };
    let meta = result
        .meta
        .ok_or_else(|| malformed("result without meta"))?;
    series.exchange_timezone = meta.exchange_timezone_name.clone().unwrap_or_default();
    let zone = Zone::from_meta(&meta)?;
    let in_range = |d: NaiveDate| from <= d && d <= to;

    if let Some(events) = result.events {
        for event in events.splits.unwrap_or_default().into_values() {
            let date = zone.date(event.date)?;
            if in_range(date) {
                let (numerator, denominator) = split_ratio(&event)?;
                series.splits.push(Split {
                    date,
                    numerator,
                    denominator,
                });
            }
        }
        for event in events.dividends.unwrap_or_default().into_values() {
            let date = zone.date(event.date)?;
            if !event.amount.is_finite() || event.amount < 0.0 {
                return Err(malformed(format!(
                    "dividend amount {} on {date}",
                    event.amount
                )));
            }
            if in_range(date) {
                series.dividends.push(Dividend {
                    date,
                    amount: event.amount,
                });
            }
        }
        series.splits.sort_by_key(|s| s.date);
        series.dividends.sort_by_key(|d| d.date);
    }

    // No `timestamp`: a range without trading (weekend, holiday, before listing).
    let timestamps = result.timestamp.unwrap_or_default();
    if timestamps.is_empty() {
        return Ok(series);
    }
    let n = timestamps.len();
    let indicators = result
        .indicators
        .ok_or_else(|| malformed("timestamps without indicators"))?;
    let quote = indicators
        .quote
        .and_then(|q| q.into_iter().next())
        .ok_or_else(|| malformed("timestamps without indicators.quote[0]"))?;
    let column = |name: &str, col: Column| -> Result<Vec<Option<f64>>, ParseError> {
        let col = col.ok_or_else(|| malformed(format!("quote.{name} missing")))?;
        if col.len() != n {
            return Err(malformed(format!(
                "quote.{name} has {} entries for {n} timestamps",
                col.len()
            )));
        }
        Ok(col)
    };
    let open = column("open", quote.open)?;
    let high = column("high", quote.high)?;
    let low = column("low", quote.low)?;
    let close = column("close", quote.close)?;
    let volume = column("volume", quote.volume)?;
    let adjclose = match indicators
        .adjclose
        .and_then(|a| a.into_iter().next())
        .and_then(|a| a.adjclose)
    {
        Some(col) if col.len() != n => {
            return Err(malformed(format!(
                "adjclose has {} entries for {n} timestamps",
                col.len()
            )))
        }
        other => other,
    };

    let price = |v: Option<f64>| v.filter(|p| p.is_finite() && *p > 0.0);
    let mut by_date: BTreeMap<NaiveDate, DailyBar> = BTreeMap::new();
    for (i, &ts) in timestamps.iter().enumerate() {
        let date = zone.date(ts)?;
        if !in_range(date) {
            continue;
        }
        let (Some(o), Some(h), Some(l), Some(c), Some(v)) = (
            price(open[i]),
            price(high[i]),
            price(low[i]),
            price(close[i]),
            volume[i].filter(|v| v.is_finite() && *v >= 0.0),
        ) else {
            series.skipped_null_bars += 1;
            continue;
        };
        let adjusted_close = adjclose.as_ref().and_then(|a| price(a[i])).unwrap_or(c);
        // Later entries for the same date replace earlier ones (the live bar).
        by_date.insert(
            date,
            DailyBar {
                date,
                open: o,
                high: h,
                low: l,
                close: c,
                adjusted_close,
                volume: v.round() as i64,
            },
        );
    }
    series.bars = by_date.into_values().collect();
    Ok(series)
}

/// `numerator`/`denominator` when Yahoo sends them, else parsed from `splitRatio`
/// ("4:1", "3/2").
fn split_ratio(event: &SplitEvent) -> Result<(f64, f64), ParseError> {
    let parsed = match (event.numerator, event.denominator) {
        (Some(n), Some(d)) => Some((n, d)),
        _ => event.split_ratio.as_deref().and_then(|r| {
            let (n, d) = r.split_once([':', '/'])?;
            Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
        }),
    };
    match parsed {
        Some((n, d)) if n.is_finite() && d.is_finite() && n > 0.0 && d > 0.0 => Ok((n, d)),
        _ => Err(malformed(format!(
            "split at {} has no usable ratio ({:?}/{:?}, {:?})",
            event.date, event.numerator, event.denominator, event.split_ratio
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Wraps a result object in Yahoo's envelope.
    fn body(result: &str) -> Vec<u8> {
        format!(r#"{{"chart":{{"result":[{result}],"error":null}}}}"#).into_bytes()
    }

    const META_NY: &str =
        r#""meta":{"exchangeTimezoneName":"America/New_York","gmtoffset":-18000}"#;

    fn parse(b: &[u8]) -> Result<ChartSeries, ParseError> {
        parse_chart("T", b, d(2000, 1, 1), d(2100, 1, 1))
    }

    #[test]
    fn converts_a_small_series() {
        // 2021-03-12 (EST) and 2021-03-15 (EDT) at 09:30 New York.
        let b = body(&format!(
            r#"{{{META_NY},"timestamp":[1615559400,1615815000],
               "indicators":{{"quote":[{{"open":[1,2],"high":[3,4],"low":[0.5,1.5],
               "close":[2,3],"volume":[100,0]}}],"adjclose":[{{"adjclose":[1.9,2.9]}}]}}}}"#
        ));
        let s = parse(&b).unwrap();
        assert_eq!(s.exchange_timezone, "America/New_York");
        assert_eq!(s.skipped_null_bars, 0);
        assert_eq!(
            s.bars,
            vec![
                DailyBar {
                    date: d(2021, 3, 12),
                    open: 1.0,
                    high: 3.0,
                    low: 0.5,
                    close: 2.0,
                    adjusted_close: 1.9,
                    volume: 100
                },
                DailyBar {
                    date: d(2021, 3, 15),
                    open: 2.0,
                    high: 4.0,
                    low: 1.5,
                    close: 3.0,
                    adjusted_close: 2.9,
                    volume: 0
                },
            ]
        );
    }

    #[test]
    fn null_prices_or_volume_skip_the_bar_and_are_counted() {
        let b = body(&format!(
            r#"{{{META_NY},"timestamp":[1615559400,1615815000,1615901400,1615987800],
               "indicators":{{"quote":[{{"open":[1,null,2,2],"high":[3,4,4,4],"low":[0.5,1,1,1],
               "close":[2,3,null,3],"volume":[100,5,5,null]}}]}}}}"#
        ));
        let s = parse(&b).unwrap();
        assert_eq!(s.skipped_null_bars, 3);
        assert_eq!(s.bars.len(), 1);
        assert_eq!(s.bars[0].date, d(2021, 3, 12));
        // No adjclose array at all: adjusted close falls back to the close.
        assert_eq!(s.bars[0].adjusted_close, 2.0);
    }

    #[test]
    fn null_adjclose_falls_back_to_close() {
        let b = body(&format!(
            r#"{{{META_NY},"timestamp":[1615559400],
               "indicators":{{"quote":[{{"open":[1],"high":[3],"low":[0.5],"close":[2],"volume":[7]}}],
               "adjclose":[{{"adjclose":[null]}}]}}}}"#
        ));
        assert_eq!(parse(&b).unwrap().bars[0].adjusted_close, 2.0);
    }

    #[test]
    fn duplicate_date_keeps_the_last_entry_and_output_is_sorted() {
        // 2021-03-15 09:30 EDT, then 2021-03-12 09:30, then 2021-03-15 15:00 EDT (live bar).
        let b = body(&format!(
            r#"{{{META_NY},"timestamp":[1615815000,1615559400,1615834800],
               "indicators":{{"quote":[{{"open":[1,1,1],"high":[2,2,2],"low":[1,1,1],
               "close":[1.5,1.2,1.8],"volume":[10,10,20]}}]}}}}"#
        ));
        let s = parse(&b).unwrap();
        let got: Vec<_> = s.bars.iter().map(|b| (b.date, b.close)).collect();
        assert_eq!(got, vec![(d(2021, 3, 12), 1.2), (d(2021, 3, 15), 1.8)]);
    }

    #[test]
    fn dates_are_exchange_local_and_unknown_zone_falls_back_to_gmtoffset() {
        // 2020-01-02 09:00 Jakarta = 2020-01-02 02:00 UTC = 2020-01-01 21:00 New York.
        let quote = r#""indicators":{"quote":[{"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}]}"#;
        let b = body(&format!(
            r#"{{"meta":{{"exchangeTimezoneName":"Asia/Jakarta","gmtoffset":25200}},"timestamp":[1577930400],{quote}}}"#
        ));
        assert_eq!(parse(&b).unwrap().bars[0].date, d(2020, 1, 2));
        let b = body(&format!(
            r#"{{"meta":{{"exchangeTimezoneName":"Mars/Olympus","gmtoffset":25200}},"timestamp":[1577930400],{quote}}}"#
        ));
        let s = parse(&b).unwrap();
        assert_eq!(s.bars[0].date, d(2020, 1, 2));
        assert_eq!(s.exchange_timezone, "Mars/Olympus");
        let b = body(&format!(
            r#"{{"meta":{{}},"timestamp":[1577930400],{quote}}}"#
        ));
        assert!(matches!(parse(&b), Err(ParseError::Malformed(_))));
    }

    #[test]
    fn range_filter_applies_to_bars_and_events() {
        let b = body(&format!(
            r#"{{{META_NY},"timestamp":[1615559400,1615815000],
               "events":{{"dividends":{{"1615559400":{{"amount":0.5,"date":1615559400}}}},
                          "splits":{{"1615815000":{{"date":1615815000,"splitRatio":"3:2"}}}}}},
               "indicators":{{"quote":[{{"open":[1,null],"high":[1,1],"low":[1,1],"close":[1,1],"volume":[1,1]}}]}}}}"#
        ));
        let s = parse_chart("T", &b, d(2021, 3, 13), d(2021, 3, 20)).unwrap();
        assert!(s.bars.is_empty());
        assert_eq!(
            s.skipped_null_bars, 1,
            "only nulls inside the range are counted"
        );
        assert!(s.dividends.is_empty());
        assert_eq!(
            s.splits,
            vec![Split {
                date: d(2021, 3, 15),
                numerator: 3.0,
                denominator: 2.0
            }]
        );
        let s = parse_chart("T", &b, d(2021, 3, 12), d(2021, 3, 12)).unwrap();
        assert_eq!(
            s.dividends,
            vec![Dividend {
                date: d(2021, 3, 12),
                amount: 0.5
            }]
        );
        assert!(s.splits.is_empty());
    }

    #[test]
    fn empty_answers_are_empty_series() {
        let s = parse(br#"{"chart":{"result":null,"error":null}}"#).unwrap();
        assert!(s.bars.is_empty() && s.exchange_timezone.is_empty());
        let s = parse(&body(&format!(
            r#"{{{META_NY},"indicators":{{"quote":[{{}}]}}}}"#
        )))
        .unwrap();
        assert!(s.bars.is_empty());
        assert_eq!(s.exchange_timezone, "America/New_York");
        let s = parse(&body(&format!(
            r#"{{{META_NY},"timestamp":[],"indicators":{{"quote":[{{}}]}}}}"#
        )))
        .unwrap();
        assert!(s.bars.is_empty());
    }

    #[test]
    fn error_object_is_reported() {
        let r = parse(br#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#);
        assert_eq!(
            r,
            Err(ParseError::Api {
                code: "Not Found".into(),
                description: "No data found, symbol may be delisted".into()
            })
        );
    }

    #[test]
    fn malformed_bodies() {
        let cases: Vec<Vec<u8>> = vec![
            b"<html>Will be right back</html>".to_vec(),
            b"{}".to_vec(),
            br#"{"chart":{"result":[{"timestamp":[1]}]}}"#.to_vec(),
            body(&format!(r#"{{{META_NY},"timestamp":[1615559400]}}"#)),
            body(&format!(
                r#"{{{META_NY},"timestamp":[1615559400],"indicators":{{"quote":[{{"open":[1],"high":[1],"low":[1],"close":[1]}}]}}}}"#
            )),
            body(&format!(
                r#"{{{META_NY},"timestamp":[1615559400,1615815000],"indicators":{{"quote":[{{"open":[1,1],"high":[1,1],"low":[1,1],"close":[1],"volume":[1,1]}}]}}}}"#
            )),
            body(&format!(
                r#"{{{META_NY},"timestamp":[1615559400],"indicators":{{"quote":[{{"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}}],"adjclose":[{{"adjclose":[1,2]}}]}}}}"#
            )),
            body(&format!(
                r#"{{{META_NY},"timestamp":[1615559400],"events":{{"splits":{{"1":{{"date":1615559400,"numerator":4,"denominator":0}}}}}},"indicators":{{"quote":[{{"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}}]}}}}"#
            )),
            body(&format!(r#"{{{META_NY},"timestamp":["x"]}}"#)),
        ];
        for (i, b) in cases.iter().enumerate() {
            match parse(b) {
                Err(ParseError::Malformed(reason)) => assert!(reason.len() <= 200, "{reason}"),
                other => panic!("case {i}: expected Malformed, got {other:?}"),
            }
        }
    }

    #[test]
    fn split_ratio_from_fields_or_string() {
        let ev = |n, dd, r: Option<&str>| SplitEvent {
            date: 0,
            numerator: n,
            denominator: dd,
            split_ratio: r.map(str::to_string),
        };
        assert_eq!(
            split_ratio(&ev(Some(4.0), Some(1.0), Some("4:1"))),
            Ok((4.0, 1.0))
        );
        assert_eq!(split_ratio(&ev(None, None, Some("1:10"))), Ok((1.0, 10.0)));
        assert_eq!(split_ratio(&ev(None, None, Some("3/2"))), Ok((3.0, 2.0)));
        assert!(split_ratio(&ev(None, None, Some("x"))).is_err());
        assert!(split_ratio(&ev(None, None, None)).is_err());
    }
}
