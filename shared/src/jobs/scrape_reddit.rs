//! The `scrape-reddit` handler (hourly): new posts of each subreddit back to the newest
//! one stored, the hot page (fresh engagement, today's threads), the comments of the
//! threads that matter, all scored and upserted; then the daily aggregate of the last
//! closed trading day, and `reddit.scraped` on the bus.
//!
//! Posts are stored whether or not they name a ticker (they are the pagination cursor
//! and the engagement context); comments only when they do, since a comment without a
//! ticker says nothing about any ticker. A subreddit that fails (403: private or
//! quarantined) is reported and the others go on; a thread whose comments fail is
//! reported and its subreddit's posts and other threads are stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::time::Duration as StdDuration;
use tokio::time::Instant;

use crate::adapters::db::{self, DbError, Pool, QueryContext};
use crate::adapters::eventbridge::EventPublisher;
use crate::adapters::reddit::{
    RedditClient, RedditCredentials, RedditError, RedditItem, RedditSettings, Sort,
};
use crate::adapters::reddit_store::{self, RedditRow};
use crate::config::{parse, ConfigError, EnvSource};
use crate::jobs::daily_sentiment::{last_closed_trading_day, recompute_days};
use crate::jobs::reddit_rows::{is_discussion_thread, score_item};
use crate::jobs::run_outcome::{ItemCounts, RunMetrics};
use secrecy::SecretString;

/// The detail-type announced after a run.
pub const REDDIT_SCRAPED: &str = "reddit.scraped";

/// What the scraper reads and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedditJobConfig {
    pub subreddits: Vec<String>,
    /// Pages of 100 of `new` at most per run and subreddit.
    pub max_pages: usize,
    /// How far back a first run (nothing stored yet) reads.
    pub first_run_lookback_hours: i64,
    /// Threads whose comments are fetched per subreddit: the discussion threads plus the
    /// most commented recent posts, up to this many.
    pub threads_per_subreddit: usize,
    /// A post needs this many comments to be worth reading them.
    pub min_thread_comments: i64,
    /// Comments read per thread.
    pub comments_per_thread: u32,
}

impl Default for RedditJobConfig {
    fn default() -> Self {
        Self {
            subreddits: vec!["wallstreetbets".into(), "stocks".into(), "investing".into()],
            max_pages: 10,
            first_run_lookback_hours: 24,
            threads_per_subreddit: 4,
            min_thread_comments: 100,
            comments_per_thread: 500,
        }
    }
}

/// What the Reddit scraper needs: API credentials (secrets), endpoints, and reach.
#[derive(Debug, Clone)]
pub struct RedditConfig {
    pub settings: RedditSettings,
    pub credentials: RedditCredentials,
    pub job: RedditJobConfig,
}

impl RedditConfig {
    /// `REDDIT_CLIENT_ID` and `REDDIT_CLIENT_SECRET` (required); `REDDIT_USERNAME` +
    /// `REDDIT_PASSWORD` for a script app's password grant (else client credentials);
    /// `REDDIT_USER_AGENT`; `REDDIT_AUTH_URL`, `REDDIT_API_URL` (tests); `TFT_SUBREDDITS`
    /// (comma separated); `TFT_REDDIT_MAX_PAGES`, `TFT_REDDIT_THREADS`.
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let required = |name: &'static str| env.get(name).ok_or(ConfigError::Missing(name));
        let credentials = RedditCredentials {
            client_id: required("REDDIT_CLIENT_ID")?,
            client_secret: SecretString::from(required("REDDIT_CLIENT_SECRET")?),
            username: env.get("REDDIT_USERNAME"),
            password: env.get("REDDIT_PASSWORD").map(SecretString::from),
        };
        let d = RedditSettings::default();
        let settings = RedditSettings {
            auth_url: env.get("REDDIT_AUTH_URL").unwrap_or(d.auth_url.clone()),
            api_url: env.get("REDDIT_API_URL").unwrap_or(d.api_url.clone()),
            user_agent: env.get("REDDIT_USER_AGENT").unwrap_or(d.user_agent.clone()),
            request_timeout: StdDuration::from_secs(parse(
                env,
                "REDDIT_TIMEOUT_SECS",
                d.request_timeout.as_secs(),
            )?),
            ..d
        };
        let j = RedditJobConfig::default();
        let job = RedditJobConfig {
            subreddits: env
                .get("TFT_SUBREDDITS")
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().trim_start_matches("r/").to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or(j.subreddits.clone()),
            max_pages: parse(env, "TFT_REDDIT_MAX_PAGES", j.max_pages)?,
            threads_per_subreddit: parse(env, "TFT_REDDIT_THREADS", j.threads_per_subreddit)?,
            ..j
        };
        Ok(Self {
            settings,
            credentials,
            job,
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum SubredditError {
    #[error("reddit: {0}")]
    Reddit(#[from] RedditError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("not done before the run's deadline")]
    Deadline,
}

/// How long a run may take when no deadline is given (`tft run`, tests): below the
/// function's 300 s timeout in template.yaml.
pub const DEFAULT_RUN_BUDGET: StdDuration = StdDuration::from_secs(240);

/// What the Lambda keeps back from its remaining time for the run's end: the upsert of
/// what was fetched, the day's aggregate, the announcement.
pub const DEADLINE_MARGIN: StdDuration = StdDuration::from_secs(45);

/// What happened to one subreddit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubredditReport {
    pub subreddit: String,
    pub posts_fetched: usize,
    pub threads_read: usize,
    pub comments_fetched: usize,
    pub comments_with_tickers: usize,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    /// Threads whose comments could not be fetched (the posts are stored regardless).
    pub threads_failed: Vec<ThreadFailure>,
}

/// A thread whose comments could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadFailure {
    /// The post id (base 36, without `t3_`).
    pub thread: String,
    /// 429, 5xx, timeouts: the next run may succeed.
    pub retryable: bool,
    pub error: String,
}

/// A subreddit that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubredditFailure {
    pub subreddit: String,
    pub error: String,
}

/// The handler's result (the Lambda's response).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScrapeRedditSummary {
    pub subreddits: Vec<SubredditReport>,
    pub failed: Vec<SubredditFailure>,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    /// The trading day whose aggregate was recomputed, and the rows that changed.
    pub sentiment_date: Option<NaiveDate>,
    pub sentiment_rows_changed: u64,
    pub event_published: bool,
}

