//! PostgreSQL access: a deadpool of tokio-postgres clients, TLS through rustls, and the
//! migrations.
//!
//! # Poolers
//! Neon's `-pooler` URL is PgBouncer in transaction mode: consecutive statements of one
//! client may run on different server connections, so a named prepared statement must
//! not outlive its transaction. Every query here therefore goes through
//! [`tokio_postgres::Client::query_typed`] (the unnamed statement: Parse, Bind and
//! Execute in one round trip) or the simple protocol, never `prepare`/`query(&str)`,
//! and the pool does not cache statements. `tests/it/pgbouncer.rs` proves it against a
//! real PgBouncer in transaction mode.
//!
//! # TLS
//! Verified TLS unless plaintext is asked for twice. No `sslmode`, `require`, `verify-ca`
//! and `verify-full` all mean TLS with the server certificate verified (chain and host
//! name) against the webpki root store (Mozilla's roots, compiled in, so no system store
//! is needed on Lambda) plus `DATABASE_CA_CERT` (a PEM file, for RDS or a self-hosted
//! server). `prefer` and `allow` are refused: they fall back to plaintext whenever the
//! server, or whoever sits between, says "no TLS". `disable` is refused too unless
//! `DATABASE_ALLOW_PLAINTEXT=1` (a local cluster).
//!
//! # Timeouts
//! A hung database must fail the run, not hang the Lambda until it is killed. The pool
//! waits at most `DATABASE_POOL_WAIT_TIMEOUT_SECS` for a free connection and
//! `DATABASE_CONNECT_TIMEOUT_SECS` to open one (TCP, TLS and start-up). Statements are
//! bounded per transaction by [`begin`], which runs `SET LOCAL statement_timeout`: a
//! session `SET` or a start-up `options` does not survive PgBouncer in transaction mode,
//! a `SET LOCAL` does (it lives exactly as long as the transaction, on one server
//! connection). `tests/it/db_timeouts.rs` proves each against the real services.

use std::ops::Deref;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Timeouts};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::DatabaseConfig;

/// A database failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error(
        "sslmode=disable sends the password and the data in plaintext; \
         set DATABASE_ALLOW_PLAINTEXT=1 to allow it (local development only)"
    )]
    PlaintextRefused,
    #[error("{context}: timed out after {after:?}")]
    Timeout {
        context: &'static str,
        after: Duration,
    },
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    #[error("could not get a database connection: {0}")]
    Checkout(#[from] deadpool_postgres::PoolError),
    #[error("{context}: {source}")]
    Query {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{context}: cannot encode a value: {reason}")]
    Encode {
        context: &'static str,
        reason: String,
    },
    #[error("cannot use the CA certificate file {path}: {reason}")]
    CaCertificate { path: String, reason: String },
}

/// Attaches what was being done to a driver error.
pub trait QueryContext<T> {
    fn context(self, context: &'static str) -> Result<T, DbError>;
}

impl<T> QueryContext<T> for Result<T, tokio_postgres::Error> {
    fn context(self, context: &'static str) -> Result<T, DbError> {
        self.map_err(|source| DbError::Query { context, source })
    }
}

fn tls_connector(extra_ca: Option<&Path>) -> Result<MakeRustlsConnect, DbError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let fail = |reason: String| DbError::CaCertificate {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no certificate in the file".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The last `sslmode` the URL gives (libpq takes the last one), or `None`. Looks only
/// at the query of a `postgres://` URL, or at the `key=value` words of a libpq
/// key-value string, so a password cannot fake one.
fn sslmode_in(raw: &str) -> Option<&str> {
    let params: Box<dyn Iterator<Item = &str>> =
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Box::new(raw.split_once('?').map(|(_, q)| q).unwrap_or("").split('&'))
        } else {
            Box::new(raw.split_whitespace())
        };
    params
        .filter_map(|p| p.strip_prefix("sslmode="))
        .map(|v| v.trim_matches('\''))
        .last()
}

/// What the URL's `sslmode` means here: verified TLS unless plaintext is asked for
/// twice (`disable` and `allow_plaintext`); never "TLS if the server feels like it".
fn ssl_mode(sslmode: Option<&str>, allow_plaintext: bool) -> Result<SslMode, DbError> {
    match sslmode {
        None | Some("require" | "verify-ca" | "verify-full") => Ok(SslMode::Require),
        Some("disable") if allow_plaintext => Ok(SslMode::Disable),
        Some("disable") => Err(DbError::PlaintextRefused),
        Some(mode @ ("prefer" | "allow")) => Err(DbError::InvalidUrl(format!(
            "sslmode={mode} falls back to plaintext when the server (or a man in the \
             middle) refuses TLS; use sslmode=verify-full (or leave it out), or \
             sslmode=disable with DATABASE_ALLOW_PLAINTEXT=1"
        ))),
        Some(other) => Err(DbError::InvalidUrl(format!(
            "unknown sslmode {other:?}; use verify-full, verify-ca, require or disable"
        ))),
    }
}

/// Parses a libpq URL and fixes its TLS mode (see the module's "TLS"). `verify-full` and
/// `verify-ca` (which tokio-postgres does not know) become `require`: rustls always
/// verifies the certificate and the host name.
pub fn parse_url(
    url: &SecretString,
    allow_plaintext: bool,
) -> Result<tokio_postgres::Config, DbError> {
    let raw = url.expose_secret();
    let mode = ssl_mode(sslmode_in(raw), allow_plaintext)?;
    let raw = raw
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    // The driver's error text never contains the password, but it may quote the URL
    // part it choked on; keep only the message kind.
    let mut config =
        tokio_postgres::Config::from_str(&raw).map_err(|e| DbError::InvalidUrl(e.to_string()))?;
    config.ssl_mode(mode);
    Ok(config)
}

/// The driver's config for `config`: the URL as [`parse_url`] reads it, with the
/// connect timeout (the TCP connect of each address tried).
fn pg_config(config: &DatabaseConfig) -> Result<tokio_postgres::Config, DbError> {
    let mut pg = parse_url(&config.url, config.allow_plaintext)?;
    pg.connect_timeout(config.connect_timeout);
    Ok(pg)
}

/// The connection pool, with the statement timeout its transactions get from [`begin`].
/// Derefs to the deadpool pool (`pool.get()`).
#[derive(Clone)]
pub struct Pool {
    inner: deadpool_postgres::Pool,
    statement_timeout: Duration,
}

impl Deref for Pool {
    type Target = deadpool_postgres::Pool;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.inner.status())
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl Pool {
    /// The bound [`begin`] puts on every statement of a transaction (`DATABASE_STATEMENT_TIMEOUT_SECS`).
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }
}

/// Builds the pool. Connections open lazily; call [`ping`] at init to pay the TLS
/// handshake before the first invocation rather than during it. A checkout waits at
/// most `pool_wait_timeout` for a free slot and `connect_timeout` for a new connection
/// (the whole of TCP, TLS and start-up: the driver's own connect timeout covers TCP only).
pub fn connect_pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let manager = Manager::from_config(
        pg_config(config)?,
        tls_connector(config.ca_cert_file.as_deref())?,
        // Verified: a pooled connection answers an empty query before it is handed out.
        // Fast only asks the client whether it noticed the close, and right after the
        // server dropped it (a restart, a failover, a killed backend) it often has not:
        // the fault-injection tests got the dead connection back, and a mark after a
        // send failed. One round trip per checkout is the price.
        ManagerConfig {
            recycling_method: RecyclingMethod::Verified,
        },
    );
    let inner = deadpool_postgres::Pool::builder(manager)
        .max_size(config.max_connections)
        .timeouts(Timeouts {
            wait: Some(config.pool_wait_timeout),
            create: Some(config.connect_timeout),
            recycle: Some(config.connect_timeout),
        })
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))?;
    Ok(Pool {
        inner,
        statement_timeout: config.statement_timeout,
    })
}

