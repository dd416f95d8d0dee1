//! Reddit's rate-limit headers and the wait they call for.
//!
//! Every OAuth API response carries (recorded values):
//!
//! ```text
//! x-ratelimit-remaining: 598.0   requests left in the current window (a float)
//! x-ratelimit-used: 2            requests made in it
//! x-ratelimit-reset: 298         seconds until the window resets
//! ```
//!
//! The token endpoint and some error answers (a 403) send none: the last values seen
//! are kept.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// The last `x-ratelimit-*` values Reddit sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests left in the current window.
    pub remaining: f64,
    /// Requests made in the current window (0 when the header was absent).
    pub used: u64,
    /// Time until the window resets, counted from the response.
    pub reset: Duration,
}

/// `None` unless both `x-ratelimit-remaining` and `x-ratelimit-reset` are there and
/// numeric.
pub(super) fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
    let number = |name: &str| -> Option<f64> {
        let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v)
    };
    let remaining = number("x-ratelimit-remaining")?;
    let reset = number("x-ratelimit-reset")?;
    let used = number("x-ratelimit-used").map_or(0, |u| u.round() as u64);
    Some(RateLimit {
        remaining,
        used,
        reset: Duration::try_from_secs_f64(reset).ok()?,
    })
}

/// The last values and when they were received.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed {
    pub limit: RateLimit,
    pub at: Instant,
}

/// How long to wait before the next request: until the window resets when fewer than
/// `floor` requests are left (and the reset is still ahead), never more than `cap`.
pub(super) fn wait_before_next(
    last: Option<Observed>,
    now: Instant,
    floor: f64,
    cap: Duration,
) -> Option<Duration> {
    let last = last?;
    if last.limit.remaining >= floor {
        return None;
    }
    let reset_at = last.at + last.limit.reset;
    let wait = reset_at.checked_duration_since(now)?;
    (!wait.is_zero()).then(|| wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_the_recorded_headers() {
        // TestCommentForest.test_comment_forest_refresh_error, interaction 2.
        let h = headers(&[
            ("x-ratelimit-remaining", "598.0"),
            ("x-ratelimit-reset", "298"),
            ("x-ratelimit-used", "2"),
        ]);
        assert_eq!(
            from_headers(&h),
            Some(RateLimit {
                remaining: 598.0,
                used: 2,
                reset: Duration::from_secs(298)
            })
        );
    }

    #[test]
    fn partial_or_garbled_headers() {
        assert_eq!(from_headers(&HeaderMap::new()), None);
        assert_eq!(
            from_headers(&headers(&[("x-ratelimit-remaining", "5.0")])),
            None
        );
        assert_eq!(
            from_headers(&headers(&[
                ("x-ratelimit-remaining", "lots"),
                ("x-ratelimit-reset", "10")
            ])),
            None
        );
        assert_eq!(
            from_headers(&headers(&[
                ("x-ratelimit-remaining", "-1"),
                ("x-ratelimit-reset", "10")
            ])),
            None
        );
        let no_used = from_headers(&headers(&[
            ("x-ratelimit-remaining", "0.5"),
            ("x-ratelimit-reset", "7"),
        ]))
        .unwrap();
        assert_eq!((no_used.remaining, no_used.used), (0.5, 0));
        assert_eq!(no_used.reset, Duration::from_secs(7));
    }

    #[test]
    fn waits_only_when_exhausted_and_before_the_reset() {
        let t0 = Instant::now();
        let seen = |remaining: f64, reset_s: u64| {
            Some(Observed {
                limit: RateLimit {
                    remaining,
                    used: 600,
                    reset: Duration::from_secs(reset_s),
                },
                at: t0,
            })
        };
        let cap = Duration::from_secs(60);
        let s = Duration::from_secs;
        assert_eq!(wait_before_next(None, t0, 1.0, cap), None);
        assert_eq!(wait_before_next(seen(5.0, 30), t0, 1.0, cap), None);
        assert_eq!(wait_before_next(seen(1.0, 30), t0, 1.0, cap), None);
        assert_eq!(wait_before_next(seen(0.0, 30), t0, 1.0, cap), Some(s(30)));
        assert_eq!(
            wait_before_next(seen(0.0, 30), t0 + s(10), 1.0, cap),
            Some(s(20))
        );
        assert_eq!(wait_before_next(seen(0.0, 30), t0 + s(30), 1.0, cap), None);
        assert_eq!(wait_before_next(seen(0.0, 30), t0 + s(31), 1.0, cap), None);
        assert_eq!(wait_before_next(seen(0.0, 500), t0, 1.0, cap), Some(cap));
        assert_eq!(
            wait_before_next(seen(3.0, 30), t0, 5.0, cap),
            Some(s(30)),
            "a higher floor"
        );
    }
}
