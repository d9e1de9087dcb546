-- Search that stays fast at any history size, and runs that can be deleted:
--   run_numbers   one number per run, in the order the runs started (the newest has the highest)
--   search_index  rebuilt, same columns; a document's rowid now starts with its run's number:
--                   (number << 32) + 2 * prompt_index             a prompt's last user turn
--                   (number << 32) + 2 * prompt_index + 1         that prompt's system prompt
--                   (number << 32) + 2^31 + place in the plan      a response's text, where the
--                       place is (prompt_index * targets + target_index) * repeat + repeat_index
--   response_documents  (a view) that rowid for each response
--   runs_running  the runs still running (or left so by a process that died), which every open
--                 and every list checks: without it, each read every run
-- So walking the index from the highest rowid down meets the newest runs first and can stop once
-- a page of runs is found, whatever the query matches; and all of a run's documents are one
-- rowid range, removed in one step with the run. The old index numbered prompts from -1 down and
-- responses by their id: neither order said which run was newer, and finding a prompt's document
-- meant reading every prompt document.

DROP TRIGGER run_prompts_search_insert;
DROP TRIGGER run_prompts_search_delete;
DROP TRIGGER responses_search_insert;
DROP TRIGGER responses_search_update;
DROP TRIGGER responses_search_delete;
DROP TABLE search_index;

CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

CREATE TABLE run_numbers (
    number INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE REFERENCES runs (id) ON DELETE CASCADE
) STRICT;

INSERT INTO run_numbers (run_id) SELECT id FROM runs ORDER BY started_at_ms, id;

CREATE TRIGGER runs_number AFTER INSERT ON runs BEGIN
    INSERT INTO run_numbers (run_id) VALUES (NEW.id);
END;

CREATE VIRTUAL TABLE search_index USING fts5 (
    body,
    kind UNINDEXED,
    run_id UNINDEXED,
    prompt_index UNINDEXED,
    target UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Each fill walks the runs in number order (CROSS JOIN keeps `run_numbers` the outer loop), so
-- FTS5 receives rowids in ascending order: out of order, it would flush a segment at every step
-- back, and sorting the documents first would sort all their text.
INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
SELECT (numbers.number << 32) + 2 * prompts.prompt_index, prompts.user_text, 'prompt', prompts.run_id,
    prompts.prompt_index, NULL
FROM run_numbers AS numbers CROSS JOIN run_prompts AS prompts ON prompts.run_id = numbers.run_id
WHERE prompts.user_text <> ''
ORDER BY numbers.number, prompts.prompt_index;

INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
SELECT (numbers.number << 32) + 2 * prompts.prompt_index + 1, prompts.system, 'system', prompts.run_id,
    prompts.prompt_index, NULL
FROM run_numbers AS numbers CROSS JOIN run_prompts AS prompts ON prompts.run_id = numbers.run_id
WHERE coalesce(prompts.system, '') <> ''
ORDER BY numbers.number, prompts.prompt_index;

-- The rowid of each response's document (whether it has text or not).
CREATE VIEW response_documents AS
SELECT responses.id AS response_id,
    (numbers.number << 32) + 2147483648
        + (responses.prompt_index * json_array_length(runs.targets_json) + responses.target_index) * runs.repeat
        + responses.repeat_index AS document
FROM responses
    JOIN run_numbers AS numbers ON numbers.run_id = responses.run_id
    JOIN runs ON runs.id = responses.run_id;

INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
SELECT documents.document, responses.text, 'response', responses.run_id, responses.prompt_index, responses.target
FROM run_numbers AS numbers
    CROSS JOIN responses ON responses.run_id = numbers.run_id
    CROSS JOIN response_documents AS documents ON documents.response_id = responses.id
WHERE responses.text <> ''
ORDER BY numbers.number, responses.prompt_index, responses.target_index, responses.repeat_index;

-- Before the run's row goes, and its number with it (the cascade then finds nothing to remove).
CREATE TRIGGER runs_search_delete BEFORE DELETE ON runs BEGIN
    DELETE FROM search_index
    WHERE rowid BETWEEN (SELECT number << 32 FROM run_numbers WHERE run_id = OLD.id)
        AND (SELECT (number << 32) + 4294967295 FROM run_numbers WHERE run_id = OLD.id);
END;

CREATE TRIGGER run_prompts_search_insert AFTER INSERT ON run_prompts BEGIN
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT (number << 32) + 2 * NEW.prompt_index, NEW.user_text, 'prompt', NEW.run_id, NEW.prompt_index, NULL
    FROM run_numbers WHERE run_id = NEW.run_id AND NEW.user_text <> '';
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT (number << 32) + 2 * NEW.prompt_index + 1, NEW.system, 'system', NEW.run_id, NEW.prompt_index, NULL
    FROM run_numbers WHERE run_id = NEW.run_id AND coalesce(NEW.system, '') <> '';
END;

CREATE TRIGGER run_prompts_search_delete AFTER DELETE ON run_prompts BEGIN
    DELETE FROM search_index
    WHERE rowid = (SELECT (number << 32) + 2 * OLD.prompt_index FROM run_numbers WHERE run_id = OLD.run_id);
    DELETE FROM search_index
    WHERE rowid = (SELECT (number << 32) + 2 * OLD.prompt_index + 1 FROM run_numbers WHERE run_id = OLD.run_id);
END;

CREATE TRIGGER responses_search_insert AFTER INSERT ON responses WHEN NEW.text <> '' BEGIN
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT document, NEW.text, 'response', NEW.run_id, NEW.prompt_index, NEW.target
    FROM response_documents WHERE response_id = NEW.id;
END;

-- A response's key never changes (the writer upserts by it), so neither does its document's rowid.
CREATE TRIGGER responses_search_update AFTER UPDATE OF text, target ON responses BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT document FROM response_documents WHERE response_id = NEW.id);
    INSERT INTO search_index (rowid, body, kind, run_id, prompt_index, target)
    SELECT document, NEW.text, 'response', NEW.run_id, NEW.prompt_index, NEW.target
    FROM response_documents WHERE response_id = NEW.id AND NEW.text <> '';
END;

-- Before: afterwards the view no longer finds the response.
CREATE TRIGGER responses_search_delete BEFORE DELETE ON responses BEGIN
    DELETE FROM search_index WHERE rowid = (SELECT document FROM response_documents WHERE response_id = OLD.id);
END;
