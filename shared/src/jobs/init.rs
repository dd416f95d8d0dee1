//! What every function builds once per container (and `tft run` once per command): the
//! configuration, the database pool, and the bus publisher.

use crate::adapters::db::{self, Pool};
use crate::adapters::eventbridge::EventPublisher;
use crate::config::Config;

/// The clients shared by every handler.
pub struct FunctionContext {
    pub config: Config,
    pub pool: Pool,
    /// `None` when `TFT_EVENT_BUS_NAME` is unset (local runs): nothing is announced.
    pub events: Option<EventPublisher>,
}

impl FunctionContext {
    /// Reads the environment once, builds the pool and opens one connection now, so the
    /// TLS handshake is paid during Lambda init rather than in the first invocation.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_process_env()?;
        let pool = db::connect_pool(&config.database)?;
        if let Err(e) = db::ping(&pool).await {
            tracing::warn!(error = %e, "database not reachable at init; will retry per invocation");
        }
        let events = event_publisher(&config).await;
        Ok(Self {
            config,
            pool,
            events,
        })
    }
}

/// The bus publisher when `TFT_EVENT_BUS_NAME` is set.
pub async fn event_publisher(config: &Config) -> Option<EventPublisher> {
    match &config.event_bus_name {
        Some(bus) => Some(EventPublisher::from_env(bus.clone()).await),
        None => None,
    }
}
