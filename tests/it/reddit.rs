//! Reddit client against a local wiremock server: recorded real OAuth traffic
//! (tests/fixtures/reddit_api, see SOURCES.md there: PRAW's cassettes, tokens redacted
//! to `<ACCESS_TOKEN>`) and injected failures. No database or other service is needed.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use integration_tests::{fixture_path, read_fixture};
use secrecy::SecretString;
use serde_json::Value;
use shared::adapters::reddit::{
    ItemKind, RateLimit, RedditClient, RedditCredentials, RedditError, RedditItem, RedditSettings,
    Sort, TopWindow,
};
use wiremock::matchers::{
    basic_auth, body_string, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER_AGENT: &str = "linux:tft-trader-integration-tests:v1 (by /u/tft_test)";
const CLIENT_ID: &str = "tft-test-client";
const CLIENT_SECRET: &str = "tft-test-secret";
const USERNAME: &str = "tft_bot";
const PASSWORD: &str = "p@ss word&x";
const MAX_RETRIES: usize = 3;
/// The recorded (redacted) token, as Reddit's answer carried it.
const RECORDED_BEARER: &str = "bearer <ACCESS_TOKEN>";
const TOKEN_PATH: &str = "/api/v1/access_token";

const AUTH_SCRIPT: &str = "reddit_api/TestAuthScript.test_scopes.json";
const NO_ITEMS: &str = "reddit_api/TestListingGenerator.test_no_items.json";
const QUARANTINE: &str = "reddit_api/TestSubredditQuarantine.test_opt_in.json";
const ASKREDDIT_NEW: &str = "reddit_api/TestSubredditListings.test_new.01.200.json";
const ASKREDDIT_TOP: &str = "reddit_api/TestSubredditListings.test_top.01.200.json";
const ASKREDDIT_COMMENTS: &str = "reddit_api/TestSubredditListings.test_comments.01.200.json";
const COMMENT_TREE: &str =
    "reddit_api/TestCommentForest.test_comment_forest_refresh_error.02.200.json";

// ---- helpers ----------------------------------------------------------------------------

fn utc(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn settings(server: &MockServer) -> RedditSettings {
    RedditSettings {
        auth_url: server.uri(),
        api_url: server.uri(),
        user_agent: USER_AGENT.to_string(),
        request_timeout: Duration::from_secs(5),
        max_retries: MAX_RETRIES,
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        max_rate_limit_wait: Duration::from_secs(5),
        ..RedditSettings::default()
    }
}

fn app_credentials() -> RedditCredentials {
    RedditCredentials::client_credentials(CLIENT_ID, SecretString::from(CLIENT_SECRET))
}

fn script_credentials() -> RedditCredentials {
    RedditCredentials::password(
        CLIENT_ID,
        SecretString::from(CLIENT_SECRET),
        USERNAME,
        SecretString::from(PASSWORD),
    )
}

fn client(server: &MockServer) -> RedditClient {
    RedditClient::new(settings(server), app_credentials()).unwrap()
}

fn cassette(name: &str) -> Value {
    serde_json::from_str(&read_fixture(name)).unwrap()
}

/// Interaction `i` of a cassette: Reddit's recorded status, headers and body.
fn recorded(name: &str, i: usize) -> ResponseTemplate {
    let c = cassette(name);
    let response = &c["interactions"][i]["response"];
    let status = response["status"]["code"].as_u64().unwrap() as u16;
    let body = response["body"]["string"].as_str().unwrap().to_string();
    let mut template = ResponseTemplate::new(status);
    let mut content_type = "application/json; charset=UTF-8".to_string();
    for (name, values) in response["headers"].as_object().unwrap() {
        let value = values[0].as_str().unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.to_string(),
            // Framing belongs to the transport that replays it; cookies are not used.
            "content-length" | "transfer-encoding" | "connection" | "set-cookie" => {}
            _ => template = template.insert_header(name.as_str(), value),
        }
    }
    template.set_body_raw(body, &content_type)
}

/// The request PRAW sent in interaction `i`: method, URI, body.
fn recorded_request(name: &str, i: usize) -> (String, String, Option<String>) {
    let c = cassette(name);
    let r = &c["interactions"][i]["request"];
    (
        r["method"].as_str().unwrap().to_string(),
        r["uri"].as_str().unwrap().to_string(),
        r["body"].as_str().map(String::from),
    )
}

fn body_file(name: &str) -> ResponseTemplate {
    let bytes = std::fs::read(fixture_path(name)).unwrap();
    ResponseTemplate::new(200).set_body_raw(bytes, "application/json; charset=UTF-8")
}

fn json_file(name: &str) -> Value {
    serde_json::from_str(&read_fixture(name)).unwrap()
}

fn token_json(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(r#"{{"access_token": "{token}", "token_type": "bearer", "expires_in": 86400, "scope": "*"}}"#),
        "application/json; charset=UTF-8",
    )
}

/// The client-credentials exchange exactly as PRAW recorded it (TestAuthScript).
async fn mount_recorded_token(server: &MockServer) {
    let (m, uri, body) = recorded_request(AUTH_SCRIPT, 0);
    assert_eq!(
        (m.as_str(), uri.as_str()),
        ("POST", "https://www.reddit.com/api/v1/access_token")
    );
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(basic_auth(CLIENT_ID, CLIENT_SECRET))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("user-agent", USER_AGENT))
        .and(body_string(body.unwrap()))
        .respond_with(recorded(AUTH_SCRIPT, 0))
        .named("token")
        .mount(server)
        .await;
}