/// Opens a transaction whose statements PostgreSQL cancels after `statement_timeout`
/// (`SET LOCAL` right after `BEGIN`, which survives PgBouncer in transaction mode where
/// a session setting does not). Every transaction the jobs open goes through here.
#[tracing::instrument(level = "debug", skip(client))]
pub async fn begin(
    client: &mut deadpool_postgres::Client,
    statement_timeout: Duration,
) -> Result<deadpool_postgres::Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // Our own integer, not user input: nothing to quote.
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        statement_timeout.as_millis().max(1)
    ))
    .await?;
    Ok(tx)
}

/// Opens (or reuses) a connection and runs a trivial query, bounded by the statement
/// timeout on the client side (outside a transaction there is no server-side one
/// behind a pooler). A connection that did not answer is dropped, not pooled again.
#[tracing::instrument(skip(pool))]
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    let after = pool.statement_timeout();
    match tokio::time::timeout(after, client.simple_query("SELECT 1")).await {
        Ok(answer) => answer.context("ping the database").map(drop),
        Err(_) => {
            drop(deadpool_postgres::Object::take(client));
            Err(DbError::Timeout {
                context: "ping the database",
                after,
            })
        }
    }
}

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// An error with its causes (`a: b: c`), each cause once: the driver's own message says
/// only "db error" and keeps the server's message (which migration broke, and how) in
/// its source.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The newest migration this code carries (`V14__query_api`): what a database migrated by
/// it ends at.
pub fn latest_migration() -> Option<String> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .max_by_key(|m| m.version())
        .map(|m| m.to_string())
}

