//! `tft`: TFT Trader on the command line. Runs every Lambda handler locally against the
//! database in `DATABASE_URL`, applies migrations, backfills history, and exposes the
//! pure core (indicators) on CSV files.

mod commands;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tft",
    version,
    about = "TFT Trader: swing-trading signals from Reddit sentiment and daily prices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the SQL migrations in migrations/ to DATABASE_URL (use the direct, not pooled, URL).
    Migrate,
    /// Run one Lambda handler locally, with the same code path as in AWS.
    Run {
        #[command(subcommand)]
        function: commands::run::Function,
    },
    /// Fetch N years of daily history for the universe (or --tickers), with a progress bar.
    Backfill {
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Comma-separated tickers; default: TFT_WATCHLIST.
        #[arg(long, value_delimiter = ',')]
        tickers: Option<Vec<String>>,
        /// Last trading day to fetch (YYYY-MM-DD); default: today in New York.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Seed stock_prices from a directory of <TICKER>.csv daily bars (the layout `tft
    /// backtest --prices` reads), with their indicators, by binary COPY over
    /// DATABASE_DIRECT_URL (or DATABASE_URL when it is not a pooler).
    ImportPrices {
        dir: PathBuf,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Load historical Reddit dumps (CSV) into reddit_posts, scored like scraped items, and
    /// recompute the daily sentiment of the days they cover.
    ImportReddit {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Subreddits kept (the monthly Pushshift dumps hold all of Reddit); `all` keeps
        /// every item.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "wallstreetbets,stocks,investing"
        )]
        subreddits: Vec<String>,
    },
    /// Score Reddit archives (Pushshift NDJSON plain or .zst, the CSV exports) once into a
    /// daily sentiment file that `tft backtest` and `tft features export` read with
    /// --sentiment (docs/sentiment.md).
    SentimentFile {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Scoring threads; default: the machine's cores.
        #[arg(long)]
        workers: Option<usize>,
        /// Where scored mentions are spilled by week (default: the temporary directory).
        #[arg(long)]
        spill_dir: Option<PathBuf>,
        /// Subreddits kept (the monthly Pushshift dumps hold all of Reddit); `all` keeps
        /// every item.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "wallstreetbets,stocks,investing"
        )]
        subreddits: Vec<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Load a daily sentiment file (`tft sentiment-file`) into ticker_sentiment_daily: the
    /// trading days it holds replace the stored aggregate of those days.
    ImportSentiment { file: PathBuf },
    /// Recompute the stored daily per-ticker sentiment for a range of trading days.
    SentimentDaily {
        #[arg(long)]
        from: chrono::NaiveDate,
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Point-in-time features: `export` writes the training set (features + labels).
    Features {
        #[command(subcommand)]
        command: commands::features::FeaturesCommand,
    },
    /// The model store (a directory or s3://bucket/prefix): `upload` a bundle, `promote` a version.
    Models {
        #[command(subcommand)]
        command: commands::models::ModelsCommand,
    },
    /// Serve the query API and the dashboard over plain HTTP (the `api` Lambda's router).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
    },
    /// API keys of the query API: `create` (printed once), `list`, `revoke`.
    ApiKeys {
        #[command(subcommand)]
        command: commands::serve::ApiKeysCommand,
    },
    /// The notification outbox: `list` what was given up (or skipped), `requeue` it.
    Outbox {
        #[command(subcommand)]
        command: commands::outbox::OutboxCommand,
    },
    /// Walk-forward backtest on CSV bars and Reddit dumps: the live core day by day, with
    /// baselines, report.json, trades.csv and report.html (docs/backtest.md).
    Backtest(Box<commands::backtest::BacktestArgs>),
    /// Compute indicators for one CSV (Date,Open,High,Low,Close,Adj Close,Volume) to stdout.
    Indicators {
        #[arg(long)]
        csv: PathBuf,
    },
    /// Time the imports' COPY + upsert path against a plain binary COPY (used by
    /// tools/bench/copy_import.sh; empties stock_prices and reddit_posts).
    #[command(hide = true)]
    BenchCopy(commands::bench_copy::BenchCopyArgs),
    /// Time the indicator computation over a directory of CSVs (used by tools/bench).
    #[command(hide = true)]
    BenchIndicators {
        #[arg(long)]
        dir: PathBuf,
    },
    /// VADER sentiment (market mode; --plain: exactly Python vaderSentiment 3.3.2) and
    /// tickers of each stdin line, as one JSON object per line on stdout.
    Sentiment {
        #[arg(long)]
        plain: bool,
    },
    /// Time the sentiment scoring of a file's texts (used by tools/bench).
    #[command(hide = true)]
    BenchSentiment {
        #[arg(long)]
        file: PathBuf,
        /// CSV column holding the texts; without it, one text per line.
        #[arg(long)]
        column: Option<String>,
        #[arg(long)]
        plain: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init();
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => commands::run::migrate().await,
        Command::Run { function } => commands::run::run(function).await,
        Command::Backfill {
            years,
            tickers,
            date,
        } => commands::run::backfill(years, tickers, date).await,
        Command::ImportPrices { dir, quiet } => commands::prices::import(&dir, quiet).await,
        Command::ImportReddit { files, subreddits } => {
            commands::reddit::import(&files, &subreddits).await
        }
        Command::SentimentFile {
            files,
            out,
            workers,
            spill_dir,
            subreddits,
            quiet,
        } => {
            let mut options = shared::jobs::sentiment_file::BuildOptions {
                spill_dir,
                subreddits: commands::reddit::subreddit_filter(&subreddits),
                ..Default::default()
            };
            if let Some(n) = workers {
                options.workers = n;
            }
            commands::reddit::sentiment_file(&files, &out, &options, quiet)
        }
        Command::ImportSentiment { file } => commands::reddit::import_daily(&file).await,
        Command::SentimentDaily { from, to } => commands::reddit::recompute(from, to).await,
        Command::Features { command } => commands::features::run(command).await,
        Command::Models { command } => commands::models::run(command).await,
        Command::Outbox { command } => commands::outbox::run(command).await,
        Command::Serve { addr } => commands::serve::serve(addr).await,
        Command::ApiKeys { command } => commands::serve::api_keys(command).await,
        Command::Backtest(args) => commands::backtest::run(*args).await,
        Command::Indicators { csv } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            commands::indicators::run(&csv, &mut out)
                .with_context(|| format!("computing indicators for {}", csv.display()))
        }
        Command::BenchCopy(args) => commands::bench_copy::run(args).await,
        Command::BenchIndicators { dir } => {
            let result = commands::indicators::bench(&dir)?;
            println!("{result}");
            Ok(())
        }
        Command::Sentiment { plain } => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            commands::sentiment::run(plain, stdin.lock(), &mut out)
        }
        Command::BenchSentiment {
            file,
            column,
            plain,
        } => {
            let result = commands::sentiment::bench(&file, column.as_deref(), plain)?;
            println!("{result}");
            Ok(())
        }
    }
}
