//! The deploy function's custom resources (issue 13), as CloudFormation drives them:
//! real request payloads (Create, Update, Delete, shaped as the CloudFormation docs show
//! them), a real PostgreSQL database, the model store on moto's S3, and a local HTTP
//! server standing in for the pre-signed ResponseURL that records every PUT.
//!
//! What must hold: every request is answered (success, failure, a panic, the deadline);
//! migrations apply once and then change nothing; a failing migration answers FAILED
//! naming it, never the URL or the password; the committed bundle is promoted only into
//! a store without `current`, and a corrupt one is refused before a byte is written.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ensemble::deploy::{BundleFiles, Deploy, MODEL_BUNDLE};
use ensemble::job::s3_client;
use ensemble::store::ModelStore;
use integration_tests::{database_config, with_database};
use serde_json::{json, Value};
use shared::config::DatabaseConfig;
use shared::jobs::custom_resource::{self, parse_request, ANSWER_MARGIN};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/tft-trader-prod/5b918d10-b2a4-11ef-9c2f-0affd2b3c4d5";
const PASSWORD: &str = "Sekr1t-deploy-pw";

// ---------------------------------------------------------------------------------------
// The stand-ins.

/// A pre-signed ResponseURL on a local server: answers 200 and records the PUTs.
pub(crate) struct ResponseUrl {
    server: MockServer,
}

impl ResponseUrl {
    pub(crate) async fn new() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Self { server }
    }

    /// Shaped like CloudFormation's (path-style bucket, the stack ARN, a SigV4 query).
    pub(crate) fn url(&self) -> String {
        format!(
            "{}/cloudformation-custom-resource-response-useast1/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/tft-trader-prod/5b918d10%7CMigrations%7C{:08x}\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250106T213000Z&X-Amz-SignedHeaders=host\
             &X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20250106%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Signature=0123456789abcdef",
            self.server.uri(),
            rand::random::<u32>()
        )
    }

    /// Every body PUT so far, parsed, after checking how it was sent.
    pub(crate) async fn answers(&self) -> Vec<Value> {
        let requests = self.server.received_requests().await.unwrap();
        requests
            .iter()
            .map(|r| {
                assert_eq!(r.method.as_str(), "PUT");
                // Signed without a content type: an empty one (or none) or S3 refuses it.
                let content_type = r
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                assert_eq!(content_type, "", "the PUT must carry an empty content type");
                assert!(
                    r.body.len() <= 4096,
                    "body over 4096 bytes: {}",
                    r.body.len()
                );
                serde_json::from_slice(&r.body).expect("the body is JSON")
            })
            .collect()
    }

    /// The one answer so far.
    pub(crate) async fn only_answer(&self) -> Value {
        let answers = self.answers().await;
        assert_eq!(answers.len(), 1, "{answers:?}");
        answers.into_iter().next().unwrap()
    }
}

