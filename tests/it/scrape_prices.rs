//! The scrape-prices handler end to end: recorded Yahoo responses through wiremock,
//! a fresh PostgreSQL database, and `prices.updated` on an EventBridge bus in moto.

use std::time::Duration;

use chrono::NaiveDate;
use integration_tests::{eventbridge_client, read_fixture, CapturedBus, TestDb};
use serde_json::{json, Value};
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::yahoo::{YahooClient, YahooSettings};
use shared::config::PriceJobConfig;
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::{FetchWindow, ScrapePrices, PRICES_UPDATED};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::price_store::table_fingerprint;

const TSLA: &str = "yahoo_chart/historical-via-chart-dividends-TSLA-no-dividends.body.json";
const MSFT: &str =
    "yahoo_chart/historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json";
const NVDA: &str =
    "yahoo_chart/historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.body.json";

pub(crate) async fn serve(server: &MockServer, ticker: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{ticker}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(server)
        .await;
}

fn job(test_db: &TestDb, yahoo: &MockServer, watchlist: &[&str]) -> ScrapePrices {
    let yahoo = YahooClient::new(YahooSettings {
        base_url: yahoo.uri(),
        request_timeout: Duration::from_secs(5),
        max_retries: 1,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..YahooSettings::default()
    })
    .unwrap();
    let config = PriceJobConfig {
        watchlist: watchlist.iter().map(|s| s.to_string()).collect(),
        concurrency: 3,
        overlap_days: 7,
        initial_history_days: 20 * 366,
        // The recorded responses have no SPY; the benchmark's own test sets it.
        benchmark: None,
        ..PriceJobConfig::default()
    };
    ScrapePrices::new(test_db.pool.clone(), yahoo, config)
}

fn scheduled_event(time: &str) -> DailyRun {
    DailyRun::from_event(&json!({
        "version": "0", "id": "d32c5kddcf5bb8c3", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "time": time, "detail": {}
    }))
    .unwrap()
}

async fn count_rows(test_db: &TestDb, ticker: &str) -> i64 {
    let client = test_db.pool.get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM stock_prices WHERE ticker = $1",
            &[&ticker],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn same_event_twice_gives_the_same_table_and_a_failing_ticker_fails_alone() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    serve(&yahoo, "TSLA", read_fixture(TSLA)).await;
    serve(&yahoo, "MSFT", read_fixture(MSFT)).await;
    serve(&yahoo, "NVDA", read_fixture(NVDA)).await;
    // A permanent failure (a retryable one fails the run: the test below).
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/BROKE"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&yahoo)
        .await;

    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = job(&test_db, &yahoo, &["TSLA", "msft", "NVDA", "BROKE"]).with_events(Some(
        EventPublisher::new(eventbridge.clone(), bus.bus_name.clone()),
    ));
    // 16:30 New York on Monday 2022-01-31.
    let run = scheduled_event("2022-01-31T21:30:00Z");

    let first = job.handle(&run, FetchWindow::Incremental).await.unwrap();
    assert_eq!(first.tickers_ok, ["MSFT", "NVDA", "TSLA"]);
    assert_eq!(first.tickers_failed.len(), 1);
    assert_eq!(first.tickers_failed[0].ticker, "BROKE");
    assert!(
        first.tickers_failed[0].error.contains("no data"),
        "{:?}",
        first.tickers_failed
    );
    assert_eq!(first.rows_updated, 0);
    assert_eq!(first.rows_inserted as usize, first.bars_fetched);
    // MSFT: the recording holds 2021-02-01..2022-01-31, every day a trading day.
    assert_eq!(count_rows(&test_db, "MSFT").await, 252);
    // TSLA: the recording runs to 2023-08; only bars up to the trading date are stored.
    let client = test_db.pool.get().await.unwrap();
    let (first_day, last_day): (NaiveDate, NaiveDate) = {
        let r = client
            .query_one(
                "SELECT min(date), max(date) FROM stock_prices WHERE ticker = 'TSLA'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(first_day, NaiveDate::from_ymd_opt(2010, 6, 29).unwrap());
    assert_eq!(last_day, NaiveDate::from_ymd_opt(2022, 1, 31).unwrap());
    // Warm-up rows are NULL exactly as long as each indicator needs.
    let warmup = client
        .query_one(
            "SELECT count(*) FILTER (WHERE rsi IS NULL), count(*) FILTER (WHERE sma_200 IS NULL), \
                    count(*) FILTER (WHERE macd_signal IS NULL), count(*) FILTER (WHERE bb_upper IS NULL) \
             FROM stock_prices WHERE ticker = 'TSLA'",
            &[],
        )
        .await
        .unwrap();
    let warmup: [i64; 4] = [warmup.get(0), warmup.get(1), warmup.get(2), warmup.get(3)];
    assert_eq!(warmup, [14, 199, 33, 19]);

    let before = table_fingerprint(&client).await;
    let second = job.handle(&run, FetchWindow::Incremental).await.unwrap();
    assert_eq!((second.rows_inserted, second.rows_updated), (0, 0));
    assert_eq!(second.tickers_ok, first.tickers_ok);
    assert_eq!(
        table_fingerprint(&client).await,
        before,
        "the re-run changed the table"
    );

    // The re-run fetched incrementally: from the last stored day minus 7 days.
    let requests = yahoo.received_requests().await.unwrap();
    let msft_period1: Vec<i64> = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/MSFT"))
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "period1")
                .map(|(_, v)| v.parse().unwrap())
        })
        .collect();
    assert_eq!(msft_period1.len(), 2);
    // MSFT's recording ends on Friday 2022-01-28: 7 days before is 2022-01-21, from
    // midnight New York (05:00 UTC).
    let incremental_from = chrono::DateTime::from_timestamp(msft_period1[1], 0).unwrap();
    assert_eq!(incremental_from.to_rfc3339(), "2022-01-21T05:00:00+00:00");

    // Both runs announced prices.updated for the trading day; consumers dedupe on it.
    let events = bus.drain().await;
    assert_eq!(events.len(), 2, "{events:#?}");
    for (event, rows) in events.iter().zip([first.rows_written(), 0]) {
        assert_eq!(event["detail-type"], PRICES_UPDATED);
        assert_eq!(event["source"], "tft.trader");
        assert_eq!(event["detail"]["trading_date"], "2022-01-31");
        assert_eq!(event["detail"]["tickers"], json!(["MSFT", "NVDA", "TSLA"]));
        assert_eq!(event["detail"]["tickers_failed"][0]["ticker"], "BROKE");
        assert_eq!(event["detail"]["rows_written"], rows);
    }
}

