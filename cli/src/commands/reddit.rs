//! `tft run scrape-reddit`, `tft import-reddit FILE...` and `tft sentiment-daily`.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use shared::adapters::db;
use shared::adapters::reddit::RedditClient;
use shared::adapters::reddit_archive::{Compression, SkipReason};
use shared::config::{Config, DatabaseConfig, ProcessEnv};
use shared::jobs::daily_sentiment::{recompute_days, trading_days};
use shared::jobs::reddit_import::import_files;
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

/// `tft import-reddit FILE...`: historical dumps (any format `reddit_archive.rs` knows,
/// plain or zstd) streamed into `reddit_posts`, scored on the same path as scraped items,
/// then the daily aggregates of the days they cover.
pub async fn import(files: &[PathBuf]) -> anyhow::Result<()> {
    let database = DatabaseConfig::from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let summary = import_files(&pool, files).await?;
    for file in &summary.files {
        let stats = &file.stats;
        let skipped: Vec<String> = stats
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {}", reason.as_str()))
            .collect();
        println!(
            "{}: {:?}{}, {} records, {} items ({} with tickers), {} inserted, {} updated, {} skipped [{}], {} texts repaired",
            file.path.display(),
            file.format,
            if file.compression == Compression::Zstd {
                " (zstd)"
            } else {
                ""
            },
            stats.records,
            stats.items,
            file.with_tickers,
            file.inserted,
            file.updated,
            stats.skipped_total(),
            skipped.join(", "),
            stats.repaired
        );
        for problem in &stats.problems {
            println!(
                "  {}:{}: {}",
                file.path.display(),
                problem.line,
                problem.message
            );
        }
        let unlisted = stats
            .skipped
            .iter()
            .filter(|(r, _)| matches!(r, SkipReason::Malformed | SkipReason::Truncated))
            .map(|(_, n)| *n)
            .sum::<u64>()
            .saturating_sub(stats.problems.len() as u64);
        if unlisted > 0 {
            println!("  ... and {unlisted} more problems");
        }
    }
    if let (Some(first), Some(last)) = (summary.first_day, summary.last_day) {
        println!(
            "daily sentiment: {} trading days {first}..{last}, {} rows changed",
            summary.trading_days, summary.daily_rows_changed
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
