//! `tft run scrape-reddit`, `tft import-reddit FILE...`, `tft sentiment-daily` and
//! `tft sentiment-file`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use chrono::{DateTime, NaiveDate, Utc};
use shared::adapters::db;
use shared::adapters::reddit::RedditClient;
use shared::adapters::reddit_archive::{ArchiveFormat, Compression, ReadStats, SkipReason};
use shared::config::{Config, DatabaseConfig, ProcessEnv};
use shared::jobs::daily_sentiment::{import_daily_file, recompute_days, trading_days};
use shared::jobs::reddit_import::{import_files_with_progress, ImportProgress};
use shared::jobs::scrape_reddit::{RedditConfig, ScrapeReddit};
use shared::jobs::sentiment_file::{build, BuildOptions, Progress};

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
pub async fn import(files: &[PathBuf], subreddits: &[String]) -> anyhow::Result<()> {
    // COPY: the direct URL (DATABASE_DIRECT_URL), never the pooler.
    let database = DatabaseConfig::bulk_from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let bar = items_bar(false);
    let progress_bar = bar.clone();
    let keep = subreddit_filter(subreddits);
    let result = import_files_with_progress(
        &pool,
        files,
        keep.as_deref(),
        &mut move |p: ImportProgress| {
            progress_bar.set_position(p.items);
            progress_bar.set_message(reached(p.with_tickers, p.reached));
        },
    )
    .await;
    bar.finish_and_clear();
    let summary = result?;
    for file in &summary.files {
        print_file(
            &file.path,
            file.format,
            file.compression,
            &file.stats,
            &format!(
                " ({} with tickers), {} inserted, {} updated",
                file.with_tickers, file.inserted, file.updated
            ),
        );
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

/// One file's line of a summary: format, counts, skips by reason, and its first problems
/// with their lines.
fn print_file(
    path: &Path,
    format: ArchiveFormat,
    compression: Compression,
    stats: &ReadStats,
    counts: &str,
) {
    let skipped: Vec<String> = stats
        .skipped
        .iter()
        .map(|(reason, n)| format!("{n} {}", reason.as_str()))
        .collect();
    println!(
        "{}: {:?}{}, {} records, {} items{counts}, {} skipped [{}], {} texts repaired",
        path.display(),
        format,
        if compression == Compression::Zstd {
            " (zstd)"
        } else {
            ""
        },
        stats.records,
        stats.items,
        stats.skipped_total(),
        skipped.join(", "),
        stats.repaired
    );
    for problem in &stats.problems {
        println!("  {}:{}: {}", path.display(), problem.line, problem.message);
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

/// `tft sentiment-file ARCHIVE... --out FILE`: the archives scored once into the daily
/// sentiment file (`shared::jobs::sentiment_file`). The file is written beside `out` and
/// renamed into place only when the whole build succeeded.
pub fn sentiment_file(
    files: &[PathBuf],
    out: &Path,
    options: &BuildOptions,
    quiet: bool,
) -> anyhow::Result<()> {
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let bar = items_bar(quiet);
    let result = build(
        files,
        std::io::BufWriter::new(file),
        options,
        &mut |p: Progress| {
            bar.set_position(p.items);
            bar.set_message(format!(
                "{} with tickers, reached {}",
                p.with_tickers,
                p.reached
                    .map_or("-".to_string(), |t| t.date_naive().to_string())
            ));
        },
    );
    bar.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            std::fs::remove_file(&partial).ok();
            return Err(e);
        }
    };
    std::fs::rename(&partial, out)
        .with_context(|| format!("moving {} to {}", partial.display(), out.display()))?;
    for file in &summary.files {
        print_file(&file.path, file.format, file.compression, &file.stats, "");
    }
    println!(
        "{} items, {} with tickers, {} duplicates dropped; {} rows (ticker, trading day) {} to {} in {}; largest spilled week {} mentions",
        summary.items,
        summary.with_tickers,
        summary.duplicates,
        summary.rows,
        summary.first_day.map_or("-".into(), |d| d.to_string()),
        summary.last_day.map_or("-".into(), |d| d.to_string()),
        out.display(),
        summary.largest_week_items,
    );
    Ok(())
}

/// A spinner counting items, with items/s and the date reached.
fn items_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} items ({per_sec}), {msg}, {elapsed}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn reached(with_tickers: u64, at: Option<DateTime<Utc>>) -> String {
    format!(
        "{with_tickers} with tickers, reached {}",
        at.map_or("-".to_string(), |t| t.date_naive().to_string())
    )
}

/// `tft import-sentiment FILE`: a daily sentiment file into `ticker_sentiment_daily` (the
/// days it holds replace the stored ones), without the items behind it.
pub async fn import_daily(path: &Path) -> anyhow::Result<()> {
    let database = DatabaseConfig::from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&database)?;
    let done = import_daily_file(&pool, path).await?;
    println!(
        "{}: {} rows over {} trading days, {} rows changed",
        path.display(),
        done.rows,
        done.trading_days,
        done.changed
    );
    Ok(())
}

/// The subreddits kept from the archives: the list given, or every one for `all`.
pub fn subreddit_filter(list: &[String]) -> Option<Vec<String>> {
    (!list.iter().any(|s| s.eq_ignore_ascii_case("all"))).then(|| list.to_vec())
}
