//! HTTP side: building the request, classifying the answer, retrying transient failures.

use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::America::New_York;
use reqwest::{StatusCode, Url};

use super::chart::{parse_chart, ChartSeries, ParseError};
use super::error::YahooError;
use crate::adapters::http_retry::{self, error_chain, retry_after, with_retries, Backoff};

/// How to reach Yahoo and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooSettings {
    /// Scheme and host (optionally a path prefix); `/v8/finance/chart/{ticker}` is appended.
    pub base_url: String,
    pub user_agent: String,
    /// Whole-request limit per attempt (connect, headers and body).
    pub request_timeout: Duration,
    /// Retries after the first attempt for 429, 5xx, timeouts and transport errors.
    pub max_retries: usize,
    /// First backoff delay; doubles each retry, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    /// Ceiling of any single wait, jitter and `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for YahooSettings {
    fn default() -> Self {
        Self {
            base_url: "https://query2.finance.yahoo.com".to_string(),
            user_agent: concat!(
                "tft-trader/",
                env!("CARGO_PKG_VERSION"),
                " (swing-trading signals; daily bars via the Yahoo chart API)"
            )
            .to_string(),
            request_timeout: Duration::from_secs(10),
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// Client of Yahoo's chart API. Cheap to clone (shares one connection pool); build it
/// once per Lambda container.
#[derive(Debug, Clone)]
pub struct YahooClient {
    http: reqwest::Client,
    base: Url,
    settings: YahooSettings,
}

type Failure = http_retry::Failure<YahooError>;

/// The base URL (checked: http or https) and an HTTP client with the settings' User-Agent
/// and timeouts: what every Yahoo endpoint's client is built from.
fn http_client(settings: &YahooSettings) -> Result<(reqwest::Client, Url), YahooError> {
    let config = |reason: String| YahooError::Config { reason };
    let base = Url::parse(&settings.base_url)
        .map_err(|e| config(format!("base_url {:?}: {e}", settings.base_url)))?;
    if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
        return Err(config(format!(
            "base_url {:?} is not an http(s) URL",
            settings.base_url
        )));
    }
    let http = crate::adapters::https::client_builder()
        .user_agent(settings.user_agent.clone())
        .timeout(settings.request_timeout)
        .connect_timeout(settings.request_timeout)
        .build()
        .map_err(|e| config(format!("HTTP client: {}", error_chain(&e))))?;
    Ok((http, base))
}

impl YahooClient {
    pub fn new(settings: YahooSettings) -> Result<Self, YahooError> {
        let (http, base) = http_client(&settings)?;
        Ok(Self {
            http,
            base,
            settings,
        })
    }

    /// Daily bars for trading days from..=to (exchange-local dates), with splits and dividends.
    ///
    /// An empty range (no trading day, or before the listing) is an empty series, not
    /// an error. 429, 5xx, timeouts and transport errors are retried `max_retries`
    /// times with jittered exponential backoff (a `Retry-After: <seconds>` header
    /// lengthens the wait, capped at `max_backoff`; the HTTP-date form is ignored).
    // `fields(ticker)` alone would replace the argument with an empty field: record it
    // with Display (no quotes) instead.
    #[tracing::instrument(skip(self), fields(ticker = %ticker))]
    pub async fn fetch_daily(
        &self,
        ticker: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ChartSeries, YahooError> {
        let invalid = |reason: &str| YahooError::InvalidRequest {
            ticker: ticker.to_string(),
            reason: reason.to_string(),
        };
        if ticker.trim().is_empty() {
            return Err(invalid("empty ticker"));
        }
        if from > to {
            return Err(invalid(&format!("from {from} is after to {to}")));
        }
        let (period1, period2) = request_window(from, to);
        let query = [
            ("period1", period1.to_string()),
            ("period2", period2.to_string()),
            ("interval", "1d".to_string()),
            ("events", "div,split".to_string()),
        ];
        let outcome = self
            .get_chart(ticker, &query, |status, body| {
                read_daily(ticker, status, body, from, to)
            })
            .await;

        let series = outcome?;
        tracing::debug!(
            bars = series.bars.len(),
            skipped_null_bars = series.skipped_null_bars,
            "Yahoo chart fetched"
        );
        if series.skipped_null_bars > 0 {
            tracing::warn!(
                skipped = series.skipped_null_bars,
                "Yahoo listed bars with null prices or volume; skipped"
            );
        }
        Ok(series)
    }

    /// `GET {base}/v8/finance/chart/{ticker}?query`: the one request-and-retry path of every
    /// chart call (daily bars, the live quote). 429, 5xx, timeouts and transport errors are
    /// retried `max_retries` times with jittered exponential backoff, lengthened by a
    /// `Retry-After: <seconds>` header up to `max_backoff`; any other answer goes to `read`
    /// (status and body), whose error is final. The error returned carries the attempts made.
    pub(crate) async fn get_chart<T>(
        &self,
        ticker: &str,
        query: &[(&str, String)],
        read: impl Fn(StatusCode, &[u8]) -> Result<T, YahooError>,
    ) -> Result<T, YahooError> {
        let url = self.chart_url(ticker);
        let backoff = Backoff {
            max_retries: self.settings.max_retries,
            min: self.settings.min_backoff,
            max: self.settings.max_backoff,
        };
        with_retries("Yahoo", backoff, || {
            self.attempt(&url, ticker, query, &read)
        })
        .await
    }

    /// `{base}/v8/finance/chart/{ticker}`, the ticker percent-encoded as one segment.
    fn chart_url(&self, ticker: &str) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: base_url can be a base")
            .pop_if_empty()
            .extend(["v8", "finance", "chart", ticker]);
        url
    }

    async fn attempt<T>(
        &self,
        url: &Url,
        ticker: &str,
        query: &[(&str, String)],
        read: &impl Fn(StatusCode, &[u8]) -> Result<T, YahooError>,
    ) -> Result<T, Failure> {
        let response = self
            .http
            .get(url.clone())
            .query(query)
            .send()
            .await
            .map_err(|e| transport_failure(ticker, &e))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = retry_after(response.headers());
            let error = if status == StatusCode::TOO_MANY_REQUESTS {
                YahooError::RateLimited {
                    ticker: ticker.to_string(),
                    attempts: 0,
                }
            } else {
                YahooError::Server {
                    ticker: ticker.to_string(),
                    status: status.as_u16(),
                    attempts: 0,
                }
            };
            return Err(Failure { error, retry_after });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_failure(ticker, &e))?;
        read(status, &body).map_err(Failure::from)
    }
}