/// A CloudFormation request as Lambda receives it (crpg-ref-requests).
pub(crate) fn request(
    request_type: &str,
    resource_type: &str,
    logical_id: &str,
    response_url: &str,
    physical_id: Option<&str>,
) -> Value {
    let token = "arn:aws:lambda:us-east-1:123456789012:function:tft-deploy-prod";
    let properties = json!({
        "ServiceToken": token,
        "ServiceTimeout": "1200",
        "CodeVersion": "arn:aws:lambda:us-east-1:123456789012:function:tft-deploy-prod:3"
    });
    let mut v = json!({
        "RequestType": request_type,
        "ServiceToken": token,
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": format!("{:08x}-4c1b-4f7e-9a2d-3e5f6a7b8c9d", rand::random::<u32>()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    });
    if let Some(id) = physical_id {
        v["PhysicalResourceId"] = json!(id);
    }
    if request_type == "Update" {
        let mut old = properties.clone();
        old["CodeVersion"] =
            json!("arn:aws:lambda:us-east-1:123456789012:function:tft-deploy-prod:2");
        v["OldResourceProperties"] = old;
    }
    v
}

fn deadline_in(d: Duration) -> u64 {
    (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + d).as_millis() as u64
}

/// A Lambda invocation with 5 minutes left.
fn five_minutes() -> u64 {
    deadline_in(Duration::from_secs(300))
}

/// An empty database (nothing migrated) and its config, the URL carrying a password
/// (the test cluster trusts local connections, so any password works).
pub(crate) async fn empty_database() -> (tokio_postgres::Client, DatabaseConfig) {
    let admin_url = std::env::var("DATABASE_URL").expect("run through infra/test-env.sh");
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = format!("deploy_{:016x}", rand::random::<u64>());
    admin
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = with_database(&admin_url, &name).replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    assert!(url.contains(PASSWORD), "{url}");
    let config = database_config(&url, 2);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    (client, config)
}

pub(crate) fn migration_files() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .map(|n| n.trim_end_matches(".sql").to_string())
        .collect();
    names.sort_by_key(|n| n[1..].split("__").next().unwrap().parse::<u32>().unwrap());
    names
}

pub(crate) async fn history(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT version, name FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| format!("V{}__{}", r.get::<_, i32>(0), r.get::<_, String>(1)))
        .collect()
}

/// The committed bundle, as the deploy function ships it (its build.rs embeds the same
/// files; functions/deploy's unit test checks that).
pub(crate) fn committed_bundle() -> (String, BundleFiles) {
    let store = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/store/ensemble");
    let version = std::fs::read_to_string(store.join("current"))
        .unwrap()
        .trim()
        .to_string();
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(store.join(&version)).unwrap() {
        let path = entry.unwrap().path();
        files.insert(
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&path).unwrap().into(),
        );
    }
    (version, files)
}

/// A fresh bucket on moto, the store under the `models` prefix.
async fn empty_s3_store() -> ModelStore {
    let client = s3_client().await;
    let bucket = format!("tft-deploy-{:08x}", rand::random::<u32>());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    ModelStore::S3 {
        client,
        bucket,
        prefix: "models".into(),
    }
}

fn deploy_with_database(database: DatabaseConfig) -> Deploy {
    Deploy::new(
        Ok(database),
        Err("no model store in this test".into()),
        BTreeMap::new(),
    )
}

fn deploy_with_store(store: ModelStore, bundle: BundleFiles) -> Deploy {
    Deploy::new(Err("no database in this test".into()), Ok(store), bundle)
}

// ---------------------------------------------------------------------------------------
// Custom::Migrations

#[tokio::test]
async fn migrations_create_applies_every_migration_then_update_and_create_again_change_nothing() {
    let (client, database) = empty_database().await;
    let deploy = deploy_with_database(database);
    let expected = migration_files();
    assert!(expected.len() >= 10, "{expected:?}");

    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Create",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        None,
    );
    let sent = deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer, sent, "what was PUT is what handle returns");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["StackId"], STACK_ID);
    assert_eq!(answer["RequestId"], payload["RequestId"]);
    assert_eq!(answer["LogicalResourceId"], "Migrations");
    assert_eq!(answer["PhysicalResourceId"], "tft-trader-prod-Migrations");
    assert_eq!(answer["Data"]["Action"], "applied");
    assert_eq!(answer["Data"]["AppliedCount"], expected.len().to_string());
    assert_eq!(answer["Data"]["Latest"], *expected.last().unwrap());
    assert_eq!(history(&client).await, expected);

    // An Update (the code changed) and a Create retried by Lambda: nothing to apply.
    let physical = answer["PhysicalResourceId"].as_str().unwrap().to_string();
    for (kind, id) in [("Update", Some(physical.as_str())), ("Create", None)] {
        let cfn = ResponseUrl::new().await;
        let payload = request(kind, "Custom::Migrations", "Migrations", &cfn.url(), id);
        deploy.handle(&payload, five_minutes()).await.unwrap();
        let answer = cfn.only_answer().await;
        assert_eq!(answer["Status"], "SUCCESS", "{kind}: {answer}");
        assert_eq!(answer["PhysicalResourceId"], physical.as_str(), "{kind}");
        assert_eq!(answer["Data"]["Action"], "none", "{kind}");
        assert_eq!(answer["Data"]["AppliedCount"], "0", "{kind}");
    }
    assert_eq!(history(&client).await, expected);

    // Delete (the stack goes away): the schema stays.
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Delete",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        Some(&physical),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], physical.as_str());
    assert_eq!(history(&client).await, expected);
}

