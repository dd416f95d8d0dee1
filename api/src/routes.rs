//! The `/v1` handlers. Each reads what it needs through `shared::adapters` and answers
//! JSON; times are RFC 3339 UTC, trading dates `YYYY-MM-DD`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use shared::adapters::api_keys::{self, TradingControl};
use shared::adapters::api_store::{
    self, BarView, EquityPoint, GroupBy, PredictionView, Refusal, SentimentDay, SentimentPoint,
    SignalDetail, SignalFilter, SignalStatus, SignalSummary, StepFreshness, TradeStats,
};
use shared::adapters::{db, portfolio_store};
use shared::core::calendar::new_york_date;
use shared::core::features::FEATURE_SCHEMA;
use shared::core::{nyse, risk::Breaker};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, Problem};
use crate::AppState;

/// Every documented route (the OpenAPI document is built from this list).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(list_signals))
        .routes(routes!(get_signal))
        .routes(routes!(positions))
        .routes(routes!(portfolio))
        .routes(routes!(rejections))
        .routes(routes!(predictions))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(close_position))
        .routes(routes!(equity))
        .routes(routes!(performance))
        .routes(routes!(trending))
        .routes(routes!(ticker_sentiment))
        .routes(routes!(ticker))
        .routes(routes!(crate::models::models))
}

/// 404 as a problem document.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", uri.path()))
}

pub(crate) type Params = Query<HashMap<String, String>>;

/// Refuses parameters the route does not know (a typo must not silently widen a query).
pub(crate) fn only(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::BadParameter(format!(
            "unknown parameter {k:?}; this route takes {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))),
        None => Ok(()),
    }
}

fn date_param(params: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<NaiveDate>().map_err(|_| {
                ApiError::BadParameter(format!("{name} must be a date YYYY-MM-DD, got {v:?}"))
            })
        })
        .transpose()
}

fn ticker_param(params: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    params
        .get("ticker")
        .map(|t| {
            shared::core::tickers::storage_spelling(t).ok_or_else(|| {
                ApiError::BadParameter(format!("ticker {t:?} is not a ticker symbol"))
            })
        })
        .transpose()
}

/// The opaque cursor: the last item's (generated_at, id), hex-encoded.
fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    format!("{}:{id}", at.timestamp_micros())
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let bad = || ApiError::BadParameter(format!("cursor {cursor:?} is not a cursor this API gave"));
    if !cursor.len().is_multiple_of(2) || cursor.len() > 128 {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once(':').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// `GET /v1/health`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database is not reachable.
    pub status: String,
    pub database: String,
    /// The model the last trading run used.
    pub model_version: Option<String>,
    pub now: DateTime<Utc>,
    /// Today in New York.
    pub trading_date: NaiveDate,
    pub market_open: bool,
    /// The last run of each daily step, from what it writes.
    pub steps: Vec<StepFreshness>,
}

/// Database reachable, the model in use, the last run of each daily step, NYSE open or
/// closed. Open: no key needed.
#[utoipa::path(get, path = "/v1/health", tag = "status",
    responses((status = 200, description = "Health", body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let now = Utc::now();
    let mut health = Health {
        status: "ok".into(),
        database: "reachable".into(),
        model_version: None,
        now,
        trading_date: new_york_date(now),
        market_open: nyse::is_open(now),
        steps: Vec::new(),
    };
    let read = async {
        let client = state.pool.get().await.map_err(db::DbError::from)?;
        api_store::freshness(&**client).await
    };
    match read.await {
        Ok((steps, model)) => {
            health.steps = steps;
            health.model_version = model;
        }
        Err(e) => {
            tracing::error!(error = %e, "health: database not reachable");
            health.status = "degraded".into();
            health.database = "unreachable".into();
        }
    }
    Json(health)
}

/// A page of signals.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalPage {
    pub items: Vec<SignalSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub limit: i64,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SignalQuery {
    /// pending | open | closed | missed
    status: Option<String>,
    ticker: Option<String>,
    /// Signal dates from (inclusive), YYYY-MM-DD.
    from: Option<NaiveDate>,
    /// Signal dates to (inclusive), YYYY-MM-DD.
    to: Option<NaiveDate>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1..200, default 50.
    limit: Option<i64>,
}

/// BUY signals, newest first (keyset pagination on (generated_at, id): no item repeated,
/// none skipped of the rows committed before the first page was read).
#[utoipa::path(get, path = "/v1/signals", tag = "signals", params(SignalQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = SignalPage), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn list_signals(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<SignalPage>, ApiError> {
    only(
        &params,
        &["status", "ticker", "from", "to", "cursor", "limit"],
    )?;
    let status = params
        .get("status")
        .map(|s| {
            SignalStatus::parse(s).ok_or_else(|| {
                ApiError::BadParameter(format!(
                    "status must be pending, open, closed or missed, got {s:?}"
                ))
            })
        })
        .transpose()?;
    let limit = match params.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=200).contains(l))
            .ok_or_else(|| ApiError::BadParameter(format!("limit must be 1 to 200, got {v:?}")))?,
    };
    let filter = SignalFilter {
        status,
        ticker: ticker_param(&params)?,
        from: date_param(&params, "from")?,
        to: date_param(&params, "to")?,
    };
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f > t {
            return Err(ApiError::BadParameter(format!("from {f} is after to {t}")));
        }
    }
    let after = params.get("cursor").map(|c| decode_cursor(c)).transpose()?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    // One more than asked: whether there is a next page.
    let mut items = api_store::list_signals(&**client, &filter, after, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|s| encode_cursor(s.generated_at, s.id))
    } else {
        None
    };
    Ok(Json(SignalPage {
        items,
        next_cursor,
        limit,
    }))
}

