//! What can go wrong when talking to Reddit.

use crate::adapters::http_retry::RetryableError;

/// A failed Reddit call.
///
/// `path` is the API path asked for (`/r/wallstreetbets/new`,
/// `/api/v1/access_token`), without the host or the query. `attempts` counts the
/// attempts of the retry loop, the first one included, so a retryable failure that
/// exhausted `max_retries` reports `max_retries + 1` (the resend after a token refresh
/// belongs to its attempt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedditError {
    /// The settings cannot make a client (bad URL, TLS initialisation failed).
    #[error("invalid Reddit client settings: {reason}")]
    Config { reason: String },

    /// The caller asked for something that cannot be requested (empty or odd
    /// subreddit name, post id). No request was sent.
    #[error("invalid Reddit request: {reason}")]
    InvalidRequest { reason: String },

    /// Reddit refused the credentials: the token endpoint answered 400/401/403 or an
    /// `{"error": "invalid_grant"}` body (wrong password, app not approved, wrong app
    /// type), or the API still answered 401 to a freshly issued token. Not retryable:
    /// fix the credentials.
    #[error("Reddit authentication failed (HTTP {status}): {reason}")]
    Auth { status: u16, reason: String },

    /// HTTP 403 on a subreddit: it is private, quarantined or banned, or the
    /// credentials may not read it. Not retryable.
    #[error(
        "Reddit refused access to r/{subreddit} (HTTP 403, {reason}): the subreddit is \
         private, quarantined or banned, or these credentials may not read it"
    )]
    Forbidden { subreddit: String, reason: String },

    /// HTTP 404, or a redirect (Reddit sends unknown subreddits to its search page).
    /// Not retryable.
    #[error("Reddit has nothing at {path} (r/{subreddit}): {reason}")]
    NotFound {
        subreddit: String,
        path: String,
        reason: String,
    },

    /// Any other 4xx. `message` is the start of the body. Not retryable.
    #[error("Reddit refused {path} (HTTP {status}): {message}")]
    Api {
        path: String,
        status: u16,
        message: String,
    },

    /// HTTP 429 on every attempt.
    #[error("Reddit rate-limited {path} (HTTP 429) on all {attempts} attempt(s)")]
    RateLimited { path: String, attempts: usize },

    /// HTTP 5xx on the last attempt (earlier ones failed with retryable errors too).
    #[error("Reddit server error (HTTP {status}) on {path} after {attempts} attempt(s)")]
    Server {
        path: String,
        status: u16,
        attempts: usize,
    },

    /// The last attempt exceeded `request_timeout` (connect, headers or body).
    #[error("Reddit request {path} timed out after {attempts} attempt(s)")]
    Timeout { path: String, attempts: usize },

    /// A success status with a body that is not the JSON we know (HTML error page,
    /// truncated JSON, a listing without `data.children`). Not retryable: Reddit would
    /// answer the same.
    #[error("malformed Reddit response for {path}: {reason}")]
    Malformed { path: String, reason: String },

    /// Connection refused/reset, DNS, TLS... on the last attempt. `message` is the
    /// error chain of the underlying client.
    #[error("transport error talking to Reddit ({path}) after {attempts} attempt(s): {message}")]
    Transport {
        path: String,
        message: String,
        attempts: usize,
    },
}

impl RedditError {
    /// Whether another attempt might succeed: rate limiting, 5xx, timeouts and transport
    /// errors. The client already retried these `max_retries` times before returning
    /// one, so a caller only uses this to decide whether to try again on a later run.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Transport { .. }
        )
    }

    /// Number of requests made, for the variants that come out of the retry loop.
    pub fn attempts(&self) -> Option<usize> {
        match self {
            Self::RateLimited { attempts, .. }
            | Self::Server { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Transport { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    pub(super) fn set_attempts(&mut self, n: usize) {
        match self {
            Self::RateLimited { attempts, .. }
            | Self::Server { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Transport { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

impl RetryableError for RedditError {
    fn is_retryable(&self) -> bool {
        RedditError::is_retryable(self)
    }

    fn set_attempts(&mut self, attempts: usize) {
        RedditError::set_attempts(self, attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> String {
        "/r/wallstreetbets/new".to_string()
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let s = String::new;
        let retryable = [
            RedditError::RateLimited {
                path: p(),
                attempts: 1,
            },
            RedditError::Server {
                path: p(),
                status: 502,
                attempts: 1,
            },
            RedditError::Timeout {
                path: p(),
                attempts: 1,
            },
            RedditError::Transport {
                path: p(),
                message: s(),
                attempts: 1,
            },
        ];
        for e in retryable {
            assert!(e.is_retryable(), "{e:?}");
        }
        let final_ = [
            RedditError::Config { reason: s() },
            RedditError::InvalidRequest { reason: s() },
            RedditError::Auth {
                status: 401,
                reason: s(),
            },
            RedditError::Forbidden {
                subreddit: "x".into(),
                reason: s(),
            },
            RedditError::NotFound {
                subreddit: "x".into(),
                path: p(),
                reason: s(),
            },
            RedditError::Api {
                path: p(),
                status: 400,
                message: s(),
            },
            RedditError::Malformed {
                path: p(),
                reason: s(),
            },
        ];
        for e in final_ {
            assert!(!e.is_retryable(), "{e:?}");
        }
    }

    #[test]
    fn forbidden_names_the_subreddit() {
        let e = RedditError::Forbidden {
            subreddit: "ferguson".into(),
            reason: "Forbidden".into(),
        };
        assert!(
            e.to_string()
                .starts_with("Reddit refused access to r/ferguson (HTTP 403, Forbidden)"),
            "{e}"
        );
    }

    #[test]
    fn attempts_are_filled_in_after_the_retry_loop() {
        let mut e = RedditError::Server {
            path: p(),
            status: 500,
            attempts: 0,
        };
        e.set_attempts(5);
        assert_eq!(e.attempts(), Some(5));
        assert_eq!(
            e.to_string(),
            "Reddit server error (HTTP 500) on /r/wallstreetbets/new after 5 attempt(s)"
        );
        let mut e = RedditError::Malformed {
            path: p(),
            reason: "r".into(),
        };
        e.set_attempts(5);
        assert_eq!(e.attempts(), None);
    }
}
