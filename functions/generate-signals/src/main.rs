//! Lambda `generate-signals`: triggered by `predictions.ready` on the project's bus;
//! builds its clients once per container and hands each event to
//! [`shared::jobs::generate_signals::GenerateSignals::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::jobs::generate_signals::{GenerateSignals, SignalsRequest, TradingConfig};
use shared::jobs::init::FunctionContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        pool, events, env, ..
    } = FunctionContext::from_env().await?;
    let job = GenerateSignals {
        pool,
        events,
        config: TradingConfig::from_env(&env)?,
    };
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // predictions.ready carries detail.trading_date and detail.model_version.
        let request = SignalsRequest::from_event(&event.payload)?;
        let summary = job.handle(&request).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
