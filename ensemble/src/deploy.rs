//! The deploy function (functions/deploy, issue 13): CloudFormation custom resources that
//! make a first `sam deploy` ready for its first trading day.
//!
//! - `Custom::Migrations` ([`shared::jobs::migrate`]): the schema, with the direct URL.
//! - `Custom::ModelBundle` ([`model_bundle`]): the bundle committed in `models/store`,
//!   shipped inside the function, uploaded to the model store and verified as serving
//!   verifies it; made `current` only when the store has no `current` yet, so a model a
//!   later retrain promoted is never replaced by the (older) committed one.
//!
//! [`Deploy::handle`] answers every request at its ResponseURL, whatever happens
//! (`shared::jobs::custom_resource::answer`): success, failure, a panic, the deadline;
//! a configuration that could not be read at init is answered as the failure of each
//! request that needs it rather than failing the init (an init failure answers nothing,
//! and the stack would wait for its ServiceTimeout).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;
use shared::config::{DatabaseConfig, ProcessEnv};
use shared::jobs::custom_resource::{self, Outcome, Request, RequestType, Response};
use shared::jobs::init::run_deadline;
use shared::jobs::migrate;

use crate::location::ModelLocation;
use crate::store::ModelStore;

/// The resource type of the model bundle in the template.
pub const MODEL_BUNDLE: &str = "Custom::ModelBundle";

/// A bundle as its files by name, `manifest.json` among them. Borrowed when the files are
/// compiled into the binary (the deploy function: no 4.6 MB copy at init, and cloning the
/// map copies no bytes), owned otherwise. `ModelStore::upload_files` takes it.
pub type BundleFiles = BTreeMap<String, Cow<'static, [u8]>>;

/// What the deploy function builds once per container.
pub struct Deploy {
    http: reqwest::Client,
    /// The direct database URL's configuration, or why it could not be read.
    database: Result<DatabaseConfig, String>,
    /// The model store, or why it is not configured.
    store: Result<ModelStore, String>,
    bundle: BundleFiles,
}

impl Deploy {
    pub fn new(
        database: Result<DatabaseConfig, String>,
        store: Result<ModelStore, String>,
        bundle: BundleFiles,
    ) -> Self {
        Self {
            // The compiled-in roots (shared::adapters::https): no system store to parse at
            // init; reqwest's own default if that ever failed to build.
            http: shared::adapters::https::client_builder()
                .build()
                .unwrap_or_default(),
            database,
            store,
            bundle,
        }
    }

    /// From the environment: `DATABASE_URL` (the direct URL, in the function's
    /// environment as the other functions get theirs) and `TFT_MODEL_BUCKET` /
    /// `TFT_MODEL_PREFIX`. Never fails: what is missing fails the requests needing it.
    pub async fn from_env(bundle: BundleFiles) -> Self {
        // The direct URL's secret by ARN (DATABASE_URL_SECRET_ARN), read once, as every
        // function reads its secrets (shared::adapters::secrets); a failure is answered
        // FAILED on each request rather than leaving CloudFormation without an answer.
        let aws = shared::adapters::aws::AwsSdk::new();
        let (env, secrets_ms) =
            shared::adapters::secrets::resolve_env_timed(ProcessEnv, &aws).await;
        let env = env.map_err(|e| e.to_string());
        // Logged as the other functions log theirs (shared::jobs::init), for the cold-init
        // benchmark: an AWS call at init, reported apart like the database connection.
        tracing::info!(secrets_ms, "secrets read at init");
        let database = env
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|env| DatabaseConfig::from_env(env).map_err(|e| e.to_string()));
        let store = match ModelLocation::from_env(&ProcessEnv) {
            Ok(ModelLocation::Local(root)) => Ok(ModelStore::Local(root)),
            Ok(location) => Ok(location.store_with(aws.config().await)),
            Err(e) => Err(e.to_string()),
        };
        Self::new(database, store, bundle)
    }

    /// Handles one invocation: answers the request at its ResponseURL before
    /// `deadline_epoch_ms` (the invocation's deadline) and returns the response sent. An
    /// error means CloudFormation could not be answered (every PUT failed, or the payload
    /// is no request and names no ResponseURL).
    pub async fn handle(&self, payload: &Value, deadline_epoch_ms: u64) -> Result<Value, String> {
        let deadline = run_deadline(deadline_epoch_ms, custom_resource::ANSWER_MARGIN);
        let request = match custom_resource::parse_request(payload) {
            Ok(request) => request,
            Err(e) => {
                let Some(request) = custom_resource::salvage_request(payload) else {
                    return Err(e);
                };
                let response =
                    custom_resource::answer(&self.http, &request, deadline, async { Err(e) })
                        .await?;
                return Ok(to_value(&response));
            }
        };
        let handler = Box::pin(self.dispatch(&request));
        let response = custom_resource::answer(&self.http, &request, deadline, handler).await?;
        Ok(to_value(&response))
    }

    async fn dispatch(&self, request: &Request) -> Result<Outcome, String> {
        match request.resource_type.as_str() {
            migrate::RESOURCE_TYPE => {
                migrate::handle(request, self.database.as_ref().map_err(String::as_str)).await
            }
            MODEL_BUNDLE => {
                model_bundle(
                    request,
                    self.store.as_ref().map_err(String::as_str),
                    &self.bundle,
                )
                .await
            }
            // A resource this function does not know can still be deleted.
            _ if request.request_type == RequestType::Delete => {
                Ok(Outcome::default().with("Action", "none"))
            }
            other => Err(format!(
                "unknown resource type {other}: the deploy function serves {} and {MODEL_BUNDLE}",
                migrate::RESOURCE_TYPE
            )),
        }
    }
}

