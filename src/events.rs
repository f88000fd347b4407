//! `CallEvent`: the one contract between engine, UI, CLI and tests.
//!
//! Every event carries `type` (the variant, snake_case), `call_id` and `t_ms`
//! (milliseconds since the call started). The CLI prints them as JSON Lines. Extend
//! this enum; never rename a field or a variant.

use serde::{Deserialize, Serialize};

use crate::lang::{Lang, LangHint};
use crate::routing::{ChangeReason, PersonaId, RouteCause};
use crate::sentiment::SentimentLabel;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CallEvent {
    pub call_id: String,
    #[ts(type = "number")]
    pub t_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Customer,
    Agent,
    Supervisor,
}

/// Which step of a turn an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Audio,
    Stt,
    Llm,
    Tts,
    Transport,
    Supervisor,
    /// The CRM store (writes go to the durable outbox while it is unreachable).
    Crm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorAction {
    Takeover,
    Handback,
    Pin,
    Unpin,
    Whisper,
    Say,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The customer hung up (or a scenario ran out of turns).
    CustomerHangup,
    Supervisor,
    TransportClosed,
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
pub struct CustomerInfo {
    /// The CRM's customer id, when the caller is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Latency of one turn, in milliseconds. `None` where a step did not run
/// (e.g. no LLM during a supervisor takeover).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
pub struct TurnMetrics {
    pub turn: u32,
    /// Trailing silence waited before the turn was declared over (0 for text input).
    pub eou_ms: f64,
    /// End of turn → final transcript.
    pub stt_ms: f64,
    /// Final transcript → first LLM token (or fallback text ready).
    pub llm_first_token_ms: Option<f64>,
    /// First sentence ready → first synthesized audio.
    pub tts_first_audio_ms: Option<f64>,
    /// End of turn → first agent frame sent to the transport: the engine's own share.
    pub total_ms: Option<f64>,
    /// Last voiced customer frame → first agent frame: what the customer perceives.
    pub response_ms: Option<f64>,
    /// The voice that spoke the reply's first sentence ("elevenlabs", "piper",
    /// "espeak-ng", …): a cloud voice's fallback shows here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tts_provider: Option<String>,
    /// The recognizer that heard the customer ("openai-stt", "whisper-base",
    /// …); absent for typed turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stt_provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    CallStarted {
        customer: CustomerInfo,
        lang: LangHint,
        persona: PersonaId,
        transport: String,
        /// Wall-clock start, epoch milliseconds: `t_ms` of every event counts from here.
        #[serde(default)]
        #[ts(type = "number")]
        started_at_ms: u64,
        /// The LiveKit room of a call in one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        room: Option<String>,
    },
    Transcript {
        speaker: Speaker,
        text: String,
        lang: Lang,
        #[serde(rename = "final")]
        is_final: bool,
        turn: u32,
        /// The persona speaking (agent lines only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persona: Option<PersonaId>,
        /// Agent lines cut short by the customer: `text` holds only what was played.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        interrupted: bool,
        /// Where a final spoken line is in the call's audio: ms since the call
        /// started, on the recording's clock (absent for typed lines and partials).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        audio_start_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        audio_end_ms: Option<u64>,
    },
    Sentiment {
        turn: u32,
        score: f32,
        label: SentimentLabel,
        /// Smoothed sentiment of the call so far.
        trend: f32,
    },
    PersonaChanged {
        from: PersonaId,
        to: PersonaId,
        reason: ChangeReason,
        turn: u32,
        /// Short English explanation, e.g. "complaint with negative sentiment".
        why: String,
        /// `why` as data (rule, intent, flags), for display in the reader's language.
        /// Absent in events recorded before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<RouteCause>,
    },
    /// The full reply the agent generated for a turn (before any barge-in).
    AgentReply {
        turn: u32,
        persona: PersonaId,
        lang: Lang,
        text: String,
        /// Which provider wrote it ("openai-compatible", "template", …).
        provider: String,
        fallback: bool,
    },
    BargeIn {
        turn: u32,
        /// What the customer heard of the agent's reply before cutting in.
        heard: String,
        /// What was generated but never played.
        dropped: String,
    },
    TurnMetrics(TurnMetrics),
    /// The agent opened a ticket for the customer's issue.
    Ticket {
        turn: u32,
        ticket_id: String,
        subject: String,
        department: String,
        priority: String,
    },
    /// The AI agent asks for a human to take the call (a `transfer_to` tool
    /// call naming `human`); supervisors are alerted.
    HumanRequested {
        turn: u32,
        reason: String,
    },
    Supervisor {
        action: SupervisorAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persona: Option<PersonaId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        turn: Option<u32>,
        stage: Stage,
        code: String,
        message: String,
        /// What took over so the call goes on ("template", "espeak-ng", …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
    CallEnded {
        reason: EndReason,
        turns: u32,
        #[ts(type = "number")]
        duration_ms: u64,
        persona: PersonaId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sentiment_avg: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sentiment_min: Option<f32>,
        summary: String,
        /// Who wrote the summary: the LLM's provider name, or "extractive".
        #[serde(default)]
        summary_provider: String,
    },
    /// The call's recording is stored (after `call_ended`, once it is encoded).
    Recording {
        /// File name in the recordings folder.
        file: String,
        #[ts(type = "number")]
        duration_ms: u64,
        #[ts(type = "number")]
        bytes: u64,
        /// Audio blanked over card numbers and IBANs.
        #[ts(type = "number")]
        blanked_ms: u64,
    },
}

impl EventKind {
    /// The `type` tag of this event.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::CallStarted { .. } => "call_started",
            EventKind::Transcript { .. } => "transcript",
            EventKind::Sentiment { .. } => "sentiment",
            EventKind::PersonaChanged { .. } => "persona_changed",
            EventKind::AgentReply { .. } => "agent_reply",
            EventKind::BargeIn { .. } => "barge_in",
            EventKind::TurnMetrics(_) => "turn_metrics",
            EventKind::Ticket { .. } => "ticket",
            EventKind::HumanRequested { .. } => "human_requested",
            EventKind::Supervisor { .. } => "supervisor",
            EventKind::Error { .. } => "error",
            EventKind::CallEnded { .. } => "call_ended",
            EventKind::Recording { .. } => "recording",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_flat_with_type_tag() {
        let ev = CallEvent {
            call_id: "c1".into(),
            t_ms: 42,
            kind: EventKind::Transcript {
                speaker: Speaker::Customer,
                text: "مرحبا <b>".into(),
                lang: Lang::Ar,
                is_final: true,
                turn: 1,
                persona: None,
                interrupted: false,
                audio_start_ms: None,
                audio_end_ms: None,
            },
        };
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "transcript");
        assert_eq!(v["call_id"], "c1");
        assert_eq!(v["t_ms"], 42);
        assert_eq!(v["final"], true);
        assert_eq!(v["speaker"], "customer");
        assert_eq!(v["text"], "مرحبا <b>");
        assert!(v.get("interrupted").is_none());
        let back: CallEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn persona_changed_carries_cause_and_reads_old_events() {
        use crate::routing::{CauseKind, Intent};
        let ev = CallEvent {
            call_id: "c".into(),
            t_ms: 7,
            kind: EventKind::PersonaChanged {
                from: PersonaId::Reception,
                to: PersonaId::Support,
                reason: ChangeReason::Rule,
                turn: 2,
                why: "complaint with negative sentiment".into(),
                cause: Some(RouteCause::new(
                    CauseKind::IntentNegative,
                    Some(Intent::Complaint),
                )),
            },
        };
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "persona_changed");
        assert_eq!(v["why"], "complaint with negative sentiment");
        assert_eq!(v["cause"]["kind"], "intent_negative");
        assert_eq!(v["cause"]["intent"], "complaint");
        assert_eq!(v["cause"]["consecutive"], false);
        assert_eq!(v["cause"]["after_support"], false);
        let back: CallEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);

        // Recorded before `cause` existed.
        let old = r#"{"call_id":"c","t_ms":7,"type":"persona_changed","from":"reception","to":"sales","reason":"rule","turn":1,"why":"pricing question"}"#;
        let back: CallEvent = serde_json::from_str(old).unwrap();
        match back.kind {
            EventKind::PersonaChanged { cause, why, .. } => {
                assert_eq!(cause, None);
                assert_eq!(why, "pricing question");
            }
            other => panic!("{other:?}"),
        }
        let v: serde_json::Value = serde_json::from_str(old).unwrap();
        let again = serde_json::to_value(serde_json::from_str::<CallEvent>(old).unwrap()).unwrap();
        assert_eq!(again, v, "no cause key is invented");
    }

    #[test]
    fn metrics_are_flattened_into_the_event() {
        let ev = CallEvent {
            call_id: "c".into(),
            t_ms: 1,
            kind: EventKind::TurnMetrics(TurnMetrics {
                turn: 3,
                eou_ms: 500.0,
                ..Default::default()
            }),
        };
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "turn_metrics");
        assert_eq!(v["turn"], 3);
        assert_eq!(v["eou_ms"], 500.0);
        assert!(v["llm_first_token_ms"].is_null());
        let back: CallEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }
}
