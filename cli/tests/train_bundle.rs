//! Training inside `make test`: the Rust export of a few sample tickers → the Python trainer
//! (`uv run --locked python -m tft_models.train`, tiny settings: 5 tree rounds, one LSTM
//! epoch of 1,024 windows) → the bundle loaded by the Rust ensemble, which refuses it unless
//! tract + the manifest's calibration reproduce the golden (calibrated) outputs to 1e-5.
//!
//! Also runs the models project's own unit tests (`models/tests`: calibration, the split,
//! the fold server's protocol, the committed bundle against onnxruntime), so that they are
//! part of `make test` and cannot go stale unseen.
//!
//! Needs `uv` on the PATH (`.ci/run` installs it): without it the tests fail and say so,
//! they never pass silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use ensemble::golden::Golden;
use ensemble::Ensemble;

const TICKERS: [&str; 4] = ["AAPL", "AMD", "F", "XOM"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

fn require_uv() {
    let uv = Command::new("uv").arg("--version").output();
    assert!(
        uv.as_ref().is_ok_and(|o| o.status.success()),
        "uv is not on the PATH: this test runs the models project with `uv run --locked` in \
         models/ (install uv: https://docs.astral.sh/uv/ ; .ci/run does) — {uv:?}"
    );
}

#[test]
fn the_models_projects_unit_tests_pass() {
    require_uv();
    let out = Command::new("uv")
        .current_dir(repo("models"))
        .args([
            "run", "--locked", "python", "-m", "unittest", "discover", "-s", "tests", "-v",
        ])
        .output()
        .expect("uv run: cannot start");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "models/tests failed ({}):\n{report}",
        out.status
    );
    // unittest prints "Ran N tests"; an empty discovery would also exit 0.
    let ran: usize = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no \"Ran N tests\" line:\n{report}"));
    assert!(ran >= 13, "only {ran} Python tests ran:\n{report}");
}

#[test]
fn python_trains_a_tiny_bundle_that_the_rust_ensemble_serves() {
    require_uv();
    let dir = std::env::temp_dir().join(format!("tft-train-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let prices = dir.join("prices");
    std::fs::create_dir_all(&prices).unwrap();
    for t in TICKERS {
        std::fs::copy(
            repo(&format!("data/sample/prices/{t}.csv")),
            prices.join(format!("{t}.csv")),
        )
        .unwrap();
    }
    let csv = dir.join("features.csv");
    run(
        Command::new(env!("CARGO_BIN_EXE_tft"))
            .args(["features", "export", "--prices"])
            .arg(&prices)
            .args(["--from", "2019-01-01", "--to", "2021-03-31", "--out"])
            .arg(&csv),
        "tft features export",
    );
    let store = dir.join("store");
    let started = std::time::Instant::now();
    run(
        Command::new("uv")
            .current_dir(repo("models"))
            .args([
                "run",
                "--locked",
                "python",
                "-m",
                "tft_models.train",
                "--features",
            ])
            .arg(&csv)
            .arg("--store")
            .arg(&store)
            .args([
                "--train-from",
                "2019-01-01",
                "--train-to",
                "2020-06-30",
                "--calibrate-from",
                "2020-07-20",
                "--calibrate-to",
                "2020-10-30",
                "--xgb-rounds",
                "5",
                "--lgb-rounds",
                "5",
                "--lstm-epochs",
                "1",
                "--lstm-samples",
                "1024",
                "--golden-rows",
                "16",
            ]),
        "uv run --locked python -m tft_models.train",
    );
    println!("trained in {:.1} s", started.elapsed().as_secs_f64());

    let ensemble = Ensemble::load_local_blocking(&store).expect("the trained bundle is served");
    let bundle_dir = store.join("ensemble").join(ensemble.version());
    let golden = Golden::parse(&std::fs::read(bundle_dir.join("golden.json")).unwrap()).unwrap();
    assert_eq!(golden.rows.len(), 16);
    let report = ensemble.check_golden(&golden).unwrap();
    println!(
        "{}: {:?} {:?}",
        ensemble.version(),
        report.max_abs_diff,
        report.raw_max_abs_diff
    );
    assert_eq!(report.max_abs_diff.len(), 4);
    assert_eq!(report.raw_max_abs_diff.len(), 4);
    for (k, d) in report.max_abs_diff.iter().chain(&report.raw_max_abs_diff) {
        assert!(*d <= 1e-5, "{k}: {d:e}");
    }
    for model in ["lstm", "xgboost", "lightgbm"] {
        assert!(
            ensemble.calibration(model).is_some(),
            "{model} has no calibration"
        );
    }
    assert!(ensemble.version().starts_with("2020-10-30-"));
    let _ = std::fs::remove_dir_all(&dir);
}
