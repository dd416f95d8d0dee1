//! Secrets at run time (issue 13), on Secrets Manager in moto: a function given only the
//! ARNs reads the values at init (`FunctionContext`), its configs have them, and they
//! never show in their Debug output; a missing required key is an error naming the key and
//! the ARN, never a value; the optional Reddit username and password may be absent; a
//! value given both ways is refused.

use std::collections::HashMap;

use integration_tests::TestDb;
use secrecy::ExposeSecret;
use serde_json::json;
use shared::adapters::secrets::{resolve_env, SecretError};
use shared::config::ConfigError;
use shared::jobs::init::FunctionContext;
use shared::jobs::notify::{EmailTransport, NotifyConfig};
use shared::jobs::scrape_reddit::RedditConfig;

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// A unique marker: the test's way to find a value wherever it might leak.
fn marker(what: &str) -> String {
    format!("{what}-{:016x}", rand::random::<u64>())
}

/// A secret of its own on moto holding `value` (a JSON object); its ARN.
pub(crate) async fn create_secret(value: serde_json::Value) -> String {
    let output = secrets_client()
        .await
        .create_secret()
        .name(format!("tft-test-{:016x}", rand::random::<u64>()))
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create the secret on moto");
    output.arn.expect("moto returns the ARN")
}

fn base_env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The harness's cluster speaks plaintext on 127.0.0.1 (sslmode=disable in its URL).
    env.insert("DATABASE_ALLOW_PLAINTEXT".into(), "1".into());
    env
}

#[tokio::test]
async fn a_function_given_only_arns_reads_its_secrets_at_init() {
    let db = TestDb::new().await;
    // The database URL with a marker in it (application_name: harmless to the server).
    let app = marker("app");
    let sep = if db.url().contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}application_name={app}", db.url());
    let webhook_secret = marker("webhook");
    let smtp_url = format!("smtps://bot:{}@smtp.example.com:465", marker("smtp"));
    let db_arn = create_secret(json!({ "url": url })).await;
    let webhook_arn = create_secret(json!({ "webhook_secret": webhook_secret })).await;
    let smtp_arn = create_secret(json!({ "smtp_url": smtp_url })).await;

    // What template.yaml gives notify: ARNs only, nothing secret.
    let base = base_env(&[
        ("DATABASE_URL_SECRET_ARN", &db_arn),
        ("NOTIFY_WEBHOOK_URL", "https://hooks.example.com/tft"),
        ("NOTIFY_WEBHOOK_SECRET_ARN", &webhook_arn),
        ("NOTIFY_EMAIL_TRANSPORT", "smtp"),
        ("NOTIFY_SMTP_SECRET_ARN", &smtp_arn),
    ]);
    let ctx = FunctionContext::from_env_source(base)
        .await
        .expect("init with secrets by ARN");

    // The database URL came from the secret, and the pool works with it.
    assert_eq!(ctx.config.database.url.expose_secret(), url);
    let client = ctx.pool.get().await.expect("a connection");
    let row = client
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        app,
        "connected with the secret's URL"
    );

    // The function's other config, parsed from the same view.
    let notify = NotifyConfig::from_env(&ctx.env).expect("notify config");
    let webhook = notify.webhook.as_ref().expect("webhook configured");
    assert_eq!(webhook.secret.expose_secret(), webhook_secret);
    match &notify.email_transport {
        EmailTransport::Smtp(smtp) => assert_eq!(smtp.url.expose_secret(), smtp_url),
        other => panic!("expected SMTP, got {other:?}"),
    }

    // No value in any Debug output of what init built.
    let printed = format!("{:?} {:?} {:?}", ctx.config, ctx.env, notify);
    for value in [&app, &webhook_secret, &smtp_url] {
        assert!(
            !printed.contains(value.as_str()),
            "{value} leaked: {printed}"
        );
    }
    // ...while the printout is not empty (the check above could not pass vacuously).
    assert!(
        printed.contains("DATABASE_URL") && printed.contains("hooks.example.com"),
        "{printed}"
    );
}

