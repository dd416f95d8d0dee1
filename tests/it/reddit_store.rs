//! `reddit_posts` and the daily sentiment aggregate on real PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use integration_tests::TestDb;
use shared::adapters::reddit_store::{self, PostType, RedditRow};
use shared::core::mention_sentiment::{aggregate, SentimentWindow};
use shared::jobs::daily_sentiment::{recompute_days, RedditTrending};
use shared::jobs::scrape_prices::TrendingTickers;

fn row(
    id: &str,
    author: Option<&str>,
    tickers: &[&str],
    sentiment: f64,
    score: i64,
    at: &str,
) -> RedditRow {
    RedditRow {
        post_id: id.into(),
        parent_id: Some("t3_root".into()).filter(|_| id.starts_with("t1_")),
        link_id: Some("t3_root".into()).filter(|_| id.starts_with("t1_")),
        title: if id.starts_with("t3_") {
            format!("title {id}")
        } else {
            String::new()
        },
        text: Some(format!("{} looks good", tickers.join(" "))),
        subreddit: "wallstreetbets".into(),
        tickers: tickers.iter().map(|t| t.to_string()).collect(),
        sentiment_score: sentiment,
        score,
        num_comments: 3,
        upvote_ratio: Some(0.9).filter(|_| id.starts_with("t3_")),
        url: None,
        author: author.map(Into::into),
        post_type: if id.starts_with("t3_") {
            PostType::Post
        } else {
            PostType::Comment
        },
        source: "reddit_api".into(),
        created_at: at.parse::<DateTime<Utc>>().unwrap(),
    }
}