/// One signal: planned vs filled levels, exit, P&L, the feature snapshot, per-model
/// votes, delivery status.
#[utoipa::path(get, path = "/v1/signals/{id}", tag = "signals",
    params(("id" = i64, Path, description = "The signal id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = SignalDetail), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_signal(
    _caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Json<SignalDetail>, ApiError> {
    only(&params, &[])?;
    let id = parse_id(&id)?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    api_store::signal_detail(&**client, id, &FEATURE_SCHEMA.hash(), FEATURE_SCHEMA.names)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no BUY signal {id}")))
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::BadParameter(format!("id must be a positive integer, got {id:?}")))
}

/// An open position as the dashboard shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionView {
    pub signal_id: i64,
    pub ticker: String,
    /// `pending` (booked, fills at `entry_date`'s open) or `open`.
    pub status: String,
    pub shares: u64,
    pub entry_date: NaiveDate,
    /// Paid per share (a pending entry: the close estimate).
    pub entry_price: f64,
    pub mark: f64,
    pub unrealized_pnl: f64,
    pub unrealized_pct: f64,
    pub stop_loss: f64,
    pub target_price: f64,
    /// How far the mark is above the stop, as a fraction of the mark.
    pub distance_to_stop_pct: f64,
    /// How far the target is above the mark, as a fraction of the mark.
    pub distance_to_target_pct: f64,
    /// Trading day n of `max_days` (time decay closes it after the last).
    pub day: i64,
    pub max_days: i64,
}

/// Open positions and pending entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Positions {
    pub positions: Vec<PositionView>,
    pub as_of: DateTime<Utc>,
}

/// Open positions: mark, unrealised P&L, distance to stop and target, day n of 7.
#[utoipa::path(get, path = "/v1/positions", tag = "portfolio",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Positions), (status = 401, body = Problem)))]
async fn positions(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Positions>, ApiError> {
    only(&params, &[])?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let now = Utc::now();
    let today = new_york_date(now);
    let max_days = i64::from(shared::core::exits::ExitConfig::default().hold_days);
    let mut positions = Vec::new();
    if let Some(account) = portfolio_store::account_of(&**client).await? {
        let live = portfolio_store::load(&**client, account).await?;
        for p in &live.state.positions {
            let pending = live.pending.contains_key(&p.ticker);
            let cost = p.shares as f64 * p.entry_price + p.entry_commission;
            let pnl = p.shares as f64 * p.mark - cost;
            positions.push(PositionView {
                signal_id: live.signal_ids.get(&p.ticker).copied().unwrap_or_default(),
                ticker: p.ticker.clone(),
                status: if pending { "pending" } else { "open" }.into(),
                shares: p.shares,
                entry_date: p.entry_date,
                entry_price: p.entry_price,
                mark: p.mark,
                unrealized_pnl: if pending { 0.0 } else { pnl },
                unrealized_pct: if pending || cost <= 0.0 {
                    0.0
                } else {
                    pnl / cost
                },
                stop_loss: p.stop,
                target_price: p.target,
                distance_to_stop_pct: (p.mark - p.stop) / p.mark,
                distance_to_target_pct: (p.target - p.mark) / p.mark,
                day: if pending {
                    0
                } else {
                    nyse::trading_days_between(p.entry_date, today) + 1
                },
                max_days,
            });
        }
    }
    positions.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    Ok(Json(Positions {
        positions,
        as_of: now,
    }))
}

/// The paper portfolio now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioView {
    pub starting_equity: f64,
    pub cash: f64,
    /// Cash plus positions at their last marks.
    pub equity: f64,
    pub peak_equity: f64,
    pub drawdown: f64,
    /// The breaker trips above it.
    pub drawdown_limit: f64,
    pub realized_pnl: f64,
    /// `armed` or `locked`.
    pub breaker: String,
    pub breaker_tripped_on: Option<NaiveDate>,
    /// Locked through this day (`null` while locked: for good).
    pub breaker_locked_until: Option<NaiveDate>,
    pub positions_used: usize,
    pub positions_max: usize,
    pub control: TradingControl,
    /// The last day marked at the closes.
    pub marked_on: Option<NaiveDate>,
}

