//! API keys on every route but the open ones (`/v1/health`, `/v1/openapi.json`, the
//! page and its assets): `Authorization: Bearer <key>` or `x-api-key: <key>`. 401 without
//! a key or with a wrong, revoked or expired one; 403 for an admin route with a read key;
//! 429 past the per-key rate. Keys are never logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use shared::adapters::api_keys::{self, KeyRejection};

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller (any valid key).
#[derive(Debug, Clone)]
pub struct Caller(pub api_keys::Caller);

/// The authenticated caller of an admin route (an admin key).
#[derive(Debug, Clone)]
pub struct Admin(pub api_keys::Caller);

fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(token) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(token.trim().to_string());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized(
                "an API key is required: Authorization: Bearer <key> (or x-api-key)".into(),
            )
        })?;
        let client = state
            .pool
            .get()
            .await
            .map_err(|e| ApiError::from(shared::adapters::db::DbError::from(e)))?;
        let caller = match api_keys::authenticate(&**client, &key).await? {
            Ok(caller) => caller,
            Err(why) => {
                tracing::info!(reason = ?why, "API key refused");
                return Err(ApiError::Unauthorized(match why {
                    KeyRejection::Unknown => "the API key is not valid".into(),
                    KeyRejection::Revoked => "the API key was revoked".into(),
                    KeyRejection::Expired => "the API key has expired".into(),
                }));
            }
        };
        if caller.requests_this_minute > state.config.rate_per_minute {
            return Err(ApiError::RateLimited {
                limit: state.config.rate_per_minute,
            });
        }
        Ok(Caller(caller))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        if !caller.admin {
            return Err(ApiError::Forbidden(format!(
                "the key {:?} is a read key; this route needs an admin key",
                caller.name
            )));
        }
        Ok(Admin(caller))
    }
}
