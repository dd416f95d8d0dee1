//! The client and what it offers: settings, construction, listings, comments.
//! How one request is made (token, rate limit, retries) is in `request`.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{redirect, Url};

use super::auth::{AccessToken, RedditCredentials};
use super::error::RedditError;
use super::listing::{parse_comments, parse_listing, ListingPage, RedditItem, Sort};
use super::ratelimit::{Observed, RateLimit};
use super::request::error_chain;

/// How to reach Reddit and how hard to try.
#[derive(Debug, Clone, PartialEq)]
pub struct RedditSettings {
    /// Host of the token endpoint (`/api/v1/access_token` is appended).
    pub auth_url: String,
    /// Host of the OAuth API (`/r/{sub}/new`... are appended).
    pub api_url: String,
    /// Reddit requires `<platform>:<app id>:<version> (by /u/<username>)` and blocks
    /// generic ones: see [`RedditSettings::user_agent_for`].
    pub user_agent: String,
    /// Whole-request limit per attempt (connect, headers and body).
    pub request_timeout: Duration,
    /// Retries after the first attempt for 429, 5xx, timeouts and transport errors.
    pub max_retries: usize,
    /// First backoff delay; doubles each retry, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    /// Ceiling of any single retry wait, jitter and `Retry-After` included.
    pub max_backoff: Duration,
    /// `limit` of a listing page (Reddit's maximum is 100).
    pub page_limit: u32,
    /// `depth` of a comment tree request; `None` lets Reddit choose.
    pub comment_depth: Option<u32>,
    /// When `x-ratelimit-remaining` falls below this, the next request waits for
    /// `x-ratelimit-reset`.
    pub rate_limit_floor: f64,
    /// Ceiling of that wait (Reddit's window is 10 minutes; a Lambda run is short).
    pub max_rate_limit_wait: Duration,
}

impl RedditSettings {
    /// `aws-lambda:tft-trader:v<version> (by /u/<reddit_username>)`, the form Reddit's
    /// API rules ask for.
    pub fn user_agent_for(reddit_username: &str) -> String {
        format!(
            "aws-lambda:tft-trader:v{} (by /u/{reddit_username})",
            env!("CARGO_PKG_VERSION")
        )
    }
}

impl Default for RedditSettings {
    fn default() -> Self {
        Self {
            auth_url: "https://www.reddit.com".to_string(),
            api_url: "https://oauth.reddit.com".to_string(),
            // Without the "(by /u/...)" part, which needs the operator's account: set
            // `user_agent_for(username)` in production (the client warns otherwise).
            user_agent: concat!("aws-lambda:tft-trader:v", env!("CARGO_PKG_VERSION")).to_string(),
            request_timeout: Duration::from_secs(15),
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            page_limit: 100,
            comment_depth: Some(10),
            rate_limit_floor: 1.0,
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// Client of Reddit's OAuth API. Cheap to clone (one connection pool, one cached
/// token and one rate-limit state shared by the clones); build it once per Lambda
/// container.
#[derive(Debug, Clone)]
pub struct RedditClient {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) token_url: Url,
    pub(super) api_base: Url,
    pub(super) settings: RedditSettings,
    pub(super) credentials: RedditCredentials,
    /// An async mutex: the first task to find the token stale fetches it while the
    /// others wait, so a burst of requests makes one token request.
    pub(super) token: tokio::sync::Mutex<Option<AccessToken>>,
    pub(super) generation: AtomicU64,
    pub(super) rate: Mutex<Option<Observed>>,
}

const TOKEN_PATH: [&str; 3] = ["api", "v1", "access_token"];

/// Why [`RedditClient::listing_until`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    KnownItem,
    NotBefore,
    EndOfListing,
    MaxPages,
}

impl Stop {
    fn as_str(self) -> &'static str {
        match self {
            Self::KnownItem => "stop_at",
            Self::NotBefore => "not_before",
            Self::EndOfListing => "end_of_listing",
            Self::MaxPages => "max_pages",
        }
    }
}