/// Cash, equity, peak, drawdown against the limit, breaker state, positions used of 5,
/// whether entries are paused.
#[utoipa::path(get, path = "/v1/portfolio", tag = "portfolio",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = PortfolioView), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
async fn portfolio(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<PortfolioView>, ApiError> {
    only(&params, &[])?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let account = portfolio_store::account_of(&**client)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no paper portfolio yet: generate-signals creates it on its first run".into(),
            )
        })?;
    let live = portfolio_store::load(&**client, account).await?;
    let control = api_keys::trading_control(&**client).await?;
    let marked_on = api_store::last_marked_day(&**client).await?;
    let s = &live.state;
    let equity = s.equity_at_marks();
    let (breaker, tripped_on, locked_until) = match s.breaker {
        Breaker::Armed => ("armed", None, None),
        Breaker::Locked {
            tripped_on,
            locked_until,
        } => ("locked", Some(tripped_on), locked_until),
    };
    Ok(Json(PortfolioView {
        starting_equity: account.starting_equity,
        cash: s.cash,
        equity,
        peak_equity: s.peak_equity.max(equity),
        drawdown: s.drawdown_at_marks(),
        drawdown_limit: state.config.drawdown_limit,
        realized_pnl: s.realized_pnl,
        breaker: breaker.into(),
        breaker_tripped_on: tripped_on,
        breaker_locked_until: locked_until,
        positions_used: s.positions.len(),
        positions_max: state.config.max_positions,
        control,
        marked_on,
    }))
}

/// Why no trade: the refused candidates of a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rejections {
    pub trading_date: Option<NaiveDate>,
    pub refusals: Vec<Refusal>,
}

/// Which rule refused each candidate of `date` (default: the latest day with refusals).
#[utoipa::path(get, path = "/v1/rejections", tag = "signals",
    params(("date" = Option<NaiveDate>, Query, description = "YYYY-MM-DD; default the latest")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Rejections), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn rejections(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Rejections>, ApiError> {
    only(&params, &["date"])?;
    let date = date_param(&params, "date")?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let (trading_date, refusals) = api_store::rejections(&**client, date).await?;
    Ok(Json(Rejections {
        trading_date,
        refusals,
    }))
}

/// A day's predictions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Predictions {
    pub trading_date: Option<NaiveDate>,
    pub predictions: Vec<PredictionView>,
}

/// Per-model probabilities and the vote of `date` (default: the latest predicted day).
#[utoipa::path(get, path = "/v1/predictions", tag = "signals",
    params(("date" = Option<NaiveDate>, Query, description = "YYYY-MM-DD; default the latest"),
           ("min_confidence" = Option<f64>, Query, description = "0..1, default 0")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Predictions), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn predictions(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Predictions>, ApiError> {
    only(&params, &["date", "min_confidence"])?;
    let date = date_param(&params, "date")?;
    let min_confidence = match params.get("min_confidence") {
        None => 0.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| {
                ApiError::BadParameter(format!("min_confidence must be between 0 and 1, got {v:?}"))
            })?,
    };
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let (trading_date, predictions) =
        api_store::predictions(&**client, date, min_confidence).await?;
    Ok(Json(Predictions {
        trading_date,
        predictions,
    }))
}

