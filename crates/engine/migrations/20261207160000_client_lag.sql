-- How late the client itself was around each response's timings (its scheduling lag), whether
-- that could have moved them past the run's threshold, and each run's worst lag.
ALTER TABLE responses ADD COLUMN client_lag_first_token_ms REAL;
ALTER TABLE responses ADD COLUMN client_lag_end_ms REAL;
ALTER TABLE responses ADD COLUMN client_saturated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN max_client_lag_ms REAL;
