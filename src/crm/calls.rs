//! Calls, their turns and supervisor actions: the engine's writes. Each one can be
//! replayed (after an outage, from the engine's outbox) without effect: rows are
//! inserted only if absent, and the customer's counters move only when the call row
//! is really inserted, in the same transaction.

use super::error::{db_err, fk_or};
use super::{
    check_opt, check_required, check_text, limit_param, CallEnd, CallRow, CrmError, CrmStore,
    NewCall, SupervisorActionRow, TurnRow,
};

pub(super) const CALL_COLUMNS: &str =
    "id, customer_id, transport, room, started_at, ended_at, outcome, final_persona, summary, \
     sentiment_avg, sentiment_min, recording, recording_ms, recording_bytes, recording_blanked_ms";
const TURN_COLUMNS: &str =
    "call_id, idx, speaker, text, lang, sentiment_score, sentiment_label, persona, interrupted, \
     eou_ms, stt_ms, llm_first_token_ms, tts_first_audio_ms, total_ms, started_at, ended_at, \
     audio_start_ms, audio_end_ms";

/// Moves `last_interaction` forward to $2, never back (replays may come late).
const TOUCH_CUSTOMER: &str =
    "last_interaction = CASE WHEN last_interaction IS NULL OR last_interaction < $2 THEN $2 ELSE last_interaction END";

impl CrmStore {
    /// Records a call's start. A call whose id exists already is left as it is; only
    /// a real insert bumps the customer's `total_calls` and `last_interaction`.
    pub async fn start_call(&self, c: &NewCall) -> Result<(), CrmError> {
        check_required("call id", &c.id)?;
        check_required("transport", &c.transport)?;
        check_opt("customer_id", c.customer_id.as_deref())?;
        check_opt("room", c.room.as_deref())?;
        let bump = format!(
            "UPDATE customers SET total_calls = total_calls + 1, {TOUCH_CUSTOMER} WHERE id = $1"
        );
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let inserted = sqlx::query(
                "INSERT INTO calls (id, customer_id, transport, room, started_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&c.id)
            .bind(&c.customer_id)
            .bind(&c.transport)
            .bind(&c.room)
            .bind(c.started_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| fk_or(e, "customer", c.customer_id.as_deref().unwrap_or("")))?
            .rows_affected()
                == 1;
            if let (true, Some(customer_id)) = (inserted, &c.customer_id) {
                sqlx::query(&bump).bind(customer_id).bind(c.started_at).execute(&mut *tx).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    /// Records a call's end; applying the same end twice gives the same row. Moves the
    /// customer's `last_interaction` to the end time.
    pub async fn end_call(&self, e: &CallEnd) -> Result<(), CrmError> {
        check_text("outcome", &e.outcome)?;
        check_text("final_persona", &e.final_persona)?;
        check_text("summary", &e.summary)?;
        let touch = format!(
            "UPDATE customers SET {TOUCH_CUSTOMER} WHERE id = (SELECT customer_id FROM calls WHERE id = $1)"
        );
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let updated = sqlx::query(
                "UPDATE calls SET ended_at = $2, outcome = $3, final_persona = $4, summary = $5, \
                   sentiment_avg = $6, sentiment_min = $7 WHERE id = $1",
            )
            .bind(&e.id)
            .bind(e.ended_at)
            .bind(&e.outcome)
            .bind(&e.final_persona)
            .bind(&e.summary)
            .bind(e.sentiment_avg)
            .bind(e.sentiment_min)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if updated.rows_affected() == 0 {
                return Err(CrmError::NotFound { what: "call", id: e.id.clone() });
            }
            sqlx::query(&touch).bind(&e.id).bind(e.ended_at).execute(&mut *tx).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })
    }

    pub async fn call(&self, id: &str) -> Result<Option<CallRow>, CrmError> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        with_pool!(self, p => sqlx::query_as::<_, CallRow>(&sql).bind(id).fetch_optional(p).await.map_err(db_err))
    }

    /// A customer's calls, newest first.
    pub async fn calls_of_customer(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<CallRow>, CrmError> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE customer_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        with_pool!(self, p => sqlx::query_as::<_, CallRow>(&sql)
            .bind(customer_id)
            .bind(limit_param(limit))
            .fetch_all(p)
            .await
            .map_err(db_err))
    }

    /// Stores one turn; a turn with the same `(call_id, idx)` already stored is kept
    /// and this one ignored. The call must exist.
    pub async fn insert_turn(&self, t: &TurnRow) -> Result<(), CrmError> {
        check_required("call_id", &t.call_id)?;
        if t.idx < 0 {
            return Err(CrmError::InvalidInput(format!(
                "turn index {} is negative",
                t.idx
            )));
        }
        check_required("speaker", &t.speaker)?;
        check_text("text", &t.text)?;
        check_text("lang", &t.lang)?;
        check_opt("sentiment_label", t.sentiment_label.as_deref())?;
        check_opt("persona", t.persona.as_deref())?;
        let sql = format!(
            "INSERT INTO turns ({TURN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (call_id, idx) DO NOTHING"
        );
        with_pool!(self, p => sqlx::query(&sql)
            .bind(&t.call_id)
            .bind(t.idx)
            .bind(&t.speaker)
            .bind(&t.text)
            .bind(&t.lang)
            .bind(t.sentiment_score)
            .bind(&t.sentiment_label)
            .bind(&t.persona)
            .bind(t.interrupted)
            .bind(t.eou_ms)
            .bind(t.stt_ms)
            .bind(t.llm_first_token_ms)
            .bind(t.tts_first_audio_ms)
            .bind(t.total_ms)
            .bind(t.started_at)
            .bind(t.ended_at)
            .bind(t.audio_start_ms)
            .bind(t.audio_end_ms)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(|e| fk_or(e, "call", &t.call_id)))
    }

    /// A call's turns in order.
    pub async fn turns_of_call(&self, call_id: &str) -> Result<Vec<TurnRow>, CrmError> {
        let sql = format!("SELECT {TURN_COLUMNS} FROM turns WHERE call_id = $1 ORDER BY idx");
        with_pool!(self, p => sqlx::query_as::<_, TurnRow>(&sql).bind(call_id).fetch_all(p).await.map_err(db_err))
    }

    /// Stores a supervisor action once (by id). The call must exist.
    pub async fn record_supervisor_action(&self, a: &SupervisorActionRow) -> Result<(), CrmError> {
        check_required("action id", &a.id)?;
        check_required("call_id", &a.call_id)?;
        check_required("actor", &a.actor)?;
        check_required("action", &a.action)?;
        check_opt("detail", a.detail.as_deref())?;
        with_pool!(self, p => sqlx::query(
            "INSERT INTO supervisor_actions (id, call_id, actor, action, detail, at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.call_id)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.detail)
        .bind(a.at)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(|e| fk_or(e, "call", &a.call_id)))
    }

    /// A call's supervisor actions, oldest first.
    pub async fn supervisor_actions_of_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<SupervisorActionRow>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, SupervisorActionRow>(
            "SELECT id, call_id, actor, action, detail, at FROM supervisor_actions WHERE call_id = $1 ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }
}
