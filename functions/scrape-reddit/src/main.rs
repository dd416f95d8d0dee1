//! Lambda `scrape-reddit`: builds its clients once per container, then hands every
//! scheduled event to [`shared::jobs::scrape_reddit::ScrapeReddit::handle_until`], with
//! the invocation's deadline less a margin.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::reddit::RedditClient;
use shared::jobs::init::{run_deadline, FunctionContext};
use shared::jobs::scheduled::event_time_or_now;
use shared::jobs::scrape_reddit::{RedditConfig, ScrapeReddit, DEADLINE_MARGIN};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // The Reddit credentials come from the secrets read at init (issue 13).
    let FunctionContext {
        pool, events, env, ..
    } = FunctionContext::from_env().await?;
    let reddit = RedditConfig::from_env(&env)?;
    let job = ScrapeReddit {
        pool,
        reddit: RedditClient::new(reddit.settings, reddit.credentials)?,
        config: reddit.job,
        events,
    };
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = event_time_or_now(&event.payload, chrono::Utc::now())?;
        let deadline = run_deadline(event.context.deadline, DEADLINE_MARGIN);
        let summary = job.handle_until(now, deadline).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
