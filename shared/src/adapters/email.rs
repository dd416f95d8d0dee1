//! Delivering a notification by e-mail through Amazon SES v2 (`SendEmail`, simple
//! content with a plain-text and an HTML body). The endpoint comes from the ambient AWS
//! configuration, so `AWS_ENDPOINT_URL` points it at moto in tests.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// Who sends and who receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// A verified SES identity (address or an address of a verified domain).
    pub from: String,
    pub to: Vec<String>,
}

/// A failed send.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("could not build the e-mail: {0}")]
    Build(String),
    #[error("SES refused the e-mail ({code}): {message}")]
    Rejected { code: String, message: String },
    #[error("could not reach SES: {0}")]
    Transport(String),
    /// A 5xx SMTP reply to this message (adapters::smtp): permanent.
    #[error("the SMTP server refused the e-mail ({code}): {message}")]
    SmtpRejected { code: String, message: String },
    /// A 4xx reply, an authentication failure, a timeout, a connection or TLS failure
    /// (adapters::smtp): retried.
    #[error("SMTP delivery failed: {0}")]
    SmtpTransient(String),
}

impl EmailError {
    /// Retrying cannot help: the request itself is malformed, or the SMTP server refused
    /// the message for good (5xx). Everything else (an unverified identity, throttling,
    /// a paused account, SMTP 4xx or authentication replies, the network) may clear up,
    /// so it is retried until the attempts run out.
    pub fn is_permanent(&self) -> bool {
        match self {
            EmailError::Build(_) => true,
            EmailError::Rejected { code, .. } => code == "BadRequestException",
            EmailError::Transport(_) => false,
            EmailError::SmtpRejected { .. } => true,
            EmailError::SmtpTransient(_) => false,
        }
    }
}

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn display(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// What a breaker event means for the trader, in one line (the e-mail's subject and first
/// line); `None` for other events or a payload without the fields
/// (`jobs::generate_signals::breaker_payload`).
fn breaker_headline(event_type: &str, payload: &serde_json::Value) -> Option<String> {
    let num = |k: &str| payload.get(k).and_then(serde_json::Value::as_f64);
    let text = |k: &str| payload.get(k).and_then(serde_json::Value::as_str);
    match event_type {
        "breaker.tripped" => {
            let drawdown = num("drawdown")? * 100.0;
            let limit = num("max_drawdown")? * 100.0;
            let until = match (text("locked_until"), text("releases_on")) {
                (Some(last), Some(resume)) => {
                    format!("no new entries through {last}, entries resume on {resume}")
                }
                _ => "no new entries until trading is resumed (permanent halt)".to_string(),
            };
            Some(format!(
                "Breaker tripped: drawdown {drawdown:.2} % (limit {limit:.2} %); {until}; open positions keep their exits"
            ))
        }
        "breaker.released" => {
            let equity = num("equity")?;
            Some(format!(
                "Breaker released: entries resume; the drawdown peak is reset to the equity, {equity:.2}"
            ))
        }
        _ => None,
    }
}

/// Renders a notification: subject `[TFT Trader] <event type>: <ticker>` (the ticker
/// when the payload has one; a breaker event's subject says what it means instead), the
/// payload's fields one per line (text) or as a table (HTML), and the `links` object, if
/// any, as links. Every value is HTML-escaped.
pub fn render(
    event_type: &str,
    idempotency_key: &str,
    payload: &serde_json::Value,
) -> RenderedEmail {
    let headline = breaker_headline(event_type, payload);
    let subject = match (&headline, payload.get("ticker").and_then(|t| t.as_str())) {
        (Some(headline), _) => format!("[TFT Trader] {headline}"),
        (None, Some(ticker)) => format!("[TFT Trader] {event_type}: {ticker}"),
        (None, None) => format!("[TFT Trader] {event_type}"),
    };
    let empty = serde_json::Map::new();
    let fields = payload.as_object().unwrap_or(&empty);
    let links = fields.get("links").and_then(|l| l.as_object());
    let rows: Vec<(&String, String)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "links")
        .map(|(k, v)| (k, display(v)))
        .collect();

    let mut text = format!("{event_type}\n\n");
    if let Some(headline) = &headline {
        text.push_str(&format!("{headline}\n\n"));
    }
    for (k, v) in &rows {
        text.push_str(&format!("{k}: {v}\n"));
    }
    if let Some(links) = links {
        text.push('\n');
        for (k, v) in links {
            text.push_str(&format!("{k}: {}\n", display(v)));
        }
    }
    text.push_str(&format!("\nNotification {idempotency_key}\n"));

    let mut html = format!(
        "<!DOCTYPE html><html><body><h2>{}</h2><table border=\"1\" cellpadding=\"4\" \
         style=\"border-collapse:collapse\">",
        html_escape(event_type)
    );
    if let Some(headline) = &headline {
        html.insert_str(
            html.find("<table").unwrap_or(html.len()),
            &format!("<p>{}</p>", html_escape(headline)),
        );
    }
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(v)
        ));
    }
    html.push_str("</table>");
    if let Some(links) = links {
        html.push_str("<ul>");
        for (k, v) in links {
            let url = display(v);
            // Only web links become anchors (no `javascript:` or the like).
            if url.starts_with("https://") || url.starts_with("http://") {
                html.push_str(&format!(
                    "<li><a href=\"{}\">{}</a></li>",
                    html_escape(&url),
                    html_escape(k)
                ));
            } else {
                html.push_str(&format!(
                    "<li>{}: {}</li>",
                    html_escape(k),
                    html_escape(&url)
                ));
            }
        }
        html.push_str("</ul>");
    }
    html.push_str(&format!(
        "<p style=\"color:#888\">Notification {}</p></body></html>",
        html_escape(idempotency_key)
    ));
    RenderedEmail {
        subject,
        text,
        html,
    }
}

