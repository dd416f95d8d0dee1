//! The query API and the dashboard (docs/api.md): one axum router, served by the `api`
//! Lambda behind API Gateway's HTTP API (lambda_http) and by `tft serve` over plain HTTP,
//! with the same database. The OpenAPI 3.1 document is generated from the handlers
//! (utoipa) and served at `/v1/openapi.json`: the single source of the contract.

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod models;
pub mod routes;

use std::sync::Arc;

use axum::routing::get;
use axum::Json;
use shared::adapters::db::Pool;
use shared::config::{parse, ConfigError, EnvSource};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The API's settings, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Requests per key per minute (`TFT_API_RATE_PER_MINUTE`, default 600).
    pub rate_per_minute: i32,
    /// The benchmark shown beside the equity curve (`TFT_BENCHMARK`, default SPY).
    pub benchmark: String,
    /// The drawdown limit of the breaker, shown against the drawdown.
    pub drawdown_limit: f64,
    /// The risk manager's position slots.
    pub max_positions: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let risk = shared::core::risk::RiskConfig::default();
        Self {
            rate_per_minute: 600,
            benchmark: "SPY".into(),
            drawdown_limit: risk.max_drawdown,
            max_positions: risk.max_positions,
        }
    }
}

impl ApiConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let d = Self::default();
        let rate: i64 = parse(env, "TFT_API_RATE_PER_MINUTE", i64::from(d.rate_per_minute))?;
        if !(1..=100_000).contains(&rate) {
            return Err(ConfigError::Invalid {
                name: "TFT_API_RATE_PER_MINUTE",
                reason: format!("{rate} is not between 1 and 100000"),
            });
        }
        Ok(Self {
            rate_per_minute: rate as i32,
            benchmark: env.get("TFT_BENCHMARK").unwrap_or(d.benchmark),
            ..d
        })
    }
}

/// What every handler reads: the pool (built once per container) and the settings.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<ApiConfig>,
    /// The model store `GET /v1/models` reads; `None` when the deployment names none
    /// (that route then answers 503 saying so).
    pub models: Option<ensemble::store::ModelStore>,
}

/// The model store named by the environment (`TFT_MODEL_DIR`, else `TFT_MODEL_BUCKET`
/// and `TFT_MODEL_PREFIX`, as predict reads it), or `None` with a warning when it names
/// none: the rest of the API works without it.
pub async fn model_store_from_env(env: &dyn EnvSource) -> Option<ensemble::store::ModelStore> {
    model_store_with(env, &shared::adapters::aws::AwsSdk::new()).await
}

/// [`model_store_from_env`] over the function's shared SDK configuration (loaded only for
/// a bucket).
pub async fn model_store_with(
    env: &dyn EnvSource,
    aws: &shared::adapters::aws::AwsSdk,
) -> Option<ensemble::store::ModelStore> {
    use ensemble::location::ModelLocation;
    match ModelLocation::from_env(env) {
        Ok(ModelLocation::Local(root)) => Some(ensemble::store::ModelStore::Local(root)),
        Ok(location) => Some(location.store_with(aws.config().await)),
        Err(e) => {
            tracing::warn!(error = %e, "GET /v1/models answers 503");
            None
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TFT Trader API",
        description = "Signals, positions, portfolio, sentiment and the model of TFT Trader. \
Every route but /v1/health and /v1/openapi.json needs an API key (Authorization: Bearer).",
        version = "1.0.0"
    ),
    modifiers(&SecurityAddon),
    components(schemas(error::Problem))
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// The routes and the OpenAPI document, before any state. Building them is CPU work (utoipa
/// builds every path and schema: about 1.2 ms on the benchmark machine, half of a
/// hello-world Lambda's whole cold start), so the Lambda builds them on a blocking thread
/// while its secret reads wait on the network (functions/api).
pub struct Routes {
    router: axum::Router<AppState>,
    document: utoipa::openapi::OpenApi,
}

impl Routes {
    pub fn build() -> Self {
        let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(routes::routes())
            .split_for_parts();
        document.openapi = utoipa::openapi::OpenApiVersion::Version31;
        Self { router, document }
    }

    /// The router serving `state`, and its OpenAPI document (the API tests check one
    /// against the other; the router serves its own copy).
    pub fn with_state(self, state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
        let document = self.document.clone();
        (self.serve(state), document)
    }

    /// The router serving `state`, the document moved into its `/v1/openapi.json` route.
    pub fn serve(self, state: AppState) -> axum::Router {
        let served = Arc::new(self.document);
        self.router
            .route(
                "/v1/openapi.json",
                get(move || {
                    let document = served.clone();
                    async move { Json((*document).clone()) }
                }),
            )
            .merge(dashboard::routes())
            .fallback(routes::not_found)
            .with_state(state)
    }
}

/// The router and its OpenAPI document.
pub fn router_and_openapi(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    Routes::build().with_state(state)
}

/// The router (`tft serve`, the Lambda).
pub fn router(state: AppState) -> axum::Router {
    Routes::build().serve(state)
}