/// The daily series in an answer that was not a 429 or 5xx.
fn read_daily(
    ticker: &str,
    status: StatusCode,
    body: &[u8],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ChartSeries, YahooError> {
    let api_error = |code: String, description: String| {
        if status == StatusCode::NOT_FOUND || code == "Not Found" {
            YahooError::NotFound {
                ticker: ticker.to_string(),
                code,
                description,
            }
        } else {
            YahooError::Api {
                ticker: ticker.to_string(),
                status: status.as_u16(),
                code,
                description,
            }
        }
    };
    match parse_chart(ticker, body, from, to) {
        Ok(series) if status.is_success() => Ok(series),
        Err(ParseError::Api { code, description }) => Err(api_error(code, description)),
        Err(ParseError::Malformed(reason)) if status.is_success() => Err(YahooError::Malformed {
            ticker: ticker.to_string(),
            reason,
        }),
        // A 4xx whose body is not Yahoo's error object (or, oddly, is a chart).
        _ => {
            let code = status
                .canonical_reason()
                .unwrap_or("HTTP error")
                .to_string();
            Err(api_error(code, snippet(body)))
        }
    }
}

/// A 4xx answer that is not a chart: `NotFound` for 404, `Api` otherwise.
pub(crate) fn http_error(ticker: &str, status: StatusCode, body: &[u8]) -> YahooError {
    let code = status
        .canonical_reason()
        .unwrap_or("HTTP error")
        .to_string();
    if status == StatusCode::NOT_FOUND {
        YahooError::NotFound {
            ticker: ticker.to_string(),
            code,
            description: snippet(body),
        }
    } else {
        YahooError::Api {
            ticker: ticker.to_string(),
            status: status.as_u16(),
            code,
            description: snippet(body),
        }
    }
}

/// Epoch seconds `[period1, period2]` covering exactly the dates `from..=to` in
/// New York, the project's exchange (Yahoo treats both ends as inclusive). Bars of a
/// US listing are stamped at the open, so this selects exactly the asked days; for a
/// listing whose day starts before New York midnight (Asia, Oceania) the first day can
/// fall outside. Bars are filtered again by exchange-local date after parsing.
pub(super) fn request_window(from: NaiveDate, to: NaiveDate) -> (i64, i64) {
    let midnight = |d: NaiveDate| {
        let local = d.and_time(NaiveTime::MIN);
        New_York
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp())
            // New York changes clocks at 02:00, so midnight always exists.
            .unwrap_or_else(|| local.and_utc().timestamp())
    };
    let end = to
        .succ_opt()
        .map(|next| midnight(next) - 1)
        .unwrap_or_else(|| midnight(to) + 86_399);
    (midnight(from), end)
}

