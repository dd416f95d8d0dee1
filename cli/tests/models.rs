//! `tft models promote` on a trading metric and `tft models rollback`, on a local store
//! holding the committed bundle (current) and the calibrated test bundle (the candidate),
//! scored on the bundled sample over the candidate's calibration slice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn version_in(store: &Path) -> String {
    std::fs::read_to_string(store.join("ensemble/current"))
        .unwrap()
        .trim()
        .to_string()
}

fn tft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tft"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn models_promote_scores_both_bundles_on_one_window_and_rollback_forces_a_version() {
    let dir = std::env::temp_dir().join(format!("tft-models-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = dir.join("store");
    let current = version_in(&repo("models/store"));
    let candidate = version_in(&repo("ensemble/tests/fixtures/calibrated"));
    copy_dir(
        &repo("models/store/ensemble").join(&current),
        &store.join("ensemble").join(&current),
    );
    copy_dir(
        &repo("ensemble/tests/fixtures/calibrated/ensemble").join(&candidate),
        &store.join("ensemble").join(&candidate),
    );
    std::fs::write(store.join("ensemble/current"), &current).unwrap();
    let store_arg = store.to_str().unwrap();

    let prices = repo("data/sample/prices");
    let bench = repo("data/sample/benchmark/SPY.csv");
    let o = tft(&[
        "models",
        "promote",
        &candidate,
        "--store",
        store_arg,
        "--prices",
        prices.to_str().unwrap(),
        "--benchmark",
        bench.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let verdict: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    // The window is the candidate's calibration slice; both bundles were scored on it.
    assert_eq!(verdict["window"]["from"], "2020-07-20");
    assert_eq!(verdict["window"]["to"], "2020-10-30");
    assert_eq!(verdict["candidate"]["version"], candidate.as_str());
    assert_eq!(verdict["current"]["version"], current.as_str());
    // The store follows the rule's decision, recomputed here from the printed scores.
    let score = |v: &serde_json::Value| shared::core::promotion::ScoredBundle {
        version: v["version"].as_str().unwrap().into(),
        trades: v["trades"].as_u64().unwrap() as usize,
        net_return: v["net_return"].as_f64().unwrap(),
        avg_trade: v["avg_trade"].as_f64().unwrap(),
    };
    let expected = shared::core::promotion::decide(
        &score(&verdict["candidate"]),
        Some(&score(&verdict["current"])),
        &Default::default(),
    );
    assert_eq!(
        verdict["decision"]["decision"],
        if expected.promotes() {
            "promote"
        } else {
            "keep"
        }
    );
    let now = version_in(&store);
    assert_eq!(
        &now,
        if expected.promotes() {
            &candidate
        } else {
            &current
        }
    );

    // Rollback forces either version, and refuses one the store does not hold.
    for v in [&candidate, &current] {
        let o = tft(&["models", "rollback", v, "--store", store_arg]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(&version_in(&store), v);
    }
    let o = tft(&[
        "models",
        "rollback",
        "1999-01-01-deadbeef",
        "--store",
        store_arg,
    ]);
    assert!(!o.status.success());
    assert_eq!(version_in(&store), current);
    let _ = std::fs::remove_dir_all(&dir);
}
