//! `tft run predict`: the predict handler for one trading day, with the model from
//! `--models DIR` (a local store root such as models/store) or the environment
//! (`TFT_MODEL_DIR`, or `TFT_MODEL_BUCKET` + `TFT_MODEL_PREFIX`).

use std::path::PathBuf;

use chrono::NaiveDate;
use ensemble::job::{ModelLocation, Predict};
use shared::adapters::db;
use shared::config::{Config, ProcessEnv};
use shared::jobs::init::event_publisher;
use shared::jobs::scheduled::DailyRun;

pub async fn run(
    config: &Config,
    date: NaiveDate,
    tickers: Option<Vec<String>>,
    models: Option<PathBuf>,
) -> anyhow::Result<()> {
    let location = match models {
        Some(dir) => ModelLocation::Local(dir),
        None => ModelLocation::from_env(&ProcessEnv)?,
    };
    let job = Predict::new(
        db::connect_pool(&config.database)?,
        event_publisher(config).await,
        location.store().await,
    );
    let run = DailyRun {
        trading_date: date,
        tickers,
    };
    let summary = Box::pin(job.handle(&run)).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
