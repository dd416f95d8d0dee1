//! Lambda `api`: the query API and the dashboard behind API Gateway's HTTP API (payload
//! 2.0). Builds the pool and the router once per container; lambda_http turns each API
//! Gateway event into a request for the same router `tft serve` runs. The routes and their
//! OpenAPI document (CPU work) are built on a blocking thread while the secret reads and the
//! database connection wait on the network.

use std::sync::Arc;

use api::{ApiConfig, AppState};
use shared::jobs::init::FunctionContext;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let routes = tokio::task::spawn_blocking(api::Routes::build);
    // The environment with its secrets read (the database URL by ARN): issue 13.
    let FunctionContext { pool, env, aws, .. } = FunctionContext::from_env().await?;
    let state = AppState {
        pool,
        config: Arc::new(ApiConfig::from_env(&env)?),
        models: api::model_store_with(&env, &aws).await,
    };
    lambda_http::run(routes.await?.serve(state)).await
}
