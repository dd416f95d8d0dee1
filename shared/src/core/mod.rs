//! The domain core: plain data and pure functions, no I/O.

pub mod backtest;
pub mod bar;
pub mod calendar;
pub mod exits;
pub mod features;
pub mod indicators;
pub mod mention_sentiment;
pub mod nyse;
pub mod portfolio;
pub mod prediction;
pub mod price_history;
pub mod promotion;
pub mod risk;
pub mod rules_strategy;
pub mod sentiment;
pub mod signals;
pub mod tickers;
pub mod universe;
pub mod watchdog;

pub use bar::DailyBar;
