//! `tft models upload`, `promote` and `rollback`: the model store (a directory or
//! `s3://bucket/prefix`) as models/retrain.sh drives it. A bundle is verified (sha256 of
//! every file, this code's feature schema) before it is stored. `promote` re-scores the
//! candidate and the current bundle with the backtester on the same recent window (the
//! candidate's calibration slice, from stored bars or price files) and makes the candidate
//! current only if its strategy earns more there (`core::promotion`); `rollback` forces a
//! version back.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use ensemble::job::s3_client;
use ensemble::store::ModelStore;
use ensemble::Ensemble;
use shared::adapters::price_csv;
use shared::core::backtest::{self, metrics, BacktestConfig, MarketData, RawInputs};
use shared::core::promotion::{decide, PromotionRule, ScoredBundle};
use shared::core::risk::gate::{DEFAULT_ENTRY_GATE, DEFAULT_SELL_FLIP};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Copy a bundle directory (manifest.json + the files it lists) into the store under
    /// the manifest's version; does not make it current.
    Upload {
        #[arg(long)]
        dir: PathBuf,
        /// A local store root or s3://bucket/prefix.
        #[arg(long)]
        store: String,
    },
    /// Make VERSION current if its strategy beats the current one's on the same recent
    /// window (the candidate's calibration slice unless --from/--to say otherwise).
    Promote {
        version: String,
        /// A local store root or s3://bucket/prefix.
        #[arg(long)]
        store: String,
        #[command(flatten)]
        score: ScoreArgs,
    },
    /// Make VERSION current whatever the rule says (after a bad promotion).
    Rollback {
        version: String,
        #[arg(long)]
        store: String,
    },
}

/// Where the scoring window's bars and sentiment come from.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Stored bars and daily sentiment (DATABASE_URL; the universe is TFT_WATCHLIST or
    /// every stored ticker, the benchmark TFT_BENCHMARK's stored bars).
    #[arg(long, conflicts_with_all = ["prices", "posts", "benchmark"])]
    from_db: bool,
    /// A directory of price CSVs (the universe).
    #[arg(long, required_unless_present = "from_db")]
    prices: Option<PathBuf>,
    /// Reddit dumps for the sentiment features.
    #[arg(long, num_args = 1..)]
    posts: Vec<PathBuf>,
    /// The benchmark's bars (SPY) for the market-regime features.
    #[arg(long, required_unless_present = "from_db")]
    benchmark: Option<PathBuf>,
    /// First day of the scoring window (default: the candidate's calibration start).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Last day of the scoring window (default: the candidate's calibration end).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
}

/// A store from `s3://bucket[/prefix]` or a directory path.
pub async fn open_store(spec: &str) -> anyhow::Result<ModelStore> {
    match spec.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(!bucket.is_empty(), "no bucket in {spec:?}");
            Ok(ModelStore::S3 {
                client: s3_client().await,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        }
        None => Ok(ModelStore::Local(Path::new(spec).to_path_buf())),
    }
}

pub async fn run(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Upload { dir, store } => {
            let version = open_store(&store).await?.upload_dir(&dir).await?;
            println!("uploaded {version} to {store}");
        }
        ModelsCommand::Promote {
            version,
            store,
            score,
        } => promote(&version, &store, &score).await?,
        ModelsCommand::Rollback { version, store } => {
            open_store(&store).await?.set_current(&version).await?;
            println!("{version} is now current in {store} (rollback)");
        }
    }
    Ok(())
}

/// The trading rule of `core::promotion`: both bundles through the backtester on one window.
async fn promote(version: &str, store_spec: &str, score: &ScoreArgs) -> anyhow::Result<()> {
    let store = open_store(store_spec).await?;
    let candidate = store.load(version).await?;
    let current = match store.current_version().await {
        Ok(v) if v == version => {
            println!("{version} is already current in {store_spec}");
            return Ok(());
        }
        Ok(v) => Some(store.load(&v).await?),
        Err(_) => None,
    };
    let window = &candidate.manifest.validation_window;
    let from = score.from.unwrap_or(window.from);
    let to = score.to.unwrap_or(window.to);
    anyhow::ensure!(from <= to, "the scoring window {from}..{to} is empty");
    let data = scoring_data(score, from, to).await?;
    let mut config = BacktestConfig::new(from, to);
    config.risk.entry_gate = DEFAULT_ENTRY_GATE;
    config.risk.sell_flip = DEFAULT_SELL_FLIP;
    let scored = |bundle: &ensemble::store::Bundle| -> anyhow::Result<ScoredBundle> {
        let ensemble = Ensemble::from_bundle(bundle)?;
        let run = backtest::run(&data, &ensemble, &config, &mut |_, _| {})?;
        let m = metrics::metrics(config.starting_cash, &run.equity, &run.trades);
        Ok(ScoredBundle {
            version: bundle.manifest.version.clone(),
            trades: m.trades,
            net_return: m.total_return,
            avg_trade: m.avg_trade_return.unwrap_or(0.0),
        })
    };
    let cand = scored(&candidate)?;
    let curr = current.as_ref().map(scored).transpose()?;
    let decision = decide(&cand, curr.as_ref(), &PromotionRule::default());
    println!(
        "{}",
        serde_json::json!({
            "window": {"from": from, "to": to},
            "candidate": cand,
            "current": curr,
            "decision": decision,
        })
    );
    if decision.promotes() {
        store.set_current(version).await?;
        println!(
            "{version} is now current in {store_spec}: {}",
            decision.reason()
        );
    } else {
        println!("kept the current bundle: {}", decision.reason());
    }
    Ok(())
}

/// The scoring window's market data, from the database or from files.
async fn scoring_data(
    score: &ScoreArgs,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<MarketData> {
    if score.from_db {
        let (prices, sentiment, market) = crate::commands::features::from_database(to).await?;
        let raw = RawInputs {
            prices,
            items: Vec::new(),
            benchmark: market.benchmark,
            daily_sentiment: None,
        };
        return Ok(MarketData::from_daily_sentiment(&raw, &sentiment, from, to));
    }
    let (Some(dir), Some(bench)) = (&score.prices, &score.benchmark) else {
        anyhow::bail!("--prices DIR and --benchmark FILE are required without --from-db");
    };
    let benchmark = price_csv::load_bars(bench)
        .with_context(|| format!("reading the benchmark {}", bench.display()))?;
    let bench_ticker = bench
        .file_stem()
        .map(|s| s.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    let prices: Vec<_> = price_csv::load_dir(dir)
        .with_context(|| format!("reading bars from {}", dir.display()))?
        .into_iter()
        .filter(|(t, _)| !t.eq_ignore_ascii_case(&bench_ticker))
        .collect();
    let raw = RawInputs {
        prices,
        items: crate::commands::features::scored_items(&score.posts)?,
        benchmark,
        daily_sentiment: None,
    };
    Ok(MarketData::build(&raw, from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_specs() {
        match open_store("s3://tft-models/prod/models/").await.unwrap() {
            ModelStore::S3 { bucket, prefix, .. } => {
                assert_eq!(
                    (bucket.as_str(), prefix.as_str()),
                    ("tft-models", "prod/models")
                )
            }
            other => panic!("{other:?}"),
        }
        match open_store("s3://tft-models").await.unwrap() {
            ModelStore::S3 { prefix, .. } => assert_eq!(prefix, ""),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_store("models/store").await.unwrap(),
            ModelStore::Local(p) if p == Path::new("models/store")
        ));
        assert!(open_store("s3://").await.is_err());
    }
}
