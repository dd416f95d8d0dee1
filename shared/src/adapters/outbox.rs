//! `notification_outbox`: the transactional outbox of user notifications.
//!
//! A producer [`enqueue`]s in the transaction that writes the signal or exit it
//! announces, so both commit or neither does. The sender (`jobs::notify`) then:
//! 1. [`claim_due`]s a batch in one statement (`FOR UPDATE SKIP LOCKED`), which counts
//!    the attempt and moves `next_attempt_at` forward by a lease, so a concurrent sender
//!    skips those rows now and after the claim commits;
//! 2. delivers each message outside any transaction;
//! 3. [`mark_sent`] (with the provider's message id), [`mark_skipped`] (the channel is
//!    not configured) or [`record_failure`] (retry with backoff for a day, or give up).
//!
//! A crash between 2 and 3 leaves the row claimed until the lease expires, then it is
//! delivered again with the same idempotency key: at least once, never lost.
//! Every statement goes through `query_typed` (PgBouncer in transaction mode).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Channel::Webhook),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Unique per notification: enqueueing the same key twice is a no-op.
    pub idempotency_key: String,
    /// `signal.opened`, `signal.closed`, ...
    pub event_type: String,
    pub channel: Channel,
    /// The event's fields (see docs/notifications.md), sent as the webhook's `data` and
    /// rendered into the e-mail.
    pub payload: serde_json::Value,
}

impl Notification {
    /// A notification keyed `"<event_type>:<entity_id>:<channel>"`.
    pub fn new(
        event_type: impl Into<String>,
        entity_id: impl std::fmt::Display,
        channel: Channel,
        payload: serde_json::Value,
    ) -> Self {
        let event_type = event_type.into();
        Self {
            idempotency_key: format!("{event_type}:{entity_id}:{channel}"),
            event_type,
            channel,
            payload,
        }
    }
}

/// A message the sender holds (claimed, lease running).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub idempotency_key: String,
    pub event_type: String,
    pub channel: Channel,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// The whole row, for operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub message: OutboxMessage,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    /// The sender had no configuration for the channel.
    pub skipped_at: Option<DateTime<Utc>>,
    /// The provider's id of the send (SES MessageId, SMTP Message-ID).
    pub provider_message_id: Option<String>,
}

/// How failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long retryable failures are retried, from the message's `retry_since` (its
    /// queueing, or its last requeue), before it is given up (kept with its last error).
    /// A day: a receiver down through a deploy, an expired credential fixed the next
    /// morning, still get the message.
    pub budget: Duration,
    /// The delay after the first failed attempt; doubled after each further one.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// A day of attempts, 1 min × 2^(n-1) apart, capped at 1 h: 1, 2, 4, 8, 16, 32, then
    /// every 60 min (about 29 attempts).
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(24 * 3600),
            base_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones (`attempts >= 1`).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        self.base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }
}

/// What [`record_failure`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Another attempt at this time.
    Retry { at: DateTime<Utc> },
    /// Given up: permanent error, or the retry budget is spent.
    GaveUp,
    /// The row was no longer pending (sent by a sender whose lease overlapped).
    NotPending,
}

const COLUMNS: &str =
    "id, idempotency_key, event_type, channel, payload::text, created_at, attempts";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn message_from(row: &tokio_postgres::Row) -> Result<OutboxMessage, DbError> {
    let channel: String = row.get(3);
    let payload: String = row.get(4);
    Ok(OutboxMessage {
        id: row.get(0),
        idempotency_key: row.get(1),
        event_type: row.get(2),
        // The CHECK constraint admits only known channels.
        channel: Channel::parse(&channel).unwrap_or(Channel::Webhook),
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created_at: row.get(5),
        attempts: row.get(6),
    })
}

/// Queues `notification`; returns whether a row was inserted (`false`: the key was
/// already queued). Call it with the producer's open transaction, so the notification
/// commits or rolls back with the row it announces.
#[tracing::instrument(skip(client, notification), fields(key = %notification.idempotency_key))]
pub async fn enqueue(
    client: &impl GenericClient,
    notification: &Notification,
) -> Result<bool, DbError> {
    let payload = notification.payload.to_string();
    let channel = notification.channel.as_str();
    let params: [(&(dyn ToSql + Sync), Type); 4] = [
        (&notification.idempotency_key, Type::VARCHAR),
        (&notification.event_type, Type::VARCHAR),
        (&channel, Type::VARCHAR),
        (&payload, Type::TEXT),
    ];
    let rows = client
        .query_typed(
            "INSERT INTO notification_outbox (idempotency_key, event_type, channel, payload) \
             VALUES ($1, $2, $3, $4::jsonb) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            &params,
        )
        .await
        .context("enqueue a notification")?;
    Ok(!rows.is_empty())
}