/// A GET of `api_path` with the fixed parameters and the recorded bearer token.
fn api_get(api_path: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(api_path))
        .and(query_param("raw_json", "1"))
        .and(header("authorization", RECORDED_BEARER))
        .and(header("user-agent", USER_AGENT))
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

async fn count(server: &MockServer, p: &str) -> usize {
    requests_to(server, p).await.len()
}

fn query(r: &wiremock::Request, key: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn fullnames(items: &[RedditItem]) -> Vec<&str> {
    items.iter().map(|i| i.fullname.as_str()).collect()
}

/// Every field of a converted item against the raw JSON Reddit sent.
fn assert_matches_json(item: &RedditItem, raw: &Value) {
    let d = &raw["data"];
    let s = |k: &str| d[k].as_str().map(String::from);
    assert_eq!(Some(item.fullname.clone()), s("name"));
    assert_eq!(Some(item.id.clone()), s("id"));
    assert_eq!(Some(item.subreddit.clone()), s("subreddit"));
    let author = s("author").filter(|a| a != "[deleted]");
    assert_eq!(item.author, author, "{}", item.fullname);
    assert_eq!(item.score, d["score"].as_i64().unwrap());
    assert_eq!(
        item.created_utc.timestamp(),
        d["created_utc"].as_f64().unwrap() as i64
    );
    assert_eq!(item.is_stickied, d["stickied"].as_bool().unwrap());
    assert_eq!(item.permalink, s("permalink"));
    match raw["kind"].as_str().unwrap() {
        "t3" => {
            assert_eq!(item.kind, ItemKind::Post);
            assert_eq!(item.title, s("title"));
            assert_eq!(Some(item.body.clone()), s("selftext"));
            assert_eq!(item.num_comments, d["num_comments"].as_i64());
            assert_eq!(item.upvote_ratio, d["upvote_ratio"].as_f64());
            assert_eq!(item.url, s("url"));
            assert_eq!(item.link_flair_text, s("link_flair_text"));
            assert_eq!((&item.parent_fullname, &item.link_fullname), (&None, &None));
        }
        "t1" => {
            assert_eq!(item.kind, ItemKind::Comment);
            assert_eq!(item.title, None);
            assert_eq!(Some(item.body.clone()), s("body"));
            assert_eq!(item.parent_fullname, s("parent_id"));
            assert_eq!(item.link_fullname, s("link_id"));
            assert_eq!((item.num_comments, item.upvote_ratio), (None, None));
        }
        other => panic!("unexpected kind {other}"),
    }
}

// ---- recorded traffic -------------------------------------------------------------------

#[tokio::test]
async fn token_exchange_then_new_listing_as_recorded() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // PRAW asked GET https://oauth.reddit.com/r/askreddit/new?raw_json=1&limit=100.
    api_get("/r/askreddit/new")
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .and(query_param_is_missing("t"))
        .respond_with(body_file(ASKREDDIT_NEW))
        .mount(&server)
        .await;
    let reddit = client(&server);
    let page = reddit.listing("askreddit", Sort::New, None).await.unwrap();

    assert_eq!(page.items.len(), 100);
    assert_eq!(page.after.as_deref(), Some("t3_48f6io"));
    assert_eq!(
        page.items[0],
        RedditItem {
            fullname: "t3_48fbm9".into(),
            id: "48fbm9".into(),
            kind: ItemKind::Post,
            subreddit: "AskReddit".into(),
            title: Some(
                "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
                    .into()
            ),
            body: String::new(),
            author: Some("RedHeadQc".into()),
            score: 1,
            num_comments: Some(1),
            upvote_ratio: None,
            url: Some("https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/".into()),
            permalink: Some("/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/".into()),
            parent_fullname: None,
            link_fullname: None,
            created_utc: utc(1_456_821_458),
            is_stickied: false,
            link_flair_text: Some("serious replies only".into()),
        }
    );
    let last = page.items.last().unwrap();
    assert_eq!(
        (
            last.fullname.as_str(),
            last.author.as_deref(),
            last.score,
            last.num_comments
        ),
        ("t3_48f6io", Some("purpleclouds"), 3, Some(8))
    );
    // raw_json bodies: "&" as typed, not "&amp;".
    let t = page
        .items
        .iter()
        .find(|i| i.fullname == "t3_48f75b")
        .unwrap();
    assert_eq!(
        t.title.as_deref(),
        Some("If practice makes perfect & nobody's perfect, why practice?")
    );
    // Newest first, as `new` lists.
    assert!(page
        .items
        .windows(2)
        .all(|w| w[0].created_utc >= w[1].created_utc));
    let raw = json_file(ASKREDDIT_NEW);
    for (item, raw) in page
        .items
        .iter()
        .zip(raw["data"]["children"].as_array().unwrap())
    {
        assert_matches_json(item, raw);
    }

    // The token is cached: a second call does not ask for another.
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert_eq!(count(&server, TOKEN_PATH).await, 1);
    assert_eq!(count(&server, "/r/askreddit/new").await, 2);
}