impl RedditClient {
    pub fn new(
        settings: RedditSettings,
        credentials: RedditCredentials,
    ) -> Result<Self, RedditError> {
        let config = |reason: String| RedditError::Config { reason };
        let base = |name: &str, value: &str| -> Result<Url, RedditError> {
            let url = Url::parse(value).map_err(|e| config(format!("{name} {value:?}: {e}")))?;
            if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
                return Err(config(format!("{name} {value:?} is not an http(s) URL")));
            }
            Ok(url)
        };
        let mut token_url = base("auth_url", &settings.auth_url)?;
        let api_base = base("api_url", &settings.api_url)?;
        token_url
            .path_segments_mut()
            .expect("checked: can be a base")
            .pop_if_empty()
            .extend(TOKEN_PATH);
        if !(1..=100).contains(&settings.page_limit) {
            return Err(config(format!(
                "page_limit {} is not within 1..=100",
                settings.page_limit
            )));
        }
        if settings.rate_limit_floor.is_nan() || settings.rate_limit_floor < 0.0 {
            return Err(config(format!(
                "rate_limit_floor {} is not a number >= 0",
                settings.rate_limit_floor
            )));
        }
        if credentials.client_id.trim().is_empty() {
            return Err(config("empty client_id".to_string()));
        }
        if !settings.user_agent.contains("(by /u/") {
            tracing::warn!(
                user_agent = %settings.user_agent,
                "the Reddit User-Agent does not name the operator's account \
                 (\"(by /u/<username>)\"): Reddit may throttle or block it"
            );
        }
        let http = crate::adapters::https::client_builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            // Unknown subreddits redirect to the search page: report them, don't follow.
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|e| config(format!("HTTP client: {}", error_chain(&e))))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                token_url,
                api_base,
                settings,
                credentials,
                token: tokio::sync::Mutex::new(None),
                generation: AtomicU64::new(0),
                rate: Mutex::new(None),
            }),
        })
    }

    /// One page of `/r/{subreddit}/{sort}`, `page_limit` items, starting after the
    /// fullname `after` (a previous page's [`ListingPage::after`]).
    ///
    /// 429, 5xx, timeouts and transport errors are retried `max_retries` times with
    /// jittered exponential backoff; a 401 refreshes the token once; a 403 is
    /// [`RedditError::Forbidden`], a 404 or a redirect [`RedditError::NotFound`].
    #[tracing::instrument(skip_all, fields(subreddit = %subreddit, sort = %sort, after = ?after))]
    pub async fn listing(
        &self,
        subreddit: &str,
        sort: Sort,
        after: Option<&str>,
    ) -> Result<ListingPage, RedditError> {
        let name = subreddit_name(subreddit)?;
        let mut query = vec![("limit", self.inner.settings.page_limit.to_string())];
        if let Some(t) = sort.time_window() {
            query.push(("t", t.to_string()));
        }
        if let Some(after) = after.filter(|a| !a.is_empty()) {
            query.push(("after", after.to_string()));
        }
        let (path, body) = self
            .get(&["r", name, sort.path_segment()], &query, name)
            .await?;
        let parsed =
            parse_listing(&body).map_err(|reason| RedditError::Malformed { path, reason })?;
        tracing::debug!(
            items = parsed.items.len(),
            after = ?parsed.after,
            skipped_kinds = parsed.skipped_kinds,
            malformed_items = parsed.malformed_items,
            "Reddit listing page"
        );
        if parsed.malformed_items > 0 {
            tracing::warn!(
                malformed_items = parsed.malformed_items,
                "Reddit listing had unusable items"
            );
        }
        Ok(ListingPage {
            items: parsed.items,
            after: parsed.after,
        })
    }

    /// Pages of `sort` (newest first) until an item with fullname `stop_at` (exclusive)
    /// or created before `not_before`, or `max_pages`; returns items newest-first.
    ///
    /// Meant for [`Sort::New`]. Stickied items older than `not_before` (the pinned
    /// posts `hot` lists first) are dropped without ending the walk. An item seen twice
    /// (the listing shifts while paging as new posts arrive) is kept once. A deleted
    /// `stop_at` post never shows up: `not_before` is the backstop.
    #[tracing::instrument(
        skip_all,
        fields(subreddit = %subreddit, sort = %sort, stop_at = ?stop_at, not_before = ?not_before, max_pages = max_pages)
    )]
    pub async fn listing_until(
        &self,
        subreddit: &str,
        sort: Sort,
        stop_at: Option<&str>,
        not_before: Option<DateTime<Utc>>,
        max_pages: usize,
    ) -> Result<Vec<RedditItem>, RedditError> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        let mut stop = Stop::MaxPages;
        'pages: while pages < max_pages {
            let page = self.listing(subreddit, sort, after.as_deref()).await?;
            pages += 1;
            let empty = page.items.is_empty();
            for item in page.items {
                if stop_at == Some(item.fullname.as_str()) {
                    stop = Stop::KnownItem;
                    break 'pages;
                }
                if not_before.is_some_and(|t| item.created_utc < t) {
                    if item.is_stickied {
                        continue;
                    }
                    stop = Stop::NotBefore;
                    break 'pages;
                }
                if seen.insert(item.fullname.clone()) {
                    items.push(item);
                }
            }
            match page.after {
                Some(next) if !empty => after = Some(next),
                _ => {
                    stop = Stop::EndOfListing;
                    break;
                }
            }
        }
        tracing::info!(
            pages,
            items = items.len(),
            stopped = stop.as_str(),
            "Reddit listing read"
        );
        if stop == Stop::MaxPages && (stop_at.is_some() || not_before.is_some()) {
            tracing::warn!(
                max_pages,
                "Reddit listing cut at max_pages before reaching stop_at/not_before: older items are missing"
            );
        }
        Ok(items)
    }

    /// The comments of one post (flattened tree, `more` stubs skipped and counted).
    ///
    /// `post_id` is the id (`ablzuq`) or the fullname (`t3_ablzuq`). Comments come
    /// depth-first (each followed by its replies), as Reddit sorted them (`sort=new`);
    /// at most `limit` of them plus the stubs, whose hidden comments are not fetched.
    #[tracing::instrument(skip_all, fields(subreddit = %subreddit, post_id = %post_id, limit = limit))]
    pub async fn comments(
        &self,
        subreddit: &str,
        post_id: &str,
        limit: u32,
    ) -> Result<Vec<RedditItem>, RedditError> {
        let name = subreddit_name(subreddit)?;
        let id = post_id_of(post_id)?;
        let mut query = vec![("limit", limit.max(1).to_string())];
        if let Some(depth) = self.inner.settings.comment_depth {
            query.push(("depth", depth.to_string()));
        }
        query.push(("sort", "new".to_string()));
        let (path, body) = self.get(&["r", name, "comments", id], &query, name).await?;
        let parsed =
            parse_comments(&body).map_err(|reason| RedditError::Malformed { path, reason })?;
        tracing::debug!(
            comments = parsed.comments.len(),
            more_stubs = parsed.more_stubs,
            hidden_comments = parsed.hidden_comments,
            skipped_kinds = parsed.skipped_kinds,
            malformed_items = parsed.malformed_items,
            "Reddit comments read"
        );
        if parsed.malformed_items > 0 {
            tracing::warn!(
                malformed_items = parsed.malformed_items,
                "Reddit comment tree had unusable items"
            );
        }
        Ok(parsed.comments)
    }

    /// The last `x-ratelimit-*` values Reddit sent, if any response carried them.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_state().map(|o| o.limit)
    }
}

