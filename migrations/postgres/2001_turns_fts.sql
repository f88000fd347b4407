-- Full-text search over transcripts (PostgreSQL): a generated tsvector with the
-- 'simple' configuration (no stemming, no stop words: Arabic and English index alike)
-- and a GIN index. Queries use plainto_tsquery('simple', …) on app-cleaned terms.
ALTER TABLE turns
    ADD COLUMN text_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;

-- fastupdate off: turns arrive one at a time, all day. With GIN's pending list every
-- search scans the not-yet-merged entries linearly until a vacuum merges them
-- (measured: 5.6 ms instead of 0.3 ms for 20k fresh turns); merging each insert
-- right away costs it little.
CREATE INDEX turns_text_tsv ON turns USING GIN (text_tsv) WITH (fastupdate = off);