#[tokio::test]
async fn top_listing_sends_the_window() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // Recorded: GET /r/askreddit/top?raw_json=1&limit=100&t=all.
    api_get("/r/askreddit/top")
        .and(query_param("limit", "100"))
        .and(query_param("t", "all"))
        .respond_with(body_file(ASKREDDIT_TOP))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .listing("askreddit", Sort::Top(TopWindow::All), None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.after.as_deref(), Some("t3_3i6z8w"));
    let first = &page.items[0];
    assert_eq!(first.fullname, "t3_2np694");
    assert_eq!(
        first.title.as_deref(),
        Some("What tasty food would be distusting if eaten over rice?")
    );
    assert_eq!(first.author.as_deref(), Some("DO_U_EVN_SPAGHETTI"));
    assert_eq!((first.score, first.num_comments), (38_445, Some(7_804)));
    assert_eq!(first.created_utc, utc(1_417_208_878));
    // A deleted account: author None, the post itself kept.
    let deleted = page
        .items
        .iter()
        .find(|i| i.fullname == "t3_1rwouq")
        .unwrap();
    assert_eq!((deleted.author.as_deref(), deleted.score), (None, 7_343));
    assert_eq!(page.items.iter().filter(|i| i.author.is_none()).count(), 4);
    let raw = json_file(ASKREDDIT_TOP);
    for (item, raw) in page
        .items
        .iter()
        .zip(raw["data"]["children"].as_array().unwrap())
    {
        assert_matches_json(item, raw);
    }
}

