//! Yahoo chart client against a local wiremock server: recorded real responses
//! (tests/fixtures/yahoo_chart, see SOURCES.md there) and injected failures.
//! No database or other service is needed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::{json, Value};
use shared::adapters::yahoo::{
    ChartSeries, Dividend, Split, YahooClient, YahooError, YahooSettings,
};
use shared::core::DailyBar;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER_AGENT: &str = "tft-trader-integration-tests";
const MAX_RETRIES: usize = 3;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/yahoo_chart")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn push(array: &mut Value, value: Value) {
    array.as_array_mut().expect("a JSON array").push(value);
}

const AAPL_2020: &str = "chart-AAPL-2020-08-31-to-2020-11-07.body.json";
const AAPL_WEEKEND_1M: &str =
    "chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.body.json";
const MSFT_2021: &str =
    "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json";
const NVDA_2021: &str = "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.body.json";
const TSLA_ALL: &str = "historical-via-chart-dividends-TSLA-no-dividends.body.json";
const WSKT_2020: &str = "chart-WSKT.JK-2020-01-01-to-2020-01-03.body.json";

/// Fast settings: tiny backoff so retry tests take milliseconds.
fn settings(server: &MockServer) -> YahooSettings {
    YahooSettings {
        base_url: server.uri(),
        user_agent: USER_AGENT.to_string(),
        request_timeout: Duration::from_secs(5),
        max_retries: MAX_RETRIES,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
    }
}

fn client(server: &MockServer) -> YahooClient {
    YahooClient::new(settings(server)).unwrap()
}

fn json_body(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/json;charset=utf-8")
}

fn chart_path(ticker: &str) -> String {
    format!("/v8/finance/chart/{ticker}")
}