/// Stops new entries (exits keep running). Admin.
#[utoipa::path(post, path = "/v1/trading/pause", tag = "admin",
    params(("reason" = Option<String>, Query, description = "Why (kept with the flag)")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = TradingControl), (status = 401, body = Problem),
              (status = 403, body = Problem)))]
async fn pause(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<TradingControl>, ApiError> {
    set_paused(caller, state, params, true).await
}

/// Restarts new entries. Admin.
#[utoipa::path(post, path = "/v1/trading/resume", tag = "admin",
    params(("reason" = Option<String>, Query, description = "Why (kept with the flag)")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = TradingControl), (status = 401, body = Problem),
              (status = 403, body = Problem)))]
async fn resume(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<TradingControl>, ApiError> {
    set_paused(caller, state, params, false).await
}

async fn set_paused(
    caller: api_keys::Caller,
    state: AppState,
    params: HashMap<String, String>,
    paused: bool,
) -> Result<Json<TradingControl>, ApiError> {
    only(&params, &["reason"])?;
    let reason = params
        .get("reason")
        .map(|r| r.chars().take(500).collect::<String>());
    let mut client = state.pool.get().await.map_err(db::DbError::from)?;
    let tx = db::begin(&mut client, state.pool.statement_timeout())
        .await
        .map_err(|e| {
            ApiError::from(db::DbError::Query {
                context: "begin",
                source: e,
            })
        })?;
    let control =
        api_keys::set_entries_paused(&*tx, paused, &caller.name, reason.as_deref()).await?;
    let action = if paused {
        "trading.pause"
    } else {
        "trading.resume"
    };
    api_keys::audit(
        &*tx,
        &caller.name,
        action,
        &serde_json::json!({"reason": reason}),
    )
    .await?;
    tx.commit().await.map_err(|e| {
        ApiError::from(db::DbError::Query {
            context: "commit",
            source: e,
        })
    })?;
    tracing::info!(key = %caller.name, paused, "entries paused flag set");
    Ok(Json(control))
}

/// What a close request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloseRequested {
    pub signal_id: i64,
    pub ticker: String,
    /// `close_requested`: the monitor closes it at its next run (reason `manual`);
    /// `entry_cancelled`: a pending entry, cancelled now (its cash released).
    pub action: String,
}

