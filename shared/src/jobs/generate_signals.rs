//! The `generate-signals` handler: after `predictions.ready` for trading day D, turn D's
//! predictions into trades with [`plan_day`] (the function the backtester calls too),
//! book them into the paper portfolio, queue their notifications, record why refused
//! candidates were refused, mark the equity curve, and announce `signals.generated`.
//!
//! The whole day is one transaction that first locks the portfolio row and claims D's
//! run (`signal_runs`, one per date whatever the model): a re-delivered event, or one
//! naming a model promoted since, finds the run and changes nothing (its stored summary
//! is returned and the event re-announced; consumers are idempotent).
//!
//! Fills (docs/risk.md, "Live fills"), as the backtester's: an entry is booked *pending*
//! with its cash reserved at D's close estimate, and filled at the next session's open
//! by the first monitor-positions run of that session (`entry_date`; time decay counts
//! from it); a flip sells at D's close. Before planning, a pending entry whose session
//! has passed without a fill (Yahoo failed all session) is settled from the stored daily
//! bar: filled at its open, then the exit rules of `exits::exit_on_bar` on each stored
//! bar up to D, as the backtester would; without a bar on its session it is missed.
//! Then every other filled position gets `exit_on_bar` on D's stored bar (a stop or
//! target touched after the monitor's last run of the session). A planned entry the
//! cash cannot pay one share of once costs count is refused
//! (`insufficient_cash_after_costs`), a flip of a pending entry is skipped, and a
//! re-delivery reports predicted tickers the committed run never considered.
//!
//! The drawdown breaker (`core::risk::breaker`, docs/risk.md) is read from
//! `breaker_events` with the portfolio; `plan_day` trips or releases it at D's closes,
//! and the run stores that row and its two outbox rows (`breaker.tripped` /
//! `breaker.released`) in its transaction, then puts the same-named event on the bus.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::GenericClient;

use crate::adapters::api_keys;
use crate::adapters::breaker_store::{self, RecordedBreakerEvent};
use crate::adapters::db::{self, DbError, Pool};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::portfolio_store::{
    self, EquityMark, LivePortfolio, PendingEntry, RejectionRecord,
};
use crate::adapters::signal_inputs::{self, TickerDay};
use crate::adapters::signal_store::{self, NewSignal};
use crate::adapters::{prediction_store, price_store};
use crate::config::{parse, ConfigError, EnvSource};
use crate::core::calendar::new_york_instant;
use crate::core::exits::{self, ExitConfig};
use crate::core::nyse;
use crate::core::portfolio::{Costs, PortfolioError};
use crate::core::risk::gate::{GateSettingError, DEFAULT_ENTRY_GATE, DEFAULT_SELL_FLIP};
use crate::core::risk::{Breaker, BreakerEvent, BreakerMode, RiskConfig};
use crate::core::signals::{plan_day, DayPlan, MarketRow};
use crate::jobs::portfolio_book::{self, BookError, Closed, Opened, Settled};
use crate::jobs::run_outcome::{ItemCounts, RunMetrics};
use crate::jobs::scheduled::{DailyRun, EventError};

/// The refusal of a planned entry that the cash no longer pays one share of once the
/// costs are counted (the risk manager sizes without costs, as the backtester).
pub const INSUFFICIENT_CASH_AFTER_COSTS: &str = "insufficient_cash_after_costs";

/// The rule code of an entry refused because new entries are paused (the API's
/// `POST /v1/trading/pause`).
pub const ENTRIES_PAUSED: &str = "entries_paused";

/// The detail-type announced when a day's signals committed.
pub const SIGNALS_GENERATED: &str = "signals.generated";

/// The trading rules and the paper portfolio's starting point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TradingConfig {
    /// `TFT_STARTING_EQUITY` (100 000): the paper portfolio's cash when first created.
    pub starting_equity: f64,
    pub risk: RiskConfig,
    pub exits: ExitConfig,
    pub costs: Costs,
}

impl Default for TradingConfig {
    fn default() -> Self {
        Self {
            starting_equity: 100_000.0,
            risk: RiskConfig::default(),
            exits: ExitConfig::default(),
            costs: Costs::default(),
        }
    }
}

