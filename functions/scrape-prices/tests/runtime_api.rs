//! The built `scrape-prices` binary against the Lambda Runtime API, served locally by
//! wiremock: the thin main builds its clients, takes one scheduled event, runs the
//! handler against a fresh PostgreSQL database and recorded Yahoo responses, and posts
//! the summary back. Invoked twice with the same event, the table does not change.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::{read_fixture, TestDb};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MSFT: &str =
    "yahoo_chart/historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.body.json";

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves one invocation with `event` and returns the body the function posted.
async fn invoke_once(
    test_db: &TestDb,
    yahoo: &MockServer,
    request_id: &str,
    event: &Value,
) -> Value {
    let runtime = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2018-06-01/runtime/invocation/next"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Lambda-Runtime-Aws-Request-Id", request_id)
                .insert_header("Lambda-Runtime-Deadline-Ms", "4102444800000")
                .insert_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:tft-scrape-prices-test",
                )
                .set_body_json(event),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&runtime)
        .await;
    // After the one event, the runtime waits for the next (as Lambda freezes it).
    Mock::given(method("GET"))
        .and(path("/2018-06-01/runtime/invocation/next"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .with_priority(2)
        .mount(&runtime)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            "^/2018-06-01/runtime/(invocation/.*/(response|error)|init/error)$",
        ))
        .respond_with(ResponseTemplate::new(202))
        .mount(&runtime)
        .await;

    let address = runtime.address();
    let child = Command::new(env!("CARGO_BIN_EXE_scrape-prices"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("{}:{}", address.ip(), address.port()),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "tft-scrape-prices-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/tft-scrape-prices-test",
        )
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("DATABASE_URL", test_db.url())
        .env("YAHOO_BASE_URL", yahoo.uri())
        .env("TFT_WATCHLIST", "MSFT")
        .env_remove("TFT_EVENT_BUS_NAME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the scrape-prices binary");
    let _function = Function(child);

    let started = Instant::now();
    loop {
        let requests = runtime.received_requests().await.unwrap_or_default();
        if let Some(post) = requests.iter().find(|r| r.method.as_str() == "POST") {
            assert_eq!(
                post.url.path(),
                format!("/2018-06-01/runtime/invocation/{request_id}/response"),
                "the function reported an error: {}",
                String::from_utf8_lossy(&post.body)
            );
            return serde_json::from_slice(&post.body).expect("JSON response");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no response from the function"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_lambda_binary_handles_the_same_scheduled_event_twice_without_duplicates() {
    let test_db = TestDb::new().await;
    let yahoo = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/MSFT"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(read_fixture(MSFT), "application/json"),
        )
        .mount(&yahoo)
        .await;
    // The input template.yaml gives the scheduler: 16:30 New York, Friday 2022-01-28.
    let event = json!({"version": "0", "id": "d32c5kddcf5bb8c3", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "time": "2022-01-28T21:30:00Z", "detail": {}});

    let first = invoke_once(&test_db, &yahoo, "req-1", &event).await;
    assert_eq!(first["trading_date"], "2022-01-28");
    assert_eq!(first["tickers_ok"], json!(["MSFT"]));
    assert_eq!(first["rows_inserted"], 252);

    let second = invoke_once(&test_db, &yahoo, "req-2", &event).await;
    assert_eq!(
        (
            second["rows_inserted"].clone(),
            second["rows_updated"].clone()
        ),
        (json!(0), json!(0))
    );

    let client = test_db.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT date) FROM stock_prices WHERE ticker = 'MSFT'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (252, 252));
}