#[tokio::test]
async fn reddit_client_credentials_need_no_username_or_password() {
    let client_secret = marker("reddit");
    let arn = create_secret(json!({ "client_id": "app-id", "client_secret": client_secret })).await;
    let env = resolve_env(base_env(&[("REDDIT_SECRET_ARN", &arn)]))
        .await
        .expect("optional keys may be absent");
    let reddit = RedditConfig::from_env(&env).expect("reddit config");
    assert_eq!(reddit.credentials.client_id, "app-id");
    assert_eq!(
        reddit.credentials.client_secret.expose_secret(),
        client_secret
    );
    assert_eq!(reddit.credentials.username, None);
    assert!(reddit.credentials.password.is_none());
    let printed = format!("{reddit:?} {env:?}");
    assert!(!printed.contains(&client_secret), "{printed}");

    // With the password grant's keys, all four arrive.
    let password = marker("password");
    let arn = create_secret(json!({
        "client_id": "app-id", "client_secret": client_secret,
        "username": "tft-bot", "password": password,
    }))
    .await;
    let env = resolve_env(base_env(&[("REDDIT_SECRET_ARN", &arn)]))
        .await
        .unwrap();
    let reddit = RedditConfig::from_env(&env).unwrap();
    assert_eq!(reddit.credentials.username.as_deref(), Some("tft-bot"));
    assert_eq!(
        reddit
            .credentials
            .password
            .as_ref()
            .map(|p| p.expose_secret()),
        Some(password.as_str())
    );
    assert!(!format!("{reddit:?}").contains(&password));
}

#[tokio::test]
async fn a_missing_required_key_names_the_key_and_the_arn_but_not_the_values() {
    // client_secret is missing; the values present must not be quoted back.
    let present = marker("present");
    let arn = create_secret(json!({ "client_id": present, "username": present })).await;
    let err = resolve_env(base_env(&[("REDDIT_SECRET_ARN", &arn)]))
        .await
        .expect_err("client_secret is required");
    let text = err.to_string();
    assert!(text.contains("\"client_secret\""), "{text}");
    assert!(text.contains(&arn), "{text}");
    assert!(!text.contains(&present), "{text}");
    assert!(matches!(
        err,
        SecretError::MissingKey {
            key: "client_secret",
            ..
        }
    ));

    // The database URL's secret under another key: init fails, naming "url" and the ARN.
    let url = format!("postgres://trader:{}@db.example/tft", marker("password"));
    let arn = create_secret(json!({ "uri": url })).await;
    let err = FunctionContext::from_env_source(base_env(&[("DATABASE_URL_SECRET_ARN", &arn)]))
        .await
        .err()
        .expect("no url key")
        .to_string();
    assert!(err.contains("\"url\"") && err.contains(&arn), "{err}");
    assert!(!err.contains(&url) && !err.contains("trader:"), "{err}");

    // An ARN that names nothing: the error names it.
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tft-nope-AbCdEf";
    let err = resolve_env(base_env(&[("NOTIFY_WEBHOOK_SECRET_ARN", missing)]))
        .await
        .expect_err("no such secret")
        .to_string();
    assert!(err.contains(missing), "{err}");
}

#[tokio::test]
async fn a_value_given_both_as_variable_and_as_arn_is_refused() {
    let db = TestDb::new().await;
    let arn = create_secret(json!({ "url": db.url() })).await;
    let err = FunctionContext::from_env_source(base_env(&[
        ("DATABASE_URL", db.url()),
        ("DATABASE_URL_SECRET_ARN", &arn),
    ]))
    .await
    .err()
    .expect("ambiguous");
    let secret_err = err.downcast_ref::<SecretError>().expect("a SecretError");
    assert!(
        matches!(
            secret_err,
            SecretError::Config(ConfigError::Ambiguous {
                var: "DATABASE_URL",
                arn_var: "DATABASE_URL_SECRET_ARN"
            })
        ),
        "{secret_err}"
    );
    assert!(!err.to_string().contains(db.url()), "{err}");

    // The same for a secret whose variables are optional.
    let arn = create_secret(json!({ "client_id": "a", "client_secret": "b" })).await;
    let err = resolve_env(base_env(&[
        ("REDDIT_PASSWORD", "pw"),
        ("REDDIT_SECRET_ARN", &arn),
    ]))
    .await
    .expect_err("ambiguous");
    assert!(err.to_string().contains("REDDIT_PASSWORD"), "{err}");

    // The variable alone still works (local runs): no ARN, no AWS call.
    let ctx = FunctionContext::from_env_source(base_env(&[("DATABASE_URL", db.url())]))
        .await
        .expect("the plain variable");
    assert_eq!(ctx.config.database.url.expose_secret(), db.url());
}
