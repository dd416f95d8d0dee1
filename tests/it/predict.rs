//! predict end to end: real bars (shared/tests/fixtures/prices) → build-features (the real
//! feature code) → features.built → predict with the committed model bundle served from
//! S3 (moto) → `predictions` rows that equal the ensemble's own output on the same windows;
//! the same event twice inserts nothing; a store without `current` is refused before
//! anything is written; a warm container keeps its last good model and does not load a
//! refused one again on every invocation.

use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use ensemble::job::{s3_client, Predict, PredictionsReady, PREDICTIONS_READY};
use ensemble::manifest::sha256_hex;
use ensemble::store::ModelStore;
use ensemble::Ensemble;
use integration_tests::{eventbridge_client, CapturedBus, TestDb};
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::prediction_store::{self, PredictionRecord};
use shared::adapters::{feature_store, price_csv, price_store};
use shared::core::features::FEATURE_SCHEMA;
use shared::core::prediction::{as_windows, OwnedWindow, SEQUENCE_DAYS};
use shared::jobs::build_features::BuildFeatures;
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::price_rows;

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The committed model store (`TFT_PARITY_STORE` overrides it, e.g. for a fresh training).
pub(crate) fn committed_store() -> PathBuf {
    std::env::var_os("TFT_PARITY_STORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("models/store"))
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
}

/// A fresh bucket on moto holding the committed bundle; promoted when `current`.
pub(crate) async fn s3_store(current: bool) -> (ModelStore, String) {
    let client = s3_client().await;
    let bucket = format!("tft-models-{:08x}", rand::random::<u32>());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on moto");
    let store = ModelStore::S3 {
        client,
        bucket,
        prefix: "models".into(),
    };
    let root = committed_store();
    let version = std::fs::read_to_string(root.join("ensemble/current")).unwrap();
    let version = version.trim().to_string();
    let uploaded = store
        .upload_dir(&root.join("ensemble").join(&version))
        .await
        .expect("upload the committed bundle");
    assert_eq!(uploaded, version);
    if current {
        store.promote(&version).await.expect("promote");
    }
    (store, version)
}

/// Bars of four real tickers plus a young one (too few rows for a window), then
/// build-features for `day()` as prices.updated would trigger it.
async fn features_for_the_day(db: &TestDb) {
    let client = db.pool.get().await.unwrap();
    for ticker in ["AAPL", "GME", "NKLA", "PLTR"] {
        let bars =
            price_csv::load_bars(&repo(&format!("shared/tests/fixtures/prices/{ticker}.csv")))
                .unwrap();
        price_store::upsert_prices(&**client, &price_rows(ticker, &bars, 0))
            .await
            .unwrap();
    }
    // "NEWCO": PLTR's bars from 2021-02-01 on, 20 trading days up to day().
    let young: Vec<_> = price_csv::load_bars(&repo("shared/tests/fixtures/prices/PLTR.csv"))
        .unwrap()
        .into_iter()
        .filter(|b| b.date >= NaiveDate::from_ymd_opt(2021, 2, 1).unwrap())
        .collect();
    price_store::upsert_prices(&**client, &price_rows("NEWCO", &young, 0))
        .await
        .unwrap();
    let build = BuildFeatures {
        pool: db.pool.clone(),
        events: None,
        concurrency: 2,
        universe: Vec::new(),
        benchmark: Some("SPY".into()),
    };
    let built = build
        .handle(&DailyRun {
            trading_date: day(),
            tickers: None,
        })
        .await
        .unwrap();
    assert_eq!(built.tickers_ok, ["AAPL", "GME", "NEWCO", "NKLA", "PLTR"]);
}

/// The windows rebuilt from the plain feature reads (not through `load_windows`).
async fn windows_by_hand(db: &TestDb) -> Vec<OwnedWindow> {
    let client = db.pool.get().await.unwrap();
    let rows = feature_store::load_features(
        &**client,
        &FEATURE_SCHEMA.hash(),
        day() - Days::new(400),
        day(),
    )
    .await
    .unwrap();
    let mut windows: Vec<OwnedWindow> = Vec::new();
    for row in rows {
        match windows.last_mut() {
            Some(w) if w.ticker == row.ticker => w.rows.push(row),
            _ => windows.push(OwnedWindow {
                ticker: row.ticker.clone(),
                rows: vec![row],
            }),
        }
    }
    for w in &mut windows {
        let keep = w.rows.len().saturating_sub(SEQUENCE_DAYS);
        w.rows.drain(..keep);
    }
    windows.retain(|w| w.rows.last().map(|r| r.date) == Some(day()));
    windows
}

fn features_built() -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "e1", "detail-type": "features.built", "source": "tft.trader",
        "time": "2021-03-01T21:40:00Z",
        "detail": {"trading_date": "2021-03-01", "schema_hash": FEATURE_SCHEMA.hash(),
                   "tickers": ["AAPL", "GME", "NEWCO", "NKLA", "PLTR"]}
    })
}

