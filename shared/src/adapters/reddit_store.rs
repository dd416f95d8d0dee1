//! `reddit_posts` and `ticker_sentiment_daily`: bulk upserts and the point-in-time reads.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::db::{self, DbError, QueryContext};
use super::price_store::UpsertCounts;
use crate::core::mention_sentiment::{ScoredItem, TickerSentiment};

/// What kind of item a row is (`post_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostType {
    Post,
    Comment,
    /// A daily discussion thread (its comments are the bulk of WSB's chatter).
    Discussion,
}

impl PostType {
    pub fn as_str(self) -> &'static str {
        match self {
            PostType::Post => "post",
            PostType::Comment => "comment",
            PostType::Discussion => "discussion",
        }
    }
}

/// One `reddit_posts` row, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct RedditRow {
    pub post_id: String,
    pub parent_id: Option<String>,
    pub link_id: Option<String>,
    pub title: String,
    pub text: Option<String>,
    pub subreddit: String,
    pub tickers: Vec<String>,
    pub sentiment_score: f64,
    pub score: i64,
    pub num_comments: i64,
    pub upvote_ratio: Option<f64>,
    pub url: Option<String>,
    pub author: Option<String>,
    pub post_type: PostType,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

const CHUNK_ROWS: usize = 2_000;

/// The conflict clause of both upserts: a known item only has its engagement refreshed,
/// and only when it changed.
macro_rules! reddit_on_conflict {
    () => {
        "ON CONFLICT (post_id) DO UPDATE SET
    score = EXCLUDED.score, num_comments = EXCLUDED.num_comments,
    upvote_ratio = EXCLUDED.upvote_ratio, scraped_at = now()
WHERE (r.score, r.num_comments, r.upvote_ratio)
      IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.num_comments, EXCLUDED.upvote_ratio)
"
    };
}

const UPSERT_SQL: &str = concat!(
    "INSERT INTO reddit_posts AS r (post_id, parent_id, link_id, title, text, subreddit, tickers,
    sentiment_score, score, num_comments, upvote_ratio, url, author, post_type, source, created_at)
SELECT u.post_id, u.parent_id, u.link_id, u.title, u.text, u.subreddit,
       CASE WHEN u.tickers = '' THEN '{}'::varchar[] ELSE string_to_array(u.tickers, ',')::varchar[] END,
       u.sentiment_score, u.score, u.num_comments, u.upvote_ratio, u.url, u.author, u.post_type,
       u.source, u.created_at
FROM UNNEST($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::text[], $6::varchar[],
            $7::text[], $8::float8[], $9::int4[], $10::int4[], $11::float8[], $12::text[],
            $13::varchar[], $14::varchar[], $15::varchar[], $16::timestamptz[])
     AS u(post_id, parent_id, link_id, title, text, subreddit, tickers, sentiment_score, score,
          num_comments, upvote_ratio, url, author, post_type, source, created_at)
",
    reddit_on_conflict!(),
    "RETURNING (xmax = 0) AS inserted"
);

/// The staging table of [`copy_upsert_items`]: the inserted columns, no constraint, no
/// index, dropped at commit.
const STAGING_SQL: &str = "\
CREATE TEMP TABLE reddit_posts_staging (post_id varchar(20), parent_id varchar(20),
    link_id varchar(20), title text, text text, subreddit varchar(50), tickers varchar(10)[],
    sentiment_score float8, score int4, num_comments int4, upvote_ratio float8, url text,
    author varchar(50), post_type varchar(20), source varchar(40), created_at timestamptz)
    ON COMMIT DROP";

/// The columns of `reddit_posts` a COPY writes, in order.
pub const COPY_COLUMNS: &str = "post_id, parent_id, link_id, title, text, subreddit, tickers, \
    sentiment_score, score, num_comments, upvote_ratio, url, author, post_type, source, created_at";

/// The column types of [`COPY_COLUMNS`], for a binary COPY.
pub const COPY_TYPES: [Type; 16] = [
    Type::VARCHAR,
    Type::VARCHAR,
    Type::VARCHAR,
    Type::TEXT,
    Type::TEXT,
    Type::VARCHAR,
    Type::VARCHAR_ARRAY,
    Type::FLOAT8,
    Type::INT4,
    Type::INT4,
    Type::FLOAT8,
    Type::TEXT,
    Type::VARCHAR,
    Type::VARCHAR,
    Type::VARCHAR,
    Type::TIMESTAMPTZ,
];

