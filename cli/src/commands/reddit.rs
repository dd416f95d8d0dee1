//! `tft run scrape-reddit`, `tft import-reddit FILE...` and `tft sentiment-daily`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use shared::adapters::db;
use shared::adapters::reddit::RedditClient;
use shared::adapters::reddit_archive::read_archive;
use shared::adapters::reddit_store;
use shared::config::{Config, DatabaseConfig, ProcessEnv};
use shared::jobs::daily_sentiment::{recompute_days, trading_days};
use shared::jobs::reddit_rows::score_item;
use shared::jobs::scrape_reddit::{RedditConfig, ScrapeReddit};

use shared::jobs::init::event_publisher;

/// `tft run scrape-reddit`: the Lambda handler, locally.
pub async fn scrape(at: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    let config = Config::from_process_env()?;
    let reddit = RedditConfig::from_env(&ProcessEnv)?;
    let job = ScrapeReddit {
        pool: db::connect_pool(&config.database)?,
        reddit: RedditClient::new(reddit.settings, reddit.credentials)?,
        config: reddit.job,
        events: event_publisher(&config).await,
    };
    let summary = job.handle(at.unwrap_or_else(Utc::now)).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// `tft import-reddit FILE...`: historical dumps into `reddit_posts`, scored on the same
/// path as scraped items, then the daily aggregates of the days they cover.
pub async fn import(files: &[PathBuf]) -> anyhow::Result<()> {
    let database = DatabaseConfig::from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let mut first: Option<NaiveDate> = None;
    let mut last: Option<NaiveDate> = None;
    for path in files {
        let archive = read_archive(path)?;
        let source = format!(
            "import:{}",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        );
        let source: String = source.chars().take(40).collect();
        let rows: Vec<_> = archive
            .items
            .iter()
            .map(|item| score_item(item, &source))
            .collect();
        let mut client = pool.get().await?;
        let tx = db::begin(&mut client, pool.statement_timeout()).await?;
        let counts = reddit_store::upsert_items(&*tx, &rows).await?;
        tx.commit().await.context("commit the import")?;
        for item in &archive.items {
            let day = shared::core::calendar::new_york_date(item.created_utc);
            first = Some(first.map_or(day, |f| f.min(day)));
            last = Some(last.map_or(day, |l| l.max(day)));
        }
        let with_tickers = rows.iter().filter(|r| !r.tickers.is_empty()).count();
        println!(
            "{}: {:?}, {} items ({} with tickers), {} inserted, {} updated, {} rows skipped, {} texts repaired",
            path.display(),
            archive.format,
            archive.items.len(),
            with_tickers,
            counts.inserted,
            counts.updated,
            archive.skipped_rows,
            archive.repaired_rows
        );
    }
    if let (Some(first), Some(last)) = (first, last) {
        // An item belongs to the trading day whose window holds it: up to a few days later.
        let days = trading_days(first, last + chrono::Days::new(4));
        let changed = recompute_days(&pool, &days).await?;
        println!(
            "daily sentiment: {} trading days {first}..{last}, {changed} rows changed",
            days.len()
        );
    }
    Ok(())
}

/// `tft sentiment-daily --from D --to D`: recompute the stored daily aggregates.
pub async fn recompute(from: NaiveDate, to: NaiveDate) -> anyhow::Result<()> {
    let database = DatabaseConfig::from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let days = trading_days(from, to);
    let changed = recompute_days(&pool, &days).await?;
    println!("{} trading days, {changed} rows changed", days.len());
    Ok(())
}
