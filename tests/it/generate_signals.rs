//! generate-signals on real PostgreSQL: entries booked pending with their cost reserved,
//! refusals recorded, the equity curve marked, an unfilled pending entry settled from the
//! next day's stored bar (filled at its open, or missed), flips sold, the drawdown
//! breaker read from the stored curve, and the same event twice changing nothing
//! (signals.generated on moto).

use chrono::NaiveDate;
use integration_tests::{eventbridge_client, CapturedBus, TestDb};
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::feature_store;
use shared::core::exits::{self, ExitConfig};
use shared::core::features::FEATURE_SCHEMA;
use shared::jobs::generate_signals::{
    session_close, GenerateSignals, GenerateSignalsSummary, SignalsRequest, TradingConfig,
};
use shared::jobs::portfolio_book::Settled;

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A stock_prices row (close; rsi 40, macd 0.5) for `ticker` on `date`.
pub async fn put_close(db: &TestDb, ticker: &str, date: NaiveDate, close: f64) {
    let c = db.pool.get().await.unwrap();
    c.execute(
        "INSERT INTO stock_prices (ticker, date, open, high, low, close, adjusted_close, volume, rsi, macd) \
         VALUES ($1, $2, $3, $3, $3, $3, $3, 1000, 40.0, 0.5)",
        &[&ticker, &date, &close],
    )
    .await
    .unwrap();
}

/// A features row with the named values set (others 0).
pub async fn put_features(db: &TestDb, ticker: &str, date: NaiveDate, set: &[(&str, f64)]) {
    let c = db.pool.get().await.unwrap();
    let hash = feature_store::register_schema(&**c, &FEATURE_SCHEMA)
        .await
        .unwrap();
    let mut values = vec![0.0; FEATURE_SCHEMA.len()];
    for (name, v) in set {
        values[FEATURE_SCHEMA.index_of(name).unwrap()] = *v;
    }
    c.execute(
        "INSERT INTO features (ticker, date, schema_hash, feature_values) VALUES ($1, $2, $3, $4)",
        &[&ticker, &date, &hash, &values],
    )
    .await
    .unwrap();
}

/// The input of the job under test: a prediction row as predict writes it.
pub async fn put_prediction(db: &TestDb, ticker: &str, date: NaiveDate, probs: [f64; 3]) {
    put_prediction_of(db, "v-test", ticker, date, probs).await;
}

/// [`put_prediction`] of model `version`.
pub async fn put_prediction_of(
    db: &TestDb,
    version: &str,
    ticker: &str,
    date: NaiveDate,
    probs: [f64; 3],
) {
    let p = shared::core::prediction::Prediction::from_probabilities(ticker, date, version, probs);
    let c = db.pool.get().await.unwrap();
    c.execute(
        "INSERT INTO predictions (ticker, date, model_version, prob_sell, prob_hold, prob_buy, signal, confidence) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&ticker, &date, &version, &probs[0], &probs[1], &probs[2], &p.signal.name(), &p.confidence],
    )
    .await
    .unwrap();
}

/// A stock_prices row with its whole bar (rsi 40, macd 0.5).
pub async fn put_bar(
    db: &TestDb,
    ticker: &str,
    date: NaiveDate,
    [open, high, low, close]: [f64; 4],
) {
    let c = db.pool.get().await.unwrap();
    c.execute(
        "INSERT INTO stock_prices (ticker, date, open, high, low, close, adjusted_close, volume, rsi, macd) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, 1000, 40.0, 0.5)",
        &[&ticker, &date, &open, &high, &low, &close],
    )
    .await
    .unwrap();
}

pub fn job(db: &TestDb, events: Option<EventPublisher>) -> GenerateSignals {
    GenerateSignals {
        pool: db.pool.clone(),
        events,
        config: TradingConfig::default(),
    }
}

pub fn request(date: NaiveDate) -> SignalsRequest {
    SignalsRequest {
        trading_date: date,
        model_version: Some("v-test".into()),
    }
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    let c = db.pool.get().await.unwrap();
    c.query_one(sql, &[]).await.unwrap().get(0)
}

