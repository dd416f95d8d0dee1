//! A database that hangs must fail the run with a clear error, not hang the Lambda until
//! it is killed: the pool's create and wait timeouts, proved against a port that accepts
//! TCP and never answers and against a real pool with its one connection held.

use std::time::Duration;

use deadpool_postgres::{PoolError, TimeoutType};
use integration_tests::TestDb;
use shared::adapters::db;
use shared::config::DatabaseConfig;
use tokio::net::TcpListener;

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

#[tokio::test]
async fn a_server_that_never_answers_fails_the_checkout_within_the_create_timeout() {
    let port = silent_server().await;
    let config = DatabaseConfig::new(format!("postgres://postgres@localhost:{port}/postgres"));
    let pool = db::connect_pool(&config).unwrap();
    let outcome = tokio::time::timeout(GUARD, pool.get())
        .await
        .expect("pool.get() hung on a silent server: no create timeout");
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, PoolError::Timeout(TimeoutType::Create)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_migration_within_the_connect_timeout() {
    let port = silent_server().await;
    let config = DatabaseConfig::new(format!("postgres://postgres@localhost:{port}/postgres"));
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
