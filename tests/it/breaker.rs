//! The drawdown breaker live (generate-signals on real PostgreSQL, the bus on moto): the
//! trip is stored with its two outbox rows and announced once; a re-delivery or a
//! second model version of the same day changes nothing; the first run after the
//! 20-trading-day lock releases it, resets the peak to the equity, and enters again.

use chrono::NaiveDate;
use integration_tests::{eventbridge_client, CapturedBus, TestDb};
use shared::adapters::breaker_store;
use shared::adapters::eventbridge::EventPublisher;
use shared::core::nyse;
use shared::core::risk::{Breaker, BreakerEvent};

use crate::generate_signals::{
    count, day, job, put_close, put_prediction, put_prediction_of, request,
};

/// An earlier mark at a peak of 117 700; the portfolio is 100 000 in cash: 15.04 % down.
async fn fallen_from_117_700(db: &TestDb) {
    let c = db.pool.get().await.unwrap();
    c.execute(
        "INSERT INTO portfolio_equity_curve (date, cash, positions_value, equity, peak_equity, drawdown, \
             realized_pnl, unrealized_pnl, open_positions) \
         VALUES ('2021-02-01', 117700, 0, 117700, 117700, 0, 0, 0, 0)",
        &[],
    )
    .await
    .unwrap();
}

async fn buy_aaa(db: &TestDb, d: NaiveDate) {
    put_close(db, "AAA", d, 50.0).await;
    put_prediction(db, "AAA", d, [0.05, 0.15, 0.80]).await;
}

/// Everything a re-run could double: breaker rows, outbox, signals, refusals.
const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM breaker_events) * 1000000 \
     + (SELECT count(*) FROM notification_outbox) * 1000 + (SELECT count(*) FROM trading_signals) * 100 \
     + (SELECT count(*) FROM signal_rejections)";

#[tokio::test]
async fn generate_signals_breaker_trips_once_is_idempotent_and_releases_after_the_lock() {
    let db = TestDb::new().await;
    fallen_from_117_700(&db).await;
    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = job(
        &db,
        Some(EventPublisher::new(eventbridge, bus.bus_name.clone())),
    );

    // The trip: 2021-03-01 at 15.04 % down. AAA is refused, the lock runs through the
    // 20th trading day after (2021-03-29).
    let trip = day("2021-03-01");
    buy_aaa(&db, trip).await;
    let s = job.handle(&request(trip)).await.unwrap();
    assert!(s.opened.is_empty(), "{s:?}");
    assert_eq!(s.refused[0].rules, ["drawdown_breaker"]);
    let until = day("2021-03-29");
    assert_eq!(
        s.breaker,
        Breaker::Locked {
            tripped_on: trip,
            locked_until: Some(until)
        }
    );
    let recorded = s.breaker_event.expect("the trip is recorded");
    assert!(matches!(
        recorded.event,
        BreakerEvent::Tripped { date, equity, peak_equity, locked_until: Some(u), .. }
            if date == trip && equity == 100_000.0 && peak_equity == 117_700.0 && u == until
    ));
    assert_eq!(s.notifications_queued, 2);
    let keys = |kind: &'static str| {
        let db = &db;
        async move {
            let c = db.pool.get().await.unwrap();
            c.query(
                "SELECT idempotency_key, payload->>'locked_until', (payload->>'peak_equity')::float8 \
                 FROM notification_outbox WHERE event_type = $1 ORDER BY idempotency_key",
                &[&kind],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, Option<f64>>(2)))
            .collect::<Vec<_>>()
        }
    };
    let id = recorded.id;
    assert_eq!(
        keys("breaker.tripped").await,
        [
            (
                format!("breaker.tripped:{id}:email"),
                Some("2021-03-29".to_string()),
                Some(117_700.0)
            ),
            (
                format!("breaker.tripped:{id}:webhook"),
                Some("2021-03-29".to_string()),
                Some(117_700.0)
            ),
        ]
    );

    // The same event again, and a second model version of the same day: nothing doubled.
    let before = count(&db, SNAPSHOT).await;
    assert_eq!(before, 1_002_001);
    let again = job.handle(&request(trip)).await.unwrap();
    assert!(again.already_generated);
    assert_eq!(again.breaker_event.map(|r| r.id), Some(id));
    assert_eq!(count(&db, SNAPSHOT).await, before);
    put_prediction_of(&db, "v-other", "AAA", trip, [0.05, 0.15, 0.80]).await;
    let other = job
        .handle(&shared::jobs::generate_signals::SignalsRequest {
            trading_date: trip,
            model_version: Some("v-other".into()),
        })
        .await
        .unwrap();
    // One trading run per date (issue 11): the other model's delivery finds the day's run.
    assert!(other.already_generated, "{other:?}");
    assert_eq!(other.not_traded_model_version.as_deref(), Some("v-other"));
    assert!(other.opened.is_empty());
    assert_eq!(count(&db, "SELECT count(*) FROM breaker_events").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM notification_outbox WHERE event_type LIKE 'breaker.%'"
        )
        .await,
        2
    );

    // The last locked day: still no entry, no event.
    buy_aaa(&db, until).await;
    let locked = job.handle(&request(until)).await.unwrap();
    assert!(
        locked.opened.is_empty() && locked.breaker_event.is_none(),
        "{locked:?}"
    );
    assert!(locked.breaker.locks(until));

    // The 21st trading day after the trip: released, the peak reset to 100 000, AAA enters.
    let release = nyse::next_trading_day(until);
    assert_eq!(release, day("2021-03-30"));
    buy_aaa(&db, release).await;
    let s = job.handle(&request(release)).await.unwrap();
    assert_eq!(s.breaker, Breaker::Armed);
    let released = s.breaker_event.expect("the release is recorded");
    assert!(matches!(
        released.event,
        BreakerEvent::Released { date, tripped_on, equity, previous_peak, .. }
            if date == release && tripped_on == trip && equity == 100_000.0 && previous_peak == 117_700.0
    ));
    assert_eq!(s.opened.len(), 1, "{s:?}");
    assert_eq!(s.opened[0].ticker, "AAA");
    assert_eq!(
        s.notifications_queued, 4,
        "signal.opened ×2 + breaker.released ×2"
    );
    assert_eq!(keys("breaker.released").await.len(), 2);
    let c = db.pool.get().await.unwrap();
    let peak: f64 = c
        .query_one(
            "SELECT peak_equity FROM portfolio_equity_curve WHERE date = $1",
            &[&release],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        peak, 100_000.0,
        "the mark of the release day starts the new peak"
    );
    drop(c);

    // The day after: the peak read is the release's, not 117 700, and nothing trips.
    let next = nyse::next_trading_day(release);
    put_close(&db, "AAA", next, 50.0).await;
    put_prediction(&db, "AAA", next, [0.10, 0.80, 0.10]).await;
    let s = job.handle(&request(next)).await.unwrap();
    assert!(
        s.breaker_event.is_none() && s.breaker == Breaker::Armed,
        "{s:?}"
    );
    assert!(s.drawdown < 0.01, "{}", s.drawdown);
    let stored = breaker_store::events(&**db.pool.get().await.unwrap())
        .await
        .unwrap();
    let kinds: Vec<(&str, NaiveDate)> = stored
        .iter()
        .map(|r| (r.event.kind(), r.event.date()))
        .collect();
    assert_eq!(kinds, [("tripped", trip), ("released", release)]);

    // On the bus: breaker.tripped (put by the run and again by the re-delivery and by the
    // other model's delivery, which find the day's run: the same id) and
    // breaker.released once.
    let events = bus.drain().await;
    let of = |t: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["detail-type"] == t)
            .map(|e| e["detail"].clone())
            .collect()
    };
    let tripped = of("breaker.tripped");
    assert_eq!(tripped.len(), 3, "{events:?}");
    assert!(tripped.iter().all(|d| d["breaker_event_id"] == id));
    assert_eq!(tripped[0]["trading_date"], "2021-03-01");
    assert_eq!(tripped[0]["releases_on"], "2021-03-30");
    let released_on_bus = of("breaker.released");
    assert_eq!(released_on_bus.len(), 1, "{events:?}");
    assert_eq!(released_on_bus[0]["equity"], 100_000.0);
}

