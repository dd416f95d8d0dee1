//! `tft migrate`, `tft run <function>` and `tft backfill`: the Lambda handlers, locally.

use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use shared::adapters::{db, yahoo::YahooClient};
use shared::config::{Config, DatabaseConfig, ProcessEnv};
use shared::core::calendar::new_york_date;
use shared::jobs::build_features::BuildFeatures;
use shared::jobs::daily_sentiment::RedditTrending;
use shared::jobs::init::event_publisher;
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::{FetchWindow, ScrapePrices};

#[derive(Subcommand)]
pub enum Function {
    /// The scrape-prices handler for one trading day.
    ScrapePrices {
        /// Trading day (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Comma-separated tickers; default: TFT_WATCHLIST (plus trending).
        #[arg(long, value_delimiter = ',')]
        tickers: Option<Vec<String>>,
        /// An event JSON file to hand to the handler instead (as Lambda would).
        #[arg(long, conflicts_with_all = ["date", "tickers"])]
        event: Option<std::path::PathBuf>,
    },
    /// The scrape-reddit handler, as of --at (default: now).
    ScrapeReddit {
        /// The run's notion of "now" (RFC 3339), as the scheduled time in the event.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The build-features handler for one trading day (what prices.updated triggers).
    BuildFeatures {
        /// Trading day (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Comma-separated tickers; default: every ticker with a bar that day.
        #[arg(long, value_delimiter = ',')]
        tickers: Option<Vec<String>>,
    },
    /// The predict handler for one trading day (what features.built triggers).
    Predict {
        /// Trading day (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Comma-separated tickers; default: every ticker with features that day.
        #[arg(long, value_delimiter = ',')]
        tickers: Option<Vec<String>>,
        /// A local model store root (e.g. models/store); default: TFT_MODEL_DIR or
        /// TFT_MODEL_BUCKET + TFT_MODEL_PREFIX.
        #[arg(long)]
        models: Option<std::path::PathBuf>,
    },
    /// The generate-signals handler for one trading day (what predictions.ready triggers).
    GenerateSignals {
        /// Trading day (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// The model whose predictions to trade; default: the day's most recent.
        #[arg(long)]
        model_version: Option<String>,
    },
    /// The monitor-positions handler as of --now (default: now); does nothing while the
    /// NYSE is closed.
    MonitorPositions {
        /// The run's notion of "now" (RFC 3339), as the scheduled time in the event.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The notify handler: delivers the due notifications (NOTIFY_* settings).
    Notify,
    /// The watchdog as of --now (default: now): is the latest due trading day's signal run
    /// recorded? Prints the DailyRunMissing metric line and the report.
    Watchdog {
        /// The run's notion of "now" (RFC 3339), as the scheduled time in the event.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The evening chain for one day: build-features, predict, generate-signals, notify.
    Daily {
        /// Trading day (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Comma-separated tickers; default: every ticker with a bar that day.
        #[arg(long, value_delimiter = ',')]
        tickers: Option<Vec<String>>,
        /// A local model store root (e.g. models/store); default: TFT_MODEL_DIR or
        /// TFT_MODEL_BUCKET + TFT_MODEL_PREFIX.
        #[arg(long)]
        models: Option<std::path::PathBuf>,
    },
}

pub async fn migrate() -> anyhow::Result<()> {
    let database = DatabaseConfig::from_env(&ProcessEnv)?;
    let applied = db::migrate(&database).await?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for name in applied {
            println!("applied {name}");
        }
    }
    Ok(())
}

async fn scrape_prices_job(config: &Config) -> anyhow::Result<ScrapePrices> {
    let pool = db::connect_pool(&config.database)?;
    let events = event_publisher(config).await;
    let trending = RedditTrending::from_config(pool.clone(), &config.prices);
    Ok(ScrapePrices::new(
        pool,
        YahooClient::new(config.yahoo.clone())?,
        config.prices.clone(),
    )
    .with_events(events)
    .with_trending(trending))
}

fn today_in_new_york() -> NaiveDate {
    new_york_date(chrono::Utc::now())
}

pub async fn run(function: Function) -> anyhow::Result<()> {
    let config = Config::from_process_env()?;
    match function {
        Function::ScrapePrices {
            date,
            tickers,
            event,
        } => {
            let run = match event {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let value: serde_json::Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    DailyRun::from_event(&value)?
                }
                None => DailyRun {
                    trading_date: date.unwrap_or_else(today_in_new_york),
                    tickers,
                },
            };
            let job = scrape_prices_job(&config).await?;
            let summary = job.handle(&run, FetchWindow::Incremental).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Function::ScrapeReddit { at } => super::reddit::scrape(at).await?,
        Function::BuildFeatures { date, tickers } => {
            let job = BuildFeatures::new(
                db::connect_pool(&config.database)?,
                event_publisher(&config).await,
                config.database.max_connections,
                &config.prices,
            );
            let run = DailyRun {
                trading_date: date.unwrap_or_else(today_in_new_york),
                tickers,
            };
            let summary = job.handle(&run).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Function::Predict {
            date,
            tickers,
            models,
        } => {
            let date = date.unwrap_or_else(today_in_new_york);
            super::predict::run(&config, date, tickers, models).await?
        }
        Function::GenerateSignals {
            date,
            model_version,
        } => {
            let date = date.unwrap_or_else(today_in_new_york);
            let summary = super::signals::generate(&config, date, model_version).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Function::MonitorPositions { now } => super::signals::monitor(&config, now).await?,
        Function::Notify => {
            let summary = super::signals::notify(&config).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Function::Watchdog { now } => {
            let job = shared::jobs::watchdog::Watchdog {
                pool: db::connect_pool(&config.database)?,
            };
            let report = job.handle(now.unwrap_or_else(chrono::Utc::now)).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Function::Daily {
            date,
            tickers,
            models,
        } => {
            let date = date.unwrap_or_else(today_in_new_york);
            Box::pin(super::daily::run(&config, date, tickers, models)).await?
        }
    }
    Ok(())
}

pub async fn backfill(
    years: u32,
    tickers: Option<Vec<String>>,
    date: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let mut config = Config::from_process_env()?;
    // History is written by COPY over the direct URL (DATABASE_DIRECT_URL).
    config.database = DatabaseConfig::bulk_from_env(&ProcessEnv)?;
    let mut job = scrape_prices_job(&config).await?;
    job.bulk_copy = true;
    let run = DailyRun {
        trading_date: date.unwrap_or_else(today_in_new_york),
        tickers,
    };
    let (universe, _) = job.universe(&run).await;
    anyhow::ensure!(
        !universe.is_empty(),
        "no tickers: pass --tickers or set TFT_WATCHLIST"
    );
    let bar = ProgressBar::new(universe.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} backfill [{bar:40}] {pos}/{len} {msg} ({eta})")
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    let progress_bar = bar.clone();
    job.progress = Some(Arc::new(move |ticker: &str| {
        progress_bar.set_message(ticker.to_string());
        progress_bar.inc(1);
    }));
    let days = years.saturating_mul(366);
    let result = job.handle(&run, FetchWindow::Backfill { days }).await;
    bar.finish_and_clear();
    let summary = result?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
