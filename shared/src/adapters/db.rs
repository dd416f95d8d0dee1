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
//! `sslmode=require` (or `verify-full`) in the URL gives TLS with the server
//! certificate verified against the webpki root store (Mozilla's roots, compiled in,
//! so no system store is needed on Lambda). `sslmode=disable` gives plain TCP
//! (a local test cluster); the default, `prefer`, tries TLS first. A private CA (RDS,
//! a self-hosted server) is trusted in addition through `DATABASE_CA_CERT` (a PEM file).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::DatabaseConfig;

/// A database failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
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

/// Parses a libpq URL. Accepts `sslmode=verify-full`/`verify-ca` (which tokio-postgres
/// does not know) as `require`: rustls always verifies the certificate and host name.
pub fn parse_url(url: &SecretString) -> Result<tokio_postgres::Config, DbError> {
    let raw = url
        .expose_secret()
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    // The driver's error text never contains the password, but it may quote the URL
    // part it choked on; keep only the message kind.
    tokio_postgres::Config::from_str(&raw).map_err(|e| DbError::InvalidUrl(e.to_string()))
}

/// Builds the pool. Connections open lazily; call [`ping`] at init to pay the TLS
/// handshake before the first invocation rather than during it.
pub fn connect_pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let pg_config = parse_url(&config.url)?;
    let manager = Manager::from_config(
        pg_config,
        tls_connector(config.ca_cert_file.as_deref())?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.max_connections)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Opens (or reuses) a connection and runs a trivial query.
#[tracing::instrument(skip(pool))]
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .simple_query("SELECT 1")
        .await
        .context("ping the database")?;
    Ok(())
}

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Applies the SQL files in `migrations/` that this database has not seen yet, each in
/// its own transaction, and returns the names applied. Use the direct (not pooled) URL.
#[tracing::instrument(skip(config))]
pub async fn migrate(config: &DatabaseConfig) -> Result<Vec<String>, DbError> {
    let pg_config = parse_url(&config.url)?;
    let (mut client, connection) = pg_config
        .connect(tls_connector(config.ca_cert_file.as_deref())?)
        .await
        .context("connect for migrations")?;
    let driver = tokio::spawn(connection);
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .run_async(&mut client)
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?;
    drop(client);
    let _ = driver.await;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}
