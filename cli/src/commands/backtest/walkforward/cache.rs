//! The fold cache: a trained fold is stored under a key that hashes everything its model
//! depends on, so a re-run only trains what changed.
//!
//! key = sha256 of: a format tag, the feature CSV's header, the digest of every export row
//! dated up to the fold's `calibrate_to` (per date, in file order: rows after it cannot
//! reach the model, so extending `--to` keeps the earlier folds), the fold's training and
//! calibration dates and retrain date, the training parameters, the code version (the
//! models project's `pyproject.toml`, `uv.lock` and `tft_models/*.py`, and this code's
//! feature schema), and the parent's key when the fold is warm-started from it.
//!
//! Layout: `<cache>/exports/<sha256>.csv` (+ `.meta.json`): the feature export;
//! `<cache>/folds/<key>/ensemble/<version>/…` and `ensemble/current` (a model store, loaded
//! and verified like any other), `<cache>/folds/<key>/fold.json` (written last: the fold is
//! complete).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::core::backtest::walkforward::Fold;
use shared::core::features::FEATURE_SCHEMA;

use super::server::FoldParams;

/// Bumped when the meaning of a cached fold changes.
pub const CACHE_FORMAT: &str = "tft-walk-forward-fold-v1";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The feature export's identity: its header and one digest per date (file order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDigest {
    pub sha256: String,
    pub header: String,
    pub by_date: BTreeMap<NaiveDate, String>,
}

/// Reads an export CSV (`ticker,date,...`) once: its sha256 and the digest of each date's
/// rows.
pub fn digest_export(path: &Path) -> anyhow::Result<ExportDigest> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut whole = Sha256::new();
    let mut header = String::new();
    reader.read_line(&mut header)?;
    whole.update(header.as_bytes());
    let mut by_date: BTreeMap<NaiveDate, Sha256> = BTreeMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        whole.update(line.as_bytes());
        let date = line
            .split(',')
            .nth(1)
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .with_context(|| format!("{}: a row without a date: {line}", path.display()))?;
        by_date.entry(date).or_default().update(line.as_bytes());
    }
    Ok(ExportDigest {
        sha256: hex(&whole.finalize()),
        header: header.trim_end().to_string(),
        by_date: by_date
            .into_iter()
            .map(|(d, h)| (d, hex(&h.finalize())))
            .collect(),
    })
}

