//! `tft bench-copy` (hidden; tools/bench/copy_import.sh runs it): the imports' write path
//! (batches of binary COPY into a staging table + one set-based upsert, each batch its
//! own transaction) against a plain `COPY ... FROM STDIN (FORMAT binary)` of the same
//! rows into the same table with the same indexes, timed from parsed rows to committed
//! rows. It truncates `stock_prices` and `reddit_posts`: only on a scratch database.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use shared::adapters::db::{self, Pool};
use shared::adapters::price_store::{self, PriceRow};
use shared::adapters::reddit_archive::ArchiveReader;
use shared::adapters::reddit_store::{self, RedditRow};
use shared::config::{DatabaseConfig, ProcessEnv};
use shared::jobs::reddit_rows::score_item;
use shared::jobs::{price_import, reddit_import};
use tokio_postgres::binary_copy::BinaryCopyInWriter;

#[derive(Args, Debug)]
pub struct BenchCopyArgs {
    /// Directory of price CSVs (all of them are read).
    #[arg(long)]
    prices: PathBuf,
    /// Reddit archives whose items are cycled (new ids, spread times) up to --reddit-items.
    #[arg(long, num_args = 1..)]
    posts: Vec<PathBuf>,
    #[arg(long, default_value_t = 1_000_000)]
    reddit_items: usize,
    /// Runs of each path (median reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Bars per import transaction (default: `tft import-prices`'s).
    #[arg(long, default_value_t = price_import::BATCH_ROWS)]
    price_batch: usize,
    /// Items per import transaction (default: `tft import-reddit`'s).
    #[arg(long, default_value_t = reddit_import::BATCH_ITEMS)]
    reddit_batch: usize,
    /// Required: the benchmark empties stock_prices and reddit_posts.
    #[arg(long)]
    truncate: bool,
}

pub async fn run(args: BenchCopyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.truncate,
        "bench-copy empties stock_prices and reddit_posts: pass --truncate, on a scratch database"
    );
    let pool = db::connect_pool(&DatabaseConfig::bulk_from_env(&ProcessEnv)?)?;

    let mut prices = Vec::new();
    for path in shared::adapters::price_csv::csv_files(&args.prices)? {
        prices.extend(price_import::file_rows(&path).map_err(anyhow::Error::msg)?);
    }
    let reddit = reddit_rows(&args.posts, args.reddit_items)?;
    println!(
        "rows: {} price bars ({} files), {} reddit items",
        prices.len(),
        std::fs::read_dir(&args.prices)?.count(),
        reddit.len()
    );

    let table = |name: &'static str, batch: usize| (name, batch);
    for (name, batch) in [
        table("stock_prices", args.price_batch),
        table("reddit_posts", args.reddit_batch),
    ] {
        let mut import = Vec::new();
        let mut copy = Vec::new();
        for _ in 0..args.repeat {
            truncate(&pool, name).await?;
            let t = Instant::now();
            match name {
                "stock_prices" => import_prices(&pool, &prices, batch).await?,
                _ => import_reddit(&pool, &reddit, batch).await?,
            }
            import.push(t.elapsed());
            truncate(&pool, name).await?;
            let t = Instant::now();
            match name {
                "stock_prices" => copy_prices(&pool, &prices).await?,
                _ => copy_reddit(&pool, &reddit).await?,
            }
            copy.push(t.elapsed());
        }
        let (import, copy) = (median(import), median(copy));
        println!(
            "{name:<13} import path {:>8.2} s ({batch} rows a transaction)   plain COPY {:>8.2} s   ratio {:.2}x   (median of {})",
            import.as_secs_f64(),
            copy.as_secs_f64(),
            import.as_secs_f64() / copy.as_secs_f64(),
            args.repeat
        );
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The archives' items, scored once, cycled with new ids and times spread over 3 years.
fn reddit_rows(files: &[PathBuf], n: usize) -> anyhow::Result<Vec<RedditRow>> {
    let mut base = Vec::new();
    for path in files {
        base.extend(ArchiveReader::open(path)?.map(|item| score_item(&item, "bench")));
    }
    anyhow::ensure!(!base.is_empty() || n == 0, "no Reddit items in --posts");
    let start = chrono::DateTime::parse_from_rfc3339("2019-01-01T00:00:00Z")?.to_utc();
    let step = 3 * 365 * 86_400 / n.max(1) as i64;
    Ok((0..n)
        .map(|k| {
            let mut row = base[k % base.len()].clone();
            row.post_id = format!("t1_b{k:x}");
            row.created_at = start + chrono::Duration::seconds(k as i64 * step);
            row
        })
        .collect())
}

async fn truncate(pool: &Pool, table: &str) -> anyhow::Result<()> {
    let client = pool.get().await?;
    for statement in [
        format!("TRUNCATE {table}"),
        format!("VACUUM ANALYZE {table}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .with_context(|| statement.clone())?;
    }
    Ok(())
}

async fn import_prices(pool: &Pool, rows: &[PriceRow], batch: usize) -> anyhow::Result<()> {
    // Whole tickers a batch, as `tft import-prices` cuts them.
    for chunk in price_import::ticker_batches(rows, batch) {
        let mut client = pool.get().await?;
        let tx = db::begin(&mut client, Duration::from_secs(600)).await?;
        price_store::copy_upsert_prices(&tx, chunk).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn import_reddit(pool: &Pool, rows: &[RedditRow], batch: usize) -> anyhow::Result<()> {
    for chunk in rows.chunks(batch) {
        let mut client = pool.get().await?;
        let tx = db::begin(&mut client, Duration::from_secs(600)).await?;
        reddit_store::copy_upsert_items(&tx, chunk).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn copy_prices(pool: &Pool, rows: &[PriceRow]) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(&format!(
            "COPY stock_prices ({}) FROM STDIN (FORMAT binary)",
            price_store::COPY_COLUMNS
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &price_store::COPY_TYPES);
    futures::pin_mut!(writer);
    for row in rows {
        price_store::copy_row(writer.as_mut(), row).await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}

async fn copy_reddit(pool: &Pool, rows: &[RedditRow]) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(&format!(
            "COPY reddit_posts ({}) FROM STDIN (FORMAT binary)",
            reddit_store::COPY_COLUMNS
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &reddit_store::COPY_TYPES);
    futures::pin_mut!(writer);
    for row in rows {
        reddit_store::copy_row(writer.as_mut(), row).await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}
