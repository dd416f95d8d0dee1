//! How one request is made: the bearer token (cached, refreshed), the rate-limit wait,
//! the retries, and the classification of Reddit's answers.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;

use super::auth::{error_reason, parse_token, usable_for, AccessToken, TokenError};
use super::client::RedditClient;
use super::error::RedditError;
use super::ratelimit::{self, Observed};
pub(super) use crate::adapters::http_retry::error_chain;
use crate::adapters::http_retry::{self, retry_after, with_retries, Backoff};

type Failure = http_retry::Failure<RedditError>;

impl RedditClient {
    // ---- requests ---------------------------------------------------------------------

    pub(super) fn rate_state(&self) -> Option<Observed> {
        *self
            .inner
            .rate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn api_url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.inner.api_base.clone();
        url.path_segments_mut()
            .expect("checked in new: api_url can be a base")
            .pop_if_empty()
            .extend(segments);
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
            // Bodies as written, not HTML-escaped (`&amp;`).
            pairs.append_pair("raw_json", "1");
        }
        url
    }

    /// GET an API path with retries; the body of a 2xx answer, and the path for errors.
    pub(super) async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        subreddit: &str,
    ) -> Result<(String, Bytes), RedditError> {
        let url = self.api_url(segments, query);
        let path = url.path().to_string();
        let settings = &self.inner.settings;
        let backoff = Backoff {
            max_retries: settings.max_retries,
            min: settings.min_backoff,
            max: settings.max_backoff,
        };
        let body = with_retries("Reddit", backoff, || self.attempt(&url, &path, subreddit)).await?;
        tracing::debug!(%path, bytes = body.len(), "Reddit answered");
        Ok((path, body))
    }
    /// One attempt: wait out an exhausted rate limit, get a token, send; on 401 get a
    /// new token and send once more.
    async fn attempt(&self, url: &Url, path: &str, subreddit: &str) -> Result<Bytes, Failure> {
        self.respect_rate_limit().await;
        let token = self.token().await?;
        let mut response = self.send_get(url, &token, path).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            tracing::info!(
                generation = token.generation,
                "Reddit answered 401: refreshing the access token once"
            );
            self.invalidate(token.generation).await;
            let token = self.token().await?;
            response = self.send_get(url, &token, path).await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                let body = response.bytes().await.unwrap_or_default();
                return Err(RedditError::Auth {
                    status: 401,
                    reason: format!(
                        "{path} rejected a freshly issued token ({})",
                        describe(StatusCode::UNAUTHORIZED, &body)
                    ),
                }
                .into());
            }
        }
        let status = response.status();
        if let Some(failure) = transient(status, response.headers(), path) {
            return Err(failure);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_failure(path, &e))?;
        if status.is_success() {
            return Ok(body);
        }
        let error = if status.is_redirection() {
            RedditError::NotFound {
                subreddit: subreddit.to_string(),
                path: path.to_string(),
                reason: format!(
                    "HTTP {} redirect to {} (Reddit redirects unknown subreddits to its search)",
                    status.as_u16(),
                    location.as_deref().unwrap_or("nowhere")
                ),
            }
        } else if status == StatusCode::FORBIDDEN {
            RedditError::Forbidden {
                subreddit: subreddit.to_string(),
                reason: describe(status, &body),
            }
        } else if status == StatusCode::NOT_FOUND {
            RedditError::NotFound {
                subreddit: subreddit.to_string(),
                path: path.to_string(),
                reason: describe(status, &body),
            }
        } else {
            RedditError::Api {
                path: path.to_string(),
                status: status.as_u16(),
                message: describe(status, &body),
            }
        };
        Err(error.into())
    }

    async fn send_get(
        &self,
        url: &Url,
        token: &AccessToken,
        path: &str,
    ) -> Result<reqwest::Response, Failure> {
        let response = self
            .inner
            .http
            .get(url.clone())
            .header(AUTHORIZATION, token.header.clone())
            .send()
            .await
            .map_err(|e| transport_failure(path, &e))?;
        self.record_rate_limit(response.headers());
        Ok(response)
    }

    fn record_rate_limit(&self, headers: &HeaderMap) {
        if let Some(limit) = ratelimit::from_headers(headers) {
            *self
                .inner
                .rate
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Observed {
                limit,
                at: Instant::now(),
            });
        }
    }

    async fn respect_rate_limit(&self) {
        let settings = &self.inner.settings;
        let last = self.rate_state();
        if let Some(wait) = ratelimit::wait_before_next(
            last,
            Instant::now(),
            settings.rate_limit_floor,
            settings.max_rate_limit_wait,
        ) {
            let limit = last.map(|o| o.limit);
            tracing::warn!(
                wait_ms = wait.as_millis() as u64,
                remaining = limit.map(|l| l.remaining),
                used = limit.map(|l| l.used),
                "Reddit rate limit exhausted: waiting for the window to reset"
            );
            tokio::time::sleep(wait).await;
        }
    }

    // ---- token ------------------------------------------------------------------------

    /// The cached token, or a new one when there is none or it is about to expire.
    async fn token(&self) -> Result<AccessToken, Failure> {
        let mut slot = self.inner.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| t.is_fresh(Instant::now())) {
            return Ok(token.clone());
        }
        let token = self.fetch_token().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Forgets the token of `generation` (a newer one stays).
    async fn invalidate(&self, generation: u64) {
        let mut slot = self.inner.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.generation == generation) {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, Failure> {
        let inner = &self.inner;
        let path = inner.token_url.path().to_string();
        let credentials = &inner.credentials;
        let response = inner
            .http
            .post(inner.token_url.clone())
            .basic_auth(
                &credentials.client_id,
                Some(credentials.client_secret.expose_secret()),
            )
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(credentials.token_form())
            .send()
            .await
            .map_err(|e| transport_failure(&path, &e))?;
        let status = response.status();
        if let Some(failure) = transient(status, response.headers(), &path) {
            return Err(failure);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_failure(&path, &e))?;
        if matches!(status.as_u16(), 400 | 401 | 403) {
            return Err(RedditError::Auth {
                status: status.as_u16(),
                reason: format!(
                    "{} grant refused: {} (check the client id and secret, and that the app is a \
                     \"script\" app approved for API access)",
                    credentials.grant_type(),
                    describe(status, &body)
                ),
            }
            .into());
        }
        if !status.is_success() {
            return Err(RedditError::Api {
                path,
                status: status.as_u16(),
                message: describe(status, &body),
            }
            .into());
        }
        let granted = parse_token(&body).map_err(|e| match e {
            TokenError::Refused(reason) => RedditError::Auth {
                status: status.as_u16(),
                reason: format!("{} grant refused: {reason}", credentials.grant_type()),
            },
            TokenError::Malformed(reason) => RedditError::Malformed {
                path: path.clone(),
                reason,
            },
        })?;
        let mut header =
            HeaderValue::from_str(&format!("bearer {}", granted.token)).map_err(|_| {
                RedditError::Malformed {
                    path: path.clone(),
                    reason: "access_token is not a valid header value".to_string(),
                }
            })?;
        header.set_sensitive(true);
        let generation = inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(
            grant = credentials.grant_type(),
            expires_in_s = granted.expires_in.as_secs(),
            scope = %granted.scope,
            generation,
            "Reddit access token obtained"
        );
        Ok(AccessToken {
            header,
            use_until: Instant::now() + usable_for(granted.expires_in),
            generation,
        })
    }
}

