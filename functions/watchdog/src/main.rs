//! Lambda `watchdog`: daily at 18:30 New York (EventBridge Scheduler, weekends and
//! holidays included); hands the scheduled time to
//! [`shared::jobs::watchdog::Watchdog::handle`], which prints `DailyRunMissing` for the
//! `daily-run-missing` alarm.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::jobs::init::FunctionContext;
use shared::jobs::scheduled::event_time_or_now;
use shared::jobs::watchdog::Watchdog;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // The database only (the template gives it no bus).
    let FunctionContext { pool, .. } = FunctionContext::from_env().await?;
    let job = Watchdog { pool };
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = event_time_or_now(&event.payload, chrono::Utc::now())?;
        let report = job.handle(now).await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
