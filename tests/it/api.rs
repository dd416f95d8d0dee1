//! The query API (issue 12) on real PostgreSQL with seeded data, through the router the
//! `api` Lambda and `tft serve` run (requests handed to it in process): auth (none,
//! wrong, revoked, expired, read vs admin, rate), validation errors as problem+json,
//! signals with filters and keyset pagination under concurrent inserts, one signal's
//! story, positions, portfolio, refusals, predictions, pause → generate-signals opens
//! nothing, manual close → the monitor closes it once, and the OpenAPI document against
//! the router.

use std::sync::Arc;

use api::{ApiConfig, AppState};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, NaiveDate, Utc};
use ensemble::store::ModelStore;
use integration_tests::TestDb;
use secrecy::ExposeSecret;
use serde_json::Value;
use shared::adapters::api_keys;
use tower::ServiceExt;

use crate::generate_signals::{count, day, job, monday, put_close, put_prediction, request};
use crate::monitor_positions::{monitor, now, open_in, signal_row, yahoo};

struct Api {
    db: TestDb,
    router: axum::Router,
    read: String,
    admin: String,
}

/// The committed model store (what predict serves in the other tests).
fn committed_models() -> ModelStore {
    ModelStore::Local(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/store"))
}

async fn api_with(rate_per_minute: i32) -> Api {
    api_with_models(rate_per_minute, Some(committed_models())).await
}

async fn api_with_models(rate_per_minute: i32, models: Option<ModelStore>) -> Api {
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    let (_, read) = api_keys::create(&**client, "reader", false, None)
        .await
        .unwrap();
    let (_, admin) = api_keys::create(&**client, "ops", true, None)
        .await
        .unwrap();
    drop(client);
    let router = api::router(AppState {
        pool: db.pool.clone(),
        config: Arc::new(ApiConfig {
            rate_per_minute,
            ..ApiConfig::default()
        }),
        models,
    });
    Api {
        db,
        router,
        read: read.expose_secret().to_string(),
        admin: admin.expose_secret().to_string(),
    }
}

async fn api() -> Api {
    api_with(10_000).await
}

impl Api {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
    ) -> (StatusCode, String, Value) {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, body)
    }

    async fn get(&self, uri: &str) -> Value {
        let (status, _, body) = self.call(Method::GET, uri, Some(&self.read)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        body
    }

    async fn problem(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        status: StatusCode,
    ) -> Value {
        let (got, content_type, body) = self.call(method, uri, key).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(content_type, "application/problem+json", "{uri}");
        assert_eq!(body["status"], status.as_u16(), "{body}");
        assert!(
            body["code"].is_string() && body["detail"].is_string(),
            "{body}"
        );
        body
    }
}

