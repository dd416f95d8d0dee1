//! `tft backtest` end to end on the bundled sample (data/sample: real bars, real posts):
//! the report contract, determinism, the look-ahead probe, and the refusal of a fixed
//! model whose training or validation window overlaps the test window.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tft-backtest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn posts() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("data/sample/reddit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

fn backtest(out: &Path, from: &str, to: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tft"));
    cmd.arg("backtest")
        .arg("--prices")
        .arg(repo("data/sample/prices"))
        .arg("--posts")
        .args(posts())
        .arg("--benchmark")
        .arg(repo("data/sample/benchmark/SPY.csv"))
        .args(["--from", from, "--to", to, "--quiet"])
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd.output().unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "tft backtest failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn backtest_cli_report_json_trades_csv_and_html_follow_the_contract() {
    let out = out_dir("contract");
    ok(&backtest(
        &out,
        "2020-01-01",
        "2021-12-31",
        &["--strategy", "rules"],
    ));
    let r = json(&out.join("report.json"));
    for key in [
        "strategy",
        "from",
        "to",
        "trades",
        "win_rate",
        "avg_trade_return",
        "sharpe",
        "max_drawdown",
        "total_return",
    ] {
        assert!(r.get(key).is_some(), "report.json lacks {key}");
    }
    // The drawdown breaker's trips and releases (docs/risk.md): a list, maybe empty.
    assert!(r["breaker_events"].is_array(), "{}", r["breaker_events"]);
    for key in ["total_return", "sharpe", "max_drawdown"] {
        assert!(
            r["benchmark"][key].is_number(),
            "benchmark.{key}: {}",
            r["benchmark"]
        );
    }
    assert_eq!(r["strategy"], "rules");
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2020-01-01"), Some("2021-12-31"))
    );
    // SPY 2020-01-02 open 323.54 → 2021-12-31 close 474.96: +46.8 % before costs.
    let spy = r["benchmark"]["total_return"].as_f64().unwrap();
    assert!((spy - 0.4665).abs() < 0.002, "{spy}");
    let trades = r["trades"].as_u64().unwrap();
    assert!(trades > 0, "the rule strategy trades on the sample");

    let csv = std::fs::read_to_string(out.join("trades.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("ticker,entry_date,entry_price,exit_date,exit_price,exit_reason,return"),
        "{header}"
    );
    assert_eq!(lines.count() as u64, trades);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Survivorship"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn backtest_cli_same_run_twice_gives_the_same_report() {
    let (a, b) = (out_dir("det-a"), out_dir("det-b"));
    // Default random-entry seeds (100, run on every core) and the universe split: the
    // report stays byte-identical.
    let manifest = repo("data/sample/manifest.csv");
    let extra = [
        "--strategy",
        "rules",
        "--manifest",
        manifest.to_str().unwrap(),
    ];
    ok(&backtest(&a, "2020-06-01", "2021-06-30", &extra));
    ok(&backtest(&b, "2020-06-01", "2021-06-30", &extra));
    for file in ["report.json", "trades.csv"] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between two identical runs");
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn backtest_cli_chance_sections_random_entry_bootstrap_deflated_sharpe_and_universe_split() {
    let out = out_dir("chance");
    let manifest = repo("data/sample/manifest.csv");
    ok(&backtest(
        &out,
        "2020-01-13",
        "2021-12-31",
        &[
            "--strategy",
            "rules",
            "--random-seeds",
            "30",
            "--configs-tried",
            "20",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    ));
    let r = json(&out.join("report.json"));
    for key in [
        "random_entry",
        "bootstrap",
        "deflated_sharpe",
        "universe_split",
        "survivorship",
    ] {
        assert!(!r[key].is_null(), "report.json lacks {key}");
    }
    let re = &r["random_entry"]["by_strategy"][0];
    assert_eq!(re["strategy"], "rules");
    assert_eq!(re["seeds"], 30);
    assert!(re["candidates_per_day"].as_f64().unwrap() > 0.0);
    let (p5, p95) = (
        re["sharpe"]["p5"].as_f64().unwrap(),
        re["sharpe"]["p95"].as_f64().unwrap(),
    );
    assert!(p5 < p95, "{re}");
    let pctl = re["sharpe_percentile"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&pctl));

    let b = &r["bootstrap"]["by_strategy"][0];
    let avg = b["avg_trade_return"].as_f64().unwrap();
    let ci = &b["avg_trade_ci"];
    assert!(ci["low"].as_f64().unwrap() <= avg && avg <= ci["high"].as_f64().unwrap());
    assert_eq!(r["bootstrap"]["resamples"], 10_000);

    let d = &r["deflated_sharpe"];
    assert_eq!(d["configs_tried"], 20);
    let d0 = &d["by_strategy"][0];
    assert_eq!(d0["variance_source"], "random_entry");
    let dsr = d0["result"]["deflated_sharpe"].as_f64().unwrap();
    let psr = d0["result"]["probabilistic_sharpe"].as_f64().unwrap();
    assert!(dsr < psr, "20 configurations deflate: {dsr} vs {psr}");

    // The sample's manifest: 21 S&P 500 members of 2020-08, 23 others excluded.
    let u = &r["universe_split"];
    assert_eq!(u["kept"], 21);
    let excluded: Vec<&str> = u["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(excluded.len(), 23);
    for t in ["GME", "AMC", "TSLA", "PLTR", "BB"] {
        assert!(
            excluded.contains(&t),
            "{t} is outside the S&P 500 of 2020-08"
        );
    }
    for t in ["AAPL", "MSFT", "XOM"] {
        assert!(!excluded.contains(&t), "{t} is a member");
    }
    assert_eq!(u["by_strategy"][0]["strategy"], "rules");
    assert!(u["by_strategy"][0]["metrics"]["trades"].is_number());
    assert!(u["random_entry"]["sharpe"]["p50"].is_number());
    let s = &r["survivorship"];
    assert_eq!(s["tickers"], 44);
    assert_eq!(s["listed_during_test"], serde_json::json!(["PLTR"]));
    assert_eq!(s["ended_during_test"], serde_json::json!([]));
    assert_eq!(
        (&s["in_sp500_2020_08"], &s["outside_sp500_2020_08"]),
        (&serde_json::json!(21), &serde_json::json!(23))
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Better than chance?") && html.contains("Survivorship"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn backtest_cli_lookahead_probe_passes_on_the_real_sample() {
    let out = out_dir("probe");
    let o = backtest(
        &out,
        "2020-01-01",
        "2021-12-31",
        &["--strategy", "rules", "--probe-lookahead", "2021-01-15"],
    );
    ok(&o);
    let p = &json(&out.join("report.json"))["probe"];
    assert_eq!(p["differences"], serde_json::json!([]), "{p}");
    assert!(p["entries_compared"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(p["future_changed"], true, "{p}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A store whose bundle passes the store's checks (hashes, schema, classes, weights) but
/// whose model file is not ONNX: the window check must refuse before anything parses it.
fn fake_store(name: &str, training: (&str, &str), validation: (&str, &str)) -> PathBuf {
    let root = out_dir(name);
    let version = "test-bundle";
    let dir = root.join("ensemble").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let model = b"not an onnx model".to_vec();
    let golden = b"{}".to_vec();
    std::fs::write(dir.join("xgboost.onnx"), &model).unwrap();
    std::fs::write(dir.join("golden.json"), &golden).unwrap();
    let schema = shared::core::features::FEATURE_SCHEMA;
    let manifest = serde_json::json!({
        "version": version,
        "feature_schema": {"version": schema.version, "hash": schema.hash(), "names": schema.names},
        "classes": ["SELL", "HOLD", "BUY"],
        "weights": {"xgboost": 1.0},
        "training_window": {"from": training.0, "to": training.1},
        "validation_window": {"from": validation.0, "to": validation.1},
        "validation_metrics": {},
        "models": {"xgboost": {"file": "xgboost.onnx", "sha256": ensemble::manifest::sha256_hex(&model)}},
        "golden": {"file": "golden.json", "sha256": ensemble::manifest::sha256_hex(&golden)},
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::write(root.join("ensemble").join("current"), version).unwrap();
    root
}

#[test]
fn backtest_cli_refuses_a_test_window_overlapping_the_models_windows() {
    let store = fake_store(
        "store",
        ("2016-01-01", "2019-03-31"),
        ("2019-04-15", "2020-06-30"),
    );
    let out = out_dir("refused");
    let models = store.to_str().unwrap();
    let o = backtest(&out, "2020-01-01", "2021-12-31", &["--models", models]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("overlaps the model's validation window 2019-04-15..=2020-06-30")
            && err.contains("--from 2020-07-11"),
        "{err}"
    );
    assert!(!out.join("report.json").exists(), "nothing is written");
    // The validation labels read 7 trading days past the window (2020-07-03 is a holiday).
    let o = backtest(&out, "2020-07-10", "2021-12-31", &["--models", models]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("overlaps the model's validation labels window 2020-07-01..=2020-07-10"),
        "{err}"
    );
    // After the windows the check passes, and the (fake) model is what fails.
    let o = backtest(&out, "2020-07-13", "2021-12-31", &["--models", models]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("overlaps"), "{err}");
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&out);
}
