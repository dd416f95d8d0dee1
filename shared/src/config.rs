//! Typed configuration, read once from the environment at start-up (Lambda init or CLI).
//!
//! Secrets are held in [`secrecy::SecretString`], whose Debug prints `[REDACTED]`, so a
//! config can be logged whole without leaking the database password.

use std::time::Duration;

use secrecy::SecretString;

use crate::adapters::yahoo::YahooSettings;

/// A configuration value that is present but unusable, or missing and required.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the database is, how it is reached, and how long anything on it may take.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// A libpq-style URL (`postgres://user:pass@host/db?sslmode=require`). For Neon, the
    /// functions use the `-pooler` URL (PgBouncer, transaction mode); migrations the direct one.
    /// Without `sslmode` it means verified TLS (`adapters::db`, "TLS").
    pub url: SecretString,
    pub max_connections: usize,
    /// Extra trusted CA certificates (PEM), for servers whose certificate is not signed
    /// by a public root (RDS, self-hosted). Neon needs none.
    pub ca_cert_file: Option<std::path::PathBuf>,
    /// `sslmode=disable` is honoured only when this is set (`DATABASE_ALLOW_PLAINTEXT=1`):
    /// one stray URL parameter must not send the password in plaintext in production.
    pub allow_plaintext: bool,
    /// Opening one connection (TCP, TLS, start-up), and the bound on a recycle check.
    pub connect_timeout: Duration,
    /// Any one statement inside a transaction opened by `db::begin`.
    pub statement_timeout: Duration,
    /// Waiting for a free connection when all `max_connections` are checked out.
    pub pool_wait_timeout: Duration,
}

/// Defaults well inside the shortest function timeout (120 s, monitor-positions): a hung
/// database fails the run with an error rather than the Lambda being killed.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(20);
pub const DEFAULT_POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(10);

impl DatabaseConfig {
    /// A config for `url` with defaults for the rest (plaintext not allowed).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            max_connections: 4,
            ca_cert_file: None,
            allow_plaintext: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            pool_wait_timeout: DEFAULT_POOL_WAIT_TIMEOUT,
        }
    }
}

/// The benchmark unless `TFT_BENCHMARK` says otherwise.
pub const DEFAULT_BENCHMARK: &str = "SPY";

/// What the price job fetches and how.
#[derive(Debug, Clone)]
pub struct PriceJobConfig {
    /// The watchlist; the Reddit ingestion later adds trending tickers to it.
    pub watchlist: Vec<String>,
    /// Tickers fetched at once (bounded concurrency towards Yahoo and the pool).
    pub concurrency: usize,
    /// Calendar days re-fetched before the last stored bar, to pick up late corrections.
    pub overlap_days: u32,
    /// History fetched for a ticker with no stored bars (enough for SMA 200 to warm up).
    pub initial_history_days: u32,
    /// How many of the tickers most mentioned on Reddit join the watchlist (0: none).
    pub trending_top_n: i64,
    /// Days of mentions the trend is counted over.
    pub trending_window_days: i64,
    /// Mentions (distinct authors) a ticker needs to count as trending.
    pub trending_min_mentions: i64,
    /// The market benchmark (SPY): fetched and stored with every scheduled run, read by
    /// the market-regime features, never a candidate. `None`: no benchmark.
    pub benchmark: Option<String>,
}

impl Default for PriceJobConfig {
    fn default() -> Self {
        Self {
            watchlist: Vec::new(),
            concurrency: 4,
            overlap_days: 7,
            initial_history_days: 3 * 365,
            trending_top_n: 10,
            trending_window_days: 3,
            trending_min_mentions: 5,
            benchmark: Some(DEFAULT_BENCHMARK.to_string()),
        }
    }
}

/// Everything a function needs, read once.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub yahoo: YahooSettings,
    pub prices: PriceJobConfig,
    /// The project's EventBridge bus; `None` means "do not announce" (local runs).
    pub event_bus_name: Option<String>,
}

/// Reads a variable through `get`, so tests can feed a map instead of the process env.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> EnvSource for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

pub fn parse<T: std::str::FromStr>(
    env: &dyn EnvSource,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: format!("{raw:?}: {e}"),
            }),
    }
}