fn to_value(response: &Response) -> Value {
    serde_json::to_value(response).expect("a response serialises")
}

/// The store's location, the physical id of the bundle resource (a new bucket or prefix
/// is a new resource; the old one's Delete leaves its objects alone).
fn location_id(store: &ModelStore) -> String {
    match store {
        ModelStore::Local(root) => format!("{}/ensemble", root.display()),
        ModelStore::S3 { bucket, prefix, .. } if prefix.is_empty() => {
            format!("s3://{bucket}/ensemble")
        }
        ModelStore::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}/ensemble"),
    }
}

/// `Custom::ModelBundle`. Create and Update: upload the shipped bundle (verified before a
/// byte is written: every file's sha256, the feature schema, classes and weights), then
/// make it current only if the store has no `current` pointer, in one conditional write
/// (read back and verified from the store as serving reads it). Data: `Action` (`promoted`, `kept`), `Uploaded`
/// (the shipped version), `Current` (the version the store serves). Delete: nothing; the
/// bucket and its objects are retained.
pub async fn model_bundle(
    request: &Request,
    store: Result<&ModelStore, &str>,
    bundle: &BundleFiles,
) -> Result<Outcome, String> {
    let mut outcome = Outcome {
        physical_resource_id: match (request.request_type, &store) {
            (RequestType::Delete, _) | (_, Err(_)) => None,
            (_, Ok(store)) => Some(location_id(store)),
        },
        ..Outcome::default()
    };
    if request.request_type == RequestType::Delete {
        return Ok(outcome.with("Action", "none"));
    }
    let store = store.map_err(|e| format!("model bundle not uploaded: {e}"))?;
    if bundle.is_empty() {
        return Err("no model bundle was shipped with the deploy function: \
                    models/store/ensemble/current was missing when it was built"
            .into());
    }
    let version = store
        .upload_files(bundle.clone())
        .await
        .map_err(|e| format!("the bundle shipped with the deploy function was refused: {e}"))?;
    outcome.data.insert("Uploaded".into(), version.clone());
    // One conditional write, not "read, then write": a retrain promoting between the two
    // would otherwise be overwritten.
    let promoted = store
        .set_current_if_absent(&version)
        .await
        .map_err(|e| format!("uploaded {version}, but it was not made current: {e}"))?;
    if promoted {
        tracing::info!(%version, "the store had no current model; promoted");
        return Ok(outcome.with("Action", "promoted").with("Current", version));
    }
    match store.current_pointer().await {
        Ok(Some(current)) => {
            tracing::info!(%current, uploaded = %version, "the store has a current model; kept");
            Ok(outcome.with("Action", "kept").with("Current", current))
        }
        Ok(None) => Err(format!(
            "uploaded {version}; the store refused to create its current pointer as one \
             already exists, yet it cannot be found now"
        )),
        Err(e) => Err(format!(
            "uploaded {version} and kept the store's current model, whose pointer cannot be \
             read back ({e})"
        )),
    }
}
