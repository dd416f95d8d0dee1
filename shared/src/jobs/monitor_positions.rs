//! The `monitor-positions` handler, every 15 minutes: if the NYSE regular session is
//! open now (`core::nyse`: holidays, early closes, DST), first fill the entries pending
//! for today's session at today's open (the quote's first bar; without it the entry
//! stays pending and is reported), then, for each open position, fetch the
//! live quote, apply [`exit_intraday`] (gaps, the sentiment flip, stop, target, time
//! decay) and close what hit, each close one transaction: lock the portfolio, the
//! conditional close (two monitors at once close a position once), the cash, the
//! notifications. A ticker whose quote fails (or is stale) is left untouched and
//! reported; the others proceed. A ticker whose booking fails (a database error on its
//! row) is rolled back and reported in `failures` too: the others proceed, and what
//! closed is still announced; the run fails only when every ticker it tried failed.
//! Positions that stay open get their mark updated.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::America::New_York;
use futures::StreamExt;
use serde::Serialize;

use crate::adapters::db::{self, DbError, Pool};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::portfolio_store::{self, PendingEntry};
use crate::adapters::quote::QuoteClient;
use crate::adapters::signal_inputs;
use crate::core::calendar::new_york_date;
use crate::core::exits::{exit_intraday, ExitConfig, IntradayQuote, SentimentReading};
use crate::core::nyse;
use crate::core::portfolio::Position;
use crate::jobs::generate_signals::session_open;
use crate::jobs::portfolio_book::{self, BookError, Closed, Filled, Missed, Settled};
use crate::jobs::scrape_prices::TickerFailure;

/// The detail-type announced when a run closed at least one position.
pub const POSITIONS_CLOSED: &str = "positions.closed";

/// The handler's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonitorSummary {
    pub now: Option<DateTime<Utc>>,
    pub market_open: bool,
    /// "market closed: ..." or "checked N positions".
    pub status: String,
    pub checked: usize,
    /// Pending entries filled at today's open (docs/risk.md, "Live fills").
    pub filled: Vec<Filled>,
    /// Pending entries that could not be filled (nothing to pay for one share).
    pub missed: Vec<Missed>,
    /// Pending entries whose session passed unfilled: left for generate-signals to
    /// settle from the stored daily bar.
    pub pending_missed_session: Vec<String>,
    pub closed: Vec<Closed>,
    /// Tickers checked and left open.
    pub still_open: Vec<String>,
    /// Tickers not checked: quote failed, stale, or (a pending entry) without today's
    /// open. Their positions and pending entries are untouched.
    pub failures: Vec<TickerFailure>,
    pub notifications_queued: usize,
    pub event_published: bool,
}

/// The `positions.closed` detail (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionsClosed {
    pub checked_at: DateTime<Utc>,
    pub positions: Vec<Closed>,
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Book(#[from] BookError),
    #[error("announce positions.closed: {0}")]
    Publish(String),
}

#[derive(Clone)]
pub struct MonitorPositions {
    pub pool: Pool,
    pub quotes: QuoteClient,
    pub events: Option<EventPublisher>,
    pub exits: ExitConfig,
    /// Quotes in flight at once.
    pub concurrency: usize,
}

/// Why the market is closed at `now`, or `None` when the regular session is open.
pub fn market_closed_reason(now: DateTime<Utc>) -> Option<String> {
    if nyse::is_open(now) {
        return None;
    }
    let day = new_york_date(now);
    let local = now.with_timezone(&New_York).format("%Y-%m-%d %H:%M %Z");
    Some(match (nyse::session(day), nyse::closure_reason(day)) {
        (Some(s), _) if now < s.open => format!("market closed: before the open ({local})"),
        (Some(s), _) if s.early_close => {
            format!("market closed: after the 13:00 early close ({local})")
        }
        (Some(_), _) => format!("market closed: after the close ({local})"),
        (None, Some(reason)) => format!("market closed: {reason} ({local})"),
        (None, None) => format!("market closed: weekend ({local})"),
    })
}

enum Work {
    Fill(PendingEntry),
    Check(Position, i64),
}

enum Check {
    Failed(TickerFailure),
    Quoted(Position, i64, IntradayQuote),
    /// A pending entry of today's session and a quote with today's open.
    Fill(PendingEntry, IntradayQuote),
}

impl MonitorPositions {
    #[tracing::instrument(skip(self))]
    pub async fn handle(&self, now: DateTime<Utc>) -> Result<MonitorSummary, MonitorError> {
        Box::pin(self.run(now)).await
    }