async fn cash(db: &TestDb) -> (f64, f64) {
    let c = db.pool.get().await.unwrap();
    let r = c
        .query_one("SELECT cash, realized_pnl FROM paper_portfolio", &[])
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// 2021-03-01: AAA and BBB pass, CCC is at exactly 0.70, DDD has no close, EEE holds.
pub async fn monday(db: &TestDb) -> NaiveDate {
    let d = day("2021-03-01");
    put_close(db, "AAA", d, 50.0).await;
    put_features(
        db,
        "AAA",
        d,
        &[
            ("volatility_20d", 0.015),
            ("sentiment_score", 0.3),
            ("sentiment_trend", 0.1),
        ],
    )
    .await;
    put_close(db, "BBB", d, 20.0).await;
    put_features(db, "BBB", d, &[("volatility_20d", 0.03)]).await;
    put_close(db, "CCC", d, 10.0).await;
    put_close(db, "EEE", d, 10.0).await;
    put_prediction(db, "AAA", d, [0.05, 0.15, 0.80]).await;
    put_prediction(db, "BBB", d, [0.05, 0.20, 0.75]).await;
    put_prediction(db, "CCC", d, [0.10, 0.20, 0.70]).await;
    put_prediction(db, "DDD", d, [0.05, 0.05, 0.90]).await;
    put_prediction(db, "EEE", d, [0.10, 0.80, 0.10]).await;
    d
}

#[tokio::test]
async fn generate_signals_books_entries_with_costs_records_refusals_and_is_idempotent() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = job(
        &db,
        Some(EventPublisher::new(eventbridge, bus.bus_name.clone())),
    );

    let s = job.handle(&request(d)).await.unwrap();
    let opened: Vec<(&str, u64)> = s
        .opened
        .iter()
        .map(|o| (o.ticker.as_str(), o.shares))
        .collect();
    // AAA: σ 1.5 % → stop 3 %, target 6 %, 400 shares (20 % cap); BBB: σ 3 % → stop 5 %,
    // target 10 %, 1 000 shares (cap).
    assert_eq!(opened, [("AAA", 400), ("BBB", 1000)], "{s:?}");
    let refused: Vec<(&str, Vec<String>)> = s
        .refused
        .iter()
        .map(|r| (r.ticker.as_str(), r.rules.clone()))
        .collect();
    assert_eq!(
        refused,
        [
            ("CCC", vec!["confidence_too_low".to_string()]),
            ("DDD", vec!["no_market_data".to_string()])
        ]
    );
    assert_eq!(s.notifications_queued, 4);
    // Paid 50 × 1.0005 and 20 × 1.0005 per share, plus 5 bps commission on each notional.
    let paid = 400.0 * 50.025 * 1.0005 + 1000.0 * 20.01 * 1.0005;
    let (c, realized) = cash(&db).await;
    assert!(close(c, 100_000.0 - paid), "cash {c}");
    assert_eq!(realized, 0.0);
    assert!(
        close(s.equity, 100_000.0 - paid + 400.0 * 50.0 + 1000.0 * 20.0),
        "{}",
        s.equity
    );

    let c = db.pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT entry_price, stop_loss, target_price, shares, entry_date, fill_price, reserved_cash, \
                    expires_at, rsi_value, macd_value, sentiment_score, sentiment_trend, model_version, is_active, \
                    entry_status \
             FROM trading_signals WHERE ticker = 'AAA'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, f64>(0), 50.0);
    assert!(close(row.get(1), 48.5) && close(row.get(2), 53.0));
    assert_eq!(row.get::<_, i64>(3), 400);
    assert_eq!(row.get::<_, NaiveDate>(4), day("2021-03-02"));
    // Pending: not filled (the next open fills it), its cost at the close estimate reserved.
    assert_eq!(row.get::<_, Option<f64>>(5), None);
    assert!(close(row.get(6), 400.0 * 50.025 * 1.0005));
    assert_eq!(row.get::<_, String>(14), "pending");
    assert_eq!(
        row.get::<_, chrono::DateTime<chrono::Utc>>(7),
        exits::expires_at(day("2021-03-02"), &ExitConfig::default())
    );
    assert_eq!(row.get::<_, Option<f64>>(8), Some(40.0));
    assert_eq!(row.get::<_, Option<f64>>(9), Some(0.5));
    assert_eq!(row.get::<_, Option<f64>>(10), Some(0.3));
    assert_eq!(row.get::<_, Option<f64>>(11), Some(0.1));
    assert_eq!(row.get::<_, String>(12), "v-test");
    assert!(row.get::<_, bool>(13));
    let reason: String = c
        .query_one(
            "SELECT reason FROM signal_rejections WHERE ticker = 'CCC'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "confidence 0.7000 is not above 0.70");
    let curve = c
        .query_one("SELECT equity, peak_equity, drawdown, open_positions FROM portfolio_equity_curve WHERE date = $1", &[&d])
        .await
        .unwrap();
    assert!(close(curve.get(0), s.equity));
    assert_eq!(curve.get::<_, f64>(1), 100_000.0);
    assert!(close(curve.get(2), 1.0 - s.equity / 100_000.0));
    assert_eq!(curve.get::<_, i32>(3), 2);
    drop(c);

    let snapshot = "SELECT (SELECT count(*) FROM trading_signals) * 1000000 + (SELECT count(*) FROM notification_outbox) * 1000 \
                    + (SELECT count(*) FROM signal_rejections) * 10 + (SELECT count(*) FROM portfolio_equity_curve)";
    let before = count(&db, snapshot).await;
    assert_eq!(before, 2_004_021);
    let again: GenerateSignalsSummary = job.handle(&request(d)).await.unwrap();
    assert!(again.already_generated);
    assert_eq!(again.notifications_queued, 0);
    assert_eq!(again.opened.len(), 2);
    assert_eq!(count(&db, snapshot).await, before);
    assert!(close(cash(&db).await.0, 100_000.0 - paid));

    let events = bus.drain().await;
    let generated: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "signals.generated")
        .collect();
    assert!(!generated.is_empty(), "{events:?}");
    assert_eq!(generated[0]["detail"]["trading_date"], "2021-03-01");
    assert_eq!(
        generated[0]["detail"]["opened"],
        serde_json::json!(["AAA", "BBB"])
    );
}

