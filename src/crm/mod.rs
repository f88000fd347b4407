//! The CRM store: customers, tickets (with their history), calls, turns and
//! supervisor actions, in SQLite (single seat) or PostgreSQL/Supabase (a call floor).
//!
//! One portable schema (`migrations/common`) serves both databases; full-text search
//! over transcripts is the only dialect-specific part (FTS5 on SQLite, a generated
//! `tsvector` with a GIN index on PostgreSQL). Queries are runtime `query`/`query_as`
//! with bound parameters; the typed pools sit behind [`CrmStore`].
//!
//! Writes the engine may replay after an outage are idempotent: a call, a turn
//! (`call_id`, `idx`), a supervisor action and a ticket created with an id are
//! inserted once, and the customer's counters move only when a row is really inserted,
//! in the same transaction.

/// Runs `$body` once per backend with `$p` bound to that backend's pool, so one
/// piece of SQL-building code serves both (each arm is type-checked on its own).
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match $store.pool() {
            $crate::crm::store::Pool::Sqlite($p) => $body,
            $crate::crm::store::Pool::Postgres($p) => $body,
        }
    };
}

mod calls;
mod customers;
mod error;
mod phone;
mod replay;
mod search;
mod store;
mod tickets;
mod types;

pub use error::{redact_url, CrmError};
pub use phone::normalize_phone;
pub use replay::{
    Annotation, CallFilter, CallScore, NewAnnotation, PastCall, PersonaScore, RecordingRef,
    StoredEvent, MAX_ANNOTATION_CHARS, MAX_SCORE,
};
pub use store::CrmStore;
pub use types::{
    Backend, CallEnd, CallRow, Customer, CustomerContext, NewCall, NewCustomer, NewTicket,
    SupervisorActionRow, Ticket, TicketChange, TicketStatus, TicketUpdate, TranscriptHit, TurnRow,
    PRIORITIES,
};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Text that PostgreSQL cannot store (NUL) is refused on both backends alike.
pub(crate) fn check_text(field: &str, value: &str) -> Result<(), CrmError> {
    if value.contains('\0') {
        return Err(CrmError::InvalidInput(format!(
            "{field} contains a NUL character"
        )));
    }
    Ok(())
}

pub(crate) fn check_opt(field: &str, value: Option<&str>) -> Result<(), CrmError> {
    value.map_or(Ok(()), |v| check_text(field, v))
}

/// A required field: not blank, no NUL.
pub(crate) fn check_required(field: &str, value: &str) -> Result<(), CrmError> {
    if value.trim().is_empty() {
        return Err(CrmError::InvalidInput(format!("{field} must not be empty")));
    }
    check_text(field, value)
}

pub(crate) fn limit_param(limit: u32) -> i64 {
    i64::from(limit)
}
