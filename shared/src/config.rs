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
    /// A secret setting given both as its value and as the ARN of the secret holding it:
    /// which one wins would be a guess, so neither does.
    #[error(
        "both {var} and {arn_var} are set: give the value ({var}, local runs) or the \
         Secrets Manager ARN ({arn_var}, deployed functions), not both"
    )]
    Ambiguous {
        var: &'static str,
        arn_var: &'static str,
    },
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

impl EnvSource for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

// ---------------------------------------------------------------------------------------
// Secrets at run time (issue 13).
//
// A deployed function gets no secret in its environment: it gets the ARN of a Secrets
// Manager secret (`DATABASE_URL_SECRET_ARN`, ...), reads it once at init
// (`adapters::secrets::resolve_env`, behind the `aws` feature) and parses its config from
// a [`SecretEnv`]: the environment with the secret's keys laid over it under the names the
// configs already read (`DATABASE_URL`, ...). Locally (`tft`, tests, the demo) the variable
// itself still works and no AWS call is made. Both at once is an error.

/// One key of a JSON secret and the variable it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKey {
    /// The key in the secret's JSON object.
    pub json_key: &'static str,
    /// The variable the configs read it as.
    pub var: &'static str,
    /// Required keys must be present and non-empty; optional ones may be absent or empty
    /// (then the variable is unset).
    pub required: bool,
}

/// A secret given by ARN: the variable holding the ARN and the keys read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSource {
    pub arn_var: &'static str,
    pub keys: &'static [SecretKey],
}

const fn key(json_key: &'static str, var: &'static str, required: bool) -> SecretKey {
    SecretKey {
        json_key,
        var,
        required,
    }
}

/// Every secret setting, and where it comes from when given by ARN (`docs/operations.md`,
/// "Secrets"). template.yaml passes these ARN variables; tests/it/template.rs checks that
/// no function gets one of the `var`s in its environment.
pub const SECRET_SOURCES: &[SecretSource] = &[
    SecretSource {
        arn_var: "DATABASE_URL_SECRET_ARN",
        keys: &[key("url", "DATABASE_URL", true)],
    },
    SecretSource {
        arn_var: "REDDIT_SECRET_ARN",
        keys: &[
            key("client_id", "REDDIT_CLIENT_ID", true),
            key("client_secret", "REDDIT_CLIENT_SECRET", true),
            // Absent or empty: the client-credentials grant (docs/reddit-client.md).
            key("username", "REDDIT_USERNAME", false),
            key("password", "REDDIT_PASSWORD", false),
        ],
    },
    SecretSource {
        arn_var: "NOTIFY_WEBHOOK_SECRET_ARN",
        keys: &[key("webhook_secret", "NOTIFY_WEBHOOK_SECRET", true)],
    },
    SecretSource {
        arn_var: "NOTIFY_SMTP_SECRET_ARN",
        keys: &[key("smtp_url", "SMTP_URL", true)],
    },
];

/// A secret to read: which source, and the ARN the environment gives for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    pub source: &'static SecretSource,
    pub arn: String,
}

/// The secrets this environment names by ARN, in [`SECRET_SOURCES`] order. A source whose
/// ARN is set while one of its variables is set too is [`ConfigError::Ambiguous`].
pub fn secret_reads(env: &dyn EnvSource) -> Result<Vec<SecretRead>, ConfigError> {
    let mut reads = Vec::new();
    for source in SECRET_SOURCES {
        let Some(arn) = env.get(source.arn_var).map(|a| a.trim().to_string()) else {
            continue;
        };
        if arn.is_empty() {
            continue;
        }
        if let Some(k) = source.keys.iter().find(|k| env.get(k.var).is_some()) {
            return Err(ConfigError::Ambiguous {
                var: k.var,
                arn_var: source.arn_var,
            });
        }
        reads.push(SecretRead { source, arn });
    }
    Ok(reads)
}