/// A server answering `ticker` with `body` exactly once, checking the fixed parameters.
async fn serve_once(ticker: &str, body: Vec<u8>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(chart_path(ticker)))
        .and(query_param("interval", "1d"))
        .and(query_param("events", "div,split"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(json_body(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn assert_well_ordered(series: &ChartSeries) {
    for pair in series.bars.windows(2) {
        assert!(
            pair[0].date < pair[1].date,
            "{:?} then {:?}",
            pair[0].date,
            pair[1].date
        );
    }
    for bar in &series.bars {
        assert!(
            !matches!(bar.date.weekday(), Weekday::Sat | Weekday::Sun),
            "{}",
            bar.date
        );
        assert!(bar.open > 0.0 && bar.high > 0.0 && bar.low > 0.0 && bar.close > 0.0);
    }
}

fn bar_on(series: &ChartSeries, date: NaiveDate) -> DailyBar {
    *series
        .bars
        .iter()
        .find(|b| b.date == date)
        .unwrap_or_else(|| panic!("no bar on {date}"))
}

/// serde_json without its `float_roundtrip` feature may parse a 17-digit price one ulp
/// away from the correctly rounded value: compare prices to a relative 1e-14.
fn assert_price(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= expected.abs() * 1e-14,
        "price {actual} != {expected}"
    );
}

fn assert_bar(actual: &DailyBar, expected: DailyBar) {
    assert_eq!(
        (actual.date, actual.volume),
        (expected.date, expected.volume),
        "{actual:?}"
    );
    assert_price(actual.open, expected.open);
    assert_price(actual.high, expected.high);
    assert_price(actual.low, expected.low);
    assert_price(actual.close, expected.close);
    assert_price(actual.adjusted_close, expected.adjusted_close);
}

// ---- recorded responses ---------------------------------------------------------------

#[tokio::test]
async fn tsla_full_history_from_the_ipo() {
    let server = MockServer::start().await;
    // The window asked of Yahoo: 2010-06-29 00:00 EDT .. 2023-08-11 23:59:59 EDT.
    Mock::given(method("GET"))
        .and(path(chart_path("TSLA")))
        .and(query_param("period1", "1277784000"))
        .and(query_param("period2", "1691812799"))
        .respond_with(json_body(fixture(TSLA_ALL)))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(&server)
        .fetch_daily("TSLA", d(2010, 6, 29), d(2023, 8, 11))
        .await
        .unwrap();

    assert_eq!(s.ticker, "TSLA");
    assert_eq!(s.exchange_timezone, "America/New_York");
    assert_eq!(s.bars.len(), 3303);
    assert_eq!(s.skipped_null_bars, 0);
    assert_well_ordered(&s);
    // IPO day, split-adjusted by the 2020 (5:1) and 2022 (3:1) splits.
    assert_bar(
        &s.bars[0],
        DailyBar {
            date: d(2010, 6, 29),
            open: 1.2666670083999634,
            high: 1.6666669845581055,
            low: 1.1693329811096191,
            close: 1.5926669836044312,
            adjusted_close: 1.5926669836044312,
            volume: 281_494_500,
        },
    );
    let last = s.bars.last().unwrap();
    assert_eq!((last.date, last.volume), (d(2023, 8, 11), 98_866_600));
    assert_price(last.close, 242.64999389648438);
    // The day the 5:1 split took effect: 498.32 / 3 after the 2022 split.
    assert_price(bar_on(&s, d(2020, 8, 31)).close, 166.10667419433594);
    // Around the DST changes (2022-11-06 back to EST, 2023-03-12 forward to EDT), the
    // 09:30 bars keep their New York dates.
    assert_price(bar_on(&s, d(2022, 11, 4)).close, 207.47000122070312);
    assert_price(bar_on(&s, d(2022, 11, 7)).close, 197.0800018310547);
    assert_price(bar_on(&s, d(2023, 3, 10)).close, 173.44000244140625);
    assert_price(bar_on(&s, d(2023, 3, 13)).close, 174.47999572753906);
    // Requested with events=div upstream: no events key at all.
    assert!(s.splits.is_empty() && s.dividends.is_empty());
}

#[tokio::test]
async fn bars_outside_the_asked_dates_are_dropped() {
    // Yahoo may answer with more than asked (here: the whole TSLA history).
    let server = serve_once("TSLA", fixture(TSLA_ALL)).await;
    let s = client(&server)
        .fetch_daily("TSLA", d(2023, 1, 1), d(2023, 1, 31))
        .await
        .unwrap();
    // January 2023: 22 weekdays minus New Year (observed 01-02) and MLK day (01-16).
    assert_eq!(s.bars.len(), 20);
    assert_eq!(s.bars.first().unwrap().date, d(2023, 1, 3));
    assert_eq!(s.bars.last().unwrap().date, d(2023, 1, 31));
    assert!(s.bars.iter().all(|b| b.date != d(2023, 1, 16)));
}

#[tokio::test]
async fn aapl_2020_split_dividend_and_dst() {
    let server = MockServer::start().await;
    // 2020-08-31 00:00 EDT .. 2020-11-06 23:59:59 EST: the window crosses the end of DST.
    Mock::given(method("GET"))
        .and(path(chart_path("AAPL")))
        .and(query_param("period1", "1598846400"))
        .and(query_param("period2", "1604725199"))
        .and(query_param("interval", "1d"))
        .and(query_param("events", "div,split"))
        .respond_with(json_body(fixture(AAPL_2020)))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(&server)
        .fetch_daily("AAPL", d(2020, 8, 31), d(2020, 11, 6))
        .await
        .unwrap();

    assert_eq!(s.bars.len(), 49);
    assert_well_ordered(&s);
    assert_eq!(
        s.splits,
        vec![Split {
            date: d(2020, 8, 31),
            numerator: 4.0,
            denominator: 1.0
        }]
    );
    assert_eq!(
        s.dividends,
        vec![Dividend {
            date: d(2020, 11, 6),
            amount: 0.205
        }]
    );
    assert_bar(
        &s.bars[0],
        DailyBar {
            date: d(2020, 8, 31),
            open: 127.58000183105469,
            high: 131.0,
            low: 126.0,
            close: 129.0399932861328,
            // Dividend-adjusted, so below the close.
            adjusted_close: 125.82673645019531,
            volume: 225_702_700,
        },
    );
    // Friday in EDT, Monday in EST: consecutive trading days, right dates.
    let fri = s
        .bars
        .iter()
        .position(|b| b.date == d(2020, 10, 30))
        .unwrap();
    assert_eq!(s.bars[fri + 1].date, d(2020, 11, 2));
    assert_price(s.bars[fri].close, 108.86000061035156);
    assert_price(s.bars[fri + 1].close, 108.7699966430664);
    assert_eq!(s.bars.last().unwrap().date, d(2020, 11, 6));
}

#[tokio::test]
async fn nvda_2021_four_for_one_split() {
    let server = serve_once("NVDA", fixture(NVDA_2021)).await;
    let s = client(&server)
        .fetch_daily("NVDA", d(2021, 2, 1), d(2022, 1, 31))
        .await
        .unwrap();
    assert_eq!(s.bars.len(), 252);
    assert_well_ordered(&s);
    assert_eq!(
        (s.bars[0].date, s.bars[251].date),
        (d(2021, 2, 1), d(2022, 1, 28))
    );
    assert_eq!(
        s.splits,
        vec![Split {
            date: d(2021, 7, 20),
            numerator: 4.0,
            denominator: 1.0
        }]
    );
    assert!(s.dividends.is_empty());
    // Quote prices are split-adjusted: no 4x jump across the split.
    assert_price(bar_on(&s, d(2021, 7, 19)).close, 18.77975082397461);
    assert_price(bar_on(&s, d(2021, 7, 20)).close, 18.61199951171875);
}

#[tokio::test]
async fn msft_2021_dividends() {
    let server = serve_once("MSFT", fixture(MSFT_2021)).await;
    let s = client(&server)
        .fetch_daily("MSFT", d(2021, 2, 1), d(2022, 1, 31))
        .await
        .unwrap();
    assert_eq!(s.bars.len(), 252);
    assert_well_ordered(&s);
    assert_eq!(
        s.dividends,
        vec![
            Dividend {
                date: d(2021, 2, 17),
                amount: 0.56
            },
            Dividend {
                date: d(2021, 5, 19),
                amount: 0.56
            },
            Dividend {
                date: d(2021, 8, 18),
                amount: 0.56
            },
            Dividend {
                date: d(2021, 11, 17),
                amount: 0.62
            },
        ]
    );
    assert!(s.splits.is_empty());

    // Events are filtered to the asked dates like bars.
    let server = serve_once("MSFT", fixture(MSFT_2021)).await;
    let s = client(&server)
        .fetch_daily("MSFT", d(2021, 2, 1), d(2021, 6, 30))
        .await
        .unwrap();
    assert_eq!(s.dividends.len(), 2);
    assert_eq!(s.bars.last().unwrap().date, d(2021, 6, 30));
}

#[tokio::test]
async fn dates_are_exchange_local_outside_new_york() {
    // WSKT.JK's 2020-01-02 bar is stamped 09:00 Jakarta = 2020-01-01 21:00 New York.
    let server = serve_once("WSKT.JK", fixture(WSKT_2020)).await;
    let s = client(&server)
        .fetch_daily("WSKT.JK", d(2020, 1, 1), d(2020, 1, 3))
        .await
        .unwrap();
    assert_eq!(s.exchange_timezone, "Asia/Jakarta");
    assert_eq!(s.bars.len(), 1);
    assert_eq!(s.bars[0].date, d(2020, 1, 2));
}

#[tokio::test]
async fn empty_results_are_empty_series_not_errors() {
    // Recorded: meta, no timestamp, indicators.quote = [{}] (a weekend).
    let server = serve_once("AAPL", fixture(AAPL_WEEKEND_1M)).await;
    let s = client(&server)
        .fetch_daily("AAPL", d(2025, 2, 1), d(2025, 2, 2))
        .await
        .unwrap();
    assert_eq!(s.exchange_timezone, "America/New_York");
    assert!(s.bars.is_empty() && s.splits.is_empty() && s.dividends.is_empty());
    assert_eq!(s.skipped_null_bars, 0);

    // `"result": null` without an error.
    let server = serve_once(
        "AAPL",
        br#"{"chart":{"result":null,"error":null}}"#.to_vec(),
    )
    .await;
    let s = client(&server)
        .fetch_daily("AAPL", d(2025, 2, 1), d(2025, 2, 2))
        .await
        .unwrap();
    assert!(s.bars.is_empty());
    assert_eq!(s.exchange_timezone, "");
}

#[tokio::test]
async fn null_entries_are_skipped_and_counted_and_the_live_bar_wins() {
    let mut body = fixture_json(AAPL_2020);
    let result = &mut body["chart"]["result"][0];
    // Yahoo appending the live bar: same date as the last one, later in the day.
    let last_ts = result["timestamp"][48].as_i64().unwrap();
    push(&mut result["timestamp"], json!(last_ts + 5 * 3600));
    let adjclose = &mut result["indicators"]["adjclose"][0]["adjclose"];
    adjclose[4] = Value::Null; // 2020-09-04
    push(adjclose, json!(119.4));
    let quote = &mut result["indicators"]["quote"][0];
    quote["close"][1] = Value::Null; // 2020-09-01
    quote["open"][2] = Value::Null; // 2020-09-02
    quote["volume"][3] = Value::Null; // 2020-09-03: prices but no volume
    let live = [
        ("open", 118.5),
        ("high", 119.9),
        ("low", 116.0),
        ("close", 119.5),
    ];
    for (key, value) in live {
        push(&mut quote[key], json!(value));
    }
    push(&mut quote["volume"], json!(120_000_000));

    let server = serve_once("AAPL", serde_json::to_vec(&body).unwrap()).await;
    let s = client(&server)
        .fetch_daily("AAPL", d(2020, 8, 31), d(2020, 11, 6))
        .await
        .unwrap();
    assert_eq!(s.skipped_null_bars, 3);
    assert_eq!(s.bars.len(), 49 - 3);
    assert_well_ordered(&s);
    for missing in [d(2020, 9, 1), d(2020, 9, 2), d(2020, 9, 3)] {
        assert!(s.bars.iter().all(|b| b.date != missing), "{missing} kept");
    }
    let sep4 = bar_on(&s, d(2020, 9, 4));
    assert_eq!(
        sep4.adjusted_close, sep4.close,
        "null adjclose falls back to close"
    );
    assert_eq!(
        *s.bars.last().unwrap(),
        DailyBar {
            date: d(2020, 11, 6),
            open: 118.5,
            high: 119.9,
            low: 116.0,
            close: 119.5,
            adjusted_close: 119.4,
            volume: 120_000_000,
        }
    );
}

#[tokio::test]
async fn ticker_is_one_percent_encoded_path_segment() {
    let empty = br#"{"chart":{"result":null,"error":null}}"#;
    let server = serve_once("BRK-B", empty.to_vec()).await;
    client(&server)
        .fetch_daily("BRK-B", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap();
    let server = serve_once("A%2FB%3F", empty.to_vec()).await;
    client(&server)
        .fetch_daily("A/B?", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap();
}

// ---- Yahoo errors -------------------------------------------------------------------

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("ZZZZQ")))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
            "application/json;charset=utf-8",
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .fetch_daily("ZZZZQ", d(2024, 1, 2), d(2024, 1, 5))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        YahooError::NotFound {
            ticker: "ZZZZQ".into(),
            code: "Not Found".into(),
            description: "No data found, symbol may be delisted".into(),
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn other_client_errors_are_api_errors_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"chart":{"result":null,"error":{"code":"Bad Request","description":"Data doesn't exist for startDate = 1704171600, endDate = 1704257999"}}}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(path(chart_path("MSFT")))
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .mount(&server)
        .await;
    let yahoo = client(&server);

    let err = yahoo
        .fetch_daily("AAPL", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, YahooError::Api { status: 400, code, description, .. }
            if code == "Bad Request" && description.starts_with("Data doesn't exist")),
        "{err:?}"
    );
    let err = yahoo
        .fetch_daily("MSFT", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, YahooError::Api { status: 401, code, description, .. }
            if code == "Unauthorized" && description == "Unauthorized"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(requests(&server).await, 2, "one request each, no retry");
}

// ---- injected failures --------------------------------------------------------------

#[tokio::test]
async fn rate_limited_twice_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(json_body(fixture(AAPL_2020)))
        .mount(&server)
        .await;
    // Spawned: the future is Send and the client clones into a task, as in the job.
    let yahoo = client(&server);
    let s = tokio::spawn(async move {
        yahoo
            .fetch_daily("AAPL", d(2020, 8, 31), d(2020, 11, 6))
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(s.bars.len(), 49);
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn rate_limited_every_time_gives_up_and_caps_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client(&server)
        .fetch_daily("AAPL", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        YahooError::RateLimited {
            ticker: "AAPL".into(),
            attempts: MAX_RETRIES + 1
        }
    );
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, MAX_RETRIES + 1);
    // Retry-After: 30 honoured only up to max_backoff (10 ms here).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_retry_then_fail_with_the_status() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&server)
        .await;
    let err = client(&server)
        .fetch_daily("AAPL", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        YahooError::Server {
            ticker: "AAPL".into(),
            status: 500,
            attempts: MAX_RETRIES + 1
        }
    );
    assert_eq!(requests(&server).await, MAX_RETRIES + 1);
}

#[tokio::test]
async fn a_transient_server_error_is_absorbed() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("NVDA")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(chart_path("NVDA")))
        .respond_with(json_body(fixture(NVDA_2021)))
        .mount(&server)
        .await;
    let s = client(&server)
        .fetch_daily("NVDA", d(2021, 7, 1), d(2021, 7, 31))
        .await
        .unwrap();
    assert_eq!(s.splits.len(), 1);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn slow_responses_time_out_after_retries() {
    let server = MockServer::start().await;
    Mock::given(path(chart_path("AAPL")))
        .respond_with(json_body(fixture(AAPL_2020)).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let yahoo = YahooClient::new(YahooSettings {
        request_timeout: Duration::from_millis(150),
        max_retries: 1,
        ..settings(&server)
    })
    .unwrap();
    let started = Instant::now();
    let err = yahoo
        .fetch_daily("AAPL", d(2020, 8, 31), d(2020, 11, 6))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        YahooError::Timeout {
            ticker: "AAPL".into(),
            attempts: 2
        }
    );
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await, 2);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_after_retries() {
    // A port nobody listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yahoo = YahooClient::new(YahooSettings {
        base_url: format!("http://127.0.0.1:{port}"),
        user_agent: USER_AGENT.into(),
        request_timeout: Duration::from_secs(2),
        max_retries: 2,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    })
    .unwrap();
    let err = yahoo
        .fetch_daily("AAPL", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, YahooError::Transport { attempts: 3, message, .. } if !message.is_empty()),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn malformed_bodies_fail_once_without_retry() {
    let mut unequal = fixture_json(AAPL_2020);
    unequal["chart"]["result"][0]["indicators"]["quote"][0]["close"]
        .as_array_mut()
        .unwrap()
        .pop();
    let mut no_quote = fixture_json(AAPL_2020);
    no_quote["chart"]["result"][0]["indicators"]
        .as_object_mut()
        .unwrap()
        .remove("quote");
    let mut no_meta = fixture_json(AAPL_2020);
    no_meta["chart"]["result"][0]
        .as_object_mut()
        .unwrap()
        .remove("meta");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not JSON",
            b"<html><body>Will be right back...</body></html>".to_vec(),
            "not chart JSON",
        ),
        (
            "truncated JSON",
            fixture(AAPL_2020)[..3000].to_vec(),
            "not chart JSON",
        ),
        (
            "no chart key",
            br#"{"finance":{"result":null}}"#.to_vec(),
            "not chart JSON",
        ),
        ("no quote", serde_json::to_vec(&no_quote).unwrap(), "quote"),
        ("no meta", serde_json::to_vec(&no_meta).unwrap(), "meta"),
        (
            "arrays of different lengths",
            serde_json::to_vec(&unequal).unwrap(),
            "48 entries for 49",
        ),
    ];
    for (name, body, reason_part) in cases {
        let server = MockServer::start().await;
        Mock::given(path(chart_path("AAPL")))
            .respond_with(json_body(body))
            .mount(&server)
            .await;
        let err = client(&server)
            .fetch_daily("AAPL", d(2020, 8, 31), d(2020, 11, 6))
            .await
            .unwrap_err();
        match &err {
            YahooError::Malformed { ticker, reason } => {
                assert_eq!(ticker, "AAPL");
                assert!(reason.contains(reason_part), "{name}: {reason}");
            }
            other => panic!("{name}: expected Malformed, got {other:?}"),
        }
        assert!(!err.is_retryable());
        assert_eq!(requests(&server).await, 1, "{name}: retried");
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = MockServer::start().await;
    let yahoo = client(&server);
    let err = yahoo
        .fetch_daily("AAPL", d(2024, 1, 5), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, YahooError::InvalidRequest { .. }), "{err:?}");
    let err = yahoo
        .fetch_daily(" ", d(2024, 1, 2), d(2024, 1, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, YahooError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(requests(&server).await, 0);
}
