//! Lambda `scrape-prices`: builds its clients once per container, then hands every
//! scheduled event to [`shared::jobs::scrape_prices::ScrapePrices::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::adapters::{db, eventbridge::EventPublisher, yahoo::YahooClient};
use shared::config::Config;
use shared::jobs::daily_sentiment::RedditTrending;
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::{FetchWindow, ScrapePrices};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_process_env()?;
    let pool = db::connect_pool(&config.database)?;
    // Pay the TLS handshake during init, not during the first invocation.
    if let Err(e) = db::ping(&pool).await {
        tracing::warn!(error = %e, "database not reachable at init; will retry per invocation");
    }
    let events = match &config.event_bus_name {
        Some(bus) => Some(EventPublisher::from_env(bus.clone()).await),
        None => None,
    };
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
        let summary = job.handle(&run, FetchWindow::Incremental).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