/// 429 and 5xx: retryable, with the `Retry-After` they carry.
fn transient(status: StatusCode, headers: &HeaderMap, path: &str) -> Option<Failure> {
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        RedditError::RateLimited {
            path: path.to_string(),
            attempts: 0,
        }
    } else if status.is_server_error() {
        RedditError::Server {
            path: path.to_string(),
            status: status.as_u16(),
            attempts: 0,
        }
    } else {
        return None;
    };
    Some(Failure {
        error,
        retry_after: retry_after(headers),
    })
}

fn transport_failure(path: &str, e: &reqwest::Error) -> Failure {
    let path = path.to_string();
    let error = if e.is_timeout() {
        RedditError::Timeout { path, attempts: 0 }
    } else {
        RedditError::Transport {
            path,
            message: error_chain(e),
            attempts: 0,
        }
    };
    error.into()
}

/// The reason in a Reddit error body, else the start of the body, else the status.
fn describe(status: StatusCode, body: &[u8]) -> String {
    error_reason(body)
        .or_else(|| Some(snippet(body)).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("HTTP error")
                .to_string()
        })
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::reddit::auth::RedditCredentials;
    use crate::adapters::reddit::client::RedditSettings;
    use crate::adapters::reddit::listing::{Sort, TopWindow};
    use secrecy::SecretString;

    fn client(api: &str) -> RedditClient {
        RedditClient::new(
            RedditSettings {
                api_url: api.to_string(),
                ..RedditSettings::default()
            },
            RedditCredentials::client_credentials("id", SecretString::from("secret")),
        )
        .unwrap()
    }

    #[test]
    fn urls_keep_a_path_prefix_and_add_raw_json() {
        let c = client("https://oauth.reddit.com");
        let q = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
        };
        assert_eq!(
            c.api_url(
                &["r", "wallstreetbets", "new"],
                &q(&[("limit", "100"), ("after", "t3_abc")])
            )
            .as_str(),
            "https://oauth.reddit.com/r/wallstreetbets/new?limit=100&after=t3_abc&raw_json=1"
        );
        let c = client("http://127.0.0.1:9/proxy/");
        assert_eq!(
            c.api_url(&["r", "a b", "top"], &q(&[("t", "all")]))
                .as_str(),
            "http://127.0.0.1:9/proxy/r/a%20b/top?t=all&raw_json=1"
        );
        assert_eq!(
            c.inner.token_url.as_str(),
            "https://www.reddit.com/api/v1/access_token"
        );
        assert_eq!(Sort::Top(TopWindow::Day).time_window(), Some("day"));
    }

    #[test]
    fn error_bodies_are_described() {
        let forbidden = StatusCode::FORBIDDEN;
        assert_eq!(
            describe(forbidden, br#"{"message": "Forbidden", "error": 403}"#),
            "Forbidden"
        );
        assert_eq!(
            describe(forbidden, br#"{"reason": "quarantined", "error": 403}"#),
            "quarantined"
        );
        assert_eq!(
            describe(forbidden, b"  <html>nope</html> "),
            "<html>nope</html>"
        );
        assert_eq!(describe(forbidden, b""), "Forbidden");
        assert_eq!(snippet("x".repeat(500).as_bytes()).len(), 163);
    }
}
