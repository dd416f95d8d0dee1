-- Daily bars with their technical indicators, one row per (ticker, trading day).
--
-- Column types, and why:
-- * date is DATE, the trading day in the exchange's time zone (America/New_York). The
--   seed's TIMESTAMPTZ would make "which day" depend on the session time zone and let
--   two rows for one day differ by a few hours.
-- * Prices and indicators are DOUBLE PRECISION. Yahoo delivers binary floating-point
--   numbers, the indicators are computed in f64 to equal TA-Lib bit for bit as far as
--   possible, and the backtester works in f64: NUMERIC would add a decimal round trip
--   (and a conversion crate) without making any stored value more exact. Money that is
--   booked (cash, P&L) gets its own columns later; these are market observations.
-- * volume is BIGINT: daily share volumes exceed 2^31 (AAPL traded 1.46e9 shares on
--   one day before its 2020 split, and split adjustment multiplies older volumes).
-- * Indicators are NULL during their warm-up, exactly where TA-Lib returns NaN.
-- * fetched_at is when the row's values last changed: an upsert that changes nothing
--   leaves the row (and fetched_at) untouched, so re-running a day is a no-op.
CREATE TABLE stock_prices (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticker         VARCHAR(10)      NOT NULL,
    date           DATE             NOT NULL,
    open           DOUBLE PRECISION NOT NULL,
    high           DOUBLE PRECISION NOT NULL,
    low            DOUBLE PRECISION NOT NULL,
    close          DOUBLE PRECISION NOT NULL,
    adjusted_close DOUBLE PRECISION NOT NULL,
    volume         BIGINT           NOT NULL,
    rsi            DOUBLE PRECISION,
    macd           DOUBLE PRECISION,
    macd_signal    DOUBLE PRECISION,
    macd_hist      DOUBLE PRECISION,
    bb_upper       DOUBLE PRECISION,
    bb_middle      DOUBLE PRECISION,
    bb_lower       DOUBLE PRECISION,
    sma_50         DOUBLE PRECISION,
    sma_200        DOUBLE PRECISION,
    volume_ratio   DOUBLE PRECISION,
    fetched_at     TIMESTAMPTZ      NOT NULL DEFAULT now(),
    -- Yahoo marks a missing bar with nulls; the client skips those, and zeros must
    -- never be stored in their place.
    CONSTRAINT stock_prices_positive_prices
        CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0 AND adjusted_close > 0),
    CONSTRAINT stock_prices_volume_not_negative CHECK (volume >= 0),
    -- The unique constraint's btree on (ticker, date) is the (ticker, date) index every
    -- read uses ("last stored date", "history of one ticker"); a second one would only
    -- double the write cost.
    CONSTRAINT stock_prices_ticker_date_key UNIQUE (ticker, date)
);

-- "What changed since" reads of every ticker for one day (features, monitor).
CREATE INDEX stock_prices_date_idx ON stock_prices (date);