/// The environment as the configs see it: `base` (the process environment) with the
/// values read from secrets laid over it. Every variable of a source read by ARN belongs
/// to the overlay: an optional key the secret lacks is unset, never taken from `base`.
/// Built once per container and kept: the values are read once.
pub struct SecretEnv {
    base: Box<dyn EnvSource + Send + Sync>,
    /// The variables the overlay owns (all the keys of every source read).
    owned: std::collections::BTreeSet<&'static str>,
    values: std::collections::BTreeMap<&'static str, SecretString>,
}

impl SecretEnv {
    /// `base` as it is: nothing read from a secret.
    pub fn plain(base: impl EnvSource + Send + Sync + 'static) -> Self {
        Self {
            base: Box::new(base),
            owned: Default::default(),
            values: Default::default(),
        }
    }

    /// Lays the keys read from `source`'s secret over the environment: `values` are the
    /// (variable, value) pairs found; the source's other variables become unset.
    pub fn with_secret(
        mut self,
        source: &SecretSource,
        values: impl IntoIterator<Item = (&'static str, SecretString)>,
    ) -> Self {
        self.owned.extend(source.keys.iter().map(|k| k.var));
        self.values.extend(values);
        self
    }

    /// The variables whose values came from a secret (names only, for the init log).
    pub fn secret_vars(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.values.keys().copied()
    }
}

impl EnvSource for SecretEnv {
    fn get(&self, name: &str) -> Option<String> {
        use secrecy::ExposeSecret;
        if self.owned.contains(name) || self.values.contains_key(name) {
            return self.values.get(name).map(|v| v.expose_secret().to_string());
        }
        self.base.get(name)
    }
}

/// Names only: a `SecretEnv` can be logged or printed without its values.
impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretEnv")
            .field("from_secrets", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
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
    /// The database of bulk writes (binary COPY: `tft import-prices`): the direct URL
    /// `DATABASE_DIRECT_URL` when set, else `DATABASE_URL`; the other settings as
    /// [`Self::from_env`]. COPY prepares a named statement, which PgBouncer in transaction
    /// mode may hand to another client, so a Neon `-pooler` host is refused.
    pub fn bulk_from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        struct Direct<'a>(&'a dyn EnvSource);
        impl EnvSource for Direct<'_> {
            fn get(&self, name: &str) -> Option<String> {
                match name {
                    "DATABASE_URL" => self
                        .0
                        .get("DATABASE_DIRECT_URL")
                        .or_else(|| self.0.get("DATABASE_URL")),
                    _ => self.0.get(name),
                }
            }
        }
        use secrecy::ExposeSecret;
        let config = Self::from_env(&Direct(env))?;
        if config.url.expose_secret().contains("-pooler.") {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "bulk imports use COPY, which needs the direct (non-pooled) URL: set \
                         DATABASE_DIRECT_URL to Neon's URL without `-pooler`"
                    .into(),
            });
        }
        Ok(config)
    }

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
    fn bulk_writes_take_the_direct_url_and_refuse_a_pooler() {
        let env = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let pooled = "postgres://u:p@ep-x-pooler.us-east-2.aws.neon.tech/db";
        let direct = "postgres://u:p@ep-x.us-east-2.aws.neon.tech/db";
        let c = DatabaseConfig::bulk_from_env(&env(&[
            ("DATABASE_URL", pooled),
            ("DATABASE_DIRECT_URL", direct),
        ]))
        .unwrap();
        assert_eq!(c.url.expose_secret(), direct);
        let c = DatabaseConfig::bulk_from_env(&env(&[("DATABASE_URL", direct)])).unwrap();
        assert_eq!(c.url.expose_secret(), direct);
        let err = DatabaseConfig::bulk_from_env(&env(&[("DATABASE_URL", pooled)])).unwrap_err();
        assert!(err.to_string().contains("DATABASE_DIRECT_URL"), "{err}");
        assert!(!err.to_string().contains("u:p"), "{err}");
    }

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

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_string())
    }

    fn source(arn_var: &str) -> &'static SecretSource {
        SECRET_SOURCES
            .iter()
            .find(|s| s.arn_var == arn_var)
            .unwrap()
    }

    #[test]
    fn the_secret_overlay_wins_for_its_variables_and_passes_the_rest_through() {
        let base = [
            (
                "DATABASE_URL_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:db",
            ),
            (
                "REDDIT_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:reddit",
            ),
            ("TFT_WATCHLIST", "AAPL"),
            // Shadowed: the Reddit source was read, so its variables are the secret's.
            ("REDDIT_USERNAME", "from-the-environment"),
            ("DATABASE_URL", "postgres://base@localhost/tft"),
        ];
        let env = SecretEnv::plain(base)
            .with_secret(
                source("DATABASE_URL_SECRET_ARN"),
                [("DATABASE_URL", secret("postgres://trader:hunter2@db/tft"))],
            )
            .with_secret(
                source("REDDIT_SECRET_ARN"),
                [
                    ("REDDIT_CLIENT_ID", secret("id")),
                    ("REDDIT_CLIENT_SECRET", secret("s3cr3t")),
                ],
            );
        // The overlay first for what it owns...
        assert_eq!(
            env.get("DATABASE_URL").as_deref(),
            Some("postgres://trader:hunter2@db/tft")
        );
        assert_eq!(env.get("REDDIT_CLIENT_SECRET").as_deref(), Some("s3cr3t"));
        // ...including an optional key the secret lacks: unset, not the environment's.
        assert_eq!(env.get("REDDIT_USERNAME"), None);
        assert_eq!(env.get("REDDIT_PASSWORD"), None);
        // Everything else from the environment, the ARN variables included.
        assert_eq!(env.get("TFT_WATCHLIST").as_deref(), Some("AAPL"));
        assert!(env.get("REDDIT_SECRET_ARN").is_some());
        assert_eq!(env.get("NOTIFY_WEBHOOK_SECRET"), None);

        let config = Config::from_env(&env).unwrap();
        assert!(config.database.url.expose_secret().contains("hunter2"));
        assert_eq!(config.prices.watchlist, ["AAPL"]);
        let printed = format!("{env:?} {config:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("s3cr3t"),
            "{printed}"
        );
        assert!(printed.contains("DATABASE_URL"), "{printed}");
    }

    #[test]
    fn a_plain_environment_is_used_as_it_is() {
        let env = SecretEnv::plain([("DATABASE_URL", "postgres://localhost/tft")]);
        assert_eq!(
            env.get("DATABASE_URL").as_deref(),
            Some("postgres://localhost/tft")
        );
        assert_eq!(env.secret_vars().count(), 0);
    }

    #[test]
    fn secrets_are_read_only_when_an_arn_is_given() {
        let none = [("DATABASE_URL", "postgres://localhost/tft")];
        assert_eq!(secret_reads(&none).unwrap(), []);
        let empty = [("DATABASE_URL_SECRET_ARN", " ")];
        assert_eq!(secret_reads(&empty).unwrap(), []);

        let env = [
            ("NOTIFY_WEBHOOK_SECRET_ARN", "arn:webhook"),
            ("DATABASE_URL_SECRET_ARN", "arn:db"),
        ];
        let reads = secret_reads(&env).unwrap();
        let got: Vec<(&str, &str)> = reads
            .iter()
            .map(|r| (r.source.arn_var, r.arn.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("DATABASE_URL_SECRET_ARN", "arn:db"),
                ("NOTIFY_WEBHOOK_SECRET_ARN", "arn:webhook")
            ]
        );
    }

    #[test]
    fn a_value_and_its_arn_together_are_refused() {
        let env = [
            ("DATABASE_URL", "postgres://localhost/tft"),
            ("DATABASE_URL_SECRET_ARN", "arn:db"),
        ];
        let err = secret_reads(&env).unwrap_err().to_string();
        assert!(
            err.contains("DATABASE_URL ") && err.contains("DATABASE_URL_SECRET_ARN"),
            "{err}"
        );
        // An optional key counts too: which username would be meant is a guess.
        let env = [("REDDIT_USERNAME", "bot"), ("REDDIT_SECRET_ARN", "arn:r")];
        let err = secret_reads(&env).unwrap_err().to_string();
        assert!(err.contains("REDDIT_USERNAME"), "{err}");
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
