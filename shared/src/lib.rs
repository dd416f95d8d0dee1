//! TFT Trader's common crate.
//!
//! - [`core`]: the domain, pure and free of I/O and AWS types, so the backtester and
//!   the live functions call the same code.
//! - [`adapters`]: the outside world (PostgreSQL, Yahoo Finance, EventBridge).
//! - [`jobs`]: one handler per Lambda function, written against the adapters; the thin
//!   `main` of each function and the `tft` CLI both call these.
//! - [`config`], [`telemetry`]: typed configuration read once, and logging.

pub mod adapters;
pub mod config;
pub mod core;
pub mod jobs;
pub mod telemetry;