/// What Yahoo served for NVDA before its 4:1 split of 2021-07-20: the recording (made
/// after the split) with the earlier bars scaled back by 4 and the split event removed.
fn nvda_as_seen_before_the_split() -> String {
    let mut chart: Value = serde_json::from_str(&read_fixture(NVDA)).unwrap();
    let result = &mut chart["chart"]["result"][0];
    let split_ts = 1_626_787_800_i64; // 2021-07-20 09:30 New York
    let timestamps: Vec<i64> = result["timestamp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    let scale = |v: &mut Value, factor: f64| {
        if let Some(x) = v.as_f64() {
            *v = json!(x * factor);
        }
    };
    for (i, ts) in timestamps.iter().enumerate() {
        if *ts >= split_ts {
            continue;
        }
        for field in ["open", "high", "low", "close"] {
            scale(&mut result["indicators"]["quote"][0][field][i], 4.0);
        }
        scale(&mut result["indicators"]["adjclose"][0]["adjclose"][i], 4.0);
        let volume = &mut result["indicators"]["quote"][0]["volume"][i];
        if let Some(v) = volume.as_i64() {
            *volume = json!(v / 4);
        }
    }
    if let Some(events) = result.get_mut("events") {
        events.as_object_mut().unwrap().remove("splits");
    }
    chart.to_string()
}