/// Closes a position at the next monitor run (reason `manual`); a pending (unfilled)
/// entry is cancelled now. Admin. 409 when it is not open (closed, missed, asked already).
#[utoipa::path(post, path = "/v1/positions/{id}/close", tag = "admin",
    params(("id" = i64, Path, description = "The BUY signal id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = CloseRequested), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn close_position(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Json<CloseRequested>, ApiError> {
    only(&params, &[])?;
    let id = parse_id(&id)?;
    let mut client = state.pool.get().await.map_err(db::DbError::from)?;
    let tx = db::begin(&mut client, state.pool.statement_timeout())
        .await
        .map_err(|e| {
            ApiError::from(db::DbError::Query {
                context: "begin",
                source: e,
            })
        })?;
    // The portfolio row first, as every writer (one lock order).
    let account = portfolio_store::lock(&*tx)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no open position {id}")))?;
    let mut live = portfolio_store::load(&*tx, account).await?;
    let ticker = live
        .signal_ids
        .iter()
        .find(|(_, sid)| **sid == id)
        .map(|(t, _)| t.clone());
    let Some(ticker) = ticker else {
        drop(tx);
        let exists = api_store::signal_detail(&**client, id, &FEATURE_SCHEMA.hash(), &[])
            .await?
            .is_some();
        return Err(if exists {
            ApiError::Conflict(format!("signal {id} is not open (closed or never filled)"))
        } else {
            ApiError::NotFound(format!("no BUY signal {id}"))
        });
    };
    let action = if live.pending.contains_key(&ticker) {
        let reason = format!("cancelled by {}", caller.name);
        shared::jobs::portfolio_book::miss_entry(&*tx, &mut live, &ticker, &reason, Utc::now())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .ok_or_else(|| ApiError::Conflict(format!("signal {id} is no longer pending")))?;
        "entry_cancelled"
    } else {
        if !api_store::request_close(&*tx, id, &caller.name).await? {
            return Err(ApiError::Conflict(format!(
                "a close of signal {id} was already asked; the monitor closes it at its next run"
            )));
        }
        "close_requested"
    };
    api_keys::audit(
        &*tx,
        &caller.name,
        "positions.close",
        &serde_json::json!({"signal_id": id, "ticker": ticker, "action": action}),
    )
    .await?;
    tx.commit().await.map_err(|e| {
        ApiError::from(db::DbError::Query {
            context: "commit",
            source: e,
        })
    })?;
    tracing::info!(key = %caller.name, signal_id = id, %ticker, action, "manual close");
    Ok(Json(CloseRequested {
        signal_id: id,
        ticker,
        action: action.into(),
    }))
}

fn date_range(
    params: &HashMap<String, String>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let (from, to) = (date_param(params, "from")?, date_param(params, "to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError::BadParameter(format!("from {f} is after to {t}")));
        }
    }
    Ok((from, to))
}

fn path_ticker(raw: &str) -> Result<String, ApiError> {
    shared::core::tickers::storage_spelling(raw)
        .ok_or_else(|| ApiError::BadParameter(format!("ticker {raw:?} is not a ticker symbol")))
}

/// The equity curve with the benchmark over the same days.
#[derive(Debug, Serialize, ToSchema)]
pub struct EquityCurve {
    pub benchmark: String,
    pub points: Vec<EquityPoint>,
}

/// The daily equity at the closes with the benchmark's buy & hold of the same money.
#[utoipa::path(get, path = "/v1/portfolio/equity", tag = "portfolio",
    params(("from" = Option<NaiveDate>, Query, description = "YYYY-MM-DD"),
           ("to" = Option<NaiveDate>, Query, description = "YYYY-MM-DD")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = EquityCurve), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn equity(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<EquityCurve>, ApiError> {
    only(&params, &["from", "to"])?;
    let (from, to) = date_range(&params)?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let points = api_store::equity_curve(&**client, &state.config.benchmark, from, to).await?;
    Ok(Json(EquityCurve {
        benchmark: state.config.benchmark.clone(),
        points,
    }))
}

/// The live closed trades' metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct Performance {
    pub total: TradeStats,
    /// `ticker`, `exit_reason`, `month` or `year`; absent without `group_by`.
    pub group_by: Option<String>,
    pub groups: Vec<TradeStats>,
}

/// The backtest's trade metrics on live trades: count, win rate, P&L, average return,
/// profit factor, expectancy; in total and by `group_by`.
#[utoipa::path(get, path = "/v1/performance", tag = "portfolio",
    params(("group_by" = Option<String>, Query, description = "ticker | exit_reason | month | year")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Performance), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn performance(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Performance>, ApiError> {
    only(&params, &["group_by"])?;
    let group_by = params
        .get("group_by")
        .map(|g| {
            GroupBy::parse(g).ok_or_else(|| {
                ApiError::BadParameter(format!(
                    "group_by must be ticker, exit_reason, month or year, got {g:?}"
                ))
            })
        })
        .transpose()?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let (total, groups) = api_store::performance(&**client, group_by).await?;
    Ok(Json(Performance {
        total,
        group_by: params.get("group_by").cloned(),
        groups,
    }))
}

/// The calendar days of each trending ticker's sparkline, ending at the trending day.
const TRENDING_HISTORY_DAYS: i64 = 30;

/// The most mentioned tickers of a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trending {
    pub trading_date: Option<NaiveDate>,
    pub tickers: Vec<SentimentDay>,
    /// How many calendar days `history` covers, ending at `trading_date`.
    pub history_days: i64,
    /// Each trending ticker's stored days in that window, oldest first, in the order of
    /// `tickers` (the rows' sparklines, without one request per row).
    pub history: Vec<SentimentHistory>,
}

/// A trending ticker's recent days.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentimentHistory {
    pub ticker: String,
    pub days: Vec<SentimentPoint>,
}

