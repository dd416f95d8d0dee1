//! When a run succeeds, and what it tells CloudWatch (docs/events.md, "When a run
//! fails").
//!
//! Every item a run handles (a ticker, a message, a thread) ends ok, skipped, or failed;
//! a failure is *retryable* (429, 5xx, timeouts, a dropped connection: another attempt
//! may succeed) or *permanent* (404, a delisted symbol, malformed data: it will fail the
//! same way again). The daily chain's rule:
//!
//! - a run announces what succeeded (one delisted ticker must not stop the day);
//! - it then *fails* — so EventBridge's retry of the same event (idempotent) and the
//!   dead-letter queue catch it — when a retryable failure left work undone, or when the
//!   output the next step needs is empty;
//! - permanent failures are reported and counted, and do not fail the run.
//!
//! The monitor (every 15 minutes, no retries) never fails for unpriced tickers; it counts
//! them. Every run prints one CloudWatch embedded-metric-format (EMF) line with its
//! counts, which the alarms read.

use serde::Serialize;

/// The namespace of every run metric.
pub const METRICS_NAMESPACE: &str = "TftTrader";

/// Whether another attempt at an item may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Retryable,
    Permanent,
}

/// A run's items by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ItemCounts {
    pub ok: usize,
    pub failed_retryable: usize,
    pub failed_permanent: usize,
    pub skipped: usize,
}

impl ItemCounts {
    pub fn failed(&mut self, kind: FailureKind) {
        match kind {
            FailureKind::Retryable => self.failed_retryable += 1,
            FailureKind::Permanent => self.failed_permanent += 1,
        }
    }
}

/// Why a daily step's run fails after announcing what it did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunFailure {
    #[error("{step}: {failed} item(s) failed with a retryable error and are not done ({ok} ok); first: {first}")]
    RetryableLeftUndone {
        step: &'static str,
        failed: usize,
        ok: usize,
        first: String,
    },
    #[error("{step}: nothing for the next step: {reason}")]
    EmptyOutput { step: &'static str, reason: String },
}

/// The rule above for a daily step: `empty_output` says why the next step would have
/// nothing (`None` when it has something); `first_retryable` is the first retryable
/// failure's text, for the error.
pub fn daily_step_verdict(
    step: &'static str,
    counts: ItemCounts,
    first_retryable: Option<&str>,
    empty_output: Option<String>,
) -> Result<(), RunFailure> {
    if counts.failed_retryable > 0 {
        return Err(RunFailure::RetryableLeftUndone {
            step,
            failed: counts.failed_retryable,
            ok: counts.ok,
            first: first_retryable.unwrap_or("unknown").to_string(),
        });
    }
    if let Some(reason) = empty_output {
        return Err(RunFailure::EmptyOutput { step, reason });
    }
    Ok(())
}

/// One run's metrics, printed as one EMF log line (CloudWatch turns it into metrics of
/// [`METRICS_NAMESPACE`] with the dimension `Function`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunMetrics {
    pub function: &'static str,
    pub counts: ItemCounts,
    /// Further counts (`PositionsUnpriced`, `NotificationsGaveUp`, ...).
    pub extra: Vec<(&'static str, f64)>,
    /// 1 when the run returned an error.
    pub failed: bool,
}

impl RunMetrics {
    pub fn new(function: &'static str, counts: ItemCounts) -> Self {
        Self {
            function,
            counts,
            extra: Vec::new(),
            failed: false,
        }
    }

    pub fn with(mut self, name: &'static str, value: f64) -> Self {
        self.extra.push((name, value));
        self
    }

    pub fn with_failed(mut self, failed: bool) -> Self {
        self.failed = failed;
        self
    }

    /// The EMF document (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
    pub fn emf(&self, timestamp_ms: i64) -> serde_json::Value {
        let mut values: Vec<(&str, f64)> = vec![
            ("ItemsOk", self.counts.ok as f64),
            ("ItemsFailedRetryable", self.counts.failed_retryable as f64),
            ("ItemsFailedPermanent", self.counts.failed_permanent as f64),
            ("ItemsSkipped", self.counts.skipped as f64),
            ("RunFailed", if self.failed { 1.0 } else { 0.0 }),
        ];
        values.extend(self.extra.iter().copied());
        let definitions: Vec<serde_json::Value> = values
            .iter()
            .map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut doc = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            },
            "Function": self.function,
        });
        for (name, value) in values {
            doc[name] = serde_json::json!(value);
        }
        doc
    }

    /// Prints the EMF line on stdout (Lambda sends stdout to CloudWatch Logs, which
    /// extracts the metrics; `tft run` shows it).
    pub fn emit(&self) {
        println!("{}", self.emf(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ok: usize, retryable: usize, permanent: usize) -> ItemCounts {
        ItemCounts {
            ok,
            failed_retryable: retryable,
            failed_permanent: permanent,
            skipped: 0,
        }
    }

    #[test]
    fn a_permanent_failure_does_not_fail_the_day_a_retryable_one_does() {
        assert_eq!(
            daily_step_verdict("s", counts(404, 0, 1), None, None),
            Ok(())
        );
        let e = daily_step_verdict("s", counts(404, 1, 0), Some("AAPL: 503"), None).unwrap_err();
        assert!(e.to_string().contains("AAPL: 503"), "{e}");
        let e = daily_step_verdict("s", counts(0, 0, 3), None, Some("no ticker stored".into()))
            .unwrap_err();
        assert!(matches!(e, RunFailure::EmptyOutput { .. }), "{e}");
    }

    #[test]
    fn emf_names_every_metric_it_sets() {
        let doc = RunMetrics::new("monitor-positions", counts(3, 1, 0))
            .with("PositionsUnpriced", 2.0)
            .emf(1_700_000_000_000);
        let defs = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(defs.len(), 6);
        for d in defs {
            let name = d["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} has no value");
        }
        assert_eq!(doc["Function"], "monitor-positions");
        assert_eq!(doc["ItemsOk"], 3.0);
        assert_eq!(doc["PositionsUnpriced"], 2.0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Function"
        );
    }
}
