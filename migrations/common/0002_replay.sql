-- Replay and training (portable between SQLite and PostgreSQL).
--
-- Where each line is in the call's audio: milliseconds since the call started, on
-- the same clock as the call's recording (NULL for typed lines and for turns stored
-- before this existed).
ALTER TABLE turns ADD COLUMN audio_start_ms BIGINT;
ALTER TABLE turns ADD COLUMN audio_end_ms BIGINT;

-- The call's recording: a stereo FLAC file (customer left, agent right) named
-- relative to the recordings folder of the machine that hosted the call.
ALTER TABLE calls ADD COLUMN recording TEXT;
ALTER TABLE calls ADD COLUMN recording_ms BIGINT;
ALTER TABLE calls ADD COLUMN recording_bytes BIGINT;
-- Milliseconds of the recording blanked because a card number or IBAN was said.
ALTER TABLE calls ADD COLUMN recording_blanked_ms BIGINT;
CREATE INDEX calls_started ON calls (started_at);

-- The call's events as they happened (final lines only, no partials), with card
-- numbers already masked: what a replay plays back and an export writes out.
CREATE TABLE call_events (
    call_id TEXT NOT NULL REFERENCES calls (id),
    seq     BIGINT NOT NULL,
    t_ms    BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

-- A trainer's comment at a moment of a call.
CREATE TABLE annotations (
    id         TEXT PRIMARY KEY,
    call_id    TEXT NOT NULL REFERENCES calls (id),
    at_ms      BIGINT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX annotations_call_at ON annotations (call_id, at_ms);

-- A trainer's scorecard of a call: one score (0..=5) per criterion, with the persona
-- that handled the call so scores can be listed per persona.
CREATE TABLE call_scores (
    call_id    TEXT NOT NULL REFERENCES calls (id),
    criterion  TEXT NOT NULL,
    score      BIGINT NOT NULL CHECK (score BETWEEN 0 AND 5),
    reviewer   TEXT NOT NULL,
    note       TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (call_id, criterion)
);
