//! The scrape-reddit handler end to end on recorded Reddit traffic (wiremock), a fresh
//! database and a bus on moto: posts stored, a forbidden subreddit fails alone, the
//! second run with the same event writes nothing, and reddit.scraped reaches the bus.

use std::time::Duration;

use integration_tests::{eventbridge_client, fixture_path, CapturedBus, TestDb};
use secrecy::SecretString;
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::reddit::{RedditClient, RedditCredentials, RedditSettings};
use shared::jobs::scrape_reddit::{RedditJobConfig, ScrapeReddit, REDDIT_SCRAPED};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NEW: &str = "reddit_api/TestSubredditListings.test_new.01.200.json";
const TOP: &str = "reddit_api/TestSubredditListings.test_top.01.200.json";
const THREAD: &str = "reddit_api/TestCommentForest.test_comment_forest_refresh_error.02.200.json";
const EMPTY: &str = r#"{"kind": "Listing", "data": {"modhash": "", "children": [], "after": null, "before": null}}"#;

fn body(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        std::fs::read(fixture_path(name)).unwrap(),
        "application/json",
    )
}

async fn reddit_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token": "t0ken", "token_type": "bearer", "expires_in": 3600, "scope": "*"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    // r/askreddit as recorded: 100 new posts (one page, then the end of the listing),
    // the top page standing in for hot, and one post's comment tree.
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param_is_missing("after"))
        .respond_with(body(NEW))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param("after", "t3_48f6io"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/hot"))
        .respond_with(body(TOP))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/comments/48f6jc"))
        .respond_with(body(THREAD))
        .mount(&server)
        .await;
    // r/ferguson was quarantined: Reddit's recorded answer.
    Mock::given(method("GET"))
        .and(path("/r/ferguson/new"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            r#"{"message": "Forbidden", "error": 403}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn scrape_reddit_stores_posts_isolates_a_forbidden_subreddit_and_reruns_as_a_no_op() {
    let test_db = TestDb::new().await;
    let server = reddit_server().await;
    let reddit = RedditClient::new(
        RedditSettings {
            auth_url: server.uri(),
            api_url: server.uri(),
            user_agent: "linux:tft-trader-test:0.1 (by /u/tft-trader)".into(),
            request_timeout: Duration::from_secs(5),
            max_retries: 1,
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RedditSettings::default()
        },
        RedditCredentials::client_credentials("app", SecretString::from("secret")),
    )
    .unwrap();
    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = ScrapeReddit {
        pool: test_db.pool.clone(),
        reddit,
        config: RedditJobConfig {
            subreddits: vec!["askreddit".into(), "ferguson".into()],
            min_thread_comments: 20,
            threads_per_subreddit: 1,
            ..RedditJobConfig::default()
        },
        events: Some(EventPublisher::new(
            eventbridge.clone(),
            bus.bus_name.clone(),
        )),
    };
    // An hour after the newest recorded post (2016-03-01 08:37 UTC).
    let now = "2016-03-01T09:25:00Z".parse().unwrap();

    let first = job.handle(now).await.unwrap();
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.failed[0].subreddit, "ferguson");
    assert!(
        first.failed[0].error.contains("403")
            || first.failed[0].error.to_lowercase().contains("forbidden"),
        "{:?}",
        first.failed
    );
    let ask = &first.subreddits[0];
    assert_eq!(
        (ask.posts_fetched, ask.threads_read, ask.comments_fetched),
        (200, 1, 1)
    );
    assert_eq!(
        ask.comments_with_tickers, 0,
        "AskReddit's comment names no ticker"
    );
    assert_eq!(first.rows_inserted, 200);
    assert_eq!(first.sentiment_date, Some("2016-02-29".parse().unwrap()));

    let client = test_db.pool.get().await.unwrap();
    let counts = client
        .query_one(
            "SELECT count(*), count(DISTINCT post_id), count(*) FILTER (WHERE author IS NULL), \
                    min(created_at)::text, bool_and(post_type = 'post') FROM reddit_posts",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.get::<_, i64>(0), counts.get::<_, i64>(1)),
        (200, 200)
    );
    assert_eq!(
        counts.get::<_, i64>(2),
        4,
        "the top page's four [deleted] authors"
    );
    assert!(counts.get::<_, bool>(4));

    let second = job.handle(now).await.unwrap();
    assert_eq!((second.rows_inserted, second.rows_updated), (0, 0));
    // The second run stopped at the newest stored post: no second page was asked for.
    let pages = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/r/askreddit/new")
        .count();
    assert_eq!(
        pages, 3,
        "run 1: two pages; run 2: one page, stopped at the known post"
    );

    let events = bus.drain().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["detail-type"], REDDIT_SCRAPED);
    assert_eq!(
        events[0]["detail"]["subreddits"],
        serde_json::json!(["askreddit"])
    );
    assert_eq!(events[0]["detail"]["failed"][0]["subreddit"], "ferguson");
    assert_eq!(events[0]["detail"]["sentiment_date"], "2016-02-29");
}

