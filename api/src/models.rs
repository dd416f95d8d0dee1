//! `GET /v1/models`: the serving manifest and the versions in the model store (what a
//! rollback can name). Reads the store's manifests only: no model is loaded, no tract.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::Json;
use chrono::NaiveDate;
use ensemble::manifest::{BundleError, Manifest};
use ensemble::store::ModelStore;
use serde::Serialize;
use shared::core::features::FEATURE_SCHEMA;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::routes::{only, Params};
use crate::AppState;

/// `GET /v1/models`' answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Models {
    /// Where the bundles are: `s3://bucket/prefix` or a local directory.
    pub store: String,
    /// The serving version (the store's `ensemble/current`); absent before the first
    /// promotion.
    pub current: Option<String>,
    /// The current version's manifest; absent without `current`.
    pub manifest: Option<ModelManifest>,
    /// Why the current version's manifest could not be read (missing or not a valid
    /// manifest): predict refuses such a version and keeps its last good model.
    pub manifest_error: Option<String>,
    /// Every version in the store, newest first (what `tft models rollback` can name).
    pub versions: Vec<ModelVersion>,
}

/// One version in the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelVersion {
    pub version: String,
    pub current: bool,
}

/// What a bundle's manifest says, and whether this code would serve it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelManifest {
    pub version: String,
    pub training_from: NaiveDate,
    pub training_to: NaiveDate,
    /// The slice the calibration was fitted and the metrics measured on.
    pub calibration_from: NaiveDate,
    pub calibration_to: NaiveDate,
    /// Vote weights by model (lstm, xgboost, lightgbm).
    pub weights: BTreeMap<String, f64>,
    /// Metrics on the calibration slice by model ("ensemble" included).
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
    /// The models whose probabilities are calibrated before the vote.
    pub calibrated_models: Vec<String>,
    /// Mean net return of each exit kind on the calibration slice, when exported.
    pub expected_returns: Option<ExpectedReturnsView>,
    pub feature_schema_hash: String,
    /// The feature schema this code computes.
    pub serving_schema_hash: String,
    /// Why this code would refuse to serve the bundle (schema, classes, weights); absent
    /// when it would serve it. Files are verified when predict loads them.
    pub refused_because: Option<String>,
}

/// Mean net return per exit kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectedReturnsView {
    pub target: f64,
    pub stop: f64,
    pub timeout: f64,
}

impl From<Manifest> for ModelManifest {
    fn from(m: Manifest) -> Self {
        let refused_because = m.check_against_code().err().map(|e| e.to_string());
        Self {
            training_from: m.training_window.from,
            training_to: m.training_window.to,
            calibration_from: m.validation_window.from,
            calibration_to: m.validation_window.to,
            weights: m.weights,
            metrics: m.validation_metrics,
            calibrated_models: m
                .calibration
                .map(|c| c.models.into_keys().collect())
                .unwrap_or_default(),
            expected_returns: m.expected_returns.map(|e| ExpectedReturnsView {
                target: e.target,
                stop: e.stop,
                timeout: e.timeout,
            }),
            feature_schema_hash: m.feature_schema.hash,
            serving_schema_hash: FEATURE_SCHEMA.hash(),
            refused_because,
            version: m.version,
        }
    }
}

fn describe(store: &ModelStore) -> String {
    match store {
        ModelStore::Local(root) => root.display().to_string(),
        ModelStore::S3 { bucket, prefix, .. } if prefix.is_empty() => format!("s3://{bucket}"),
        ModelStore::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
    }
}

fn unreachable_store(cause: impl std::fmt::Display) -> ApiError {
    tracing::error!(%cause, "model store not readable");
    ApiError::ModelStoreUnavailable("the model store is not reachable; retry shortly".into())
}

/// The serving manifest and the versions available.
#[utoipa::path(get, path = "/v1/models", tag = "status",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Models), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 503, body = Problem)))]
pub(crate) async fn models(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Models>, ApiError> {
    only(&params, &[])?;
    let store = state.models.as_ref().ok_or_else(|| {
        ApiError::ModelStoreUnavailable(
            "no model store is configured for the API (TFT_MODEL_BUCKET or TFT_MODEL_DIR)".into(),
        )
    })?;
    // No pointer yet (before the first deploy's promotion) is an answer, not an error.
    let current = store.current_pointer().await.map_err(unreachable_store)?;
    let mut versions = store.versions().await.map_err(unreachable_store)?;
    versions.reverse();
    let (manifest, manifest_error) = match &current {
        Some(version) => match store.manifest(version).await {
            Ok(m) => (Some(ModelManifest::from(m)), None),
            // A missing file reads as Unreadable("missing"): a pointer to nothing is the
            // store's state, shown; a failed read is not.
            Err(BundleError::Unreadable { reason, .. }) if reason != "missing" => {
                return Err(unreachable_store(reason))
            }
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    Ok(Json(Models {
        store: describe(store),
        versions: versions
            .into_iter()
            .map(|v| ModelVersion {
                current: current.as_deref() == Some(v.as_str()),
                version: v,
            })
            .collect(),
        current,
        manifest,
        manifest_error,
    }))
}
