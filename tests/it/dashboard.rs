//! The dashboard (issue 12): the page and its assets are open, typed and cached right; and
//! in a real browser (Debian's Chromium driven by Playwright, tools/browser/dashboard_test.py)
//! against the router served on a free port with seeded data, the page shows the signals,
//! the portfolio and a drawn chart with no console error, keeps the key, fits a phone, and
//! says plainly when the key is refused; trending rows carry sparklines, closed trades
//! their breakdowns by exit reason and by month, and a ticker opens a view with candles,
//! indicators, its trades' entry and exit markers and its sentiment. Screenshots go under
//! the target directory.
//!
//! Chromium and Playwright come from `infra/test-env.sh` (apt-get, the tools venv); without
//! them the browser test fails and says how to install them (it is never skipped).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use api::{ApiConfig, AppState};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use integration_tests::TestDb;
use secrecy::ExposeSecret;
use serde_json::Value;
use shared::adapters::api_keys;
use tower::ServiceExt;

use crate::generate_signals::{day, job, monday, request};

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

/// A closed trade of the seed: (ticker, entry day, closed day, fill, exit, shares, reason).
type Closed = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    i64,
    &'static str,
);

/// Round trips the monitor closed, over two months and three exit reasons (one per
/// month and reason would make the breakdowns a copy of the list: some share both).
const CLOSED: &[Closed] = &[
    (
        "NVDA",
        "2021-01-11",
        "2021-01-15",
        100.0,
        106.0,
        50,
        "target",
    ),
    (
        "NVDA",
        "2021-02-01",
        "2021-02-09",
        110.0,
        105.6,
        40,
        "stop_loss",
    ),
    (
        "AMD",
        "2021-01-20",
        "2021-01-29",
        90.0,
        91.5,
        30,
        "time_decay",
    ),
    (
        "TSLA",
        "2021-02-10",
        "2021-02-12",
        800.0,
        840.0,
        5,
        "target",
    ),
    (
        "MSFT",
        "2020-12-14",
        "2020-12-18",
        215.0,
        208.5,
        20,
        "stop_loss",
    ),
    (
        "AMD",
        "2021-02-16",
        "2021-02-19",
        92.0,
        89.0,
        30,
        "stop_loss",
    ),
];

/// Commission per side in the seed.
const COMMISSION: f64 = 1.0;

fn pnl(t: &Closed) -> f64 {
    t.5 as f64 * (t.4 - t.3) - 2.0 * COMMISSION
}

/// The ticker whose view the browser opens: it has bars, two closed trades and sentiment.
const VIEWED: &str = "NVDA";

/// The trending day (the last seeded sentiment day) and each ticker's seeded days.
const TRENDING_DAY: &str = "2021-02-26";

/// NVDA's bars: every weekday of 2021-01-04..=2021-02-26, with SMA 50/200 and Bollinger bands.
fn bar_days() -> Vec<NaiveDate> {
    let mut d = day("2021-01-04");
    let mut days = Vec::new();
    while d <= day(TRENDING_DAY) {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(d);
        }
        d += Duration::days(1);
    }
    days
}

/// Each trending ticker's seeded sentiment days: GME every other day back to 22 days
/// before the trending day, plus one day 40 days back (outside the 30-day sparkline);
/// AMC three days; NVDA on each of its bar days.
fn sentiment_days() -> BTreeMap<&'static str, Vec<NaiveDate>> {
    let last = day(TRENDING_DAY);
    let mut gme: Vec<NaiveDate> = (0..12).map(|k| last - Duration::days(2 * k)).collect();
    gme.push(last - Duration::days(40));
    let amc = vec![last, last - Duration::days(1), last - Duration::days(7)];
    BTreeMap::from([("GME", gme), ("AMC", amc), (VIEWED, bar_days())])
}