#[tokio::test]
async fn a_failing_migration_answers_failed_naming_it_and_never_the_url_or_password() {
    let (client, database) = empty_database().await;
    // V14 creates api_keys: a table already there makes it fail, after V1..V13.
    client
        .batch_execute("CREATE TABLE api_keys (squatter INT)")
        .await
        .unwrap();
    let url = {
        use secrecy::ExposeSecret;
        database.url.expose_secret().to_string()
    };
    let deploy = deploy_with_database(database);

    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Create",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        None,
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains("V14__query_api"),
        "which migration: {reason}"
    );
    assert!(
        reason.contains("already exists"),
        "the database's error: {reason}"
    );
    assert!(
        !reason.contains(PASSWORD) && !reason.contains(&url),
        "{reason}"
    );
    // A failed Create still names a physical id (the rollback's Delete gets it).
    assert_eq!(answer["PhysicalResourceId"], "tft-trader-prod-Migrations");
    // The ones before it stay, it is rolled back.
    let applied = history(&client).await;
    assert_eq!(
        applied.last().map(String::as_str),
        Some("V13__outbox_skipped_and_provider_id")
    );

    // The rollback's Delete succeeds and touches nothing.
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Delete",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        Some("tft-trader-prod-Migrations"),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    assert_eq!(cfn.only_answer().await["Status"], "SUCCESS");
    assert_eq!(history(&client).await, applied);
}

#[tokio::test]
async fn an_unreachable_database_answers_failed_without_the_password() {
    // A database that does not exist, the password in the URL.
    let (_client, good) = empty_database().await;
    let url = {
        use secrecy::ExposeSecret;
        with_database(good.url.expose_secret(), "no_such_database_here")
    };
    let deploy = deploy_with_database(database_config(&url, 2));
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Create",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        None,
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains("no_such_database_here"), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");

    // And a function whose DATABASE_URL could not be read answers FAILED, not silence.
    let deploy = Deploy::new(
        Err("DATABASE_URL is not set".into()),
        Err("x".into()),
        BTreeMap::new(),
    );
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Update",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        Some("p"),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"]
        .as_str()
        .unwrap()
        .contains("DATABASE_URL is not set"));
    assert_eq!(answer["PhysicalResourceId"], "p");
}

// ---------------------------------------------------------------------------------------
// Custom::ModelBundle

#[tokio::test]
async fn the_bundle_is_uploaded_and_promoted_into_an_empty_store_and_kept_on_update() {
    let store = empty_s3_store().await;
    let (version, bundle) = committed_bundle();
    let deploy = deploy_with_store(store.clone(), bundle);

    let cfn = ResponseUrl::new().await;
    let payload = request("Create", MODEL_BUNDLE, "ModelBundle", &cfn.url(), None);
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Action"], "promoted");
    assert_eq!(answer["Data"]["Current"], version.as_str());
    assert_eq!(answer["Data"]["Uploaded"], version.as_str());
    let ModelStore::S3 { bucket, .. } = &store else {
        unreachable!()
    };
    let physical = format!("s3://{bucket}/models/ensemble");
    assert_eq!(answer["PhysicalResourceId"], physical.as_str());
    // Served as predict would: the pointer, then every file verified.
    assert_eq!(
        store.current_pointer().await.unwrap(),
        Some(version.clone())
    );
    let served = store
        .load_current()
        .await
        .expect("the promoted bundle verifies");
    assert_eq!(served.manifest.version, version);

    // The next deploy (Update): the same upload, current already there: kept.
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Update",
        MODEL_BUNDLE,
        "ModelBundle",
        &cfn.url(),
        Some(&physical),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Action"], "kept");
    assert_eq!(answer["PhysicalResourceId"], physical.as_str());

    // Delete: nothing removed (the bucket is retained, and so are its models).
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Delete",
        MODEL_BUNDLE,
        "ModelBundle",
        &cfn.url(),
        Some(&physical),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    assert_eq!(cfn.only_answer().await["Status"], "SUCCESS");
    assert_eq!(store.versions().await.unwrap(), vec![version.clone()]);
    assert_eq!(store.current_pointer().await.unwrap(), Some(version));
}