/// Claims up to `limit` due messages, oldest first, skipping rows another sender holds:
/// counts the attempt and leases each row for `lease` (it is not due again before).
/// One statement, so one short transaction.
#[tracing::instrument(skip(client))]
pub async fn claim_due(
    client: &impl GenericClient,
    limit: i64,
    lease: Duration,
) -> Result<Vec<OutboxMessage>, DbError> {
    let lease_ms = millis(lease);
    let rows = client
        .query_typed(
            &format!(
                "WITH due AS ( \
                     SELECT id FROM notification_outbox \
                     WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL \
                       AND next_attempt_at <= now() \
                     ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 UPDATE notification_outbox o \
                 SET attempts = o.attempts + 1, \
                     next_attempt_at = now() + $2::int8 * interval '1 millisecond' \
                 FROM due WHERE o.id = due.id \
                 RETURNING {}",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("o.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[(&limit, Type::INT8), (&lease_ms, Type::INT8)],
        )
        .await
        .context("claim due notifications")?;
    let mut messages = rows
        .iter()
        .map(message_from)
        .collect::<Result<Vec<_>, _>>()?;
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

/// Marks a delivered message sent, with the provider's id of the send; `false` if it
/// was no longer pending.
#[tracing::instrument(skip(client))]
pub async fn mark_sent(
    client: &impl GenericClient,
    id: i64,
    provider_message_id: Option<&str>,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE notification_outbox SET sent_at = now(), last_error = NULL, provider_message_id = $2 \
             WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL RETURNING id",
            &[(&id, Type::INT8), (&provider_message_id, Type::TEXT)],
        )
        .await
        .context("mark a notification sent")?;
    Ok(!rows.is_empty())
}

/// Marks a message skipped (its channel is not configured); `false` if it was no longer
/// pending.
#[tracing::instrument(skip(client))]
pub async fn mark_skipped(
    client: &impl GenericClient,
    id: i64,
    reason: &str,
) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE notification_outbox SET skipped_at = now(), last_error = $2 \
             WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL RETURNING id",
            &[(&id, Type::INT8), (&reason, Type::TEXT)],
        )
        .await
        .context("mark a notification skipped")?;
    Ok(!rows.is_empty())
}

/// Records a failed attempt of `message` (as claimed): keeps `error`, and either
/// schedules a retry after the policy's backoff or, if `permanent` or the next attempt
/// would fall past the retry budget, gives the message up.
#[tracing::instrument(skip(client, message, error), fields(id = message.id, attempts = message.attempts))]
pub async fn record_failure(
    client: &impl GenericClient,
    message: &OutboxMessage,
    error: &str,
    permanent: bool,
    policy: &RetryPolicy,
) -> Result<FailureOutcome, DbError> {
    let attempts = u32::try_from(message.attempts).unwrap_or(0);
    let delay_ms = millis(policy.backoff(attempts.max(1)));
    let budget_ms = millis(policy.budget);
    let rows = client
        .query_typed(
            "WITH decision AS ( \
                 SELECT id, $3 OR now() + $4::int8 * interval '1 millisecond' \
                                  > retry_since + $5::int8 * interval '1 millisecond' AS give_up \
                 FROM notification_outbox WHERE id = $1) \
             UPDATE notification_outbox o SET last_error = $2, \
                 failed_at = CASE WHEN d.give_up THEN now() END, \
                 next_attempt_at = CASE WHEN d.give_up THEN o.next_attempt_at \
                                        ELSE now() + $4::int8 * interval '1 millisecond' END \
             FROM decision d \
             WHERE o.id = d.id AND o.sent_at IS NULL AND o.failed_at IS NULL AND o.skipped_at IS NULL \
             RETURNING o.next_attempt_at, d.give_up",
            &[
                (&message.id, Type::INT8),
                (&error, Type::TEXT),
                (&permanent, Type::BOOL),
                (&delay_ms, Type::INT8),
                (&budget_ms, Type::INT8),
            ],
        )
        .await
        .context("record a failed notification attempt")?;
    Ok(match rows.first() {
        None => FailureOutcome::NotPending,
        Some(row) if row.get::<_, bool>(1) => FailureOutcome::GaveUp,
        Some(row) => FailureOutcome::Retry { at: row.get(0) },
    })
}