#[tokio::test]
async fn password_grant_hot_listing_and_rate_limit_headers() {
    let server = MockServer::start().await;
    // TestSubredditQuarantine: password grant (0), then r/ferguson/hot after opting in
    // to the quarantine (3), answered with x-ratelimit-* headers.
    let (_, uri, body) = recorded_request(QUARANTINE, 0);
    assert_eq!(uri, "https://www.reddit.com/api/v1/access_token");
    assert!(body.unwrap().starts_with("grant_type=password&"));
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(basic_auth(CLIENT_ID, CLIENT_SECRET))
        .and(body_string(
            "grant_type=password&username=tft_bot&password=p%40ss+word%26x",
        ))
        .respond_with(recorded(QUARANTINE, 0))
        .expect(1)
        .mount(&server)
        .await;
    let (_, uri, _) = recorded_request(QUARANTINE, 3);
    assert_eq!(
        uri,
        "https://oauth.reddit.com/r/ferguson/hot?limit=100&raw_json=1"
    );
    api_get("/r/ferguson/hot")
        .and(query_param("limit", "100"))
        .respond_with(recorded(QUARANTINE, 3))
        .expect(1)
        .mount(&server)
        .await;
    let reddit = RedditClient::new(settings(&server), script_credentials()).unwrap();
    assert_eq!(reddit.rate_limit(), None, "nothing seen yet");
    let page = reddit.listing("ferguson", Sort::Hot, None).await.unwrap();

    assert_eq!(page.items.len(), 101);
    assert_eq!(page.after.as_deref(), Some("t3_2yu81x"));
    // Hot lists the stickied post first, though it is the oldest.
    let sticky = &page.items[0];
    assert_eq!(sticky.fullname, "t3_2qbhs9");
    assert_eq!(
        sticky.title.as_deref(),
        Some("Welcome to Ferguson, MO. Click for details.")
    );
    assert!(sticky.is_stickied);
    assert!(sticky
        .body
        .starts_with("Ferguson is a city in St. Louis County, Missouri"));
    assert_eq!(page.items.iter().filter(|i| i.is_stickied).count(), 1);
    // Non-ASCII text and a link post (empty selftext, external url).
    let film = &page.items[1];
    assert_eq!(film.title.as_deref(), Some("Mój film"));
    assert_eq!(film.body, "");
    assert_eq!(
        film.url.as_deref(),
        Some("https://www.youtube.com/attribution_link?a=ECeZhP7QIJs&u=%2Fwatch%3Fv%3Dw40HbhM1_o4%26feature%3Dshare")
    );
    let deleted = page
        .items
        .iter()
        .find(|i| i.fullname == "t3_3jk08e")
        .unwrap();
    assert_eq!(
        deleted.title.as_deref(),
        Some("What happened to Tyrone Harris?")
    );
    assert_eq!(deleted.author, None);
    assert_eq!(page.items.iter().filter(|i| i.author.is_none()).count(), 12);

    assert_eq!(
        reddit.rate_limit(),
        Some(RateLimit {
            remaining: 594.0,
            used: 6,
            reset: Duration::from_secs(359)
        })
    );
}

#[tokio::test]
async fn forbidden_subreddit_is_reported_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(recorded(QUARANTINE, 0))
        .mount(&server)
        .await;
    // The recorded 403: {"message": "Forbidden", "error": 403}, no rate-limit headers.
    api_get("/r/ferguson/hot")
        .respond_with(recorded(QUARANTINE, 1))
        .mount(&server)
        .await;
    let reddit = RedditClient::new(settings(&server), script_credentials()).unwrap();
    let err = reddit
        .listing("ferguson", Sort::Hot, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::Forbidden {
            subreddit: "ferguson".into(),
            reason: "Forbidden".into()
        }
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("r/ferguson"), "{err}");
    assert_eq!(count(&server, "/r/ferguson/hot").await, 1, "not retried");
    assert_eq!(reddit.rate_limit(), None);
}

