//! The dashboard (issue 12): the page and its assets are open, typed and cached right; and
//! in a real browser (Debian's Chromium driven by Playwright, tools/browser/dashboard_test.py)
//! against the router served on a free port with seeded data, the page shows the signals,
//! the portfolio and a drawn chart with no console error, keeps the key, fits a phone, and
//! says plainly when the key is refused. Screenshots go under the target directory.
//!
//! Chromium and Playwright come from `infra/test-env.sh` (apt-get, the tools venv); without
//! them the browser test fails and says how to install them (it is never skipped).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use api::{ApiConfig, AppState};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use integration_tests::TestDb;
use secrecy::ExposeSecret;
use serde_json::Value;
use shared::adapters::api_keys;
use tower::ServiceExt;

use crate::generate_signals::{job, monday, request};

fn state(db: &TestDb) -> AppState {
    AppState {
        pool: db.pool.clone(),
        config: Arc::new(ApiConfig::default()),
        models: None,
    }
}

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn the_page_and_its_assets_are_open_typed_and_cached() {
    let db = TestDb::new().await;
    let router = api::router(state(&db));

    let (status, headers, body) = get(&router, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<title>TFT Trader</title>"));

    // Every asset the page links is served, with its type, cached for good.
    let linked: Vec<&str> = page
        .split("assets/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(linked.len(), 4, "{linked:?}");
    for link in linked {
        let (status, headers, body) = get(&router, &format!("/assets/{link}")).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        let expected = match link.split('?').next().unwrap().rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("txt") => "text/plain; charset=utf-8",
            other => panic!("{other:?}"),
        };
        assert_eq!(headers["content-type"], expected, "{link}");
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{link}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(!body.is_empty());
    }

    // An unknown asset is a 404 problem; the page is not in the OpenAPI document.
    let (status, headers, body) = get(&router, "/assets/nothing.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "not_found");
    let (_, _, doc) = get(&router, "/v1/openapi.json").await;
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.keys().all(|p| p.starts_with("/v1/")), "{paths:?}");
}

/// `$1,234.50`, as the page's `toLocaleString('en-US', {style: 'currency'})`.
fn usd(x: f64) -> String {
    let cents = (x.abs() * 100.0).round() as i64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!(
        "{}${grouped}.{:02}",
        if x < 0.0 { "-" } else { "" },
        cents % 100
    )
}

/// Where the screenshots go: `<target>/test-artifacts/dashboard/`.
fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/it-<hash>
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    target.join("test-artifacts").join("dashboard")
}

/// The Python with Playwright: the tools venv that infra/test-env.sh exports, else python3.
fn python() -> String {
    std::env::var("TFT_TOOLS_BIN")
        .map(|bin| format!("{bin}/python"))
        .unwrap_or_else(|_| "python3".into())
}

/// What the browser reported but should not have: anything but the equity endpoint's 404
/// (an API without it; the page falls back to the positions chart).
fn unexpected(errors: &Value) -> Vec<Value> {
    errors
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let url = e["url"].as_str().unwrap_or("");
            let text = e["text"].as_str().unwrap_or("");
            let equity_404 = url.ends_with("/v1/portfolio/equity")
                && (text == "404" || text.contains("status of 404"));
            !equity_404
        })
        .cloned()
        .collect()
}

