//! The weekly retrain's Lambda entry point (issue 13; `models/tft_models/lambda_entry.py`,
//! the handler of the `models/Dockerfile` image), run locally through uv against the test
//! services: real bars of a few bundled tickers in a fresh Postgres, the database URL in a
//! moto secret read by ARN, the model store in a moto S3 bucket. Each run is the whole
//! `models/retrain.sh` (export from the database -> train on a tiny config -> upload ->
//! promote or keep) with the `tft` built for the workspace. The image itself cannot be
//! built here (no Docker engine); this tests what it runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use ensemble::job::s3_client;
use integration_tests::TestDb;
use serde_json::{json, Value};
use shared::adapters::{price_csv, price_store};
use shared::jobs::scrape_prices::price_rows;

/// A handful of the bundled real tickers (data/sample, 2019-2021) and the benchmark.
const TICKERS: &[&str] = &["AAPL", "MSFT", "AMD", "TSLA", "NVDA", "KO"];

/// A smoke-sized training run: seconds, not minutes (CI has 2 cores). 48 golden rows: the
/// trainer wants them spread over min(8, tickers) tickers, and 8 rows rarely cover 6.
const TINY: &str =
    "--lstm-epochs 1 --lstm-samples 512 --xgb-rounds 5 --lgb-rounds 5 --golden-rows 48";

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// `tft` from `cargo build --workspace --bins` (`make test` runs it first), beside this
/// test binary's `deps/` directory.
fn tft_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("tft");
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (`make test` does)",
        path.display()
    );
    path
}

async fn seed_bars(db: &TestDb) {
    let client = db.pool.get().await.unwrap();
    let mut files: Vec<(String, PathBuf)> = TICKERS
        .iter()
        .map(|t| (t.to_string(), repo(&format!("data/sample/prices/{t}.csv"))))
        .collect();
    files.push(("SPY".into(), repo("data/sample/benchmark/SPY.csv")));
    for (ticker, path) in files {
        let bars = price_csv::load_bars(&path).unwrap();
        price_store::upsert_prices(&**client, &price_rows(&ticker, &bars, 0))
            .await
            .unwrap();
    }
}

async fn create_secret(value: Value) -> String {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("tft-retrain-{:016x}", rand::random::<u64>()))
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create the secret on moto")
        .arn
        .expect("moto returns the ARN")
}

async fn current_in(bucket: &str) -> Option<String> {
    let object = s3_client()
        .await
        .get_object()
        .bucket(bucket)
        .key("models/ensemble/current")
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

struct Run {
    ok: bool,
    summary: Value,
    stderr: String,
}

/// The handler on one scheduled event, as `python -m tft_models.lambda_entry EVENT`.
async fn invoke(secret_arn: &str, bucket: &str, event: Value) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let output = tokio::process::Command::new("uv")
        .args(["run", "--locked", "--group", "lambda", "python", "-m"])
        .arg("tft_models.lambda_entry")
        .arg(&event_path)
        .current_dir(repo("models"))
        // As deployed: the secret's ARN, not the URL (both at once is refused).
        .env_remove("DATABASE_URL")
        .env_remove("TFT_WATCHLIST")
        .env_remove("TFT_MODEL_STORE")
        .env("DATABASE_URL_SECRET_ARN", secret_arn)
        .env("TFT_MODEL_BUCKET", bucket)
        .env("TFT_MODEL_PREFIX", "models")
        .env("TFT_BIN", tft_binary())
        .env("RETRAIN_TRAIN_ARGS", TINY)
        .env("RETRAIN_WORKDIR", dir.path().join("work"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run uv (on the PATH; infra/test-env.sh adds the pinned one)");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    // The summary is the last line; retrain.sh's own output comes before it.
    let summary = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    if output.status.success() {
        assert!(summary.is_object(), "no summary line:\n{stdout}\n{stderr}");
    }
    Run {
        ok: output.status.success(),
        summary,
        stderr: format!("{stdout}\n{stderr}"),
    }
}

fn scheduled_event(time: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": "retrain-test", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "time": time, "detail": detail,
    })
}

/// An empty store: the first retrain promotes. A second week's candidate is judged against
/// it by the promotion rule, and the store's `current` follows the verdict it reports.
#[tokio::test]
async fn the_retrain_entry_point_exports_trains_uploads_and_promotes_or_keeps() {
    let db = TestDb::new().await;
    seed_bars(&db).await;
    let secret = create_secret(json!({ "url": db.url() })).await;
    let bucket = format!("tft-retrain-{:016x}", rand::random::<u64>());
    s3_client()
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the bucket on moto");

    // Saturday 2022-01-01 06:00 New York: the export ends on Friday 2021-12-31.
    let first = invoke(
        &secret,
        &bucket,
        scheduled_event("2022-01-01T11:00:00Z", json!({})),
    )
    .await;
    assert!(first.ok, "the first retrain failed:\n{}", first.stderr);
    let s = &first.summary;
    eprintln!("first retrain: {s}");
    assert_eq!(s["to"], "2021-12-31", "{s}");
    assert_eq!(s["store"], format!("s3://{bucket}/models"));
    assert_eq!(s["outcome"], "promoted", "{s}");
    assert!(
        s["reason"].as_str().unwrap().contains("no current bundle"),
        "{s}"
    );
    let v1 = s["version"].as_str().unwrap().to_string();
    assert!(v1.starts_with("2021-12-31-"), "{v1}");
    // Each step's wall time, as retrain.sh logged it (the run's duration, step by step).
    for step in ["export", "training", "upload", "promotion"] {
        assert!(s["step_seconds"][step].is_u64(), "no {step} seconds: {s}");
    }
    assert_eq!(current_in(&bucket).await.as_deref(), Some(v1.as_str()));

    // A replayed event for an earlier week (detail.to): another candidate, scored against
    // the current one on its calibration slice; the store follows the verdict.
    let second = invoke(
        &secret,
        &bucket,
        scheduled_event("2022-01-01T11:00:00Z", json!({"to": "2021-11-30"})),
    )
    .await;
    assert!(second.ok, "the second retrain failed:\n{}", second.stderr);
    let s = &second.summary;
    eprintln!("second retrain: {s}");
    let v2 = s["version"].as_str().unwrap().to_string();
    assert!(v2.starts_with("2021-11-30-"), "{s}");
    assert_eq!(s["candidate"]["version"], v2.as_str(), "{s}");
    assert_eq!(s["current"]["version"], v1.as_str(), "{s}");
    let now = current_in(&bucket).await;
    match s["outcome"].as_str() {
        Some("promoted") => assert_eq!(now.as_deref(), Some(v2.as_str()), "{s}"),
        Some("kept") => assert_eq!(now.as_deref(), Some(v1.as_str()), "{s}"),
        other => panic!("outcome {other:?}: {s}"),
    }
    assert!(s["reason"].as_str().is_some_and(|r| !r.is_empty()), "{s}");

    // A secret without its "url" key: the run fails with the reason, before any step,
    // and the store is left as it was.
    let before = current_in(&bucket).await;
    let bad = create_secret(json!({ "uri": db.url() })).await;
    let failed = invoke(
        &bad,
        &bucket,
        scheduled_event("2022-01-01T11:00:00Z", json!({})),
    )
    .await;
    assert!(!failed.ok, "a secret without \"url\" must fail the run");
    assert!(
        failed.stderr.contains("has no \"url\" key"),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains(db.url()),
        "the database URL leaked into the output"
    );
    assert_eq!(
        current_in(&bucket).await,
        before,
        "a failed run changes nothing"
    );
}
