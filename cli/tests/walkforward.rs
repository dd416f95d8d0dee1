//! `tft backtest --walk-forward` end to end on the bundled sample: with a stand-in fold
//! server (tests/fixtures/fake_fold_server.sh: the protocol, no Python) for the report,
//! the cache and the errors; and with the real Python fold server through uv (a tiny
//! configuration: two folds train in about 15 s; it fails, saying so, without uv).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tft-walkfwd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn committed_bundle() -> PathBuf {
    let current = std::fs::read_to_string(repo("models/store/ensemble/current")).unwrap();
    repo("models/store/ensemble").join(current.trim())
}

/// A sample backtest with a few tickers (the export and the engine stay small).
fn prices(dir: &Path) -> PathBuf {
    let prices = dir.join("prices");
    std::fs::create_dir_all(&prices).unwrap();
    for t in ["AAPL", "AMD", "GME", "KO", "MSFT", "TSLA"] {
        std::fs::copy(
            repo(&format!("data/sample/prices/{t}.csv")),
            prices.join(format!("{t}.csv")),
        )
        .unwrap();
    }
    prices
}

struct Run<'a> {
    prices: &'a Path,
    out: &'a Path,
    cache: &'a Path,
    log: &'a Path,
    from: &'a str,
    to: &'a str,
    extra: &'a [&'a str],
}

fn walk(r: &Run<'_>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tft"))
        .arg("backtest")
        .arg("--prices")
        .arg(r.prices)
        .arg("--posts")
        .arg(repo("data/sample/reddit/wsb_comments_2021-11_12.csv"))
        .arg("--benchmark")
        .arg(repo("data/sample/benchmark/SPY.csv"))
        .args(["--from", r.from, "--to", r.to, "--quiet", "--walk-forward"])
        .args(["--train-years", "1", "--retrain-every", "4"])
        .arg("--out")
        .arg(r.out)
        .arg("--cache")
        .arg(r.cache)
        .arg("--models-project")
        .arg(repo("models"))
        .arg("--fold-server")
        .arg(repo("cli/tests/fixtures/fake_fold_server.sh"))
        .args(r.extra)
        .env("FAKE_FOLD_BUNDLE", committed_bundle())
        .env("FAKE_FOLD_LOG", r.log)
        .output()
        .unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "tft backtest --walk-forward failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
}