/// Column `i` of a table's rows.
fn column(rows: &Value, i: usize) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[i].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_shows_the_signals_portfolio_and_a_chart() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    job(&db, None).handle(&request(d)).await.unwrap();
    let client = db.pool.get().await.unwrap();
    let (_, key) = api_keys::create(&**client, "browser", false, None)
        .await
        .unwrap();
    drop(client);
    let key = key.expose_secret().to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = api::router(state(&db));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let base = format!("http://{addr}/");

    // What the page should show, read from the API itself.
    let portfolio: Value = reqwest::Client::new()
        .get(format!("{base}v1/portfolio"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let out = artifacts_dir();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/browser/dashboard_test.py");
    let python = python();
    let run = {
        let (python, url, key, out) = (python.clone(), base.clone(), key.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(&python)
                .arg(&script)
                .args(["--url", &url, "--key", &key, "--out"])
                .arg(&out)
                .output()
        })
        .await
        .unwrap()
    };
    server.abort();
    let output = run.unwrap_or_else(|e| {
        panic!(
            "could not run {python} ({e}): the dashboard's browser test needs Python with \
             Playwright and Chromium; run it through infra/test-env.sh (which installs both), \
             or `apt-get install -y chromium` and `pip install -r infra/requirements-tools.txt`"
        )
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test failed ({}):\n{stderr}",
        output.status
    );
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let dom = &report["dom"];

    assert_eq!(
        unexpected(&report["errors"]),
        Vec::<Value>::new(),
        "{report}"
    );
    assert!(
        report["message_without_key"]
            .as_str()
            .unwrap()
            .contains("Paste an API key"),
        "{report}"
    );
    assert_eq!(dom["message"], "", "{dom}");
    // The seeded signals: both pending entries, in the active table and the recent list.
    assert_eq!(column(&dom["active"], 0), ["AAA", "BBB"], "{dom}");
    assert_eq!(column(&dom["active"], 1), ["pending", "pending"], "{dom}");
    let mut recent = column(&dom["recent"], 1);
    recent.sort();
    assert_eq!(recent, ["AAA", "BBB"], "{dom}");
    assert_eq!(column(&dom["recent"], 0), ["2021-03-01", "2021-03-01"]);
    // The portfolio's numbers, as the API gives them.
    let p = &dom["portfolio"];
    assert_eq!(p["cash"], usd(portfolio["cash"].as_f64().unwrap()), "{dom}");
    assert_eq!(
        p["equity"],
        usd(portfolio["equity"].as_f64().unwrap()),
        "{dom}"
    );
    assert_eq!(
        p["peak"],
        usd(portfolio["peak_equity"].as_f64().unwrap()),
        "{dom}"
    );
    assert_eq!(p["positions"], "2 / 5", "{dom}");
    assert!(p["drawdown"].as_str().unwrap().ends_with("/ 15 %"), "{dom}");
    // The status strip and why no trade.
    let status = dom["status"].to_string();
    for needle in [
        "database reachable",
        "market ",
        "breaker armed",
        "entries on",
    ] {
        assert!(status.contains(needle), "{needle}: {status}");
    }
    assert!(
        dom["rejections"].to_string().contains("confidence_too_low"),
        "{dom}"
    );
    // The chart drew its series (coloured pixels, not only the grey grid and labels).
    assert!(
        report["chart"]["coloured"].as_u64().unwrap() > 20,
        "the chart drew nothing: {}",
        report["chart"]
    );
    // The key is kept: after a reload the data is there without typing it again.
    assert_eq!(report["after_reload"]["stored_key"], true);
    assert_eq!(column(&report["after_reload"]["active"], 0), ["AAA", "BBB"]);
    // A phone: nothing scrolls sideways, the chart draws.
    let phone = &report["phone"];
    assert!(
        phone["scroll_width"].as_u64() <= phone["viewport_width"].as_u64(),
        "{phone}"
    );
    assert!(phone["chart"]["coloured"].as_u64().unwrap() > 20, "{phone}");
    assert_eq!(unexpected(&phone["errors"]), Vec::<Value>::new(), "{phone}");
    // A wrong key: a clear message with the problem's detail.
    let message = report["wrong_key"]["dom"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the API key was refused: the API key is not valid"),
        "{message}"
    );
    // The equity curve, when the API has one (served here by the browser test itself).
    assert_eq!(report["equity"]["chart_title"], "Equity vs SPY", "{report}");
    assert!(report["equity"]["chart"]["coloured"].as_u64().unwrap() > 20);
    assert_eq!(
        unexpected(&report["equity"]["errors"]),
        Vec::<Value>::new(),
        "{report}"
    );

    println!(
        "dashboard screenshots: {} and {}",
        report["screenshot"].as_str().unwrap(),
        phone["screenshot"].as_str().unwrap()
    );
}
