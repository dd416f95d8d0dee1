//! Reddit OAuth API client: subreddit listings (paged by `after`), a post's comment
//! tree, the bearer token and Reddit's rate limits.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shared::adapters::reddit::RedditError> {
//! use secrecy::SecretString;
//! use shared::adapters::reddit::{RedditClient, RedditCredentials, RedditSettings, Sort};
//! let reddit = RedditClient::new(
//!     RedditSettings {
//!         user_agent: RedditSettings::user_agent_for("tft_operator"),
//!         ..RedditSettings::default()
//!     },
//!     RedditCredentials::client_credentials("client-id", SecretString::from("secret")),
//! )?; // once per container
//! let posts = reddit.listing_until("wallstreetbets", Sort::New, Some("t3_1abcde"), None, 10).await?;
//! let comments = reddit.comments("wallstreetbets", &posts[0].id, 500).await?;
//! # Ok(()) }
//! ```
//!
//! - `auth`: [`RedditCredentials`] and the token exchange (`POST
//!   {auth_url}/api/v1/access_token`, client-credentials or password grant); the
//!   client caches the token and fetches a new one a minute before it expires, or
//!   once when the API answers 401;
//! - `listing`: the Thing/Listing JSON and its conversion to [`RedditItem`]s (pure);
//! - `ratelimit`: `x-ratelimit-remaining/used/reset`, read on every response; below
//!   `rate_limit_floor` the next request waits for the reset (capped);
//! - `client`: [`RedditSettings`] and the calls (`GET {api_url}/r/{sub}/{sort}?limit&
//!   after&t&raw_json=1`, `GET {api_url}/r/{sub}/comments/{id}?limit&depth&sort=new&
//!   raw_json=1`, `listing_until`'s paging);
//! - `request`: one request: the token, the rate-limit wait, the retries (backon,
//!   jittered exponential, `Retry-After` honoured up to `max_backoff`) and the mapping of
//!   Reddit's answers to [`RedditError`];
//! - [`RedditError`]: what failed, and whether it was transient.
//!
//! Why plain reqwest and not the `roux` crate: docs/reddit-client.md.

mod auth;
mod client;
mod error;
mod listing;
mod ratelimit;
mod request;

pub use auth::RedditCredentials;
pub use client::{RedditClient, RedditSettings};
pub use error::RedditError;
pub use listing::{ItemKind, ListingPage, RedditItem, Sort, TopWindow};
pub use ratelimit::RateLimit;
