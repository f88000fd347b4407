//! Full-text search over transcripts. The user's query never reaches a query parser
//! as syntax: it is cut into words (letters and digits, any script), at most
//! [`MAX_TERMS`], and every word is passed as a quoted FTS5 string on SQLite and
//! through `plainto_tsquery('simple', …)` on PostgreSQL. All words must match; case
//! is ignored; results are ranked by relevance, then newest first.

use super::error::db_err;
use super::store::Pool;
use super::{limit_param, CrmError, CrmStore, TranscriptHit};

const MAX_TERMS: usize = 16;
const MAX_TERM_CHARS: usize = 64;

/// The words of a query: runs of letters, digits and combining marks.
pub(crate) fn query_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_TERM_CHARS).collect())
        .take(MAX_TERMS)
        .collect()
}

/// An FTS5 MATCH expression: each word a string literal (`"` doubled), implicitly
/// ANDed. Operators like NEAR, AND, `*` or column filters in the input stay plain text.
pub(crate) fn fts5_match(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl CrmStore {
    /// Turns whose text contains every word of `query` (Arabic or English), best
    /// matches first. A query with no words finds nothing.
    pub async fn search_transcripts(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<TranscriptHit>, CrmError> {
        let terms = query_terms(query);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        match self.pool() {
            Pool::Sqlite(p) => sqlx::query_as::<_, TranscriptHit>(
                "SELECT t.call_id, t.idx, t.speaker, t.text, t.lang, t.started_at \
                 FROM turns_fts JOIN turns t ON t.rowid = turns_fts.rowid \
                 WHERE turns_fts MATCH $1 \
                 ORDER BY turns_fts.rank, t.started_at DESC, t.call_id, t.idx LIMIT $2",
            )
            .bind(fts5_match(&terms))
            .bind(limit_param(limit))
            .fetch_all(p)
            .await
            .map_err(db_err),
            Pool::Postgres(p) => sqlx::query_as::<_, TranscriptHit>(
                "SELECT call_id, idx, speaker, text, lang, started_at \
                 FROM turns, plainto_tsquery('simple', $1) AS q \
                 WHERE text_tsv @@ q \
                 ORDER BY ts_rank(text_tsv, q) DESC, started_at DESC, call_id, idx LIMIT $2",
            )
            .bind(terms.join(" "))
            .bind(limit_param(limit))
            .fetch_all(p)
            .await
            .map_err(db_err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_queries_become_plain_words() {
        assert_eq!(
            query_terms("\"); DROP TABLE turns; --"),
            vec!["DROP", "TABLE", "turns"]
        );
        assert_eq!(
            fts5_match(&query_terms("NEAR(router modem)")),
            "\"NEAR\" \"router\" \"modem\""
        );
        assert!(query_terms("* ^ : () \" -- ;").is_empty());
        assert_eq!(query_terms("الراوتر، خربان!"), vec!["الراوتر", "خربان"]);
        assert_eq!(fts5_match(&["a\"b".to_string()]), "\"a\"\"b\"");
    }

    #[test]
    fn long_queries_are_capped() {
        let q = "word ".repeat(100);
        assert_eq!(query_terms(&q).len(), MAX_TERMS);
        assert_eq!(
            query_terms(&"x".repeat(500))[0].chars().count(),
            MAX_TERM_CHARS
        );
    }
}
