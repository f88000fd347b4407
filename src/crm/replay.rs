//! What trainers need of past calls: the stored event stream, recordings, search
//! over call history, annotations and scorecards, and erasing a customer.

use serde::{Deserialize, Serialize};

use super::calls::CALL_COLUMNS;
use super::error::{db_err, fk_or};
use super::search::{fts5_match, query_terms};
use super::store::Pool;
use super::{check_opt, check_required, check_text, new_id, now_ms, CallRow, CrmError, CrmStore};

/// A trainer's comment may be this long (characters).
pub const MAX_ANNOTATION_CHARS: usize = 4000;
/// Scorecard scores run from 0 (not done) to 5 (exemplary).
pub const MAX_SCORE: i64 = 5;

/// One event of a call as stored: `body` is the `CallEvent`'s JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub call_id: String,
    pub seq: i64,
    pub t_ms: i64,
    pub kind: String,
    pub body: String,
}

/// A trainer's time-anchored comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct Annotation {
    pub id: String,
    pub call_id: String,
    /// Where in the call (ms since it started).
    #[ts(type = "number")]
    pub at_ms: i64,
    pub author: String,
    pub body: String,
    #[ts(type = "number")]
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewAnnotation {
    pub call_id: String,
    #[ts(type = "number")]
    pub at_ms: i64,
    pub author: String,
    pub body: String,
}

/// One criterion of a call's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct CallScore {
    pub call_id: String,
    pub criterion: String,
    #[ts(type = "number")]
    pub score: i64,
    pub reviewer: String,
    pub note: Option<String>,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// Average scores of one persona on one criterion, over the calls it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct PersonaScore {
    pub persona: String,
    pub criterion: String,
    pub average: f64,
    #[ts(type = "number")]
    pub calls: i64,
}

/// What to look for in call history. Every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct CallFilter {
    /// Part of the customer's name or phone number, or their id.
    #[ts(optional)]
    pub customer: Option<String>,
    /// Calls started at or after (epoch ms).
    #[ts(optional, type = "number")]
    pub from_ms: Option<i64>,
    /// Calls started before (epoch ms).
    #[ts(optional, type = "number")]
    pub to_ms: Option<i64>,
    /// A persona that spoke in the call ("reception", "sales", "support").
    #[ts(optional)]
    pub persona: Option<String>,
    /// How the call ended ("customer_hangup", "supervisor", …).
    #[ts(optional)]
    pub outcome: Option<String>,
    /// Calls whose sentiment fell below this (−1..1).
    #[ts(optional)]
    pub sentiment_below: Option<f64>,
    /// Words said in the call (all must occur; Arabic or English).
    #[ts(optional)]
    pub keyword: Option<String>,
    /// Calls a supervisor acted in (true) or never touched (false).
    #[ts(optional)]
    pub intervened: Option<bool>,
    /// Only calls with (true) or without (false) a recording.
    #[ts(optional)]
    pub recorded: Option<bool>,
    /// At most this many calls (default 100, at most 1000).
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A past call in the history list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct PastCall {
    pub id: String,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub transport: String,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub final_persona: Option<String>,
    pub summary: Option<String>,
    pub sentiment_avg: Option<f64>,
    pub sentiment_min: Option<f64>,
    pub recording: Option<String>,
    #[ts(type = "number | null")]
    pub recording_ms: Option<i64>,
    /// How much of the recording was blanked over card numbers and IBANs.
    #[ts(type = "number | null")]
    pub recording_blanked_ms: Option<i64>,
    #[ts(type = "number")]
    pub turns: i64,
    /// Supervisor actions taken in the call.
    #[ts(type = "number")]
    pub interventions: i64,
}

/// A recording whose retention has run out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordingRef {
    pub call_id: String,
    pub recording: String,
}

enum Param {
    Text(String),
    Int(i64),
    Float(f64),
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::Text(s) => q.bind(s.clone()),
                Param::Int(i) => q.bind(*i),
                Param::Float(f) => q.bind(*f),
            };
        }
        q
    }};
}