/// Which rows [`list`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// Given up (a permanent error or the retry budget spent).
    GivenUp,
    /// Skipped: the channel was not configured.
    Skipped,
    /// Not sent yet, still retried.
    Pending,
    All,
}

impl ListFilter {
    fn condition(self) -> &'static str {
        match self {
            ListFilter::GivenUp => "failed_at IS NOT NULL",
            ListFilter::Skipped => "skipped_at IS NOT NULL",
            ListFilter::Pending => "sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL",
            ListFilter::All => "TRUE",
        }
    }
}

const ROW_COLUMNS: &str =
    "next_attempt_at, last_error, sent_at, failed_at, skipped_at, provider_message_id";

fn row_from(row: &tokio_postgres::Row) -> Result<OutboxRow, DbError> {
    Ok(OutboxRow {
        message: message_from(row)?,
        next_attempt_at: row.get(7),
        last_error: row.get(8),
        sent_at: row.get(9),
        failed_at: row.get(10),
        skipped_at: row.get(11),
        provider_message_id: row.get(12),
    })
}

/// The newest `limit` rows matching `filter` (`tft outbox list`).
#[tracing::instrument(skip(client))]
pub async fn list(
    client: &impl GenericClient,
    filter: ListFilter,
    limit: i64,
) -> Result<Vec<OutboxRow>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT {COLUMNS}, {ROW_COLUMNS} FROM notification_outbox WHERE {} \
                 ORDER BY created_at DESC, id DESC LIMIT $1",
                filter.condition()
            ),
            &[(&limit, Type::INT8)],
        )
        .await
        .context("list notifications")?;
    rows.iter().map(row_from).collect()
}

/// Puts given-up or skipped messages back in the queue, due now, with a fresh retry
/// budget (`tft outbox requeue`); returns how many. A sent message is never requeued.
#[tracing::instrument(skip(client))]
pub async fn requeue(client: &impl GenericClient, keys: &[String]) -> Result<u64, DbError> {
    let rows = client
        .query_typed(
            "UPDATE notification_outbox SET failed_at = NULL, skipped_at = NULL, \
                 next_attempt_at = now(), retry_since = now() \
             WHERE idempotency_key = ANY($1) AND sent_at IS NULL \
               AND (failed_at IS NOT NULL OR skipped_at IS NOT NULL) \
             RETURNING id",
            &[(&keys, Type::VARCHAR_ARRAY)],
        )
        .await
        .context("requeue notifications")?;
    Ok(rows.len() as u64)
}

/// The row with this idempotency key, if any.
#[tracing::instrument(skip(client))]
pub async fn find_by_key(
    client: &impl GenericClient,
    idempotency_key: &str,
) -> Result<Option<OutboxRow>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT {COLUMNS}, {ROW_COLUMNS} FROM notification_outbox WHERE idempotency_key = $1"
            ),
            &[(&idempotency_key, Type::VARCHAR)],
        )
        .await
        .context("read a notification")?;
    rows.first().map(row_from).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_secs(60));
        assert_eq!(p.backoff(2), Duration::from_secs(120));
        assert_eq!(p.backoff(6), Duration::from_secs(32 * 60));
        assert_eq!(p.backoff(7), Duration::from_secs(3600));
        assert_eq!(p.backoff(1000), Duration::from_secs(3600));
        assert_eq!(p.backoff(0), Duration::from_secs(60));
    }

    #[test]
    fn key_is_event_entity_channel() {
        let n = Notification::new("signal.opened", 42, Channel::Email, serde_json::json!({}));
        assert_eq!(n.idempotency_key, "signal.opened:42:email");
        assert_eq!(Channel::parse("webhook"), Some(Channel::Webhook));
        assert_eq!(Channel::parse("sms"), None);
    }
}
