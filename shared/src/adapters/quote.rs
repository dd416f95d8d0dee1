//! The live quote the 15-minute monitor reads: Yahoo's v8 chart endpoint with
//! `range=1d&interval=1d`, whose `meta` carries `regularMarketPrice`,
//! `regularMarketDayHigh`, `regularMarketDayLow` and `regularMarketTime` (recorded
//! answers: `tests/fixtures/yahoo_chart/`). The day's open is the first bar's open when
//! the answer's one bar is dated the quote's New York day; otherwise unknown.
//!
//! The request and its retries are [`YahooClient`]'s one chart path (429, 5xx, timeouts,
//! transport errors; jittered exponential backoff, `Retry-After`), so the quote is fetched
//! exactly as the daily bars are, with the same [`YahooSettings`] and [`YahooError`].

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use super::yahoo::{http_error, YahooClient, YahooError, YahooSettings};
use crate::core::calendar::new_york_date;
use crate::core::exits::IntradayQuote;

/// Client of the live quote. Cheap to clone; build once per container.
#[derive(Debug, Clone)]
pub struct QuoteClient {
    yahoo: YahooClient,
}

#[derive(Deserialize)]
struct Body {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct ChartResult {
    meta: Meta,
    timestamp: Option<Vec<i64>>,
    indicators: Option<Indicators>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    symbol: Option<String>,
    regular_market_price: Option<f64>,
    regular_market_day_high: Option<f64>,
    regular_market_day_low: Option<f64>,
    regular_market_time: Option<i64>,
}

#[derive(Deserialize)]
struct Indicators {
    quote: Option<Vec<QuoteArrays>>,
}

#[derive(Deserialize)]
struct QuoteArrays {
    open: Option<Vec<Option<f64>>>,
}

fn positive(x: Option<f64>) -> Option<f64> {
    x.filter(|v| *v > 0.0 && v.is_finite())
}

/// The quote in a chart answer (`ticker` as asked).
pub fn parse_quote(ticker: &str, body: &[u8]) -> Result<IntradayQuote, YahooError> {
    let malformed = |reason: String| YahooError::Malformed {
        ticker: ticker.to_string(),
        reason,
    };
    let body: Body =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not chart JSON: {e}")))?;
    if let Some(e) = body.chart.error {
        return Err(YahooError::Api {
            ticker: ticker.to_string(),
            status: 200,
            code: e.code.unwrap_or_default(),
            description: e.description.unwrap_or_default(),
        });
    }
    let result = body
        .chart
        .result
        .and_then(|r| r.into_iter().next())
        .ok_or_else(|| malformed("no chart result".into()))?;
    let meta = result.meta;
    if let Some(symbol) = &meta.symbol {
        if !symbol.eq_ignore_ascii_case(ticker) {
            return Err(malformed(format!("answer is for {symbol}")));
        }
    }
    let last = positive(meta.regular_market_price)
        .ok_or_else(|| malformed("no meta.regularMarketPrice".into()))?;
    let at = meta
        .regular_market_time
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .ok_or_else(|| malformed("no meta.regularMarketTime".into()))?;
    let day_high = positive(meta.regular_market_day_high)
        .unwrap_or(last)
        .max(last);
    let day_low = positive(meta.regular_market_day_low)
        .unwrap_or(last)
        .min(last);
    let day = new_york_date(at);
    let day_open = match (&result.timestamp, &result.indicators) {
        (Some(ts), Some(ind)) if ts.len() == 1 => {
            let same_day =
                DateTime::<Utc>::from_timestamp(ts[0], 0).is_some_and(|t| new_york_date(t) == day);
            let open = ind
                .quote
                .as_ref()
                .and_then(|q| q.first())
                .and_then(|q| q.open.as_ref())
                .and_then(|o| o.first().copied().flatten());
            if same_day {
                positive(open)
            } else {
                None
            }
        }
        _ => None,
    };
    Ok(IntradayQuote {
        at,
        last,
        day_open,
        day_high,
        day_low,
    })
}

impl QuoteClient {
    pub fn new(settings: YahooSettings) -> Result<Self, YahooError> {
        Ok(Self {
            yahoo: YahooClient::new(settings)?,
        })
    }

    /// The current quote of `ticker`.
    #[tracing::instrument(skip(self), fields(ticker = %ticker))]
    pub async fn quote(&self, ticker: &str) -> Result<IntradayQuote, YahooError> {
        let query = [("range", "1d".to_string()), ("interval", "1d".to_string())];
        self.yahoo
            .get_chart(ticker, &query, |status, body| {
                read_quote(ticker, status, body)
            })
            .await
    }
}

/// The quote in an answer that was not a 429 or 5xx.
fn read_quote(ticker: &str, status: StatusCode, body: &[u8]) -> Result<IntradayQuote, YahooError> {
    if !status.is_success() {
        return Err(http_error(ticker, status, body));
    }
    parse_quote(ticker, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `meta` of the recorded live answer for AAPL (tests/fixtures/yahoo_chart/
    /// quote-AAPL-2025-03-24.body.json, trimmed to the fields read here).
    const LIVE: &str = r#"{"chart":{"result":[{"meta":{"symbol":"AAPL","regularMarketTime":1742824293,
        "regularMarketPrice":220.003,"regularMarketDayHigh":221.021,"regularMarketDayLow":218.58},
        "timestamp":[1645540200],"indicators":{"quote":[{"open":[164.97]}]}}],"error":null}}"#;

    #[test]
    fn quote_reads_meta_and_ignores_a_bar_of_another_day() {
        let q = parse_quote("AAPL", LIVE.as_bytes()).unwrap();
        assert_eq!((q.last, q.day_high, q.day_low), (220.003, 221.021, 218.58));
        assert_eq!(q.at.to_rfc3339(), "2025-03-24T13:51:33+00:00");
        assert_eq!(q.day_open, None, "the bar is from 2022-02-22");
    }

    #[test]
    fn quote_takes_the_open_of_todays_bar() {
        let body = LIVE.replace("1645540200", "1742823000");
        let q = parse_quote("AAPL", body.as_bytes()).unwrap();
        assert_eq!(q.day_open, Some(164.97));
    }

    #[test]
    fn quote_refuses_another_symbol_and_a_missing_price() {
        assert!(matches!(
            parse_quote("MSFT", LIVE.as_bytes()),
            Err(YahooError::Malformed { .. })
        ));
        let no_price = LIVE.replace("\"regularMarketPrice\":220.003,", "");
        assert!(matches!(
            parse_quote("AAPL", no_price.as_bytes()),
            Err(YahooError::Malformed { .. })
        ));
        let err = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        assert!(matches!(
            parse_quote("ZZZZ", err.as_bytes()),
            Err(YahooError::Api { .. })
        ));
    }
}
