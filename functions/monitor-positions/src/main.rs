//! Lambda `monitor-positions`: every 15 minutes on weekdays 09:00–16:59 New York
//! (EventBridge Scheduler); the NYSE calendar in code decides whether the market is
//! open. Hands each invocation to
//! [`shared::jobs::monitor_positions::MonitorPositions::handle`] at the scheduled time.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::quote::QuoteClient;
use shared::core::exits::ExitConfig;
use shared::jobs::init::FunctionContext;
use shared::jobs::monitor_positions::MonitorPositions;
use shared::jobs::scheduled::event_time;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        config,
        pool,
        events,
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
        // The scheduler's input carries the scheduled time; without one, now.
        let now = event_time(&event.payload).unwrap_or_else(chrono::Utc::now);
        let summary = job.handle(now).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
