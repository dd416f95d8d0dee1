//! One handler per Lambda function. The function's `main` builds the clients once and
//! calls the handler; `tft run <function>` calls the very same handler locally.

pub mod build_features;
pub mod daily_sentiment;
pub mod generate_signals;
pub mod init;
pub mod monitor_positions;
#[cfg(feature = "aws")]
pub mod notify;
pub mod portfolio_book;
pub mod reddit_rows;
pub mod run_outcome;
pub mod scheduled;
pub mod scrape_prices;
pub mod scrape_reddit;
pub mod watchdog;
