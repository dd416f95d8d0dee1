//! The `predict` handler: after `features.built` for trading day D, load every ticker's
//! 30-day feature window ending at D, run the served ensemble on all of them at once,
//! store one `predictions` row per ticker, announce `predictions.ready`.
//!
//! - The model comes from the store (S3 in Lambda, a directory for the CLI) through a
//!   [`ModelCache`]: a refused bundle (corrupt file, missing `current`, another feature
//!   schema, golden outputs tract does not reproduce) fails a cold container with that
//!   reason before anything is written, and a warm one keeps serving its last good model.
//!   A version the container refused to build is remembered with its reason and not
//!   loaded again (three models parsed and optimised: seconds of CPU) until `current`
//!   names another version; each invocation still logs the refusal.
//! - Idempotent: the rows are keyed by (ticker, date, model version) and inserted with
//!   ON CONFLICT DO NOTHING, so the same event twice writes nothing the second time.
//! - A ticker whose window is incomplete is skipped (and reported), not an error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use shared::adapters::db::DbError;
use shared::adapters::db::Pool;
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::feature_store;
use shared::adapters::prediction_store::{self, PredictionRecord};
use shared::core::features::FEATURE_SCHEMA;
use shared::core::prediction::{as_windows, SEQUENCE_DAYS};
use shared::jobs::run_outcome::{daily_step_verdict, ItemCounts, RunMetrics};
use shared::jobs::scheduled::DailyRun;

use crate::store::{Bundle, ModelCache, ModelStore};
use crate::{Ensemble, EnsembleError, Skipped};

/// The detail-type announced when a day's predictions are stored.
pub const PREDICTIONS_READY: &str = "predictions.ready";

/// The `predictions.ready` detail (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PredictionsReady {
    pub trading_date: NaiveDate,
    pub model_version: String,
    /// Tickers predicted (stored now or by an earlier run of the same model).
    pub predicted: usize,
    /// Tickers with features on the day but no complete window.
    pub skipped: usize,
    /// Rows this run inserted (0 on a re-run).
    pub inserted: u64,
}

/// The handler's result (also the Lambda's response).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictSummary {
    pub trading_date: NaiveDate,
    pub model_version: String,
    pub predicted: usize,
    pub skipped: Vec<Skipped>,
    pub inserted: u64,
    /// Predictions per signal (BUY / HOLD / SELL).
    pub signals: BTreeMap<String, usize>,
    pub event_published: bool,
}

/// The predict job; build once per container.
pub struct Predict {
    pub pool: Pool,
    pub events: Option<EventPublisher>,
    pub store: ModelStore,
    bundles: ModelCache,
    served: tokio::sync::Mutex<Served>,
    builds: AtomicUsize,
}

/// The ensemble this container serves and the last version it refused to build.
#[derive(Default)]
struct Served {
    last_good: Option<Arc<Ensemble>>,
    /// (version, why it was refused).
    refused: Option<(String, String)>,
}

pub use crate::location::{s3_client, ModelLocation};

impl Predict {
    pub fn new(pool: Pool, events: Option<EventPublisher>, store: ModelStore) -> Self {
        Self {
            pool,
            events,
            store,
            bundles: ModelCache::default(),
            served: tokio::sync::Mutex::default(),
            builds: AtomicUsize::new(0),
        }
    }

    /// How many times this container has loaded a bundle's models (successfully or not).
    pub fn model_builds(&self) -> usize {
        self.builds.load(Ordering::Relaxed)
    }