const UPSERT_FROM_STAGING_SQL: &str = concat!(
    "WITH written AS (
INSERT INTO reddit_posts AS r (post_id, parent_id, link_id, title, text, subreddit, tickers,
    sentiment_score, score, num_comments, upvote_ratio, url, author, post_type, source, created_at)
SELECT * FROM reddit_posts_staging
",
    reddit_on_conflict!(),
    "RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written"
);

/// The last row of each `post_id`, sorted by it: ON CONFLICT cannot touch one row twice
/// in a statement.
fn last_of_each(rows: &[RedditRow]) -> Vec<&RedditRow> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(&r.post_id, i);
    }
    let mut unique: Vec<&RedditRow> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| last.get(r.post_id.as_str()) == Some(i))
        .map(|(_, r)| r)
        .collect();
    unique.sort_by(|a, b| a.post_id.cmp(&b.post_id));
    unique
}

/// Writes one row in [`COPY_TYPES`] order to a binary COPY (the values the UNNEST upsert
/// writes: sentiment clamped to [-1, 1], counts to i32).
pub async fn copy_row(
    writer: std::pin::Pin<&mut BinaryCopyInWriter>,
    r: &RedditRow,
) -> Result<(), tokio_postgres::Error> {
    writer
        .write(&[
            &r.post_id,
            &r.parent_id,
            &r.link_id,
            &r.title,
            &r.text,
            &r.subreddit,
            &r.tickers,
            &r.sentiment_score.clamp(-1.0, 1.0),
            &clamp_i32(r.score),
            &clamp_i32(r.num_comments),
            &r.upvote_ratio,
            &r.url,
            &r.author,
            &r.post_type.as_str(),
            &r.source,
            &r.created_at,
        ])
        .await
}

