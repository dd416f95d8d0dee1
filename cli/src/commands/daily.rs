//! `tft run daily --date D`: the evening chain locally against Postgres, each step the
//! handler its Lambda runs: build-features → predict → generate-signals → notify. (In
//! AWS each step is triggered by the previous one's event; here they run in order.)
//! Prices and Reddit are scraped separately (`tft run scrape-prices`, `scrape-reddit`).

use std::path::PathBuf;

use chrono::NaiveDate;
use shared::adapters::db;
use shared::config::Config;
use shared::jobs::build_features::BuildFeatures;
use shared::jobs::init::event_publisher;
use shared::jobs::scheduled::DailyRun;

pub async fn run(
    config: &Config,
    date: NaiveDate,
    tickers: Option<Vec<String>>,
    models: Option<PathBuf>,
) -> anyhow::Result<()> {
    eprintln!("== build-features {date}");
    let features = BuildFeatures::new(
        db::connect_pool(&config.database)?,
        event_publisher(config).await,
        config.database.max_connections,
        &config.prices,
    );
    let run = DailyRun {
        trading_date: date,
        tickers: tickers.clone(),
    };
    let built = features.handle(&run).await?;
    println!("{}", serde_json::to_string_pretty(&built)?);

    eprintln!("== predict {date}");
    super::predict::run(config, date, tickers, models).await?;

    eprintln!("== generate-signals {date}");
    let signals = super::signals::generate(config, date, None).await?;
    println!("{}", serde_json::to_string_pretty(&signals)?);

    eprintln!("== notify");
    let sent = super::signals::notify(config).await?;
    println!("{}", serde_json::to_string_pretty(&sent)?);
    Ok(())
}
