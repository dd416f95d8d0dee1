-- One trading run per date, whatever the model (issue 11, defect 3). signal_runs was
-- keyed by (trading_date, model_version): a features.built redelivered after a promotion
-- made predict write the day's predictions under the new model, and generate-signals
-- claimed a second run for the same day and traded it again.
--
-- The key becomes the date alone; model_version stays as the model the day was traded
-- with. A database that already holds two runs of one day (the defect happened) keeps
-- the first one committed as the day's run; the later ones move, whole, to
-- signal_runs_superseded for the record (their trades stay in trading_signals, where a
-- trader can see them).
CREATE TABLE signal_runs_superseded (LIKE signal_runs INCLUDING DEFAULTS);
ALTER TABLE signal_runs_superseded ADD COLUMN superseded_at TIMESTAMPTZ NOT NULL DEFAULT now();

WITH ranked AS (
    SELECT trading_date, model_version,
           row_number() OVER (PARTITION BY trading_date ORDER BY created_at, model_version) AS n
    FROM signal_runs
), moved AS (
    DELETE FROM signal_runs s USING ranked r
    WHERE s.trading_date = r.trading_date AND s.model_version = r.model_version AND r.n > 1
    RETURNING s.*
)
INSERT INTO signal_runs_superseded (trading_date, model_version, summary, created_at)
SELECT trading_date, model_version, summary, created_at FROM moved;

ALTER TABLE signal_runs DROP CONSTRAINT signal_runs_pkey;
ALTER TABLE signal_runs ADD PRIMARY KEY (trading_date);