#[tokio::test]
async fn latest_comments_of_a_subreddit() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // Recorded: GET /r/askreddit/comments/?limit=100&raw_json=1.
    api_get("/r/askreddit/comments")
        .and(query_param("limit", "100"))
        .respond_with(body_file(ASKREDDIT_COMMENTS))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .listing("askreddit", Sort::Comments, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.after.as_deref(), Some("t1_d4y8a9e"));
    assert!(page.items.iter().all(|c| c.kind == ItemKind::Comment));
    let first = &page.items[0];
    assert_eq!(first.fullname, "t1_d4y8bdp");
    assert_eq!(first.author.as_deref(), Some("preppypuppy"));
    assert_eq!(
        first.body,
        "great, life is so much better when you can do what you enjoy for a living"
    );
    assert_eq!(first.parent_fullname.as_deref(), Some("t3_4r4inc"));
    assert_eq!(first.link_fullname.as_deref(), Some("t3_4r4inc"));
    // A reply to a comment.
    let last = &page.items[99];
    assert_eq!(last.fullname, "t1_d4y8a9e");
    assert_eq!(last.parent_fullname.as_deref(), Some("t1_d4xhwt2"));
    assert_eq!(last.link_fullname.as_deref(), Some("t3_4r18p6"));
    let sticky: Vec<&str> = page
        .items
        .iter()
        .filter(|c| c.is_stickied)
        .map(|c| c.author.as_deref().unwrap())
        .collect();
    assert_eq!(sticky, ["AutoModerator"]);
    let raw = json_file(ASKREDDIT_COMMENTS);
    for (item, raw) in page
        .items
        .iter()
        .zip(raw["data"]["children"].as_array().unwrap())
    {
        assert_matches_json(item, raw);
    }
}

#[tokio::test]
async fn comments_of_a_post_skip_more_stubs() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // Recorded by PRAW as GET /comments/ablzuq/?limit=1&sort=confidence: one comment,
    // whose replies are a `more` stub (50 hidden), then a top-level stub (8620 hidden).
    api_get("/r/AskReddit/comments/ablzuq")
        .and(query_param("limit", "1"))
        .and(query_param("depth", "10"))
        .and(query_param("sort", "new"))
        .respond_with(body_file(COMMENT_TREE))
        .expect(2)
        .mount(&server)
        .await;
    let reddit = client(&server);
    let comments = reddit.comments("AskReddit", "ablzuq", 1).await.unwrap();
    assert_eq!(
        comments,
        vec![RedditItem {
            fullname: "t1_ed1czme".into(),
            id: "ed1czme".into(),
            kind: ItemKind::Comment,
            subreddit: "AskReddit".into(),
            title: None,
            body: "But when I finally do, it'll be the years biggest shit ^^^^^so ^^^^^far".into(),
            author: Some("sweatybeard".into()),
            score: 12_165,
            num_comments: None,
            upvote_ratio: None,
            url: None,
            permalink: Some(
                "/r/AskReddit/comments/ablzuq/people_who_havent_pooped_in_2019_yet_why_are_you/ed1czme/"
                    .into()
            ),
            parent_fullname: Some("t3_ablzuq".into()),
            link_fullname: Some("t3_ablzuq".into()),
            created_utc: utc(1_546_378_524),
            is_stickied: false,
            link_flair_text: None,
        }]
    );
    // The post's fullname works as well as its id.
    let again = reddit.comments("AskReddit", "t3_ablzuq", 1).await.unwrap();
    assert_eq!(again, comments);
}

#[tokio::test]
async fn empty_listing_is_empty() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(recorded(NO_ITEMS, 1))
        .mount(&server)
        .await;
    let reddit = client(&server);
    let page = reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.after, None);
    let all = reddit
        .listing_until("askreddit", Sort::New, None, None, 5)
        .await
        .unwrap();
    assert!(all.is_empty());
    assert_eq!(count(&server, "/r/askreddit/new").await, 2);
}

// ---- pagination -------------------------------------------------------------------------