#[tokio::test]
async fn generate_signals_sells_a_held_ticker_the_ensemble_flips() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let job = job(&db, None);
    job.handle(&request(d)).await.unwrap();
    let (cash_before, _) = cash(&db).await;

    let tue = day("2021-03-02");
    put_close(&db, "AAA", tue, 52.0).await;
    put_close(&db, "BBB", tue, 21.0).await;
    let reserved = 400.0 * 50.025 * 1.0005 + 1000.0 * 20.01 * 1.0005;
    put_prediction(&db, "AAA", tue, [0.50, 0.30, 0.20]).await;
    put_prediction(&db, "BBB", tue, [0.20, 0.60, 0.20]).await;
    let s = job.handle(&request(tue)).await.unwrap();
    assert_eq!(s.closed.len(), 1, "{s:?}");
    assert_eq!(
        (
            s.closed[0].ticker.as_str(),
            s.closed[0].exit_reason.as_str()
        ),
        ("AAA", "signal_flip")
    );

    // No monitor ran on Tuesday: both pending entries are settled from Tuesday's stored
    // bars, filled at their opens (52 and 21), before the flip sells AAA at the close.
    let settled: Vec<String> = s
        .settled
        .iter()
        .map(|x| match x {
            Settled::Filled(f) => format!("{} filled {}", f.ticker, f.open),
            Settled::Missed(m) => format!("{} missed", m.ticker),
        })
        .collect();
    assert_eq!(settled, ["AAA filled 52", "BBB filled 21"]);
    let paid = 400.0 * 52.026 * 1.0005 + 1000.0 * 21.0105 * 1.0005;
    let received = 400.0 * 52.0 * 0.9995 * (1.0 - 0.0005);
    let pnl = received - (400.0 * 52.026 * 1.0005);
    let (c, realized) = cash(&db).await;
    assert!(close(c, cash_before + reserved - paid + received), "{c}");
    assert!(close(realized, pnl), "{realized} vs {pnl}");

    let client = db.pool.get().await.unwrap();
    let buy = client
        .query_one("SELECT id, is_active, exit_price, exit_reason, realized_pnl FROM trading_signals WHERE ticker = 'AAA' AND signal = 'BUY'", &[])
        .await
        .unwrap();
    assert!(!buy.get::<_, bool>(1));
    assert_eq!(buy.get::<_, Option<f64>>(2), Some(52.0));
    assert_eq!(
        buy.get::<_, Option<String>>(3).as_deref(),
        Some("signal_flip")
    );
    assert!(close(buy.get::<_, Option<f64>>(4).unwrap(), pnl));
    let sell = client
        .query_one("SELECT is_active, closes_signal_id, entry_price FROM trading_signals WHERE ticker = 'AAA' AND signal = 'SELL'", &[])
        .await
        .unwrap();
    assert!(!sell.get::<_, bool>(0));
    assert_eq!(sell.get::<_, Option<i64>>(1), Some(buy.get::<_, i64>(0)));
    assert_eq!(sell.get::<_, f64>(2), 52.0);
    let closed_notes = count(
        &db,
        "SELECT count(*) FROM notification_outbox WHERE event_type = 'signal.closed'",
    )
    .await;
    assert_eq!(closed_notes, 2);
    drop(client);
    // BBB still held, re-marked at 21.
    let s2 = job.handle(&request(tue)).await.unwrap();
    assert!(s2.already_generated);
    // opened ×2, filled ×2, closed ×1, each on two channels.
    assert_eq!(
        count(&db, "SELECT count(*) FROM notification_outbox").await,
        10
    );
}

