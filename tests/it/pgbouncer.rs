//! Neon's `-pooler` endpoint is PgBouncer in transaction mode. These tests run the
//! store's queries through a real PgBouncer (started by infra/test-env.sh with
//! pool_mode = transaction and a small server pool), with many clients sharing few
//! server connections.

use futures::future::join_all;
use integration_tests::TestDb;
use shared::adapters::{db, price_store};

use crate::price_store::sample_rows;

#[tokio::test]
async fn store_queries_work_through_a_transaction_mode_pooler() {
    let test_db = TestDb::new().await;
    // 12 client connections over PgBouncer's 4 server connections.
    let pool = db::connect_pool(&test_db.through_pgbouncer(12)).unwrap();
    db::ping(&pool).await.unwrap();

    let tasks = (0..12).map(|i| {
        let pool = pool.clone();
        async move {
            let ticker = format!("T{i}");
            for round in 0..5 {
                let mut client = pool.get().await.unwrap();
                let rows = sample_rows(&ticker, 40 + round);
                let tx = client.transaction().await.unwrap();
                price_store::upsert_prices(&*tx, &rows).await.unwrap();
                tx.commit().await.unwrap();
                let bars = price_store::load_bars(&**client, &ticker).await.unwrap();
                assert_eq!(bars.len(), rows.len());
                let last = price_store::last_stored_date(&**client, &ticker)
                    .await
                    .unwrap();
                assert_eq!(last, Some(rows.last().unwrap().bar.date));
            }
        }
    });
    join_all(tasks).await;

    let client = pool.get().await.unwrap();
    let total = client
        .query_typed("SELECT count(*) FROM stock_prices", &[])
        .await
        .unwrap();
    assert_eq!(total[0].get::<_, i64>(0), 12 * 44);
}

/// The control: the same pooler does break a named prepared statement that outlives
/// its transaction, so the test above would fail if the store used one.
#[tokio::test]
async fn a_named_statement_outside_a_transaction_breaks_behind_the_pooler() {
    let test_db = TestDb::new().await;
    let pool = db::connect_pool(&test_db.through_pgbouncer(2)).unwrap();
    let a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();

    let statement = a.prepare("SELECT 1::int").await.unwrap(); // Parse on server connection X
                                                               // B takes the most recently released server connection (X) and holds it.
    let tx = b.transaction().await.unwrap();
    tx.batch_execute("SELECT pg_sleep(0)").await.unwrap();
    // A's execute is routed to another server connection, which never saw the Parse.
    let err = a.query(&statement, &[]).await.unwrap_err();
    tx.commit().await.unwrap();
    let message = format!("{err:?}");
    assert!(message.contains("does not exist"), "{message}");
}