/// Page 1 is the recorded r/askreddit/new page; the page after its cursor is the
/// recorded empty listing (the real next page was not recorded).
async fn two_page_listing() -> MockServer {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .and(query_param("after", "t3_48f6io"))
        .respond_with(recorded(NO_ITEMS, 1))
        .with_priority(1)
        .mount(&server)
        .await;
    api_get("/r/askreddit/new")
        .and(query_param_is_missing("after"))
        .respond_with(body_file(ASKREDDIT_NEW))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn listing_until_follows_after_to_the_end() {
    let server = two_page_listing().await;
    let reddit = client(&server);
    let items = reddit
        .listing_until("askreddit", Sort::New, None, None, 5)
        .await
        .unwrap();
    assert_eq!(items.len(), 100);
    assert_eq!(items[0].fullname, "t3_48fbm9");
    assert_eq!(items[99].fullname, "t3_48f6io");
    let pages = requests_to(&server, "/r/askreddit/new").await;
    assert_eq!(pages.len(), 2);
    assert_eq!(query(&pages[0], "after"), None);
    assert_eq!(query(&pages[1], "after").as_deref(), Some("t3_48f6io"));
    assert_eq!(query(&pages[1], "limit").as_deref(), Some("100"));

    // listing() hands the cursor back as given.
    let page = reddit
        .listing("askreddit", Sort::New, Some("t3_48f6io"))
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.after.is_none());
}

#[tokio::test]
async fn listing_until_stops_at_the_known_fullname() {
    let server = two_page_listing().await;
    let items = client(&server)
        .listing_until("askreddit", Sort::New, Some("t3_48fb54"), None, 5)
        .await
        .unwrap();
    // t3_48fb54 is the 11th item: the 10 newer ones come back, it does not.
    assert_eq!(items.len(), 10);
    assert_eq!(items[0].fullname, "t3_48fbm9");
    assert_eq!(items[9].fullname, "t3_48fb64");
    assert!(!fullnames(&items).contains(&"t3_48fb54"));
    assert_eq!(
        count(&server, "/r/askreddit/new").await,
        1,
        "no second page"
    );
}

#[tokio::test]
async fn listing_until_stops_before_not_before() {
    let server = two_page_listing().await;
    // 2016-03-01 08:13:20 UTC: 43 posts are at least that recent; the 44th
    // (t3_48f9f1, 08:13:14) ends the walk.
    let cutoff = utc(1_456_820_000);
    let items = client(&server)
        .listing_until("askreddit", Sort::New, None, Some(cutoff), 5)
        .await
        .unwrap();
    assert_eq!(items.len(), 43);
    assert!(items.iter().all(|i| i.created_utc >= cutoff));
    assert_eq!(items[42].fullname, "t3_48f9fg");
    assert_eq!(count(&server, "/r/askreddit/new").await, 1);
}

#[tokio::test]
async fn listing_until_keeps_repeated_items_once_and_honours_max_pages() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // Reddit's listing shifting while paging: every page repeats the same items.
    api_get("/r/askreddit/new")
        .respond_with(body_file(ASKREDDIT_NEW))
        .mount(&server)
        .await;
    let items = client(&server)
        .listing_until("askreddit", Sort::New, Some("t3_never_seen"), None, 3)
        .await
        .unwrap();
    assert_eq!(items.len(), 100);
    assert_eq!(count(&server, "/r/askreddit/new").await, 3);

    let none = client(&server)
        .listing_until("askreddit", Sort::New, None, None, 0)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(
        count(&server, "/r/askreddit/new").await,
        3,
        "max_pages 0 sends nothing"
    );
}

// ---- tokens -----------------------------------------------------------------------------

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_json("first"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_json("second"))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/r/askreddit/new"))
        .and(header("authorization", "bearer first"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"message": "Unauthorized", "error": 401}"#),
        )
        .mount(&server)
        .await;
    Mock::given(path("/r/askreddit/new"))
        .and(header("authorization", "bearer second"))
        .respond_with(body_file(ASKREDDIT_NEW))
        .mount(&server)
        .await;
    let reddit = client(&server);
    let page = reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(count(&server, TOKEN_PATH).await, 2);
    assert_eq!(count(&server, "/r/askreddit/new").await, 2);

    // The new token is cached for the next call.
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert_eq!(count(&server, TOKEN_PATH).await, 2);
}

