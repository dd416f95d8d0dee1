//! Lambda `api`: the query API and the dashboard behind API Gateway's HTTP API (payload
//! 2.0). Builds the pool and the router once per container; lambda_http turns each API
//! Gateway event into a request for the same router `tft serve` runs.

use std::sync::Arc;

use api::{ApiConfig, AppState};
use shared::jobs::init::FunctionContext;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    // The environment with its secrets read (the database URL by ARN): issue 13.
    let FunctionContext { pool, env, aws, .. } = FunctionContext::from_env().await?;
    let state = AppState {
        pool,
        config: Arc::new(ApiConfig::from_env(&env)?),
        models: api::model_store_with(&env, &aws).await,
    };
    lambda_http::run(api::router(state)).await
}
