//! The one retry loop of our HTTP clients (Yahoo, Reddit): jittered exponential backoff
//! (backon), lengthened to a `Retry-After: <seconds>` header and capped at `max_backoff`,
//! retrying only what the client's error says may succeed, and stamping the final error
//! with the number of requests made.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// An HTTP client's error as the retry loop needs it.
pub(crate) trait RetryableError: std::fmt::Display {
    /// 429, 5xx, timeouts, transport errors: another attempt might succeed.
    fn is_retryable(&self) -> bool;
    /// Records the number of requests made (for the variants that carry it).
    fn set_attempts(&mut self, attempts: usize);
}

/// One failed attempt: the error, and the wait the server asked for.
pub(crate) struct Failure<E> {
    pub error: E,
    /// `Retry-After` in seconds, on 429/5xx answers that carry one.
    pub retry_after: Option<Duration>,
}

impl<E> From<E> for Failure<E> {
    fn from(error: E) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First delay; doubles each retry, with jitter, up to `max`.
    pub min: Duration,
    /// Ceiling of any single wait, jitter and `Retry-After` included.
    pub max: Duration,
}

/// Runs `attempt` until it succeeds, fails with an error that is not retryable, or the
/// retries are spent; the error returned carries the number of requests made. `service`
/// names the server in the retry warnings.
pub(crate) async fn with_retries<T, E, F, Fut>(
    service: &'static str,
    backoff: Backoff,
    mut attempt: F,
) -> Result<T, E>
where
    E: RetryableError,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let attempts = AtomicUsize::new(0);
    let max = backoff.max;
    let policy = ExponentialBuilder::default()
        .with_min_delay(backoff.min)
        .with_max_delay(backoff.max)
        .with_max_times(backoff.max_retries)
        .with_jitter();
    let outcome = (|| {
        attempts.fetch_add(1, Ordering::Relaxed);
        attempt()
    })
    .retry(policy)
    .when(|f: &Failure<E>| f.error.is_retryable())
    .adjust(move |f: &Failure<E>, next| next.map(|delay| retry_delay(delay, f.retry_after, max)))
    .notify(|f: &Failure<E>, delay: Duration| {
        tracing::warn!(
            attempt = attempts.load(Ordering::Relaxed),
            delay_ms = delay.as_millis() as u64,
            error = %f.error,
            "{service} request failed, retrying"
        );
    })
    .await;
    outcome.map_err(|failure| {
        let mut error = failure.error;
        error.set_attempts(attempts.load(Ordering::Relaxed));
        error
    })
}

/// The backoff's delay, lengthened to `Retry-After` when the server asks for more, and
/// never longer than `max` (jitter can otherwise double it).
pub(crate) fn retry_delay(
    backoff: Duration,
    retry_after: Option<Duration>,
    max: Duration,
) -> Duration {
    backoff.max(retry_after.unwrap_or_default()).min(max)
}

/// `Retry-After: <seconds>`; the HTTP-date form is ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `e: source: source...`, since reqwest's top-level message hides the cause.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_delay_honours_retry_after_within_the_ceiling() {
        let ms = Duration::from_millis;
        let max = ms(8_000);
        assert_eq!(retry_delay(ms(500), None, max), ms(500));
        assert_eq!(retry_delay(ms(500), Some(ms(3_000)), max), ms(3_000));
        assert_eq!(retry_delay(ms(4_000), Some(ms(1_000)), max), ms(4_000));
        assert_eq!(retry_delay(ms(500), Some(ms(120_000)), max), max);
        assert_eq!(
            retry_delay(ms(15_000), None, max),
            max,
            "jitter is capped too"
        );
    }

    #[test]
    fn retry_after_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