#[tokio::test]
async fn a_401_with_a_fresh_token_is_an_auth_error() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    Mock::given(path("/r/askreddit/new"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = client(&server)
        .listing("askreddit", Sort::New, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RedditError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(count(&server, TOKEN_PATH).await, 2, "one refresh");
    assert_eq!(count(&server, "/r/askreddit/new").await, 2, "no retry loop");
}

#[tokio::test]
async fn refused_credentials_are_not_retried() {
    // Wrong client id or secret: 401 from the token endpoint.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"message": "Unauthorized", "error": 401}"#),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .listing("askreddit", Sort::New, None)
        .await
        .unwrap_err();
    match &err {
        RedditError::Auth {
            status: 401,
            reason,
        } => {
            assert!(
                reason.contains("client_credentials grant refused: Unauthorized"),
                "{reason}"
            )
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(count(&server, TOKEN_PATH).await, 1);
    assert_eq!(count(&server, "/r/askreddit/new").await, 0);

    // Wrong password: 200 {"error": "invalid_grant"}.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"error": "invalid_grant"}"#))
        .mount(&server)
        .await;
    let reddit = RedditClient::new(settings(&server), script_credentials()).unwrap();
    let err = reddit
        .comments("AskReddit", "ablzuq", 10)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::Auth {
            status: 200,
            reason: "password grant refused: invalid_grant".into()
        }
    );
    assert_eq!(count(&server, TOKEN_PATH).await, 1);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(recorded(AUTH_SCRIPT, 0).set_delay(Duration::from_millis(100)))
        .mount(&server)
        .await;
    api_get("/r/askreddit/new")
        .respond_with(recorded(NO_ITEMS, 1))
        .mount(&server)
        .await;
    let reddit = client(&server);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let reddit = reddit.clone();
            tokio::spawn(async move { reddit.listing("askreddit", Sort::New, None).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count(&server, TOKEN_PATH).await, 1);
    assert_eq!(count(&server, "/r/askreddit/new").await, 5);
}

// ---- rate limits and injected failures --------------------------------------------------

#[tokio::test]
async fn rate_limited_once_then_succeeds() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    api_get("/r/askreddit/new")
        .respond_with(body_file(ASKREDDIT_NEW))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    let page = client(&server)
        .listing("askreddit", Sort::New, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(count(&server, "/r/askreddit/new").await, 2);
    // Retry-After: 30 honoured only up to max_backoff (10 ms here).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limited_every_time_gives_up() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    let err = client(&server)
        .listing("askreddit", Sort::New, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::RateLimited {
            path: "/r/askreddit/new".into(),
            attempts: MAX_RETRIES + 1
        }
    );
    assert!(err.is_retryable());
    assert_eq!(count(&server, "/r/askreddit/new").await, MAX_RETRIES + 1);
}

#[tokio::test]
async fn server_errors_retry_then_fail_with_the_status() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/comments/ablzuq")
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&server)
        .await;
    let err = client(&server)
        .comments("askreddit", "ablzuq", 100)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::Server {
            path: "/r/askreddit/comments/ablzuq".into(),
            status: 500,
            attempts: MAX_RETRIES + 1
        }
    );
    assert!(err.is_retryable());
    assert_eq!(
        count(&server, "/r/askreddit/comments/ablzuq").await,
        MAX_RETRIES + 1
    );
    assert_eq!(
        count(&server, TOKEN_PATH).await,
        1,
        "the token is reused across retries"
    );
}

#[tokio::test]
async fn malformed_bodies_fail_once_without_retry() {
    let new_page = std::fs::read(fixture_path(ASKREDDIT_NEW)).unwrap();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "/r/askreddit/new",
            "truncated JSON",
            new_page[..5000].to_vec(),
            "not a Reddit Listing",
        ),
        (
            "/r/askreddit/new",
            "an HTML page",
            b"<!doctype html><html><title>reddit.com: over capacity</title></html>".to_vec(),
            "not a Reddit Listing",
        ),
        (
            "/r/AskReddit/comments/ablzuq",
            "a listing where the [post, comments] pair belongs",
            new_page.clone(),
            "pair of Listings",
        ),
    ];
    for (api_path, name, body, reason_part) in cases {
        let server = MockServer::start().await;
        mount_recorded_token(&server).await;
        api_get(api_path)
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let reddit = client(&server);
        let err = if api_path.contains("/comments/") {
            reddit.comments("AskReddit", "ablzuq", 10).await.map(|_| ())
        } else {
            reddit
                .listing("askreddit", Sort::New, None)
                .await
                .map(|_| ())
        }
        .unwrap_err();
        match &err {
            RedditError::Malformed { path, reason } => {
                assert_eq!(path, api_path);
                assert!(reason.contains(reason_part), "{name}: {reason}");
            }
            other => panic!("{name}: expected Malformed, got {other:?}"),
        }
        assert!(!err.is_retryable());
        assert_eq!(count(&server, api_path).await, 1, "{name}: retried");
    }
}

