-- Blind panels over a session's answers. A panel belongs to its session and goes with it. Its
-- items say which answers it compares (a target's answer to a test, by target and repeat); its
-- packets say what each rater sees, in which order, under which labels; the ratings are what
-- came back, in the items' terms (which answer won, which one was shown first).

CREATE TABLE panels (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- 'pairwise' | 'rubric'.
    kind TEXT NOT NULL,
    -- `[{name, description}]`; empty for pairwise.
    criteria_json TEXT NOT NULL,
    -- The compared targets, as indices into the session's targets.
    target_indices_json TEXT NOT NULL,
    -- The seed of the item choice, the packets' orders and positions.
    seed INTEGER NOT NULL,
    title TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX panels_by_session ON panels (session_id, created_at_ms);

CREATE TABLE panel_items (
    panel_id TEXT NOT NULL REFERENCES panels (id) ON DELETE CASCADE,
    item_index INTEGER NOT NULL,
    -- The suite case (the session's prompt index).
    case_index INTEGER NOT NULL,
    -- `[{target_index, repeat_index}]`, in target order.
    answers_json TEXT NOT NULL,
    PRIMARY KEY (panel_id, item_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE panel_packets (
    id TEXT PRIMARY KEY NOT NULL,
    panel_id TEXT NOT NULL REFERENCES panels (id) ON DELETE CASCADE,
    rater_index INTEGER NOT NULL,
    rater TEXT NOT NULL,
    -- The key of the packet's ratings-file signature (64 hex digits). Not a credential: it only
    -- binds a ratings file to the packet it came from.
    token TEXT NOT NULL,
    -- `[{item, order}]` in the packet's order; `order[k]` is the answer shown with label k.
    shown_json TEXT NOT NULL,
    UNIQUE (panel_id, rater)
) STRICT, WITHOUT ROWID;

CREATE TABLE panel_ratings (
    packet_id TEXT NOT NULL REFERENCES panel_packets (id) ON DELETE CASCADE,
    item_index INTEGER NOT NULL,
    -- Pairwise: the index into the item's answers that won; NULL for a tie (and for rubric).
    winner INTEGER,
    -- The index into the item's answers shown first (A, or 1).
    first_shown INTEGER NOT NULL,
    -- Rubric: `[[answer_index, criterion, score], ...]`; NULL for pairwise.
    scores_json TEXT,
    reason TEXT,
    -- When the rater gave it, as the packet recorded it (ISO 8601), if it did.
    rated_at TEXT,
    imported_at_ms INTEGER NOT NULL,
    PRIMARY KEY (packet_id, item_index)
) STRICT, WITHOUT ROWID;
