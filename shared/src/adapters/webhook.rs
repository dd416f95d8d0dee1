//! Delivering a notification to the user's webhook: a signed JSON POST.
//!
//! Headers (docs/notifications.md has the receiver's side):
//! - `X-TFT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
//! - `X-TFT-Event: <event type>`
//! - `Idempotency-Key: <the outbox key>`: the same on every resend of one notification.
//!
//! 2xx is delivered. 400 (the receiver cannot read this message) and 410 (the endpoint
//! is gone for good) are permanent failures; every other status — 401/403 (a rotated
//! secret or token), 404 (a receiver mid-deploy), 3xx (a moved receiver: redirects are
//! never followed with a signed body), 408, 429, 5xx — timeouts and connection errors are
//! retried, over the outbox's budget of a day. The URL must be `https://` unless
//! `allow_http` is set (local development and tests).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-TFT-Signature";
pub const EVENT_HEADER: &str = "X-TFT-Event";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Where and how to POST.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// The shared secret the receiver verifies signatures with (never logged).
    pub secret: SecretString,
    /// For the whole request, connection included.
    pub timeout: Duration,
    /// Accept an `http://` URL (local receivers, tests): `NOTIFY_WEBHOOK_ALLOW_HTTP=1`.
    pub allow_http: bool,
}

/// A failed delivery, classified.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook timed out: {0}")]
    Timeout(String),
    #[error("could not reach the webhook: {0}")]
    Transport(String),
    #[error("webhook answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("could not build the webhook client: {0}")]
    Client(String),
    #[error("the webhook URL must be https:// (set NOTIFY_WEBHOOK_ALLOW_HTTP=1 for a local http:// receiver): {0}")]
    InsecureUrl(String),
}

impl WebhookError {
    /// Retrying cannot help: the receiver cannot read this message (400) or is gone
    /// for good (410). Everything a deploy or a misconfiguration causes is retried.
    pub fn is_permanent(&self) -> bool {
        match self {
            WebhookError::Status { status, .. } => matches!(status, 400 | 410),
            WebhookError::Client(_) | WebhookError::InsecureUrl(_) => true,
            WebhookError::Timeout(_) | WebhookError::Transport(_) => false,
        }
    }
}

/// The JSON body of every webhook call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebhookBody {
    /// The idempotency key (also in the `Idempotency-Key` header).
    pub id: String,
    /// `signal.opened`, `signal.closed`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the notification was queued (with the row it announces).
    pub created_at: DateTime<Utc>,
    /// The event's fields, as queued.
    pub data: serde_json::Value,
}

type HmacSha256 = Hmac<Sha256>;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The `X-TFT-Signature` value for `body` sent at `timestamp`.
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// Why a receiver rejects a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("signature mismatch")]
    Mismatch,
}

/// The receiver's check (a Rust receiver may use it as is): the header's `v1` matches
/// the HMAC of `"<t>.<body>"`, compared in constant time, and `t` is within
/// `tolerance` of `now` (replay protection).
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matches = candidates.iter().any(|c| {
        let Some(bytes) = unhex(c) else { return false };
        // Constant time over equal lengths.
        bytes.len() == expected.len()
            && bytes
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `https://` with a host, or `http://` when allowed. The error never quotes the path
/// or query (they may carry a token).
fn check_url(url: &str, allow_http: bool) -> Result<(), WebhookError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| WebhookError::InsecureUrl(format!("not a URL: {e}")))?;
    let ok = match parsed.scheme() {
        "https" => true,
        "http" => allow_http,
        _ => false,
    };
    if !ok || parsed.host_str().is_none() {
        return Err(WebhookError::InsecureUrl(format!(
            "{}://{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("")
        )));
    }
    Ok(())
}

/// Posts signed notifications to one URL. Built once per container.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: String,
    secret: SecretString,
}

impl WebhookClient {
    pub fn new(settings: WebhookSettings) -> Result<Self, WebhookError> {
        check_url(&settings.url, settings.allow_http)?;
        let http = crate::adapters::https::client_builder()
            // A redirect would re-send the signed body to wherever the answer points.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("tft-trader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Self {
            http,
            url: settings.url,
            secret: settings.secret,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs `body` signed with the current time. `Ok` on 2xx.
    #[tracing::instrument(skip(self, body), fields(key = %body.id, event = %body.event_type))]
    pub async fn send(&self, body: &WebhookBody) -> Result<(), WebhookError> {
        let raw = serde_json::to_vec(body).map_err(|e| WebhookError::Client(e.to_string()))?;
        let timestamp = Utc::now().timestamp();
        let signed = signature_header(self.secret.expose_secret().as_bytes(), timestamp, &raw);
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signed)
            .header(EVENT_HEADER, &body.event_type)
            .header(IDEMPOTENCY_HEADER, &body.id)
            .body(raw)
            .send()
            .await
            .map_err(|e| {
                // Without the URL: it may carry a token.
                let e = e.without_url();
                if e.is_timeout() {
                    WebhookError::Timeout(e.to_string())
                } else {
                    WebhookError::Transport(e.to_string())
                }
            })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(status = status.as_u16(), "webhook delivered");
            return Ok(());
        }
        let text = match response.text().await {
            Ok(t) => t.chars().take(500).collect(),
            Err(e) => format!("(unreadable body: {})", e.without_url()),
        };
        Err(WebhookError::Status {
            status: status.as_u16(),
            body: text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // Key "Jefe", data "what do ya want for nothing?": sign "<t>.<body>" with the
        // split chosen so that the signed string is exactly the RFC's data.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_signs_timestamp_dot_body_and_verifies() {
        let header = signature_header(b"s3cret", 1_700_000_000, br#"{"a":1}"#);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        let ok = |h: &str, body: &[u8], now| {
            verify_signature(b"s3cret", h, body, now, Duration::from_secs(300))
        };
        assert_eq!(ok(&header, br#"{"a":1}"#, 1_700_000_100), Ok(()));
        assert_eq!(
            ok(&header, br#"{"a":2}"#, 1_700_000_100),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            ok(&header, br#"{"a":1}"#, 1_700_001_000),
            Err(VerifyError::Stale)
        );
        assert_eq!(ok("v1=00", b"", 0), Err(VerifyError::Malformed));
        assert_eq!(
            verify_signature(
                b"other",
                &header,
                br#"{"a":1}"#,
                1_700_000_000,
                Duration::from_secs(300)
            ),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn only_refusals_are_permanent() {
        let status = |status| WebhookError::Status {
            status,
            body: String::new(),
        };
        assert!(status(400).is_permanent());
        assert!(status(410).is_permanent());
        for retried in [301, 307, 401, 403, 404, 422] {
            assert!(!status(retried).is_permanent(), "{retried}");
        }
        assert!(!status(408).is_permanent());
        assert!(!status(429).is_permanent());
        assert!(!status(500).is_permanent());
        assert!(!status(503).is_permanent());
        assert!(!WebhookError::Timeout("t".into()).is_permanent());
    }
}