impl TradingConfig {
    /// `TFT_STARTING_EQUITY` (default 100 000, must be positive) and
    /// `TFT_BREAKER_COOLOFF_DAYS` (default 20 trading days; `0` or `permanent`: the seed's
    /// halt); the other rules are the seed's.
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let starting_equity: f64 = parse(env, "TFT_STARTING_EQUITY", 100_000.0)?;
        let breaker: BreakerMode = parse(env, "TFT_BREAKER_COOLOFF_DAYS", BreakerMode::default())?;
        if !(starting_equity > 0.0 && starting_equity.is_finite()) {
            return Err(ConfigError::Invalid {
                name: "TFT_STARTING_EQUITY",
                reason: format!("{starting_equity} is not a positive amount"),
            });
        }
        let mut risk = RiskConfig {
            breaker,
            entry_gate: DEFAULT_ENTRY_GATE,
            sell_flip: DEFAULT_SELL_FLIP,
            ..RiskConfig::default()
        };
        if let Some(gate) = env.get("TFT_ENTRY_GATE") {
            risk.entry_gate = gate
                .parse()
                .map_err(|e: GateSettingError| ConfigError::Invalid {
                    name: "TFT_ENTRY_GATE",
                    reason: e.to_string(),
                })?;
        }
        if let Some(flip) = env.get("TFT_SELL_FLIP") {
            risk.sell_flip = flip
                .parse()
                .map_err(|e: GateSettingError| ConfigError::Invalid {
                    name: "TFT_SELL_FLIP",
                    reason: e.to_string(),
                })?;
        }
        Ok(Self {
            starting_equity,
            risk,
            ..Self::default()
        })
    }
}

/// What `predictions.ready` carries (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalsRequest {
    pub trading_date: NaiveDate,
    /// The model whose predictions to trade; `None`: the day's most recent.
    pub model_version: Option<String>,
}

impl SignalsRequest {
    pub fn from_event(event: &serde_json::Value) -> Result<Self, EventError> {
        let run = DailyRun::from_event(event)?;
        let model_version = match event.pointer("/detail/model_version") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(v)) if !v.trim().is_empty() => Some(v.clone()),
            Some(other) => {
                return Err(EventError::BadDetail(format!(
                    "detail.model_version must be a non-empty string, got {other}"
                )))
            }
        };
        Ok(Self {
            trading_date: run.trading_date,
            model_version,
        })
    }
}

/// A refused candidate, for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    pub ticker: String,
    /// Rule codes (`confidence_too_low`, `no_market_data`, ...).
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
}

/// The handler's result (also stored on the run's `signal_runs` row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerateSignalsSummary {
    pub trading_date: Option<NaiveDate>,
    pub model_version: Option<String>,
    /// The run had committed before: nothing was changed by this one.
    pub already_generated: bool,
    pub predictions: usize,
    /// Entries booked pending, to fill at the next session's open.
    pub opened: Vec<Opened>,
    /// Earlier pending entries the monitor had not filled, settled from the stored daily
    /// bar of their session (filled at its open, or missed without a bar).
    #[serde(default)]
    pub settled: Vec<Settled>,
    pub closed: Vec<Closed>,
    pub refused: Vec<Refused>,
    /// Flips of tickers whose entry is still pending (not filled yet): not sold, the
    /// entry stands (docs/risk.md, "Flips").
    #[serde(default)]
    pub flips_skipped_pending: Vec<String>,
    /// The tickers this run considered (its predictions), to tell a later delivery's
    /// new tickers apart.
    #[serde(default)]
    pub considered: Vec<String>,
    /// A later delivery for an already generated (date, model): predicted tickers the
    /// committed run never considered (reported, not traded: docs/risk.md).
    #[serde(default)]
    pub unconsidered: Vec<String>,
    /// A later delivery naming another model than the one the day was traded with (a
    /// promotion in between): that model, whose predictions were not traded. One
    /// trading run per date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_traded_model_version: Option<String>,
    pub notifications_queued: usize,
    pub cash: f64,
    pub equity: f64,
    pub drawdown: f64,
    /// The drawdown breaker after the run (docs/risk.md, "Drawdown breaker").
    #[serde(default)]
    pub breaker: Breaker,
    /// The trip or release this run recorded (announced as `breaker.tripped` /
    /// `breaker.released`, notified through the outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_event: Option<RecordedBreakerEvent>,
    pub event_published: bool,
}