#[tokio::test]
async fn a_current_promoted_by_a_later_retrain_is_never_replaced() {
    let store = empty_s3_store().await;
    let (committed, bundle) = committed_bundle();
    // A retrain's newer version (the same model files under a later name), promoted.
    let newer = "2024-06-28-retrain1";
    let mut manifest: Value = serde_json::from_slice(&bundle["manifest.json"]).unwrap();
    manifest["version"] = json!(newer);
    let mut retrained = bundle.clone();
    retrained.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap().into(),
    );
    assert_eq!(store.upload_files(retrained).await.unwrap(), newer);
    store.set_current(newer).await.unwrap();

    let deploy = deploy_with_store(store.clone(), bundle);
    let cfn = ResponseUrl::new().await;
    let payload = request("Create", MODEL_BUNDLE, "ModelBundle", &cfn.url(), None);
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["Action"], "kept");
    assert_eq!(answer["Data"]["Current"], newer);
    assert_eq!(answer["Data"]["Uploaded"], committed.as_str());
    assert_eq!(
        store.current_pointer().await.unwrap().as_deref(),
        Some(newer)
    );
    // The committed one is there too, for a rollback.
    assert_eq!(
        store.versions().await.unwrap(),
        vec![committed, newer.to_string()]
    );
}

#[tokio::test]
async fn a_corrupt_bundle_answers_failed_and_writes_nothing() {
    let store = empty_s3_store().await;
    let (_, mut bundle) = committed_bundle();
    bundle.get_mut("xgboost.onnx").unwrap().to_mut()[100] ^= 0xff;
    let deploy = deploy_with_store(store.clone(), bundle);

    let cfn = ResponseUrl::new().await;
    let payload = request("Create", MODEL_BUNDLE, "ModelBundle", &cfn.url(), None);
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains("xgboost.onnx is corrupt"), "{reason}");
    assert!(store.versions().await.unwrap().is_empty());
    assert_eq!(store.current_pointer().await.unwrap(), None);

    // A bundle missing a file the manifest lists: refused too.
    let (_, mut bundle) = committed_bundle();
    bundle.remove("lstm.onnx");
    let deploy = deploy_with_store(store.clone(), bundle);
    let cfn = ResponseUrl::new().await;
    let payload = request("Create", MODEL_BUNDLE, "ModelBundle", &cfn.url(), None);
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"].as_str().unwrap().contains("lstm.onnx"),
        "{answer}"
    );
    assert_eq!(store.current_pointer().await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Always an answer.

#[tokio::test]
async fn a_handler_that_panics_still_answers_failed() {
    let cfn = ResponseUrl::new().await;
    let payload = request("Create", MODEL_BUNDLE, "ModelBundle", &cfn.url(), None);
    let request = parse_request(&payload).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    let sent = custom_resource::answer(&http, &request, deadline, async {
        if request.request_id.is_empty() {
            return Ok(Default::default());
        }
        panic!("index out of bounds in the handler");
    })
    .await
    .unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains("panicked") && reason.contains("index out of bounds"),
        "{reason}"
    );
    assert_eq!(serde_json::to_value(&sent).unwrap(), answer);
}

