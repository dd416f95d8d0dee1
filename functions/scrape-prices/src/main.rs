//! Lambda `scrape-prices`: builds its clients once per container, then hands every
//! scheduled event to [`shared::jobs::scrape_prices::ScrapePrices::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::yahoo::YahooClient;
use shared::jobs::daily_sentiment::RedditTrending;
use shared::jobs::init::{run_deadline, FunctionContext};
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::{FetchWindow, ScrapePrices, DEADLINE_MARGIN};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let FunctionContext {
        config,
        pool,
        events,
        ..
    } = FunctionContext::from_env().await?;
    let trending = RedditTrending::from_config(pool.clone(), &config.prices);
    let job = ScrapePrices::new(
        pool,
        YahooClient::new(config.yahoo.clone())?,
        config.prices.clone(),
    )
    .with_events(events)
    .with_trending(trending);
    let job = &job;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let run = DailyRun::from_event(&event.payload)?;
        // Ends before the function's timeout: what is not done by then fails the run.
        let deadline = run_deadline(event.context.deadline, DEADLINE_MARGIN);
        let summary = job
            .handle_until(&run, FetchWindow::Incremental, deadline)
            .await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
