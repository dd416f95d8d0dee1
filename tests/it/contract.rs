//! The functions' contract with Lambda (issue 13): each function binary (a host build)
//! runs under a small Lambda Runtime API emulator in this test, the way Lambda runs
//! `bootstrap`: it polls `/runtime/invocation/next`, gets a real payload (an EventBridge
//! Scheduler input as the template writes it, a bus event, an API Gateway HTTP API 2.0
//! request), and answers on `/response` or `/error`; an init failure goes to
//! `/runtime/init/error`. Effects are checked in Postgres and in the response.
//!
//! The binaries are the workspace's own (`cargo build --workspace --bins`, which `make
//! test` runs before the suite), found beside this test binary's directory.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use integration_tests::{read_fixture, TestDb};
use serde_json::{json, Value};
use wiremock::MockServer;

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Response(Value),
    Error(Value),
    InitError(Value),
    /// The process ended before answering (exit code).
    Exited(Option<i32>),
}

#[derive(Default)]
struct Emulator {
    pending: Mutex<VecDeque<(String, Value)>>,
    outcomes: Mutex<Vec<(String, Outcome)>>,
    arrived: tokio::sync::Notify,
}

type Shared = Arc<Emulator>;

async fn next(State(e): State<Shared>) -> impl IntoResponse {
    loop {
        let item = e.pending.lock().unwrap().pop_front();
        match item {
            Some((id, event)) => {
                let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
                let mut headers = HeaderMap::new();
                headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
                headers.insert(
                    "lambda-runtime-deadline-ms",
                    deadline.to_string().parse().unwrap(),
                );
                headers.insert(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:tft-contract"
                        .parse()
                        .unwrap(),
                );
                headers.insert(
                    "lambda-runtime-trace-id",
                    "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c".parse().unwrap(),
                );
                return (StatusCode::OK, headers, event.to_string());
            }
            // Lambda holds the poll until an invocation arrives; so does this.
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn record(e: &Emulator, id: String, outcome: Outcome) -> StatusCode {
    e.outcomes.lock().unwrap().push((id, outcome));
    e.arrived.notify_waiters();
    StatusCode::ACCEPTED
}

fn body_json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

async fn response(State(e): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    record(&e, id, Outcome::Response(body_json(&body)))
}

async fn error(State(e): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    record(&e, id, Outcome::Error(body_json(&body)))
}

async fn init_error(State(e): State<Shared>, body: String) -> StatusCode {
    record(&e, "init".into(), Outcome::InitError(body_json(&body)))
}

/// Where `cargo build --workspace --bins` put the function binaries: this test runs
/// from `<target>/debug/deps/`.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (`make test` does)",
        path.display()
    );
    path
}

/// A function run: its binary under the emulator with `env`, handed `events` one after
/// the other; returns each one's outcome (or the init error) and what it printed.
async fn invoke(name: &str, env: &[(&str, String)], events: Vec<Value>) -> (Vec<Outcome>, String) {
    invoke_without(name, env, &[], events).await
}

/// [`invoke`] with the variables `unset` removed from the inherited environment.
async fn invoke_without(
    name: &str,
    env: &[(&str, String)],
    unset: &[&str],
    events: Vec<Value>,
) -> (Vec<Outcome>, String) {
    let emulator: Shared = Arc::default();
    for (i, event) in events.iter().enumerate() {
        emulator
            .pending
            .lock()
            .unwrap()
            .push_back((format!("req-{i}"), event.clone()));
    }
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut command = tokio::process::Command::new(binary(name));
    command
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("tft-{name}-contract"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "contract")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/tft-trader/test/{name}"),
        )
        .env_remove("TFT_EVENT_BUS_NAME")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for k in unset {
        command.env_remove(k);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start the function binary");
    let wanted = events.len();
    let finished = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            // A process that exits during init never polls: Lambda reports that as
            // Runtime.ExitError with what it printed.
            if let Ok(Some(status)) = child.try_wait() {
                emulator
                    .outcomes
                    .lock()
                    .unwrap()
                    .push(("init".into(), Outcome::Exited(status.code())));
                break;
            }
            let arrived = emulator.arrived.notified();
            {
                let outcomes = emulator.outcomes.lock().unwrap();
                let init_failed = outcomes
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::InitError(_)));
                if outcomes.len() >= wanted || init_failed {
                    break;
                }
            }
            tokio::select! {
                _ = arrived => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    })
    .await;
    child.start_kill().ok();
    let output = child.wait_with_output().await.unwrap();
    server.abort();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        finished.is_ok(),
        "{name}: no answer within 90 s:\n{printed}"
    );
    let outcomes = emulator.outcomes.lock().unwrap();
    let mut ordered = Vec::new();
    for (i, _) in events.iter().enumerate() {
        if let Some((_, o)) = outcomes.iter().find(|(id, _)| *id == format!("req-{i}")) {
            ordered.push(o.clone());
        }
    }
    if let Some((_, o)) = outcomes.iter().find(|(id, _)| id == "init") {
        ordered.push(o.clone());
    }
    (ordered, printed)
}

