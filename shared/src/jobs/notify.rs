//! The notification sender: delivers what the outbox holds (docs/notifications.md).
//!
//! One run claims due messages in batches (`outbox::claim_due`: counted, leased,
//! skipped by concurrent senders), delivers each batch outside any transaction with
//! bounded concurrency, and marks each message sent, retried later or given up. A run
//! is bounded by `max_messages`, so a backlog is drained over several runs.

use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use secrecy::SecretString;

use crate::adapters::db::DbError;
use crate::adapters::email::{self, EmailError, EmailSender, EmailSettings};
use crate::adapters::outbox::{self, Channel, FailureOutcome, OutboxMessage, RetryPolicy};
use crate::adapters::webhook::{WebhookBody, WebhookClient, WebhookError, WebhookSettings};
use crate::config::{parse, ConfigError, EnvSource};

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

/// The sender's configuration, read once.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `None`: webhook messages fail (and are retried) until it is configured.
    pub webhook: Option<WebhookSettings>,
    /// `None`: e-mail messages fail (and are retried) until it is configured.
    pub email: Option<EmailSettings>,
    pub options: SendOptions,
}

impl NotifyConfig {
    /// - `NOTIFY_WEBHOOK_URL`, `NOTIFY_WEBHOOK_SECRET` (both or neither),
    ///   `NOTIFY_WEBHOOK_TIMEOUT_SECS` (default 10);
    /// - `NOTIFY_EMAIL_FROM`, `NOTIFY_EMAIL_TO` (comma-separated; both or neither);
    /// - `NOTIFY_BATCH_SIZE` (25), `NOTIFY_MAX_MESSAGES` (500), `NOTIFY_CONCURRENCY` (4),
    ///   `NOTIFY_LEASE_SECS` (300), `NOTIFY_MAX_ATTEMPTS` (8), `NOTIFY_RETRY_BASE_SECS`
    ///   (60), `NOTIFY_RETRY_MAX_SECS` (3600).
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
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(ConfigError::Invalid {
                        name: "NOTIFY_WEBHOOK_URL",
                        reason: "must be an http(s) URL".into(),
                    });
                }
                Some(WebhookSettings {
                    url,
                    secret: SecretString::from(secret),
                    timeout,
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
        let slowest_batch = timeout.as_secs() * batch_size.div_ceil(concurrency);
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
                max_attempts: positive(
                    "NOTIFY_MAX_ATTEMPTS",
                    parse(env, "NOTIFY_MAX_ATTEMPTS", u64::from(d.retry.max_attempts))?,
                )?
                .min(u64::from(u32::MAX)) as u32,
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
}

impl DeliveryError {
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Webhook(e) => e.is_permanent(),
            DeliveryError::Email(e) => e.is_permanent(),
            // Configuration can be fixed: retried until the attempts run out.
            DeliveryError::NotConfigured(_) => false,
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
}

enum Outcome {
    Sent,
    Retried,
    GaveUp,
    Unmarked,
}

/// The sender. Built once per container.
#[derive(Debug, Clone)]
pub struct Notifier {
    pool: Pool,
    webhook: Option<WebhookClient>,
    email: Option<EmailSender>,
    options: SendOptions,
}

impl Notifier {
    pub fn new(
        pool: Pool,
        webhook: Option<WebhookClient>,
        email: Option<EmailSender>,
        options: SendOptions,
    ) -> Self {
        Self {
            pool,
            webhook,
            email,
            options,
        }
    }

    /// The clients `config` asks for; SES from the ambient AWS configuration.
    pub async fn from_config(pool: Pool, config: NotifyConfig) -> Result<Self, NotifyError> {
        let webhook = config
            .webhook
            .map(WebhookClient::new)
            .transpose()
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let email = match config.email {
            Some(settings) => Some(EmailSender::from_env(settings).await),
            None => None,
        };
        Ok(Self::new(pool, webhook, email, config.options))
    }

    pub fn options(&self) -> &SendOptions {
        &self.options
    }

    /// Delivers one message to its channel, without touching the outbox.
    #[tracing::instrument(skip(self, message), fields(id = message.id, key = %message.idempotency_key, channel = %message.channel))]
    pub async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
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
                sender.send(&rendered).await?;
            }
        }
        Ok(())
    }

    /// Delivers then marks one claimed message.
    async fn process(&self, message: &OutboxMessage) -> Outcome {
        let delivered = self.deliver(message).await;
        let client = match self.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(id = message.id, error = %e, "cannot mark the notification");
                return Outcome::Unmarked;
            }
        };
        let marked = match &delivered {
            Ok(()) => outbox::mark_sent(&**client, message.id).await.map(|ok| {
                if ok {
                    Outcome::Sent
                } else {
                    Outcome::Unmarked
                }
            }),
            Err(error) => {
                let permanent = error.is_permanent();
                tracing::warn!(id = message.id, attempts = message.attempts, permanent, error = %error, "notification not delivered");
                outbox::record_failure(
                    &**client,
                    message,
                    &error.to_string(),
                    permanent,
                    &self.options.retry,
                )
                .await
                .map(|o| match o {
                    FailureOutcome::Retry { .. } => Outcome::Retried,
                    FailureOutcome::GaveUp => {
                        tracing::error!(id = message.id, key = %message.idempotency_key, "notification given up");
                        Outcome::GaveUp
                    }
                    FailureOutcome::NotPending => Outcome::Unmarked,
                })
            }
        };
        marked.unwrap_or_else(|e| {
            tracing::error!(id = message.id, error = %e, "cannot mark the notification");
            Outcome::Unmarked
        })
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
            if batch.is_empty() {
                break;
            }
            summary.claimed += batch.len();
            let outcomes: Vec<Outcome> = futures::stream::iter(&batch)
                .map(|m| self.process(m))
                .buffer_unordered(self.options.concurrency.max(1))
                .collect()
                .await;
            for outcome in outcomes {
                match outcome {
                    Outcome::Sent => summary.sent += 1,
                    Outcome::Retried => summary.retried += 1,
                    Outcome::GaveUp => summary.given_up += 1,
                    Outcome::Unmarked => summary.unmarked += 1,
                }
            }
        }
        tracing::info!(?summary, "notify run finished");
        Ok(summary)
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
}