/// The bulk path of [`upsert_items`] (imports): the rows go into a temporary staging
/// table by binary COPY, then into `reddit_posts` by one set-based upsert with the same
/// conflict rule, so a re-import changes nothing. Rows with the same `post_id` keep the
/// last. Over the direct URL only (COPY prepares a named statement); `tx` must be a
/// transaction: the staging table is dropped at its commit.
#[tracing::instrument(skip(tx, rows), fields(rows = rows.len()))]
pub async fn copy_upsert_items(
    tx: &tokio_postgres::Transaction<'_>,
    rows: &[RedditRow],
) -> Result<UpsertCounts, DbError> {
    let mut writer = db::copy_into_staging(
        tx,
        STAGING_SQL,
        "reddit_posts_staging",
        COPY_COLUMNS,
        &COPY_TYPES,
    )
    .await?;
    for row in last_of_each(rows) {
        copy_row(writer.as_mut(), row)
            .await
            .context("COPY into the staging table")?;
    }
    let (inserted, updated) = db::upsert_from_staging(tx, writer, UPSERT_FROM_STAGING_SQL).await?;
    Ok(UpsertCounts { inserted, updated })
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Inserts new items and refreshes the engagement of known ones (score, comments,
/// upvote ratio) when it changed. Rows with the same `post_id` in one call keep the last.
#[tracing::instrument(skip(client, rows), fields(rows = rows.len()))]
pub async fn upsert_items(
    client: &impl GenericClient,
    rows: &[RedditRow],
) -> Result<UpsertCounts, DbError> {
    let unique = last_of_each(rows);

    let mut counts = UpsertCounts::default();
    for chunk in unique.chunks(CHUNK_ROWS) {
        let text =
            |f: fn(&RedditRow) -> Option<&str>| chunk.iter().map(|r| f(r)).collect::<Vec<_>>();
        let post_id = text(|r| Some(&r.post_id));
        let parent_id = text(|r| r.parent_id.as_deref());
        let link_id = text(|r| r.link_id.as_deref());
        let title = text(|r| Some(&r.title));
        let body = text(|r| r.text.as_deref());
        let subreddit = text(|r| Some(&r.subreddit));
        let tickers: Vec<String> = chunk.iter().map(|r| r.tickers.join(",")).collect();
        let sentiment: Vec<f64> = chunk
            .iter()
            .map(|r| r.sentiment_score.clamp(-1.0, 1.0))
            .collect();
        let score: Vec<i32> = chunk.iter().map(|r| clamp_i32(r.score)).collect();
        let num_comments: Vec<i32> = chunk.iter().map(|r| clamp_i32(r.num_comments)).collect();
        let upvote_ratio: Vec<Option<f64>> = chunk.iter().map(|r| r.upvote_ratio).collect();
        let url = text(|r| r.url.as_deref());
        let author = text(|r| r.author.as_deref());
        let post_type = text(|r| Some(r.post_type.as_str()));
        let source = text(|r| Some(&r.source));
        let created_at: Vec<DateTime<Utc>> = chunk.iter().map(|r| r.created_at).collect();
        let params: [(&(dyn ToSql + Sync), Type); 16] = [
            (&post_id, Type::VARCHAR_ARRAY),
            (&parent_id, Type::VARCHAR_ARRAY),
            (&link_id, Type::VARCHAR_ARRAY),
            (&title, Type::TEXT_ARRAY),
            (&body, Type::TEXT_ARRAY),
            (&subreddit, Type::VARCHAR_ARRAY),
            (&tickers, Type::TEXT_ARRAY),
            (&sentiment, Type::FLOAT8_ARRAY),
            (&score, Type::INT4_ARRAY),
            (&num_comments, Type::INT4_ARRAY),
            (&upvote_ratio, Type::FLOAT8_ARRAY),
            (&url, Type::TEXT_ARRAY),
            (&author, Type::VARCHAR_ARRAY),
            (&post_type, Type::VARCHAR_ARRAY),
            (&source, Type::VARCHAR_ARRAY),
            (&created_at, Type::TIMESTAMPTZ_ARRAY),
        ];
        let returned = client
            .query_typed(UPSERT_SQL, &params)
            .await
            .context("upsert reddit_posts")?;
        counts.add_returned(&returned);
    }
    Ok(counts)
}

/// The fullname and creation time of the newest stored post of a subreddit (the scraper
/// pages back to it and no further).
#[tracing::instrument(skip(client))]
pub async fn newest_post(
    client: &impl GenericClient,
    subreddit: &str,
) -> Result<Option<(String, DateTime<Utc>)>, DbError> {
    let rows = client
        .query_typed(
            "SELECT post_id, created_at FROM reddit_posts \
             WHERE lower(subreddit) = lower($1) AND post_type <> 'comment' AND source = 'reddit_api' \
             ORDER BY created_at DESC, post_id DESC LIMIT 1",
            &[(&subreddit, Type::VARCHAR)],
        )
        .await
        .context("read the newest stored post")?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}

/// Items with at least one ticker created in `[start, end)`.
#[tracing::instrument(skip(client))]
pub async fn scored_items_between(
    client: &impl GenericClient,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ScoredItem>, DbError> {
    let rows = client
        .query_typed(
            "SELECT post_id, author, tickers::text[], sentiment_score, score, created_at FROM reddit_posts \
             WHERE created_at >= $1 AND created_at < $2 AND cardinality(tickers) > 0 \
             ORDER BY created_at, post_id",
            &[(&start, Type::TIMESTAMPTZ), (&end, Type::TIMESTAMPTZ)],
        )
        .await
        .context("load scored items")?;
    Ok(rows
        .iter()
        .map(|r| ScoredItem {
            post_id: r.get(0),
            author: r.get(1),
            tickers: r.get(2),
            sentiment: r.get(3),
            score: i64::from(r.get::<_, i32>(4)),
            created_at: r.get(5),
        })
        .collect())
}

/// Replaces the aggregate of one trading day with `rows` (all of the same date): new
/// and changed rows are written, unchanged ones left alone, and tickers that no longer
/// appear are removed. Returns the rows written or removed.
#[tracing::instrument(skip(client, rows), fields(rows = rows.len()))]
pub async fn replace_daily_sentiment(
    client: &impl GenericClient,
    trading_date: NaiveDate,
    rows: &[TickerSentiment],
) -> Result<u64, DbError> {
    debug_assert!(rows.iter().all(|r| r.trading_date == trading_date));
    let tickers: Vec<&str> = rows.iter().map(|r| r.ticker.as_str()).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.trading_date).collect();
    let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.window_start).collect();
    let cutoffs: Vec<DateTime<Utc>> = rows.iter().map(|r| r.cutoff_at).collect();
    let int = |f: fn(&TickerSentiment) -> u32| rows.iter().map(|r| f(r) as i32).collect::<Vec<_>>();
    let float = |f: fn(&TickerSentiment) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let (mentions, items, authors) = (
        int(|r| r.mentions),
        int(|r| r.items),
        int(|r| r.unique_authors),
    );
    let (mean, weighted, bullish) = (
        float(|r| r.mean_sentiment),
        float(|r| r.weighted_sentiment),
        float(|r| r.bullish_share),
    );
    let removed = client
        .query_typed(
            "DELETE FROM ticker_sentiment_daily WHERE trading_date = $1 AND NOT (ticker = ANY($2)) RETURNING 1",
            &[(&trading_date, Type::DATE), (&tickers, Type::VARCHAR_ARRAY)],
        )
        .await
        .context("remove stale daily sentiment")?
        .len() as u64;
    let written = client
        .query_typed(
            "INSERT INTO ticker_sentiment_daily AS d (ticker, trading_date, window_start, cutoff_at, mentions, \
                 items, unique_authors, mean_sentiment, weighted_sentiment, bullish_share) \
             SELECT * FROM UNNEST($1::varchar[], $2::date[], $3::timestamptz[], $4::timestamptz[], \
                 $5::int4[], $6::int4[], $7::int4[], $8::float8[], $9::float8[], $10::float8[]) \
             ON CONFLICT (ticker, trading_date) DO UPDATE SET window_start = EXCLUDED.window_start, \
                 cutoff_at = EXCLUDED.cutoff_at, mentions = EXCLUDED.mentions, items = EXCLUDED.items, \
                 unique_authors = EXCLUDED.unique_authors, mean_sentiment = EXCLUDED.mean_sentiment, \
                 weighted_sentiment = EXCLUDED.weighted_sentiment, bullish_share = EXCLUDED.bullish_share, \
                 computed_at = now() \
             WHERE (d.window_start, d.cutoff_at, d.mentions, d.items, d.unique_authors, d.mean_sentiment, \
                    d.weighted_sentiment, d.bullish_share) IS DISTINCT FROM (EXCLUDED.window_start, \
                    EXCLUDED.cutoff_at, EXCLUDED.mentions, EXCLUDED.items, EXCLUDED.unique_authors, \
                    EXCLUDED.mean_sentiment, EXCLUDED.weighted_sentiment, EXCLUDED.bullish_share) \
             RETURNING 1",
            &[
                (&tickers, Type::VARCHAR_ARRAY),
                (&dates, Type::DATE_ARRAY),
                (&starts, Type::TIMESTAMPTZ_ARRAY),
                (&cutoffs, Type::TIMESTAMPTZ_ARRAY),
                (&mentions, Type::INT4_ARRAY),
                (&items, Type::INT4_ARRAY),
                (&authors, Type::INT4_ARRAY),
                (&mean, Type::FLOAT8_ARRAY),
                (&weighted, Type::FLOAT8_ARRAY),
                (&bullish, Type::FLOAT8_ARRAY),
            ],
        )
        .await
        .context("upsert daily sentiment")?
        .len() as u64;
    Ok(removed + written)
}

/// The `ticker_sentiment_daily` columns [`sentiment_from_row`] reads, in its order.
pub(crate) const SENTIMENT_COLUMNS: &str =
    "ticker, trading_date, window_start, cutoff_at, mentions, \
     items, unique_authors, mean_sentiment, weighted_sentiment, bullish_share";

pub(crate) fn sentiment_from_row(r: &tokio_postgres::Row) -> TickerSentiment {
    TickerSentiment {
        ticker: r.get(0),
        trading_date: r.get(1),
        window_start: r.get(2),
        cutoff_at: r.get(3),
        mentions: r.get::<_, i32>(4) as u32,
        items: r.get::<_, i32>(5) as u32,
        unique_authors: r.get::<_, i32>(6) as u32,
        mean_sentiment: r.get(7),
        weighted_sentiment: r.get(8),
        bullish_share: r.get(9),
    }
}

/// The stored aggregate of one trading day, by ticker.
pub async fn daily_sentiment(
    client: &impl GenericClient,
    trading_date: NaiveDate,
) -> Result<Vec<TickerSentiment>, DbError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT {SENTIMENT_COLUMNS} FROM ticker_sentiment_daily \
                 WHERE trading_date = $1 ORDER BY ticker"
            ),
            &[(&trading_date, Type::DATE)],
        )
        .await
        .context("read daily sentiment")?;
    Ok(rows.iter().map(sentiment_from_row).collect())
}

/// The most mentioned tickers in `[start, end)` (once per author per ticker), at least
/// `min_mentions` each, most mentioned first.
#[tracing::instrument(skip(client))]
pub async fn trending_tickers(
    client: &impl GenericClient,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    top_n: i64,
    min_mentions: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let rows = client
        .query_typed(
            "SELECT t.ticker::text, count(DISTINCT coalesce('u/' || r.author, r.post_id)) AS mentions \
             FROM reddit_posts r CROSS JOIN LATERAL unnest(r.tickers) AS t(ticker) \
             WHERE r.created_at >= $1 AND r.created_at < $2 \
             GROUP BY t.ticker HAVING count(DISTINCT coalesce('u/' || r.author, r.post_id)) >= $4 \
             ORDER BY mentions DESC, t.ticker LIMIT $3",
            &[
                (&start, Type::TIMESTAMPTZ),
                (&end, Type::TIMESTAMPTZ),
                (&top_n, Type::INT8),
                (&min_mentions, Type::INT8),
            ],
        )
        .await
        .context("rank trending tickers")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