/// The `signals.generated` detail (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalsGenerated {
    pub trading_date: NaiveDate,
    pub model_version: String,
    pub opened: Vec<String>,
    pub closed: Vec<String>,
    pub refused: usize,
    pub notifications_queued: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Book(#[from] portfolio_book::BookError),
    #[error(transparent)]
    Predictions(#[from] prediction_store::PredictionReadError),
    #[error("announce signals.generated: {0}")]
    Publish(String),
    #[error("the paper_portfolio row is missing (it is created before the run starts)")]
    NoPortfolio,
    #[error("generate-signals: nothing for the next step: no predictions stored for {0}")]
    NoPredictions(NaiveDate),
}

#[derive(Clone)]
pub struct GenerateSignals {
    pub pool: Pool,
    pub events: Option<EventPublisher>,
    pub config: TradingConfig,
}

fn db(e: tokio_postgres::Error, context: &'static str) -> DbError {
    DbError::Query { context, source: e }
}

impl GenerateSignals {
    #[tracing::instrument(skip(self), fields(trading_date = %req.trading_date))]
    pub async fn handle(
        &self,
        req: &SignalsRequest,
    ) -> Result<GenerateSignalsSummary, GenerateError> {
        // Boxed: the run's future is large (one transaction of many steps).
        let result = Box::pin(self.run(req)).await;
        let summary = result.as_ref().ok();
        let counts = ItemCounts {
            ok: summary.map_or(0, |s| s.predictions),
            skipped: summary.map_or(0, |s| s.refused.len()),
            ..Default::default()
        };
        RunMetrics::new("generate-signals", counts)
            .with(
                "SignalsOpened",
                summary.map_or(0, |s| s.opened.len()) as f64,
            )
            .with(
                "PositionsClosed",
                summary.map_or(0, |s| s.closed.len()) as f64,
            )
            .with_failed(result.is_err())
            .emit();
        result
    }

    /// The day's run: read what the decision needs, call `plan_day` (the backtester's
    /// function), write its result in the one transaction, announce.
    async fn run(&self, req: &SignalsRequest) -> Result<GenerateSignalsSummary, GenerateError> {
        let date = req.trading_date;
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        portfolio_store::ensure(&**client, self.config.starting_equity, self.config.costs).await?;
        let model_version = match &req.model_version {
            Some(v) => Some(v.clone()),
            None => signal_inputs::latest_model_version(&**client, date).await?,
        };
        // No predictions means predict did not run (or predicted nothing): an error, so
        // the chain does not end silently (docs/events.md, "When a run fails").
        let Some(model_version) = model_version else {
            return Err(GenerateError::NoPredictions(date));
        };

        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .map_err(|e| db(e, "begin the signal run"))?;
        let account = portfolio_store::lock(&*tx)
            .await?
            .ok_or(GenerateError::NoPortfolio)?;
        if !portfolio_store::begin_signal_run(&*tx, date, &model_version).await? {
            let (summary, traded_with) = self.committed_run(&*tx, date, &model_version).await?;
            drop(tx);
            self.announce_breaker(&summary).await?;
            let mut summary = summary;
            summary.event_published = self.announce(date, &traded_with, &summary).await?;
            tracing::info!("signals of the day already generated: nothing changed");
            return Ok(summary);
        }

        let summary = self.trade_day(&*tx, account, date, &model_version).await?;
        tx.commit()
            .await
            .map_err(|e| db(e, "commit the signal run"))?;

        self.announce_breaker(&summary).await?;
        let mut summary = summary;
        summary.event_published = self.announce(date, &model_version, &summary).await?;
        tracing::info!(
            opened = summary.opened.len(),
            closed = summary.closed.len(),
            refused = summary.refused.len(),
            "signals generated"
        );
        Ok(summary)
    }

    /// The day was traded already (one run per date, whatever the model): its stored
    /// summary, with what this delivery would have added (tickers the run never
    /// considered, a model it did not trade); and the model the day was traded with.
    async fn committed_run(
        &self,
        tx: &impl GenericClient,
        date: NaiveDate,
        model_version: &str,
    ) -> Result<(GenerateSignalsSummary, String), GenerateError> {
        let (traded_with, stored) = portfolio_store::signal_run_of(tx, date)
            .await?
            .unwrap_or_else(|| (model_version.to_string(), serde_json::Value::Null));
        let mut summary: GenerateSignalsSummary =
            serde_json::from_value(stored).unwrap_or_default();
        summary.already_generated = true;
        summary.notifications_queued = 0;
        summary.model_version = Some(traded_with.clone());
        if traded_with != model_version {
            tracing::warn!(
                traded_with = %traded_with,
                requested = %model_version,
                "the day was traded with another model: this model's predictions are not traded"
            );
            summary.not_traded_model_version = Some(model_version.to_string());
        }
        summary.unconsidered = unconsidered(tx, date, &traded_with, &summary.considered).await?;
        if !summary.unconsidered.is_empty() {
            tracing::warn!(
                tickers = ?summary.unconsidered,
                "predictions arrived after the day's signals were generated: not considered"
            );
        }
        Ok((summary, traded_with))
    }

    /// Everything the day's transaction writes: earlier pending entries settled, exits
    /// on D's bar, the plan (`plan_day`), the breaker, marks, flips, entries, refusals,
    /// the equity mark and the run's summary.
    async fn trade_day(
        &self,
        tx: &impl GenericClient,
        account: portfolio_store::PortfolioAccount,
        date: NaiveDate,
        model_version: &str,
    ) -> Result<GenerateSignalsSummary, GenerateError> {
        let predictions: Vec<_> = prediction_store::load_predictions(tx, date, model_version)
            .await?
            .into_iter()
            .map(|record| record.prediction)
            .collect();
        // An event naming a model with nothing stored for the day (a hand-made or a
        // stale delivery) must not become the day's run: the watchdog would take it for
        // the day's trading. The transaction rolls back, the run claim with it.
        if predictions.is_empty() {
            return Err(GenerateError::NoPredictions(date));
        }
        let mut live = portfolio_store::load(tx, account).await?;
        // Only equity at D's closes may raise the peak: fills and exits booked below
        // value the other positions at their stored (intraday) marks.
        let stored_peak = live.state.peak_equity;
        let mut summary = GenerateSignalsSummary {
            trading_date: Some(date),
            model_version: Some(model_version.to_string()),
            predictions: predictions.len(),
            considered: predictions.iter().map(|p| p.ticker.clone()).collect(),
            ..Default::default()
        };
        summary.considered.sort();
        summary.considered.dedup();
        self.settle_pending(tx, &mut live, date, &mut summary)
            .await?;
        self.exit_on_the_day_bar(tx, &mut live, date, &mut summary)
            .await?;
        let mut tickers: Vec<String> = predictions.iter().map(|p| p.ticker.clone()).collect();
        tickers.extend(live.state.positions.iter().map(|p| p.ticker.clone()));
        tickers.sort();
        tickers.dedup();
        let days = signal_inputs::load_ticker_days(tx, date, &tickers).await?;
        let market: HashMap<String, MarketRow> =
            days.iter().map(|(t, d)| (t.clone(), d.market)).collect();
        // The breaker and the risk manager read the drawdown from the stored peak too.
        live.state.peak_equity = stored_peak;
        let mut plan = plan_day(date, &predictions, &market, &live.state, &self.config.risk);
        // Entries paused through the API (exits keep running): the planned entries are
        // refused, with who paused them, so "why no trade today" says so.
        let control = api_keys::trading_control(tx).await?;
        let paused = if control.entries_paused {
            std::mem::take(&mut plan.entries)
        } else {
            Vec::new()
        };

        let closes: HashMap<String, f64> =
            market.iter().map(|(t, m)| (t.clone(), m.close)).collect();
        live.state.peak_equity = stored_peak;
        live.state.mark_to_market(&closes);
        self.breaker_and_marks(tx, &mut live, &plan, date, &closes, &mut summary)
            .await?;
        let day = Day {
            date,
            model_version,
            days: &days,
        };
        self.book_flips(tx, &mut live, &plan, &day, &mut summary)
            .await?;
        self.book_entries(tx, &mut live, &plan, &day, &mut summary)
            .await?;
        record_refusals(tx, &plan, &predictions, &day, &mut summary).await?;
        for entry in &paused {
            let reason = format!(
                "new entries are paused (by {} at {}{})",
                control.changed_by.as_deref().unwrap_or("an operator"),
                control.changed_at.format("%Y-%m-%d %H:%M UTC"),
                control
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            let detail = json!({"rule": ENTRIES_PAUSED, "paused_by": control.changed_by, "paused_at": control.changed_at});
            let rules = vec![(ENTRIES_PAUSED.to_string(), reason, detail)];
            refuse(
                tx,
                &day,
                &entry.ticker,
                Some(entry.confidence),
                rules,
                &mut summary,
            )
            .await?;
        }

        let mark = EquityMark::of(date, &live.state);
        portfolio_store::upsert_equity_mark(tx, &mark).await?;
        summary.cash = mark.cash;
        summary.equity = mark.equity;
        summary.drawdown = mark.drawdown;
        let stored = serde_json::to_value(&summary).unwrap_or_default();
        portfolio_store::finish_signal_run(tx, date, model_version, &stored).await?;
        Ok(summary)
    }

    /// Steps the breaker at D's closes (a trip locks the entries, none were planned; a
    /// release resets the peak), records its event with its notifications, and marks the
    /// held positions at D's closes.
    async fn breaker_and_marks(
        &self,
        tx: &impl GenericClient,
        live: &mut LivePortfolio,
        plan: &DayPlan,
        date: NaiveDate,
        closes: &HashMap<String, f64>,
        summary: &mut GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        plan.apply_breaker(&mut live.state);
        summary.breaker = live.state.breaker;
        if let Some(event) = &plan.breaker_event {
            summary.breaker_event = record_breaker_event(tx, event).await?;
            summary.notifications_queued += match &summary.breaker_event {
                Some(recorded) => {
                    portfolio_book::announce(
                        tx,
                        event.event_type(),
                        recorded.id,
                        breaker_payload(recorded, &self.config.risk),
                    )
                    .await?
                }
                None => 0,
            };
        }
        let close_at = session_close(date);
        for (ticker, id) in &live.signal_ids {
            if let Some(price) = closes.get(ticker) {
                portfolio_store::mark_position(tx, *id, *price, close_at).await?;
            }
        }
        Ok(())
    }

    /// Sells the held tickers the ensemble flipped, at D's close: a SELL row linked to
    /// the BUY it closes, standing only if the BUY really closed (a savepoint).
    async fn book_flips(
        &self,
        tx: &impl GenericClient,
        live: &mut LivePortfolio,
        plan: &DayPlan,
        day: &Day<'_>,
        summary: &mut GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        let close_at = session_close(day.date);
        for flip in &plan.flips {
            let Some(&buy_id) = live.signal_ids.get(&flip.ticker) else {
                continue;
            };
            if live.pending.contains_key(&flip.ticker) {
                // Not filled yet: there is nothing to sell. The entry stands; its exits
                // apply once filled.
                tracing::warn!(ticker = %flip.ticker, "flip of a pending entry: not sold");
                summary.flips_skipped_pending.push(flip.ticker.clone());
                continue;
            }
            let sell = self.signal(
                &flip.prediction.ticker,
                day.date,
                day.model_version,
                day.days.get(&flip.ticker),
                flip.exit.price,
                flip.prediction.confidence,
                "SELL",
            );
            savepoint(tx, "SAVEPOINT flip").await?;
            let sell_id = signal_store::insert_signal(tx, &sell).await?;
            if let Some(sell_id) = sell_id {
                signal_store::link_flip(tx, sell_id, buy_id).await?;
            }
            let extra = json!({"sell_signal_id": sell_id, "confidence": flip.prediction.confidence, "model_version": day.model_version});
            let booked = portfolio_book::book_exit(
                tx,
                live,
                buy_id,
                &flip.ticker,
                flip.exit,
                day.date,
                close_at,
                extra,
            )
            .await?;
            match booked {
                Some((closed, queued)) => {
                    savepoint(tx, "RELEASE SAVEPOINT flip").await?;
                    summary.notifications_queued += queued;
                    summary.closed.push(closed);
                }
                None => {
                    tracing::warn!(ticker = %flip.ticker, "flip of a BUY that is not open: no SELL");
                    savepoint(tx, "ROLLBACK TO SAVEPOINT flip").await?;
                }
            }
        }
        Ok(())
    }

    /// Books the planned entries pending for the next session's open; an entry the cash
    /// cannot pay one share of once costs count is refused
    /// (`insufficient_cash_after_costs`).
    async fn book_entries(
        &self,
        tx: &impl GenericClient,
        live: &mut LivePortfolio,
        plan: &DayPlan,
        day: &Day<'_>,
        summary: &mut GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        let close_at = session_close(day.date);
        let entry_date = nyse::next_trading_day(day.date);
        let expires_at = exits::expires_at(entry_date, &self.config.exits);
        for plan in &plan.entries {
            let mut signal = self.signal(
                &plan.ticker,
                day.date,
                day.model_version,
                day.days.get(&plan.ticker),
                plan.entry,
                plan.confidence,
                "BUY",
            );
            signal.target_price = Some(plan.target);
            signal.stop_loss = Some(plan.stop);
            signal.risk_reward_ratio = Some(plan.reward_risk);
            signal.position_size_pct = Some(plan.position_pct.clamp(0.0, 1.0));
            signal.shares = Some(plan.shares as i64);
            signal.expires_at = Some(expires_at);
            match portfolio_book::book_entry(tx, live, &signal, plan, entry_date, close_at).await {
                Ok(Some((opened, queued))) => {
                    summary.notifications_queued += queued;
                    summary.opened.push(opened);
                }
                Ok(None) => {}
                // The plan was sized without costs; with them not one share is left.
                Err(BookError::Portfolio {
                    source: PortfolioError::InsufficientCash { needed, available },
                    ..
                }) => {
                    let reason = format!(
                        "{} at {}: one share costs {needed:.2} with costs, {available:.2} in cash",
                        plan.ticker, plan.entry
                    );
                    tracing::warn!(ticker = %plan.ticker, %reason, "entry refused after costs");
                    let detail = json!({"rule": INSUFFICIENT_CASH_AFTER_COSTS, "needed": needed, "available": available, "planned_shares": plan.shares});
                    refuse(
                        tx,
                        day,
                        &plan.ticker,
                        Some(plan.confidence),
                        vec![(INSUFFICIENT_CASH_AFTER_COSTS.to_string(), reason, detail)],
                        summary,
                    )
                    .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn settle_pending(
        &self,
        tx: &impl GenericClient,
        live: &mut LivePortfolio,
        date: NaiveDate,
        summary: &mut GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        let mut due: Vec<PendingEntry> = live
            .pending
            .values()
            .filter(|p| p.entry_date <= date)
            .cloned()
            .collect();
        due.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        for pending in due {
            let bars =
                price_store::load_bars_between(tx, &pending.ticker, pending.entry_date, date)
                    .await?;
            let settled = match bars.first() {
                Some(bar) if bar.date == pending.entry_date => {
                    let at = session_open(bar.date);
                    portfolio_book::fill_entry(tx, live, &pending.ticker, bar.open, at).await?
                }
                _ => {
                    let reason = format!(
                        "no open for {} on {}: no quote during the session and no stored bar",
                        pending.ticker, pending.entry_date
                    );
                    portfolio_book::miss_entry(
                        tx,
                        live,
                        &pending.ticker,
                        &reason,
                        session_close(date),
                    )
                    .await?
                }
            };
            let Some((settled, queued)) = settled else {
                continue;
            };
            summary.notifications_queued += queued;
            let filled = matches!(settled, Settled::Filled(_));
            summary.settled.push(settled);
            if !filled {
                continue;
            }
            for bar in &bars {
                let Some(position) = live.state.position(&pending.ticker).cloned() else {
                    break;
                };
                let tickers = [pending.ticker.clone()];
                let sentiment =
                    signal_inputs::latest_sentiment_before(tx, bar.date, &tickers).await?;
                let Some(exit) = exits::exit_on_bar(
                    &position,
                    bar,
                    sentiment.get(&pending.ticker),
                    &self.config.exits,
                ) else {
                    continue;
                };
                let extra = json!({"settled_from_daily_bar": bar.date});
                if let Some((closed, queued)) = portfolio_book::book_exit(
                    tx,
                    live,
                    pending.signal_id,
                    &pending.ticker,
                    exit,
                    bar.date,
                    session_close(bar.date),
                    extra,
                )
                .await?
                {
                    summary.notifications_queued += queued;
                    summary.closed.push(closed);
                }
            }
        }
        Ok(())
    }

    /// Applies the exit rules of `exits::exit_on_bar` (the backtester's) to D's stored
    /// bar for every filled position this run did not settle: a stop or target touched
    /// after the monitor's last run of the session is booked at the rule's price. The
    /// close is conditional: a position the monitor closed is not held any more.
    async fn exit_on_the_day_bar(
        &self,
        tx: &impl GenericClient,
        live: &mut LivePortfolio,
        date: NaiveDate,
        summary: &mut GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        let settled: Vec<&str> = summary
            .settled
            .iter()
            .map(|s| match s {
                Settled::Filled(f) => f.ticker.as_str(),
                Settled::Missed(m) => m.ticker.as_str(),
            })
            .collect();
        let mut held: Vec<(crate::core::portfolio::Position, i64)> = live
            .state
            .positions
            .iter()
            .filter(|p| !live.pending.contains_key(&p.ticker))
            .filter(|p| !settled.contains(&p.ticker.as_str()))
            .filter_map(|p| live.signal_ids.get(&p.ticker).map(|id| (p.clone(), *id)))
            .collect();
        held.sort_by(|a, b| a.0.ticker.cmp(&b.0.ticker));
        let tickers: Vec<String> = held.iter().map(|(p, _)| p.ticker.clone()).collect();
        let sentiment = signal_inputs::latest_sentiment_before(tx, date, &tickers).await?;
        let mut closed = Vec::new();
        for (position, id) in held {
            let bars = price_store::load_bars_between(tx, &position.ticker, date, date).await?;
            let Some(bar) = bars.iter().find(|b| b.date == date) else {
                continue;
            };
            let reading = sentiment.get(&position.ticker);
            let Some(exit) = exits::exit_on_bar(&position, bar, reading, &self.config.exits) else {
                continue;
            };
            let extra = json!({"exited_on_daily_bar": date});
            if let Some((c, queued)) = portfolio_book::book_exit(
                tx,
                live,
                id,
                &position.ticker,
                exit,
                date,
                session_close(date),
                extra,
            )
            .await?
            {
                tracing::info!(ticker = %c.ticker, reason = %c.exit_reason, "closed on the day's bar");
                summary.notifications_queued += queued;
                closed.push(c);
            }
        }
        summary.closed.extend(closed);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn signal(
        &self,
        ticker: &str,
        date: NaiveDate,
        model_version: &str,
        day: Option<&TickerDay>,
        price: f64,
        confidence: f64,
        direction: &'static str,
    ) -> NewSignal {
        NewSignal {
            ticker: ticker.to_string(),
            trading_date: date,
            signal: direction,
            confidence: confidence.clamp(0.0, 1.0),
            model_version: model_version.to_string(),
            entry_price: price,
            target_price: None,
            stop_loss: None,
            risk_reward_ratio: None,
            position_size_pct: None,
            shares: None,
            rsi_value: day.and_then(|d| d.rsi),
            macd_value: day.and_then(|d| d.macd),
            sentiment_score: day.and_then(|d| d.sentiment_score),
            sentiment_trend: day.and_then(|d| d.sentiment_trend),
            expires_at: None,
        }
    }

    /// Puts the run's breaker trip or release on the bus (again on a re-delivery, as
    /// `signals.generated`: the id tells consumers it is the same event).
    async fn announce_breaker(
        &self,
        summary: &GenerateSignalsSummary,
    ) -> Result<(), GenerateError> {
        let (Some(events), Some(recorded)) = (&self.events, &summary.breaker_event) else {
            return Ok(());
        };
        events
            .publish(
                recorded.event.event_type(),
                &breaker_payload(recorded, &self.config.risk),
            )
            .await
            .map_err(|e| GenerateError::Publish(e.to_string()))
    }

    async fn announce(
        &self,
        date: NaiveDate,
        model_version: &str,
        summary: &GenerateSignalsSummary,
    ) -> Result<bool, GenerateError> {
        let Some(events) = &self.events else {
            return Ok(false);
        };
        let detail = SignalsGenerated {
            trading_date: date,
            model_version: model_version.to_string(),
            opened: summary.opened.iter().map(|o| o.ticker.clone()).collect(),
            closed: summary.closed.iter().map(|c| c.ticker.clone()).collect(),
            refused: summary.refused.len(),
            notifications_queued: summary.notifications_queued,
        };
        events
            .publish(SIGNALS_GENERATED, &detail)
            .await
            .map_err(|e| GenerateError::Publish(e.to_string()))?;
        Ok(true)
    }
}

/// What every booking of the day names.
struct Day<'a> {
    date: NaiveDate,
    model_version: &'a str,
    days: &'a HashMap<String, TickerDay>,
}

/// Records why each refused candidate was refused (the risk manager's rules, or no
/// market data to price it).
async fn record_refusals(
    tx: &impl GenericClient,
    plan: &DayPlan,
    predictions: &[crate::core::prediction::Prediction],
    day: &Day<'_>,
    summary: &mut GenerateSignalsSummary,
) -> Result<(), GenerateError> {
    let confidence: HashMap<&str, f64> = predictions
        .iter()
        .map(|p| (p.ticker.as_str(), p.confidence))
        .collect();
    for (ticker, rejections) in &plan.rejected {
        let rules = rejections
            .iter()
            .map(|r| {
                (
                    r.code().to_string(),
                    r.to_string(),
                    serde_json::to_value(r).unwrap_or_default(),
                )
            })
            .collect();
        let c = confidence.get(ticker.as_str()).copied();
        refuse(tx, day, ticker, c, rules, summary).await?;
    }
    for ticker in &plan.no_market_data {
        let reason = format!("no close for {ticker} on {}: cannot be priced", day.date);
        let rules = vec![(
            "no_market_data".to_string(),
            reason,
            json!({"rule": "no_market_data"}),
        )];
        let c = confidence.get(ticker.as_str()).copied();
        refuse(tx, day, ticker, c, rules, summary).await?;
    }
    Ok(())
}

/// Stores one refused candidate's failed rules (code, reason, detail) and lists it in
/// the summary.
async fn refuse(
    tx: &impl GenericClient,
    day: &Day<'_>,
    ticker: &str,
    confidence: Option<f64>,
    rules: Vec<(String, String, serde_json::Value)>,
    summary: &mut GenerateSignalsSummary,
) -> Result<(), GenerateError> {
    let mut refused = Refused {
        ticker: ticker.to_string(),
        rules: Vec::new(),
        reasons: Vec::new(),
    };
    for (rule, reason, detail) in rules {
        portfolio_store::insert_rejection(
            tx,
            &RejectionRecord {
                trading_date: day.date,
                ticker: ticker.to_string(),
                model_version: day.model_version.to_string(),
                rule: rule.clone(),
                confidence,
                reason: reason.clone(),
                detail,
            },
        )
        .await?;
        refused.rules.push(rule);
        refused.reasons.push(reason);
    }
    summary.refused.push(refused);
    Ok(())
}

/// Stores the day's trip or release; `None` (and a warning) when that day's row exists
/// already (it cannot, since the breaker is read under the portfolio lock).
async fn record_breaker_event(
    tx: &impl GenericClient,
    event: &BreakerEvent,
) -> Result<Option<RecordedBreakerEvent>, GenerateError> {
    let id = breaker_store::record(tx, event).await?;
    match id {
        Some(id) => {
            tracing::warn!(
                kind = event.kind(),
                drawdown = event.drawdown(),
                equity = event.equity(),
                "drawdown breaker"
            );
            Ok(Some(RecordedBreakerEvent { id, event: *event }))
        }
        None => {
            tracing::warn!(
                kind = event.kind(),
                "breaker event of the day already stored"
            );
            Ok(None)
        }
    }
}

/// The `breaker.tripped` / `breaker.released` detail and notification data
/// (docs/events.md).
pub fn breaker_payload(recorded: &RecordedBreakerEvent, risk: &RiskConfig) -> serde_json::Value {
    match recorded.event {
        BreakerEvent::Tripped {
            date,
            drawdown,
            equity,
            peak_equity,
            locked_until,
        } => json!({
            "breaker_event_id": recorded.id,
            "trading_date": date,
            "drawdown": drawdown,
            "max_drawdown": risk.max_drawdown,
            "equity": equity,
            "peak_equity": peak_equity,
            "locked_until": locked_until,
            "releases_on": locked_until.map(nyse::next_trading_day),
            "mode": match risk.breaker {
                BreakerMode::CoolOff { .. } => "cool_off",
                BreakerMode::Permanent => "permanent",
            },
        }),
        BreakerEvent::Released {
            date,
            tripped_on,
            drawdown,
            equity,
            previous_peak,
        } => json!({
            "breaker_event_id": recorded.id,
            "trading_date": date,
            "tripped_on": tripped_on,
            "drawdown": drawdown,
            "equity": equity,
            "previous_peak": previous_peak,
            "peak_equity": equity,
        }),
    }
}

async fn savepoint(tx: &impl GenericClient, sql: &'static str) -> Result<(), GenerateError> {
    tx.batch_execute(sql)
        .await
        .map_err(|e| db(e, "savepoint of a flip"))?;
    Ok(())
}

/// The predicted tickers of (date, model) a committed run did not consider. A summary
/// stored before `considered` existed lists none: nothing can be told apart then.
async fn unconsidered(
    tx: &impl GenericClient,
    date: NaiveDate,
    model_version: &str,
    considered: &[String],
) -> Result<Vec<String>, GenerateError> {
    if considered.is_empty() {
        return Ok(Vec::new());
    }
    let mut new: Vec<String> = prediction_store::load_predictions(tx, date, model_version)
        .await?
        .into_iter()
        .map(|r| r.prediction.ticker)
        .filter(|t| considered.binary_search(t).is_err())
        .collect();
    new.sort();
    new.dedup();
    Ok(new)
}

/// When a day's regular session opens (a fill settled from its daily bar).
pub fn session_open(date: NaiveDate) -> DateTime<Utc> {
    nyse::session(date)
        .map(|s| s.open)
        .unwrap_or_else(|| new_york_instant(date, nyse::OPEN_TIME))
}

/// When a day's close is (for marks made after it).
pub fn session_close(date: NaiveDate) -> DateTime<Utc> {
    nyse::session(date)
        .map(|s| s.close)
        .unwrap_or_else(|| new_york_instant(date, nyse::CLOSE_TIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, defect 8: a `model_version` that is not a string is an error, not "the
    /// day's latest model".
    #[test]
    fn a_non_string_model_version_is_refused() {
        let event = |v: serde_json::Value| serde_json::json!({"detail": {"trading_date": "2021-03-01", "model_version": v}});
        let ok = SignalsRequest::from_event(&event("v1".into())).unwrap();
        assert_eq!(ok.model_version.as_deref(), Some("v1"));
        let none = SignalsRequest::from_event(&event(serde_json::Value::Null)).unwrap();
        assert_eq!(none.model_version, None);
        for bad in [serde_json::json!(42), serde_json::json!(["v1"]), "".into()] {
            assert!(
                matches!(
                    SignalsRequest::from_event(&event(bad.clone())),
                    Err(EventError::BadDetail(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn trading_config_reads_the_breaker_cooloff() {
        let mode = |env: &dyn EnvSource| TradingConfig::from_env(env).map(|c| c.risk.breaker);
        assert_eq!(
            mode(&[("TFT_STARTING_EQUITY", "100000")]).unwrap(),
            BreakerMode::CoolOff { trading_days: 20 }
        );
        assert_eq!(
            mode(&[("TFT_BREAKER_COOLOFF_DAYS", "10")]).unwrap(),
            BreakerMode::CoolOff { trading_days: 10 }
        );
        for halt in ["0", "permanent"] {
            assert_eq!(
                mode(&[("TFT_BREAKER_COOLOFF_DAYS", halt)]).unwrap(),
                BreakerMode::Permanent
            );
        }
        let err = mode(&[("TFT_BREAKER_COOLOFF_DAYS", "soon")]).unwrap_err();
        assert!(
            err.to_string().contains("TFT_BREAKER_COOLOFF_DAYS"),
            "{err}"
        );
    }
}
