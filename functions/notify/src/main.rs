//! Lambda `notify`: triggered by `signals.generated` and `positions.closed`, and by a
//! rate schedule that sweeps retries; delivers the due outbox rows with
//! [`shared::jobs::notify::Notifier::run`]. The event's content does not matter: the
//! outbox is the work list.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::jobs::init::FunctionContext;
use shared::jobs::notify::{Notifier, NotifyConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // The webhook secret and the SMTP URL come from the secrets read at init (issue 13).
    let FunctionContext { pool, env, aws, .. } = FunctionContext::from_env().await?;
    let notifier = Notifier::from_config_with(pool, NotifyConfig::from_env(&env)?, &aws).await?;
    let notifier = &notifier;

    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let summary = notifier.handle().await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
