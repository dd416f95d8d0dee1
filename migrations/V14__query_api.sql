-- The query API and the dashboard (issue 12; docs/api.md).
--
-- * api_keys: only the SHA-256 of a key is stored (the key, 32 random bytes, is printed
--   once by `tft api-keys create`). admin keys may pause/resume entries and close
--   positions. A fixed one-minute window counts each key's requests (HTTP APIs have no
--   usage plans: the app counts, in the statement that records the key's last use).
-- * trading_control: one row; entries_paused stops generate-signals from opening (exits
--   keep running). Who paused and why is kept.
-- * admin_actions: every admin request that changed something, with the key's name.
-- * trading_signals.close_requested_*: a manual close asked through the API; the
--   monitor's next run closes the position at its quote, exit_reason 'manual'.
CREATE TABLE api_keys (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           VARCHAR(100) NOT NULL,
    key_hash       BYTEA        NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    admin          BOOLEAN      NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ,
    window_start   TIMESTAMPTZ,
    window_count   INTEGER      NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE trading_control (
    id              SMALLINT     PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    entries_paused  BOOLEAN      NOT NULL DEFAULT false,
    changed_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    changed_by      VARCHAR(100),
    reason          TEXT
);
INSERT INTO trading_control (id) VALUES (1);

CREATE TABLE admin_actions (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    key_name  VARCHAR(100) NOT NULL,
    action    VARCHAR(40)  NOT NULL,
    detail    JSONB        NOT NULL DEFAULT '{}'::jsonb
);

ALTER TABLE trading_signals
    ADD COLUMN close_requested_at TIMESTAMPTZ,
    ADD COLUMN close_requested_by VARCHAR(100);
ALTER TABLE trading_signals DROP CONSTRAINT trading_signals_exit_reason_check;
ALTER TABLE trading_signals ADD CONSTRAINT trading_signals_exit_reason_check
    CHECK (exit_reason IN ('target', 'stop_loss', 'signal_flip', 'time_decay', 'manual'));

-- Keyset pagination of /v1/signals: newest first on (generated_at, id).
CREATE INDEX trading_signals_generated_id_idx ON trading_signals (generated_at DESC, id DESC);
