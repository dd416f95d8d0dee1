//! TLS as Neon needs it (`sslmode=require`, certificate verified), proved against the
//! test cluster, which infra/test-env.sh starts with TLS on and a certificate for
//! `localhost` signed by a throwaway CA (`TEST_PG_CA_CERT`).

use shared::adapters::db;
use shared::config::DatabaseConfig;

fn url(host: &str, sslmode: &str) -> String {
    let port = std::env::var("TEST_PG_PORT").expect("TEST_PG_PORT: run through make test");
    format!("postgres://postgres@{host}:{port}/postgres?sslmode={sslmode}")
}

fn config(host: &str, sslmode: &str, trust_test_ca: bool) -> DatabaseConfig {
    DatabaseConfig {
        ca_cert_file: trust_test_ca.then(|| {
            std::env::var("TEST_PG_CA_CERT")
                .expect("TEST_PG_CA_CERT")
                .into()
        }),
        ..DatabaseConfig::new(url(host, sslmode))
    }
}

async fn connection_uses_tls(config: &DatabaseConfig) -> Result<bool, String> {
    let pool = db::connect_pool(config).map_err(|e| e.to_string())?;
    let client = pool.get().await.map_err(|e| format!("{e:?}"))?;
    let row = client
        .query_typed(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row[0].get(0))
}

#[tokio::test]
async fn require_with_a_trusted_ca_and_matching_host_connects_over_tls() {
    assert_eq!(
        connection_uses_tls(&config("localhost", "require", true)).await,
        Ok(true)
    );
    // libpq's stricter spelling means the same here: rustls always checks the host name.
    assert_eq!(
        connection_uses_tls(&config("localhost", "verify-full", true)).await,
        Ok(true)
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let err = connection_uses_tls(&config("localhost", "require", false))
        .await
        .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    // The certificate names only `localhost`; 127.0.0.1 is the same server, another name.
    let err = connection_uses_tls(&config("127.0.0.1", "require", true))
        .await
        .unwrap_err();
    assert!(err.contains("NotValidForName"), "{err}");
}

#[tokio::test]
async fn sslmode_disable_stays_plain() {
    assert_eq!(
        connection_uses_tls(&config("127.0.0.1", "disable", false)).await,
        Ok(false)
    );
}

#[tokio::test]
async fn a_missing_ca_file_is_a_clear_error() {
    let mut bad = config("localhost", "require", false);
    bad.ca_cert_file = Some("/nonexistent/ca.pem".into());
    let err = db::connect_pool(&bad).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
