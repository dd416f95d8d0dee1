//! `tft features export`: the training set (features + triple-barrier labels), from CSV
//! files (no database) or from the database, written as CSV with a `.meta.json` beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use shared::adapters::{db, feature_store, price_csv, price_store, reddit_archive};
use shared::config::{DatabaseConfig, ProcessEnv};
use shared::core::features::training::{daily_sentiment_by_ticker, training_set, write_csv};
use shared::core::features::{BarrierConfig, DailySentiment};
use shared::core::mention_sentiment::ScoredItem;
use shared::jobs::reddit_rows::score_item;

#[derive(Subcommand)]
pub enum FeaturesCommand {
    /// Write the training set (features in schema order + label) to a CSV file.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// Directory of <TICKER>.csv daily bars (Date,Open,High,Low,Close,Adj Close,Volume).
    #[arg(long, required_unless_present = "from_db")]
    prices: Option<PathBuf>,
    /// Reddit dumps (any format `tft import-reddit` reads); none: no mentions anywhere.
    #[arg(long, num_args = 1..)]
    posts: Vec<PathBuf>,
    /// Read bars and daily sentiment from DATABASE_URL instead of files.
    #[arg(long, conflicts_with_all = ["prices", "posts"])]
    from_db: bool,
    #[arg(long)]
    from: NaiveDate,
    #[arg(long)]
    to: NaiveDate,
    #[arg(long)]
    out: PathBuf,
    /// Profit target of the label (the stop is 5 %).
    #[arg(long, default_value_t = 0.10)]
    target: f64,
}

pub async fn run(command: FeaturesCommand) -> anyhow::Result<()> {
    match command {
        FeaturesCommand::Export(args) => export(args).await,
    }
}

pub(crate) fn scored_items(files: &[PathBuf]) -> anyhow::Result<Vec<ScoredItem>> {
    let mut items = Vec::new();
    for path in files {
        let archive = reddit_archive::read_archive(path)?;
        for item in &archive.items {
            let row = score_item(item, "export");
            if row.tickers.is_empty() {
                continue;
            }
            items.push(ScoredItem {
                post_id: row.post_id,
                author: row.author,
                tickers: row.tickers,
                sentiment: row.sentiment_score,
                score: row.score,
                created_at: row.created_at,
            });
        }
    }
    // The same item in two files (or twice in one) counts once, as in the database.
    items.sort_by(|a, b| a.post_id.cmp(&b.post_id));
    items.dedup_by(|a, b| a.post_id == b.post_id);
    Ok(items)
}

async fn from_database(
    to: NaiveDate,
) -> anyhow::Result<(
    Vec<(String, Vec<shared::core::DailyBar>)>,
    BTreeMap<String, Vec<DailySentiment>>,
)> {
    let pool = db::connect_pool(&DatabaseConfig::from_env(&ProcessEnv)?)?;
    let client = pool.get().await?;
    let mut prices = Vec::new();
    let mut sentiment = BTreeMap::new();
    let horizon = chrono::Days::new(30);
    for ticker in price_store::stored_tickers(&**client).await? {
        let mut bars = price_store::load_bars(&**client, &ticker).await?;
        bars.retain(|b| b.date <= to + horizon);
        let daily: Vec<DailySentiment> =
            feature_store::ticker_sentiment_until(&**client, &ticker, to)
                .await?
                .iter()
                .filter(|t| t.trading_date <= to)
                .map(DailySentiment::from)
                .collect();
        sentiment.insert(ticker.clone(), daily);
        prices.push((ticker, bars));
    }
    Ok((prices, sentiment))
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.from <= args.to,
        "--from {} is after --to {}",
        args.from,
        args.to
    );
    let (prices, sentiment) = if args.from_db {
        from_database(args.to).await?
    } else {
        let dir = args
            .prices
            .as_deref()
            .context("--prices DIR is required without --from-db")?;
        let prices = price_csv::load_dir(dir)?;
        let items = scored_items(&args.posts)?;
        // Aggregates start early enough for the 5-day sentiment averages of `from`.
        let since = args
            .from
            .checked_sub_days(chrono::Days::new(14))
            .unwrap_or(args.from);
        (prices, daily_sentiment_by_ticker(&items, since, args.to))
    };
    let barrier = BarrierConfig {
        target: args.target,
        ..BarrierConfig::default()
    };
    let (rows, info) = training_set(&prices, &sentiment, args.from, args.to, &barrier);
    write_files(&args.out, &rows, &info)?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}

pub(crate) fn write_files(
    out: &Path,
    rows: &[shared::core::features::training::TrainingRow],
    info: &shared::core::features::training::TrainingSetInfo,
) -> anyhow::Result<()> {
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    write_csv(rows, &mut writer).with_context(|| format!("writing {}", out.display()))?;
    let meta = out.with_extension("meta.json");
    std::fs::write(&meta, serde_json::to_string_pretty(info)?)
        .with_context(|| format!("writing {}", meta.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path)
    }

    #[tokio::test]
    async fn export_from_files_writes_labelled_rows_and_the_metadata() {
        let out = std::env::temp_dir().join(format!("tft-export-{}.csv", std::process::id()));
        export(ExportArgs {
            prices: Some(repo("shared/tests/fixtures/prices")),
            posts: vec![repo("data/sample/reddit/wsb_comments_2021-11_12.csv")],
            from_db: false,
            from: "2021-11-01".parse().unwrap(),
            to: "2021-12-31".parse().unwrap(),
            out: out.clone(),
            target: 0.10,
        })
        .await
        .unwrap();
        let csv = std::fs::read_to_string(&out).unwrap();
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.with_extension("meta.json")).unwrap(),
        )
        .unwrap();
        let rows = csv.lines().count() - 1;
        assert_eq!(meta["rows"], rows);
        assert_eq!(
            meta["schema_hash"],
            shared::core::features::FEATURE_SCHEMA.hash()
        );
        // GME is in the bundled comments: some of its rows carry mentions.
        assert!(meta["rows_with_mentions"].as_u64().unwrap() > 0, "{meta}");
        assert!(csv
            .lines()
            .skip(1)
            .all(|l| l.ends_with(",0") || l.ends_with(",1") || l.ends_with(",2")));
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(out.with_extension("meta.json"));
    }
}