/// Applies the SQL files in `migrations/` that this database has not seen yet, each in
/// its own transaction, and returns the names applied. Use the direct (not pooled) URL.
/// The connection is bounded by the connect timeout; the migrations themselves are not
/// (a long DDL on a large table is legitimate; `tft migrate` runs by hand).
#[tracing::instrument(skip(config))]
pub async fn migrate(config: &DatabaseConfig) -> Result<Vec<String>, DbError> {
    let pg_config = pg_config(config)?;
    let tls = tls_connector(config.ca_cert_file.as_deref())?;
    let after = config.connect_timeout;
    let (mut client, connection) = tokio::time::timeout(after, pg_config.connect(tls))
        .await
        .map_err(|_| DbError::Timeout {
            context: "connect for migrations",
            after,
        })?
        .context("connect for migrations")?;
    let driver = tokio::spawn(connection);
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .run_async(&mut client)
        .await
        .map_err(|e| DbError::Migration(error_text(&e)))?;
    drop(client);
    let _ = driver.await;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// A binary COPY into a temporary staging table, open: write rows with
/// `writer.as_mut().write(..)`, then [`upsert_from_staging`].
pub type StagingWriter = std::pin::Pin<Box<tokio_postgres::binary_copy::BinaryCopyInWriter>>;

/// Creates the staging table (`staging_sql`: a `CREATE TEMP TABLE ... ON COMMIT DROP`)
/// and opens a binary COPY of `columns` (of `types`) into `staging`. COPY prepares a named
/// statement, which PgBouncer in transaction mode may hand to another client: bulk writes
/// go over the direct URL (`DatabaseConfig::bulk_from_env`).
pub async fn copy_into_staging(
    tx: &tokio_postgres::Transaction<'_>,
    staging_sql: &str,
    staging: &str,
    columns: &str,
    types: &[tokio_postgres::types::Type],
) -> Result<StagingWriter, DbError> {
    tx.batch_execute(staging_sql)
        .await
        .context("create the staging table")?;
    let sink = tx
        .copy_in(&format!(
            "COPY {staging} ({columns}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .context("COPY into the staging table")?;
    Ok(Box::pin(
        tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, types),
    ))
}

/// Ends the COPY and runs `upsert_sql`, the set-based upsert from the staging table, which
/// answers one row: (rows inserted, rows updated).
pub async fn upsert_from_staging(
    tx: &tokio_postgres::Transaction<'_>,
    mut writer: StagingWriter,
    upsert_sql: &str,
) -> Result<(u64, u64), DbError> {
    writer
        .as_mut()
        .finish()
        .await
        .context("COPY into the staging table")?;
    let counts = tx
        .query_typed(upsert_sql, &[])
        .await
        .context("upsert from the staging table")?;
    let count = |i: usize| counts.first().map_or(0, |r| r.get::<_, i64>(i) as u64);
    Ok((count(0), count(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str, allow_plaintext: bool) -> Result<SslMode, String> {
        parse_url(&SecretString::from(url), allow_plaintext)
            .map(|c| c.get_ssl_mode())
            .map_err(|e| e.to_string())
    }

    const BASE: &str = "postgres://trader:hunter2@db.example/tft";

    #[test]
    fn no_sslmode_means_verified_tls() {
        assert_eq!(mode(BASE, false), Ok(SslMode::Require));
        assert_eq!(
            mode(&format!("{BASE}?application_name=x"), true),
            Ok(SslMode::Require)
        );
        assert_eq!(
            mode("host=db.example user=trader", false),
            Ok(SslMode::Require)
        );
    }

    #[test]
    fn require_verify_ca_and_verify_full_mean_verified_tls() {
        for m in ["require", "verify-ca", "verify-full"] {
            assert_eq!(
                mode(&format!("{BASE}?sslmode={m}"), false),
                Ok(SslMode::Require),
                "{m}"
            );
            assert_eq!(
                mode(&format!("host=db.example sslmode={m}"), false),
                Ok(SslMode::Require)
            );
        }
    }

    #[test]
    fn prefer_and_allow_are_refused_without_the_password() {
        for m in ["prefer", "allow"] {
            for allow_plaintext in [false, true] {
                let err = mode(&format!("{BASE}?sslmode={m}"), allow_plaintext).unwrap_err();
                assert!(err.contains(&format!("sslmode={m}")), "{err}");
                assert!(!err.contains("hunter2"), "{err}");
            }
        }
    }

    #[test]
    fn disable_needs_the_plaintext_flag() {
        let url = format!("{BASE}?sslmode=disable");
        let err = mode(&url, false).unwrap_err();
        assert!(err.contains("DATABASE_ALLOW_PLAINTEXT=1"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(mode(&url, true), Ok(SslMode::Disable));
        assert_eq!(mode("host=h sslmode='disable'", true), Ok(SslMode::Disable));
    }

    #[test]
    fn the_last_sslmode_wins_as_in_libpq() {
        let url = format!("{BASE}?sslmode=disable&sslmode=verify-full");
        assert_eq!(mode(&url, false), Ok(SslMode::Require));
        let url = format!("{BASE}?sslmode=verify-full&sslmode=prefer");
        assert!(mode(&url, true).is_err());
    }

    #[test]
    fn an_sslmode_inside_the_password_is_not_read() {
        let url = "postgres://trader:x&sslmode=disable@db.example/tft";
        assert_eq!(sslmode_in(url), None);
    }

    #[test]
    fn an_unknown_sslmode_is_refused() {
        let err = mode(&format!("{BASE}?sslmode=verify_full"), true).unwrap_err();
        assert!(err.contains("unknown sslmode"), "{err}");
    }
}
