//! build-features on real bars and Reddit rows: the stored rows equal what the pure
//! feature function computes from the same inputs (no training/serving skew), the
//! benchmark gets no row but feeds the regime, a ticker outside the universe is ranked
//! against it, a re-run writes nothing, and features.built reaches the bus.

use std::path::PathBuf;

use chrono::NaiveDate;
use integration_tests::{eventbridge_client, CapturedBus, TestDb};
use shared::adapters::eventbridge::EventPublisher;
use shared::adapters::reddit_store::{self, PostType, RedditRow};
use shared::adapters::{feature_store, price_csv, price_store};
use shared::core::features::{universe_features, DailySentiment, Market, FEATURE_SCHEMA};
use shared::core::mention_sentiment::{aggregate, ScoredItem, SentimentWindow};
use shared::jobs::build_features::{BuildFeatures, FEATURES_BUILT};
use shared::jobs::scheduled::DailyRun;
use shared::jobs::scrape_prices::price_rows;

fn fixture_bars(ticker: &str) -> Vec<shared::core::DailyBar> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = if ticker == "SPY" {
        root.join("../data/sample/benchmark/SPY.csv")
    } else {
        root.join("../shared/tests/fixtures/prices")
            .join(format!("{ticker}.csv"))
    };
    price_csv::load_bars(&path).unwrap()
}

fn comment(id: &str, author: &str, ticker: &str, sentiment: f64, at: &str) -> RedditRow {
    RedditRow {
        post_id: id.into(),
        parent_id: None,
        link_id: None,
        title: String::new(),
        text: Some(format!("{ticker} to the moon")),
        subreddit: "wallstreetbets".into(),
        tickers: vec![ticker.into()],
        sentiment_score: sentiment,
        score: 7,
        num_comments: 0,
        upvote_ratio: None,
        url: None,
        author: Some(author.into()),
        post_type: PostType::Comment,
        source: "test".into(),
        created_at: at.parse().unwrap(),
    }
}