async fn breaker_case(peak: f64) -> GenerateSignalsSummary {
    let db = TestDb::new().await;
    let d = day("2021-03-01");
    {
        let c = db.pool.get().await.unwrap();
        // An earlier mark at `peak`; the portfolio is now 100 000 in cash.
        c.execute(
            "INSERT INTO portfolio_equity_curve (date, cash, positions_value, equity, peak_equity, drawdown, \
                 realized_pnl, unrealized_pnl, open_positions) VALUES ('2021-02-01', $1, 0, $1, $1, 0, 0, 0, 0)",
            &[&peak],
        )
        .await
        .unwrap();
    }
    put_close(&db, "AAA", d, 50.0).await;
    put_prediction(&db, "AAA", d, [0.05, 0.15, 0.80]).await;
    job(&db, None).handle(&request(d)).await.unwrap()
}

#[tokio::test]
async fn generate_signals_drawdown_breaker_reads_the_stored_equity_curve() {
    // 1 − 100 000 / 117 500 = 14.9 %: trades. 1 − 100 000 / 117 700 = 15.04 %: refused.
    let inside = breaker_case(117_500.0).await;
    assert_eq!(inside.opened.len(), 1, "{inside:?}");
    let outside = breaker_case(117_700.0).await;
    assert!(outside.opened.is_empty());
    assert_eq!(outside.refused[0].rules, ["drawdown_breaker"]);
    assert!(
        outside.refused[0].reasons[0].contains("15.04 %"),
        "{:?}",
        outside.refused
    );
}

/// A pending entry whose session passed without a monitor fill and without a stored bar
/// is missed: its reserved cash comes back, the row is inactive, nothing is held.
#[tokio::test]
async fn generate_signals_misses_a_pending_entry_without_a_bar_on_its_session() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let job = job(&db, None);
    job.handle(&request(d)).await.unwrap();
    let tue = day("2021-03-02");
    put_close(&db, "AAA", tue, 52.0).await; // BBB has no Tuesday bar
    put_prediction(&db, "AAA", tue, [0.20, 0.60, 0.20]).await;
    let s = job.handle(&request(tue)).await.unwrap();
    let missed: Vec<&str> = s
        .settled
        .iter()
        .filter_map(|x| match x {
            Settled::Missed(m) => Some(m.ticker.as_str()),
            Settled::Filled(_) => None,
        })
        .collect();
    assert_eq!(missed, ["BBB"], "{s:?}");
    let c = db.pool.get().await.unwrap();
    let r = c
        .query_one(
            "SELECT is_active, entry_status, exit_reason, entry_note FROM trading_signals WHERE ticker = 'BBB'",
            &[],
        )
        .await
        .unwrap();
    assert!(!r.get::<_, bool>(0));
    assert_eq!(r.get::<_, String>(1), "missed");
    assert_eq!(r.get::<_, Option<String>>(2), None);
    assert!(r.get::<_, String>(3).contains("no stored bar"));
    drop(c);
    // Only AAA was paid for (at Tuesday's open 52); BBB's reservation came back.
    let paid = 400.0 * 52.026 * 1.0005;
    assert!(close(cash(&db).await.0, 100_000.0 - paid));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notification_outbox WHERE event_type = 'signal.missed'"
        )
        .await,
        2
    );
    assert!(
        close(s.equity, 100_000.0 - paid + 400.0 * 52.0),
        "{}",
        s.equity
    );
}

