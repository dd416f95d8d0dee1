//! The one integration-test binary: real PostgreSQL (a fresh database per test), a real
//! PgBouncer, recorded Yahoo traffic through wiremock, EventBridge and Secrets Manager on moto.
//! Run through `make test`, which starts those services.

mod api;
mod breaker;
mod build_features;
mod contract;
mod dashboard;
mod db_timeouts;
mod deploy;
mod end_to_end;
mod generate_signals;
mod migrations;
mod monitor_positions;
mod notify;
mod pgbouncer;
mod predict;
mod price_import;
mod price_store;
mod reddit;
mod reddit_import;
mod reddit_store;
mod retrain;
mod scrape_prices;
mod scrape_reddit;
mod secrets;
mod signals;
mod template;
mod tls;
mod watchdog;
mod yahoo;