async fn fingerprint(client: &tokio_postgres::Client, table: &str) -> String {
    client
        .query_one(
            &format!("SELECT coalesce(md5(string_agg(t::text || ctid::text || xmin::text, '|' ORDER BY t::text)), '') FROM {table} t"),
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Writes through the scraper's UNNEST upsert or the imports' COPY path.
async fn write(
    client: &mut deadpool_postgres::Client,
    rows: &[RedditRow],
    copy: bool,
) -> shared::adapters::price_store::UpsertCounts {
    if !copy {
        return reddit_store::upsert_items(&***client, rows).await.unwrap();
    }
    let tx = client.transaction().await.unwrap();
    let counts = reddit_store::copy_upsert_items(&tx, rows).await.unwrap();
    tx.commit().await.unwrap();
    counts
}

#[tokio::test]
async fn a_rescrape_updates_engagement_and_never_duplicates() {
    let mut tables = Vec::new();
    for copy in [false, true] {
        tables.push(rescrape(copy).await);
    }
    assert_eq!(
        tables[0], tables[1],
        "the COPY path stores what the upsert stores"
    );
}

async fn rescrape(copy: bool) -> Vec<String> {
    let test_db = TestDb::new().await;
    let mut client = test_db.pool.get().await.unwrap();
    let rows = vec![
        row(
            "t3_a",
            Some("ape"),
            &["GME"],
            0.5,
            10,
            "2021-01-11T15:00:00Z",
        ),
        row(
            "t1_b",
            Some("bear"),
            &["GME", "AMC"],
            -0.4,
            2,
            "2021-01-11T15:05:00Z",
        ),
        row("t3_c", None, &[], 0.0, 1, "2021-01-11T15:10:00Z"),
        // Out of the columns' ranges: clamped the same way on both paths.
        row(
            "t1_d",
            Some("x"),
            &["TSLA"],
            1.5,
            1 << 40,
            "2021-01-11T15:20:00Z",
        ),
    ];
    let first = write(&mut client, &rows, copy).await;
    assert_eq!((first.inserted, first.updated), (4, 0));
    let before = fingerprint(&client, "reddit_posts").await;
    let again = write(&mut client, &rows, copy).await;
    assert_eq!((again.inserted, again.updated), (0, 0));
    assert_eq!(fingerprint(&client, "reddit_posts").await, before);

    // Later: more upvotes, and the same post twice in one batch (the last one wins).
    let mut later = rows[0].clone();
    later.score = 250;
    let mut latest = later.clone();
    latest.score = 300;
    latest.num_comments = 40;
    let third = write(&mut client, &[later, latest], copy).await;
    assert_eq!((third.inserted, third.updated), (0, 1));
    let stored = client
        .query_one("SELECT count(*), max(score), max(num_comments) FROM reddit_posts WHERE post_id = 't3_a'", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            stored.get::<_, i64>(0),
            stored.get::<_, i32>(1),
            stored.get::<_, i32>(2)
        ),
        (1, 300, 40)
    );

    let gme: i64 = client
        .query_one(
            "SELECT count(*) FROM reddit_posts WHERE tickers @> ARRAY['GME']::varchar[]",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gme, 2);
    let empty: Vec<String> = client
        .query_one(
            "SELECT tickers::text[] FROM reddit_posts WHERE post_id = 't3_c'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(empty.is_empty());
    client
        .query(
            "SELECT row(post_id, parent_id, link_id, title, text, subreddit, tickers, \
             sentiment_score, score, num_comments, upvote_ratio, url, author, post_type, source, \
             created_at)::text FROM reddit_posts ORDER BY post_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_daily_aggregate_is_point_in_time_and_idempotent() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    // Monday 2021-01-11: the window is Friday 21:30 UTC .. Monday 21:30 UTC (EST).
    let rows = vec![
        row(
            "t3_fri_before",
            Some("early"),
            &["GME"],
            0.9,
            0,
            "2021-01-08T21:29:59Z",
        ),
        row(
            "t3_fri_after",
            Some("ape"),
            &["GME"],
            0.6,
            5,
            "2021-01-08T21:30:00Z",
        ),
        row(
            "t1_sun",
            Some("ape"),
            &["GME", "TSLA"],
            0.2,
            50,
            "2021-01-10T18:00:00Z",
        ),
        row(
            "t1_mon",
            Some("bear"),
            &["GME"],
            -0.7,
            0,
            "2021-01-11T16:00:00Z",
        ),
        row("t1_anon", None, &["TSLA"], 0.3, 0, "2021-01-11T17:00:00Z"),
        row(
            "t1_late",
            Some("late"),
            &["GME"],
            1.0,
            0,
            "2021-01-11T21:30:00Z",
        ),
    ];
    reddit_store::upsert_items(&**client, &rows).await.unwrap();
    let monday = NaiveDate::from_ymd_opt(2021, 1, 11).unwrap();

    assert_eq!(recompute_days(&test_db.pool, &[monday]).await.unwrap(), 2);
    let stored = reddit_store::daily_sentiment(&**client, monday)
        .await
        .unwrap();
    let window = SentimentWindow::for_trading_date(monday);
    let items = reddit_store::scored_items_between(&**client, window.start, window.cutoff)
        .await
        .unwrap();
    assert_eq!(
        items.len(),
        4,
        "only items inside [Friday cutoff, Monday cutoff)"
    );
    assert_eq!(stored, aggregate(&items, &window));
    let gme = &stored[0];
    assert_eq!(
        (
            gme.ticker.as_str(),
            gme.mentions,
            gme.items,
            gme.unique_authors
        ),
        ("GME", 2, 3, 2)
    );

    let before = fingerprint(&client, "ticker_sentiment_daily").await;
    assert_eq!(recompute_days(&test_db.pool, &[monday]).await.unwrap(), 0);
    assert_eq!(fingerprint(&client, "ticker_sentiment_daily").await, before);
}

#[tokio::test]
async fn trending_ranks_by_distinct_authors_before_the_cutoff() {
    let test_db = TestDb::new().await;
    let client = test_db.pool.get().await.unwrap();
    let mut rows = Vec::new();
    for (i, author) in ["a", "b", "c", "d"].iter().enumerate() {
        rows.push(row(
            &format!("t1_gme{i}"),
            Some(author),
            &["GME"],
            0.5,
            0,
            "2021-01-11T15:00:00Z",
        ));
    }
    for i in 0..10 {
        // One author spamming AMC counts once.
        rows.push(row(
            &format!("t1_amc{i}"),
            Some("spammer"),
            &["AMC"],
            0.5,
            0,
            "2021-01-11T15:00:00Z",
        ));
    }
    rows.push(row(
        "t1_bb1",
        Some("a"),
        &["BB"],
        0.5,
        0,
        "2021-01-11T15:00:00Z",
    ));
    rows.push(row(
        "t1_bb2",
        Some("b"),
        &["BB"],
        0.5,
        0,
        "2021-01-11T15:00:00Z",
    ));
    rows.push(row(
        "t1_future",
        Some("e"),
        &["NOK"],
        0.5,
        0,
        "2021-01-12T15:00:00Z",
    ));
    reddit_store::upsert_items(&**client, &rows).await.unwrap();

    let trending = RedditTrending {
        pool: test_db.pool.clone(),
        top_n: 5,
        window_days: 3,
        min_mentions: 2,
    };
    let monday = NaiveDate::from_ymd_opt(2021, 1, 11).unwrap();
    assert_eq!(trending.trending(monday).await.unwrap(), ["GME", "BB"]);
    let off = RedditTrending {
        top_n: 0,
        ..trending
    };
    assert!(off.trending(monday).await.unwrap().is_empty());
}
