//! `trading_signals` on real PostgreSQL: a re-run creates nothing, one open BUY per
//! ticker, and two monitors racing over 100 open positions close each exactly once.

use chrono::{NaiveDate, Utc};
use integration_tests::TestDb;
use shared::adapters::signal_store::NewSignal;
use shared::adapters::{db, signal_store};
use shared::core::exits::ExitReason;

fn buy(ticker: &str, day: NaiveDate) -> NewSignal {
    NewSignal {
        ticker: ticker.into(),
        trading_date: day,
        signal: "BUY",
        confidence: 0.81,
        model_version: "v1".into(),
        entry_price: 100.0,
        target_price: Some(106.0),
        stop_loss: Some(97.0),
        risk_reward_ratio: Some(2.0),
        position_size_pct: Some(0.2),
        shares: Some(20),
        rsi_value: Some(28.0),
        macd_value: Some(0.4),
        sentiment_score: Some(0.3),
        sentiment_trend: Some(0.1),
        expires_at: None,
    }
}

#[tokio::test]
async fn a_rerun_creates_nothing_and_a_ticker_has_one_open_buy() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    let day = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    assert!(signal_store::insert_signal(&**client, &buy("GME", day))
        .await
        .unwrap()
        .is_some());
    assert!(signal_store::insert_signal(&**client, &buy("GME", day))
        .await
        .unwrap()
        .is_none());
    let next_day = buy("GME", day.succ_opt().unwrap());
    let err = signal_store::insert_signal(&**client, &next_day)
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("trading_signals_one_open_buy_per_ticker"),
        "{err:?}"
    );
    assert_eq!(
        signal_store::open_positions(&**client).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn two_monitors_over_100_positions_close_each_exactly_once() {
    let test_db = TestDb::new().await;
    let day = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    {
        let client = test_db.pool.get().await.unwrap();
        for i in 0..100 {
            signal_store::insert_signal(&**client, &buy(&format!("T{i:03}"), day))
                .await
                .unwrap();
        }
    }
    // Both monitors read the open positions before either closes one, so each tries to
    // close all 100: only the conditional UPDATE keeps a position from closing twice.
    let both_read = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let monitor = |order_reversed: bool| {
        let pool = db::connect_pool(&test_db.database).unwrap();
        let both_read = both_read.clone();
        tokio::spawn(async move {
            let client = pool.get().await.unwrap();
            let mut open = signal_store::open_positions(&**client).await.unwrap();
            assert_eq!(open.len(), 100);
            both_read.wait().await;
            if order_reversed {
                open.reverse();
            }
            let mut closed = Vec::new();
            for p in open {
                let price = p.target_price.unwrap();
                if signal_store::close_position(
                    &**client,
                    p.id,
                    price,
                    ExitReason::Target,
                    Utc::now(),
                )
                .await
                .unwrap()
                {
                    closed.push(p.id);
                }
            }
            closed
        })
    };
    let (a, b) = (monitor(false), monitor(true));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut all: Vec<i64> = a.iter().chain(b.iter()).copied().collect();
    assert_eq!(all.len(), 100, "closed {} + {}", a.len(), b.len());
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100, "a position was closed twice");

    let client = test_db.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE exit_reason = 'target' AND exit_price = 106) \
             FROM trading_signals",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 100));
}
