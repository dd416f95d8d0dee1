//! `tft serve` (the query API and the dashboard over plain HTTP, the router the `api`
//! Lambda runs) and `tft api-keys create|list|revoke`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use secrecy::ExposeSecret;
use shared::adapters::{api_keys, db};
use shared::config::{Config, ProcessEnv};

/// Serves the router on `addr` until Ctrl-C.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let config = Config::from_process_env()?;
    let pool = db::connect_pool(&config.database)?;
    if let Err(e) = db::ping(&pool).await {
        tracing::warn!(error = %e, "database not reachable yet; /v1/health says so");
    }
    let state = api::AppState {
        pool,
        config: Arc::new(api::ApiConfig::from_env(&ProcessEnv)?),
        models: api::model_store_from_env(&ProcessEnv).await,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    eprintln!(
        "serving the API and the dashboard on http://{}/ (Ctrl-C stops)",
        listener.local_addr()?
    );
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Creates a key and prints it once (only its SHA-256 is stored).
    Create {
        #[arg(long)]
        name: String,
        /// May pause/resume entries and close positions.
        #[arg(long)]
        admin: bool,
        /// Last valid day (UTC, end of day), YYYY-MM-DD.
        #[arg(long)]
        expires: Option<NaiveDate>,
    },
    /// Every key (never the key itself): name, admin, created, expires, revoked, last use.
    List,
    /// Revokes the active key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

pub async fn api_keys(command: ApiKeysCommand) -> anyhow::Result<()> {
    let config = Config::from_process_env()?;
    let pool = db::connect_pool(&config.database)?;
    let client = pool.get().await.map_err(db::DbError::from)?;
    match command {
        ApiKeysCommand::Create {
            name,
            admin,
            expires,
        } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 100,
                "--name must be 1 to 100 characters"
            );
            let expires_at: Option<DateTime<Utc>> =
                expires.and_then(|d| d.and_hms_opt(23, 59, 59).map(|t| t.and_utc()));
            let (id, key) = api_keys::create(&**client, name, admin, expires_at)
                .await
                .with_context(|| {
                    format!("create the key {name:?} (is the name already in use?)")
                })?;
            eprintln!(
                "key {id} {name:?} ({}) created; it is shown once, store it now:",
                if admin { "admin" } else { "read" }
            );
            println!("{}", key.expose_secret());
        }
        ApiKeysCommand::List => {
            for k in api_keys::list(&**client).await? {
                println!("{}", serde_json::to_string(&k)?);
            }
        }
        ApiKeysCommand::Revoke { name } => {
            anyhow::ensure!(
                api_keys::revoke(&**client, &name).await?,
                "no active key named {name:?}"
            );
            eprintln!("key {name:?} revoked");
        }
    }
    Ok(())
}
