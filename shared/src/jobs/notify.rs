//! The notification sender: delivers what the outbox holds (docs/notifications.md).
//!
//! One run claims due messages in batches (`outbox::claim_due`: counted, leased,
//! skipped by concurrent senders), delivers each batch outside any transaction with
//! bounded concurrency, and marks each message sent, retried later or given up. A run
//! is bounded by `max_messages`, so a backlog is drained over several runs.

use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;

use crate::adapters::db::{DbError, Pool};
use crate::adapters::email::{self, EmailError, EmailSender, EmailSettings};
use crate::adapters::outbox::{self, Channel, FailureOutcome, OutboxMessage, RetryPolicy};
#[cfg(feature = "smtp")]
use crate::adapters::smtp::{SmtpSender, SmtpSettings};
use crate::adapters::webhook::{WebhookBody, WebhookClient, WebhookError, WebhookSettings};
use crate::config::{parse, ConfigError, EnvSource};
use crate::jobs::run_outcome::{daily_step_verdict, ItemCounts, RunFailure, RunMetrics};

/// How a run claims and retries.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOptions {
    pub retry: RetryPolicy,
    /// Messages claimed at once.
    pub batch_size: i64,
    /// Messages handled by one run at most.
    pub max_messages: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claimed message is not due for other senders. Must exceed the time a
    /// batch takes to deliver, or a slow batch is sent twice.
    pub lease: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            batch_size: 25,
            max_messages: 500,
            concurrency: 4,
            lease: Duration::from_secs(300),
        }
    }
}

/// How e-mail leaves (`NOTIFY_EMAIL_TRANSPORT`).
#[derive(Debug, Clone, Default)]
pub enum EmailTransport {
    /// Amazon SES v2 from the ambient AWS configuration (the default).
    #[default]
    Ses,
    /// An SMTP server (`SMTP_URL`), through lettre.
    #[cfg(feature = "smtp")]
    Smtp(SmtpSettings),
}

/// The sender's configuration, read once.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `None`: webhook messages fail (and are retried) until it is configured.
    pub webhook: Option<WebhookSettings>,
    /// `None`: e-mail messages fail (and are retried) until it is configured.
    pub email: Option<EmailSettings>,
    pub email_transport: EmailTransport,
    pub options: SendOptions,
}

/// `NOTIFY_EMAIL_TRANSPORT` (`ses`, the default, or `smtp` with `SMTP_URL` and
/// `NOTIFY_SMTP_TIMEOUT_SECS`, default 10); returns the transport and its timeout (zero
/// for SES, whose SDK has its own).
fn email_transport(env: &dyn EnvSource) -> Result<(EmailTransport, Duration), ConfigError> {
    let name = env
        .get("NOTIFY_EMAIL_TRANSPORT")
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_str() {
        "" | "ses" => Ok((EmailTransport::Ses, Duration::ZERO)),
        #[cfg(feature = "smtp")]
        "smtp" => {
            let url = env
                .get("SMTP_URL")
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .ok_or(ConfigError::Missing("SMTP_URL"))?;
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                // The value is a secret: never quoted back.
                return Err(ConfigError::Invalid {
                    name: "SMTP_URL",
                    reason: "must be an smtp:// or smtps:// URL".into(),
                });
            }
            let timeout = Duration::from_secs(parse(env, "NOTIFY_SMTP_TIMEOUT_SECS", 10u64)?);
            let settings = SmtpSettings {
                url: SecretString::from(url),
                timeout,
            };
            Ok((EmailTransport::Smtp(settings), timeout))
        }
        #[cfg(not(feature = "smtp"))]
        "smtp" => Err(ConfigError::Invalid {
            name: "NOTIFY_EMAIL_TRANSPORT",
            reason: "this build has no SMTP support (shared's `smtp` feature)".into(),
        }),
        _ => Err(ConfigError::Invalid {
            name: "NOTIFY_EMAIL_TRANSPORT",
            reason: format!("{name:?} is neither ses nor smtp"),
        }),
    }
}