    async fn run(&self, now: DateTime<Utc>) -> Result<MonitorSummary, MonitorError> {
        let mut summary = MonitorSummary {
            now: Some(now),
            ..Default::default()
        };
        if let Some(reason) = market_closed_reason(now) {
            tracing::info!(%reason, "nothing to do");
            summary.status = reason;
            return Ok(summary);
        }
        summary.market_open = true;
        let today = new_york_date(now);
        let (positions, pending, sentiment) = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            let Some(account) = portfolio_store::account_of(&**client).await? else {
                summary.status = "no paper portfolio yet: nothing held".into();
                return Ok(summary);
            };
            let live = portfolio_store::load(&**client, account).await?;
            let tickers: Vec<String> = live.signal_ids.keys().cloned().collect();
            let sentiment =
                signal_inputs::latest_sentiment_before(&**client, today, &tickers).await?;
            let positions: Vec<(Position, i64)> = live
                .state
                .positions
                .iter()
                .filter(|p| !live.pending.contains_key(&p.ticker))
                .filter_map(|p| live.signal_ids.get(&p.ticker).map(|id| (p.clone(), *id)))
                .collect();
            let mut pending = Vec::new();
            for p in live.pending.values() {
                if p.entry_date == today {
                    pending.push(p.clone());
                } else if p.entry_date < today {
                    summary.pending_missed_session.push(p.ticker.clone());
                }
            }
            (positions, pending, sentiment)
        };

