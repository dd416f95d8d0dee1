//! Yahoo Finance chart API client: daily bars, splits and dividends of one ticker.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shared::adapters::yahoo::YahooError> {
//! use shared::adapters::yahoo::{YahooClient, YahooSettings};
//! let yahoo = YahooClient::new(YahooSettings::default())?; // once per container
//! let from = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
//! let to = chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
//! let series = yahoo.fetch_daily("BRK-B", from, to).await?;
//! # Ok(()) }
//! ```
//!
//! - `chart`: the JSON and its conversion to [`ChartSeries`] (exchange-local dates,
//!   null bars skipped and counted, duplicate dates keep the last entry);
//! - `client`: the request (`GET {base}/v8/finance/chart/{ticker}?period1&period2&
//!   interval=1d&events=div,split`) and the retries (backon, jittered exponential);
//! - [`YahooError`]: what failed, and whether it was transient.
//!
//! One request per call, no cross-ticker concurrency: callers bound that themselves.

mod chart;
mod client;
mod error;

pub use chart::{ChartSeries, Dividend, Split};
pub(crate) use client::http_error;
pub use client::{YahooClient, YahooSettings};
pub use error::YahooError;