impl NotifyConfig {
    /// - `NOTIFY_WEBHOOK_URL`, `NOTIFY_WEBHOOK_SECRET` (both or neither),
    ///   `NOTIFY_WEBHOOK_TIMEOUT_SECS` (default 10);
    /// - `NOTIFY_EMAIL_FROM`, `NOTIFY_EMAIL_TO` (comma-separated; both or neither);
    /// - `NOTIFY_EMAIL_TRANSPORT` (`ses` or `smtp`; default `ses`), and for `smtp`:
    ///   `SMTP_URL` (required, secret), `NOTIFY_SMTP_TIMEOUT_SECS` (default 10);
    /// - `NOTIFY_BATCH_SIZE` (25), `NOTIFY_MAX_MESSAGES` (500), `NOTIFY_CONCURRENCY` (4),
    ///   `NOTIFY_LEASE_SECS` (300), `NOTIFY_RETRY_BUDGET_HOURS` (24),
    ///   `NOTIFY_RETRY_BASE_SECS` (60), `NOTIFY_RETRY_MAX_SECS` (3600);
    /// - `NOTIFY_WEBHOOK_ALLOW_HTTP` (`1`: accept an `http://` webhook URL; local only).
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let timeout = Duration::from_secs(parse(env, "NOTIFY_WEBHOOK_TIMEOUT_SECS", 10u64)?);
        let webhook = match (
            env.get("NOTIFY_WEBHOOK_URL"),
            env.get("NOTIFY_WEBHOOK_SECRET"),
        ) {
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("NOTIFY_WEBHOOK_SECRET")),
            (None, Some(_)) => return Err(ConfigError::Missing("NOTIFY_WEBHOOK_URL")),
            (Some(url), Some(secret)) => {
                let url = url.trim().to_string();
                let allow_http = env
                    .get("NOTIFY_WEBHOOK_ALLOW_HTTP")
                    .is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"));
                let https = url.starts_with("https://");
                if !(https || (allow_http && url.starts_with("http://"))) {
                    return Err(ConfigError::Invalid {
                        name: "NOTIFY_WEBHOOK_URL",
                        reason: "must be an https:// URL (NOTIFY_WEBHOOK_ALLOW_HTTP=1 admits http:// for a local receiver)".into(),
                    });
                }
                Some(WebhookSettings {
                    url,
                    secret: SecretString::from(secret),
                    timeout,
                    allow_http,
                })
            }
        };
        let email = match (env.get("NOTIFY_EMAIL_FROM"), env.get("NOTIFY_EMAIL_TO")) {
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("NOTIFY_EMAIL_TO")),
            (None, Some(_)) => return Err(ConfigError::Missing("NOTIFY_EMAIL_FROM")),
            (Some(from), Some(to)) => {
                let to: Vec<String> = to
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if to.is_empty() || to.iter().chain([&from]).any(|a| !a.contains('@')) {
                    return Err(ConfigError::Invalid {
                        name: "NOTIFY_EMAIL_TO",
                        reason: "NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO must be e-mail addresses"
                            .into(),
                    });
                }
                Some(EmailSettings {
                    from: from.trim().to_string(),
                    to,
                })
            }
        };
        let (email_transport, smtp_timeout) = email_transport(env)?;
        let d = SendOptions::default();
        let positive = |name: &'static str, v: u64| {
            if v == 0 {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                })
            } else {
                Ok(v)
            }
        };
        let batch_size = positive(
            "NOTIFY_BATCH_SIZE",
            parse(env, "NOTIFY_BATCH_SIZE", d.batch_size as u64)?,
        )?;
        let concurrency = positive(
            "NOTIFY_CONCURRENCY",
            parse(env, "NOTIFY_CONCURRENCY", d.concurrency as u64)?,
        )?;
        let lease = positive(
            "NOTIFY_LEASE_SECS",
            parse(env, "NOTIFY_LEASE_SECS", d.lease.as_secs())?,
        )?;
        // A batch takes at most ceil(batch / concurrency) timeouts to deliver.
        let slowest_batch = timeout.max(smtp_timeout).as_secs() * batch_size.div_ceil(concurrency);
        if lease <= slowest_batch {
            return Err(ConfigError::Invalid {
                name: "NOTIFY_LEASE_SECS",
                reason: format!(
                    "{lease} s does not exceed the slowest batch ({slowest_batch} s = \
                     timeout × ceil(batch size / concurrency))"
                ),
            });
        }
        let options = SendOptions {
            retry: RetryPolicy {
                budget: Duration::from_secs(
                    positive(
                        "NOTIFY_RETRY_BUDGET_HOURS",
                        parse(
                            env,
                            "NOTIFY_RETRY_BUDGET_HOURS",
                            d.retry.budget.as_secs() / 3600,
                        )?,
                    )?
                    .saturating_mul(3600),
                ),
                base_delay: Duration::from_secs(parse(
                    env,
                    "NOTIFY_RETRY_BASE_SECS",
                    d.retry.base_delay.as_secs(),
                )?),
                max_delay: Duration::from_secs(parse(
                    env,
                    "NOTIFY_RETRY_MAX_SECS",
                    d.retry.max_delay.as_secs(),
                )?),
            },
            batch_size: batch_size.min(i64::MAX as u64) as i64,
            max_messages: parse(env, "NOTIFY_MAX_MESSAGES", d.max_messages)?,
            concurrency: concurrency as usize,
            lease: Duration::from_secs(lease),
        };
        Ok(Self {
            webhook,
            email,
            email_transport,
            options,
        })
    }
}

