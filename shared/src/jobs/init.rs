//! What every function builds once per container (and `tft run` once per command): the
//! environment with its secrets read, the configuration, the database pool, and the bus
//! publisher.

#[cfg(feature = "aws")]
use crate::adapters::aws::AwsSdk;
#[cfg(feature = "aws")]
use crate::adapters::db::{self, Pool};
#[cfg(feature = "aws")]
use crate::adapters::eventbridge::EventPublisher;
#[cfg(feature = "aws")]
use crate::adapters::secrets;
#[cfg(feature = "aws")]
use crate::config::{Config, EnvSource, ProcessEnv, SecretEnv};

/// The clients shared by every handler.
#[cfg(feature = "aws")]
pub struct FunctionContext {
    pub config: Config,
    pub pool: Pool,
    /// `None` when `TFT_EVENT_BUS_NAME` is unset (local runs): nothing is announced.
    pub events: Option<EventPublisher>,
    /// The environment as read at init, secrets included: the function's other configs
    /// (`NotifyConfig`, `RedditConfig`, ...) are parsed from this, not from the process
    /// environment, so a secret given by ARN reaches them too. Its `Debug` prints names.
    pub env: SecretEnv,
    /// The AWS SDK configuration, loaded once (if at all) for every client the function
    /// builds: hand it to the model store, the mailer... rather than loading another.
    pub aws: AwsSdk,
}

#[cfg(feature = "aws")]
impl FunctionContext {
    /// Reads the environment once (and every secret it names by ARN,
    /// `adapters::secrets`), builds the pool and opens one connection now, so the TLS
    /// handshake is paid during Lambda init rather than in the first invocation.
    pub async fn from_env() -> anyhow::Result<Self> {
        Self::from_env_source(ProcessEnv).await
    }

    /// [`Self::from_env`] over another environment (tests).
    pub async fn from_env_source(
        base: impl EnvSource + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        let aws = AwsSdk::new();
        let (env, secrets_ms) = secrets::resolve_env_timed(base, &aws).await;
        let env = env?;
        let config = Config::from_env(&env)?;
        let pool = db::connect_pool(&config.database)?;
        // The connection (TCP, TLS, authentication, one query) timed on its own: the
        // cold-init benchmark (tools/bench/cold_init.sh) reports it apart from the rest.
        let connecting = std::time::Instant::now();
        let pinged = db::ping(&pool).await;
        let db_connect_ms = connecting.elapsed().as_secs_f64() * 1e3;
        match pinged {
            Ok(()) => tracing::info!(db_connect_ms, secrets_ms, "database connected at init"),
            Err(e) => tracing::warn!(
                error = %e,
                db_connect_ms,
                secrets_ms,
                "database not reachable at init; will retry per invocation"
            ),
        }
        let events = event_publisher_with(&config, &aws).await;
        Ok(Self {
            config,
            pool,
            events,
            env,
            aws,
        })
    }
}

/// The bus publisher when `TFT_EVENT_BUS_NAME` is set.
#[cfg(feature = "aws")]
pub async fn event_publisher(config: &Config) -> Option<EventPublisher> {
    event_publisher_with(config, &AwsSdk::new()).await
}

/// [`event_publisher`] over the function's shared SDK configuration.
#[cfg(feature = "aws")]
pub async fn event_publisher_with(config: &Config, aws: &AwsSdk) -> Option<EventPublisher> {
    match &config.event_bus_name {
        Some(bus) => Some(EventPublisher::from_sdk(aws.config().await, bus.clone())),
        None => None,
    }
}

/// The run's deadline on the tokio clock: the invocation's deadline (milliseconds since
/// the Unix epoch, as the Lambda runtime gives it) less `margin` for the run's end. A
/// deadline already past (or closer than the margin) gives now: the run does only what
/// needs no waiting.
pub fn run_deadline(deadline_epoch_ms: u64, margin: std::time::Duration) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let remaining = std::time::Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms));
    tokio::time::Instant::now() + remaining.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn run_deadline_keeps_the_margin_back() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let start = tokio::time::Instant::now();
        let d = run_deadline(now_ms + 120_000, Duration::from_secs(15));
        let left = d.duration_since(start);
        // 105 s, give or take the millisecond truncation and the time between the calls.
        assert!(
            left <= Duration::from_millis(105_100) && left > Duration::from_secs(100),
            "{left:?}"
        );
        // Past or within the margin: now.
        let d = run_deadline(now_ms.saturating_sub(5_000), Duration::from_secs(15));
        assert!(d.duration_since(start) < Duration::from_secs(1));
        let d = run_deadline(now_ms + 10_000, Duration::from_secs(15));
        assert!(d.duration_since(start) < Duration::from_secs(1));
    }
}
