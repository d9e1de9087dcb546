-- The cloud's own timings (Bedrock latencyMs), each response's cost, and user price overrides.

ALTER TABLE responses ADD COLUMN server_latency_ms REAL;
ALTER TABLE responses ADD COLUMN server_first_byte_ms REAL;
-- NULL cost means unknown; cost_source then says why (never a silent 0).
ALTER TABLE responses ADD COLUMN cost_usd REAL;
ALTER TABLE responses ADD COLUMN cost_source TEXT;

-- A user's own price for a provider/model/region (contract discount, provisioned throughput).
-- It wins over the shipped catalog. region '' means every region.
CREATE TABLE price_overrides (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL DEFAULT 'USD',
    input_per_mtok REAL NOT NULL CHECK (input_per_mtok >= 0),
    output_per_mtok REAL NOT NULL CHECK (output_per_mtok >= 0),
    cached_input_per_mtok REAL CHECK (cached_input_per_mtok >= 0),
    cache_write_per_mtok REAL CHECK (cache_write_per_mtok >= 0),
    reasoning_per_mtok REAL CHECK (reasoning_per_mtok >= 0),
    note TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (provider, model, region)
) STRICT;
