//! The one integration-test binary: real PostgreSQL (a fresh database per test), a real
//! PgBouncer, recorded Yahoo traffic through wiremock, EventBridge on moto.
//! Run through `make test`, which starts those services.

mod migrations;
mod pgbouncer;
mod reddit;
mod price_store;
mod reddit_store;
mod scrape_prices;
mod tls;
mod yahoo;