/// The models project's code version: sha256 of its lock, project file and modules.
pub fn code_version(project: &Path) -> anyhow::Result<String> {
    let mut files: Vec<PathBuf> = vec![project.join("pyproject.toml"), project.join("uv.lock")];
    let modules = project.join("tft_models");
    let mut py: Vec<PathBuf> = std::fs::read_dir(&modules)
        .with_context(|| format!("reading {}", modules.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    py.sort();
    files.extend(py);
    let mut h = Sha256::new();
    for f in files {
        let mut bytes = Vec::new();
        std::fs::File::open(&f)
            .and_then(|mut file| file.read_to_end(&mut bytes))
            .with_context(|| format!("reading {}", f.display()))?;
        let name = f.file_name().map(|n| n.to_string_lossy().to_string());
        h.update(name.unwrap_or_default().as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

/// What a fold's model depends on (hashed into its key).
#[derive(Debug, Serialize)]
struct KeyInputs<'a> {
    format: &'static str,
    feature_schema_hash: String,
    header: &'a str,
    rows: Vec<(NaiveDate, &'a str)>,
    train_from: NaiveDate,
    train_to: NaiveDate,
    calibrate_from: NaiveDate,
    calibrate_to: NaiveDate,
    retrain: NaiveDate,
    params: FoldParams,
    code: &'a str,
    parent: Option<&'a str>,
}

/// The fold's cache key (module docs).
pub fn fold_key(
    export: &ExportDigest,
    fold: &Fold,
    params: &FoldParams,
    code: &str,
    parent: Option<&str>,
) -> String {
    let inputs = KeyInputs {
        format: CACHE_FORMAT,
        feature_schema_hash: FEATURE_SCHEMA.hash(),
        header: &export.header,
        rows: export
            .by_date
            .range(..=fold.calibrate_to)
            .map(|(d, h)| (*d, h.as_str()))
            .collect(),
        train_from: fold.train_from,
        train_to: fold.train_to,
        calibrate_from: fold.calibrate_from,
        calibrate_to: fold.calibrate_to,
        retrain: fold.trade_from,
        params: *params,
        code,
        parent,
    };
    let json = serde_json::to_vec(&inputs).expect("key inputs serialise");
    hex(&Sha256::digest(&json))
}

/// A trained fold as stored (`fold.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFold {
    pub key: String,
    pub parent: Option<String>,
    pub version: String,
    pub metrics: serde_json::Value,
    pub seconds: serde_json::Value,
}

/// One fold's directory in the cache.
pub fn fold_dir(cache: &Path, key: &str) -> PathBuf {
    cache.join("folds").join(key)
}

/// The stored fold under `key`, if complete.
pub fn lookup(cache: &Path, key: &str) -> Option<StoredFold> {
    let text = std::fs::read_to_string(fold_dir(cache, key).join("fold.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Moves a freshly written bundle into the fold's store layout and marks the fold complete.
pub fn store(cache: &Path, fold: &StoredFold, bundle: &Path) -> anyhow::Result<PathBuf> {
    let dir = fold_dir(cache, &fold.key);
    let dest = dir.join("ensemble").join(&fold.version);
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    std::fs::create_dir_all(dir.join("ensemble"))?;
    if bundle != dest {
        std::fs::rename(bundle, &dest)
            .with_context(|| format!("moving {} to {}", bundle.display(), dest.display()))?;
    }
    std::fs::write(dir.join("ensemble").join("current"), &fold.version)?;
    std::fs::write(
        dir.join("fold.json"),
        serde_json::to_string_pretty(fold)? + "\n",
    )?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn export(rows: &[(&str, &str, &str)]) -> ExportDigest {
        let dir = std::env::temp_dir().join(format!(
            "tft-fold-key-{}-{}",
            std::process::id(),
            rows.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.csv", hex(&Sha256::digest(format!("{rows:?}")))));
        let mut text = String::from("ticker,date,f1,label\n");
        for (t, d, v) in rows {
            text.push_str(&format!("{t},{d},{v}\n"));
        }
        std::fs::write(&path, text).unwrap();
        let digest = digest_export(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        digest
    }

    fn fold() -> Fold {
        Fold {
            index: 0,
            train_from: day("2019-01-02"),
            train_to: day("2019-01-03"),
            calibrate_from: day("2019-01-07"),
            calibrate_to: day("2019-01-08"),
            trade_from: day("2019-01-14"),
            trade_to: day("2019-02-08"),
        }
    }

    const PARAMS: FoldParams = FoldParams {
        xgb_rounds: 10,
        lgb_rounds: 10,
        lstm_epochs: 1,
        lstm_samples: 1000,
        max_train_rows: 0,
    };

    const ROWS: [(&str, &str, &str); 4] = [
        ("AAA", "2019-01-02", "0.5,1"),
        ("AAA", "2019-01-08", "0.25,2"),
        ("AAA", "2019-01-15", "0.75,0"),
        ("BBB", "2019-01-02", "0.5,1"),
    ];

    #[test]
    fn the_same_inputs_hit_and_any_changed_input_param_date_code_or_parent_misses() {
        let base = export(&ROWS);
        let key = fold_key(&base, &fold(), &PARAMS, "code", None);
        assert_eq!(key.len(), 64);
        // Same inputs: the same key (a second export of the same rows included).
        assert_eq!(
            key,
            fold_key(&export(&ROWS), &fold(), &PARAMS, "code", None)
        );

        // A changed value the fold reads.
        let mut changed = ROWS;
        changed[1].2 = "0.26,2";
        assert_ne!(
            key,
            fold_key(&export(&changed), &fold(), &PARAMS, "code", None)
        );
        // A row added before the fold's end.
        let mut more = ROWS.to_vec();
        more.push(("CCC", "2019-01-03", "0.1,1"));
        assert_ne!(
            key,
            fold_key(&export(&more), &fold(), &PARAMS, "code", None)
        );
        // A row after calibrate_to cannot reach the model: still a hit.
        let mut later = ROWS;
        later[2].2 = "0.9,2";
        assert_eq!(
            key,
            fold_key(&export(&later), &fold(), &PARAMS, "code", None)
        );

        // A parameter, a date, the code.
        let params = FoldParams {
            lgb_rounds: 11,
            ..PARAMS
        };
        assert_ne!(key, fold_key(&base, &fold(), &params, "code", None));
        let moved = Fold {
            calibrate_from: day("2019-01-08"),
            ..fold()
        };
        assert_ne!(key, fold_key(&base, &moved, &PARAMS, "code", None));
        assert_ne!(key, fold_key(&base, &fold(), &PARAMS, "code2", None));
        // The trade window's end is not an input of the model (a longer --to keeps it).
        let longer = Fold {
            trade_to: day("2019-03-29"),
            ..fold()
        };
        assert_eq!(key, fold_key(&base, &longer, &PARAMS, "code", None));

        // Warm-started: the parent's key is part of the child's.
        let a = fold_key(&base, &fold(), &PARAMS, "code", Some("parent-a"));
        let b = fold_key(&base, &fold(), &PARAMS, "code", Some("parent-b"));
        assert_ne!(a, b);
        assert_ne!(a, key);
        assert_eq!(
            a,
            fold_key(&base, &fold(), &PARAMS, "code", Some("parent-a"))
        );
    }

    #[test]
    fn a_stored_fold_is_found_and_an_incomplete_one_is_not() {
        let cache = std::env::temp_dir().join(format!("tft-fold-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        assert_eq!(lookup(&cache, "k1"), None);
        let incoming = fold_dir(&cache, "k1").join("incoming");
        std::fs::create_dir_all(&incoming).unwrap();
        std::fs::write(incoming.join("manifest.json"), "{}").unwrap();
        // A bundle without fold.json (a run killed mid-fold) is not a hit.
        assert_eq!(lookup(&cache, "k1"), None);
        let fold = StoredFold {
            key: "k1".into(),
            parent: None,
            version: "2019-01-08-abcdef12".into(),
            metrics: serde_json::json!({"ensemble": {"macro_f1": 0.4}}),
            seconds: serde_json::json!({"total": 1.0}),
        };
        let dest = store(&cache, &fold, &incoming).unwrap();
        assert!(dest.join("manifest.json").is_file());
        assert_eq!(
            std::fs::read_to_string(fold_dir(&cache, "k1").join("ensemble/current")).unwrap(),
            fold.version
        );
        assert_eq!(lookup(&cache, "k1"), Some(fold));
        let _ = std::fs::remove_dir_all(&cache);
    }

    #[test]
    fn the_code_version_changes_with_any_module() {
        let project = std::env::temp_dir().join(format!("tft-fold-code-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&project);
        std::fs::create_dir_all(project.join("tft_models")).unwrap();
        std::fs::write(project.join("pyproject.toml"), "[project]").unwrap();
        std::fs::write(project.join("uv.lock"), "lock").unwrap();
        std::fs::write(project.join("tft_models/folds.py"), "a = 1").unwrap();
        let v1 = code_version(&project).unwrap();
        assert_eq!(v1, code_version(&project).unwrap());
        std::fs::write(project.join("tft_models/folds.py"), "a = 2").unwrap();
        let v2 = code_version(&project).unwrap();
        assert_ne!(v1, v2);
        std::fs::write(project.join("uv.lock"), "lock2").unwrap();
        assert_ne!(v2, code_version(&project).unwrap());
        let _ = std::fs::remove_dir_all(&project);
    }
}
