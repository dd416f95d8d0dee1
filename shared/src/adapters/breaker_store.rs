//! The drawdown breaker's trips and releases in PostgreSQL
//! (`migrations/V11__drawdown_breaker.sql`): the latest row is the breaker's state, a
//! release also says from when the equity peak counts again. Written by generate-signals
//! in its run's transaction (after locking the portfolio row); `query_typed` only
//! (PgBouncer in transaction mode).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use super::db::{DbError, QueryContext};
use crate::core::risk::{Breaker, BreakerEvent};

/// The breaker as stored: its state and the last release (the peak restarts there).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StoredBreaker {
    pub breaker: Breaker,
    /// The last release's date and equity (the peak it reset to).
    pub last_release: Option<(NaiveDate, f64)>,
}

/// A recorded trip or release with its row id (the notifications' and the bus event's
/// key).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecordedBreakerEvent {
    pub id: i64,
    pub event: BreakerEvent,
}

/// The breaker's state: the latest row (`tripped`: locked; `released` or none: armed).
pub async fn load(client: &impl GenericClient) -> Result<StoredBreaker, DbError> {
    let latest = client
        .query_typed(
            "SELECT kind::text, trading_date, locked_until FROM breaker_events \
             ORDER BY trading_date DESC, id DESC LIMIT 1",
            &[],
        )
        .await
        .context("read the drawdown breaker")?;
    let breaker = match latest.first() {
        Some(r) if r.get::<_, String>(0) == "tripped" => Breaker::Locked {
            tripped_on: r.get(1),
            locked_until: r.get(2),
        },
        _ => Breaker::Armed,
    };
    let release = client
        .query_typed(
            "SELECT trading_date, equity FROM breaker_events WHERE kind = 'released' \
             ORDER BY trading_date DESC, id DESC LIMIT 1",
            &[],
        )
        .await
        .context("read the breaker's last release")?;
    Ok(StoredBreaker {
        breaker,
        last_release: release.first().map(|r| (r.get(0), r.get(1))),
    })
}

/// Stores a trip or release once per (kind, day); `None` when that day's row exists.
pub async fn record(
    client: &impl GenericClient,
    event: &BreakerEvent,
) -> Result<Option<i64>, DbError> {
    let (peak, locked_until, tripped_on) = match *event {
        BreakerEvent::Tripped {
            peak_equity,
            locked_until,
            ..
        } => (peak_equity, locked_until, None),
        BreakerEvent::Released {
            previous_peak,
            tripped_on,
            ..
        } => (previous_peak, None, Some(tripped_on)),
    };
    let date = event.date();
    let drawdown = event.drawdown().clamp(0.0, 1.0);
    let equity = event.equity();
    let rows = client
        .query_typed(
            "INSERT INTO breaker_events (kind, trading_date, drawdown, equity, peak_equity, locked_until, tripped_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, trading_date) DO NOTHING RETURNING id",
            &[
                (&event.kind(), Type::VARCHAR),
                (&date, Type::DATE),
                (&drawdown, Type::FLOAT8),
                (&equity, Type::FLOAT8),
                (&peak, Type::FLOAT8),
                (&locked_until, Type::DATE),
                (&tripped_on, Type::DATE),
            ],
        )
        .await
        .context("record a breaker event")?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// Every trip and release, by date.
pub async fn events(client: &impl GenericClient) -> Result<Vec<RecordedBreakerEvent>, DbError> {
    let rows = client
        .query_typed(
            "SELECT id, kind::text, trading_date, drawdown, equity, peak_equity, locked_until, tripped_on \
             FROM breaker_events ORDER BY trading_date, id",
            &[],
        )
        .await
        .context("read the breaker events")?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(1);
            let event = if kind == "tripped" {
                BreakerEvent::Tripped {
                    date: r.get(2),
                    drawdown: r.get(3),
                    equity: r.get(4),
                    peak_equity: r.get(5),
                    locked_until: r.get(6),
                }
            } else {
                BreakerEvent::Released {
                    date: r.get(2),
                    tripped_on: r.get::<_, Option<NaiveDate>>(7).unwrap_or_default(),
                    drawdown: r.get(3),
                    equity: r.get(4),
                    previous_peak: r.get(5),
                }
            };
            RecordedBreakerEvent {
                id: r.get(0),
                event,
            }
        })
        .collect())
}