/// Issue 11, defect 7: one thread whose comments cannot be fetched (Reddit answers 500
/// on every attempt) must not drop its subreddit's posts: they are stored, the thread is
/// reported, and the run still announces what it stored.
#[tokio::test]
async fn a_failing_thread_keeps_its_subreddits_posts_and_is_reported() {
    let test_db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token": "t0ken", "token_type": "bearer", "expires_in": 3600, "scope": "*"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param_is_missing("after"))
        .respond_with(body(NEW))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param("after", "t3_48f6io"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/hot"))
        .respond_with(body(TOP))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/comments/48f6jc"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let reddit = RedditClient::new(
        RedditSettings {
            auth_url: server.uri(),
            api_url: server.uri(),
            user_agent: "linux:tft-trader-test:0.1 (by /u/tft-trader)".into(),
            request_timeout: Duration::from_secs(5),
            max_retries: 1,
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RedditSettings::default()
        },
        RedditCredentials::client_credentials("app", SecretString::from("secret")),
    )
    .unwrap();
    let job = ScrapeReddit {
        pool: test_db.pool.clone(),
        reddit,
        config: RedditJobConfig {
            subreddits: vec!["askreddit".into()],
            min_thread_comments: 20,
            threads_per_subreddit: 1,
            ..RedditJobConfig::default()
        },
        events: None,
    };
    let now = "2016-03-01T09:25:00Z".parse().unwrap();
    let s = job.handle(now).await.unwrap();
    assert!(s.failed.is_empty(), "{s:?}");
    assert_eq!(s.rows_inserted, 200);
    let ask = &s.subreddits[0];
    assert_eq!((ask.posts_fetched, ask.threads_read), (200, 0));
    assert_eq!(ask.threads_failed.len(), 1, "{ask:?}");
    assert_eq!(ask.threads_failed[0].thread, "48f6jc");
    assert!(ask.threads_failed[0].error.contains("500"), "{ask:?}");
    let stored: i64 = test_db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM reddit_posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 200);
}

/// Fault injection (issue 11): Reddit answers 200 with a truncated listing for one
/// subreddit and an empty one for another: the first is reported failed with the reason,
/// the second stores nothing and is fine, and the run (one subreddit left) succeeds.
#[tokio::test]
async fn a_truncated_listing_fails_its_subreddit_alone_and_an_empty_one_is_fine() {
    let test_db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token": "t0ken", "token_type": "bearer", "expires_in": 3600, "scope": "*"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let listing = std::fs::read_to_string(fixture_path(NEW)).unwrap();
    Mock::given(method("GET"))
        .and(path("/r/cut/new"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(listing[..listing.len() / 2].to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    for p in ["/r/quiet/new", "/r/quiet/hot"] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY, "application/json"))
            .mount(&server)
            .await;
    }
    let reddit = RedditClient::new(
        RedditSettings {
            auth_url: server.uri(),
            api_url: server.uri(),
            user_agent: "linux:tft-trader-test:0.1 (by /u/tft-trader)".into(),
            request_timeout: Duration::from_secs(5),
            max_retries: 1,
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RedditSettings::default()
        },
        RedditCredentials::client_credentials("app", SecretString::from("secret")),
    )
    .unwrap();
    let job = ScrapeReddit {
        pool: test_db.pool.clone(),
        reddit,
        config: RedditJobConfig {
            subreddits: vec!["cut".into(), "quiet".into()],
            ..RedditJobConfig::default()
        },
        events: None,
    };
    let s = job
        .handle("2016-03-01T09:25:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(s.failed.len(), 1, "{s:?}");
    assert_eq!(s.failed[0].subreddit, "cut");
    assert_eq!(s.subreddits.len(), 1);
    assert_eq!((s.subreddits[0].posts_fetched, s.rows_inserted), (0, 0));
}

/// Issue 11, defect 1 (client budgets inside the caller's deadline): a comment thread
/// that hangs does not hold scrape-reddit past its run deadline: at the deadline the
/// thread is reported, and the subreddit's posts are stored.
#[tokio::test]
async fn a_hanging_thread_is_cut_at_the_runs_deadline_and_the_posts_are_kept() {
    let test_db = TestDb::new().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"access_token": "t0ken", "token_type": "bearer", "expires_in": 3600, "scope": "*"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param_is_missing("after"))
        .respond_with(body(NEW))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/new"))
        .and(query_param("after", "t3_48f6io"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(EMPTY, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/hot"))
        .respond_with(body(TOP))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/askreddit/comments/48f6jc"))
        .respond_with(body(THREAD).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let reddit = RedditClient::new(
        RedditSettings {
            auth_url: server.uri(),
            api_url: server.uri(),
            user_agent: "linux:tft-trader-test:0.1 (by /u/tft-trader)".into(),
            request_timeout: Duration::from_secs(120),
            ..RedditSettings::default()
        },
        RedditCredentials::client_credentials("app", SecretString::from("secret")),
    )
    .unwrap();
    let job = ScrapeReddit {
        pool: test_db.pool.clone(),
        reddit,
        config: RedditJobConfig {
            subreddits: vec!["askreddit".into()],
            min_thread_comments: 20,
            threads_per_subreddit: 1,
            ..RedditJobConfig::default()
        },
        events: None,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let s = tokio::time::timeout(
        Duration::from_secs(15),
        job.handle_until("2016-03-01T09:25:00Z".parse().unwrap(), deadline),
    )
    .await
    .expect("the run ends at its deadline")
    .unwrap();
    assert_eq!(s.rows_inserted, 200, "{s:?}");
    let ask = &s.subreddits[0];
    assert_eq!(ask.threads_failed.len(), 1, "{ask:?}");
    assert!(ask.threads_failed[0].error.contains("deadline"), "{ask:?}");
}
