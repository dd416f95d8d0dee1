//! What can go wrong when asking Yahoo for a chart.

use crate::adapters::http_retry::RetryableError;

/// A failed [`fetch_daily`](super::YahooClient::fetch_daily).
///
/// `attempts` counts every HTTP request made for the call, the first one included, so a
/// retryable failure that exhausted `max_retries` reports `max_retries + 1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YahooError {
    /// The settings cannot make a client (bad base URL, TLS initialisation failed).
    #[error("invalid Yahoo client settings: {reason}")]
    Config { reason: String },

    /// The caller asked for something that cannot be requested (`from > to`, empty
    /// ticker). No request was sent.
    #[error("invalid Yahoo request for {ticker:?}: {reason}")]
    InvalidRequest { ticker: String, reason: String },

    /// Yahoo does not know the symbol or has no data for it: HTTP 404, or a
    /// `chart.error` object whose code is `Not Found` (e.g. "No data found, symbol may
    /// be delisted"). Not retryable.
    #[error("Yahoo has no data for {ticker}: {code}: {description}")]
    NotFound {
        ticker: String,
        code: String,
        description: String,
    },

    /// Any other refusal: a `chart.error` object (e.g. `Bad Request`, "Data doesn't
    /// exist for startDate = ..."), or a 4xx other than 404/429 (then `code` is the
    /// status reason and `description` the start of the body). Not retryable.
    #[error("Yahoo refused the request for {ticker} (HTTP {status}): {code}: {description}")]
    Api {
        ticker: String,
        status: u16,
        code: String,
        description: String,
    },

    /// HTTP 429 on every attempt.
    #[error("Yahoo rate-limited {ticker} (HTTP 429) on all {attempts} attempt(s)")]
    RateLimited { ticker: String, attempts: usize },

    /// HTTP 5xx on the last attempt (earlier ones failed with retryable errors too).
    #[error("Yahoo server error (HTTP {status}) for {ticker} after {attempts} attempt(s)")]
    Server {
        ticker: String,
        status: u16,
        attempts: usize,
    },

    /// The last attempt exceeded `request_timeout` (connect, headers or body).
    #[error("Yahoo request for {ticker} timed out after {attempts} attempt(s)")]
    Timeout { ticker: String, attempts: usize },

    /// The body is not the chart JSON we know: not JSON, missing arrays, arrays of
    /// different lengths, unusable time zone. Not retryable (Yahoo would answer the same).
    #[error("malformed Yahoo chart response for {ticker}: {reason}")]
    Malformed { ticker: String, reason: String },

    /// Connection refused/reset, DNS, TLS... on the last attempt. `message` is the
    /// error chain of the underlying client.
    #[error(
        "transport error talking to Yahoo for {ticker} after {attempts} attempt(s): {message}"
    )]
    Transport {
        ticker: String,
        message: String,
        attempts: usize,
    },
}

impl YahooError {
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

impl RetryableError for YahooError {
    fn is_retryable(&self) -> bool {
        YahooError::is_retryable(self)
    }

    fn set_attempts(&mut self, attempts: usize) {
        YahooError::set_attempts(self, attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable() {
        let t = || "AAPL".to_string();
        let s = || String::new();
        assert!(YahooError::RateLimited {
            ticker: t(),
            attempts: 1
        }
        .is_retryable());
        assert!(YahooError::Server {
            ticker: t(),
            status: 502,
            attempts: 1
        }
        .is_retryable());
        assert!(YahooError::Timeout {
            ticker: t(),
            attempts: 1
        }
        .is_retryable());
        assert!(YahooError::Transport {
            ticker: t(),
            message: s(),
            attempts: 1
        }
        .is_retryable());
        assert!(!YahooError::NotFound {
            ticker: t(),
            code: s(),
            description: s()
        }
        .is_retryable());
        assert!(!YahooError::Api {
            ticker: t(),
            status: 400,
            code: s(),
            description: s()
        }
        .is_retryable());
        assert!(!YahooError::Malformed {
            ticker: t(),
            reason: s()
        }
        .is_retryable());
        assert!(!YahooError::InvalidRequest {
            ticker: t(),
            reason: s()
        }
        .is_retryable());
        assert!(!YahooError::Config { reason: s() }.is_retryable());
    }

    #[test]
    fn attempts_are_filled_in_after_the_retry_loop() {
        let mut e = YahooError::Server {
            ticker: "X".into(),
            status: 500,
            attempts: 0,
        };
        e.set_attempts(5);
        assert_eq!(e.attempts(), Some(5));
        assert_eq!(
            e.to_string(),
            "Yahoo server error (HTTP 500) for X after 5 attempt(s)"
        );
        let mut e = YahooError::Malformed {
            ticker: "X".into(),
            reason: "r".into(),
        };
        e.set_attempts(5);
        assert_eq!(e.attempts(), None);
    }
}