impl DatabaseConfig {
    /// `DATABASE_URL` (required), `DATABASE_MAX_CONNECTIONS` (default 4: a Lambda
    /// container serves one invocation at a time), `DATABASE_CA_CERT` (optional PEM file),
    /// `DATABASE_ALLOW_PLAINTEXT` (`1` to honour `sslmode=disable`; default off),
    /// `DATABASE_CONNECT_TIMEOUT_SECS` (5), `DATABASE_STATEMENT_TIMEOUT_SECS` (20),
    /// `DATABASE_POOL_WAIT_TIMEOUT_SECS` (10).
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let url = env
            .get("DATABASE_URL")
            .ok_or(ConfigError::Missing("DATABASE_URL"))?;
        let max_connections = parse(env, "DATABASE_MAX_CONNECTIONS", 4usize)?;
        if max_connections == 0 {
            return Err(ConfigError::Invalid {
                name: "DATABASE_MAX_CONNECTIONS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            url: SecretString::from(url),
            max_connections,
            ca_cert_file: env.get("DATABASE_CA_CERT").map(Into::into),
            allow_plaintext: flag(env, "DATABASE_ALLOW_PLAINTEXT")?,
            connect_timeout: seconds(
                env,
                "DATABASE_CONNECT_TIMEOUT_SECS",
                DEFAULT_CONNECT_TIMEOUT,
            )?,
            statement_timeout: seconds(
                env,
                "DATABASE_STATEMENT_TIMEOUT_SECS",
                DEFAULT_STATEMENT_TIMEOUT,
            )?,
            pool_wait_timeout: seconds(
                env,
                "DATABASE_POOL_WAIT_TIMEOUT_SECS",
                DEFAULT_POOL_WAIT_TIMEOUT,
            )?,
        })
    }
}

/// A switch: `1`/`true` on, `0`/`false` (or unset) off; anything else is an error rather
/// than a guess.
fn flag(env: &dyn EnvSource, name: &'static str) -> Result<bool, ConfigError> {
    match env.get(name).as_deref().map(str::trim) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            name,
            reason: format!("{other:?}: use 1 or 0"),
        }),
    }
}

/// A timeout in whole seconds, at least 1: `0` would mean "no timeout" to deadpool and
/// PostgreSQL, the very hang these bounds exist to prevent.
fn seconds(
    env: &dyn EnvSource,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let secs = parse(env, name, default.as_secs())?;
    if secs == 0 {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be at least 1 second".into(),
        });
    }
    Ok(Duration::from_secs(secs))
}

