-- The ensemble's call for each (ticker, trading day, model version), written by predict
-- after features.built and read by generate-signals after predictions.ready.
--
-- * Probabilities are stored per class (SELL, HOLD, BUY: the manifest's class order) so
--   a signal can be re-derived and audited; signal is their arg-max, confidence its
--   probability.
-- * The key includes model_version: a retrained model predicting the same day adds rows
--   beside the old ones instead of overwriting them; a re-run of the same event with the
--   same model writes nothing (ON CONFLICT DO NOTHING).
-- * model_probabilities keeps each model's own vote ({"lstm": [s, h, b], ...}) for the
--   single-model comparisons of the backtest report.
CREATE TABLE predictions (
    ticker              VARCHAR(10)      NOT NULL,
    date                DATE             NOT NULL,
    model_version       VARCHAR(64)      NOT NULL,
    prob_sell           DOUBLE PRECISION NOT NULL CHECK (prob_sell BETWEEN 0 AND 1),
    prob_hold           DOUBLE PRECISION NOT NULL CHECK (prob_hold BETWEEN 0 AND 1),
    prob_buy            DOUBLE PRECISION NOT NULL CHECK (prob_buy BETWEEN 0 AND 1),
    signal              VARCHAR(10)      NOT NULL CHECK (signal IN ('BUY', 'SELL', 'HOLD')),
    confidence          DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    model_probabilities JSONB            NOT NULL DEFAULT '{}'::jsonb,
    created_at          TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, date, model_version)
);
CREATE INDEX predictions_date_idx ON predictions (date, model_version);