async fn sql(db: &TestDb, statement: &str) {
    db.pool
        .get()
        .await
        .unwrap()
        .batch_execute(statement)
        .await
        .unwrap();
}

/// Everything a re-run could change: signals, their states, rejections, outbox, cash.
async fn footprint(db: &TestDb) -> (i64, i64, i64, i64, f64) {
    (
        count(db, "SELECT count(*) FROM trading_signals").await,
        count(db, "SELECT count(*) FROM trading_signals WHERE is_active").await,
        count(db, "SELECT count(*) FROM signal_rejections").await,
        count(db, "SELECT count(*) FROM notification_outbox").await,
        cash(db).await.0,
    )
}

/// Risk sizes without costs (as the backtester): with 20 150 in cash, AAA takes 400
/// shares at 50 (20 000) and leaves 150, one share of BBB at 149. With costs AAA costs
/// 20 020.01: 129.99 is left, not one share of BBB. AAA is booked, BBB refused, the run
/// commits; a re-run changes nothing.
#[tokio::test]
async fn generate_signals_refuses_an_entry_the_cash_pays_for_only_before_costs() {
    let db = TestDb::new().await;
    // A held position keeps equity near 100 000 (AAA capped at 20 % = 400 shares).
    crate::monitor_positions::open_in(
        &db,
        100_000.0,
        "HLD",
        day("2021-03-01"),
        80.0,
        0.05,
        0.10,
        1000,
    )
    .await;
    sql(&db, "UPDATE paper_portfolio SET cash = 20150").await;
    let d = day("2021-03-02");
    put_close(&db, "HLD", d, 80.0).await;
    put_close(&db, "AAA", d, 50.0).await;
    put_features(&db, "AAA", d, &[("volatility_20d", 0.015)]).await;
    put_close(&db, "BBB", d, 149.0).await;
    put_features(&db, "BBB", d, &[("volatility_20d", 0.03)]).await;
    put_prediction(&db, "AAA", d, [0.05, 0.15, 0.80]).await;
    put_prediction(&db, "BBB", d, [0.05, 0.20, 0.75]).await;
    let job = job(&db, None);
    let s = job.handle(&request(d)).await.unwrap();
    let opened: Vec<(&str, u64)> = s
        .opened
        .iter()
        .map(|o| (o.ticker.as_str(), o.shares))
        .collect();
    assert_eq!(opened, [("AAA", 400)], "{s:?}");
    let bbb: Vec<_> = s.refused.iter().filter(|r| r.ticker == "BBB").collect();
    assert_eq!(bbb.len(), 1, "{s:?}");
    assert_eq!(bbb[0].rules, ["insufficient_cash_after_costs"]);
    assert_eq!(
        count(&db, "SELECT count(*) FROM signal_rejections WHERE ticker = 'BBB' AND rule = 'insufficient_cash_after_costs'").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM trading_signals WHERE ticker = 'BBB'"
        )
        .await,
        0
    );
    let reserved = 400.0 * 50.025 * 1.0005;
    assert!(
        close(cash(&db).await.0, 20_150.0 - reserved),
        "{:?}",
        cash(&db).await
    );
    let before = footprint(&db).await;
    let again = job.handle(&request(d)).await.unwrap();
    assert!(again.already_generated);
    assert_eq!(footprint(&db).await, before);
}

/// A second model version of the same day flips a ticker whose entry is still pending:
/// nothing to sell, no SELL row; the entry stands and is reported.
#[tokio::test]
async fn generate_signals_does_not_flip_a_pending_entry() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let job = job(&db, None);
    job.handle(&request(d)).await.unwrap();
    put_prediction_of(&db, "v-two", "AAA", d, [0.50, 0.30, 0.20]).await;
    let before = footprint(&db).await;
    let s = job
        .handle(&SignalsRequest {
            trading_date: d,
            model_version: Some("v-two".into()),
        })
        .await
        .unwrap();
    // One trading run per date (issue 11): a flip of a pending entry could only come from
    // a second run of its signal day, and there is none.
    assert!(s.already_generated, "{s:?}");
    assert_eq!(s.not_traded_model_version.as_deref(), Some("v-two"));
    assert!(s.closed.is_empty(), "{s:?}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM trading_signals WHERE signal = 'SELL'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM trading_signals WHERE ticker = 'AAA' AND is_active AND entry_status = 'pending'").await,
        1
    );
    assert_eq!(footprint(&db).await, before);
}

