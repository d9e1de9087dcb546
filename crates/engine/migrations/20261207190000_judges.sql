-- LLM judge runs. A judge run is an ordinary run (the judge target its one target, the judge's
-- prompts its prompts: stored, costed and shown in history like any run) plus this row: which
-- session it judged, how, and what each of its prompts asked, so its answers read back into
-- verdicts. `judges.id` is the run's id; deleting the run or the session deletes the row (the
-- store does it, as for sessions: the row is written as the run starts).

CREATE TABLE judges (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    -- The judge target's name, as saved or given in a targets file.
    judge_target TEXT NOT NULL,
    -- 'pairwise' | 'rubric' | 'checks'.
    mode TEXT NOT NULL,
    -- The rubric's text (mode 'rubric'); NULL otherwise.
    rubric TEXT,
    -- Per prompt index, what it asked: `[{kind: "pair", case_index, first, second, swapped}, …]`
    -- (`judge::JudgeItem`).
    items_json TEXT NOT NULL,
    -- Pairs or answers left out for want of an answer to judge.
    skipped INTEGER NOT NULL,
    -- 'running' | 'completed' | 'stopped' (budget) | 'cancelled'.
    status TEXT NOT NULL,
    stop_reason TEXT,
    budget_usd REAL,
    created_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX judges_by_session ON judges (session_id, created_at_ms);