/// Mentions (once per author), authors, sentiment, bullish share and their change
/// against each ticker's previous day; default the latest aggregated day. With each
/// ticker's last 30 calendar days (`history`) for a sparkline.
#[utoipa::path(get, path = "/v1/sentiment/trending", tag = "sentiment",
    params(("date" = Option<NaiveDate>, Query, description = "YYYY-MM-DD"),
           ("limit" = Option<i64>, Query, description = "1..100, default 20")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Trending), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn trending(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Params,
) -> Result<Json<Trending>, ApiError> {
    only(&params, &["date", "limit"])?;
    let date = date_param(&params, "date")?;
    let limit = match params.get("limit") {
        None => 20,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::BadParameter(format!("limit must be 1 to 100, got {v:?}")))?,
    };
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let (trading_date, tickers) = api_store::trending(&**client, date, limit).await?;
    let names: Vec<String> = tickers.iter().map(|t| t.ticker.clone()).collect();
    let mut days: HashMap<String, Vec<SentimentPoint>> = HashMap::new();
    if let Some(day) = trading_date {
        for (ticker, point) in
            api_store::sentiment_history(&**client, &names, day, TRENDING_HISTORY_DAYS).await?
        {
            days.entry(ticker).or_default().push(point);
        }
    }
    let history = names
        .into_iter()
        .map(|ticker| SentimentHistory {
            days: days.remove(&ticker).unwrap_or_default(),
            ticker,
        })
        .collect();
    Ok(Json(Trending {
        trading_date,
        tickers,
        history_days: TRENDING_HISTORY_DAYS,
        history,
    }))
}

/// A ticker's daily sentiment series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentimentSeries {
    pub ticker: String,
    pub days: Vec<SentimentDay>,
}

/// A ticker's daily Reddit sentiment in [from, to].
#[utoipa::path(get, path = "/v1/sentiment/{ticker}", tag = "sentiment",
    params(("ticker" = String, Path, description = "A ticker symbol"),
           ("from" = Option<NaiveDate>, Query, description = "YYYY-MM-DD"),
           ("to" = Option<NaiveDate>, Query, description = "YYYY-MM-DD")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = SentimentSeries), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
async fn ticker_sentiment(
    _caller: Caller,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(params): Params,
) -> Result<Json<SentimentSeries>, ApiError> {
    only(&params, &["from", "to"])?;
    let ticker = path_ticker(&raw)?;
    let (from, to) = date_range(&params)?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let days = api_store::sentiment_series(&**client, &ticker, from, to).await?;
    Ok(Json(SentimentSeries { ticker, days }))
}

/// A ticker's bars and signals.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickerView {
    pub ticker: String,
    pub bars: Vec<BarView>,
    /// Its BUY signals, newest first (at most 50): the chart's entry and exit markers.
    pub signals: Vec<SignalSummary>,
}

/// Daily bars with indicators (default: the last 250) and the ticker's recent signals.
#[utoipa::path(get, path = "/v1/tickers/{ticker}", tag = "tickers",
    params(("ticker" = String, Path, description = "A ticker symbol"),
           ("from" = Option<NaiveDate>, Query, description = "YYYY-MM-DD"),
           ("to" = Option<NaiveDate>, Query, description = "YYYY-MM-DD")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = TickerView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn ticker(
    _caller: Caller,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(params): Params,
) -> Result<Json<TickerView>, ApiError> {
    only(&params, &["from", "to"])?;
    let ticker = path_ticker(&raw)?;
    let (from, to) = date_range(&params)?;
    let client = state.pool.get().await.map_err(db::DbError::from)?;
    let bars = api_store::bars(&**client, &ticker, from, to).await?;
    let filter = SignalFilter {
        ticker: Some(ticker.clone()),
        ..Default::default()
    };
    let signals = api_store::list_signals(&**client, &filter, None, 50).await?;
    if bars.is_empty() && signals.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no bars or signals stored for {ticker}"
        )));
    }
    Ok(Json(TickerView {
        ticker,
        bars,
        signals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_400() {
        let at: DateTime<Utc> = "2026-03-02T21:05:13.482123Z".parse().unwrap();
        let c = encode_cursor(at, 42);
        assert_eq!(decode_cursor(&c).unwrap(), (at, 42));
        for bad in ["", "zz", "abc", "3a", &"41".repeat(100)] {
            assert!(
                matches!(decode_cursor(bad), Err(ApiError::BadParameter(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_parameters_are_refused_by_name() {
        let params: HashMap<String, String> = [("limt".to_string(), "5".to_string())].into();
        let e = only(&params, &["limit"]).unwrap_err().to_string();
        assert!(e.contains("limt") && e.contains("limit"), "{e}");
    }
}
