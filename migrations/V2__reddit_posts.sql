-- Reddit posts and comments that the scraper (or `tft import-reddit`) stored, each with
-- the tickers it mentions and its sentiment, and the daily per-ticker aggregate the
-- features and the backtester read.
--
-- * post_id is Reddit's fullname ("t3_abc" a post, "t1_xyz" a comment), unique across
--   both kinds. Imported rows without a Reddit id get "x_" + a stable hash of their
--   content and day, so importing a file twice (or its duplicate rows) stores one row.
-- * title is NOT NULL as in the seed; a comment has no title and stores ''.
-- * tickers holds the storage spelling of each symbol (upper case; class shares as
--   Yahoo spells them, BRK-B); '{}' when none. A GIN index serves "items mentioning X".
-- * sentiment_score is the market-mode VADER compound in [-1, 1].
-- * created_at is when Reddit says the item was created; everything point-in-time reads
--   it. Imported rows that only carry a day get 23:59:59 New York of that day, so they
--   can never leak into the cutoff of the same day.
-- * A re-scrape updates the engagement columns only, and only when they changed.
CREATE TABLE reddit_posts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id         VARCHAR(20)  NOT NULL,
    parent_id       VARCHAR(20),
    link_id         VARCHAR(20),
    title           TEXT         NOT NULL DEFAULT '',
    text            TEXT,
    subreddit       VARCHAR(50)  NOT NULL,
    tickers         VARCHAR(10)[] NOT NULL DEFAULT '{}',
    sentiment_score DOUBLE PRECISION NOT NULL CHECK (sentiment_score BETWEEN -1 AND 1),
    score           INTEGER      NOT NULL DEFAULT 0,
    num_comments    INTEGER      NOT NULL DEFAULT 0,
    upvote_ratio    DOUBLE PRECISION,
    url             TEXT,
    author          VARCHAR(50),
    post_type       VARCHAR(20)  NOT NULL CHECK (post_type IN ('post', 'comment', 'discussion')),
    source          VARCHAR(40)  NOT NULL DEFAULT 'reddit_api',
    created_at      TIMESTAMPTZ  NOT NULL,
    scraped_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT reddit_posts_post_id_key UNIQUE (post_id)
);

CREATE INDEX reddit_posts_tickers_idx ON reddit_posts USING GIN (tickers);
CREATE INDEX reddit_posts_created_at_idx ON reddit_posts (created_at);
CREATE INDEX reddit_posts_sentiment_idx ON reddit_posts (sentiment_score);
CREATE INDEX reddit_posts_subreddit_created_idx ON reddit_posts (subreddit, post_type, created_at DESC);

-- One row per (ticker, trading day): what Reddit said about the ticker between the
-- previous trading day's cutoff and this day's (16:30 New York), from items created
-- before the cutoff only. Recomputing a day with the same items changes nothing.
CREATE TABLE ticker_sentiment_daily (
    ticker              VARCHAR(10)      NOT NULL,
    trading_date        DATE             NOT NULL,
    window_start        TIMESTAMPTZ      NOT NULL,
    cutoff_at           TIMESTAMPTZ      NOT NULL,
    -- once per author per ticker per day (items without an author count one each)
    mentions            INTEGER          NOT NULL CHECK (mentions > 0),
    items               INTEGER          NOT NULL,
    unique_authors      INTEGER          NOT NULL,
    mean_sentiment      DOUBLE PRECISION NOT NULL,
    weighted_sentiment  DOUBLE PRECISION NOT NULL,
    bullish_share       DOUBLE PRECISION NOT NULL,
    computed_at         TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, trading_date)
);
CREATE INDEX ticker_sentiment_daily_date_idx ON ticker_sentiment_daily (trading_date);