#[tokio::test]
async fn a_handler_out_of_time_answers_failed_before_the_invocation_deadline() {
    // A database that accepts TCP and never answers, with a connect timeout far beyond
    // the invocation: only the deadline can end the run.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let database = DatabaseConfig {
        connect_timeout: Duration::from_secs(600),
        allow_plaintext: true,
        ..DatabaseConfig::new(format!(
            "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        ))
    };
    let deploy = deploy_with_database(database);
    let cfn = ResponseUrl::new().await;
    let payload = request(
        "Create",
        "Custom::Migrations",
        "Migrations",
        &cfn.url(),
        None,
    );
    // The invocation has the answer's margin plus one second left.
    let invocation_deadline = ANSWER_MARGIN + Duration::from_secs(1);
    let started = std::time::Instant::now();
    deploy
        .handle(&payload, deadline_in(invocation_deadline))
        .await
        .unwrap();
    let took = started.elapsed();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap()
            .contains("did not finish before the function's deadline"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}

#[tokio::test]
async fn the_put_is_retried_and_odd_requests_are_answered() {
    // S3 answers 503 once: the PUT is sent again.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let cfn = ResponseUrl { server };
    let deploy = Deploy::new(Err("x".into()), Err("y".into()), BTreeMap::new());
    let payload = request(
        "Delete",
        "Custom::Retired",
        "Retired",
        &cfn.url(),
        Some("old"),
    );
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answers = cfn.answers().await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0], answers[1]);
    // A resource type this function does not serve: its Delete succeeds (the stack can
    // always be deleted), its Create fails saying what is served.
    assert_eq!(answers[1]["Status"], "SUCCESS");

    let cfn = ResponseUrl::new().await;
    let payload = request("Create", "Custom::Retired", "Retired", &cfn.url(), None);
    deploy.handle(&payload, five_minutes()).await.unwrap();
    let answer = cfn.only_answer().await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"]
        .as_str()
        .unwrap()
        .contains("Custom::ModelBundle"));

    // A payload that is not a request but names a ResponseURL: answered FAILED.
    let cfn = ResponseUrl::new().await;
    let payload = json!({"RequestType": "Create", "ResponseURL": cfn.url(), "RequestId": "r1"});
    deploy.handle(&payload, five_minutes()).await.unwrap();
    assert_eq!(cfn.only_answer().await["Status"], "FAILED");

    // Nobody to answer: the invocation fails (Lambda's error metric sees it).
    assert!(deploy
        .handle(&json!({"detail": {}}), five_minutes())
        .await
        .is_err());

    // A ResponseURL that never accepts: every attempt made, then an error.
    let refusing = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&refusing)
        .await;
    let payload = request(
        "Delete",
        "Custom::Retired",
        "Retired",
        &format!("{}/x", refusing.uri()),
        Some("o"),
    );
    let err = deploy.handle(&payload, five_minutes()).await.unwrap_err();
    assert!(err.contains("3 attempts") && err.contains("403"), "{err}");
    assert_eq!(refusing.received_requests().await.unwrap().len(), 3);
}

/// The deploy's promotion is one conditional write: once a `current` exists (a retrain
/// promoted one between the deploy's upload and its promotion, say), the shipped bundle
/// never replaces it. On moto (S3 `If-None-Match: *`) and on a directory.
#[tokio::test]
async fn current_is_created_only_when_absent_on_s3_and_on_a_directory() {
    let (version, files) = committed_bundle();
    let dir = tempfile::tempdir().unwrap();
    for store in [
        empty_s3_store().await,
        ModelStore::Local(dir.path().to_path_buf()),
    ] {
        let uploaded = store.upload_files(files.clone()).await.unwrap();
        assert_eq!(uploaded, version);
        assert!(store.set_current_if_absent(&version).await.unwrap());
        // Another writer's pointer now stands: the second conditional write leaves it.
        store.set_current(&version).await.unwrap();
        assert!(!store.set_current_if_absent(&version).await.unwrap());
        assert_eq!(store.current_version().await.unwrap(), version);
        // A version that does not verify is refused before any write.
        assert!(store
            .set_current_if_absent("no-such-version")
            .await
            .is_err());
    }
}
