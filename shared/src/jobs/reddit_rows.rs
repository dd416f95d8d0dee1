//! One scoring path for every Reddit item, scraped or imported: the tickers it mentions
//! and its market-mode sentiment.

use crate::adapters::reddit::{ItemKind, RedditItem};
use crate::adapters::reddit_store::{PostType, RedditRow};
use crate::core::sentiment::SentimentAnalyzer;
use crate::core::tickers::TickerExtractor;

/// Titles of the threads where most of a subreddit's daily chatter happens.
const DISCUSSION_TITLES: [&str; 5] = [
    "daily discussion",
    "what are your moves tomorrow",
    "weekend discussion",
    "daily general discussion",
    "daily advice thread",
];

/// True for a daily discussion thread (by title, or a stickied post flaired "Daily
/// Discussion"): its comments are worth fetching.
pub fn is_discussion_thread(item: &RedditItem) -> bool {
    if item.kind != ItemKind::Post {
        return false;
    }
    let title = item.title.as_deref().unwrap_or("").to_lowercase();
    DISCUSSION_TITLES.iter().any(|t| title.contains(t))
        || (item.is_stickied
            && item
                .link_flair_text
                .as_deref()
                .is_some_and(|f| f.to_lowercase().contains("discussion")))
}

/// The text that is scored: a post's title and body, a comment's body.
pub fn scored_text(item: &RedditItem) -> String {
    match item.title.as_deref() {
        Some(title) if !item.body.trim().is_empty() => format!("{title}\n{}", item.body),
        Some(title) => title.to_string(),
        None => item.body.clone(),
    }
}

/// The tickers an item mentions and its market-mode VADER compound: the one scoring path
/// (the database rows and the daily sentiment file both come from it).
pub fn score_text(item: &RedditItem) -> (Vec<String>, f64) {
    let text = scored_text(item);
    let tickers = TickerExtractor::us_listed().extract(&text);
    let sentiment = SentimentAnalyzer::market().polarity_scores(&text).compound;
    (tickers, sentiment)
}

/// The `reddit_posts` row of an item, with tickers and sentiment.
pub fn score_item(item: &RedditItem, source: &str) -> RedditRow {
    let (tickers, sentiment) = score_text(item);
    let post_type = match item.kind {
        ItemKind::Comment => PostType::Comment,
        ItemKind::Post if is_discussion_thread(item) => PostType::Discussion,
        ItemKind::Post => PostType::Post,
    };
    RedditRow {
        post_id: item.fullname.clone(),
        parent_id: item.parent_fullname.clone(),
        link_id: item.link_fullname.clone(),
        title: item.title.clone().unwrap_or_default(),
        text: Some(item.body.clone()).filter(|b| !b.is_empty()),
        subreddit: item.subreddit.clone(),
        tickers,
        sentiment_score: sentiment,
        score: item.score,
        num_comments: item.num_comments.unwrap_or(0),
        upvote_ratio: item.upvote_ratio,
        url: item.url.clone().or_else(|| {
            item.permalink
                .as_ref()
                .map(|p| format!("https://www.reddit.com{p}"))
        }),
        author: item.author.clone(),
        post_type,
        source: source.to_string(),
        created_at: item.created_utc,
    }
}
