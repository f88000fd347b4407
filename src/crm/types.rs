//! The rows the CRM stores and the inputs that create them. All timestamps are epoch
//! milliseconds. Every type is serde-serializable: the engine's outbox keeps pending
//! writes (`NewCall`, `CallEnd`, `TurnRow`, `SupervisorActionRow`, `NewTicket`) as JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::CrmError;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Creates a customer, or updates the one with this phone number: only the fields
/// given (`Some`) change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewCustomer {
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub tier: Option<String>,
    pub vip: Option<bool>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    /// E.164.
    pub phone: String,
    pub email: Option<String>,
    /// "standard" unless set.
    pub tier: String,
    pub vip: bool,
    pub language: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    /// The latest start or end of any of the customer's calls.
    #[ts(type = "number | null")]
    pub last_interaction: Option<i64>,
    #[ts(type = "number")]
    pub total_calls: i64,
    #[ts(type = "number")]
    pub total_tickets: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    InProgress,
    Waiting,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::Open,
        TicketStatus::InProgress,
        TicketStatus::Waiting,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::Waiting => "waiting",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Parses "open", "in_progress", "waiting", "resolved" or "closed".
    pub fn parse(s: &str) -> Result<TicketStatus, CrmError> {
        TicketStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                CrmError::InvalidInput(format!(
                    "unknown ticket status {s:?} (open|in_progress|waiting|resolved|closed)"
                ))
            })
    }

    /// Open, in progress or waiting: someone still has to act.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TicketStatus::Open | TicketStatus::InProgress | TicketStatus::Waiting
        )
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketStatus {
    type Err = CrmError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketStatus::parse(s)
    }
}

impl TryFrom<String> for TicketStatus {
    type Error = CrmError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TicketStatus::parse(&s)
    }
}

/// Ticket priorities, lowest first.
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewTicket {
    /// Set it to make creation idempotent (a replayed creation with the same id is a
    /// no-op that returns the existing ticket); `None` generates a uuid.
    #[serde(default)]
    pub id: Option<String>,
    pub customer_id: String,
    pub subject: String,
    pub description: String,
    pub department: String,
    /// low | normal | high | urgent
    pub priority: String,
    pub call_id: Option<String>,
    pub created_by: String,
}

/// Changes to a ticket: `None` leaves a field as it is. `assignee: Some(None)`
/// unassigns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TicketUpdate {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub department: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct Ticket {
    pub id: String,
    pub customer_id: String,
    pub subject: String,
    pub description: String,
    pub department: String,
    pub priority: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub assignee: Option<String>,
    pub call_id: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// One entry of a ticket's history, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct TicketChange {
    pub id: String,
    pub ticket_id: String,
    /// "created", "status" or "assignee".
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub changed_by: String,
    pub reason: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewCall {
    pub id: String,
    pub customer_id: Option<String>,
    pub transport: String,
    pub room: Option<String>,
    #[ts(type = "number")]
    pub started_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CallEnd {
    pub id: String,
    #[ts(type = "number")]
    pub ended_at: i64,
    pub outcome: String,
    pub final_persona: String,
    pub summary: String,
    pub sentiment_avg: Option<f64>,
    pub sentiment_min: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct CallRow {
    pub id: String,
    pub customer_id: Option<String>,
    pub transport: String,
    pub room: Option<String>,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub final_persona: Option<String>,
    pub summary: Option<String>,
    pub sentiment_avg: Option<f64>,
    pub sentiment_min: Option<f64>,
    /// The recording's file name in the recordings folder, when the call was recorded
    /// and the recording is still kept.
    #[serde(default)]
    pub recording: Option<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub recording_ms: Option<i64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub recording_bytes: Option<i64>,
    /// How much of the recording was blanked over card numbers and IBANs.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub recording_blanked_ms: Option<i64>,
}

/// One finished utterance of a call; `(call_id, idx)` identifies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct TurnRow {
    pub call_id: String,
    #[ts(type = "number")]
    pub idx: i64,
    pub speaker: String,
    pub text: String,
    pub lang: String,
    pub sentiment_score: Option<f64>,
    pub sentiment_label: Option<String>,
    pub persona: Option<String>,
    pub interrupted: bool,
    pub eou_ms: Option<f64>,
    pub stt_ms: Option<f64>,
    pub llm_first_token_ms: Option<f64>,
    pub tts_first_audio_ms: Option<f64>,
    pub total_ms: Option<f64>,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number")]
    pub ended_at: i64,
    /// Where the line is in the call's audio (ms since the call started, the
    /// recording's clock); None for typed lines.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub audio_start_ms: Option<i64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub audio_end_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct SupervisorActionRow {
    pub id: String,
    pub call_id: String,
    pub actor: String,
    pub action: String,
    pub detail: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, ts_rs::TS)]
#[ts(export)]
pub struct TranscriptHit {
    pub call_id: String,
    #[ts(type = "number")]
    pub idx: i64,
    pub speaker: String,
    pub text: String,
    pub lang: String,
    #[ts(type = "number")]
    pub started_at: i64,
}

/// What a persona is told about the caller before answering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CustomerContext {
    pub name: Option<String>,
    pub tier: String,
    pub vip: bool,
    pub language: Option<String>,
    /// Subjects of up to three open tickets, newest first.
    pub open_tickets: Vec<String>,
    /// The summary of the latest call that has one.
    pub last_call_summary: Option<String>,
}