/// A failed delivery of one message.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("the {0} channel is not configured")]
    NotConfigured(Channel),
    #[error("not delivered within the claim's lease ({0:?}): abandoned, retried later")]
    LeaseExpired(Duration),
}

impl DeliveryError {
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Webhook(e) => e.is_permanent(),
            DeliveryError::Email(e) => e.is_permanent(),
            // The sender skips these before delivering; configuration can be fixed.
            DeliveryError::NotConfigured(_) => false,
            DeliveryError::LeaseExpired(_) => false,
        }
    }
}

/// A failure of the run itself (not of one delivery).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("invalid notify configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Run(#[from] RunFailure),
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NotifySummary {
    pub claimed: usize,
    pub sent: usize,
    /// Failed, another attempt scheduled.
    pub retried: usize,
    /// Failed for good (permanent error or attempts exhausted).
    pub given_up: usize,
    /// Delivered or failed, but the row could not be marked (database error) or was no
    /// longer pending: it may be delivered again after its lease.
    pub unmarked: usize,
    /// The channel is not configured on this sender: marked skipped, not delivered.
    pub skipped: usize,
}

/// Sends the rendered e-mails: SES or SMTP.
#[derive(Debug, Clone)]
pub enum Mailer {
    Ses(EmailSender),
    #[cfg(feature = "smtp")]
    Smtp(SmtpSender),
}

impl From<EmailSender> for Mailer {
    fn from(sender: EmailSender) -> Self {
        Mailer::Ses(sender)
    }
}

#[cfg(feature = "smtp")]
impl From<SmtpSender> for Mailer {
    fn from(sender: SmtpSender) -> Self {
        Mailer::Smtp(sender)
    }
}

impl Mailer {
    /// Sends the e-mail of the notification `idempotency_key`; returns the message id.
    pub async fn send(
        &self,
        idempotency_key: &str,
        email: &email::RenderedEmail,
    ) -> Result<String, EmailError> {
        match self {
            Mailer::Ses(sender) => {
                // SES's simple content carries no custom header; the key is in the body.
                let _ = idempotency_key;
                sender.send(email).await
            }
            #[cfg(feature = "smtp")]
            Mailer::Smtp(sender) => sender.send(idempotency_key, email).await,
        }
    }
}

enum Outcome {
    Sent,
    Retried,
    GaveUp,
    Unmarked,
    Skipped,
}

/// The sender. Built once per container.
#[derive(Debug, Clone)]
pub struct Notifier {
    pool: Pool,
    webhook: Option<WebhookClient>,
    email: Option<Mailer>,
    options: SendOptions,
}

impl Notifier {
    /// A sender whose e-mail, if any, goes through SES.
    pub fn new(
        pool: Pool,
        webhook: Option<WebhookClient>,
        email: Option<EmailSender>,
        options: SendOptions,
    ) -> Self {
        Self::with_mailer(pool, webhook, email.map(Mailer::from), options)
    }

    /// A sender with any e-mail transport.
    pub fn with_mailer(
        pool: Pool,
        webhook: Option<WebhookClient>,
        email: Option<Mailer>,
        options: SendOptions,
    ) -> Self {
        Self {
            pool,
            webhook,
            email,
            options,
        }
    }

    /// The clients `config` asks for; SES from the ambient AWS configuration, or SMTP.
    pub async fn from_config(pool: Pool, config: NotifyConfig) -> Result<Self, NotifyError> {
        Self::from_config_with(pool, config, &crate::adapters::aws::AwsSdk::new()).await
    }

