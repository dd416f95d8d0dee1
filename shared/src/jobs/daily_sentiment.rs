//! The daily per-ticker sentiment aggregate, recomputed from `reddit_posts` for the
//! trading days asked, and the trending tickers that join the price universe.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::adapters::db::{self, DbError, Pool, QueryContext};
use crate::adapters::reddit_store;
use crate::config::PriceJobConfig;
use crate::core::calendar::new_york_date;
use crate::core::mention_sentiment::{aggregate, SentimentWindow};
use crate::core::nyse::is_trading_day;
use crate::jobs::scrape_prices::TrendingTickers;

/// The latest trading day whose cutoff is at or before `now` (its aggregate is final).
pub fn last_closed_trading_day(now: DateTime<Utc>) -> NaiveDate {
    let mut day = new_york_date(now);
    loop {
        if is_trading_day(day) && SentimentWindow::for_trading_date(day).cutoff <= now {
            return day;
        }
        day = day.pred_opt().unwrap_or(day);
    }
}

/// The NYSE trading days from `from` to `to`, inclusive.
pub fn trading_days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| is_trading_day(*d))
        .collect()
}

/// Recomputes and stores the aggregate of each day; returns the rows written or removed
/// (0 when nothing changed).
#[tracing::instrument(skip(pool, days), fields(days = days.len()))]
pub async fn recompute_days(pool: &Pool, days: &[NaiveDate]) -> Result<u64, DbError> {
    let mut changed = 0;
    let mut client = pool.get().await?;
    for day in days {
        let window = SentimentWindow::for_trading_date(*day);
        let tx = db::begin(&mut client, pool.statement_timeout())
            .await
            .context("begin daily sentiment")?;
        let items = reddit_store::scored_items_between(&*tx, window.start, window.cutoff).await?;
        let rows = aggregate(&items, &window);
        changed += reddit_store::replace_daily_sentiment(&*tx, *day, &rows).await?;
        tx.commit().await.context("commit daily sentiment")?;
    }
    Ok(changed)
}

/// The tickers most mentioned on Reddit lately, for the price universe.
#[derive(Clone)]
pub struct RedditTrending {
    pub pool: Pool,
    /// How many tickers join (0 disables).
    pub top_n: i64,
    /// Mentions counted over the days before the trading day's cutoff.
    pub window_days: i64,
    /// Fewer mentions than this is noise, not a trend.
    pub min_mentions: i64,
}

impl RedditTrending {
    /// The source the price job uses, or `None` when `TFT_TRENDING_TOP_N` is 0.
    pub fn from_config(pool: Pool, config: &PriceJobConfig) -> Option<Arc<dyn TrendingTickers>> {
        (config.trending_top_n > 0).then(|| {
            Arc::new(Self {
                pool,
                top_n: config.trending_top_n,
                window_days: config.trending_window_days,
                min_mentions: config.trending_min_mentions,
            }) as Arc<dyn TrendingTickers>
        })
    }
}

impl TrendingTickers for RedditTrending {
    fn trending<'a>(
        &'a self,
        trading_date: NaiveDate,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<Vec<String>>> + Send + 'a>> {
        Box::pin(async move {
            if self.top_n <= 0 {
                return Ok(Vec::new());
            }
            let end = SentimentWindow::for_trading_date(trading_date).cutoff;
            let start = end - Duration::days(self.window_days.max(1));
            let client = self.pool.get().await.map_err(DbError::from)?;
            let ranked = reddit_store::trending_tickers(
                &**client,
                start,
                end,
                self.top_n,
                self.min_mentions,
            )
            .await?;
            tracing::info!(?ranked, "trending tickers");
            Ok(ranked.into_iter().map(|(t, _)| t).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_closed_day_is_today_only_after_the_cutoff() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2021, 1, day).unwrap();
        assert_eq!(last_closed_trading_day(at("2021-01-05T21:29:59Z")), d(4));
        assert_eq!(last_closed_trading_day(at("2021-01-05T21:30:00Z")), d(5));
        // Sunday 2021-01-03, after New Year's Day (a Friday holiday): Thursday the 31st.
        assert_eq!(
            last_closed_trading_day(at("2021-01-03T12:00:00Z")),
            NaiveDate::from_ymd_opt(2020, 12, 31).unwrap()
        );
    }

    #[test]
    fn trading_days_skip_weekends_and_holidays() {
        let d = |day| NaiveDate::from_ymd_opt(2021, 1, day).unwrap();
        // New Year's Day (Friday the 1st) is no trading day.
        assert_eq!(trading_days(d(1), d(5)), [d(4), d(5)]);
    }
}

/// What `tft import-sentiment` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyFileImport {
    pub rows: usize,
    pub trading_days: usize,
    /// Rows written or removed (0 on a re-import).
    pub changed: u64,
}

/// Trading days per transaction of [`import_daily_file`].
const DAYS_PER_TRANSACTION: usize = 100;

/// Loads a daily sentiment file (`tft sentiment-file`) into `ticker_sentiment_daily`:
/// each trading day the file holds replaces the stored aggregate of that day, so the
/// database can hold a decade of daily sentiment without the items behind it. The whole
/// file is read and checked first: a bad row writes nothing.
#[tracing::instrument(skip(pool))]
pub async fn import_daily_file(
    pool: &Pool,
    path: &std::path::Path,
) -> anyhow::Result<DailyFileImport> {
    let rows = crate::adapters::sentiment_csv::read_rows(path)?;
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<_>> = Default::default();
    for (_, row) in rows.iter() {
        by_day
            .entry(row.trading_date)
            .or_default()
            .push(row.clone());
    }
    let mut done = DailyFileImport {
        rows: rows.len(),
        trading_days: by_day.len(),
        changed: 0,
    };
    let days: Vec<_> = by_day.into_iter().collect();
    let mut client = pool.get().await?;
    for chunk in days.chunks(DAYS_PER_TRANSACTION) {
        let tx = db::begin(&mut client, pool.statement_timeout())
            .await
            .context("begin the daily sentiment import")?;
        for (day, rows) in chunk {
            done.changed += reddit_store::replace_daily_sentiment(&*tx, *day, rows).await?;
        }
        tx.commit()
            .await
            .context("commit the daily sentiment import")?;
    }
    Ok(done)
}
