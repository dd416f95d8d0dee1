-- The expected-value entry gate (docs/risk.md) prices each prediction as a trade:
-- calibrated P(target), P(stop), P(time-out or flip) and the model's mean net return of
-- time-out/flip trades on its calibration slice. The last number belongs to the model
-- bundle; it is stored with each prediction so generate-signals needs nothing but the
-- predictions table. NULL for a model that has none (the seed's gate only).
ALTER TABLE predictions ADD COLUMN timeout_return DOUBLE PRECISION;
