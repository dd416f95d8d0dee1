//! `tft import-reddit`'s library path (`jobs::reddit_import`) on real PostgreSQL with the
//! archive fixtures of every format (`tests/fixtures/reddit_archives`, README there).

use std::path::PathBuf;

use integration_tests::{fixture_path, TestDb};
use shared::adapters::reddit_archive::{ArchiveFormat, Compression, SkipReason};
use shared::jobs::reddit_import::{import_files, ImportSummary};

fn archives(names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| fixture_path(&format!("reddit_archives/{n}")))
        .collect()
}

async fn import(db: &TestDb, names: &[&str]) -> ImportSummary {
    import_files(&db.pool, &archives(names)).await.unwrap()
}

/// Every stored daily aggregate row, as text (floats in their exact shortest form).
async fn daily_aggregate(db: &TestDb) -> Vec<String> {
    let client = db.pool.get().await.unwrap();
    client
        .query(
            "SELECT row(ticker, trading_date, window_start, cutoff_at, mentions, items, \
             unique_authors, mean_sentiment, weighted_sentiment, bullish_share)::text \
             FROM ticker_sentiment_daily ORDER BY trading_date, ticker",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Changes to any row (even a rewrite of the same values) change this.
async fn fingerprint(db: &TestDb, table: &str) -> String {
    let client = db.pool.get().await.unwrap();
    client
        .query_one(
            &format!("SELECT coalesce(md5(string_agg(t::text || ctid::text || xmin::text, '|' ORDER BY t::text)), '') FROM {table} t"),
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn reddit_import_ndjson_zst_and_csv_give_the_same_daily_aggregate() {
    let (ndjson, zst, csv) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let a = import(&ndjson, &["submissions.ndjson", "comments.ndjson"]).await;
    let b = import(&zst, &["pushshift_mixed.ndjson.zst"]).await;
    let c = import(
        &csv,
        &["submissions_api_objects.csv", "comments_pushshift.csv"],
    )
    .await;
    assert_eq!(
        a.files.iter().map(|f| f.format).collect::<Vec<_>>(),
        [ArchiveFormat::PushshiftNdjson; 2]
    );
    assert_eq!(
        (b.files[0].format, b.files[0].compression),
        (ArchiveFormat::PushshiftNdjson, Compression::Zstd)
    );
    assert_eq!(
        c.files.iter().map(|f| f.format).collect::<Vec<_>>(),
        [ArchiveFormat::ApiObjects, ArchiveFormat::PushshiftComments]
    );
    for summary in [&a, &b, &c] {
        let inserted: u64 = summary.files.iter().map(|f| f.inserted).sum();
        assert_eq!(inserted, 8, "4 submissions and 4 comments: {summary:?}");
    }

    let expected = daily_aggregate(&csv).await;
    assert!(expected.len() >= 4, "{expected:#?}");
    assert_eq!(daily_aggregate(&ndjson).await, expected);
    assert_eq!(daily_aggregate(&zst).await, expected);

    // Thursday 2021-01-28 (window Wed 21:30 UTC .. Thu 21:30 UTC): GME from two deleted
    // authors and one known: three mentions (a deleted author is not one author).
    let client = ndjson.pool.get().await.unwrap();
    let gme = client
        .query_one(
            "SELECT mentions, items, unique_authors FROM ticker_sentiment_daily \
             WHERE ticker = 'GME' AND trading_date = '2021-01-28'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            gme.get::<_, i32>(0),
            gme.get::<_, i32>(1),
            gme.get::<_, i32>(2)
        ),
        (3, 3, 1)
    );
}

#[tokio::test]
async fn reddit_import_twice_changes_nothing() {
    let db = TestDb::new().await;
    let files = [
        "submissions.ndjson",
        "comments.ndjson",
        "kaggle_wsb_posts.csv",
        "pushshift_mixed.ndjson.zst",
    ];
    let first = import(&db, &files).await;
    let kaggle = &first.files[2];
    assert_eq!(
        (kaggle.format, kaggle.inserted, kaggle.stats.skipped_total()),
        (ArchiveFormat::KaggleWsbPosts, 2, 1)
    );
    assert_eq!(
        (first.files[3].inserted, first.files[3].updated),
        (0, 0),
        "the .zst holds the same items as the two plain files"
    );
    assert!(first.daily_rows_changed > 0);
    let posts = fingerprint(&db, "reddit_posts").await;
    let daily = fingerprint(&db, "ticker_sentiment_daily").await;

    let again = import(&db, &files).await;
    for file in &again.files {
        assert_eq!(
            (file.inserted, file.updated),
            (0, 0),
            "{}",
            file.path.display()
        );
    }
    assert_eq!(again.daily_rows_changed, 0);
    assert_eq!(fingerprint(&db, "reddit_posts").await, posts);
    assert_eq!(fingerprint(&db, "ticker_sentiment_daily").await, daily);
}

#[tokio::test]
async fn reddit_import_reports_a_malformed_line_and_imports_the_rest() {
    let db = TestDb::new().await;
    let summary = import(&db, &["comments.ndjson"]).await;
    let stats = &summary.files[0].stats;
    let problems: Vec<(u64, SkipReason)> =
        stats.problems.iter().map(|p| (p.line, p.reason)).collect();
    assert_eq!(
        problems,
        [(4, SkipReason::Malformed), (8, SkipReason::Truncated)]
    );
    assert_eq!((stats.records, stats.items), (7, 4));
    let client = db.pool.get().await.unwrap();
    let stored: i64 = client
        .query_one("SELECT count(*) FROM reddit_posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 4);
}

/// The daily sentiment file (`tft sentiment-file`) and the database import of the same
/// archives hold the same aggregate, to the bit.
#[tokio::test]
async fn the_daily_sentiment_file_equals_the_imported_daily_aggregate() {
    use shared::adapters::sentiment_csv;
    use shared::core::features::DailySentiment;
    use shared::jobs::sentiment_file::{build, BuildOptions};

    let db = TestDb::new().await;
    let mut files = archives(&[
        "submissions.ndjson",
        "comments.ndjson",
        "kaggle_wsb_posts.csv",
        "pushshift_mixed.ndjson.zst",
    ]);
    files.push(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/sample/reddit/wsb_posts_2021-01-01_04.csv"),
    );
    import_files(&db.pool, &files).await.unwrap();
    let mut out = Vec::new();
    build(&files, &mut out, &BuildOptions::default(), &mut |_| {}).unwrap();
    let from_file = sentiment_csv::parse(&out[..], "daily.csv").unwrap();

    let client = db.pool.get().await.unwrap();
    let mut from_db: sentiment_csv::DailySentimentTable = Default::default();
    for row in client
        .query(
            "SELECT ticker, trading_date, mentions, mean_sentiment, weighted_sentiment, \
             bullish_share FROM ticker_sentiment_daily ORDER BY ticker, trading_date",
            &[],
        )
        .await
        .unwrap()
    {
        from_db
            .entry(row.get::<_, String>(0))
            .or_default()
            .push(DailySentiment {
                trading_date: row.get(1),
                mentions: row.get::<_, i32>(2) as u32,
                mean_sentiment: row.get(3),
                weighted_sentiment: row.get(4),
                bullish_share: row.get(5),
            });
    }
    assert!(from_db.values().map(Vec::len).sum::<usize>() > 100);
    assert_eq!(from_file, from_db);
}

/// `tft import-sentiment`: the daily file alone gives the database the aggregate that
/// importing the items would have computed; a re-import changes nothing; a bad file
/// writes nothing.
#[tokio::test]
async fn a_daily_sentiment_file_loads_the_aggregate_without_the_items() {
    use shared::jobs::daily_sentiment::import_daily_file;
    use shared::jobs::sentiment_file::{build, BuildOptions};

    let (items, daily) = (TestDb::new().await, TestDb::new().await);
    let files = archives(&[
        "submissions.ndjson",
        "comments.ndjson",
        "kaggle_wsb_posts.csv",
    ]);
    import_files(&items.pool, &files).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("daily.csv");
    build(
        &files,
        std::fs::File::create(&path).unwrap(),
        &BuildOptions::default(),
        &mut |_| {},
    )
    .unwrap();

    let first = import_daily_file(&daily.pool, &path).await.unwrap();
    assert!(
        first.rows >= 4 && first.changed == first.rows as u64,
        "{first:?}"
    );
    assert_eq!(daily_aggregate(&daily).await, daily_aggregate(&items).await);
    let before = fingerprint(&daily, "ticker_sentiment_daily").await;
    let again = import_daily_file(&daily.pool, &path).await.unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(fingerprint(&daily, "ticker_sentiment_daily").await, before);

    let text = std::fs::read_to_string(&path).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{text}2021-02-01,GME,0,1,1,0.1,0.1,0.5\n")).unwrap();
    let err = import_daily_file(&daily.pool, &bad).await.unwrap_err();
    let last_line = text.lines().count() + 1;
    assert!(
        format!("{err:#}").contains(&format!("bad.csv:{last_line}: mentions is 0")),
        "{err:#}"
    );
    assert_eq!(fingerprint(&daily, "ticker_sentiment_daily").await, before);
}