/// The monitor's stored marks (its last intraday run) above D's closes do not raise the
/// peak: only equity at the closes does.
#[tokio::test]
async fn generate_signals_peak_is_raised_by_the_closes_not_by_stored_marks() {
    let db = TestDb::new().await;
    let id = crate::monitor_positions::open_in(
        &db,
        100_000.0,
        "PK",
        day("2021-03-01"),
        50.0,
        0.05,
        0.10,
        100,
    )
    .await;
    let d = day("2021-03-02");
    {
        let c = db.pool.get().await.unwrap();
        // 15:45 spike to 54 (below the 55 target), closing at 50.
        let at = session_close(d) - chrono::Duration::minutes(15);
        shared::adapters::portfolio_store::mark_position(&**c, id, 54.0, at)
            .await
            .unwrap();
    }
    put_close(&db, "PK", d, 50.0).await;
    // The day's predictions (a HOLD on the held ticker): a run needs some.
    put_prediction(&db, "PK", d, [0.1, 0.8, 0.1]).await;
    let s = job(&db, None).handle(&request(d)).await.unwrap();
    let c = db.pool.get().await.unwrap();
    let r = c
        .query_one(
            "SELECT equity, peak_equity, drawdown FROM portfolio_equity_curve WHERE date = $1",
            &[&d],
        )
        .await
        .unwrap();
    let (equity, peak, drawdown): (f64, f64, f64) = (r.get(0), r.get(1), r.get(2));
    // Equity at the close: 100 000 less the entry's costs.
    assert!(close(equity, s.equity) && equity < 100_000.0, "{equity}");
    assert_eq!(peak, 100_000.0, "the 15:45 mark at 54 set no peak");
    assert!(close(drawdown, 1.0 - equity / 100_000.0), "{drawdown}");
}

/// A stop touched after the monitor's last run of the session (its low at 47 below the
/// 47.50 stop) is acted on by generate-signals on D's stored bar, at the stop, as the
/// backtester would; a re-run, or another model version of D, changes nothing.
#[tokio::test]
async fn generate_signals_exits_a_filled_position_on_the_days_bar() {
    let db = TestDb::new().await;
    let id = crate::monitor_positions::open_in(
        &db,
        100_000.0,
        "STP",
        day("2021-03-01"),
        50.0,
        0.05,
        0.10,
        100,
    )
    .await;
    let (cash_before, _) = cash(&db).await;
    let d = day("2021-03-02");
    put_bar(&db, "STP", d, [49.0, 50.0, 47.0, 48.0]).await;
    // The day's predictions (a HOLD on the held ticker): a run needs some.
    put_prediction(&db, "STP", d, [0.1, 0.8, 0.1]).await;
    let job = job(&db, None);
    let s = job.handle(&request(d)).await.unwrap();
    assert_eq!(s.closed.len(), 1, "{s:?}");
    assert_eq!(
        (
            s.closed[0].ticker.as_str(),
            s.closed[0].exit_reason.as_str(),
            s.closed[0].exit_price
        ),
        ("STP", "stop_loss", 47.5)
    );
    let c = db.pool.get().await.unwrap();
    let r = c
        .query_one(
            "SELECT is_active, exit_price, exit_reason FROM trading_signals WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert!(!r.get::<_, bool>(0));
    assert_eq!(r.get::<_, Option<f64>>(1), Some(47.5));
    assert_eq!(r.get::<_, Option<String>>(2).as_deref(), Some("stop_loss"));
    drop(c);
    let received = 100.0 * 47.5 * 0.9995 * (1.0 - 0.0005);
    assert!(close(cash(&db).await.0, cash_before + received));
    assert!(close(s.equity, cash_before + received), "{}", s.equity);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notification_outbox WHERE event_type = 'signal.closed'"
        )
        .await,
        2
    );
    let before = footprint(&db).await;
    assert!(job.handle(&request(d)).await.unwrap().already_generated);
    let other = job
        .handle(&SignalsRequest {
            trading_date: d,
            model_version: Some("v-two".into()),
        })
        .await
        .unwrap();
    assert!(other.already_generated, "{other:?}");
    assert_eq!(other.not_traded_model_version.as_deref(), Some("v-two"));
    assert_eq!(footprint(&db).await, before);
}