/// Seeds the closed trades, NVDA's bars and the Reddit days the new parts of the page show.
async fn seed_history(db: &TestDb) {
    let c = db.pool.get().await.unwrap();
    for (i, t) in CLOSED.iter().enumerate() {
        let entry = day(t.1);
        let signal_day = entry - Duration::days(1);
        let closed_at = day(t.2).and_hms_opt(20, 0, 0).unwrap().and_utc();
        let generated_at = signal_day.and_hms_opt(21, 30, 0).unwrap().and_utc();
        c.execute(
            "INSERT INTO trading_signals (signal_key, ticker, trading_date, signal, confidence, model_version, \
                 entry_price, stop_loss, target_price, shares, entry_date, fill_price, entry_commission, \
                 entry_status, is_active, exit_price, exit_fill_price, exit_commission, exit_reason, \
                 realized_pnl, closed_at, generated_at) \
             VALUES ($1, $2, $3, 'BUY', 0.8, 'v-test', $4::float8, $4::float8 * 0.96, $4::float8 * 1.06, $5, $6, $4, $7, 'filled', \
                 false, $8, $8, $7, $9, $10, $11, $12)",
            &[
                &format!("seed:{i}:{}", t.0),
                &t.0,
                &signal_day,
                &t.3,
                &t.5,
                &entry,
                &COMMISSION,
                &t.4,
                &t.6,
                &pnl(t),
                &closed_at,
                &generated_at,
            ],
        )
        .await
        .unwrap();
    }
    for (i, d) in bar_days().iter().enumerate() {
        let x = i as f64;
        let close = 100.0 + 0.4 * x + 4.0 * (x / 2.0).sin();
        let open = 100.0 + 0.4 * x + 4.0 * ((x - 1.0) / 2.0).sin();
        let sma_50 = 99.0 + 0.4 * x;
        c.execute(
            "INSERT INTO stock_prices (ticker, date, open, high, low, close, adjusted_close, volume, \
                 sma_50, sma_200, bb_upper, bb_lower) \
             VALUES ($1, $2, $3::float8, greatest($3::float8, $4::float8) + 1.5, least($3::float8, $4::float8) - 1.5, $4::float8, $4::float8, 1000000, \
                 $5::float8, $6::float8, $5::float8 + 7, $5::float8 - 7)",
            &[&VIEWED, d, &open, &close, &sma_50, &(95.0 + 0.2 * x)],
        )
        .await
        .unwrap();
    }
    for (ticker, days) in sentiment_days() {
        for (i, d) in days.iter().enumerate() {
            let mentions = match ticker {
                "GME" => 300 + i as i32,
                "AMC" => 200 + i as i32,
                _ => 100 + i as i32,
            };
            let sentiment = ((i * 7 % 11) as f64 - 5.0) / 10.0;
            c.execute(
                "INSERT INTO ticker_sentiment_daily (ticker, trading_date, window_start, cutoff_at, mentions, \
                     items, unique_authors, mean_sentiment, weighted_sentiment, bullish_share) \
                 VALUES ($1, $2, now(), now(), $3, $3, $3, $4, $4, 0.5)",
                &[&ticker, d, &mentions, &sentiment],
            )
            .await
            .unwrap();
        }
    }
}

/// By a key: (trades, wins, net P&L) of the seeded closed trades.
fn breakdown(key: impl Fn(&Closed) -> String) -> BTreeMap<String, (usize, usize, f64)> {
    let mut groups: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for t in CLOSED {
        let g = groups.entry(key(t)).or_default();
        g.0 += 1;
        g.1 += usize::from(pnl(t) > 0.0);
        g.2 += pnl(t);
    }
    groups
}

/// A breakdown table's rows as (key, trades, wins, P&L) (columns 0, 1, 2 and 4).
fn breakdown_rows(rows: &Value) -> BTreeMap<String, (String, String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |i: usize| r[i].as_str().unwrap().to_string();
            (cell(0), (cell(1), cell(2), cell(4)))
        })
        .collect()
}

