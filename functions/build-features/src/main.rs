//! Lambda `build-features`: triggered by `prices.updated` on the project's bus; builds
//! its clients once per container and hands each event to
//! [`shared::jobs::build_features::BuildFeatures::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::jobs::build_features::BuildFeatures;
use shared::jobs::init::FunctionContext;
use shared::jobs::scheduled::DailyRun;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        config,
        pool,
        events,
        ..
    } = FunctionContext::from_env().await?;
    let job = BuildFeatures::new(
        pool,
        events,
        config.database.max_connections,
        &config.prices,
    );
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // prices.updated carries detail.trading_date (and the tickers it stored).
        let run = DailyRun::from_event(&event.payload)?;
        let summary = job.handle(&run).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