#[tokio::test]
async fn a_split_after_the_last_stored_day_rewrites_the_history_on_the_new_scale() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    serve(&yahoo, "NVDA", nvda_as_seen_before_the_split()).await;
    let job = job(&test_db, &yahoo, &["NVDA"]);

    let before_split = DailyRun {
        trading_date: NaiveDate::from_ymd_opt(2021, 7, 16).unwrap(),
        tickers: None,
    };
    job.handle(&before_split, FetchWindow::Incremental)
        .await
        .unwrap();
    let client = test_db.pool.get().await.unwrap();
    let close_on = |day: &'static str| {
        let client = &client;
        async move {
            let day: NaiveDate = day.parse().unwrap();
            client
                .query_one(
                    "SELECT close FROM stock_prices WHERE ticker = 'NVDA' AND date = $1",
                    &[&day],
                )
                .await
                .unwrap()
                .get::<_, f64>(0)
        }
    };
    let unadjusted = close_on("2021-07-16").await;

    yahoo.reset().await;
    serve(&yahoo, "NVDA", read_fixture(NVDA)).await;
    let after_split = DailyRun {
        trading_date: NaiveDate::from_ymd_opt(2021, 7, 30).unwrap(),
        tickers: None,
    };
    let summary = job
        .handle(&after_split, FetchWindow::Incremental)
        .await
        .unwrap();
    assert_eq!(summary.full_refetches, ["NVDA"]);
    assert!(summary.rows_updated > 100, "{summary:?}");

    let adjusted = close_on("2021-07-16").await;
    assert!(
        (adjusted * 4.0 - unadjusted).abs() < 1e-6 * unadjusted,
        "{adjusted} vs {unadjusted}"
    );
    // No stored bar is left on the old scale: the largest day-to-day move is no split.
    let max_jump: f64 = client
        .query_one(
            "SELECT max(abs(close / prev - 1)) FROM (SELECT close, lag(close) OVER (ORDER BY date) AS prev \
             FROM stock_prices WHERE ticker = 'NVDA') t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(max_jump < 0.2, "a {max_jump} jump survived the rewrite");
}

#[tokio::test]
async fn backfill_fetches_the_asked_years_even_when_recent_days_are_stored() {
    // `tft backfill` writes by COPY (bulk_copy); the scheduled job by UNNEST: same rows.
    let mut tables = Vec::new();
    for bulk_copy in [false, true] {
        let test_db = TestDb::new().await;
        let yahoo = MockServer::start().await;
        serve(&yahoo, "TSLA", read_fixture(TSLA)).await;
        let mut job = job(&test_db, &yahoo, &["TSLA"]);
        job.config.initial_history_days = 30;
        let run = DailyRun {
            trading_date: NaiveDate::from_ymd_opt(2021, 12, 31).unwrap(),
            tickers: None,
        };
        let recent = job.handle(&run, FetchWindow::Incremental).await.unwrap();
        assert!(recent.rows_inserted < 25, "{recent:?}");

        job.bulk_copy = bulk_copy;
        let backfill = job
            .handle(&run, FetchWindow::Backfill { days: 2 * 366 })
            .await
            .unwrap();
        // 732 calendar days back from 2021-12-31 is 2019-12-30: 2 + 253 (2020) + 252 (2021).
        assert_eq!(count_rows(&test_db, "TSLA").await, 507);
        assert_eq!(backfill.rows_inserted + recent.rows_inserted, 507);
        let again = job
            .handle(&run, FetchWindow::Backfill { days: 2 * 366 })
            .await
            .unwrap();
        assert_eq!(
            (again.rows_inserted, again.rows_updated),
            (0, 0),
            "bulk {bulk_copy}"
        );
        let client = test_db.pool.get().await.unwrap();
        let first: NaiveDate = client
            .query_one(
                "SELECT min(date) FROM stock_prices WHERE ticker = 'TSLA'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(first, NaiveDate::from_ymd_opt(2019, 12, 30).unwrap());
        let table: Vec<String> = client
            .query(
                "SELECT row(ticker, date, open, high, low, close, adjusted_close, volume, rsi, \
                 macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, sma_50, sma_200, \
                 volume_ratio)::text FROM stock_prices ORDER BY date",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tables.push(table);
    }
    assert_eq!(tables[0], tables[1]);
}

struct Trending(Vec<&'static str>);

impl shared::jobs::scrape_prices::TrendingTickers for Trending {
    fn trending<'a>(
        &'a self,
        _trading_date: NaiveDate,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Vec<String>>> + Send + 'a>>
    {
        let tickers = self.0.iter().map(|s| s.to_string()).collect();
        Box::pin(async move { Ok(tickers) })
    }
}

#[tokio::test]
async fn trending_tickers_join_the_watchlist_and_a_manual_run_names_its_own() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    let mut job = job(&test_db, &yahoo, &["MSFT", "TSLA"]);
    job.trending = Some(std::sync::Arc::new(Trending(vec![
        "gme",
        "TSLA",
        "not a ticker",
    ])));
    let daily = scheduled_event("2021-01-29T21:30:00Z");
    let (universe, rejected) = job.universe(&daily).await;
    assert_eq!(
        universe.tickers().collect::<Vec<_>>(),
        ["GME", "MSFT", "TSLA"]
    );
    assert_eq!(rejected.len(), 1);

    let manual = DailyRun {
        tickers: Some(vec!["nvda".into()]),
        ..daily
    };
    let (universe, _) = job.universe(&manual).await;
    assert_eq!(universe.tickers().collect::<Vec<_>>(), ["NVDA"]);

    // The benchmark joins every scheduled run (stored for the regime features).
    job.config.benchmark = Some("SPY".into());
    let (universe, _) = job.universe(&daily).await;
    assert_eq!(
        universe.tickers().collect::<Vec<_>>(),
        ["GME", "MSFT", "SPY", "TSLA"]
    );
}

/// Issue 11, defect 2: a run announces what succeeded; then a retryable failure (5xx
/// after the client's retries) that left a ticker undone fails the run, so the
/// idempotent retry and the dead-letter queue catch it; a permanent one (Yahoo's "No
/// data found, symbol may be delisted") is reported and the day goes on; an empty
/// universe is an error, not a silent end of the chain.
#[tokio::test]
async fn a_retryable_failure_fails_the_run_after_announcing_a_permanent_one_does_not() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    serve(&yahoo, "MSFT", read_fixture(MSFT)).await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/BROKE"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&yahoo)
        .await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/GONE"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
            "application/json",
        ))
        .mount(&yahoo)
        .await;
    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let publisher = EventPublisher::new(eventbridge.clone(), bus.bus_name.clone());
    let run = scheduled_event("2022-01-31T21:30:00Z");

    let with_broke =
        job(&test_db, &yahoo, &["MSFT", "BROKE", "GONE"]).with_events(Some(publisher.clone()));
    let err = with_broke
        .handle(&run, FetchWindow::Incremental)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("BROKE") && err.contains("retryable"), "{err}");
    assert_eq!(
        count_rows(&test_db, "MSFT").await,
        252,
        "what succeeded is stored"
    );
    let events = bus.drain().await;
    assert_eq!(events.len(), 1, "what succeeded is announced: {events:#?}");
    assert_eq!(events[0]["detail"]["tickers"], json!(["MSFT"]));

    let only_gone = job(&test_db, &yahoo, &["MSFT", "GONE"]).with_events(Some(publisher));
    let s = only_gone
        .handle(&run, FetchWindow::Incremental)
        .await
        .unwrap();
    assert_eq!(s.tickers_ok, ["MSFT"]);
    assert_eq!(s.tickers_failed[0].ticker, "GONE");
    assert_eq!(s.counts.failed_permanent, 1);

    let nothing = job(&test_db, &yahoo, &[]);
    let err = nothing
        .handle(&run, FetchWindow::Incremental)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nothing for the next step"), "{err}");
}