    /// [`Self::from_config`] over the function's shared SDK configuration (SES only).
    pub async fn from_config_with(
        pool: Pool,
        config: NotifyConfig,
        aws: &crate::adapters::aws::AwsSdk,
    ) -> Result<Self, NotifyError> {
        let webhook = config
            .webhook
            .map(WebhookClient::new)
            .transpose()
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let email = match (config.email, config.email_transport) {
            (None, _) => None,
            (Some(settings), EmailTransport::Ses) => {
                Some(EmailSender::from_sdk(aws.config().await, settings).into())
            }
            #[cfg(feature = "smtp")]
            (Some(settings), EmailTransport::Smtp(smtp)) => Some(
                SmtpSender::new(&smtp, settings)
                    .map_err(|e| NotifyError::Config(e.to_string()))?
                    .into(),
            ),
        };
        Ok(Self::with_mailer(pool, webhook, email, config.options))
    }

    pub fn options(&self) -> &SendOptions {
        &self.options
    }

    /// Delivers one message to its channel, without touching the outbox.
    #[tracing::instrument(skip(self, message), fields(id = message.id, key = %message.idempotency_key, channel = %message.channel))]
    pub async fn deliver(&self, message: &OutboxMessage) -> Result<Option<String>, DeliveryError> {
        match message.channel {
            Channel::Webhook => {
                let client = self
                    .webhook
                    .as_ref()
                    .ok_or(DeliveryError::NotConfigured(Channel::Webhook))?;
                client
                    .send(&WebhookBody {
                        id: message.idempotency_key.clone(),
                        event_type: message.event_type.clone(),
                        created_at: message.created_at,
                        data: message.payload.clone(),
                    })
                    .await?;
                Ok(None)
            }
            Channel::Email => {
                let sender = self
                    .email
                    .as_ref()
                    .ok_or(DeliveryError::NotConfigured(Channel::Email))?;
                let rendered = email::render(
                    &message.event_type,
                    &message.idempotency_key,
                    &message.payload,
                );
                let id = sender.send(&message.idempotency_key, &rendered).await?;
                Ok(Some(id).filter(|id| !id.is_empty()))
            }
        }
    }