async fn count_predictions(db: &TestDb) -> i64 {
    let client = db.pool.get().await.unwrap();
    client
        .query_typed("SELECT count(*) FROM predictions", &[])
        .await
        .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn predictions_equal_the_ensemble_and_a_rerun_inserts_nothing() {
    let db = TestDb::new().await;
    features_for_the_day(&db).await;
    let (store, version) = s3_store(true).await;
    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = Predict::new(
        db.pool.clone(),
        Some(EventPublisher::new(eventbridge, bus.bus_name.clone())),
        store.clone(),
    );

    let run = DailyRun::from_event(&features_built()).unwrap();
    let first = job.handle(&run).await.unwrap();
    assert_eq!(first.model_version, version);
    assert_eq!(first.predicted, 4, "{first:?}");
    assert_eq!(first.inserted, 4);
    assert_eq!(first.skipped.len(), 1);
    assert_eq!(first.skipped[0].ticker, "NEWCO");
    assert!(
        first.skipped[0].reason.contains("20 feature rows"),
        "{first:?}"
    );

    // The stored rows are the ensemble's output on the same windows, read another way.
    let windows = windows_by_hand(&db).await;
    {
        let client = db.pool.get().await.unwrap();
        let loaded =
            feature_store::load_windows(&**client, &FEATURE_SCHEMA.hash(), day(), 30, None)
                .await
                .unwrap();
        assert_eq!(loaded, windows, "load_windows differs from the plain read");
        let only = ["GME".to_string()];
        let gme =
            feature_store::load_windows(&**client, &FEATURE_SCHEMA.hash(), day(), 30, Some(&only))
                .await
                .unwrap();
        assert_eq!(gme.len(), 1);
        assert_eq!(gme[0].rows.len(), 30);
    }
    let ensemble = Ensemble::from_bundle(&store.load_current().await.unwrap()).unwrap();
    let expected: Vec<PredictionRecord> = ensemble
        .predict_windows(day(), &as_windows(&windows))
        .unwrap()
        .predictions
        .into_iter()
        .map(|p| PredictionRecord {
            prediction: p.prediction,
            model_probabilities: p.model_probabilities,
        })
        .collect();
    let stored = {
        let client = db.pool.get().await.unwrap();
        prediction_store::load_predictions(&**client, day(), &version)
            .await
            .unwrap()
    };
    assert_eq!(stored, expected);
    assert_eq!(
        stored
            .iter()
            .map(|r| r.prediction.ticker.as_str())
            .collect::<Vec<_>>(),
        ["AAPL", "GME", "NKLA", "PLTR"]
    );
    for r in &stored {
        assert_eq!(
            r.model_probabilities.keys().collect::<Vec<_>>(),
            ["lightgbm", "lstm", "xgboost"]
        );
    }

    // The same event again: nothing new, nothing changed.
    let second = job.handle(&run).await.unwrap();
    assert_eq!((second.predicted, second.inserted), (4, 0));
    assert_eq!(count_predictions(&db).await, 4);
    let client = db.pool.get().await.unwrap();
    assert_eq!(
        prediction_store::load_predictions(&**client, day(), &version)
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        prediction_store::versions_on(&**client, day())
            .await
            .unwrap(),
        std::slice::from_ref(&version)
    );

    let events = bus.drain().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["detail-type"], PREDICTIONS_READY);
    let detail = |i: usize| events[i]["detail"].clone();
    let ready = PredictionsReady {
        trading_date: day(),
        model_version: version.clone(),
        predicted: 4,
        skipped: 1,
        inserted: 4,
    };
    assert_eq!(detail(0), serde_json::to_value(&ready).unwrap());
    assert_eq!(detail(1)["inserted"], 0);
}

