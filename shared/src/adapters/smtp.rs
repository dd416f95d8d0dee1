//! Delivering a notification by e-mail over SMTP (lettre), the option beside SES: the
//! same rendered message ([`crate::adapters::email::render`]) as `multipart/alternative`
//! (plain text, then HTML), with the outbox key in an `X-TFT-Idempotency-Key` header and
//! a `Message-ID` derived from it, so a resend after a crash is recognisable.
//!
//! The server comes from `SMTP_URL` in lettre's URL form: `smtps://user:pass@host:465`
//! (TLS from the start), `smtp://user:pass@host:587?tls=required` (STARTTLS, refused
//! without it), or `smtp://host:25` (plain; local relays and tests only). The URL holds
//! the password, so it stays a [`SecretString`] and this type never prints it.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::adapters::email::{EmailError, EmailSettings, RenderedEmail};

/// The header that carries the outbox key (the same on every resend).
pub const IDEMPOTENCY_HEADER: &str = "X-TFT-Idempotency-Key";

/// Where and how to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    /// lettre's connection URL; holds the credentials.
    pub url: SecretString,
    /// Bounds each step of a send (connect, each command).
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `X-TFT-Idempotency-Key: <outbox key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdempotencyKey(String);

impl Header for IdempotencyKey {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(IDEMPOTENCY_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The `Message-ID` of the notification with key `key`, sent from `from`:
/// `<signal.opened.42.email.<8 hex of SHA-256(key)>@<from's domain>>`. The readable part
/// keeps only characters a message id allows; the hash keeps two keys that differ only in
/// the dropped characters apart. The same key gives the same id on every resend.
pub fn message_id(key: &str, from: &str) -> String {
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
        .unwrap_or("tft-trader.invalid");
    format!("<{readable}.{hash}@{domain}>")
}

/// Builds the MIME message (multipart/alternative: text, then HTML).
pub fn build_message(
    settings: &EmailSettings,
    idempotency_key: &str,
    email: &RenderedEmail,
) -> Result<Message, EmailError> {
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| EmailError::Build(format!("address {a:?}: {e}")))
    };
    let mut builder = Message::builder()
        .from(mailbox(&settings.from)?)
        .subject(email.subject.clone())
        .message_id(Some(message_id(idempotency_key, &settings.from)))
        .header(IdempotencyKey(idempotency_key.to_string()));
    for to in &settings.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// Maps a failed SMTP send to the retry decision. A 5xx reply is permanent (the server
/// refused this message: a bad recipient, a policy rejection), except authentication
/// failures (530, 534, 535, 538), which a credentials fix cures and so are retried
/// like 4xx replies, timeouts and connection or TLS failures.
fn classify(error: lettre::transport::smtp::Error) -> EmailError {
    let code = error
        .status()
        .filter(|_| error.is_permanent())
        .map(|c| c.to_string());
    classify_reply(code.as_deref(), error.to_string())
}

/// [`classify`] on the reply code of a permanent (5xx) failure, `None` otherwise.
fn classify_reply(permanent_code: Option<&str>, message: String) -> EmailError {
    match permanent_code {
        Some("530" | "534" | "535" | "538") => {
            EmailError::SmtpTransient(format!("authentication refused: {message}"))
        }
        Some(code) => EmailError::SmtpRejected {
            code: code.to_string(),
            message,
        },
        None => EmailError::SmtpTransient(message),
    }
}

/// Sends e-mails over SMTP from one address to fixed recipients. Built once per
/// container; opens one connection per message (no pool: a Lambda run sends a few).
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    settings: EmailSettings,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport's Debug would show the credentials.
        f.debug_struct("SmtpSender")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender for `smtp.url`. Fails on a malformed URL (the error never quotes it).
    pub fn new(smtp: &SmtpSettings, settings: EmailSettings) -> Result<Self, EmailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose_secret())
            .map_err(|_| EmailError::Build("SMTP_URL is not a valid SMTP URL".into()))?
            .timeout(Some(smtp.timeout))
            .build();
        Ok(Self {
            transport,
            settings,
        })
    }

    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// Sends `email` for the notification `idempotency_key`; returns its Message-ID.
    #[tracing::instrument(skip(self, email), fields(subject = %email.subject))]
    pub async fn send(
        &self,
        idempotency_key: &str,
        email: &RenderedEmail,
    ) -> Result<String, EmailError> {
        let message = build_message(&self.settings, idempotency_key, email)?;
        let id = message_id(idempotency_key, &self.settings.from);
        self.transport.send(message).await.map_err(classify)?;
        tracing::info!(message_id = %id, "e-mail sent over SMTP");
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EmailSettings {
        EmailSettings {
            from: "alerts@tft.example".into(),
            to: vec!["me@example.com".into()],
        }
    }

    #[test]
    fn message_id_is_stable_valid_and_distinct() {
        let a = message_id("signal.opened:42:email", "alerts@tft.example");
        assert_eq!(
            a,
            message_id("signal.opened:42:email", "alerts@tft.example")
        );
        assert!(a.starts_with("<signal.opened.42.email."), "{a}");
        assert!(a.ends_with("@tft.example>"), "{a}");
        // Same readable part, different keys: different ids.
        assert_ne!(
            a,
            message_id("signal.opened.42:email", "alerts@tft.example")
        );
    }

    #[test]
    fn message_is_multipart_alternative_with_key_and_id() {
        let email = RenderedEmail {
            subject: "[TFT Trader] signal.opened: AAPL".into(),
            text: "plain body".into(),
            html: "<p>html body</p>".into(),
        };
        let raw = build_message(&settings(), "signal.opened:7:email", &email)
            .unwrap()
            .formatted();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("X-TFT-Idempotency-Key: signal.opened:7:email\r\n"));
        assert!(raw.contains("Message-ID: <signal.opened.7.email."), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        let text_at = raw.find("plain body").unwrap();
        let html_at = raw.find("<p>html body</p>").unwrap();
        assert!(text_at < html_at, "text first, HTML last (preferred)");
    }

    #[test]
    fn refusals_are_permanent_except_authentication_and_4xx() {
        let refused = classify_reply(Some("550"), "mailbox unavailable".into());
        assert!(refused.is_permanent(), "{refused}");
        let auth = classify_reply(Some("535"), "bad credentials".into());
        assert!(!auth.is_permanent(), "{auth}");
        let transient = classify_reply(None, "451 try again later".into());
        assert!(!transient.is_permanent(), "{transient}");
    }

    #[test]
    fn a_bad_address_is_a_permanent_build_error() {
        let bad = EmailSettings {
            from: "not an address".into(),
            to: vec![],
        };
        let email = RenderedEmail {
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
        };
        let error = build_message(&bad, "k", &email).unwrap_err();
        assert!(error.is_permanent());
    }

    #[test]
    fn settings_and_sender_never_print_the_url() {
        let smtp = SmtpSettings {
            url: SecretString::from("smtps://user:hunter2@smtp.example.com:465"),
            timeout: Duration::from_secs(10),
        };
        assert!(!format!("{smtp:?}").contains("hunter2"));
        let sender = SmtpSender::new(&smtp, settings()).unwrap();
        assert!(!format!("{sender:?}").contains("hunter2"));
        let bad = SmtpSettings {
            url: SecretString::from("ftp://user:hunter2@x"),
            timeout: Duration::from_secs(10),
        };
        let error = SmtpSender::new(&bad, settings()).unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }
}