/// `%` and `_` in a user's text are literal in LIKE.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl CrmStore {
    /// Stores a call's events (each `(call_id, seq)` once: replays are no-ops).
    pub async fn insert_events(&self, events: &[StoredEvent]) -> Result<(), CrmError> {
        if events.is_empty() {
            return Ok(());
        }
        for e in events {
            check_required("call_id", &e.call_id)?;
            check_text("event", &e.body)?;
        }
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            for e in events {
                sqlx::query(
                    "INSERT INTO call_events (call_id, seq, t_ms, kind, body) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (call_id, seq) DO NOTHING",
                )
                .bind(&e.call_id)
                .bind(e.seq)
                .bind(e.t_ms)
                .bind(&e.kind)
                .bind(&e.body)
                .execute(&mut *tx)
                .await
                .map_err(|err| fk_or(err, "call", &e.call_id))?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    /// A call's stored events, in order.
    pub async fn events_of_call(&self, call_id: &str) -> Result<Vec<StoredEvent>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, StoredEvent>(
            "SELECT call_id, seq, t_ms, kind, body FROM call_events WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Points the call at its recording (file name in the recordings folder).
    pub async fn set_recording(
        &self,
        call_id: &str,
        file: &str,
        duration_ms: i64,
        bytes: i64,
        blanked_ms: i64,
    ) -> Result<(), CrmError> {
        check_required("recording", file)?;
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE calls SET recording = $2, recording_ms = $3, recording_bytes = $4, recording_blanked_ms = $5 WHERE id = $1",
        )
        .bind(call_id)
        .bind(file)
        .bind(duration_ms)
        .bind(bytes)
        .bind(blanked_ms)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        .map_err(db_err))?;
        if done == 0 {
            return Err(CrmError::NotFound {
                what: "call",
                id: call_id.to_string(),
            });
        }
        Ok(())
    }

    /// Forgets a call's recording (its file has been deleted).
    pub async fn clear_recording(&self, call_id: &str) -> Result<(), CrmError> {
        with_pool!(self, p => sqlx::query(
            "UPDATE calls SET recording = NULL, recording_ms = NULL, recording_bytes = NULL, recording_blanked_ms = NULL WHERE id = $1",
        )
        .bind(call_id)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(db_err))
    }

    /// Recordings of calls started before `cutoff_ms` (epoch ms).
    pub async fn recordings_before(&self, cutoff_ms: i64) -> Result<Vec<RecordingRef>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, RecordingRef>(
            "SELECT id AS call_id, recording FROM calls WHERE recording IS NOT NULL AND started_at < $1 ORDER BY started_at",
        )
        .bind(cutoff_ms)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Past calls matching `filter`, newest first.
    pub async fn find_calls(&self, filter: &CallFilter) -> Result<Vec<PastCall>, CrmError> {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        let next = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if let Some(c) = filter
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            check_text("customer", c)?;
            let like = next(&mut params, Param::Text(like_pattern(&c.to_lowercase())));
            let id = next(&mut params, Param::Text(c.to_string()));
            conds.push(format!(
                "(LOWER(cu.name) LIKE {like} ESCAPE '\\' OR cu.phone LIKE {like} ESCAPE '\\' OR c.customer_id = {id})"
            ));
        }
        if let Some(from) = filter.from_ms {
            conds.push(format!(
                "c.started_at >= {}",
                next(&mut params, Param::Int(from))
            ));
        }
        if let Some(to) = filter.to_ms {
            conds.push(format!(
                "c.started_at < {}",
                next(&mut params, Param::Int(to))
            ));
        }
        if let Some(persona) = filter.persona.as_deref().filter(|p| !p.is_empty()) {
            let p = next(&mut params, Param::Text(persona.to_string()));
            conds.push(format!(
                "(c.final_persona = {p} OR EXISTS (SELECT 1 FROM turns tp WHERE tp.call_id = c.id AND tp.persona = {p}))"
            ));
        }
        if let Some(outcome) = filter.outcome.as_deref().filter(|o| !o.is_empty()) {
            conds.push(format!(
                "c.outcome = {}",
                next(&mut params, Param::Text(outcome.to_string()))
            ));
        }
        if let Some(below) = filter.sentiment_below.filter(|b| b.is_finite()) {
            conds.push(format!(
                "c.sentiment_min < {}",
                next(&mut params, Param::Float(below))
            ));
        }
        match filter.intervened {
            Some(true) => conds.push(
                "EXISTS (SELECT 1 FROM supervisor_actions sa WHERE sa.call_id = c.id)".into(),
            ),
            Some(false) => conds.push(
                "NOT EXISTS (SELECT 1 FROM supervisor_actions sa WHERE sa.call_id = c.id)".into(),
            ),
            None => {}
        }
        match filter.recorded {
            Some(true) => conds.push("c.recording IS NOT NULL".into()),
            Some(false) => conds.push("c.recording IS NULL".into()),
            None => {}
        }
        if let Some(k) = filter.keyword.as_deref() {
            let terms = query_terms(k);
            if terms.is_empty() {
                // Nothing searchable (only punctuation): no call says it.
                return Ok(Vec::new());
            }
            let cond = match self.pool() {
                Pool::Sqlite(_) => format!(
                    "c.id IN (SELECT tk.call_id FROM turns_fts JOIN turns tk ON tk.rowid = turns_fts.rowid WHERE turns_fts MATCH {})",
                    next(&mut params, Param::Text(fts5_match(&terms)))
                ),
                Pool::Postgres(_) => format!(
                    "c.id IN (SELECT tk.call_id FROM turns tk WHERE tk.text_tsv @@ plainto_tsquery('simple', {}))",
                    next(&mut params, Param::Text(terms.join(" ")))
                ),
            };
            conds.push(cond);
        }
        let limit = i64::from(filter.limit.unwrap_or(100).clamp(1, 1000));
        self.past_calls(conds, params, limit).await
    }

    /// One past call, as the history list shows it.
    pub async fn past_call(&self, id: &str) -> Result<Option<PastCall>, CrmError> {
        let calls = self
            .past_calls(
                vec!["c.id = $1".into()],
                vec![Param::Text(id.to_string())],
                1,
            )
            .await?;
        Ok(calls.into_iter().next())
    }

    async fn past_calls(
        &self,
        conds: Vec<String>,
        mut params: Vec<Param>,
        limit: i64,
    ) -> Result<Vec<PastCall>, CrmError> {
        params.push(Param::Int(limit));
        let limit = format!("${}", params.len());
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "SELECT c.id, c.customer_id, cu.name AS customer_name, cu.phone AS customer_phone, c.transport, \
               c.started_at, c.ended_at, c.outcome, c.final_persona, c.summary, c.sentiment_avg, c.sentiment_min, \
               c.recording, c.recording_ms, c.recording_blanked_ms, \
               (SELECT COUNT(*) FROM turns tc WHERE tc.call_id = c.id) AS turns, \
               (SELECT COUNT(*) FROM supervisor_actions sc WHERE sc.call_id = c.id) AS interventions \
             FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id \
             {where_} ORDER BY c.started_at DESC, c.id DESC LIMIT {limit}"
        );
        with_pool!(self, p => bind_all!(sqlx::query_as::<_, PastCall>(&sql), &params)
            .fetch_all(p)
            .await
            .map_err(db_err))
    }

    /// Adds a trainer's comment at `at_ms` of a call.
    pub async fn add_annotation(&self, a: &NewAnnotation) -> Result<Annotation, CrmError> {
        check_required("author", &a.author)?;
        check_required("comment", &a.body)?;
        if a.body.chars().count() > MAX_ANNOTATION_CHARS {
            return Err(CrmError::InvalidInput(format!(
                "a comment may be {MAX_ANNOTATION_CHARS} characters at most"
            )));
        }
        if a.at_ms < 0 {
            return Err(CrmError::InvalidInput(
                "a comment's time must not be negative".into(),
            ));
        }
        let row = Annotation {
            id: new_id(),
            call_id: a.call_id.clone(),
            at_ms: a.at_ms,
            author: a.author.trim().to_string(),
            body: a.body.trim().to_string(),
            created_at: now_ms(),
        };
        with_pool!(self, p => sqlx::query(
            "INSERT INTO annotations (id, call_id, at_ms, author, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.call_id)
        .bind(row.at_ms)
        .bind(&row.author)
        .bind(&row.body)
        .bind(row.created_at)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(|e| fk_or(e, "call", &a.call_id)))?;
        Ok(row)
    }

    /// A call's comments in call order.
    pub async fn annotations_of_call(&self, call_id: &str) -> Result<Vec<Annotation>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, Annotation>(
            "SELECT id, call_id, at_ms, author, body, created_at FROM annotations WHERE call_id = $1 ORDER BY at_ms, created_at",
        )
        .bind(call_id)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Comments on calls a persona ended, newest first.
    pub async fn annotations_of_persona(
        &self,
        persona: &str,
        limit: u32,
    ) -> Result<Vec<Annotation>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, Annotation>(
            "SELECT a.id, a.call_id, a.at_ms, a.author, a.body, a.created_at FROM annotations a \
             JOIN calls c ON c.id = a.call_id WHERE c.final_persona = $1 ORDER BY a.created_at DESC LIMIT $2",
        )
        .bind(persona)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    pub async fn delete_annotation(&self, id: &str) -> Result<(), CrmError> {
        let done = with_pool!(self, p => sqlx::query("DELETE FROM annotations WHERE id = $1")
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err))?;
        if done == 0 {
            return Err(CrmError::NotFound {
                what: "comment",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Sets one criterion of a call's scorecard (replacing an earlier score).
    pub async fn set_score(
        &self,
        call_id: &str,
        criterion: &str,
        score: i64,
        reviewer: &str,
        note: Option<&str>,
    ) -> Result<CallScore, CrmError> {
        check_required("criterion", criterion)?;
        check_required("reviewer", reviewer)?;
        check_opt("note", note)?;
        if !(0..=MAX_SCORE).contains(&score) {
            return Err(CrmError::InvalidInput(format!(
                "a score runs from 0 to {MAX_SCORE}, not {score}"
            )));
        }
        let row = CallScore {
            call_id: call_id.to_string(),
            criterion: criterion.trim().to_string(),
            score,
            reviewer: reviewer.trim().to_string(),
            note: note
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            updated_at: now_ms(),
        };
        with_pool!(self, p => sqlx::query(
            "INSERT INTO call_scores (call_id, criterion, score, reviewer, note, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (call_id, criterion) DO UPDATE SET score = excluded.score, reviewer = excluded.reviewer, \
               note = excluded.note, updated_at = excluded.updated_at",
        )
        .bind(&row.call_id)
        .bind(&row.criterion)
        .bind(row.score)
        .bind(&row.reviewer)
        .bind(&row.note)
        .bind(row.updated_at)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(|e| fk_or(e, "call", call_id)))?;
        Ok(row)
    }

    pub async fn scores_of_call(&self, call_id: &str) -> Result<Vec<CallScore>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, CallScore>(
            "SELECT call_id, criterion, score, reviewer, note, updated_at FROM call_scores WHERE call_id = $1 ORDER BY criterion",
        )
        .bind(call_id)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Average score per persona (the one that ended the call) and criterion.
    pub async fn scores_by_persona(&self) -> Result<Vec<PersonaScore>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, PersonaScore>(
            "SELECT COALESCE(c.final_persona, '') AS persona, s.criterion, \
               CAST(AVG(CAST(s.score AS DOUBLE PRECISION)) AS DOUBLE PRECISION) AS average, COUNT(*) AS calls \
             FROM call_scores s JOIN calls c ON c.id = s.call_id \
             GROUP BY COALESCE(c.final_persona, ''), s.criterion ORDER BY persona, s.criterion",
        )
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Erases a customer and everything of theirs: calls with their lines, events,
    /// comments and scores, tickets with their history. Returns the recordings the
    /// caller must delete (files are not the database's to remove).
    pub async fn erase_customer(&self, customer_id: &str) -> Result<Vec<String>, CrmError> {
        let calls = "SELECT id FROM calls WHERE customer_id = $1";
        let deletes = [
            format!("DELETE FROM call_scores WHERE call_id IN ({calls})"),
            format!("DELETE FROM annotations WHERE call_id IN ({calls})"),
            format!("DELETE FROM call_events WHERE call_id IN ({calls})"),
            format!("DELETE FROM turns WHERE call_id IN ({calls})"),
            format!("DELETE FROM supervisor_actions WHERE call_id IN ({calls})"),
            "DELETE FROM ticket_history WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_id = $1)".to_string(),
            "DELETE FROM tickets WHERE customer_id = $1".to_string(),
            "DELETE FROM calls WHERE customer_id = $1".to_string(),
        ];
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let recordings: Vec<(String,)> = sqlx::query_as(
                "SELECT recording FROM calls WHERE customer_id = $1 AND recording IS NOT NULL",
            )
            .bind(customer_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            // Tickets of other customers opened on these calls keep their ticket.
            sqlx::query(&format!("UPDATE tickets SET call_id = NULL WHERE call_id IN ({calls})"))
                .bind(customer_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            for sql in &deletes {
                sqlx::query(sql).bind(customer_id).execute(&mut *tx).await.map_err(db_err)?;
            }
            let gone = sqlx::query("DELETE FROM customers WHERE id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            if gone.rows_affected() == 0 {
                return Err(CrmError::NotFound { what: "customer", id: customer_id.to_string() });
            }
            tx.commit().await.map_err(db_err)?;
            Ok(recordings.into_iter().map(|(r,)| r).collect())
        })
    }

    /// Calls with a recording, for the retention sweep's accounting.
    pub async fn recorded_calls(&self) -> Result<Vec<CallRow>, CrmError> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE recording IS NOT NULL ORDER BY started_at"
        );
        with_pool!(self, p => sqlx::query_as::<_, CallRow>(&sql).fetch_all(p).await.map_err(db_err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_keep_wildcards_literal() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(like_pattern("أحمد"), "%أحمد%");
    }
}