#[tokio::test]
async fn stored_features_equal_the_pure_function_and_a_rerun_writes_nothing() {
    let test_db = TestDb::new().await;
    let day = NaiveDate::from_ymd_opt(2021, 1, 27).unwrap();
    let client = test_db.pool.get().await.unwrap();
    for ticker in ["GME", "AAPL", "PLTR", "SPY"] {
        let bars = fixture_bars(ticker);
        price_store::upsert_prices(&**client, &price_rows(ticker, &bars, 0))
            .await
            .unwrap();
    }
    let reddit = vec![
        comment("t1_a", "ape1", "GME", 0.8, "2021-01-26T15:00:00Z"),
        comment("t1_b", "ape2", "GME", 0.6, "2021-01-27T15:00:00Z"),
        comment("t1_c", "bear", "GME", -0.5, "2021-01-27T18:00:00Z"),
        // After D's cutoff (21:30 UTC): belongs to the 28th, must not reach D's row.
        comment("t1_d", "ape3", "GME", 1.0, "2021-01-27T22:00:00Z"),
    ];
    reddit_store::upsert_items(&**client, &reddit)
        .await
        .unwrap();

    let eventbridge = eventbridge_client().await;
    let bus = CapturedBus::new(&eventbridge).await;
    let job = BuildFeatures {
        pool: test_db.pool.clone(),
        events: Some(EventPublisher::new(
            eventbridge.clone(),
            bus.bus_name.clone(),
        )),
        concurrency: 2,
        // PLTR is outside the universe (a trending name): ranked against it, not in it.
        universe: vec!["GME".into(), "aapl".into()],
        benchmark: Some("SPY".into()),
    };
    let run = DailyRun {
        trading_date: day,
        tickers: None,
    };
    // The 26th's aggregate as the previous evening's run would have stored it.
    shared::jobs::daily_sentiment::recompute_days(
        &test_db.pool,
        &[NaiveDate::from_ymd_opt(2021, 1, 26).unwrap()],
    )
    .await
    .unwrap();
    let first = job.handle(&run).await.unwrap();
    assert_eq!(first.tickers_ok, ["AAPL", "GME", "PLTR"]);
    assert!(first.rows_inserted >= 3 * 40, "{first:?}");

    // The same inputs through the pure path.
    let hash = FEATURE_SCHEMA.hash();
    let stored = feature_store::load_features(&**client, &hash, day, day)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3, "SPY is the benchmark, never a row");
    let tickers = ["AAPL", "GME", "PLTR"];
    let mut prices = Vec::new();
    let mut sentiment = std::collections::BTreeMap::new();
    for ticker in tickers {
        let bars: Vec<_> = fixture_bars(ticker)
            .into_iter()
            .filter(|b| b.date <= day)
            .collect();
        let mut daily = Vec::new();
        for d in [NaiveDate::from_ymd_opt(2021, 1, 26).unwrap(), day] {
            let window = SentimentWindow::for_trading_date(d);
            let items: Vec<ScoredItem> = reddit
                .iter()
                .map(|r| ScoredItem {
                    post_id: r.post_id.clone(),
                    author: r.author.clone(),
                    tickers: r.tickers.clone(),
                    sentiment: r.sentiment_score,
                    score: r.score,
                    created_at: r.created_at,
                })
                .collect();
            daily.extend(
                aggregate(&items, &window)
                    .iter()
                    .filter(|t| t.ticker == ticker)
                    .map(DailySentiment::from),
            );
        }
        sentiment.insert(ticker.to_string(), daily);
        prices.push((ticker.to_string(), bars));
    }
    let spy: Vec<_> = fixture_bars("SPY")
        .into_iter()
        .filter(|b| b.date <= day)
        .collect();
    let market = Market::new(spy, ["AAPL", "GME"]);
    let (expected, _) = universe_features(&prices, &sentiment, &market, day);
    for (row, expected) in stored.iter().zip(&expected) {
        let expected = expected.last().unwrap();
        assert_eq!((&row.ticker, expected.date), (&expected.ticker, day));
        assert_eq!(
            row.values, expected.values,
            "{} differs from the pure features",
            row.ticker
        );
        assert_eq!(row.get("regime_ready"), Some(1.0), "{}", row.ticker);
    }
    // Two universe members: each is ranked against the other only (0 or 1, or 0.5 on a
    // tie); PLTR, outside, against both.
    let rank = |t: &str| {
        stored
            .iter()
            .find(|r| r.ticker == t)
            .and_then(|r| r.get("rank_return_20d"))
            .unwrap()
    };
    assert_eq!(rank("AAPL") + rank("GME"), 1.0);
    assert!([0.0, 0.5, 1.0].contains(&rank("PLTR")));
    let gme = stored.iter().find(|r| r.ticker == "GME").unwrap();
    assert_eq!(
        gme.get("mention_count"),
        Some(2.0),
        "the post after the cutoff leaked in"
    );

    let second = job.handle(&run).await.unwrap();
    assert_eq!((second.rows_inserted, second.rows_updated), (0, 0));

    let events = bus.drain().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["detail-type"], FEATURES_BUILT);
    assert_eq!(events[0]["detail"]["trading_date"], "2021-01-27");
    assert_eq!(events[0]["detail"]["schema_hash"], hash);
}

/// Issue 11, defect 2: a day without one stored bar (scrape-prices stored nothing) ends
/// in an error, not an Ok with no features that never announces the day.
#[tokio::test]
async fn a_day_without_bars_fails_instead_of_ending_the_chain_silently() {
    let test_db = TestDb::new().await;
    let job = BuildFeatures {
        pool: test_db.pool.clone(),
        events: None,
        concurrency: 2,
        universe: vec![],
        benchmark: Some("SPY".into()),
    };
    let run = DailyRun {
        trading_date: NaiveDate::from_ymd_opt(2021, 1, 27).unwrap(),
        tickers: None,
    };
    let err = job.handle(&run).await.unwrap_err().to_string();
    assert!(err.contains("nothing for the next step"), "{err}");
}
