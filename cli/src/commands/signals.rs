//! `tft run generate-signals`, `tft run monitor-positions` and `tft run notify`: the
//! trading handlers, locally, with the same code path as in AWS.

use chrono::{DateTime, NaiveDate, Utc};
use shared::adapters::db;
use shared::adapters::quote::QuoteClient;
use shared::config::{Config, ProcessEnv};
use shared::core::exits::ExitConfig;
use shared::jobs::generate_signals::{
    GenerateSignals, GenerateSignalsSummary, SignalsRequest, TradingConfig,
};
use shared::jobs::init::event_publisher;
use shared::jobs::monitor_positions::MonitorPositions;
use shared::jobs::notify::{Notifier, NotifyConfig, NotifySummary};

pub async fn generate(
    config: &Config,
    date: NaiveDate,
    model_version: Option<String>,
) -> anyhow::Result<GenerateSignalsSummary> {
    let job = GenerateSignals {
        pool: db::connect_pool(&config.database)?,
        events: event_publisher(config).await,
        config: TradingConfig::from_env(&ProcessEnv)?,
    };
    let request = SignalsRequest {
        trading_date: date,
        model_version,
    };
    Ok(job.handle(&request).await?)
}

pub async fn monitor(config: &Config, now: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    let job = MonitorPositions {
        pool: db::connect_pool(&config.database)?,
        quotes: QuoteClient::new(config.yahoo.clone())?,
        events: event_publisher(config).await,
        exits: ExitConfig::default(),
        concurrency: config.prices.concurrency.max(1),
    };
    let summary = job.handle(now.unwrap_or_else(Utc::now)).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

pub async fn notify(config: &Config) -> anyhow::Result<NotifySummary> {
    let notifier = Notifier::from_config(
        db::connect_pool(&config.database)?,
        NotifyConfig::from_env(&ProcessEnv)?,
    )
    .await?;
    Ok(notifier.handle().await?)
}
