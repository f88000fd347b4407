-- The CRM schema, portable between SQLite and PostgreSQL: app-generated TEXT ids
-- (uuid v4), BIGINT epoch-millisecond timestamps, BOOLEAN, DOUBLE PRECISION, and no
-- AUTOINCREMENT/IDENTITY. Full-text search is dialect-specific and lives in
-- migrations/sqlite and migrations/postgres.

CREATE TABLE customers (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    phone            TEXT NOT NULL UNIQUE,          -- E.164, normalized by the app
    email            TEXT,
    tier             TEXT NOT NULL DEFAULT 'standard',
    vip              BOOLEAN NOT NULL DEFAULT FALSE,
    language         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_interaction BIGINT,
    total_calls      BIGINT NOT NULL DEFAULT 0,
    total_tickets    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE calls (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT REFERENCES customers (id),
    transport     TEXT NOT NULL,
    room          TEXT,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    outcome       TEXT,
    final_persona TEXT,
    summary       TEXT,
    sentiment_avg DOUBLE PRECISION,
    sentiment_min DOUBLE PRECISION
);
CREATE INDEX calls_customer_started ON calls (customer_id, started_at);

CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    subject     TEXT NOT NULL,
    description TEXT NOT NULL,
    department  TEXT NOT NULL,
    priority    TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status      TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'closed')),
    assignee    TEXT,
    call_id     TEXT REFERENCES calls (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX tickets_status_created ON tickets (status, created_at);
CREATE INDEX tickets_customer_created ON tickets (customer_id, created_at);
CREATE INDEX tickets_unassigned_created ON tickets (created_at) WHERE assignee IS NULL;
CREATE INDEX tickets_call ON tickets (call_id);

-- Every change of a ticket's status or assignee (and its creation). seq orders the
-- changes of one ticket (several can share a millisecond); it is assigned inside the
-- transaction that changes the ticket, while that ticket's row is locked.
CREATE TABLE ticket_history (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    seq        BIGINT NOT NULL,
    field      TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    changed_by TEXT NOT NULL,
    reason     TEXT,
    at         BIGINT NOT NULL,
    UNIQUE (ticket_id, seq)
);

-- One row per finished utterance; (call_id, idx) makes replays no-ops.
CREATE TABLE turns (
    call_id            TEXT NOT NULL REFERENCES calls (id),
    idx                BIGINT NOT NULL,
    speaker            TEXT NOT NULL,
    text               TEXT NOT NULL,
    lang               TEXT NOT NULL,
    sentiment_score    DOUBLE PRECISION,
    sentiment_label    TEXT,
    persona            TEXT,
    interrupted        BOOLEAN NOT NULL DEFAULT FALSE,
    eou_ms             DOUBLE PRECISION,
    stt_ms             DOUBLE PRECISION,
    llm_first_token_ms DOUBLE PRECISION,
    tts_first_audio_ms DOUBLE PRECISION,
    total_ms           DOUBLE PRECISION,
    started_at         BIGINT NOT NULL,
    ended_at           BIGINT NOT NULL,
    PRIMARY KEY (call_id, idx)
);

CREATE TABLE supervisor_actions (
    id      TEXT PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls (id),
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT,
    at      BIGINT NOT NULL
);
CREATE INDEX supervisor_actions_call_at ON supervisor_actions (call_id, at);
