//! Turns a call's event stream into CRM writes. A customer line is written when its
//! sentiment is known (the next event), an agent line when it has been played (its
//! latency figures arrived earlier), supervisor actions at once.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::crm::{CallEnd, NewCall, NewTicket, StoredEvent, SupervisorActionRow, TurnRow};
use crate::events::{CallEvent, EventKind, Speaker, TurnMetrics};

/// One write to the CRM, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOp {
    StartCall(NewCall),
    Turn(TurnRow),
    SupervisorAction(SupervisorActionRow),
    Ticket(NewTicket),
    EndCall(CallEnd),
    /// The call's events since the last write (final lines only, no partials).
    Events(Vec<StoredEvent>),
    /// The call's recording is stored.
    Recording(RecordingRow),
}

/// Where a call's recording is, as the `recording` event tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRow {
    pub call_id: String,
    pub file: String,
    pub duration_ms: i64,
    pub bytes: i64,
    pub blanked_ms: i64,
}

impl WriteOp {
    pub fn call_id(&self) -> Option<&str> {
        match self {
            WriteOp::StartCall(c) => Some(&c.id),
            WriteOp::Turn(t) => Some(&t.call_id),
            WriteOp::SupervisorAction(a) => Some(&a.call_id),
            WriteOp::Ticket(t) => t.call_id.as_deref(),
            WriteOp::EndCall(e) => Some(&e.id),
            WriteOp::Events(e) => e.first().map(|e| e.call_id.as_str()),
            WriteOp::Recording(r) => Some(&r.call_id),
        }
    }
}

struct CallState {
    started_at_ms: i64,
    customer_id: Option<String>,
    next_idx: i64,
    persona: String,
    pending_customer: Option<TurnRow>,
    metrics: HashMap<u32, TurnMetrics>,
    /// Sequence number of the call's next stored event.
    next_seq: i64,
    /// Events not yet written (they go with the next write of the call).
    events: Vec<StoredEvent>,
}

impl CallState {
    /// Keeps `ev` for the call's next write (partial lines are not kept).
    fn keep(&mut self, ev: &CallEvent) {
        if matches!(
            ev.kind,
            EventKind::Transcript {
                is_final: false,
                ..
            }
        ) {
            return;
        }
        if let Ok(body) = serde_json::to_string(ev) {
            self.events.push(StoredEvent {
                call_id: ev.call_id.clone(),
                seq: self.next_seq,
                t_ms: ev.t_ms as i64,
                kind: ev.kind.type_name().to_string(),
                body,
            });
            self.next_seq += 1;
        }
    }
}

#[derive(Default)]
pub struct Assembler {
    calls: HashMap<String, CallState>,
}

fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wall-clock start of a call being assembled (epoch ms).
    pub fn started_at_ms(&self, call_id: &str) -> Option<i64> {
        self.calls.get(call_id).map(|c| c.started_at_ms)
    }

    pub fn push(&mut self, ev: &CallEvent) -> Vec<WriteOp> {
        let mut ops = self.assemble(ev);
        // A call's events are written with its other writes, before them (after the
        // call row when it is new): one transaction per turn, not per event. The
        // call's end writes its last ones (`assemble`).
        if let Some(call) = self.calls.get_mut(&ev.call_id) {
            call.keep(ev);
            if !ops.is_empty() && !call.events.is_empty() {
                let batch = WriteOp::Events(std::mem::take(&mut call.events));
                let at = usize::from(matches!(ops.first(), Some(WriteOp::StartCall(_))));
                ops.insert(at, batch);
            }
        }
        ops
    }

    fn assemble(&mut self, ev: &CallEvent) -> Vec<WriteOp> {
        let mut ops = Vec::new();
        if let EventKind::Recording {
            file,
            duration_ms,
            bytes,
            blanked_ms,
        } = &ev.kind
        {
            ops.push(WriteOp::Recording(RecordingRow {
                call_id: ev.call_id.clone(),
                file: file.clone(),
                duration_ms: *duration_ms as i64,
                bytes: *bytes as i64,
                blanked_ms: *blanked_ms as i64,
            }));
            return ops;
        }
        if let EventKind::CallStarted {
            customer,
            transport,
            persona,
            started_at_ms,
            room,
            ..
        } = &ev.kind
        {
            let started_at_ms = *started_at_ms as i64;
            self.calls.insert(
                ev.call_id.clone(),
                CallState {
                    started_at_ms,
                    customer_id: customer.id.clone(),
                    next_idx: 0,
                    persona: persona.as_str().to_string(),
                    pending_customer: None,
                    metrics: HashMap::new(),
                    next_seq: 0,
                    events: Vec::new(),
                },
            );
            ops.push(WriteOp::StartCall(NewCall {
                id: ev.call_id.clone(),
                customer_id: customer.id.clone(),
                transport: transport.clone(),
                room: room.clone(),
                started_at: started_at_ms,
            }));
            return ops;
        }
        let Some(call) = self.calls.get_mut(&ev.call_id) else {
            return ops;
        };
        let at = call.started_at_ms + ev.t_ms as i64;
        match &ev.kind {
            EventKind::Transcript {
                speaker,
                text,
                lang,
                is_final: true,
                turn,
                persona,
                interrupted,
                audio_start_ms,
                audio_end_ms,
            } => {
                if let Some(p) = call.pending_customer.take() {
                    ops.push(WriteOp::Turn(p));
                }
                let idx = call.next_idx;
                call.next_idx += 1;
                let mut row = TurnRow {
                    call_id: ev.call_id.clone(),
                    idx,
                    speaker: enum_str(speaker),
                    text: text.clone(),
                    lang: lang.code().to_string(),
                    sentiment_score: None,
                    sentiment_label: None,
                    persona: persona.map(|p| p.as_str().to_string()),
                    interrupted: *interrupted,
                    eou_ms: None,
                    stt_ms: None,
                    llm_first_token_ms: None,
                    tts_first_audio_ms: None,
                    total_ms: None,
                    started_at: at,
                    ended_at: at,
                    audio_start_ms: audio_start_ms.map(|v| v as i64),
                    audio_end_ms: audio_end_ms.map(|v| v as i64),
                };
                match speaker {
                    Speaker::Customer => {
                        row.persona = Some(call.persona.clone());
                        call.pending_customer = Some(row);
                    }
                    Speaker::Agent => {
                        if let Some(m) = call.metrics.remove(turn) {
                            row.eou_ms = Some(m.eou_ms);
                            row.stt_ms = Some(m.stt_ms);
                            row.llm_first_token_ms = m.llm_first_token_ms;
                            row.tts_first_audio_ms = m.tts_first_audio_ms;
                            row.total_ms = m.total_ms;
                        }
                        ops.push(WriteOp::Turn(row));
                    }
                    Speaker::Supervisor => ops.push(WriteOp::Turn(row)),
                }
            }
            EventKind::Sentiment { score, label, .. } => {
                if let Some(mut p) = call.pending_customer.take() {
                    p.sentiment_score = Some(*score as f64);
                    p.sentiment_label = Some(label.as_str().to_string());
                    ops.push(WriteOp::Turn(p));
                }
            }
            EventKind::PersonaChanged { to, .. } => call.persona = to.as_str().to_string(),
            EventKind::TurnMetrics(m) => {
                call.metrics.insert(m.turn, m.clone());
            }
            EventKind::Supervisor {
                action,
                persona,
                text,
            } => {
                let detail = match (persona, text) {
                    (None, None) => None,
                    _ => Some(serde_json::json!({"persona": persona, "text": text}).to_string()),
                };
                ops.push(WriteOp::SupervisorAction(SupervisorActionRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    call_id: ev.call_id.clone(),
                    actor: "supervisor".into(),
                    action: enum_str(action),
                    detail,
                    at,
                }));
            }
            EventKind::Ticket {
                ticket_id,
                subject,
                department,
                priority,
                ..
            } => {
                // A ticket belongs to a customer; an anonymous caller's issue lives in
                // the transcript only.
                if let Some(customer_id) = call.customer_id.clone() {
                    ops.push(WriteOp::Ticket(NewTicket {
                        id: Some(ticket_id.clone()),
                        customer_id,
                        subject: subject.clone(),
                        description: format!("Opened by the agent during call {}.", ev.call_id),
                        department: department.clone(),
                        priority: priority.clone(),
                        call_id: Some(ev.call_id.clone()),
                        created_by: "agent".into(),
                    }));
                }
            }
            EventKind::CallEnded {
                reason,
                persona,
                sentiment_avg,
                sentiment_min,
                summary,
                ..
            } => {
                if let Some(p) = call.pending_customer.take() {
                    ops.push(WriteOp::Turn(p));
                }
                // The call's last events (this one too) go before its end.
                call.keep(ev);
                ops.push(WriteOp::Events(std::mem::take(&mut call.events)));
                ops.push(WriteOp::EndCall(CallEnd {
                    id: ev.call_id.clone(),
                    ended_at: at,
                    outcome: enum_str(reason),
                    final_persona: persona.as_str().to_string(),
                    summary: summary.clone(),
                    sentiment_avg: sentiment_avg.map(f64::from),
                    sentiment_min: sentiment_min.map(f64::from),
                }));
                self.calls.remove(&ev.call_id);
            }
            _ => {}
        }
        ops
    }
}
