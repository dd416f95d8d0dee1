//! The `monitor-positions` handler, every 15 minutes: if the NYSE regular session is
//! open now (`core::nyse`: holidays, early closes, DST), first fill the entries pending
//! for today's session at today's open (the quote's first bar; without it the entry
//! stays pending and is reported), then, for each open position, fetch the
//! live quote, apply [`exit_intraday`] (gaps, the sentiment flip, stop, target, time
//! decay) and close what hit, each close one transaction: lock the portfolio, the
//! conditional close (two monitors at once close a position once), the cash, the
//! notifications.
//!
//! Each ticker is fetched → decided → booked on its own (a few at a time), so a stop-loss
//! never waits for another ticker's quote. The run has a deadline (the Lambda's remaining
//! time less [`DEADLINE_MARGIN`]): a quote not in by then leaves its ticker unpriced. A
//! ticker whose quote fails, is stale or late is left untouched and reported as
//! `unpriced` (the run does not fail: it runs again in 15 minutes, and an alarm watches
//! consecutive unpriced runs); the others proceed. A ticker whose booking fails (a
//! database error on its row) is rolled back and reported in `failures` too: the others
//! proceed, and what closed is still announced; the run fails only when every ticker it
//! tried to book failed. Positions that stay open get their mark updated.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::New_York;
use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::adapters::db::{self, DbError, Pool};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::portfolio_store::{self, PendingEntry};
use crate::adapters::quote::QuoteClient;
use crate::adapters::{signal_inputs, signal_store};
use crate::core::calendar::new_york_date;
use crate::core::exits::{
    exit_intraday, Exit, ExitConfig, ExitReason, IntradayQuote, SentimentReading,
};
use crate::core::nyse;
use crate::core::portfolio::Position;
use crate::jobs::generate_signals::session_open;
use crate::jobs::portfolio_book::{self, BookError, Closed, Filled, Missed, Settled};
use crate::jobs::run_outcome::{ItemCounts, RunMetrics};
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
    /// Tickers not checked: quote failed, stale, not in by the run's deadline, or (a
    /// pending entry) without today's open; and tickers whose booking failed. Their
    /// positions and pending entries are untouched.
    pub failures: Vec<TickerFailure>,
    /// The tickers of `failures` that had no usable quote (the run metric
    /// `PositionsUnpriced` counts them; an alarm watches consecutive runs).
    pub unpriced: Vec<String>,
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

/// How long a run may take when no deadline is given (`tft run`, tests): below the
/// function's 120 s timeout in template.yaml.
pub const DEFAULT_RUN_BUDGET: Duration = Duration::from_secs(90);

/// What the Lambda keeps back from its remaining time for the run's end: the last
/// bookings, the `positions.closed` announcement and the response.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// One ticker's work: fill a pending entry of today's session, or check a position
/// (with whether a trader asked to close it).
enum Work {
    Fill(PendingEntry),
    Check(Position, i64, bool),
}

impl Work {
    fn ticker(&self) -> &str {
        match self {
            Work::Fill(p) => &p.ticker,
            Work::Check(p, ..) => &p.ticker,
        }
    }
}

/// What one ticker's fetch → decide → book came to.
enum Outcome {
    /// No usable quote (failed, stale, no open yet, or the run's deadline came first):
    /// the position or entry is untouched.
    Unpriced(TickerFailure),
    /// The quote came and the booking transaction failed (rolled back).
    BookingFailed(String, MonitorError),
    Booked(Booked),
}

/// What a committed booking changed.
#[derive(Default)]
struct Booked {
    settled: Option<Settled>,
    closed: Option<Closed>,
    still_open: Option<String>,
    notifications: usize,
}

impl MonitorPositions {
    /// [`Self::handle_until`] with [`DEFAULT_RUN_BUDGET`] from now.
    #[tracing::instrument(skip(self))]
    pub async fn handle(&self, now: DateTime<Utc>) -> Result<MonitorSummary, MonitorError> {
        Box::pin(self.run(now, Instant::now() + DEFAULT_RUN_BUDGET)).await
    }

