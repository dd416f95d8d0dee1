//! TLS as Neon needs it (`sslmode=require`, certificate verified), proved against the
//! test cluster, which infra/test-env.sh starts with TLS on and a certificate for
//! `localhost` signed by a throwaway CA (`TEST_PG_CA_CERT`). PgBouncer, which the
//! harness starts without TLS, stands in for a server (or a man in the middle) that
//! answers "no TLS here".

use shared::adapters::db;
use shared::config::DatabaseConfig;

fn url(host: &str, sslmode: &str) -> String {
    let port = std::env::var("TEST_PG_PORT").expect("TEST_PG_PORT: run through make test");
    format!("postgres://postgres@{host}:{port}/postgres?sslmode={sslmode}")
}

/// The PgBouncer of the harness (it has no TLS) with `sslmode` removed from its URL.
fn pgbouncer_url_without_sslmode() -> String {
    let url = std::env::var("PGBOUNCER_URL").expect("PGBOUNCER_URL: run through make test");
    url.split('?').next().unwrap().to_string()
}

fn trusting_the_test_ca(url: String) -> DatabaseConfig {
    DatabaseConfig {
        ca_cert_file: Some(
            std::env::var("TEST_PG_CA_CERT")
                .expect("TEST_PG_CA_CERT")
                .into(),
        ),
        ..DatabaseConfig::new(url)
    }
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
async fn sslmode_disable_with_the_plaintext_flag_stays_plain() {
    let config = DatabaseConfig {
        allow_plaintext: true,
        ..config("127.0.0.1", "disable", false)
    };
    assert_eq!(connection_uses_tls(&config).await, Ok(false));
}

#[tokio::test]
async fn a_missing_ca_file_is_a_clear_error() {
    let mut bad = config("localhost", "require", false);
    bad.ca_cert_file = Some("/nonexistent/ca.pem".into());
    let err = db::connect_pool(&bad).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn without_sslmode_the_certificate_is_verified() {
    let port = std::env::var("TEST_PG_PORT").expect("TEST_PG_PORT: run through make test");
    let url = format!("postgres://postgres@localhost:{port}/postgres");
    let err = connection_uses_tls(&DatabaseConfig::new(url.clone()))
        .await
        .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_eq!(
        connection_uses_tls(&trusting_the_test_ca(url)).await,
        Ok(true)
    );
}

/// The downgrade: with no `sslmode`, a server that says "no TLS" must not get the
/// session (and the password) in plaintext.
#[tokio::test]
async fn without_sslmode_a_server_that_refuses_tls_is_not_used() {
    let config = trusting_the_test_ca(pgbouncer_url_without_sslmode());
    let err = connection_uses_tls(&config).await.unwrap_err();
    assert!(err.contains("TLS"), "{err}");
}

#[tokio::test]
async fn prefer_and_allow_are_refused_without_printing_the_password() {
    for mode in ["prefer", "allow"] {
        let port = std::env::var("TEST_PG_PORT").expect("TEST_PG_PORT");
        let url = format!("postgres://postgres:hunter2@localhost:{port}/postgres?sslmode={mode}");
        let config = trusting_the_test_ca(url);
        let err = db::connect_pool(&config).unwrap_err().to_string();
        assert!(err.contains(&format!("sslmode={mode}")), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = db::migrate(&config).await.unwrap_err().to_string();
        assert!(err.contains(&format!("sslmode={mode}")), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn sslmode_disable_is_refused_without_the_plaintext_flag() {
    let err = db::connect_pool(&config("127.0.0.1", "disable", false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_ALLOW_PLAINTEXT"), "{err}");
    let through_pgbouncer = DatabaseConfig::new(format!(
        "{}?sslmode=disable",
        pgbouncer_url_without_sslmode()
    ));
    let err = db::connect_pool(&through_pgbouncer)
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_ALLOW_PLAINTEXT"), "{err}");
}