fn as_text(
    groups: BTreeMap<String, (usize, usize, f64)>,
) -> BTreeMap<String, (String, String, String)> {
    groups
        .into_iter()
        .map(|(k, (n, w, p))| (k, (n.to_string(), w.to_string(), usd(p))))
        .collect()
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
    seed_history(&db).await;
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
                .args(["--url", &url, "--key", &key, "--ticker", VIEWED, "--out"])
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
    // The seeded signals: both pending entries, in the active table and at the top of the
    // recent list (the closed trades were generated before them).
    assert_eq!(column(&dom["active"], 0), ["AAA", "BBB"], "{dom}");
    assert_eq!(column(&dom["active"], 1), ["pending", "pending"], "{dom}");
    let recent = column(&dom["recent"], 1);
    assert_eq!(recent.len(), 2 + CLOSED.len(), "{dom}");
    let mut newest = recent[..2].to_vec();
    newest.sort();
    assert_eq!(newest, ["AAA", "BBB"], "{dom}");
    assert_eq!(column(&dom["recent"], 0)[..2], ["2021-03-01", "2021-03-01"]);
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
    // Trending: the seeded tickers, each row with two sparklines drawn from the seeded days
    // inside the 30-day window (GME's day 40 days back is not in it).
    assert_eq!(dom["trending_date"], format!("({TRENDING_DAY})"), "{dom}");
    let seeded = sentiment_days();
    let window = day(TRENDING_DAY) - Duration::days(29)..=day(TRENDING_DAY);
    let shown: BTreeSet<String> = column(&dom["trending"], 0).into_iter().collect();
    let expected: BTreeSet<String> = seeded.keys().map(|t| t.to_string()).collect();
    assert_eq!(shown, expected, "{dom}");
    let sparklines = dom["sparklines"].as_array().unwrap();
    assert_eq!(sparklines.len(), seeded.len(), "{dom}");
    for row in sparklines {
        let ticker = row["ticker"].as_str().unwrap();
        let in_window = seeded[ticker].iter().filter(|d| window.contains(d)).count() as u64;
        assert!(in_window >= 3, "the seed gives every row a line: {ticker}");
        let lines = row["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 2, "mentions and sentiment: {row}");
        for line in lines {
            assert_eq!(line["points"].as_u64(), Some(in_window), "{ticker}: {row}");
            assert_eq!(
                line["vertices"].as_u64(),
                Some(in_window),
                "{ticker}: {row}"
            );
            assert!(
                line["line_width"].as_f64().unwrap() > 10.0,
                "{ticker}: {row}"
            );
            assert!(line["width"].as_f64().unwrap() > 0.0, "{ticker}: {row}");
        }
    }
    // Closed trades: every seeded round trip with its P&L, and the breakdowns' rows are the
    // seed grouped by exit reason and by month (New York) closed.
    let mut closed: Vec<(String, String, String, String)> = dom["closed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |i: usize| r[i].as_str().unwrap().to_string();
            (cell(0), cell(1), cell(5), cell(7))
        })
        .collect();
    closed.sort();
    let mut seeded_closed: Vec<(String, String, String, String)> = CLOSED
        .iter()
        .map(|t| (t.2.into(), t.0.into(), t.6.into(), usd(pnl(t))))
        .collect();
    seeded_closed.sort();
    assert_eq!(closed, seeded_closed, "{dom}");
    assert_eq!(
        breakdown_rows(&dom["by_exit_reason"]),
        as_text(breakdown(|t| t.6.to_string())),
        "{dom}"
    );
    assert_eq!(
        breakdown_rows(&dom["by_month"]),
        as_text(breakdown(|t| t.2[..7].to_string())),
        "{dom}"
    );
    let total: f64 = CLOSED.iter().map(pnl).sum();
    let wins = CLOSED.iter().filter(|t| pnl(t) > 0.0).count();
    let summary = dom["closed_total"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("{} trades, {wins} won", CLOSED.len()))
            && summary.contains(&format!("net P&L {}", usd(total))),
        "{summary}"
    );

    // The ticker view, opened by a click on NVDA in the closed trades: candles drawn, a
    // marker for each seeded entry and exit inside the bars, the trades listed, the
    // sentiment over the bars' days; the same at a phone's width, the ticker typed.
    let bars = bar_days();
    let on_bars = |d: &str| (bars[0]..=bars[bars.len() - 1]).contains(&day(d));
    let viewed: Vec<&Closed> = CLOSED.iter().filter(|t| t.0 == VIEWED).collect();
    let markers = viewed
        .iter()
        .map(|t| u64::from(on_bars(t.1)) + u64::from(on_bars(t.2)))
        .sum::<u64>();
    assert_eq!(
        markers, 4,
        "the seed puts both of NVDA's trades on its bars"
    );
    let sentiment_on_bars = seeded[VIEWED].len();
    for (name, view) in [
        ("desktop", &report["ticker"]),
        ("phone", &report["phone_ticker"]),
    ] {
        assert_eq!(view["hash"], format!("#ticker={VIEWED}"), "{name}: {view}");
        assert!(
            view["title"].as_str().unwrap().starts_with(VIEWED),
            "{name}: {view}"
        );
        assert_eq!(view["chart_hidden"], false, "{name}: {view}");
        assert_eq!(view["markers"].as_u64(), Some(markers), "{name}: {view}");
        let note = view["note"].as_str().unwrap();
        assert!(
            note.contains(&format!("{} daily bars", bars.len()))
                && note.contains(&format!("{} signals", viewed.len()))
                && note.contains(&format!("{sentiment_on_bars} days of Reddit sentiment")),
            "{name}: {note}"
        );
        let mut trades: Vec<(String, String)> = view["trades"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[4].as_str().unwrap().into(), r[6].as_str().unwrap().into()))
            .collect();
        trades.sort();
        let mut seeded_trades: Vec<(String, String)> =
            viewed.iter().map(|t| (t.2.into(), t.6.into())).collect();
        seeded_trades.sort();
        assert_eq!(trades, seeded_trades, "{name}: {view}");
        // Pixels: the candles in both colours, and the markers' own colours (no series uses them).
        let px = &view["pixels"];
        assert!(px["coloured"].as_u64().unwrap() > 500, "{name}: {px}");
        for colour in ["candle_up", "candle_down", "entry", "exit"] {
            assert!(
                px["near"][colour].as_u64().unwrap() > 10,
                "{name}: no {colour} pixels: {px}"
            );
        }
        assert_eq!(
            unexpected(&view["errors"]),
            Vec::<Value>::new(),
            "{name}: {view}"
        );
    }
    let phone_ticker = &report["phone_ticker"];
    assert!(
        phone_ticker["scroll_width"].as_u64() <= phone_ticker["viewport_width"].as_u64(),
        "{phone_ticker}"
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
        "dashboard screenshots: {}, {}, {} and {}",
        report["screenshot"].as_str().unwrap(),
        phone["screenshot"].as_str().unwrap(),
        report["ticker"]["screenshot"].as_str().unwrap(),
        phone_ticker["screenshot"].as_str().unwrap()
    );
}
