//! Lambda `monitor-positions`: every 15 minutes on weekdays 09:00–16:59 New York
//! (EventBridge Scheduler); the NYSE calendar in code decides whether the market is
//! open. Hands each invocation to
//! [`shared::jobs::monitor_positions::MonitorPositions::handle`] at the scheduled time.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::quote::QuoteClient;
use shared::core::exits::ExitConfig;
use shared::jobs::init::{run_deadline, FunctionContext};
use shared::jobs::monitor_positions::{MonitorPositions, DEADLINE_MARGIN};
use shared::jobs::scheduled::event_time_or_now;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        config,
        pool,
        events,
        ..
    } = FunctionContext::from_env().await?;
    let job = MonitorPositions {
        pool,
        quotes: QuoteClient::new(config.yahoo.clone())?,
        events,
        exits: ExitConfig::default(),
        concurrency: config.prices.concurrency.max(1),
    };
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The scheduler's input carries the scheduled time; without one, now (logged); a
        // garbled one is an error. The run ends before the function's timeout.
        let now = event_time_or_now(&event.payload, chrono::Utc::now())?;
        let deadline = run_deadline(event.context.deadline, DEADLINE_MARGIN);
        let summary = job.handle_until(now, deadline).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