fn requests(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn walk_forward_reports_its_folds_trains_each_once_and_retrains_only_what_changed() {
    let dir = temp("cache");
    let prices = prices(&dir);
    let cache = dir.join("cache");
    let log = dir.join("requests.jsonl");
    let out = dir.join("out1");
    let run = Run {
        prices: &prices,
        out: &out,
        cache: &cache,
        log: &log,
        from: "2020-03-02",
        to: "2020-04-24",
        extra: &[],
    };
    ok(&walk(&run));

    // Two folds: 2020-03-02 and four weeks later, 2020-03-30.
    let sent = requests(&log);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["train_from"], "2019-03-04");
    assert_eq!(sent[0]["warm_start"], serde_json::Value::Null);
    assert_eq!(sent[0]["params"]["lstm_epochs"], 4);
    assert_eq!(sent[1]["params"]["lstm_epochs"], 1);
    let warm = sent[1]["warm_start"].as_str().unwrap();
    assert!(
        Path::new(warm).join("manifest.json").is_file(),
        "the second fold warm-starts from the first's bundle: {warm}"
    );
    for s in &sent {
        assert!(Path::new(s["out"].as_str().unwrap()).is_absolute());
        // Calibration ends 11 trading days before the retrain date at the latest.
        assert!(s["calibrate_to"].as_str().unwrap() < "2020-03-30");
    }

    let report = json(&out.join("report.json"));
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    let version = std::fs::read_to_string(repo("models/store/ensemble/current")).unwrap();
    for (k, f) in folds.iter().enumerate() {
        for key in [
            "train_from",
            "train_to",
            "calibrate_from",
            "calibrate_to",
            "trade_from",
            "trade_to",
            "bundle",
            "metrics",
            "trades",
        ] {
            assert!(f.get(key).is_some(), "fold {k} lacks {key}: {f}");
        }
        assert_eq!(f["bundle"], version.trim());
        assert_eq!(f["train_from"], sent[k]["train_from"]);
        assert_eq!(f["calibrate_to"], sent[k]["calibrate_to"]);
    }
    assert_eq!(folds[0]["trade_from"], "2020-03-02");
    assert_eq!(folds[0]["trade_to"], "2020-03-27");
    assert_eq!(folds[1]["trade_from"], "2020-03-30");
    assert_eq!(folds[1]["trade_to"], "2020-04-24");
    let fold_trades: u64 = folds.iter().map(|f| f["trades"].as_u64().unwrap()).sum();
    assert_eq!(fold_trades, report["trades"].as_u64().unwrap());
    assert_eq!(report["model"]["walk_forward"], true);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<th>calibrates on</th>"),
        "no fold table in report.html"
    );
    assert_eq!(report["walk_forward"]["retrain_every_weeks"], 4);
    assert_eq!(report["walk_forward"]["purge_trading_days"], 10);
    // The baselines are there as without walk-forward: rules and each model alone.
    let baselines: Vec<&str> = report["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["strategy"].as_str().unwrap())
        .collect();
    assert!(baselines.contains(&"rules"), "{baselines:?}");
    assert!(baselines.contains(&"lstm alone"), "{baselines:?}");

    // Same inputs again: every fold from the cache, the same report byte for byte.
    let out2 = dir.join("out2");
    ok(&walk(&Run { out: &out2, ..run }));
    assert_eq!(requests(&log).len(), 2, "a re-run trained again");
    assert_eq!(
        std::fs::read(out.join("report.json")).unwrap(),
        std::fs::read(out2.join("report.json")).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("trades.csv")).unwrap(),
        std::fs::read(out2.join("trades.csv")).unwrap()
    );

    // A longer test window: the two folds hit, only the new third one trains, warm-started
    // from the cached second.
    let out3 = dir.join("out3");
    ok(&walk(&Run {
        out: &out3,
        to: "2020-05-22",
        ..run
    }));
    let sent = requests(&log);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[2]["calibrate_to"].as_str().unwrap() < "2020-04-27");
    assert!(sent[2]["warm_start"].as_str().is_some());

    // A changed training parameter: every fold misses.
    let out4 = dir.join("out4");
    ok(&walk(&Run {
        out: &out4,
        extra: &["--lgb-rounds", "7"],
        ..run
    }));
    let sent = requests(&log);
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[3]["params"]["lgb_rounds"], 7);

    // The LSTM trained every second fold only (the quarterly LSTM of the speed goal, here
    // over three folds): fold 0's request is unchanged and hits; fold 1 keeps its parent's
    // LSTM (0 epochs) and fold 2 trains it warm again.
    let out_every = dir.join("out-lstm-every");
    ok(&walk(&Run {
        out: &out_every,
        to: "2020-05-22",
        extra: &["--lstm-every", "2"],
        ..run
    }));
    let sent = requests(&log);
    assert_eq!(sent.len(), 7, "fold 0 should come from the cache: {sent:?}");
    assert_eq!(sent[5]["params"]["lstm_epochs"], 0);
    assert!(sent[5]["warm_start"].as_str().is_some());
    assert_eq!(sent[6]["params"]["lstm_epochs"], 1);
    assert_eq!(
        sent[5]["params"]["lgb_rounds"],
        sent[0]["params"]["lgb_rounds"]
    );
    let wf = &json(&out_every.join("report.json"))["walk_forward"];
    assert_eq!(wf["lstm_every_folds"], 2);
    assert_eq!(wf["kept_lstm_fold_params"]["lstm_epochs"], 0);
    assert_eq!(wf["warm_fold_params"]["lstm_epochs"], 1);
    let refused = walk(&Run {
        out: &dir.join("out-lstm-every-0"),
        extra: &["--lstm-every", "0"],
        ..run
    });
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--lstm-every"));

    // Changed prices inside the first fold's training years: both folds miss (the second
    // is warm-started from the first, whose key changed).
    let ko = std::fs::read_to_string(prices.join("KO.csv")).unwrap();
    let mut lines: Vec<String> = ko.lines().map(str::to_string).collect();
    let k = lines
        .iter()
        .position(|l| l.starts_with("2019-06-03,"))
        .unwrap();
    let mut fields: Vec<String> = lines[k].split(',').map(str::to_string).collect();
    fields[4] = format!("{:.6}", fields[4].parse::<f64>().unwrap() * 1.01);
    lines[k] = fields.join(",");
    std::fs::write(prices.join("KO.csv"), lines.join("\n") + "\n").unwrap();
    let out5 = dir.join("out5");
    ok(&walk(&Run { out: &out5, ..run }));
    assert_eq!(requests(&log).len(), 9);

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn walk_forward_refuses_the_probe_and_the_rules_and_reports_a_failed_fold() {
    let dir = temp("refusals");
    let prices = prices(&dir);
    let cache = dir.join("cache");
    let log = dir.join("requests.jsonl");
    let out = dir.join("out");
    let run = Run {
        prices: &prices,
        out: &out,
        cache: &cache,
        log: &log,
        from: "2020-03-02",
        to: "2020-03-27",
        extra: &["--probe-lookahead", "2020-03-10"],
    };
    let o = walk(&run);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--probe-lookahead does not run with --walk-forward"),
        "{err}"
    );

    let o = walk(&Run {
        extra: &["--strategy", "rules"],
        ..run
    });
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("rule strategy has no fitted"));

    let o = {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tft"));
        c.arg("backtest")
            .arg("--prices")
            .arg(&prices)
            .arg("--benchmark")
            .arg(repo("data/sample/benchmark/SPY.csv"))
            .args(["--from", "2020-03-02", "--to", "2020-03-27", "--quiet"])
            .args(["--walk-forward", "--train-years", "1"])
            .arg("--out")
            .arg(&out)
            .arg("--cache")
            .arg(&cache)
            .arg("--models-project")
            .arg(repo("models"))
            .arg("--fold-server")
            .arg(repo("cli/tests/fixtures/fake_fold_server.sh"))
            .env("FAKE_FOLD_BUNDLE", committed_bundle())
            .env("FAKE_FOLD_LOG", &log)
            .env("FAKE_FOLD_FAIL", "1");
        c.output().unwrap()
    };
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("failed in the fold server: ValueError: fake failure"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn walk_forward_without_uv_says_uv_is_missing_and_how_to_install_it() {
    let dir = temp("no-uv");
    let prices = prices(&dir);
    // A models project with everything but uv to run it.
    let project = dir.join("models");
    std::fs::create_dir_all(project.join("tft_models")).unwrap();
    for f in ["pyproject.toml", "uv.lock"] {
        std::fs::write(project.join(f), "").unwrap();
    }
    std::fs::write(project.join("tft_models/folds.py"), "").unwrap();
    let empty_path = dir.join("bin");
    std::fs::create_dir_all(&empty_path).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tft"))
        .arg("backtest")
        .arg("--prices")
        .arg(&prices)
        .arg("--benchmark")
        .arg(repo("data/sample/benchmark/SPY.csv"))
        .args(["--from", "2020-03-02", "--to", "2020-03-27", "--quiet"])
        .args(["--walk-forward", "--train-years", "1"])
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--models-project")
        .arg(&project)
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("uv is not installed"), "{err}");
    assert!(err.contains("https://astral.sh/uv/install.sh"), "{err}");

    // A project without the fold server names what is missing.
    std::fs::remove_file(project.join("tft_models/folds.py")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tft"))
        .arg("backtest")
        .arg("--prices")
        .arg(&prices)
        .arg("--benchmark")
        .arg(repo("data/sample/benchmark/SPY.csv"))
        .args(["--from", "2020-03-02", "--to", "2020-03-27", "--quiet"])
        .args(["--walk-forward", "--train-years", "1"])
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--models-project")
        .arg(&project)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has no tft_models/folds.py"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real fold server through uv, a tiny configuration: six sample tickers, one training
/// year, two folds, few trees, one LSTM epoch on 2,000 windows. Set TFT_MODELS_PROJECT to
/// a models project with `tft_models/folds.py` (default: the repository's models/).
#[test]
fn walk_forward_trains_two_folds_with_the_python_fold_server() {
    let project = std::env::var_os("TFT_MODELS_PROJECT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("models"));
    assert!(
        project.join("tft_models/folds.py").is_file(),
        "{} has no fold server",
        project.display()
    );
    let dir = temp("uv");
    let prices = prices(&dir);
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_tft"))
        .arg("backtest")
        .arg("--prices")
        .arg(&prices)
        .arg("--benchmark")
        .arg(repo("data/sample/benchmark/SPY.csv"))
        .args(["--from", "2020-06-01", "--to", "2020-07-24", "--quiet"])
        .args([
            "--walk-forward",
            "--train-years",
            "1",
            "--retrain-every",
            "4",
        ])
        .args([
            "--xgb-rounds",
            "5",
            "--lgb-rounds",
            "5",
            "--lstm-epochs",
            "1",
        ])
        .args(["--lstm-warm-epochs", "1", "--lstm-samples", "2000"])
        .args(["--lstm-every", "2"])
        .arg("--out")
        .arg(&out)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--models-project")
        .arg(&project)
        .output()
        .unwrap();
    ok(&o);
    let report = json(&out.join("report.json"));
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    assert_ne!(folds[0]["bundle"], folds[1]["bundle"]);
    assert!(folds[1]["warm_start"].as_str().is_some());
    assert!(
        folds[0]["metrics"].get("ensemble").is_some(),
        "{}",
        folds[0]
    );
    // `--lstm-every 2`: the second fold kept the first fold's LSTM (the same ONNX file,
    // byte for byte) and refit only its calibration, on its own slice.
    let bundle = |f: &serde_json::Value| {
        let version = f["bundle"].as_str().unwrap();
        std::fs::read_dir(dir.join("cache/folds"))
            .unwrap()
            .map(|e| e.unwrap().path().join("ensemble").join(version))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("no cached bundle {version}"))
    };
    let (first, second) = (bundle(&folds[0]), bundle(&folds[1]));
    assert_eq!(
        std::fs::read(first.join("lstm.onnx")).unwrap(),
        std::fs::read(second.join("lstm.onnx")).unwrap(),
        "the kept LSTM changed"
    );
    let calibration =
        |dir: &Path| json(&dir.join("manifest.json"))["calibration"]["models"]["lstm"].clone();
    assert_ne!(
        calibration(&first),
        calibration(&second),
        "not recalibrated"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
