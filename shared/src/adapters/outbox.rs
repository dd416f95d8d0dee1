//! `notification_outbox`: the transactional outbox of user notifications.
//!
//! A producer [`enqueue`]s in the transaction that writes the signal or exit it
//! announces, so both commit or neither does. The sender (`jobs::notify`) then:
//! 1. [`claim_due`]s a batch in one statement (`FOR UPDATE SKIP LOCKED`), which counts
//!    the attempt and moves `next_attempt_at` forward by a lease, so a concurrent sender
//!    skips those rows now and after the claim commits;
//! 2. delivers each message outside any transaction;
//! 3. [`mark_sent`] or [`record_failure`] (retry with backoff, or give up).
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
}

/// How failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after which a message is given up (kept with its last error).
    pub max_attempts: u32,
    /// The delay after the first failed attempt; doubled after each further one.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 min × 2^(n-1) capped at 1 h: 1, 2, 4, 8, 16, 32, 60 min between
    /// attempts (about 2 h in all).
    fn default() -> Self {
        Self {
            max_attempts: 8,
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
    /// Given up: permanent error or attempts exhausted.
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
                     WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now() \
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

/// Marks a delivered message sent; `false` if it was no longer pending.
#[tracing::instrument(skip(client))]
pub async fn mark_sent(client: &impl GenericClient, id: i64) -> Result<bool, DbError> {
    let rows = client
        .query_typed(
            "UPDATE notification_outbox SET sent_at = now(), last_error = NULL \
             WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL RETURNING id",
            &[(&id, Type::INT8)],
        )
        .await
        .context("mark a notification sent")?;
    Ok(!rows.is_empty())
}

/// Records a failed attempt of `message` (as claimed): keeps `error`, and either
/// schedules a retry after the policy's backoff or, if `permanent` or the attempts are
/// exhausted, gives the message up.
#[tracing::instrument(skip(client, message, error), fields(id = message.id, attempts = message.attempts))]
pub async fn record_failure(
    client: &impl GenericClient,
    message: &OutboxMessage,
    error: &str,
    permanent: bool,
    policy: &RetryPolicy,
) -> Result<FailureOutcome, DbError> {
    let attempts = u32::try_from(message.attempts).unwrap_or(0);
    let give_up = permanent || attempts >= policy.max_attempts;
    let delay_ms = millis(policy.backoff(attempts.max(1)));
    let rows = client
        .query_typed(
            "UPDATE notification_outbox SET last_error = $2, \
                 failed_at = CASE WHEN $3 THEN now() END, \
                 next_attempt_at = CASE WHEN $3 THEN next_attempt_at \
                                        ELSE now() + $4::int8 * interval '1 millisecond' END \
             WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL \
             RETURNING next_attempt_at",
            &[
                (&message.id, Type::INT8),
                (&error, Type::TEXT),
                (&give_up, Type::BOOL),
                (&delay_ms, Type::INT8),
            ],
        )
        .await
        .context("record a failed notification attempt")?;
    Ok(match rows.first() {
        None => FailureOutcome::NotPending,
        Some(_) if give_up => FailureOutcome::GaveUp,
        Some(row) => FailureOutcome::Retry { at: row.get(0) },
    })
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
                "SELECT {COLUMNS}, next_attempt_at, last_error, sent_at, failed_at \
                 FROM notification_outbox WHERE idempotency_key = $1"
            ),
            &[(&idempotency_key, Type::VARCHAR)],
        )
        .await
        .context("read a notification")?;
    rows.first()
        .map(|row| {
            Ok(OutboxRow {
                message: message_from(row)?,
                next_attempt_at: row.get(7),
                last_error: row.get(8),
                sent_at: row.get(9),
                failed_at: row.get(10),
            })
        })
        .transpose()
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
