-- Trades the system tells the user about, as in the seed, plus what a re-run and an
-- audit need.
--
-- * signal_key is "<trading_date>:<ticker>:<signal>:<model_version>": generate-signals
--   inserts with ON CONFLICT DO NOTHING on it, so a re-run of the same day (EventBridge
--   delivers at least once) creates nothing new.
-- * is_active is BOOLEAN (the seed's INTEGER 1/0 allowed 2, -1, ...); a partial unique
--   index allows one open BUY per ticker.
-- * Closing is one conditional UPDATE ... WHERE is_active, so two monitors running at
--   once close each position exactly once (the loser updates no row).
-- * exit_reason is one of the seed's four strings; closed rows carry exit_price and
--   closed_at, open rows neither (CHECK).
-- * shares and position_size_pct come from the risk manager's sizing (docs/risk.md).
CREATE TABLE trading_signals (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    signal_key         VARCHAR(120)     NOT NULL,
    ticker             VARCHAR(10)      NOT NULL,
    trading_date       DATE             NOT NULL,
    signal             VARCHAR(10)      NOT NULL CHECK (signal IN ('BUY', 'SELL', 'HOLD')),
    confidence         DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    model_version      VARCHAR(64)      NOT NULL,
    entry_price        DOUBLE PRECISION NOT NULL CHECK (entry_price > 0),
    target_price       DOUBLE PRECISION,
    stop_loss          DOUBLE PRECISION,
    risk_reward_ratio  DOUBLE PRECISION,
    position_size_pct  DOUBLE PRECISION CHECK (position_size_pct BETWEEN 0 AND 1),
    shares             BIGINT           CHECK (shares >= 0),
    rsi_value          DOUBLE PRECISION,
    macd_value         DOUBLE PRECISION,
    sentiment_score    DOUBLE PRECISION,
    sentiment_trend    DOUBLE PRECISION,
    is_active          BOOLEAN          NOT NULL DEFAULT true,
    exit_price         DOUBLE PRECISION,
    exit_reason        VARCHAR(50)      CHECK (exit_reason IN ('target', 'stop_loss', 'signal_flip', 'time_decay')),
    generated_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    expires_at         TIMESTAMPTZ,
    closed_at          TIMESTAMPTZ,
    CONSTRAINT trading_signals_signal_key_key UNIQUE (signal_key),
    CONSTRAINT trading_signals_closed_consistently CHECK (
        (is_active AND exit_price IS NULL AND exit_reason IS NULL AND closed_at IS NULL)
        OR (NOT is_active AND ((exit_price IS NOT NULL AND closed_at IS NOT NULL) OR signal <> 'BUY'))
    )
);

CREATE INDEX trading_signals_ticker_active_idx ON trading_signals (ticker, is_active);
CREATE INDEX trading_signals_generated_at_idx ON trading_signals (generated_at);
CREATE UNIQUE INDEX trading_signals_one_open_buy_per_ticker
    ON trading_signals (ticker) WHERE is_active AND signal = 'BUY';