#[tokio::test]
async fn health_and_the_openapi_document_are_open_everything_else_needs_a_key() {
    let a = api().await;
    let (status, _, health) = a.call(Method::GET, "/v1/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "reachable");
    assert_eq!(health["steps"].as_array().unwrap().len(), 7);
    let (status, _, doc) = a.call(Method::GET, "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    let none = a
        .problem(Method::GET, "/v1/signals", None, StatusCode::UNAUTHORIZED)
        .await;
    assert_eq!(none["code"], "unauthorized");
    let wrong = a
        .problem(
            Method::GET,
            "/v1/signals",
            Some("tft_not-a-key"),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    assert!(
        wrong["detail"].as_str().unwrap().contains("not valid"),
        "{wrong}"
    );
    // x-api-key works as well as Bearer.
    let response = a
        .router
        .clone()
        .oneshot(
            Request::get("/v1/portfolio")
                .header("x-api-key", &a.read)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::UNAUTHORIZED);

    // Revoked and expired keys.
    let client = a.db.pool.get().await.unwrap();
    let (_, old) = api_keys::create(
        &**client,
        "old",
        false,
        Some(Utc::now() - Duration::days(1)),
    )
    .await
    .unwrap();
    assert!(api_keys::revoke(&**client, "reader").await.unwrap());
    drop(client);
    let revoked = a
        .problem(
            Method::GET,
            "/v1/signals",
            Some(&a.read),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    assert!(
        revoked["detail"].as_str().unwrap().contains("revoked"),
        "{revoked}"
    );
    let expired = a
        .problem(
            Method::GET,
            "/v1/signals",
            Some(old.expose_secret()),
            StatusCode::UNAUTHORIZED,
        )
        .await;
    assert!(
        expired["detail"].as_str().unwrap().contains("expired"),
        "{expired}"
    );

    // A read key on an admin route: 403; the admin key passes.
    let client = a.db.pool.get().await.unwrap();
    let (_, reader) = api_keys::create(&**client, "reader2", false, None)
        .await
        .unwrap();
    drop(client);
    let forbidden = a
        .problem(
            Method::POST,
            "/v1/trading/pause",
            Some(reader.expose_secret()),
            StatusCode::FORBIDDEN,
        )
        .await;
    assert_eq!(forbidden["code"], "forbidden");
    let unknown = a
        .problem(
            Method::GET,
            "/v1/nothing-here",
            Some(&a.admin),
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(unknown["code"], "not_found");
}

#[tokio::test]
async fn a_key_past_its_rate_gets_429_with_retry_after() {
    let a = api_with(3).await;
    for _ in 0..3 {
        assert_eq!(
            a.call(Method::GET, "/v1/positions", Some(&a.read)).await.0,
            StatusCode::OK
        );
    }
    let limited = a
        .problem(
            Method::GET,
            "/v1/positions",
            Some(&a.read),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    assert_eq!(limited["code"], "rate_limited");
    // Another key has its own budget; the last use is recorded.
    assert_eq!(
        a.call(Method::GET, "/v1/positions", Some(&a.admin)).await.0,
        StatusCode::OK
    );
    let client = a.db.pool.get().await.unwrap();
    let keys = api_keys::list(&**client).await.unwrap();
    assert!(keys.iter().all(|k| k.last_used_at.is_some()), "{keys:?}");
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_problem_with_the_reason() {
    let a = api().await;
    for (uri, needle) in [
        ("/v1/signals?status=won", "status"),
        ("/v1/signals?limit=0", "limit"),
        ("/v1/signals?limit=201", "limit"),
        ("/v1/signals?limit=ten", "limit"),
        ("/v1/signals?from=2021-13-01", "from"),
        ("/v1/signals?from=2021-03-02&to=2021-03-01", "after"),
        ("/v1/signals?ticker=not%20a%20ticker", "ticker"),
        ("/v1/signals?cursor=zz", "cursor"),
        ("/v1/signals?limt=5", "limt"),
        ("/v1/signals/abc", "id"),
        ("/v1/signals/-4", "id"),
        ("/v1/rejections?date=yesterday", "date"),
        ("/v1/predictions?min_confidence=2", "min_confidence"),
    ] {
        let p = a
            .problem(Method::GET, uri, Some(&a.read), StatusCode::BAD_REQUEST)
            .await;
        assert_eq!(p["code"], "bad_parameter", "{uri}");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{uri}: {p}");
    }
    a.problem(
        Method::GET,
        "/v1/signals/999999",
        Some(&a.read),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn signals_filter_and_a_signal_tells_its_whole_story() {
    let a = api().await;
    let d = monday(&a.db).await;
    job(&a.db, None).handle(&request(d)).await.unwrap();
    let page = a.get("/v1/signals").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert!(page["next_cursor"].is_null());
    let tickers: Vec<&str> = items
        .iter()
        .map(|i| i["ticker"].as_str().unwrap())
        .collect();
    assert!(tickers.contains(&"AAA") && tickers.contains(&"BBB"));
    assert!(items.iter().all(|i| i["status"] == "pending"));
    assert_eq!(
        a.get("/v1/signals?status=open").await["items"],
        serde_json::json!([])
    );
    let aaa = a.get("/v1/signals?ticker=aaa").await;
    assert_eq!(aaa["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        a.get("/v1/signals?from=2021-03-02").await["items"],
        serde_json::json!([])
    );
    assert_eq!(
        a.get("/v1/signals?from=2021-03-01&to=2021-03-01").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let id = aaa["items"][0]["id"].as_i64().unwrap();
    let detail = a.get(&format!("/v1/signals/{id}")).await;
    assert_eq!(detail["ticker"], "AAA");
    assert_eq!(detail["planned"]["stop_loss"], 48.5);
    assert_eq!(detail["prediction"]["vote"]["buy"], 0.8, "{detail}");
    assert_eq!(detail["features"]["volatility_20d"], 0.015, "{detail}");
    let deliveries = detail["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{detail}");
    assert!(deliveries.iter().all(|d| d["status"] == "pending"));

    let refusals = a.get("/v1/rejections").await;
    assert_eq!(refusals["trading_date"], "2021-03-01");
    let rules: Vec<&str> = refusals["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"confidence_too_low") && rules.contains(&"no_market_data"),
        "{refusals}"
    );
    let predictions = a.get("/v1/predictions?min_confidence=0.75").await;
    let names: Vec<&str> = predictions["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ticker"].as_str().unwrap())
        .collect();
    // Most confident first, whatever the class (EEE's 0.80 is a HOLD).
    assert_eq!(names, ["DDD", "AAA", "EEE", "BBB"], "{predictions}");

    let positions = a.get("/v1/positions").await;
    assert_eq!(positions["positions"].as_array().unwrap().len(), 2);
    assert_eq!(positions["positions"][0]["status"], "pending");
    let portfolio = a.get("/v1/portfolio").await;
    assert_eq!(portfolio["positions_used"], 2);
    assert_eq!(portfolio["positions_max"], 5);
    assert_eq!(portfolio["breaker"], "armed");
    assert_eq!(portfolio["drawdown_limit"], 0.15);
    assert_eq!(portfolio["control"]["entries_paused"], false);
}

/// Keyset pagination while signals are being inserted: every row committed before the
/// first page is seen exactly once; rows inserted meanwhile (newer) never shift a page.
#[tokio::test]
async fn pagination_repeats_nothing_and_skips_nothing_under_concurrent_inserts() {
    let a = api().await;
    let seed = |range: std::ops::Range<i64>, at_offset: i64| {
        format!(
            "INSERT INTO trading_signals (signal_key, ticker, trading_date, signal, confidence, model_version, \
                 entry_price, is_active, exit_price, exit_reason, closed_at, generated_at) \
             SELECT 'seed:' || g, 'T' || (g % 50), DATE '2021-01-04' + (g % 300), 'BUY', 0.5, 'v', 10, false, 11, \
                    'target', now(), now() - ({at_offset} + g) * interval '1 second' \
             FROM generate_series({}, {}) g",
            range.start,
            range.end - 1
        )
    };
    let client = a.db.pool.get().await.unwrap();
    // 130 rows, ten of them sharing one generated_at (ties broken by id).
    client.batch_execute(&seed(0..120, 1000)).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO trading_signals (signal_key, ticker, trading_date, signal, confidence, model_version, \
                 entry_price, is_active, exit_price, exit_reason, closed_at, generated_at) \
             SELECT 'tie:' || g, 'TIE', DATE '2021-02-01', 'BUY', 0.5, 'v', 10, false, 11, 'target', now(), \
                    TIMESTAMPTZ '2021-02-01 12:00:00+00' FROM generate_series(1, 10) g",
        )
        .await
        .unwrap();
    drop(client);
    let before = count(&a.db, "SELECT count(*) FROM trading_signals").await;
    let mut seen = Vec::new();
    let mut uri = "/v1/signals?limit=17".to_string();
    let mut page_no = 0;
    loop {
        let page = a.get(&uri).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        // Between pages, newer signals arrive.
        let client = a.db.pool.get().await.unwrap();
        client
            .batch_execute(&seed(1000 + page_no * 5..1005 + page_no * 5, -10_000))
            .await
            .unwrap();
        page_no += 1;
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/signals?limit=17&cursor={c}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an item was repeated");
    assert_eq!(
        seen.len() as i64,
        before,
        "an item committed before the first page was skipped"
    );
    assert!(page_no >= 8);
}

/// Pause → generate-signals opens nothing (the planned entries are refused
/// `entries_paused`, exits keep running); resume → it trades again. Recorded with the key.
#[tokio::test]
async fn pause_stops_new_entries_and_resume_restarts_them() {
    let a = api().await;
    let paused = a
        .call(
            Method::POST,
            "/v1/trading/pause?reason=fomc",
            Some(&a.admin),
        )
        .await;
    assert_eq!(paused.0, StatusCode::OK, "{}", paused.2);
    assert_eq!(paused.2["entries_paused"], true);
    assert_eq!(paused.2["changed_by"], "ops");
    let d = monday(&a.db).await;
    let s = job(&a.db, None).handle(&request(d)).await.unwrap();
    assert!(s.opened.is_empty(), "{s:?}");
    let refused: Vec<&str> = s
        .refused
        .iter()
        .filter(|r| r.rules == ["entries_paused"])
        .map(|r| r.ticker.as_str())
        .collect();
    assert_eq!(refused, ["AAA", "BBB"], "{s:?}");
    assert!(
        s.refused[s.refused.len() - 1].reasons[0].contains("paused (by ops"),
        "{s:?}"
    );
    assert_eq!(
        count(&a.db, "SELECT count(*) FROM trading_signals").await,
        0
    );

    let resumed = a
        .call(Method::POST, "/v1/trading/resume", Some(&a.admin))
        .await;
    assert_eq!(resumed.2["entries_paused"], false);
    let next = day("2021-03-02");
    put_close(&a.db, "AAA", next, 50.0).await;
    crate::generate_signals::put_features(&a.db, "AAA", next, &[("volatility_20d", 0.015)]).await;
    put_prediction(&a.db, "AAA", next, [0.05, 0.15, 0.80]).await;
    let s = job(&a.db, None).handle(&request(next)).await.unwrap();
    assert_eq!(s.opened.len(), 1, "{s:?}");
    let actions = count(
        &a.db,
        "SELECT count(*) FROM admin_actions WHERE key_name = 'ops' AND action IN ('trading.pause', 'trading.resume')",
    )
    .await;
    assert_eq!(actions, 2);
}

/// A manual close: the monitor's next run closes the position once, reason `manual`, at
/// its quote; a second request is a 409; a pending entry is cancelled at once.
#[tokio::test]
async fn a_manual_close_is_done_once_by_the_monitor_and_a_pending_entry_is_cancelled() {
    let a = api().await;
    let id = open_in(
        &a.db,
        10_000_000.0,
        "AAPL",
        day("2025-03-20"),
        205.0,
        0.0375,
        0.2,
        10,
    )
    .await;
    let (status, _, body) = a
        .call(
            Method::POST,
            &format!("/v1/positions/{id}/close"),
            Some(&a.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["action"], "close_requested");
    a.problem(
        Method::POST,
        &format!("/v1/positions/{id}/close"),
        Some(&a.admin),
        StatusCode::CONFLICT,
    )
    .await;
    a.problem(
        Method::POST,
        &format!("/v1/positions/{id}/close"),
        Some(&a.read),
        StatusCode::FORBIDDEN,
    )
    .await;
    let yahoo = yahoo().await;
    let job = monitor(&a.db, &yahoo, None);
    let s = job.handle(now()).await.unwrap();
    assert_eq!(s.closed.len(), 1, "{s:?}");
    assert_eq!(s.closed[0].exit_reason, "manual");
    // The recorded quote's last price.
    assert_eq!(signal_row(&a.db, id).await.1, Some(220.003));
    assert!(job.handle(now()).await.unwrap().closed.is_empty());
    a.problem(
        Method::POST,
        &format!("/v1/positions/{id}/close"),
        Some(&a.admin),
        StatusCode::CONFLICT,
    )
    .await;

    // A pending entry: cancelled now, its cash back.
    let d = monday(&a.db).await;
    crate::generate_signals::job(&a.db, None)
        .handle(&request(d))
        .await
        .unwrap();
    let client = a.db.pool.get().await.unwrap();
    let pending: i64 = client
        .query_one("SELECT id FROM trading_signals WHERE ticker = 'AAA'", &[])
        .await
        .unwrap()
        .get(0);
    drop(client);
    let (status, _, body) = a
        .call(
            Method::POST,
            &format!("/v1/positions/{pending}/close"),
            Some(&a.admin),
        )
        .await;
    assert_eq!(
        (status, body["action"].as_str()),
        (StatusCode::OK, Some("entry_cancelled")),
        "{body}"
    );
    let status: String =
        a.db.pool
            .get()
            .await
            .unwrap()
            .query_one(
                "SELECT entry_status FROM trading_signals WHERE id = $1",
                &[&pending],
            )
            .await
            .unwrap()
            .get(0);
    assert_eq!(status, "missed");
    a.problem(
        Method::POST,
        "/v1/positions/999999/close",
        Some(&a.admin),
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// The OpenAPI document and the router agree: every documented operation is served
/// (none answers "no route"), and every route the router serves is documented.
#[tokio::test]
async fn the_openapi_document_and_the_router_agree() {
    let a = api().await;
    let (router, doc) = api::router_and_openapi(AppState {
        pool: a.db.pool.clone(),
        config: Arc::new(ApiConfig::default()),
        models: Some(committed_models()),
    });
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in &doc.paths.paths {
        let item = serde_json::to_value(item).unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.sort();
    let served = [
        ("GET", "/v1/health"),
        ("GET", "/v1/models"),
        ("GET", "/v1/performance"),
        ("GET", "/v1/predictions"),
        ("GET", "/v1/portfolio"),
        ("GET", "/v1/portfolio/equity"),
        ("GET", "/v1/sentiment/trending"),
        ("GET", "/v1/sentiment/{ticker}"),
        ("GET", "/v1/tickers/{ticker}"),
        ("GET", "/v1/positions"),
        ("POST", "/v1/positions/{id}/close"),
        ("GET", "/v1/rejections"),
        ("GET", "/v1/signals"),
        ("GET", "/v1/signals/{id}"),
        ("POST", "/v1/trading/pause"),
        ("POST", "/v1/trading/resume"),
    ];
    let mut served: Vec<(String, String)> = served
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    for (method, path) in &documented {
        let uri = path.replace("{id}", "999999").replace("{ticker}", "ZZZZ");
        let response = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method.as_str())
                    .uri(&uri)
                    .header("authorization", format!("Bearer {}", a.admin))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            !body["detail"]
                .as_str()
                .unwrap_or("")
                .starts_with("no route"),
            "{method} {uri} is documented but not served"
        );
    }
    // And a path the document does not have is not served.
    let (status, _, _) = a
        .call(Method::GET, "/v1/secret-admin", Some(&a.admin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = NaiveDate::MIN;
}

/// The equity curve with SPY's buy & hold of the same money, the live trades' metrics by
/// group, trending sentiment with its change, a ticker's sentiment, bars and signals.
#[tokio::test]
async fn equity_performance_sentiment_and_a_ticker_view_read_what_the_chain_stored() {
    let a = api().await;
    let c = a.db.pool.get().await.unwrap();
    c.batch_execute(
        "INSERT INTO portfolio_equity_curve (date, cash, positions_value, equity, peak_equity, drawdown, \
             realized_pnl, unrealized_pnl, open_positions) VALUES \
         ('2021-03-01', 100000, 0, 100000, 100000, 0, 0, 0, 0), \
         ('2021-03-02', 60000, 41000, 101000, 101000, 0, 0, 1000, 2), \
         ('2021-03-03', 60000, 38000, 98000, 101000, 0.0297, 0, -2000, 2); \
         INSERT INTO ticker_sentiment_daily (ticker, trading_date, window_start, cutoff_at, mentions, items, \
             unique_authors, mean_sentiment, weighted_sentiment, bullish_share) VALUES \
         ('GME', '2021-03-01', now(), now(), 40, 50, 40, 0.2, 0.25, 0.6), \
         ('GME', '2021-03-02', now(), now(), 90, 120, 85, 0.4, 0.45, 0.7), \
         ('AMC', '2021-03-02', now(), now(), 30, 31, 30, -0.1, -0.1, 0.3);",
    )
    .await
    .unwrap();
    drop(c);
    for (d, close) in [
        ("2021-03-01", 380.0),
        ("2021-03-02", 390.0),
        ("2021-03-03", 380.0),
    ] {
        put_close(&a.db, "SPY", day(d), close).await;
    }
    let curve = a.get("/v1/portfolio/equity?from=2021-03-02").await;
    assert_eq!(curve["benchmark"], "SPY");
    let points = curve["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{curve}");
    assert_eq!(points[0]["equity"], 101000.0);
    // SPY scaled to the first equity of the window: 101000 × 380 / 390.
    let b = points[1]["benchmark"].as_f64().unwrap();
    assert!((b - 101_000.0 * 380.0 / 390.0).abs() < 1e-6, "{b}");

    let trending = a.get("/v1/sentiment/trending").await;
    assert_eq!(trending["trading_date"], "2021-03-02");
    assert_eq!(trending["tickers"][0]["ticker"], "GME");
    assert_eq!(trending["tickers"][0]["mentions_change"], 50);
    assert!(trending["tickers"][1]["mentions_change"].is_null());
    // Each row's sparkline days, in the rows' order, from the one response.
    assert_eq!(trending["history_days"], 30);
    let history: Vec<(String, Vec<i64>)> = trending["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["ticker"].as_str().unwrap().to_string(),
                h["days"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["mentions"].as_i64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("GME".to_string(), vec![40, 90]),
            ("AMC".to_string(), vec![30])
        ],
        "{trending}"
    );
    // A past day's window ends at that day.
    let past = a.get("/v1/sentiment/trending?date=2021-03-01").await;
    assert_eq!(past["history"][0]["days"].as_array().unwrap().len(), 1);
    let series = a
        .get("/v1/sentiment/gme?from=2021-03-01&to=2021-03-01")
        .await;
    assert_eq!(series["days"].as_array().unwrap().len(), 1);

    // A closed trade, by the monitor (target).
    open_in(
        &a.db,
        10_000_000.0,
        "AAPL",
        day("2025-03-20"),
        205.0,
        0.0375,
        0.075,
        10,
    )
    .await;
    let y = yahoo().await;
    assert_eq!(
        monitor(&a.db, &y, None)
            .handle(now())
            .await
            .unwrap()
            .closed
            .len(),
        1
    );
    let perf = a.get("/v1/performance?group_by=exit_reason").await;
    assert_eq!(perf["total"]["trades"], 1);
    assert_eq!(perf["total"]["wins"], 1);
    assert_eq!(perf["groups"][0]["key"], "target");
    assert!(perf["total"]["profit_factor"].is_null(), "no loss: {perf}");
    a.problem(
        Method::GET,
        "/v1/performance?group_by=week",
        Some(&a.read),
        StatusCode::BAD_REQUEST,
    )
    .await;

    let view = a.get("/v1/tickers/AAPL").await;
    assert_eq!(view["signals"][0]["exit_reason"], "target");
    let spy = a.get("/v1/tickers/spy").await;
    assert_eq!(spy["bars"].as_array().unwrap().len(), 3);
    a.problem(
        Method::GET,
        "/v1/tickers/ZZZZ",
        Some(&a.read),
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// The contract check (issue 12): schemathesis generates requests from
/// `/v1/openapi.json` (with an admin key, on seeded data) against the router served over
/// HTTP, and finds no server error and no response that breaks the documented schema.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_response_off_the_schema() {
    let a = api().await;
    let d = monday(&a.db).await;
    job(&a.db, None).handle(&request(d)).await.unwrap();
    open_in(
        &a.db,
        10_000_000.0,
        "AAPL",
        day("2025-03-20"),
        205.0,
        0.0375,
        0.075,
        10,
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = a.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/api/schemathesis.sh");
    let admin = a.admin.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(script)
            .arg(format!("http://{addr}"))
            .arg(admin)
            .output()
    })
    .await
    .unwrap()
    .expect("run tools/api/schemathesis.sh (schemathesis is in infra/requirements-tools.txt)");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    // Every documented operation was exercised.
    assert!(stdout.contains("16 selected / 16 total"), "{stdout}");
    assert!(!stdout.contains(" failed"), "{stdout}");
}

/// `GET /v1/models` on S3 (moto): before the first promotion the store lists its
/// versions and names no current one; after it, the serving manifest as the file says,
/// newest version first; a retrain's newer version is listed and not current.
#[tokio::test]
async fn models_shows_the_serving_manifest_and_every_version_newest_first() {
    let (store, version) = crate::predict::s3_store(false).await;
    let a = api_with_models(10_000, Some(store.clone())).await;
    let before = a.get("/v1/models").await;
    assert!(before["current"].is_null(), "{before}");
    assert!(before["manifest"].is_null(), "{before}");
    assert_eq!(
        before["versions"],
        serde_json::json!([{"version": version, "current": false}])
    );
    let ModelStore::S3 { bucket, .. } = &store else {
        unreachable!()
    };
    assert_eq!(before["store"], format!("s3://{bucket}/models"));

    store.promote(&version).await.unwrap();
    // A later retrain: the same files under a newer name, uploaded, not promoted.
    let committed = crate::predict::committed_store()
        .join("ensemble")
        .join(&version);
    let newer = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&committed).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), newer.path().join(entry.file_name())).unwrap();
    }
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(committed.join("manifest.json")).unwrap()).unwrap();
    manifest["version"] = "2099-01-01-retrain".into();
    std::fs::write(
        newer.path().join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    store.upload_dir(newer.path()).await.unwrap();

    let after = a.get("/v1/models").await;
    assert_eq!(after["current"], version.as_str());
    assert_eq!(
        after["versions"],
        serde_json::json!([
            {"version": "2099-01-01-retrain", "current": false},
            {"version": version, "current": true},
        ])
    );
    let m = &after["manifest"];
    let file: Value =
        serde_json::from_slice(&std::fs::read(committed.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["version"], version.as_str());
    assert_eq!(m["training_from"], file["training_window"]["from"]);
    assert_eq!(m["training_to"], file["training_window"]["to"]);
    assert_eq!(m["calibration_to"], file["validation_window"]["to"]);
    assert_eq!(m["weights"], file["weights"]);
    assert_eq!(m["metrics"], file["validation_metrics"]);
    assert_eq!(m["feature_schema_hash"], m["serving_schema_hash"]);
    assert!(m["refused_because"].is_null(), "{m}");
    assert!(after["manifest_error"].is_null());
    // A read key is enough; no key is not.
    a.problem(Method::GET, "/v1/models", None, StatusCode::UNAUTHORIZED)
        .await;
}

/// A deployment without a model store, a bucket that does not exist and a `current`
/// pointing at a version that is not there: 503 with the reason for the first two (the
/// rest of the API keeps working), the store's state shown for the third.
#[tokio::test]
async fn models_says_what_is_wrong_with_the_store() {
    let none = api_with_models(10_000, None).await;
    let p = none
        .problem(
            Method::GET,
            "/v1/models",
            Some(&none.read),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    assert!(
        p["detail"].as_str().unwrap().contains("TFT_MODEL_BUCKET"),
        "{p}"
    );
    none.get("/v1/signals").await;

    let missing_bucket = ModelStore::S3 {
        client: ensemble::job::s3_client().await,
        bucket: format!("tft-no-such-bucket-{:08x}", rand::random::<u32>()),
        prefix: "models".into(),
    };
    let gone = api_with_models(10_000, Some(missing_bucket)).await;
    let p = gone
        .problem(
            Method::GET,
            "/v1/models",
            Some(&gone.read),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    assert_eq!(p["code"], "unavailable");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ensemble")).unwrap();
    std::fs::write(dir.path().join("ensemble/current"), "2030-01-01-lost\n").unwrap();
    let dangling = api_with_models(10_000, Some(ModelStore::Local(dir.path().into()))).await;
    let body = dangling.get("/v1/models").await;
    assert_eq!(body["current"], "2030-01-01-lost");
    assert!(body["manifest"].is_null());
    assert_eq!(body["versions"], serde_json::json!([]));
    assert!(
        body["manifest_error"].as_str().unwrap().contains("missing"),
        "{body}"
    );
}