// ---- helpers ----------------------------------------------------------------------------

/// A subreddit name as a path segment: `wallstreetbets`, `r/wallstreetbets`,
/// `stocks+investing`.
fn subreddit_name(raw: &str) -> Result<&str, RedditError> {
    let trimmed = raw.trim();
    let name = trimmed
        .strip_prefix("/r/")
        .or_else(|| trimmed.strip_prefix("r/"))
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let valid = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+');
    if valid {
        Ok(name)
    } else {
        Err(RedditError::InvalidRequest {
            reason: format!("subreddit {raw:?}: expected a name like \"wallstreetbets\""),
        })
    }
}

/// A post id from `ablzuq` or `t3_ablzuq`.
fn post_id_of(raw: &str) -> Result<&str, RedditError> {
    let trimmed = raw.trim();
    let id = trimmed.strip_prefix("t3_").unwrap_or(trimmed);
    if !id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(RedditError::InvalidRequest {
            reason: format!(
                "post id {raw:?}: expected a base-36 id like \"ablzuq\" or \"t3_ablzuq\""
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn bad_settings_are_config_errors() {
        let creds = || RedditCredentials::client_credentials("id", SecretString::from("s"));
        let bad = [
            RedditSettings {
                api_url: "not a url".into(),
                ..RedditSettings::default()
            },
            RedditSettings {
                auth_url: "mailto:x@y.z".into(),
                ..RedditSettings::default()
            },
            RedditSettings {
                page_limit: 0,
                ..RedditSettings::default()
            },
            RedditSettings {
                page_limit: 101,
                ..RedditSettings::default()
            },
            RedditSettings {
                rate_limit_floor: f64::NAN,
                ..RedditSettings::default()
            },
        ];
        for s in bad {
            let r = RedditClient::new(s.clone(), creds());
            assert!(matches!(r, Err(RedditError::Config { .. })), "{s:?}");
        }
        let r = RedditClient::new(
            RedditSettings::default(),
            RedditCredentials::client_credentials(" ", SecretString::from("s")),
        );
        assert!(matches!(r, Err(RedditError::Config { .. })));
    }

    #[test]
    fn subreddit_names_and_post_ids() {
        assert_eq!(subreddit_name("wallstreetbets").unwrap(), "wallstreetbets");
        assert_eq!(subreddit_name(" r/stocks ").unwrap(), "stocks");
        assert_eq!(subreddit_name("/r/Stocks/").unwrap(), "Stocks");
        assert_eq!(
            subreddit_name("stocks+investing").unwrap(),
            "stocks+investing"
        );
        for bad in ["", "r/", "wall street", "a/b", "x?y", "ü"] {
            assert!(
                matches!(subreddit_name(bad), Err(RedditError::InvalidRequest { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(post_id_of("ablzuq").unwrap(), "ablzuq");
        assert_eq!(post_id_of("t3_ablzuq").unwrap(), "ablzuq");
        for bad in ["", "t3_", "t1_abc/x", "abc def"] {
            assert!(
                matches!(post_id_of(bad), Err(RedditError::InvalidRequest { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn user_agent_follows_reddits_format() {
        let ua = RedditSettings::user_agent_for("tft_operator");
        assert!(ua.starts_with("aws-lambda:tft-trader:v"), "{ua}");
        assert!(ua.ends_with(" (by /u/tft_operator)"), "{ua}");
    }
}