#[tokio::test]
async fn no_current_model_is_refused_and_nothing_is_written() {
    let db = TestDb::new().await;
    features_for_the_day(&db).await;
    // Uploaded but never promoted: the store has no `current`.
    let (store, _) = s3_store(false).await;
    let job = Predict::new(db.pool.clone(), None, store);
    let run = DailyRun::from_event(&features_built()).unwrap();
    let err = job.handle(&run).await.unwrap_err().to_string();
    assert!(
        err.contains("no current model") && err.contains("models/ensemble/current"),
        "{err}"
    );
    assert_eq!(count_predictions(&db).await, 0);
}

#[tokio::test]
async fn a_warm_container_keeps_its_last_good_model() {
    let db = TestDb::new().await;
    features_for_the_day(&db).await;
    let (store, version) = s3_store(true).await;
    let job = Predict::new(db.pool.clone(), None, store.clone());
    let run = DailyRun::from_event(&features_built()).unwrap();
    assert_eq!(job.handle(&run).await.unwrap().inserted, 4);

    // `current` now names a version that is not there.
    let ModelStore::S3 { client, bucket, .. } = &store else {
        unreachable!()
    };
    client
        .put_object()
        .bucket(bucket)
        .key("models/ensemble/current")
        .body(b"2099-01-01-missing".to_vec().into())
        .send()
        .await
        .unwrap();
    let warm = job.handle(&run).await.unwrap();
    assert_eq!(
        (warm.model_version.as_str(), warm.inserted),
        (version.as_str(), 0)
    );

    // A cold container has nothing good to serve.
    let cold = Predict::new(db.pool.clone(), None, store);
    let err = cold.handle(&run).await.unwrap_err().to_string();
    assert!(err.contains("2099-01-01-missing"), "{err}");
    assert_eq!(count_predictions(&db).await, 4);
}

/// Puts `key` (under the store's `models/` prefix) on the S3 store.
async fn put(store: &ModelStore, key: &str, bytes: Vec<u8>) {
    let ModelStore::S3 { client, bucket, .. } = store else {
        unreachable!()
    };
    client
        .put_object()
        .bucket(bucket)
        .key(format!("models/ensemble/{key}"))
        .body(bytes.into())
        .send()
        .await
        .unwrap();
}

/// Uploads the committed bundle as `version` with one golden output moved by 1e-3 (the
/// sha256s in its manifest updated, so the store verifies it, but tract disagrees with it)
/// and makes it `current`.
async fn promote_a_bundle_tract_disagrees_with(store: &ModelStore, version: &str) {
    let root = committed_store();
    let good = std::fs::read_to_string(root.join("ensemble/current")).unwrap();
    let dir = root.join("ensemble").join(good.trim());
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["version"] = version.into();
    let golden_file = manifest["golden"]["file"].as_str().unwrap().to_string();
    let mut golden: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(&golden_file)).unwrap()).unwrap();
    let cell = &mut golden["outputs"]["lightgbm"][3][1];
    *cell = serde_json::json!(cell.as_f64().unwrap() + 1e-3);
    let golden = serde_json::to_vec(&golden).unwrap();
    manifest["golden"]["sha256"] = sha256_hex(&golden).into();
    put(store, &format!("{version}/{golden_file}"), golden).await;
    for model in manifest["models"].as_object().unwrap().values() {
        let file = model["file"].as_str().unwrap();
        put(
            store,
            &format!("{version}/{file}"),
            std::fs::read(dir.join(file)).unwrap(),
        )
        .await;
    }
    let manifest = serde_json::to_vec(&manifest).unwrap();
    put(store, &format!("{version}/manifest.json"), manifest).await;
    put(store, "current", version.as_bytes().to_vec()).await;
}

