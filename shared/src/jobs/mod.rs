//! One handler per Lambda function. The function's `main` builds the clients once and
//! calls the handler; `tft run <function>` calls the very same handler locally.
//!
//! Without the `aws` feature only what the deploy function needs is here: the custom-
//! resource protocol, the migrations resource and the run deadline.

#[cfg(feature = "aws")]
pub mod build_features;
pub mod custom_resource;
#[cfg(feature = "aws")]
pub mod daily_sentiment;
#[cfg(feature = "aws")]
pub mod generate_signals;
pub mod init;
pub mod migrate;
#[cfg(feature = "aws")]
pub mod monitor_positions;
#[cfg(feature = "aws")]
pub mod notify;
#[cfg(feature = "aws")]
pub mod portfolio_book;
#[cfg(feature = "aws")]
pub mod price_import;
#[cfg(feature = "aws")]
pub mod reddit_import;
#[cfg(any(feature = "aws", feature = "archives"))]
pub mod reddit_rows;
#[cfg(feature = "aws")]
pub mod run_outcome;
#[cfg(feature = "aws")]
pub mod scheduled;
#[cfg(feature = "aws")]
pub mod scrape_prices;
#[cfg(feature = "aws")]
pub mod scrape_reddit;
#[cfg(feature = "archives")]
pub mod sentiment_file;
#[cfg(feature = "aws")]
pub mod watchdog;
