//! The `watchdog` handler (daily at 18:30 New York): does the latest trading day whose
//! evening run is due have its signal run? Prints `DailyRunMissing` (1 or 0) in the run
//! metrics' EMF line for the `daily-run-missing` alarm (docs/operations.md). Reads one
//! row, writes nothing: a re-delivered event prints the same answer.
//!
//! When the database cannot be read the run fails and prints no `DailyRunMissing`: the
//! alarm counts a period without a value as missing (and the errors alarm fires).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adapters::db::{DbError, Pool};
use crate::adapters::portfolio_store;
use crate::core::watchdog::{check_daily_run, due_trading_day, DailyRunCheck};
use crate::jobs::run_outcome::{ItemCounts, RunMetrics};

/// The metric the `daily-run-missing` alarm reads.
pub const DAILY_RUN_MISSING: &str = "DailyRunMissing";

/// What the watchdog reports (also the Lambda's response).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchdogReport {
    pub checked_at: DateTime<Utc>,
    #[serde(flatten)]
    pub check: DailyRunCheck,
    /// The model the day was traded with, when its run is recorded.
    pub model_version: Option<String>,
}

/// The watchdog job; build once per container.
pub struct Watchdog {
    pub pool: Pool,
}

impl Watchdog {
    #[tracing::instrument(skip(self))]
    pub async fn handle(&self, now: DateTime<Utc>) -> Result<WatchdogReport, DbError> {
        let result = self.check(now).await;
        let metrics = match &result {
            Ok(report) => RunMetrics::new("watchdog", ItemCounts::default())
                .with(DAILY_RUN_MISSING, f64::from(u8::from(report.check.missing))),
            Err(_) => RunMetrics::new("watchdog", ItemCounts::default()).with_failed(true),
        };
        metrics.emit();
        if let Ok(report) = &result {
            if report.check.missing {
                tracing::error!(trading_date = %report.check.trading_date, "the day's signal run is missing");
            }
        }
        result
    }

    async fn check(&self, now: DateTime<Utc>) -> Result<WatchdogReport, DbError> {
        let date = due_trading_day(now);
        let client = self.pool.get().await?;
        let run = portfolio_store::signal_run_of(&**client, date).await?;
        Ok(WatchdogReport {
            checked_at: now,
            check: check_daily_run(date, run.is_some()),
            model_version: run.map(|(model, _)| model),
        })
    }
}