#[tokio::test]
async fn generate_signals_breaker_permanent_setting_never_releases() {
    let db = TestDb::new().await;
    fallen_from_117_700(&db).await;
    let mut job = job(&db, None);
    job.config.risk.breaker = shared::core::risk::BreakerMode::Permanent;
    let trip = day("2021-03-01");
    buy_aaa(&db, trip).await;
    let s = job.handle(&request(trip)).await.unwrap();
    assert_eq!(
        s.breaker,
        Breaker::Locked {
            tripped_on: trip,
            locked_until: None
        }
    );
    let later = day("2021-06-01");
    buy_aaa(&db, later).await;
    let s = job.handle(&request(later)).await.unwrap();
    assert!(s.opened.is_empty() && s.breaker_event.is_none(), "{s:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM breaker_events").await, 1);
}

/// The trip reaches the trader through notify: the e-mail (SMTP, read back by Python's
/// `email` package) says in its subject that entries stop and when they resume.
#[tokio::test]
async fn the_breaker_trip_is_mailed_by_notify_with_what_it_means() {
    use crate::notify::{smtp_env, smtp_notifier, smtp_received, unique_recipient};
    let db = TestDb::new().await;
    fallen_from_117_700(&db).await;
    let trip = day("2021-03-01");
    buy_aaa(&db, trip).await;
    let s = job(&db, None).handle(&request(trip)).await.unwrap();
    assert_eq!(s.notifications_queued, 2, "{s:?}");

    let to = unique_recipient();
    let summary = smtp_notifier(&db, &smtp_env("SMTP_TEST_URL"), &to)
        .run()
        .await
        .unwrap();
    // The e-mail is sent; this notifier has no webhook, so that row is skipped, not failed.
    assert_eq!((summary.sent, summary.skipped), (1, 1), "{summary:?}");
    let received = smtp_received(&to);
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(
        received[0]["subject"],
        "[TFT Trader] Breaker tripped: drawdown 15.04 % (limit 15.00 %); no new entries through \
         2021-03-29, entries resume on 2021-03-30; open positions keep their exits"
    );
    let text = received[0]["parts"][0]["body"].as_str().unwrap();
    assert!(text.contains("peak_equity: 117700.0\n"), "{text}");
}
