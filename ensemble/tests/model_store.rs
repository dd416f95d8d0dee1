//! The model store on a local directory and on S3 (moto server, started by
//! infra/test-env.sh): a good bundle loads; a corrupt file, a wrong feature schema or a
//! missing `current` are refused with clear errors; a warm cache keeps its last good
//! bundle; promotion never replaces a better model with a worse one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ensemble::manifest::{sha256_hex, BundleError, FileRef, Manifest, SchemaRef, Window};
use ensemble::store::{ModelCache, ModelStore, Promotion};
use shared::core::features::{Label, FEATURE_SCHEMA};

fn golden_model() -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/xgboost.onnx"))
        .unwrap()
}

/// Writes a bundle directory whose manifest matches this code, with `macro_f1`.
fn write_bundle(dir: &Path, version: &str, macro_f1: f64) -> Manifest {
    std::fs::create_dir_all(dir).unwrap();
    let model = golden_model();
    let mut models = BTreeMap::new();
    for name in ["lstm", "xgboost", "lightgbm"] {
        let file = format!("{name}.onnx");
        // Distinct bytes per file, so a swapped file is detected.
        let mut bytes = model.clone();
        bytes.extend_from_slice(name.as_bytes());
        std::fs::write(dir.join(&file), &bytes).unwrap();
        models.insert(
            name.to_string(),
            FileRef {
                file,
                sha256: sha256_hex(&bytes),
            },
        );
    }
    let golden = br#"{"inputs": [], "outputs": []}"#.to_vec();
    std::fs::write(dir.join("golden.json"), &golden).unwrap();
    let window = |from: &str, to: &str| Window {
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    };
    let manifest = Manifest {
        version: version.into(),
        feature_schema: SchemaRef {
            version: FEATURE_SCHEMA.version,
            hash: FEATURE_SCHEMA.hash(),
            names: FEATURE_SCHEMA.names.iter().map(|n| n.to_string()).collect(),
        },
        classes: Label::CLASSES
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        weights: [("lstm", 0.3), ("xgboost", 0.4), ("lightgbm", 0.3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        training_window: window("2016-01-01", "2019-12-31"),
        validation_window: window("2020-01-15", "2020-12-31"),
        validation_metrics: [(
            "ensemble".to_string(),
            [("macro_f1".to_string(), macro_f1)].into_iter().collect(),
        )]
        .into_iter()
        .collect(),
        models,
        golden: FileRef {
            file: "golden.json".into(),
            sha256: sha256_hex(&golden),
        },
        calibration: None,
        expected_returns: None,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    manifest
}

async fn s3_store() -> ModelStore {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let bucket = format!("tft-models-{:08x}", rand::random::<u32>());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on moto");
    ModelStore::S3 {
        client,
        bucket,
        prefix: "models".into(),
    }
}

async fn exercise(store: ModelStore, scratch: &Path) {
    // Nothing promoted yet.
    assert!(matches!(
        store.load_current().await,
        Err(BundleError::NoCurrent(_))
    ));

    write_bundle(&scratch.join("v1"), "v1", 0.40);
    assert_eq!(store.upload_dir(&scratch.join("v1")).await.unwrap(), "v1");
    assert_eq!(
        store.promote("v1").await.unwrap(),
        Promotion::Promoted {
            version: "v1".into()
        }
    );
    let good = store.load_current().await.unwrap();
    assert_eq!(good.manifest.version, "v1");
    assert_eq!(good.files.len(), 4);

    // A worse model is stored but not promoted; a better one is.
    write_bundle(&scratch.join("v2"), "v2", 0.35);
    store.upload_dir(&scratch.join("v2")).await.unwrap();
    assert!(matches!(
        store.promote("v2").await.unwrap(),
        Promotion::KeptCurrent { .. }
    ));
    write_bundle(&scratch.join("v3"), "v3", 0.45);
    store.upload_dir(&scratch.join("v3")).await.unwrap();
    assert_eq!(
        store.promote("v3").await.unwrap(),
        Promotion::Promoted {
            version: "v3".into()
        }
    );

    let cache = ModelCache::default();
    assert_eq!(cache.get(&store).await.unwrap().manifest.version, "v3");

    // Corrupt v4 (a truncated model file) made current behind the cache's back.
    let v4 = scratch.join("v4");
    write_bundle(&v4, "v4", 0.50);
    store.upload_dir(&v4).await.unwrap();
    store.promote("v4").await.unwrap();
    corrupt(&store, "v4", "xgboost.onnx").await;
    match store.load("v4").await {
        Err(BundleError::Corrupt { file, .. }) => assert_eq!(file, "xgboost.onnx"),
        other => panic!("corrupt file accepted: {other:?}"),
    }
    // The warm container keeps serving v3.
    assert_eq!(cache.get(&store).await.unwrap().manifest.version, "v3");
    // A cold one has nothing good to serve and says why.
    let err = ModelCache::default()
        .get(&store)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("xgboost.onnx is corrupt"), "{err}");
}

/// Overwrites one stored file with other bytes.
async fn corrupt(store: &ModelStore, version: &str, file: &str) {
    match store {
        ModelStore::Local(root) => {
            std::fs::write(
                root.join("ensemble").join(version).join(file),
                b"not the model",
            )
            .unwrap();
        }
        ModelStore::S3 {
            client,
            bucket,
            prefix,
        } => {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}/ensemble/{version}/{file}"))
                .body(b"not the model".to_vec().into())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn local_directory_store() {
    let scratch = tempfile::tempdir().unwrap();
    exercise(
        ModelStore::Local(scratch.path().join("store")),
        scratch.path(),
    )
    .await;
}

#[tokio::test]
async fn s3_store_on_moto() {
    let scratch = tempfile::tempdir().unwrap();
    exercise(s3_store().await, scratch.path()).await;
}

#[tokio::test]
async fn a_model_trained_on_another_feature_schema_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("old");
    let mut manifest = write_bundle(&dir, "old", 0.5);
    manifest.feature_schema.hash = "0000000000000000".into();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let store = ModelStore::Local(scratch.path().join("store"));
    match store.upload_dir(&dir).await {
        Err(BundleError::SchemaMismatch {
            trained, serving, ..
        }) => {
            assert_eq!(trained, "0000000000000000");
            assert_eq!(serving, FEATURE_SCHEMA.hash());
        }
        other => panic!("accepted: {other:?}"),
    }
    // Written into the store by hand, it is still refused at load.
    std::fs::create_dir_all(scratch.path().join("store/ensemble")).unwrap();
    std::fs::rename(&dir, scratch.path().join("store/ensemble/old")).unwrap();
    std::fs::write(scratch.path().join("store/ensemble/current"), "old").unwrap();
    let err = store.load_current().await.unwrap_err().to_string();
    assert!(
        err.contains("trained on feature schema 0000000000000000"),
        "{err}"
    );
}