/// The `reddit.scraped` detail (schema in docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedditScraped {
    pub scraped_at: DateTime<Utc>,
    pub subreddits: Vec<String>,
    pub failed: Vec<SubredditFailure>,
    pub rows_written: u64,
    pub sentiment_date: NaiveDate,
}

/// The handler with its clients, built once per container.
#[derive(Clone)]
pub struct ScrapeReddit {
    pub pool: Pool,
    pub reddit: RedditClient,
    pub config: RedditJobConfig,
    pub events: Option<EventPublisher>,
}

impl ScrapeReddit {
    /// Scrapes every subreddit as of `now` (the event time; the clock only decides how
    /// far back a first run reads and which trading day is closed), with
    /// [`DEFAULT_RUN_BUDGET`] to do it.
    pub async fn handle(&self, now: DateTime<Utc>) -> anyhow::Result<ScrapeRedditSummary> {
        Box::pin(self.run(now, Instant::now() + DEFAULT_RUN_BUDGET)).await
    }

    /// [`Self::handle`] under a deadline (the Lambda's remaining time less
    /// [`DEADLINE_MARGIN`]): a listing not in by then fails its subreddit, a thread not
    /// read by then is reported; what was fetched is stored.
    pub async fn handle_until(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> anyhow::Result<ScrapeRedditSummary> {
        Box::pin(self.run(now, deadline)).await
    }

    #[tracing::instrument(skip(self, deadline))]
    async fn run(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> anyhow::Result<ScrapeRedditSummary> {
        let mut summary = ScrapeRedditSummary::default();
        for subreddit in &self.config.subreddits {
            match self.scrape_subreddit(subreddit, now, deadline).await {
                Ok(report) => {
                    summary.rows_inserted += report.rows_inserted;
                    summary.rows_updated += report.rows_updated;
                    summary.subreddits.push(report);
                }
                Err(e) => {
                    tracing::warn!(%subreddit, error = %e, "subreddit failed");
                    summary.failed.push(SubredditFailure {
                        subreddit: subreddit.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
        let threads_failed: usize = summary
            .subreddits
            .iter()
            .map(|s| s.threads_failed.len())
            .sum();
        RunMetrics::new(
            "scrape-reddit",
            ItemCounts {
                ok: summary.subreddits.len(),
                failed_retryable: summary.failed.len(),
                ..Default::default()
            },
        )
        .with("ThreadsFailed", threads_failed as f64)
        .with(
            "RowsWritten",
            (summary.rows_inserted + summary.rows_updated) as f64,
        )
        .with_failed(summary.subreddits.is_empty() && !summary.failed.is_empty())
        .emit();
        if summary.subreddits.is_empty() && !summary.failed.is_empty() {
            anyhow::bail!(
                "every subreddit failed; first: r/{} — {}",
                summary.failed[0].subreddit,
                summary.failed[0].error
            );
        }

        let day = last_closed_trading_day(now);
        summary.sentiment_date = Some(day);
        summary.sentiment_rows_changed = recompute_days(&self.pool, &[day]).await?;

        if let Some(events) = &self.events {
            let detail = RedditScraped {
                scraped_at: now,
                subreddits: summary
                    .subreddits
                    .iter()
                    .map(|s| s.subreddit.clone())
                    .collect(),
                failed: summary.failed.clone(),
                rows_written: summary.rows_inserted + summary.rows_updated,
                sentiment_date: day,
            };
            events.publish(REDDIT_SCRAPED, &detail).await?;
            summary.event_published = true;
        }
        tracing::info!(
            inserted = summary.rows_inserted,
            updated = summary.rows_updated,
            failed = summary.failed.len(),
            "reddit done"
        );
        Ok(summary)
    }

    async fn scrape_subreddit(
        &self,
        subreddit: &str,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<SubredditReport, SubredditError> {
        let newest = {
            let client = self.pool.get().await.map_err(DbError::from)?;
            reddit_store::newest_post(&**client, subreddit).await?
        };
        let not_before = match &newest {
            Some((_, created)) => *created - Duration::hours(1),
            None => now - Duration::hours(self.config.first_run_lookback_hours),
        };
        let stop_at = newest.as_ref().map(|(id, _)| id.as_str());
        let listing = self.reddit.listing_until(
            subreddit,
            Sort::New,
            stop_at,
            Some(not_before),
            self.config.max_pages,
        );
        let new_posts = tokio::time::timeout_at(deadline, listing)
            .await
            .map_err(|_| SubredditError::Deadline)??;
        let hot =
            tokio::time::timeout_at(deadline, self.reddit.listing(subreddit, Sort::Hot, None))
                .await
                .map_err(|_| SubredditError::Deadline)??
                .items;

        // One entry per post; the hot page has the fresher engagement.
        let mut posts: BTreeMap<String, RedditItem> = BTreeMap::new();
        for item in new_posts.into_iter().chain(hot) {
            posts.insert(item.fullname.clone(), item);
        }
        let threads = self.threads_to_read(posts.values(), now);

        let mut report = SubredditReport {
            subreddit: subreddit.to_string(),
            posts_fetched: posts.len(),
            ..Default::default()
        };
        let mut rows: Vec<RedditRow> = posts
            .values()
            .map(|p| score_item(p, "reddit_api"))
            .collect();
        for thread in threads {
            // One thread that fails (after the client's retries) is reported; the posts
            // and the other threads are still stored. The next hourly run reads it again.
            let fetch =
                self.reddit
                    .comments(subreddit, &thread.id, self.config.comments_per_thread);
            let comments = match tokio::time::timeout_at(deadline, fetch).await {
                Ok(Ok(comments)) => comments,
                Err(_) => {
                    tracing::warn!(%subreddit, thread = %thread.id, "thread not read before the run's deadline");
                    report.threads_failed.push(ThreadFailure {
                        thread: thread.id.clone(),
                        retryable: true,
                        error: "not read before the run's deadline".into(),
                    });
                    continue;
                }
                Ok(Err(e)) => {
                    tracing::warn!(%subreddit, thread = %thread.id, error = %e, "thread not read");
                    report.threads_failed.push(ThreadFailure {
                        thread: thread.id.clone(),
                        retryable: e.is_retryable(),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            report.threads_read += 1;
            report.comments_fetched += comments.len();
            for comment in &comments {
                let row = score_item(comment, "reddit_api");
                if !row.tickers.is_empty() {
                    report.comments_with_tickers += 1;
                    rows.push(row);
                }
            }
        }

        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = db::begin(&mut client, self.pool.statement_timeout())
            .await
            .context("begin the reddit upsert")?;
        let counts = reddit_store::upsert_items(&*tx, &rows).await?;
        tx.commit().await.context("commit the reddit upsert")?;
        report.rows_inserted = counts.inserted;
        report.rows_updated = counts.updated;
        Ok(report)
    }

    /// Discussion threads first, then the most commented posts of the last day.
    fn threads_to_read<'a>(
        &self,
        posts: impl Iterator<Item = &'a RedditItem>,
        now: DateTime<Utc>,
    ) -> Vec<&'a RedditItem> {
        let recent: Vec<&RedditItem> = posts
            .filter(|p| now - p.created_utc <= Duration::hours(24))
            .collect();
        let mut threads: Vec<&RedditItem> = recent
            .iter()
            .copied()
            .filter(|p| is_discussion_thread(p))
            .collect();
        let mut busy: Vec<&RedditItem> = recent
            .iter()
            .copied()
            .filter(|p| {
                !is_discussion_thread(p)
                    && p.num_comments.unwrap_or(0) >= self.config.min_thread_comments
            })
            .collect();
        busy.sort_by(|a, b| {
            b.num_comments
                .cmp(&a.num_comments)
                .then(a.fullname.cmp(&b.fullname))
        });
        threads.extend(busy);
        threads.truncate(self.config.threads_per_subreddit);
        threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reddit_secrets_never_print_and_subreddits_parse() {
        let env = [
            ("REDDIT_CLIENT_ID", "app-id"),
            ("REDDIT_CLIENT_SECRET", "s3cret-value"),
            ("REDDIT_USERNAME", "trader"),
            ("REDDIT_PASSWORD", "pa55word"),
            ("TFT_SUBREDDITS", "r/wallstreetbets, stocks"),
        ];
        let config = RedditConfig::from_env(&env).unwrap();
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("s3cret-value") && !printed.contains("pa55word"),
            "{printed}"
        );
        assert_eq!(config.job.subreddits, ["wallstreetbets", "stocks"]);
        let missing = RedditConfig::from_env(&[("REDDIT_CLIENT_ID", "x")]).unwrap_err();
        assert!(missing.to_string().contains("REDDIT_CLIENT_SECRET"));
    }
}