/// A new `current` that verifies (sha256) but whose golden outputs tract does not reproduce
/// is refused once: the next invocations keep serving the last good model without loading
/// the refused one's models again, until `current` names another version.
#[tokio::test]
async fn a_refused_model_is_not_loaded_again_on_every_invocation() {
    let db = TestDb::new().await;
    features_for_the_day(&db).await;
    let (store, version) = s3_store(true).await;
    let job = Predict::new(db.pool.clone(), None, store.clone());
    let run = DailyRun::from_event(&features_built()).unwrap();
    assert_eq!(job.handle(&run).await.unwrap().inserted, 4);
    assert_eq!(job.model_builds(), 1);

    promote_a_bundle_tract_disagrees_with(&store, "2099-01-01-disagrees").await;
    assert_eq!(
        store.load_current().await.unwrap().manifest.version,
        "2099-01-01-disagrees",
        "the store itself accepts the bundle"
    );
    for invocation in 0..3 {
        let warm = job.handle(&run).await.unwrap();
        assert_eq!(
            (warm.model_version.as_str(), warm.inserted),
            (version.as_str(), 0),
            "invocation {invocation}"
        );
        // One attempt at the refused version, on the first of these invocations only.
        assert_eq!(job.model_builds(), 2, "invocation {invocation}");
    }

    // A cold container is refused, with the golden reason, every time, loading it once.
    let cold = Predict::new(db.pool.clone(), None, store.clone());
    for _ in 0..2 {
        let err = cold.handle(&run).await.unwrap_err().to_string();
        assert!(
            err.contains("2099-01-01-disagrees") && err.contains("lightgbm"),
            "{err}"
        );
    }
    assert_eq!(cold.model_builds(), 1);

    // Another version named by `current` is loaded again: here another refused one,
    // then the good one back (already served: nothing to load).
    promote_a_bundle_tract_disagrees_with(&store, "2099-01-02-disagrees").await;
    assert_eq!(job.handle(&run).await.unwrap().model_version, version);
    assert_eq!(job.model_builds(), 3);
    put(&store, "current", version.as_bytes().to_vec()).await;
    assert_eq!(job.handle(&run).await.unwrap().model_version, version);
    assert_eq!(job.model_builds(), 3);
    assert_eq!(count_predictions(&db).await, 4);
}

/// The store on its own: a vote that rounds above 1 is stored as 1, a re-insert is a
/// no-op, another model version adds rows beside the first, the versions come back in
/// the order they were written.
#[tokio::test]
async fn prediction_store_keys_rows_by_ticker_day_and_version() {
    use shared::core::features::Label;
    use shared::core::prediction::Prediction;
    let db = TestDb::new().await;
    let client = db.pool.get().await.unwrap();
    // A certain BUY whose vote rounded above 1 (weighted_vote accepts weights that sum
    // to 1 within 1e-9, and f64 sums round).
    let certain = 1.0 + f64::EPSILON;
    let record = |ticker: &str, version: &str| PredictionRecord {
        prediction: Prediction::from_probabilities(ticker, day(), version, [0.0, 0.0, certain]),
        model_probabilities: [("lstm".to_string(), [0.0, 0.0, 1.0])]
            .into_iter()
            .collect(),
    };
    let first = [record("AAPL", "v1"), record("GME", "v1")];
    assert_eq!(
        prediction_store::insert_predictions(&**client, &first)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        prediction_store::insert_predictions(&**client, &first)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        prediction_store::insert_predictions(&**client, &[record("AAPL", "v2")])
            .await
            .unwrap(),
        1
    );
    let v1 = prediction_store::load_predictions(&**client, day(), "v1")
        .await
        .unwrap();
    assert_eq!(v1.len(), 2);
    assert_eq!(v1[0].prediction.probabilities, [0.0, 0.0, 1.0]);
    assert_eq!(v1[0].prediction.signal, Label::Buy);
    assert_eq!(v1[0].prediction.confidence, 1.0);
    assert_eq!(v1[0].model_probabilities["lstm"], [0.0, 0.0, 1.0]);
    assert_eq!(
        prediction_store::versions_on(&**client, day())
            .await
            .unwrap(),
        ["v1", "v2"]
    );
    assert!(
        prediction_store::versions_on(&**client, day() + Days::new(1))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 11, defect 2: a day with no features to predict (build-features stored none, or
/// every ticker lacks its window) is an error, not an Ok with zero predictions that
/// never announces the day and ends the chain silently.
#[tokio::test]
async fn a_day_with_nothing_to_predict_fails_instead_of_ending_the_chain_silently() {
    let db = TestDb::new().await;
    // No features stored for the day at all.
    let (store, _) = s3_store(true).await;
    let job = Predict::new(db.pool.clone(), None, store);
    let run = DailyRun::from_event(&features_built()).unwrap();
    let err = job.handle(&run).await.unwrap_err().to_string();
    assert!(err.contains("nothing for the next step"), "{err}");
    assert_eq!(count_predictions(&db).await, 0);
}
