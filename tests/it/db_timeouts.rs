//! A database that hangs must fail the run with a clear error, not hang the Lambda until
//! it is killed: the pool's create and wait timeouts, proved against a port that accepts
//! TCP and never answers and against a real pool with its one connection held; and the
//! statement timeout `db::begin` sets, directly and through PgBouncer in transaction mode.

use std::time::Duration;

use deadpool_postgres::{PoolError, TimeoutType};
use integration_tests::TestDb;
use shared::adapters::db;
use shared::config::DatabaseConfig;
use tokio::net::TcpListener;
use tokio_postgres::error::SqlState;

/// The timeout under test, short so the suite stays fast.
const SHORT: Duration = Duration::from_secs(1);
/// The test's own bound: far above the timeouts under test, so it only fires on a hang.
const GUARD: Duration = Duration::from_secs(20);

/// A port that completes the TCP handshake and then never says a word (a hung server,
/// or a black-holed network past the SYN).
async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

fn silent_config(port: u16) -> DatabaseConfig {
    DatabaseConfig {
        connect_timeout: SHORT,
        ..DatabaseConfig::new(format!("postgres://postgres@localhost:{port}/postgres"))
    }
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_checkout_within_the_create_timeout() {
    let pool = db::connect_pool(&silent_config(silent_server().await)).unwrap();
    let outcome = tokio::time::timeout(GUARD, pool.get())
        .await
        .expect("pool.get() hung on a silent server: no create timeout");
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, PoolError::Timeout(TimeoutType::Create)),
        "{err:?}"
    );
    // What the function logs: says what failed, and why.
    let message = db::DbError::from(err).to_string();
    assert!(
        message.contains("could not get a database connection"),
        "{message}"
    );
    assert!(message.contains("creating a new object"), "{message}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_migration_within_the_connect_timeout() {
    let config = silent_config(silent_server().await);
    let outcome = tokio::time::timeout(GUARD, db::migrate(&config))
        .await
        .expect("migrate hung on a silent server: no connect timeout");
    let err = outcome.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
}

#[tokio::test]
async fn a_full_pool_fails_the_checkout_within_the_wait_timeout() {
    let test_db = TestDb::new().await;
    let config = DatabaseConfig {
        max_connections: 1,
        pool_wait_timeout: SHORT,
        ..test_db.database.clone()
    };
    let pool = db::connect_pool(&config).unwrap();
    let _held = pool.get().await.unwrap();
    let outcome = tokio::time::timeout(GUARD, pool.get())
        .await
        .expect("pool.get() hung on a full pool: no wait timeout");
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, PoolError::Timeout(TimeoutType::Wait)),
        "{err:?}"
    );
}

/// Sleeps well past `SHORT` in a transaction opened by `db::begin(_, SHORT)`: PostgreSQL
/// must cancel it (SQLSTATE 57014); then the next transaction on the pool still works.
async fn a_long_statement_is_cancelled(config: &DatabaseConfig) {
    let pool = db::connect_pool(config).unwrap();
    let mut client = pool.get().await.unwrap();
    let tx = db::begin(&mut client, SHORT).await.unwrap();
    let outcome = tokio::time::timeout(GUARD, tx.batch_execute("SELECT pg_sleep(10)"))
        .await
        .expect("pg_sleep ran on: no statement timeout");
    let err = outcome.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(message.contains("statement timeout"), "{message}");
    drop(tx);

    let tx = db::begin(&mut client, SHORT).await.unwrap();
    let rows = tx
        .query_typed("SELECT current_setting('statement_timeout')", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "1s");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_on_postgresql() {
    let test_db = TestDb::new().await;
    a_long_statement_is_cancelled(&test_db.database).await;
}

/// `SET LOCAL` lives in the transaction, so PgBouncer in transaction mode (which drops
/// start-up options and shares server connections between sessions) keeps it.
#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_through_pgbouncer() {
    let test_db = TestDb::new().await;
    a_long_statement_is_cancelled(&test_db.through_pgbouncer(2)).await;
}

/// The bound is the transaction's own: after it ends, the server connection PgBouncer
/// hands to the next client carries no leftover timeout.
#[tokio::test]
async fn the_timeout_ends_with_its_transaction() {
    let test_db = TestDb::new().await;
    let pool = db::connect_pool(&test_db.through_pgbouncer(1)).unwrap();
    let mut client = pool.get().await.unwrap();
    let tx = db::begin(&mut client, SHORT).await.unwrap();
    tx.commit().await.unwrap();
    let rows = client
        .query_typed("SELECT current_setting('statement_timeout')", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "0");
}