        let work: Vec<Work> = pending
            .into_iter()
            .map(Work::Fill)
            .chain(positions.into_iter().map(|(p, id)| Work::Check(p, id)))
            .collect();
        let checks: Vec<Check> = futures::stream::iter(work)
            .map(|w| async move {
                let ticker = match &w {
                    Work::Fill(p) => p.ticker.clone(),
                    Work::Check(p, _) => p.ticker.clone(),
                };
                let pending = matches!(w, Work::Fill(_));
                let failed = |error: String| {
                    Check::Failed(TickerFailure {
                        ticker: ticker.clone(),
                        error: if pending {
                            format!("{error}: entry stays pending")
                        } else {
                            error
                        },
                    })
                };
                match (self.quotes.quote(&ticker).await, w) {
                    (Err(e), _) => failed(e.to_string()),
                    (Ok(q), _) if new_york_date(q.at) != today => {
                        failed(format!("stale quote from {} (not today's session)", q.at))
                    }
                    (Ok(q), Work::Fill(_)) if q.day_open.is_none() => {
                        failed("the quote has no open for today's session yet".into())
                    }
                    (Ok(q), Work::Fill(p)) => Check::Fill(p, q),
                    (Ok(q), Work::Check(p, id)) => Check::Quoted(p, id, q),
                }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;

        // A ticker whose booking fails is reported and the others proceed; the run fails
        // only when every ticker it tried failed so (nothing could be done: the database).
        let (mut tried, mut first_error) = (0usize, None);
        for check in checks {
            let (ticker, done) = match check {
                Check::Failed(f) => {
                    tracing::warn!(ticker = %f.ticker, error = %f.error, "position not checked");
                    summary.failures.push(f);
                    continue;
                }
                Check::Quoted(position, id, quote) => {
                    let done = self
                        .check(&position, id, &quote, &sentiment, now, &mut summary)
                        .await;
                    (position.ticker, done)
                }
                Check::Fill(pending, quote) => {
                    let done = self
                        .fill(&pending, &quote, &sentiment, now, &mut summary)
                        .await;
                    (pending.ticker, done)
                }
            };
            tried += 1;
            match done {
                Ok(()) => summary.checked += 1,
                Err(e) => {
                    tracing::error!(%ticker, error = %e, "position not booked: left as it was");
                    summary.failures.push(TickerFailure {
                        ticker,
                        error: format!("booking failed: {}", with_sources(&e)),
                    });
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            if summary.checked == 0 && tried > 0 {
                return Err(e);
            }
        }
        summary.failures.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        summary.still_open.sort();
        summary.pending_missed_session.sort();
        summary.status = format!(
            "checked {} positions: {} filled, {} closed, {} failed",
            summary.checked,
            summary.filled.len(),
            summary.closed.len(),
            summary.failures.len()
        );
        if let (Some(events), false) = (&self.events, summary.closed.is_empty()) {
            let detail = PositionsClosed {
                checked_at: now,
                positions: summary.closed.clone(),
            };
            events
                .publish(POSITIONS_CLOSED, &detail)
                .await
                .map_err(|e| MonitorError::Publish(e.to_string()))?;
            summary.event_published = true;
        }
        Ok(summary)
    }

    /// Fills a pending entry at today's open, then applies the exit rules to the day so
    /// far, in one transaction (the portfolio row locked first). Another monitor that
    /// filled it first leaves nothing to do.
    async fn fill(
        &self,
        pending: &PendingEntry,
        quote: &IntradayQuote,
        sentiment: &HashMap<String, SentimentReading>,
        now: DateTime<Utc>,
        summary: &mut MonitorSummary,
    ) -> Result<(), MonitorError> {
        let Some(open) = quote.day_open else {
            return Ok(());
        };
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .map_err(|e| DbError::Query {
                context: "begin a fill",
                source: e,
            })?;
        let Some(account) = portfolio_store::lock(&*tx).await? else {
            return Ok(());
        };
        let mut live = portfolio_store::load(&*tx, account).await?;
        if live.pending.get(&pending.ticker).map(|p| p.signal_id) != Some(pending.signal_id) {
            return Ok(()); // filled (or missed) by another run since we read it
        }
        let at = session_open(pending.entry_date);
        let Some((settled, queued)) =
            portfolio_book::fill_entry(&*tx, &mut live, &pending.ticker, open, at).await?
        else {
            return Ok(());
        };
        let mut notifications = queued;
        let mut closed = None;
        if let Some(position) = live.state.position(&pending.ticker).cloned() {
            let reading = sentiment.get(&pending.ticker);
            match exit_intraday(&position, quote, reading, &self.exits) {
                Some(exit) => {
                    let extra = exit_context(quote, reading);
                    if let Some((c, q)) = portfolio_book::book_exit(
                        &*tx,
                        &mut live,
                        pending.signal_id,
                        &pending.ticker,
                        exit,
                        new_york_date(now),
                        now,
                        extra,
                    )
                    .await?
                    {
                        notifications += q;
                        closed = Some(c);
                    }
                }
                None => {
                    portfolio_store::mark_position(&*tx, pending.signal_id, quote.last, quote.at)
                        .await?;
                }
            }
        }
        tx.commit().await.map_err(|e| DbError::Query {
            context: "commit a fill",
            source: e,
        })?;
        summary.notifications_queued += notifications;
        match settled {
            Settled::Filled(f) => {
                tracing::info!(ticker = %f.ticker, open = f.open, "entry filled at the open");
                summary.filled.push(f);
            }
            Settled::Missed(m) => {
                tracing::warn!(ticker = %m.ticker, reason = %m.reason, "entry missed");
                summary.missed.push(m);
            }
        }
        match closed {
            Some(c) => summary.closed.push(c),
            None if live.state.holds(&pending.ticker) => {
                summary.still_open.push(pending.ticker.clone())
            }
            None => {}
        }
        Ok(())
    }

    async fn check(
        &self,
        position: &Position,
        id: i64,
        quote: &IntradayQuote,
        sentiment: &HashMap<String, SentimentReading>,
        now: DateTime<Utc>,
        summary: &mut MonitorSummary,
    ) -> Result<(), MonitorError> {
        let reading = sentiment.get(&position.ticker);
        let Some(exit) = exit_intraday(position, quote, reading, &self.exits) else {
            let client = self.pool.get().await.map_err(DbError::from)?;
            portfolio_store::mark_position(&**client, id, quote.last, quote.at).await?;
            summary.still_open.push(position.ticker.clone());
            return Ok(());
        };
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .map_err(|e| DbError::Query {
                context: "begin a close",
                source: e,
            })?;
        let Some(account) = portfolio_store::lock(&*tx).await? else {
            return Ok(());
        };
        let mut live = portfolio_store::load(&*tx, account).await?;
        let extra = exit_context(quote, reading);
        let booked = portfolio_book::book_exit(
            &*tx,
            &mut live,
            id,
            &position.ticker,
            exit,
            new_york_date(now),
            now,
            extra,
        )
        .await?;
        tx.commit().await.map_err(|e| DbError::Query {
            context: "commit a close",
            source: e,
        })?;
        if let Some((closed, queued)) = booked {
            tracing::info!(ticker = %closed.ticker, reason = %closed.exit_reason, "position closed");
            summary.notifications_queued += queued;
            summary.closed.push(closed);
        }
        Ok(())
    }
}

/// `e` and its sources (a database error's detail is in its source).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

/// What the monitor saw when it closed a position (merged into `signal.closed`).
fn exit_context(quote: &IntradayQuote, reading: Option<&SentimentReading>) -> serde_json::Value {
    serde_json::json!({
        "quote": {"last": quote.last, "day_open": quote.day_open, "day_high": quote.day_high, "day_low": quote.day_low, "at": quote.at},
        "sentiment": reading.map(|r| serde_json::json!({"trading_date": r.trading_date, "mentions": r.mentions, "sentiment_score": r.sentiment_score, "sentiment_trend": r.sentiment_trend})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn monitor_gate_knows_holidays_weekends_early_closes_and_dst() {
        // Monday 2025-03-24 09:51 EDT: open.
        assert_eq!(market_closed_reason(t("2025-03-24T13:51:33Z")), None);
        // Good Friday 2025-04-18, 11:00 EDT.
        let r = market_closed_reason(t("2025-04-18T15:00:00Z")).unwrap();
        assert!(r.contains("Good Friday"), "{r}");
        // Saturday.
        assert!(market_closed_reason(t("2025-03-22T15:00:00Z"))
            .unwrap()
            .contains("weekend"));
        // Day after Thanksgiving 2024-11-29: open at 12:45 EST, closed at 13:15.
        assert_eq!(market_closed_reason(t("2024-11-29T17:45:00Z")), None);
        assert!(market_closed_reason(t("2024-11-29T18:15:00Z"))
            .unwrap()
            .contains("early close"));
        // DST: 2025-03-10 (EDT) 09:45 is 13:45 UTC, open; the Friday before (EST) 13:45
        // UTC is 08:45, before the open.
        assert_eq!(market_closed_reason(t("2025-03-10T13:45:00Z")), None);
        assert!(market_closed_reason(t("2025-03-07T13:45:00Z"))
            .unwrap()
            .contains("before the open"));
    }
}
