-- The initial schema. Every run is kept so it can be listed, reopened, compared and searched:
--   schema_migrations  the migration files applied to this database (this one included)
--   targets            targets saved in the app: the whole Target as JSON (key references, never keys)
--   runs               one row per run: the parameters and targets it used, and how it ended
--   run_prompts        the prompts of a run, in order
--   responses          one row per (prompt, target, repeat): output, usage, timings, error
--   response_events    every stamped stream event of a response, for replay and audit
--   search_index       FTS5 over prompt, system and response text, kept in step by triggers
-- Times are Unix milliseconds (`_ms`); durations measured on a monotonic clock are REAL
-- milliseconds or integer microseconds (`_us`).

CREATE TABLE schema_migrations (
    version TEXT PRIMARY KEY NOT NULL,
    applied_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE targets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- Copied out of config_json so lists need not parse it.
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
    -- A UUIDv7, so ids sort by creation time.
    id TEXT PRIMARY KEY NOT NULL,
    started_at_ms INTEGER NOT NULL,
    -- NULL while running, and forever if the process died mid-run.
    finished_at_ms INTEGER,
    -- 'running' | 'completed' | 'cancelled'. Not a CHECK: SQLite can only change one by
    -- rebuilding the table, and the runner owns this vocabulary.
    status TEXT NOT NULL,
    parameters_json TEXT NOT NULL,
    -- The run's targets exactly as run, so later edits to saved targets do not rewrite history.
    targets_json TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    prompt_count INTEGER NOT NULL,
    -- Responses the run asked for (prompts x targets x repeat), known before any arrives.
    response_count INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX runs_by_started_at ON runs (started_at_ms, id);

CREATE TABLE run_prompts (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    prompt_index INTEGER NOT NULL,
    system TEXT,
    -- The last user turn: what lists and search show as "the prompt".
    user_text TEXT NOT NULL,
    messages_json TEXT NOT NULL,
    PRIMARY KEY (run_id, prompt_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    prompt_index INTEGER NOT NULL,
    target_index INTEGER NOT NULL,
    repeat_index INTEGER NOT NULL,
    target TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    -- 'running' from the first request until the runner reports the end; a row still 'running'
    -- after its run ended is a response the process never finished (a crash).
    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete')),
    request_id TEXT,
    reported_model TEXT,
    region TEXT,
    text TEXT NOT NULL DEFAULT '',
    reasoning TEXT NOT NULL DEFAULT '',
    tool_calls_json TEXT NOT NULL DEFAULT '[]',
    finish_reason TEXT,
    raw_finish_reason TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    reasoning_tokens INTEGER,
    cached_input_tokens INTEGER,
    cache_creation_input_tokens INTEGER,
    total_tokens INTEGER,
    -- The cloud's own usage object, verbatim.
    usage_raw_json TEXT,
    time_to_first_token_ms REAL,
    total_ms REAL,
    output_tokens_per_second REAL,
    content_chunks INTEGER NOT NULL DEFAULT 0,
    gap_p50_ms REAL,
    gap_p95_ms REAL,
    gap_max_ms REAL,
    -- 1 only when the cloud ended the stream normally.
    complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    -- The error's parts are copied out of error_json so failures can be counted and grouped in SQL.
    error_kind TEXT,
    error_message TEXT,
    error_status INTEGER,
    error_code TEXT,
    error_retryable INTEGER,
    error_json TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    unsupported_parameters_json TEXT NOT NULL DEFAULT '[]',
    started_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER
) STRICT;

-- Also the order a run's responses are shown in, and the conflict target of the writer's upsert.
CREATE UNIQUE INDEX responses_by_run ON responses (run_id, prompt_index, target_index, repeat_index);

CREATE TABLE response_events (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    -- Sequence within the response, across attempts.
    sequence INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    -- Since the response's first attempt was started.
    elapsed_us INTEGER NOT NULL,
    -- StreamEvent::kind(), so audits can filter without parsing JSON.
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    PRIMARY KEY (response_id, sequence)
) STRICT, WITHOUT ROWID;

-- One document per prompt text, system prompt and response text. A response's document has the
-- response's id as its rowid, so a finished response replaces its document without a scan;
-- prompt and system documents take negative rowids so they can never collide with one.
CREATE VIRTUAL TABLE search_index USING fts5 (
    body,
    kind UNINDEXED,
    run_id UNINDEXED,
    prompt_index UNINDEXED,
    target UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER run_prompts_search_insert AFTER INSERT ON run_prompts BEGIN
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT (SELECT min(coalesce(min(rowid), 0), 0) - 1 FROM search_index),
        NEW.user_text, 'prompt', NEW.run_id, NEW.prompt_index, NULL
    WHERE NEW.user_text <> '';
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT (SELECT min(coalesce(min(rowid), 0), 0) - 1 FROM search_index),
        NEW.system, 'system', NEW.run_id, NEW.prompt_index, NULL
    WHERE coalesce(NEW.system, '') <> '';
END;

CREATE TRIGGER run_prompts_search_delete AFTER DELETE ON run_prompts BEGIN
    DELETE FROM search_index
    WHERE rowid < 0 AND run_id = OLD.run_id AND prompt_index = OLD.prompt_index;
END;

CREATE TRIGGER responses_search_insert AFTER INSERT ON responses WHEN NEW.text <> '' BEGIN
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    VALUES (NEW.id, NEW.text, 'response', NEW.run_id, NEW.prompt_index, NEW.target);
END;

CREATE TRIGGER responses_search_update AFTER UPDATE OF text, target ON responses BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id;
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT NEW.id, NEW.text, 'response', NEW.run_id, NEW.prompt_index, NEW.target
    WHERE NEW.text <> '';
END;

CREATE TRIGGER responses_search_delete AFTER DELETE ON responses BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id;
END;