fn transport_failure(ticker: &str, e: &reqwest::Error) -> Failure {
    let ticker = ticker.to_string();
    let error = if e.is_timeout() {
        YahooError::Timeout {
            ticker,
            attempts: 0,
        }
    } else if e.is_builder() {
        YahooError::InvalidRequest {
            ticker,
            reason: error_chain(e),
        }
    } else {
        YahooError::Transport {
            ticker,
            message: error_chain(e),
            attempts: 0,
        }
    };
    error.into()
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn window_is_new_york_midnight_to_last_second_of_to() {
        // 2020-08-31 00:00 EDT = 04:00 UTC; 2020-11-07 00:00 EST = 05:00 UTC (DST ended
        // 2020-11-01 inside the range).
        assert_eq!(
            request_window(d(2020, 8, 31), d(2020, 11, 6)),
            (1_598_846_400, 1_604_725_199)
        );
        // One winter day: 2021-01-04 05:00 UTC .. 2021-01-05 04:59:59 UTC.
        assert_eq!(
            request_window(d(2021, 1, 4), d(2021, 1, 4)),
            (1_609_736_400, 1_609_822_799)
        );
    }

    #[test]
    fn chart_url_encodes_the_ticker_and_keeps_a_path_prefix() {
        let client = |base: &str| {
            YahooClient::new(YahooSettings {
                base_url: base.to_string(),
                ..YahooSettings::default()
            })
            .unwrap()
        };
        let c = client("https://query2.finance.yahoo.com");
        assert_eq!(
            c.chart_url("BRK-B").as_str(),
            "https://query2.finance.yahoo.com/v8/finance/chart/BRK-B"
        );
        assert_eq!(
            c.chart_url("A/B?c#d").as_str(),
            "https://query2.finance.yahoo.com/v8/finance/chart/A%2FB%3Fc%23d"
        );
        let c = client("http://127.0.0.1:9/proxy/");
        assert_eq!(
            c.chart_url("MSFT").as_str(),
            "http://127.0.0.1:9/proxy/v8/finance/chart/MSFT"
        );
    }

    #[test]
    fn bad_base_url_is_a_config_error() {
        for base in ["not a url", "mailto:x@y.z", "ftp://example.com"] {
            let r = YahooClient::new(YahooSettings {
                base_url: base.to_string(),
                ..YahooSettings::default()
            });
            assert!(matches!(r, Err(YahooError::Config { .. })), "{base}");
        }
    }

    #[test]
    fn snippet_is_short() {
        assert_eq!(snippet(b"  short  "), "short");
        let long = "x".repeat(500);
        assert_eq!(snippet(long.as_bytes()).len(), 163);
    }
}
