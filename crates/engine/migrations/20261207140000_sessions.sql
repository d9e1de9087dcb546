-- Evaluation sessions. A session is one run (its prompts are the suite's cases in order, its
-- responses and stream events are the run's) plus what makes it a session: the suite it ran,
-- exactly, and its options (repeat, concurrency, budget, seed). `sessions.id` is the run's id;
-- deleting the run deletes the session (the store does it: the row is written as the run starts,
-- before the run's own row is committed by the writer, so it cannot be a foreign key).

CREATE TABLE suites (
    -- Lowercase hex SHA-256 of the suite's text and its referenced files (see `suite::LoadedSuite`).
    hash TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- `yaml`, `json`, `jsonl` or `csv`.
    format TEXT NOT NULL,
    -- Where it was read from, as given; informative only (the text is what ran).
    path TEXT,
    text TEXT NOT NULL,
    -- The referenced files, `[{path, text}]`, in the order the hash covers them.
    files_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    suite_hash TEXT NOT NULL REFERENCES suites (hash),
    -- 'running' | 'completed' | 'stopped' | 'cancelled' | 'cancelling' (asked by another
    -- process). A 'running' session whose run is not running was interrupted.
    status TEXT NOT NULL,
    -- Why it stopped early: 'budget', 'cancelled'; NULL otherwise.
    stop_reason TEXT,
    budget_usd REAL,
    -- `{repeat, concurrency, per_provider_concurrency, seed, retries}`.
    options_json TEXT NOT NULL,
    -- The cases' ids in prompt order (`prompt_index` is the position).
    case_ids_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_by_created_at ON sessions (created_at_ms, id);