impl Config {
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(&ProcessEnv)
    }

    /// Variables: `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`, `DATABASE_CA_CERT`,
    /// `DATABASE_ALLOW_PLAINTEXT`, `DATABASE_CONNECT_TIMEOUT_SECS`,
    /// `DATABASE_STATEMENT_TIMEOUT_SECS`, `DATABASE_POOL_WAIT_TIMEOUT_SECS`, `TFT_WATCHLIST` (comma
    /// separated), `TFT_FETCH_CONCURRENCY`, `TFT_OVERLAP_DAYS`, `TFT_INITIAL_HISTORY_DAYS`,
    /// `TFT_TRENDING_TOP_N`, `TFT_TRENDING_DAYS`, `TFT_TRENDING_MIN_MENTIONS`,
    /// `TFT_BENCHMARK` (default SPY; `none`: no benchmark),
    /// `TFT_EVENT_BUS_NAME`, `YAHOO_BASE_URL`, `YAHOO_TIMEOUT_SECS`, `YAHOO_MAX_RETRIES`.
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::from_env(env)?;

        let defaults = YahooSettings::default();
        let yahoo = YahooSettings {
            base_url: env.get("YAHOO_BASE_URL").unwrap_or(defaults.base_url),
            request_timeout: Duration::from_secs(parse(
                env,
                "YAHOO_TIMEOUT_SECS",
                defaults.request_timeout.as_secs(),
            )?),
            max_retries: parse(env, "YAHOO_MAX_RETRIES", defaults.max_retries)?,
            ..defaults
        };

        let d = PriceJobConfig::default();
        let prices = PriceJobConfig {
            watchlist: env
                .get("TFT_WATCHLIST")
                .map(|w| {
                    w.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            concurrency: parse(env, "TFT_FETCH_CONCURRENCY", d.concurrency)?.max(1),
            overlap_days: parse(env, "TFT_OVERLAP_DAYS", d.overlap_days)?,
            initial_history_days: parse(env, "TFT_INITIAL_HISTORY_DAYS", d.initial_history_days)?,
            trending_top_n: parse(env, "TFT_TRENDING_TOP_N", d.trending_top_n)?,
            trending_window_days: parse(env, "TFT_TRENDING_DAYS", d.trending_window_days)?,
            trending_min_mentions: parse(
                env,
                "TFT_TRENDING_MIN_MENTIONS",
                d.trending_min_mentions,
            )?,
            benchmark: match env.get("TFT_BENCHMARK") {
                None => d.benchmark,
                Some(b) if b.trim().eq_ignore_ascii_case("none") => None,
                Some(b) => Some(b.trim().to_ascii_uppercase()),
            },
        };

        Ok(Self {
            database,
            yahoo,
            prices,
            event_bus_name: env.get("TFT_EVENT_BUS_NAME"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn debug_output_never_contains_the_database_password() {
        let env = [("DATABASE_URL", "postgres://trader:hunter2@db.example/tft")];
        let config = Config::from_env(&env).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(config.database.url.expose_secret().contains("hunter2"));
    }

    #[test]
    fn missing_database_url_is_a_clear_error() {
        let env = [("TFT_WATCHLIST", "AAPL")];
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DATABASE_URL is required but not set"
        );
    }

    #[test]
    fn watchlist_and_numbers_are_parsed() {
        let env = [
            ("DATABASE_URL", "postgres://localhost/tft"),
            ("TFT_WATCHLIST", " AAPL, msft ,,GME"),
            ("TFT_FETCH_CONCURRENCY", "8"),
        ];
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.prices.watchlist, ["AAPL", "msft", "GME"]);
        assert_eq!(config.prices.concurrency, 8);
        assert_eq!(config.event_bus_name, None);
        assert_eq!(config.prices.benchmark.as_deref(), Some("SPY"));
    }

    #[test]
    fn the_benchmark_can_be_changed_or_switched_off() {
        let url = ("DATABASE_URL", "postgres://localhost/tft");
        let qqq = Config::from_env(&[url, ("TFT_BENCHMARK", " qqq ")]).unwrap();
        assert_eq!(qqq.prices.benchmark.as_deref(), Some("QQQ"));
        let none = Config::from_env(&[url, ("TFT_BENCHMARK", "none")]).unwrap();
        assert_eq!(none.prices.benchmark, None);
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let env = [
            ("DATABASE_URL", "postgres://localhost/tft"),
            ("TFT_OVERLAP_DAYS", "a week"),
        ];
        let err = Config::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("TFT_OVERLAP_DAYS"), "{err}");
    }

    #[test]
    fn plaintext_is_off_unless_asked_for() {
        let url = ("DATABASE_URL", "postgres://localhost/tft?sslmode=disable");
        assert!(!DatabaseConfig::from_env(&[url]).unwrap().allow_plaintext);
        for (value, allowed) in [("1", true), ("true", true), ("0", false), ("false", false)] {
            let env = [url, ("DATABASE_ALLOW_PLAINTEXT", value)];
            assert_eq!(
                DatabaseConfig::from_env(&env).unwrap().allow_plaintext,
                allowed
            );
        }
        let err = DatabaseConfig::from_env(&[url, ("DATABASE_ALLOW_PLAINTEXT", "yes please")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_ALLOW_PLAINTEXT"), "{err}");
    }

    #[test]
    fn database_timeouts_have_defaults_and_can_be_set() {
        let url = ("DATABASE_URL", "postgres://localhost/tft");
        let d = DatabaseConfig::from_env(&[url]).unwrap();
        assert_eq!(d.connect_timeout, Duration::from_secs(5));
        assert_eq!(d.statement_timeout, Duration::from_secs(20));
        assert_eq!(d.pool_wait_timeout, Duration::from_secs(10));
        let env = [
            url,
            ("DATABASE_CONNECT_TIMEOUT_SECS", "2"),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "60"),
            ("DATABASE_POOL_WAIT_TIMEOUT_SECS", "3"),
        ];
        let d = DatabaseConfig::from_env(&env).unwrap();
        assert_eq!(d.connect_timeout, Duration::from_secs(2));
        assert_eq!(d.statement_timeout, Duration::from_secs(60));
        assert_eq!(d.pool_wait_timeout, Duration::from_secs(3));
    }

    #[test]
    fn a_zero_timeout_is_refused_not_read_as_no_timeout() {
        let env = [
            ("DATABASE_URL", "postgres://localhost/tft"),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "0"),
        ];
        let err = DatabaseConfig::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("DATABASE_STATEMENT_TIMEOUT_SECS"), "{err}");
    }
}