    /// Checks every open position (and fills today's pending entries) as of `now`; each
    /// ticker is fetched, decided and booked on its own, so a stop-loss never waits for
    /// another ticker's quote. A quote not in by `deadline` leaves its ticker unpriced
    /// (reported, untouched); bookings already started finish.
    #[tracing::instrument(skip(self, deadline))]
    pub async fn handle_until(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<MonitorSummary, MonitorError> {
        Box::pin(self.run(now, deadline)).await
    }

    async fn run(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<MonitorSummary, MonitorError> {
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
        let Some((work, sentiment)) = self.read_work(today, &mut summary).await? else {
            summary.status = "no paper portfolio yet: nothing held".into();
            return Ok(summary);
        };
        let sentiment = &sentiment;
        let outcomes: Vec<Outcome> = futures::stream::iter(work)
            .map(|w| self.one_ticker(w, sentiment, now, today, deadline))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let first_error = summarise(outcomes, &mut summary);
        let booking_failed = summary.failures.len() - summary.unpriced.len();
        let fails = first_error.is_some() && summary.checked == 0;
        RunMetrics::new(
            "monitor-positions",
            ItemCounts {
                ok: summary.checked,
                failed_retryable: booking_failed,
                failed_permanent: 0,
                skipped: summary.pending_missed_session.len(),
            },
        )
        .with("PositionsUnpriced", summary.unpriced.len() as f64)
        .with("PositionsClosed", summary.closed.len() as f64)
        .with_failed(fails)
        .emit();
        // The run fails only when every ticker it tried to book failed so (nothing could
        // be done: the database); unpriced tickers are reported, not failed (docs/events.md).
        if let (Some(e), true) = (first_error, fails) {
            return Err(e);
        }
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

    /// The positions to check, today's pending entries to fill (earlier ones are left for
    /// generate-signals and reported), and the sentiment the exits read; `None` without a
    /// paper portfolio.
    async fn read_work(
        &self,
        today: NaiveDate,
        summary: &mut MonitorSummary,
    ) -> Result<Option<(Vec<Work>, HashMap<String, SentimentReading>)>, MonitorError> {
        let client = self.pool.get().await.map_err(DbError::from)?;
        let Some(account) = portfolio_store::account_of(&**client).await? else {
            return Ok(None);
        };
        let live = portfolio_store::load(&**client, account).await?;
        let tickers: Vec<String> = live.signal_ids.keys().cloned().collect();
        let sentiment = signal_inputs::latest_sentiment_before(&**client, today, &tickers).await?;
        let requested = signal_store::close_requested(&**client).await?;
        let mut work = Vec::new();
        for p in live.pending.values() {
            if p.entry_date == today {
                work.push(Work::Fill(p.clone()));
            } else if p.entry_date < today {
                summary.pending_missed_session.push(p.ticker.clone());
            }
        }
        work.extend(
            live.state
                .positions
                .iter()
                .filter(|p| !live.pending.contains_key(&p.ticker))
                .filter_map(|p| {
                    let id = live.signal_ids.get(&p.ticker)?;
                    Some(Work::Check(p.clone(), *id, requested.contains(id)))
                }),
        );
        Ok(Some((work, sentiment)))
    }

    /// Fetch → decide → book for one ticker. The quote is bounded by the run's deadline;
    /// the booking, once its quote is in, runs to its commit or rollback.
    async fn one_ticker(
        &self,
        work: Work,
        sentiment: &HashMap<String, SentimentReading>,
        now: DateTime<Utc>,
        today: NaiveDate,
        deadline: Instant,
    ) -> Outcome {
        let ticker = work.ticker().to_string();
        let unpriced = |error: String| {
            let error = match work {
                Work::Fill(_) => format!("{error}: entry stays pending"),
                Work::Check(..) => error,
            };
            Outcome::Unpriced(TickerFailure {
                ticker: ticker.clone(),
                error,
            })
        };
        let quote = match tokio::time::timeout_at(deadline, self.quotes.quote(&ticker)).await {
            Err(_) => return unpriced("no quote before the run's deadline".into()),
            Ok(Err(e)) => return unpriced(e.to_string()),
            Ok(Ok(q)) if new_york_date(q.at) != today => {
                return unpriced(format!("stale quote from {} (not today's session)", q.at))
            }
            Ok(Ok(q)) => q,
        };
        let reading = sentiment.get(&ticker);
        let booked = match &work {
            Work::Fill(_) if quote.day_open.is_none() => {
                return unpriced("the quote has no open for today's session yet".into())
            }
            Work::Fill(pending) => self.fill(pending, &quote, reading, now).await,
            Work::Check(position, id, manual) => {
                self.check(position, *id, *manual, &quote, reading, now)
                    .await
            }
        };
        match booked {
            Ok(b) => Outcome::Booked(b),
            Err(e) => Outcome::BookingFailed(ticker, e),
        }
    }

    /// Fills a pending entry at today's open, then applies the exit rules to the day so
    /// far, in one transaction (the portfolio row locked first). Another monitor that
    /// filled it first leaves nothing to do.
    async fn fill(
        &self,
        pending: &PendingEntry,
        quote: &IntradayQuote,
        reading: Option<&SentimentReading>,
        now: DateTime<Utc>,
    ) -> Result<Booked, MonitorError> {
        let Some(open) = quote.day_open else {
            return Ok(Booked::default());
        };
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .map_err(|e| DbError::Query {
                context: "begin a fill",
                source: e,
            })?;
        let Some(account) = portfolio_store::lock(&*tx).await? else {
            return Ok(Booked::default());
        };
        let mut live = portfolio_store::load(&*tx, account).await?;
        if live.pending.get(&pending.ticker).map(|p| p.signal_id) != Some(pending.signal_id) {
            return Ok(Booked::default()); // filled (or missed) by another run since we read it
        }
        let at = session_open(pending.entry_date);
        let Some((settled, queued)) =
            portfolio_book::fill_entry(&*tx, &mut live, &pending.ticker, open, at).await?
        else {
            return Ok(Booked::default());
        };
        let mut booked = Booked {
            notifications: queued,
            ..Default::default()
        };
        if let Some(position) = live.state.position(&pending.ticker).cloned() {
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
                        booked.notifications += q;
                        booked.closed = Some(c);
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
        if booked.closed.is_none() && live.state.holds(&pending.ticker) {
            booked.still_open = Some(pending.ticker.clone());
        }
        booked.settled = Some(settled);
        Ok(booked)
    }

    /// Applies the exit rules to a filled position: a close is one transaction (the
    /// portfolio row locked first, the conditional close, the cash, the notifications);
    /// otherwise its mark is updated.
    async fn check(
        &self,
        position: &Position,
        id: i64,
        manual: bool,
        quote: &IntradayQuote,
        reading: Option<&SentimentReading>,
        now: DateTime<Utc>,
    ) -> Result<Booked, MonitorError> {
        // A trader's close request: at the quote's last price, whatever the rules say.
        let exit = match manual {
            true => Some(Exit {
                reason: ExitReason::Manual,
                price: quote.last,
            }),
            false => exit_intraday(position, quote, reading, &self.exits),
        };
        let Some(exit) = exit else {
            let client = self.pool.get().await.map_err(DbError::from)?;
            portfolio_store::mark_position(&**client, id, quote.last, quote.at).await?;
            return Ok(Booked {
                still_open: Some(position.ticker.clone()),
                ..Default::default()
            });
        };
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .map_err(|e| DbError::Query {
                context: "begin a close",
                source: e,
            })?;
        let Some(account) = portfolio_store::lock(&*tx).await? else {
            return Ok(Booked::default());
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
        Ok(match booked {
            Some((closed, queued)) => {
                tracing::info!(ticker = %closed.ticker, reason = %closed.exit_reason, "position closed");
                Booked {
                    closed: Some(closed),
                    notifications: queued,
                    ..Default::default()
                }
            }
            None => Booked::default(),
        })
    }
}

/// Folds the tickers' outcomes into the summary; returns the first booking error.
fn summarise(outcomes: Vec<Outcome>, summary: &mut MonitorSummary) -> Option<MonitorError> {
    let mut first_error = None;
    for outcome in outcomes {
        match outcome {
            Outcome::Unpriced(f) => {
                tracing::warn!(ticker = %f.ticker, error = %f.error, "position not checked: unpriced");
                summary.unpriced.push(f.ticker.clone());
                summary.failures.push(f);
            }
            Outcome::BookingFailed(ticker, e) => {
                tracing::error!(%ticker, error = %e, "position not booked: left as it was");
                summary.failures.push(TickerFailure {
                    ticker,
                    error: format!("booking failed: {}", with_sources(&e)),
                });
                first_error.get_or_insert(e);
            }
            Outcome::Booked(b) => {
                summary.checked += 1;
                summary.notifications_queued += b.notifications;
                match b.settled {
                    Some(Settled::Filled(f)) => {
                        tracing::info!(ticker = %f.ticker, open = f.open, "entry filled at the open");
                        summary.filled.push(f);
                    }
                    Some(Settled::Missed(m)) => {
                        tracing::warn!(ticker = %m.ticker, reason = %m.reason, "entry missed");
                        summary.missed.push(m);
                    }
                    None => {}
                }
                summary.closed.extend(b.closed);
                summary.still_open.extend(b.still_open);
            }
        }
    }
    summary.failures.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    summary.unpriced.sort();
    summary.still_open.sort();
    summary.closed.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    summary.pending_missed_session.sort();
    summary.status = format!(
        "checked {} positions: {} filled, {} closed, {} unpriced, {} failed",
        summary.checked,
        summary.filled.len(),
        summary.closed.len(),
        summary.unpriced.len(),
        summary.failures.len() - summary.unpriced.len()
    );
    first_error
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
