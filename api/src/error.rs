//! Errors as `application/problem+json` (RFC 9457) with a stable `code`: 400 for every bad
//! parameter with the reason, 401/403/404/409/429/503 where they apply, never a 500 for
//! bad input.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The problem document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// `https://tft-trader.dev/problems/<code>` (a stable identifier, not fetched).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, for programs: `bad_parameter`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `rate_limited`, `unavailable`, `internal`.
    pub code: String,
}

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadParameter(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("more than {limit} requests in a minute with this key")]
    RateLimited { limit: i32 },
    #[error("the database is not reachable: {0}")]
    Unavailable(String),
    /// The model store is not configured or not readable; the text is shown as is.
    #[error("{0}")]
    ModelStoreUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadParameter(_) => {
                (StatusCode::BAD_REQUEST, "bad_parameter", "Bad parameter")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            ApiError::Unavailable(_) | ApiError::ModelStoreUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let detail = match self {
            // The cause is logged, not shown.
            ApiError::Internal(_) => "the request failed on the server; it is logged".to_string(),
            ApiError::Unavailable(_) => "the database is not reachable; retry shortly".to_string(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("https://tft-trader.dev/problems/{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
        }
    }
}

/// A database error: unreachable (checkout, timeout, a closed connection) is 503,
/// anything else 500.
impl From<shared::adapters::db::DbError> for ApiError {
    fn from(e: shared::adapters::db::DbError) -> Self {
        use shared::adapters::db::DbError;
        match &e {
            DbError::Checkout(_) | DbError::Timeout { .. } => ApiError::Unavailable(e.to_string()),
            DbError::Query { source, .. } if source.is_closed() => {
                ApiError::Unavailable(e.to_string())
            }
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.parts();
        match &self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                tracing::error!(%cause, status = status.as_u16(), "request failed")
            }
            other => tracing::info!(error = %other, status = status.as_u16(), "request refused"),
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}
