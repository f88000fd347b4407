-- Full-text search over transcripts (SQLite): an FTS5 index over turns.text whose
-- content stays in turns (external content), kept in step by triggers. unicode61
-- tokenizes Arabic and English alike and folds case; the app quotes every query term.
--
-- The index is keyed by turns' implicit rowid. SQLite keeps rowids across normal
-- use, but a manual VACUUM may renumber them: after one, run
--   INSERT INTO turns_fts(turns_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE turns_fts USING fts5(
    text,
    content = 'turns',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER turns_fts_after_insert AFTER INSERT ON turns BEGIN
    INSERT INTO turns_fts (rowid, text) VALUES (new.rowid, new.text);
END;

CREATE TRIGGER turns_fts_after_delete AFTER DELETE ON turns BEGIN
    INSERT INTO turns_fts (turns_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;

CREATE TRIGGER turns_fts_after_update AFTER UPDATE OF text ON turns BEGIN
    INSERT INTO turns_fts (turns_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO turns_fts (rowid, text) VALUES (new.rowid, new.text);
END;

-- Index whatever turns already exist.
INSERT INTO turns_fts (turns_fts) VALUES ('rebuild');
