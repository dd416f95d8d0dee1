//! The watchdog (issue 13, "missed daily run"): on real PostgreSQL, the latest due trading
//! day with and without its signal run, a weekend that re-checks Friday, a re-delivered
//! event, and a database it cannot read (the run fails, no "all good" is reported).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use integration_tests::TestDb;
use shared::adapters::{db, portfolio_store};
use shared::config::DatabaseConfig;
use shared::core::calendar::new_york_instant;
use shared::jobs::watchdog::Watchdog;

fn ny(date: &str, time: &str) -> DateTime<Utc> {
    new_york_instant(
        date.parse().unwrap(),
        NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
    )
}

fn d(date: &str) -> NaiveDate {
    date.parse().unwrap()
}

async fn record_run(db: &TestDb, date: NaiveDate) {
    let client = db.pool.get().await.unwrap();
    assert!(portfolio_store::begin_signal_run(&**client, date, "m1")
        .await
        .unwrap());
    portfolio_store::finish_signal_run(&**client, date, "m1", &serde_json::json!({}))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_trading_day_without_its_signal_run_is_missing_until_the_run_is_recorded() {
    let db = TestDb::new().await;
    let job = Watchdog {
        pool: db.pool.clone(),
    };
    // Wednesday evening, nothing ran.
    let report = job.handle(ny("2025-03-19", "18:30")).await.unwrap();
    assert_eq!(report.check.trading_date, d("2025-03-19"));
    assert!(report.check.missing);
    assert_eq!(report.model_version, None);
    // The same event again: the same answer, nothing written.
    assert_eq!(job.handle(ny("2025-03-19", "18:30")).await.unwrap(), report);

    // The day is replayed: the next check is clean.
    record_run(&db, d("2025-03-19")).await;
    let report = job.handle(ny("2025-03-19", "18:30")).await.unwrap();
    assert!(!report.check.missing);
    assert_eq!(report.model_version.as_deref(), Some("m1"));
    // Another day's run does not count for this one.
    record_run(&db, d("2025-03-20")).await;
    let friday = job.handle(ny("2025-03-21", "18:30")).await.unwrap();
    assert_eq!(friday.check.trading_date, d("2025-03-21"));
    assert!(friday.check.missing);
    // Saturday and Sunday re-check Friday: still missing, so the alarm stays on.
    for weekend in ["2025-03-22", "2025-03-23"] {
        let report = job.handle(ny(weekend, "18:30")).await.unwrap();
        assert_eq!(report.check.trading_date, d("2025-03-21"), "{weekend}");
        assert!(report.check.missing, "{weekend}");
    }
}

#[tokio::test]
async fn a_database_the_watchdog_cannot_read_fails_the_run() {
    // Nothing listens on this port: the check cannot say the run exists.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = DatabaseConfig {
        connect_timeout: std::time::Duration::from_secs(2),
        ..DatabaseConfig::new(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
    };
    let job = Watchdog {
        pool: db::connect_pool(&config).unwrap(),
    };
    assert!(job.handle(ny("2025-03-19", "18:30")).await.is_err());
}
