-- The paper portfolio that signals open and the monitor closes (docs/risk.md, "Paper
-- portfolio, live"): the state the risk manager reads.
--
-- * paper_portfolio: one row (id = 1): cash and realised P&L. Every entry and exit
--   updates it in the transaction that inserts the signal / closes the position (and
--   queues the notification), after locking the row first (SELECT ... FOR UPDATE), so
--   all writers serialise on it in one lock order and never deadlock.
-- * Positions are the open BUY rows of trading_signals; the fill columns added here
--   hold what the portfolio paid and received (costs 5 + 5 bps, core::portfolio::Costs).
-- * portfolio_equity_curve: one mark per trading day at that day's closes (written by
--   generate-signals); the peak (the highest equity ever marked, never reset) and the
--   drawdown the breaker reads come from it.
-- * signal_runs: one row per (trading_date, model_version) whose signals committed; the
--   whole day is one transaction that starts by inserting it, so a re-delivered
--   predictions.ready finds it and changes nothing.
-- * signal_rejections: every BUY candidate the risk manager refused, with each failed
--   rule, so a trader can see why.
CREATE TABLE paper_portfolio (
    id               SMALLINT         PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    starting_equity  DOUBLE PRECISION NOT NULL CHECK (starting_equity > 0),
    cash             DOUBLE PRECISION NOT NULL,
    realized_pnl     DOUBLE PRECISION NOT NULL DEFAULT 0,
    commission_bps   DOUBLE PRECISION NOT NULL CHECK (commission_bps >= 0),
    slippage_bps     DOUBLE PRECISION NOT NULL CHECK (slippage_bps >= 0),
    created_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ      NOT NULL DEFAULT now()
);

ALTER TABLE trading_signals
    -- The first session the position is held in (the trading day after the signal date);
    -- time decay counts from it (exits::expires_at).
    ADD COLUMN entry_date        DATE,
    -- Paid per share, slippage included, and the entry commission.
    ADD COLUMN fill_price        DOUBLE PRECISION CHECK (fill_price > 0),
    ADD COLUMN entry_commission  DOUBLE PRECISION CHECK (entry_commission >= 0),
    -- The last market price seen (the daily close, or the monitor's quote).
    ADD COLUMN mark_price        DOUBLE PRECISION CHECK (mark_price > 0),
    ADD COLUMN marked_at         TIMESTAMPTZ,
    -- Received per share on exit, slippage included; exit commission; net P&L of the
    -- round trip (both commissions and slippage).
    ADD COLUMN exit_fill_price   DOUBLE PRECISION CHECK (exit_fill_price > 0),
    ADD COLUMN exit_commission   DOUBLE PRECISION CHECK (exit_commission >= 0),
    ADD COLUMN realized_pnl      DOUBLE PRECISION,
    -- A SELL signal that closed a held BUY (signal_flip) names it.
    ADD COLUMN closes_signal_id  BIGINT REFERENCES trading_signals (id);

CREATE TABLE portfolio_equity_curve (
    date             DATE             PRIMARY KEY,
    cash             DOUBLE PRECISION NOT NULL,
    positions_value  DOUBLE PRECISION NOT NULL CHECK (positions_value >= 0),
    equity           DOUBLE PRECISION NOT NULL,
    peak_equity      DOUBLE PRECISION NOT NULL,
    drawdown         DOUBLE PRECISION NOT NULL CHECK (drawdown >= 0 AND drawdown <= 1),
    realized_pnl     DOUBLE PRECISION NOT NULL,
    unrealized_pnl   DOUBLE PRECISION NOT NULL,
    open_positions   INTEGER          NOT NULL CHECK (open_positions >= 0),
    marked_at        TIMESTAMPTZ      NOT NULL DEFAULT now()
);

CREATE TABLE signal_runs (
    trading_date   DATE        NOT NULL,
    model_version  VARCHAR(64) NOT NULL,
    summary        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_date, model_version)
);

CREATE TABLE signal_rejections (
    trading_date   DATE             NOT NULL,
    ticker         VARCHAR(10)      NOT NULL,
    model_version  VARCHAR(64)      NOT NULL,
    -- Rejection::code(), or 'no_market_data' (no close / volatility for the day).
    rule           VARCHAR(40)      NOT NULL,
    confidence     DOUBLE PRECISION,
    -- For people: "confidence 0.7000 is not above 0.70".
    reason         TEXT             NOT NULL,
    -- The rule's numbers ({"rule": "confidence_too_low", "confidence": 0.7, "min": 0.7}).
    detail         JSONB            NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (trading_date, ticker, model_version, rule)
);
