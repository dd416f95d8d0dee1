-- The drawdown breaker's trips and releases (docs/risk.md, "Drawdown breaker"): a
-- drawdown above 15 % at a day's closes trips it, no entries are planned on the trip day
-- and the next 20 trading days (TFT_BREAKER_COOLOFF_DAYS; 0/'permanent': never again),
-- and the first run after the lock releases it and resets the equity peak to the equity.
--
-- * The breaker's state is the latest row: 'tripped' = locked (through locked_until;
--   NULL = for good), 'released' or no row = armed. generate-signals writes the row in
--   the transaction of the day's run, with its two outbox rows (breaker.tripped /
--   breaker.released, keyed by the row id), so the lock, its notifications and the day's
--   signals commit together.
-- * UNIQUE (kind, trading_date): a re-delivered predictions.ready, or a second model
--   version's run of the same day, finds the row and writes nothing.
-- * The peak the breaker reads after a release is the highest portfolio_equity_curve
--   peak marked on or after the last release date, and at least the release's equity:
--   the older, higher marks stay in the curve for the record but no longer count.
CREATE TABLE breaker_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          VARCHAR(10)      NOT NULL CHECK (kind IN ('tripped', 'released')),
    -- The signal date whose closes tripped / released it.
    trading_date  DATE             NOT NULL,
    -- Drawdown from the peak at those closes (for a release: from the old peak, before
    -- the reset) and the equity there (for a release: the new peak).
    drawdown      DOUBLE PRECISION NOT NULL CHECK (drawdown >= 0 AND drawdown <= 1),
    equity        DOUBLE PRECISION NOT NULL,
    -- tripped: the peak it fell from; released: the peak before the reset.
    peak_equity   DOUBLE PRECISION NOT NULL,
    -- tripped: the last locked trading day (NULL: permanent halt); released: NULL.
    locked_until  DATE,
    -- released: the trip it ends.
    tripped_on    DATE,
    created_at    TIMESTAMPTZ      NOT NULL DEFAULT now(),
    CONSTRAINT breaker_events_once_a_day UNIQUE (kind, trading_date),
    CONSTRAINT breaker_events_release_names_its_trip CHECK (
        (kind = 'tripped' AND tripped_on IS NULL)
        OR (kind = 'released' AND tripped_on IS NOT NULL AND locked_until IS NULL)
    )
);