    /// Whether this sender can deliver to `channel`.
    fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Webhook => self.webhook.is_some(),
            Channel::Email => self.email.is_some(),
        }
    }

    /// Delivers then marks one claimed message.
    ///
    /// A channel this sender has no configuration for is marked skipped. A delivery never
    /// outlives its claim's lease (less a tenth for the marking): when the lease ends
    /// another sender may claim the row, and a delivery still running would then be a
    /// second send. A send that succeeded is marked with the provider's id at once (the
    /// mark retried briefly on a database error), so it is not sent again.
    async fn process(&self, message: &OutboxMessage, claimed_at: tokio::time::Instant) -> Outcome {
        if !self.configured(message.channel) {
            return self.skip(message).await;
        }
        let lease = self.options.lease;
        let deadline = claimed_at + lease - lease / 10;
        let delivered = match tokio::time::timeout_at(deadline, self.deliver(message)).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::LeaseExpired(lease)),
        };
        let error = match delivered {
            Ok(provider_id) => return self.mark_sent(message, provider_id.as_deref()).await,
            Err(error) => error,
        };
        let permanent = error.is_permanent();
        tracing::warn!(id = message.id, attempts = message.attempts, permanent, error = %error, "notification not delivered");
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(id = message.id, error = %e, "cannot mark the notification");
                return Outcome::Unmarked;
            }
        };
        let recorded = outbox::record_failure(
            &**client,
            message,
            &error.to_string(),
            permanent,
            &self.options.retry,
        )
        .await;
        match recorded {
            Ok(FailureOutcome::Retry { .. }) => Outcome::Retried,
            Ok(FailureOutcome::GaveUp) => {
                tracing::error!(id = message.id, key = %message.idempotency_key, "notification given up");
                Outcome::GaveUp
            }
            Ok(FailureOutcome::NotPending) => Outcome::Unmarked,
            Err(e) => {
                tracing::error!(id = message.id, error = %e, "cannot mark the notification");
                Outcome::Unmarked
            }
        }
    }

    /// Marks a message of an unconfigured channel skipped.
    async fn skip(&self, message: &OutboxMessage) -> Outcome {
        let reason = format!(
            "the {} channel is not configured on this sender",
            message.channel
        );
        let marked = match self.pool.get().await {
            Ok(client) => outbox::mark_skipped(&**client, message.id, &reason)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match marked {
            Ok(true) => {
                tracing::info!(id = message.id, channel = %message.channel, "notification skipped: channel not configured");
                Outcome::Skipped
            }
            Ok(false) => Outcome::Unmarked,
            Err(e) => {
                tracing::error!(id = message.id, error = %e, "cannot mark the notification skipped");
                Outcome::Unmarked
            }
        }
    }

    /// Records a successful send, retrying the mark a few times on a database error:
    /// an unmarked sent message would be sent again after its lease.
    async fn mark_sent(&self, message: &OutboxMessage, provider_id: Option<&str>) -> Outcome {
        let mut last_error = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let marked = match self.pool.get().await {
                Ok(client) => outbox::mark_sent(&**client, message.id, provider_id)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match marked {
                Ok(true) => return Outcome::Sent,
                Ok(false) => return Outcome::Unmarked,
                Err(e) => last_error = e,
            }
        }
        tracing::error!(id = message.id, key = %message.idempotency_key, provider_id, error = %last_error,
            "sent but not marked: it may be sent again after its lease");
        Outcome::Unmarked
    }

    /// One run: claims and delivers due messages until none is due or `max_messages`
    /// were handled.
    #[tracing::instrument(skip(self))]
    pub async fn run(&self) -> Result<NotifySummary, NotifyError> {
        let mut summary = NotifySummary::default();
        while summary.claimed < self.options.max_messages {
            let room = (self.options.max_messages - summary.claimed) as i64;
            let batch = {
                let client = self.pool.get().await.map_err(DbError::from)?;
                outbox::claim_due(
                    &**client,
                    self.options.batch_size.min(room),
                    self.options.lease,
                )
                .await?
            };
            let claimed_at = tokio::time::Instant::now();
            if batch.is_empty() {
                break;
            }
            summary.claimed += batch.len();
            let outcomes: Vec<Outcome> = futures::stream::iter(&batch)
                .map(|m| self.process(m, claimed_at))
                .buffer_unordered(self.options.concurrency.max(1))
                .collect()
                .await;
            for outcome in outcomes {
                match outcome {
                    Outcome::Sent => summary.sent += 1,
                    Outcome::Retried => summary.retried += 1,
                    Outcome::GaveUp => summary.given_up += 1,
                    Outcome::Unmarked => summary.unmarked += 1,
                    Outcome::Skipped => summary.skipped += 1,
                }
            }
        }
        tracing::info!(?summary, "notify run finished");
        Ok(summary)
    }

    /// The Lambda's handler: [`Self::run`], its run metrics, and the partial-failure rule
    /// (`run_outcome`, docs/events.md): the run fails when a message failed with a
    /// retryable error (another attempt is scheduled in the outbox) or could not be
    /// marked, so the error count and its alarm see an outage; a message given up is
    /// counted (`NotificationsGaveUp`, alarmed) and `tft outbox` shows it.
    pub async fn handle(&self) -> Result<NotifySummary, NotifyError> {
        let summary = self.run().await?;
        let counts = summary.counts();
        let first = (counts.failed_retryable > 0).then(|| {
            format!(
                "{} retried, {} unmarked of {} claimed",
                summary.retried, summary.unmarked, summary.claimed
            )
        });
        let verdict = daily_step_verdict("notify", counts, first.as_deref(), None);
        RunMetrics::new("notify", counts)
            .with("NotificationsGaveUp", summary.given_up as f64)
            .with_failed(verdict.is_err())
            .emit();
        verdict?;
        Ok(summary)
    }
}