/// The template's scheduler input with the scheduled time substituted.
fn scheduled(time: &str) -> Value {
    json!({"version": "0", "id": "5a6ee3c6-7c1a-4f6b-9a59-d0d8e0b0a001",
           "detail-type": "Scheduled Event", "source": "aws.scheduler",
           "time": time, "detail": {}})
}

/// An event as the project's bus delivers it to a rule's target.
fn bus_event(detail_type: &str, detail: Value) -> Value {
    json!({"version": "0", "id": "0d4e8c52-2b7a-4b5e-8f0e-3c1f5f0e9a01",
           "detail-type": detail_type, "source": "tft.trader", "account": "123456789012",
           "time": "2022-01-31T21:35:00Z", "region": "us-east-1", "resources": [],
           "detail": detail})
}

fn db_env(db: &TestDb) -> Vec<(&'static str, String)> {
    vec![("DATABASE_URL", db.url().to_string())]
}

fn response_of(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response(v) => v,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn error_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Error(v) | Outcome::InitError(v) => {
            v["errorMessage"].as_str().unwrap_or_default().to_string()
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn scrape_prices_stores_the_day_and_a_rerun_changes_nothing() {
    let db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    crate::scrape_prices::serve(
        &yahoo,
        "MSFT",
        read_fixture(
            "yahoo_chart/historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json",
        ),
    )
    .await;
    let mut env = db_env(&db);
    env.push(("YAHOO_BASE_URL", yahoo.uri()));
    env.push(("TFT_WATCHLIST", "MSFT".into()));
    // 16:30 New York on Friday 2022-01-28 (the recording's last day), as the scheduler
    // substitutes it; twice (EventBridge delivers at least once).
    let event = scheduled("2022-01-28T21:30:00Z");
    let (outcomes, printed) = invoke("scrape-prices", &env, vec![event.clone(), event]).await;
    assert_eq!(outcomes.len(), 2, "{printed}");
    let first = response_of(&outcomes[0]);
    assert_eq!(first["trading_date"], "2022-01-28", "{first}");
    assert_eq!(first["tickers_ok"], json!(["MSFT"]), "{first}");
    let second = response_of(&outcomes[1]);
    assert_eq!(second["rows_inserted"], 0, "{second}");
    let client = db.pool.get().await.unwrap();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM stock_prices WHERE ticker = 'MSFT' AND date = '2022-01-28'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    assert!(
        printed.contains("\"Function\":\"scrape-prices\""),
        "{printed}"
    );
}

#[tokio::test]
async fn bus_triggered_steps_fail_loudly_on_a_day_with_nothing_to_do() {
    let db = TestDb::new().await;
    let env = db_env(&db);
    // build-features after prices.updated for a day without bars.
    let (outcomes, printed) = invoke(
        "build-features",
        &env,
        vec![bus_event(
            "prices.updated",
            json!({"trading_date": "2022-01-31"}),
        )],
    )
    .await;
    assert!(
        matches!(outcomes[0], Outcome::Error(_)),
        "{outcomes:?}\n{printed}"
    );
    // generate-signals after a predictions.ready naming a model with no predictions
    // stored for the day: an error, not an empty run that the watchdog would take for
    // the day's trading.
    let (outcomes, printed) = invoke(
        "generate-signals",
        &env,
        vec![bus_event(
            "predictions.ready",
            json!({"trading_date": "2022-01-31", "model_version": "m1", "predicted": 0,
                   "skipped": 0, "inserted": 0}),
        )],
    )
    .await;
    assert!(
        error_message(&outcomes[0]).contains("no predictions stored for 2022-01-31"),
        "{outcomes:?}\n{printed}"
    );
}

#[tokio::test]
async fn predict_serves_the_committed_bundle_and_fails_a_day_without_features() {
    let db = TestDb::new().await;
    let mut env = db_env(&db);
    env.push((
        "TFT_MODEL_DIR",
        integration_tests::fixture_path("../../models/store")
            .to_string_lossy()
            .into_owned(),
    ));
    let (outcomes, printed) = invoke(
        "predict",
        &env,
        vec![bus_event(
            "features.built",
            json!({"trading_date": "2022-01-31"}),
        )],
    )
    .await;
    // The bundle loaded and verified (a refused one fails with its own reason); the day
    // has no feature windows, so the run fails as the partial-failure rule says.
    let message = error_message(&outcomes[0]);
    assert!(
        message.contains("nothing for the next step"),
        "{outcomes:?}\n{printed}"
    );
}

#[tokio::test]
async fn the_monitor_and_notify_answer_their_schedules_and_refuse_a_garbled_time() {
    let db = TestDb::new().await;
    let env = db_env(&db);
    // Saturday: the market is closed, nothing to watch.
    let (outcomes, printed) = invoke(
        "monitor-positions",
        &env,
        vec![
            scheduled("2025-03-22T15:00:00Z"),
            // The scheduler's placeholder left unsubstituted: an error, never "now".
            scheduled("<aws.scheduler.scheduled-time>"),
        ],
    )
    .await;
    assert!(
        matches!(outcomes[0], Outcome::Response(_)),
        "{outcomes:?}\n{printed}"
    );
    assert!(
        error_message(&outcomes[1]).contains("RFC 3339"),
        "{outcomes:?}"
    );
    let (outcomes, printed) = invoke("notify", &env, vec![scheduled("2025-03-19T22:35:00Z")]).await;
    assert!(
        matches!(outcomes[0], Outcome::Response(_)),
        "{outcomes:?}\n{printed}"
    );
}

#[tokio::test]
async fn the_watchdog_reports_a_missing_run_in_its_response_and_its_metric() {
    let db = TestDb::new().await;
    // 18:30 New York on Wednesday 2025-03-19 (EDT).
    let (outcomes, printed) = invoke(
        "watchdog",
        &db_env(&db),
        vec![scheduled("2025-03-19T22:30:00Z")],
    )
    .await;
    let report = response_of(&outcomes[0]);
    assert_eq!(report["trading_date"], "2025-03-19");
    assert_eq!(report["missing"], true);
    let metric = printed
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["Function"] == "watchdog")
        .unwrap_or_else(|| panic!("no EMF line:\n{printed}"));
    assert_eq!(metric["DailyRunMissing"], 1.0);
}

#[tokio::test]
async fn the_api_answers_an_http_api_request_and_refuses_one_without_a_key() {
    let db = TestDb::new().await;
    let health: Value =
        serde_json::from_str(&read_fixture("lambda/apigw-v2-get-health.json")).unwrap();
    let mut signals = health.clone();
    signals["rawPath"] = "/v1/signals".into();
    signals["pathParameters"]["proxy"] = "v1/signals".into();
    signals["requestContext"]["http"]["path"] = "/v1/signals".into();
    let (outcomes, printed) = invoke("api", &db_env(&db), vec![health, signals]).await;
    let ok = response_of(&outcomes[0]);
    assert_eq!(ok["statusCode"], 200, "{ok}\n{printed}");
    let body: Value = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["database"], "reachable", "{body}");
    let refused = response_of(&outcomes[1]);
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert_eq!(
        refused["headers"]["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_function_that_cannot_start_exits_with_the_reason() {
    // An empty DATABASE_URL: the configuration is refused at init. The process exits
    // non-zero with the reason on stderr (Lambda reports Runtime.ExitError with the log),
    // not a hang and not a first invocation that pretends to work.
    let (outcomes, printed) = invoke(
        "watchdog",
        &[("DATABASE_URL", String::new())],
        vec![scheduled("2025-03-19T22:30:00Z")],
    )
    .await;
    let last = outcomes
        .last()
        .unwrap_or_else(|| panic!("no outcome:\n{printed}"));
    assert!(
        matches!(last, Outcome::InitError(_))
            || matches!(last, Outcome::Exited(Some(code)) if *code != 0),
        "{outcomes:?}\n{printed}"
    );
    assert!(printed.contains("DATABASE_URL"), "{printed}");
}

/// The deploy function as CloudFormation invokes it: its database URL read by ARN from
/// Secrets Manager (moto), the bucket on moto, and each answer PUT to a local
/// ResponseURL. Migrations then the bundle succeed; a database where a migration fails
/// answers FAILED naming it.
#[tokio::test]
async fn deploy_answers_cloudformation_with_its_secret_and_bucket_on_the_emulator() {
    use secrecy::ExposeSecret;
    let (client, database) = crate::deploy::empty_database().await;
    let arn = crate::secrets::create_secret(json!({"url": database.url.expose_secret()})).await;
    let bucket = format!("tft-contract-{:08x}", rand::random::<u32>());
    ensemble::job::s3_client()
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let env = vec![
        ("DATABASE_URL_SECRET_ARN", arn),
        ("TFT_MODEL_BUCKET", bucket.clone()),
        ("TFT_MODEL_PREFIX", "models".to_string()),
    ];
    let cfn = crate::deploy::ResponseUrl::new().await;
    let events = vec![
        crate::deploy::request(
            "Create",
            "Custom::Migrations",
            "Migrations",
            &cfn.url(),
            None,
        ),
        crate::deploy::request(
            "Create",
            "Custom::ModelBundle",
            "ModelBundle",
            &cfn.url(),
            None,
        ),
    ];
    let (outcomes, printed) = invoke_without("deploy", &env, &["DATABASE_URL"], events).await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}\n{printed}");
    let answers = cfn.answers().await;
    assert_eq!(answers.len(), 2, "{answers:?}\n{printed}");
    assert!(
        answers.iter().all(|a| a["Status"] == "SUCCESS"),
        "{answers:?}\n{printed}"
    );
    assert_eq!(
        crate::deploy::history(&client).await,
        crate::deploy::migration_files()
    );
    let (version, _) = crate::deploy::committed_bundle();
    let store = ensemble::store::ModelStore::S3 {
        client: ensemble::job::s3_client().await,
        bucket,
        prefix: "models".into(),
    };
    assert_eq!(store.current_pointer().await.unwrap(), Some(version));

    // A database where V14 cannot apply (its table is taken): FAILED, named.
    let (squatted, database) = crate::deploy::empty_database().await;
    squatted
        .batch_execute("CREATE TABLE api_keys (squatter INT)")
        .await
        .unwrap();
    let arn = crate::secrets::create_secret(json!({"url": database.url.expose_secret()})).await;
    let cfn = crate::deploy::ResponseUrl::new().await;
    let (_, printed) = invoke_without(
        "deploy",
        &[("DATABASE_URL_SECRET_ARN", arn)],
        &["DATABASE_URL"],
        vec![crate::deploy::request(
            "Create",
            "Custom::Migrations",
            "Migrations",
            &cfn.url(),
            None,
        )],
    )
    .await;
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}\n{printed}");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap_or_default()
            .contains("V14"),
        "{answer}"
    );
}
