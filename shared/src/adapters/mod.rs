//! Adapters: everything that talks to the outside world.

pub mod api_keys;
pub mod api_store;
pub mod breaker_store;
pub mod db;
#[cfg(feature = "aws")]
pub mod email;
#[cfg(feature = "aws")]
pub mod eventbridge;
pub mod feature_store;
pub(crate) mod http_retry;
pub mod outbox;
pub mod portfolio_store;
pub mod prediction_store;
pub mod price_csv;
pub mod price_store;
pub mod quote;
pub mod reddit;
pub mod reddit_archive;
pub mod reddit_store;
pub mod signal_inputs;
pub mod signal_store;
#[cfg(feature = "smtp")]
pub mod smtp;
pub mod webhook;
pub mod yahoo;
