-- Model inputs, one row per (ticker, trading day, feature schema), written by
-- build-features after prices.updated and read by predict.
--
-- * feature_values holds the features in the schema's order (shared/src/core/features/schema.rs),
--   as DOUBLE PRECISION[]: one implementation computes them for export, training and
--   serving, and the schema hash in the key makes a row unreadable by a model trained
--   on another schema instead of silently misaligned.
-- * feature_schemas records each schema's names, so a row can be decoded by SQL alone.
-- * A rebuild that computes the same values leaves the row untouched.
CREATE TABLE feature_schemas (
    schema_hash  VARCHAR(16) PRIMARY KEY,
    version      INTEGER     NOT NULL,
    names        TEXT[]      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE features (
    ticker       VARCHAR(10)        NOT NULL,
    date         DATE               NOT NULL,
    schema_hash  VARCHAR(16)        NOT NULL REFERENCES feature_schemas (schema_hash),
    feature_values DOUBLE PRECISION[] NOT NULL,
    computed_at  TIMESTAMPTZ        NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, date, schema_hash)
);
CREATE INDEX features_date_idx ON features (date, schema_hash);