    /// The ensemble to serve: the store's `current` when it verifies and loads, else the
    /// last good one this container served, else the reason nothing can be served. A
    /// version refused once is not loaded again while `current` still names it.
    pub async fn ensemble(&self) -> Result<Arc<Ensemble>, EnsembleError> {
        let bundle = self.bundles.get(&self.store).await?;
        let version = bundle.manifest.version.clone();
        let mut served = self.served.lock().await;
        if let Some(ensemble) = served.last_good.as_ref() {
            if ensemble.version() == version {
                return Ok(ensemble.clone());
            }
        }
        let error = match &served.refused {
            Some((refused, reason)) if *refused == version => EnsembleError::Refused {
                version,
                reason: reason.clone(),
            },
            _ => {
                self.builds.fetch_add(1, Ordering::Relaxed);
                match build(bundle).await {
                    Ok(ensemble) => {
                        served.last_good = Some(ensemble.clone());
                        served.refused = None;
                        return Ok(ensemble);
                    }
                    Err(e) => {
                        served.refused = Some((version, e.to_string()));
                        e
                    }
                }
            }
        };
        match served.last_good.clone() {
            Some(last) => {
                tracing::error!(error = %error, serving = %last.version(), "model refused; keeping the last good one");
                Ok(last)
            }
            None => Err(error),
        }
    }

    #[tracing::instrument(skip(self), fields(trading_date = %run.trading_date))]
    pub async fn handle(&self, run: &DailyRun) -> anyhow::Result<PredictSummary> {
        let day = run.trading_date;
        let ensemble = self
            .ensemble()
            .await
            .map_err(|e| anyhow::anyhow!("no model to serve, nothing predicted for {day}: {e}"))?;
        let windows = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            feature_store::load_windows(
                &**client,
                &FEATURE_SCHEMA.hash(),
                day,
                SEQUENCE_DAYS,
                run.tickers.as_deref(),
            )
            .await?
        };
        let model = ensemble.clone();
        let predicted =
            tokio::task::spawn_blocking(move || model.predict_windows(day, &as_windows(&windows)))
                .await??;
        let mut signals = BTreeMap::new();
        let records: Vec<PredictionRecord> = predicted
            .predictions
            .into_iter()
            .map(|p| {
                *signals
                    .entry(p.prediction.signal.name().to_string())
                    .or_insert(0) += 1;
                PredictionRecord {
                    prediction: p.prediction,
                    model_probabilities: p.model_probabilities,
                }
            })
            .collect();
        let inserted = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            prediction_store::insert_predictions(&**client, &records).await?
        };
        let mut summary = PredictSummary {
            trading_date: day,
            model_version: ensemble.version().to_string(),
            predicted: records.len(),
            skipped: predicted.skipped,
            inserted,
            signals,
            event_published: false,
        };
        let counts = ItemCounts {
            ok: summary.predicted,
            skipped: summary.skipped.len(),
            ..Default::default()
        };
        let empty = (summary.predicted == 0).then(|| {
            format!(
                "no ticker could be predicted for {day} ({} without a full feature window)",
                summary.skipped.len()
            )
        });
        if let (Some(events), true) = (&self.events, summary.predicted > 0) {
            let detail = PredictionsReady {
                trading_date: day,
                model_version: summary.model_version.clone(),
                predicted: summary.predicted,
                skipped: summary.skipped.len(),
                inserted,
            };
            events.publish(PREDICTIONS_READY, &detail).await?;
            summary.event_published = true;
        }
        // Nothing predicted ends the chain: fail so the retry and the dead-letter queue
        // see it (run_outcome, docs/events.md).
        let verdict = daily_step_verdict("predict", counts, None, empty);
        RunMetrics::new("predict", counts)
            .with_failed(verdict.is_err())
            .emit();
        verdict?;
        Ok(summary)
    }
}

/// Loads the models of a verified bundle (CPU work: off the async threads).
async fn build(bundle: Arc<Bundle>) -> Result<Arc<Ensemble>, EnsembleError> {
    match tokio::task::spawn_blocking(move || Ensemble::from_bundle(&bundle)).await {
        Ok(result) => result.map(Arc::new),
        Err(e) => Err(EnsembleError::Golden {
            version: "?".into(),
            reason: format!("loading the models panicked: {e}"),
        }),
    }
}
