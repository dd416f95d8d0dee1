//! Lambda `predict`: triggered by `features.built` on the project's bus; builds its clients
//! once per container (the model itself is loaded on the first event and kept while it is
//! current) and hands each event to [`ensemble::job::Predict::handle`].

use ensemble::job::{ModelLocation, Predict};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::jobs::init::FunctionContext;
use shared::jobs::scheduled::DailyRun;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        pool,
        events,
        env,
        aws,
        ..
    } = FunctionContext::from_env().await?;
    let store = match ModelLocation::from_env(&env)? {
        ModelLocation::Local(root) => ensemble::store::ModelStore::Local(root),
        s3 => s3.store_with(aws.config().await),
    };
    let job = Predict::new(pool, events, store);
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // features.built carries detail.trading_date (and the tickers it stored).
        let run = DailyRun::from_event(&event.payload)?;
        // Boxed: the handler future is deep (tract, S3, Postgres, EventBridge).
        let summary = Box::pin(job.handle(&run)).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
