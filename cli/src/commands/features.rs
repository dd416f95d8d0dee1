//! `tft features export`: the training set (features + labels = the exits of the trade
//! each row's signal makes, with its net return), from CSV files (no database) or from
//! the database, written as CSV with a `.meta.json` beside it (the label definition in
//! its `label` object).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use shared::adapters::{db, feature_store, price_csv, price_store, reddit_archive, sentiment_csv};
use shared::config::{Config, ProcessEnv};
use shared::core::exits::TradeRules;
use shared::core::features::training::{daily_sentiment_by_ticker, training_set, write_csv};
use shared::core::features::{DailySentiment, Market};
use shared::core::mention_sentiment::ScoredItem;
use shared::core::universe::Universe;
use shared::jobs::reddit_rows::score_item;

#[derive(Subcommand)]
pub enum FeaturesCommand {
    /// Write the training set (features in schema order, then label, net_return, stop_pct,
    /// target_pct, exit_reason) to a CSV file.
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
    /// A daily sentiment file (`tft sentiment-file`), read instead of scoring --posts.
    #[arg(long, conflicts_with_all = ["posts", "from_db"])]
    sentiment: Option<PathBuf>,
    /// The benchmark's daily bars (SPY) for the market-regime features; without it they
    /// are 0 with `regime_ready` 0. Its ticker (the file stem) is never part of the
    /// universe, even if the prices directory holds it.
    #[arg(long, conflicts_with = "from_db")]
    benchmark: Option<PathBuf>,
    /// Read bars and daily sentiment from DATABASE_URL instead of files (the universe is
    /// TFT_WATCHLIST, or every stored ticker; the benchmark is TFT_BENCHMARK's stored bars).
    #[arg(long, conflicts_with_all = ["prices", "posts"])]
    from_db: bool,
    #[arg(long)]
    from: NaiveDate,
    #[arg(long)]
    to: NaiveDate,
    #[arg(long)]
    out: PathBuf,
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

/// What the export reads: bars by ticker, daily sentiment by ticker, and the market
/// (benchmark bars and the universe).
pub(crate) type Loaded = (
    Vec<(String, Vec<shared::core::DailyBar>)>,
    BTreeMap<String, Vec<DailySentiment>>,
    Market,
);

pub(crate) async fn from_database(to: NaiveDate) -> anyhow::Result<Loaded> {
    let config = Config::from_env(&ProcessEnv)?;
    let pool = db::connect_pool(&config.database)?;
    let client = pool.get().await?;
    let mut prices = Vec::new();
    let mut sentiment = BTreeMap::new();
    let horizon = chrono::Days::new(30);
    let benchmark_ticker = config.prices.benchmark.clone();
    let mut benchmark = Vec::new();
    for ticker in price_store::stored_tickers(&**client).await? {
        let mut bars = price_store::load_bars(&**client, &ticker).await?;
        bars.retain(|b| b.date <= to + horizon);
        if benchmark_ticker.as_deref() == Some(ticker.as_str()) {
            benchmark = bars;
            continue;
        }
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
    let (watchlist, _) = Universe::from_watchlist(&config.prices.watchlist);
    let universe: Vec<String> = if watchlist.is_empty() {
        prices.iter().map(|(t, _)| t.clone()).collect()
    } else {
        watchlist
            .tickers()
            .filter(|t| benchmark_ticker.as_deref() != Some(*t))
            .map(str::to_string)
            .collect()
    };
    Ok((prices, sentiment, Market::new(benchmark, universe)))
}

/// The benchmark's bars and ticker (the file stem, upper case).
fn load_benchmark(path: &Path) -> anyhow::Result<(String, Vec<shared::core::DailyBar>)> {
    let bars = price_csv::load_bars(path)
        .with_context(|| format!("reading the benchmark {}", path.display()))?;
    let ticker = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_uppercase())
        .unwrap_or_else(|| "BENCHMARK".into());
    Ok((ticker, bars))
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.from <= args.to,
        "--from {} is after --to {}",
        args.from,
        args.to
    );
    let (prices, sentiment, market) = if args.from_db {
        from_database(args.to).await?
    } else {
        let dir = args
            .prices
            .as_deref()
            .context("--prices DIR is required without --from-db")?;
        let mut prices = price_csv::load_dir(dir)?;
        let benchmark = match &args.benchmark {
            Some(path) => {
                let (ticker, bars) = load_benchmark(path)?;
                // The benchmark is the market, never a candidate (the dev data keeps
                // SPY.csv among the stocks).
                prices.retain(|(t, _)| !t.eq_ignore_ascii_case(&ticker));
                bars
            }
            None => Vec::new(),
        };
        // Aggregates start early enough for the 5-day sentiment averages of `from`.
        let since = args
            .from
            .checked_sub_days(chrono::Days::new(14))
            .unwrap_or(args.from);
        let sentiment = match &args.sentiment {
            Some(path) => sentiment_csv::between(&sentiment_csv::read(path)?, since, args.to),
            None => daily_sentiment_by_ticker(&scored_items(&args.posts)?, since, args.to),
        };
        // The universe: every ticker of the directory (the manifest records it).
        let market = Market::new(benchmark, prices.iter().map(|(t, _)| t.clone()));
        (prices, sentiment, market)
    };
    // Labels are the exits the live system and the backtester trade with.
    let rules = TradeRules::default();
    let (rows, info) = training_set(&prices, &sentiment, &market, args.from, args.to, &rules);
    anyhow::ensure!(
        rows.iter().all(|r| r.values.iter().all(|v| v.is_finite())),
        "a non-finite feature value (a bug: every feature is finite by construction)"
    );
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
            sentiment: None,
            benchmark: Some(repo("data/sample/benchmark/SPY.csv")),
            from_db: false,
            from: "2021-11-01".parse().unwrap(),
            to: "2021-12-31".parse().unwrap(),
            out: out.clone(),
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
        // The universe is the directory's tickers; SPY (2019-) is warmed up by 2021-11.
        assert_eq!(
            meta["universe"],
            serde_json::json!(["AAPL", "GME", "NKLA", "PLTR"])
        );
        assert_eq!(meta["rows_with_regime"], meta["rows"]);
        let header = csv.lines().next().unwrap();
        assert!(header.contains(",rank_return_20d,"), "{header}");
        assert_eq!(meta["label"]["hold_days"], 7);
        assert_eq!(meta["label"]["max_stop_pct"], 0.05);
        assert_eq!(meta["label"]["commission_bps"], 5.0);
        assert!(meta["label"]["rule"]
            .as_str()
            .unwrap()
            .contains("next trading day's open"));
        assert!(csv
            .lines()
            .next()
            .unwrap()
            .ends_with(",label,net_return,stop_pct,target_pct,exit_reason"));
        for line in csv.lines().skip(1) {
            let cols: Vec<&str> = line.rsplitn(6, ',').collect();
            let (reason, label) = (cols[0], cols[4]);
            let expected = match reason {
                "stop_loss" => "0",
                "time_decay" | "signal_flip" => "1",
                "target" => "2",
                other => panic!("exit reason {other:?}"),
            };
            assert_eq!(label, expected, "{line}");
            assert!(cols[3].parse::<f64>().unwrap().is_finite(), "{line}");
        }
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(out.with_extension("meta.json"));
    }

    #[tokio::test]
    async fn a_daily_sentiment_file_exports_the_same_rows_as_the_posts_it_was_built_from() {
        let dir = tempfile::tempdir().unwrap();
        let posts = vec![repo("data/sample/reddit/wsb_comments_2021-11_12.csv")];
        let daily = dir.path().join("daily.csv");
        crate::commands::reddit::sentiment_file(&posts, &daily, &Default::default(), true).unwrap();
        let args = |posts: Vec<PathBuf>, sentiment: Option<PathBuf>, out: &str| ExportArgs {
            prices: Some(repo("shared/tests/fixtures/prices")),
            posts,
            sentiment,
            benchmark: Some(repo("data/sample/benchmark/SPY.csv")),
            from_db: false,
            from: "2021-11-01".parse().unwrap(),
            to: "2021-12-31".parse().unwrap(),
            out: dir.path().join(out),
        };
        export(args(posts.clone(), None, "from_posts.csv"))
            .await
            .unwrap();
        export(args(Vec::new(), Some(daily), "from_file.csv"))
            .await
            .unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let from_posts = read("from_posts.csv");
        assert_eq!(from_posts, read("from_file.csv"));
        let meta: serde_json::Value = serde_json::from_str(&read("from_file.meta.json")).unwrap();
        assert!(meta["rows_with_mentions"].as_u64().unwrap() > 0, "{meta}");
    }
}