/// predictions.ready again for a generated (date, model) with a new ticker: not traded,
/// reported.
#[tokio::test]
async fn generate_signals_reports_predictions_that_arrived_after_the_run() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let job = job(&db, None);
    let first = job.handle(&request(d)).await.unwrap();
    assert!(first.unconsidered.is_empty());
    put_close(&db, "FFF", d, 30.0).await;
    put_prediction(&db, "FFF", d, [0.05, 0.05, 0.90]).await;
    let before = footprint(&db).await;
    let again = job.handle(&request(d)).await.unwrap();
    assert!(again.already_generated);
    assert_eq!(again.unconsidered, ["FFF"]);
    assert_eq!(footprint(&db).await, before);
}

/// Issue 11, defect 3: `features.built` redelivered after a promotion makes predict write
/// the day's predictions again under the new model, and `predictions.ready` names it. One
/// trading run per date, whatever the model: the second run changes nothing.
#[tokio::test]
async fn generate_signals_trades_a_day_once_even_after_a_promotion() {
    let db = TestDb::new().await;
    let d = monday(&db).await;
    let job = job(&db, None);
    let first = job.handle(&request(d)).await.unwrap();
    assert_eq!(first.opened.len(), 2, "{first:?}");
    for (ticker, probs) in [
        ("AAA", [0.05, 0.15, 0.80]),
        ("BBB", [0.05, 0.20, 0.75]),
        ("CCC", [0.05, 0.05, 0.90]),
    ] {
        put_prediction_of(&db, "v-promoted", ticker, d, probs).await;
    }
    let before = footprint(&db).await;
    for model_version in [Some("v-promoted".to_string()), None] {
        let again = job
            .handle(&SignalsRequest {
                trading_date: d,
                model_version,
            })
            .await
            .unwrap();
        assert!(again.already_generated, "{again:?}");
        assert_eq!(again.model_version.as_deref(), Some("v-test"));
        assert_eq!(again.notifications_queued, 0);
        assert_eq!(footprint(&db).await, before);
    }
    assert_eq!(count(&db, "SELECT count(*) FROM signal_runs").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM trading_signals WHERE signal = 'BUY'"
        )
        .await,
        2
    );
}

/// Fault injection (issue 11): the connection drops while generate-signals inserts BBB's
/// signal. The day is one transaction: nothing of it commits (no run, no signal, no
/// outbox row, no cash moved). The re-run with the same event completes and leaves what
/// a clean run leaves.
#[tokio::test]
async fn a_connection_dropped_mid_day_rolls_the_day_back_whole_and_the_rerun_completes() {
    let clean = TestDb::new().await;
    let d = monday(&clean).await;
    job(&clean, None).handle(&request(d)).await.unwrap();

    let faulty = TestDb::new().await;
    monday(&faulty).await;
    faulty
        .drop_connection_once_on("trading_signals", "INSERT", "NEW.ticker = 'BBB'")
        .await;
    let job = job(&faulty, None);
    assert!(job.handle(&request(d)).await.is_err());
    assert_eq!(faulty.faults_fired().await, 1);
    assert_eq!(count(&faulty, "SELECT count(*) FROM signal_runs").await, 0);
    assert_eq!(
        footprint(&faulty).await,
        (0, 0, 0, 0, 100_000.0),
        "the day rolled back whole"
    );
    let s = job.handle(&request(d)).await.unwrap();
    assert!(!s.already_generated);
    assert_eq!(footprint(&faulty).await, footprint(&clean).await);
    assert_eq!(count(&faulty, "SELECT count(*) FROM signal_runs").await, 1);
}

/// Fault injection (issue 11): PostgreSQL restarted between two runs (a private cluster,
/// `pg_ctl restart -m fast`). The same job and pool, as a warm Lambda container keeps
/// them, work after it without a cold start: the pool drops the dead connections (each
/// is verified before it is handed out) and opens new ones.
#[tokio::test]
async fn the_pool_recovers_after_postgresql_restarts_between_two_runs() {
    let cluster = integration_tests::PrivateCluster::start();
    let db = TestDb::new_on(&cluster.admin_url()).await;
    let d = monday(&db).await;
    let job = job(&db, None);
    let first = job.handle(&request(d)).await.unwrap();
    assert_eq!(first.opened.len(), 2);
    let before = footprint(&db).await;
    cluster.restart();
    let again = job.handle(&request(d)).await.unwrap();
    assert!(again.already_generated, "{again:?}");
    assert_eq!(footprint(&db).await, before);
}