/// Sends e-mails from one address to fixed recipients. Built once per container.
#[derive(Debug, Clone)]
pub struct EmailSender {
    client: aws_sdk_sesv2::Client,
    settings: EmailSettings,
}

impl EmailSender {
    pub fn new(client: aws_sdk_sesv2::Client, settings: EmailSettings) -> Self {
        Self { client, settings }
    }

    /// A sender from the ambient AWS configuration (Lambda role, or the usual
    /// environment variables locally; `AWS_ENDPOINT_URL` points it at moto).
    pub async fn from_env(settings: EmailSettings) -> Self {
        Self::from_sdk(crate::adapters::aws::AwsSdk::new().config().await, settings)
    }

    /// A sender over an already loaded SDK configuration (the one the function shares).
    pub fn from_sdk(sdk_config: &aws_config::SdkConfig, settings: EmailSettings) -> Self {
        Self::new(aws_sdk_sesv2::Client::new(sdk_config), settings)
    }

    /// As [`EmailSender::from_env`], with the SES endpoint overridden (a test double).
    pub async fn with_endpoint(settings: EmailSettings, endpoint_url: &str) -> Self {
        let sdk_config = crate::adapters::aws::defaults()
            .endpoint_url(endpoint_url)
            .load()
            .await;
        Self::new(aws_sdk_sesv2::Client::new(&sdk_config), settings)
    }

    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// Sends `email`; returns SES's message id.
    #[tracing::instrument(skip(self, email), fields(subject = %email.subject))]
    pub async fn send(&self, email: &RenderedEmail) -> Result<String, EmailError> {
        let utf8 = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| EmailError::Build(e.to_string()))
        };
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .build();
        let destination = Destination::builder()
            .set_to_addresses(Some(self.settings.to.clone()))
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.settings.from)
            .destination(destination)
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                match e.code() {
                    Some(code) => EmailError::Rejected {
                        code: code.to_string(),
                        message: e.message().unwrap_or_default().to_string(),
                    },
                    None => EmailError::Transport(
                        aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string(),
                    ),
                }
            })?;
        let id = output.message_id().unwrap_or_default().to_string();
        tracing::info!(message_id = %id, "e-mail sent");
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_subject_both_bodies_and_escapes_html() {
        let payload = serde_json::json!({
            "ticker": "AAPL",
            "entry_price": 187.5,
            "note": "<script>alert('x')</script> & co",
            "links": {"chart": "https://example.com/c?a=1&b=2"}
        });
        let email = render("signal.opened", "signal.opened:7:email", &payload);
        assert_eq!(email.subject, "[TFT Trader] signal.opened: AAPL");
        assert!(email.text.contains("entry_price: 187.5\n"));
        assert!(email
            .text
            .contains("note: <script>alert('x')</script> & co\n"));
        assert!(email
            .text
            .contains("chart: https://example.com/c?a=1&b=2\n"));
        assert!(email
            .html
            .contains("<th align=\"left\">ticker</th><td>AAPL</td>"));
        assert!(email
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
        assert!(!email.html.contains("<script>"));
        assert!(email
            .html
            .contains("<a href=\"https://example.com/c?a=1&amp;b=2\">chart</a>"));
    }

    #[test]
    fn a_breaker_event_says_what_it_means_for_entries() {
        let tripped = serde_json::json!({
            "breaker_event_id": 3, "trading_date": "2020-03-09", "drawdown": 0.17812,
            "max_drawdown": 0.15, "equity": 82188.0, "peak_equity": 100000.0,
            "locked_until": "2020-04-06", "releases_on": "2020-04-07", "mode": "cool_off"
        });
        let email = render("breaker.tripped", "breaker.tripped:3:email", &tripped);
        let headline = "Breaker tripped: drawdown 17.81 % (limit 15.00 %); no new entries \
                        through 2020-04-06, entries resume on 2020-04-07; open positions keep \
                        their exits";
        assert_eq!(email.subject, format!("[TFT Trader] {headline}"));
        assert!(email
            .text
            .starts_with(&format!("breaker.tripped\n\n{headline}\n\n")));
        assert!(
            email.text.contains("peak_equity: 100000.0\n"),
            "{}",
            email.text
        );
        assert!(email.html.contains(&format!("<p>{headline}</p><table")));

        let permanent = serde_json::json!({
            "drawdown": 0.2, "max_drawdown": 0.15, "locked_until": null, "releases_on": null,
            "mode": "permanent"
        });
        let email = render("breaker.tripped", "k", &permanent);
        assert!(email.subject.ends_with("no new entries until trading is resumed (permanent halt); open positions keep their exits"), "{}", email.subject);

        let released = serde_json::json!({
            "trading_date": "2020-04-07", "tripped_on": "2020-03-09", "drawdown": 0.16,
            "equity": 83010.5, "previous_peak": 100000.0, "peak_equity": 83010.5
        });
        let email = render("breaker.released", "k", &released);
        assert_eq!(
            email.subject,
            "[TFT Trader] Breaker released: entries resume; the drawdown peak is reset to the equity, 83010.50"
        );
        // A payload without the fields keeps the plain subject.
        let email = render("breaker.released", "k", &serde_json::json!({}));
        assert_eq!(email.subject, "[TFT Trader] breaker.released");
    }

    #[test]
    fn subject_without_ticker() {
        let email = render("signal.closed", "k", &serde_json::json!(null));
        assert_eq!(email.subject, "[TFT Trader] signal.closed");
        assert!(email.html.contains("<h2>signal.closed</h2>"));
    }
}