/// A content checksum of stock_prices (no physical columns): equal tables, equal sums.
async fn prices_content(test_db: &TestDb) -> (i64, String) {
    let client = test_db.pool.get().await.unwrap();
    let r = client
        .query_one(
            "SELECT count(*), coalesce(md5(string_agg(concat_ws(',', ticker, date, open, high, low, close, \
                    adjusted_close, volume, rsi, macd, sma_200), '|' ORDER BY ticker, date)), '') FROM stock_prices",
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// Fault injection (issue 11): the database connection drops in the middle of NVDA's
/// upsert. Each ticker is its own transaction: NVDA's rolls back whole (no row of it),
/// the others commit; the run fails (a retryable failure left NVDA undone). The re-run
/// with the same event completes: the table equals a clean run's, nothing lost or doubled.
/// Then every connection of the pool is terminated (as a PostgreSQL restart does) and
/// the next run still works on the same pool, without a new container.
#[tokio::test]
async fn a_connection_dropped_mid_batch_loses_nothing_and_the_rerun_completes() {
    let yahoo = MockServer::start().await;
    serve(&yahoo, "TSLA", read_fixture(TSLA)).await;
    serve(&yahoo, "MSFT", read_fixture(MSFT)).await;
    serve(&yahoo, "NVDA", read_fixture(NVDA)).await;
    let run = scheduled_event("2022-01-31T21:30:00Z");
    let watchlist = ["MSFT", "NVDA", "TSLA"];

    let clean = TestDb::new().await;
    job(&clean, &yahoo, &watchlist)
        .handle(&run, FetchWindow::Incremental)
        .await
        .unwrap();

    let faulty = TestDb::new().await;
    faulty
        .drop_connection_once_on("stock_prices", "INSERT", "NEW.ticker = 'NVDA'")
        .await;
    let job = job(&faulty, &yahoo, &watchlist);
    let err = job
        .handle(&run, FetchWindow::Incremental)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(faulty.faults_fired().await, 1);
    assert!(err.contains("NVDA") && err.contains("retryable"), "{err}");
    assert_eq!(
        count_rows(&faulty, "NVDA").await,
        0,
        "NVDA's transaction rolled back whole"
    );
    assert_eq!(count_rows(&faulty, "MSFT").await, 252);

    let again = job.handle(&run, FetchWindow::Incremental).await.unwrap();
    assert_eq!(again.tickers_ok, watchlist);
    assert_eq!(prices_content(&faulty).await, prices_content(&clean).await);

    assert!(faulty.terminate_all_connections().await >= 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_restart = job.handle(&run, FetchWindow::Incremental).await.unwrap();
    assert_eq!(
        (after_restart.rows_inserted, after_restart.rows_updated),
        (0, 0)
    );
    assert_eq!(prices_content(&faulty).await, prices_content(&clean).await);
}

/// Fault injection (issue 11): Yahoo answers 200 with a truncated body, with something
/// that is not JSON, and with an empty result set. The first two are that ticker's
/// permanent failure with a clear reason, the empty one is skipped (not announced); the
/// others are stored and the day goes on.
#[tokio::test]
async fn a_200_with_a_truncated_non_json_or_empty_body_fails_that_ticker_alone() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    serve(&yahoo, "MSFT", read_fixture(MSFT)).await;
    let full = read_fixture(TSLA);
    serve(&yahoo, "CUT", full[..full.len() / 2].to_string()).await;
    serve(
        &yahoo,
        "HTML",
        "<html><body>Will be right back</body></html>".into(),
    )
    .await;
    serve(
        &yahoo,
        "NONE",
        r#"{"chart":{"result":[],"error":null}}"#.into(),
    )
    .await;
    let s = job(&test_db, &yahoo, &["MSFT", "CUT", "HTML", "NONE"])
        .handle(
            &scheduled_event("2022-01-31T21:30:00Z"),
            FetchWindow::Incremental,
        )
        .await
        .unwrap();
    assert_eq!(s.tickers_ok, ["MSFT"]);
    let failed: Vec<(&str, &str)> = s
        .tickers_failed
        .iter()
        .map(|f| (f.ticker.as_str(), f.error.as_str()))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for (ticker, error) in &failed {
        assert!(error.contains(ticker), "{ticker}: {error}");
    }
    assert_eq!(s.counts.failed_permanent, 2);
    // An empty result set: not a failure of Yahoo, not a success either.
    assert_eq!(s.tickers_skipped.len(), 1, "{s:?}");
    assert_eq!(s.tickers_skipped[0].ticker, "NONE");
    assert_eq!(s.counts.skipped, 1);
    assert_eq!(count_rows(&test_db, "MSFT").await, 252);
    for t in ["CUT", "HTML", "NONE"] {
        assert_eq!(count_rows(&test_db, t).await, 0);
    }
}

/// Issue 11, defect 1 (retry budgets inside the caller's deadline): a ticker whose Yahoo
/// answers hang does not hold the run past its deadline: at the deadline it is reported
/// failed (retryable: the run fails, so its retry fetches it), and what finished is
/// stored and announced.
#[tokio::test]
async fn a_hanging_ticker_is_cut_at_the_runs_deadline() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    serve(&yahoo, "MSFT", read_fixture(MSFT)).await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/SLOW"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&yahoo)
        .await;
    let mut job = job(&test_db, &yahoo, &["MSFT", "SLOW"]);
    job.yahoo = YahooClient::new(YahooSettings {
        base_url: yahoo.uri(),
        request_timeout: Duration::from_secs(120),
        ..YahooSettings::default()
    })
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let err = tokio::time::timeout(
        Duration::from_secs(15),
        job.handle_until(
            &scheduled_event("2022-01-31T21:30:00Z"),
            FetchWindow::Incremental,
            deadline,
        ),
    )
    .await
    .expect("the run ends at its deadline")
    .unwrap_err()
    .to_string();
    assert!(err.contains("SLOW") && err.contains("deadline"), "{err}");
    assert_eq!(count_rows(&test_db, "MSFT").await, 252);
}
