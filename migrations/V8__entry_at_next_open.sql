-- Live entries fill at the next session's open, as the backtester's do (docs/risk.md,
-- "Live fills"). generate-signals books a BUY as a *pending* entry after the close of
-- its signal date; the first monitor-positions run of the next NYSE session that gets a
-- quote with that session's open fills it there (or, when Yahoo failed all session,
-- the next generate-signals fills it from the stored daily bar's open; a ticker without
-- a bar that session misses its entry, as in the backtester).
--
-- * entry_status: 'pending' (booked, cash reserved, not filled), 'filled', 'missed'
--   (never filled: reserved cash released, row inactive, no exit). NULL for SELL/HOLD
--   records.
-- * reserved_cash: what the pending entry set aside at generation (shares × the close
--   estimate with slippage, plus commission); the fill returns it and pays the real cost.
-- * entry_open: the session open the entry filled at (the market price, before slippage).
-- * planned_stop_loss / planned_target_price: the levels announced with the signal
--   (priced from the close); at the fill stop_loss / target_price are re-based on the
--   open with the same percentages (core::portfolio::PortfolioState::open).
-- * entry_note: why an entry was missed.
ALTER TABLE trading_signals
    ADD COLUMN entry_status          VARCHAR(10)
        CHECK (entry_status IN ('pending', 'filled', 'missed')),
    ADD COLUMN reserved_cash         DOUBLE PRECISION CHECK (reserved_cash >= 0),
    ADD COLUMN entry_open            DOUBLE PRECISION CHECK (entry_open > 0),
    ADD COLUMN planned_stop_loss     DOUBLE PRECISION,
    ADD COLUMN planned_target_price  DOUBLE PRECISION,
    ADD COLUMN filled_at             TIMESTAMPTZ,
    ADD COLUMN entry_note            TEXT;

-- Rows booked before this migration were filled at the signal date's close.
UPDATE trading_signals SET entry_status = 'filled' WHERE signal = 'BUY' AND fill_price IS NOT NULL;

-- A missed entry is an inactive BUY without an exit: allow it (and only it).
ALTER TABLE trading_signals DROP CONSTRAINT trading_signals_closed_consistently;
ALTER TABLE trading_signals ADD CONSTRAINT trading_signals_closed_consistently CHECK (
    (is_active AND exit_price IS NULL AND exit_reason IS NULL AND closed_at IS NULL)
    OR (NOT is_active AND ((exit_price IS NOT NULL AND closed_at IS NOT NULL) OR signal <> 'BUY'))
    OR (NOT is_active AND entry_status = 'missed' AND exit_price IS NULL AND exit_reason IS NULL
        AND closed_at IS NOT NULL)
);
-- A pending entry is active and unfilled; a filled one has its fill.
ALTER TABLE trading_signals ADD CONSTRAINT trading_signals_entry_consistent CHECK (
    entry_status IS NULL
    OR (entry_status = 'pending' AND is_active AND fill_price IS NULL AND reserved_cash IS NOT NULL)
    OR (entry_status = 'filled' AND fill_price IS NOT NULL)
    OR (entry_status = 'missed' AND NOT is_active AND fill_price IS NULL)
);