impl NotifySummary {
    /// The run's messages by outcome.
    pub fn counts(&self) -> ItemCounts {
        ItemCounts {
            ok: self.sent,
            failed_retryable: self.retried + self.unmarked,
            failed_permanent: self.given_up,
            skipped: self.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_both_channels() {
        let env = [
            ("NOTIFY_WEBHOOK_URL", "https://hooks.example.com/tft"),
            ("NOTIFY_WEBHOOK_SECRET", "whsec_123"),
            ("NOTIFY_EMAIL_FROM", "alerts@example.com"),
            ("NOTIFY_EMAIL_TO", "me@example.com, you@example.com"),
        ];
        let config = NotifyConfig::from_env(&env).unwrap();
        let webhook = config.webhook.as_ref().unwrap();
        assert_eq!(webhook.url, "https://hooks.example.com/tft");
        assert_eq!(webhook.timeout, Duration::from_secs(10));
        let email = config.email.as_ref().unwrap();
        assert_eq!(email.to, ["me@example.com", "you@example.com"]);
        assert_eq!(config.options, SendOptions::default());
        // The secret never shows in a printed config.
        assert!(!format!("{config:?}").contains("whsec_123"));
    }

    #[test]
    fn config_rejects_half_channels_and_a_short_lease() {
        let missing = NotifyConfig::from_env(&[("NOTIFY_WEBHOOK_URL", "https://x")]);
        assert!(matches!(
            missing,
            Err(ConfigError::Missing("NOTIFY_WEBHOOK_SECRET"))
        ));
        let missing = NotifyConfig::from_env(&[("NOTIFY_EMAIL_TO", "a@b.c")]);
        assert!(matches!(
            missing,
            Err(ConfigError::Missing("NOTIFY_EMAIL_FROM"))
        ));
        let short = NotifyConfig::from_env(&[("NOTIFY_LEASE_SECS", "60")]);
        assert!(matches!(
            short,
            Err(ConfigError::Invalid {
                name: "NOTIFY_LEASE_SECS",
                ..
            })
        ));
        let none = NotifyConfig::from_env(&[("UNRELATED", "1")]).unwrap();
        assert!(none.webhook.is_none() && none.email.is_none());
    }

    #[test]
    fn email_transport_defaults_to_ses_and_refuses_unknown_ones() {
        let ses = NotifyConfig::from_env(&[("UNRELATED", "1")]).unwrap();
        assert!(matches!(ses.email_transport, EmailTransport::Ses));
        let unknown = NotifyConfig::from_env(&[("NOTIFY_EMAIL_TRANSPORT", "pigeon")]);
        assert!(matches!(
            unknown,
            Err(ConfigError::Invalid {
                name: "NOTIFY_EMAIL_TRANSPORT",
                ..
            })
        ));
        #[cfg(not(feature = "smtp"))]
        assert!(matches!(
            NotifyConfig::from_env(&[("NOTIFY_EMAIL_TRANSPORT", "smtp")]),
            Err(ConfigError::Invalid {
                name: "NOTIFY_EMAIL_TRANSPORT",
                ..
            })
        ));
    }

    #[cfg(feature = "smtp")]
    #[test]
    fn smtp_transport_needs_an_smtp_url_and_never_quotes_it() {
        let missing = NotifyConfig::from_env(&[("NOTIFY_EMAIL_TRANSPORT", "smtp")]);
        assert!(matches!(missing, Err(ConfigError::Missing("SMTP_URL"))));
        let not_smtp = NotifyConfig::from_env(&[
            ("NOTIFY_EMAIL_TRANSPORT", "smtp"),
            ("SMTP_URL", "https://user:hunter2@mail.example.com"),
        ]);
        let error = not_smtp.unwrap_err().to_string();
        assert!(
            error.contains("SMTP_URL") && !error.contains("hunter2"),
            "{error}"
        );
    }

    #[cfg(feature = "smtp")]
    #[test]
    fn smtp_config_keeps_the_url_secret_and_bounds_the_lease() {
        let url = "smtps://user:hunter2@smtp.example.com:465";
        let config = NotifyConfig::from_env(&[
            ("NOTIFY_EMAIL_TRANSPORT", "SMTP"),
            ("SMTP_URL", url),
            ("NOTIFY_SMTP_TIMEOUT_SECS", "20"),
        ])
        .unwrap();
        match &config.email_transport {
            EmailTransport::Smtp(smtp) => {
                use secrecy::ExposeSecret;
                assert_eq!(smtp.url.expose_secret(), url);
                assert_eq!(smtp.timeout, Duration::from_secs(20));
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{config:?}").contains("hunter2"));
        // 25 messages, 4 at once, 60 s each: 420 s exceeds the 300 s lease.
        let slow = NotifyConfig::from_env(&[
            ("NOTIFY_EMAIL_TRANSPORT", "smtp"),
            ("SMTP_URL", url),
            ("NOTIFY_SMTP_TIMEOUT_SECS", "60"),
        ]);
        assert!(matches!(
            slow,
            Err(ConfigError::Invalid {
                name: "NOTIFY_LEASE_SECS",
                ..
            })
        ));
    }
}