#[tokio::test]
async fn an_exhausted_rate_limit_waits_for_the_reset() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(
            recorded(NO_ITEMS, 1)
                .insert_header("x-ratelimit-remaining", "0.0")
                .insert_header("x-ratelimit-used", "600")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .mount(&server)
        .await;
    let reddit = client(&server);
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert_eq!(
        reddit.rate_limit(),
        Some(RateLimit {
            remaining: 0.0,
            used: 600,
            reset: Duration::from_secs(1)
        })
    );
    let started = Instant::now();
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(count(&server, "/r/askreddit/new").await, 2);

    // Plenty left: no wait.
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(
            recorded(NO_ITEMS, 1)
                .insert_header("x-ratelimit-remaining", "598.0")
                .insert_header("x-ratelimit-used", "2")
                .insert_header("x-ratelimit-reset", "298"),
        )
        .mount(&server)
        .await;
    let reddit = client(&server);
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    let started = Instant::now();
    reddit.listing("askreddit", Sort::New, None).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn unknown_and_banned_subreddits_are_not_found() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    // Reddit sends unknown names to its search page.
    api_get("/r/nosuchsubreddit1234/new")
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "https://oauth.reddit.com/subreddits/search.json?q=nosuchsubreddit1234",
        ))
        .mount(&server)
        .await;
    api_get("/r/banned_one/new")
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string(r#"{"reason": "banned", "message": "Not Found", "error": 404}"#),
        )
        .mount(&server)
        .await;
    let reddit = client(&server);
    let err = reddit
        .listing("nosuchsubreddit1234", Sort::New, None)
        .await
        .unwrap_err();
    match &err {
        RedditError::NotFound {
            subreddit, reason, ..
        } => {
            assert_eq!(subreddit, "nosuchsubreddit1234");
            assert!(reason.contains("/subreddits/search.json"), "{reason}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let err = reddit
        .listing("banned_one", Sort::New, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::NotFound {
            subreddit: "banned_one".into(),
            path: "/r/banned_one/new".into(),
            reason: "banned".into()
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(count(&server, "/r/nosuchsubreddit1234/new").await, 1);
    assert_eq!(count(&server, "/r/banned_one/new").await, 1);
    assert_eq!(
        count(&server, "/subreddits/search.json").await,
        0,
        "redirect not followed"
    );
}

#[tokio::test]
async fn slow_responses_time_out_after_retries() {
    let server = MockServer::start().await;
    mount_recorded_token(&server).await;
    api_get("/r/askreddit/new")
        .respond_with(body_file(ASKREDDIT_NEW).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let reddit = RedditClient::new(
        RedditSettings {
            request_timeout: Duration::from_millis(150),
            max_retries: 1,
            ..settings(&server)
        },
        app_credentials(),
    )
    .unwrap();
    let err = reddit
        .listing("askreddit", Sort::New, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedditError::Timeout {
            path: "/r/askreddit/new".into(),
            attempts: 2
        }
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = MockServer::start().await;
    let reddit = client(&server);
    for sub in ["", "wall street bets", "../admin"] {
        let err = reddit.listing(sub, Sort::New, None).await.unwrap_err();
        assert!(
            matches!(err, RedditError::InvalidRequest { .. }),
            "{sub:?}: {err:?}"
        );
    }
    let err = reddit
        .comments("AskReddit", "ab/../c", 10)
        .await
        .unwrap_err();
    assert!(matches!(err, RedditError::InvalidRequest { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
