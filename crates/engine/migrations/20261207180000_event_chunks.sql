-- Stream events stored a response's batch at a time. One row per event cost the writer a B-tree
-- insert per event (a thousand streams interleave, so each lands on another page); one row per
-- response and write batch (a few to a few hundred events) keeps every event and costs one.
--
-- `events_json` is a JSON array of events, each `[sequence, attempt, elapsed_us, kind, payload]`
-- in sequence order; `first_sequence` is its first event's. The `response_events` view shows the
-- events a row each, with the columns the table had, so queries written for it still read them.

CREATE TABLE response_event_chunks (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    first_sequence INTEGER NOT NULL,
    events_json TEXT NOT NULL,
    PRIMARY KEY (response_id, first_sequence)
) STRICT, WITHOUT ROWID;

INSERT INTO response_event_chunks (response_id, first_sequence, events_json)
SELECT response_id,
       min(sequence),
       json_group_array(json_array(sequence, attempt, elapsed_us, kind, json(payload_json)) ORDER BY sequence)
FROM response_events
GROUP BY response_id;

DROP TABLE response_events;

CREATE VIEW response_events (response_id, sequence, attempt, elapsed_us, kind, payload_json) AS
SELECT chunk.response_id,
       event.value ->> 0,
       event.value ->> 1,
       event.value ->> 2,
       event.value ->> 3,
       event.value -> 4
FROM response_event_chunks AS chunk, json_each(chunk.events_json) AS event;
