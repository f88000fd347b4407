//! The durable record of calls: every call's `CallEvent`s become CRM rows (calls,
//! turns, supervisor actions, tickets) as soon as each turn completes.
//!
//! Calls hand their events to one [`CrmWriter`] through an unbounded channel, so a
//! slow or absent database never delays a call. When the database is unreachable,
//! writes go to a local append-only outbox file (fsynced) and are replayed in order
//! when it returns. Every write is idempotent in the store (turns keyed by call and
//! index, calls and actions by id), so a replay interrupted by a crash or another
//! outage is simply replayed again: nothing is lost and nothing is written twice.

mod assembler;
mod outbox;
mod writer;

pub use assembler::{Assembler, RecordingRow, WriteOp};
pub use outbox::Outbox;
pub use writer::{CrmWriter, FlushReport};

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot use the outbox {path}: {reason}")]
    Outbox { path: String, reason: String },
}

use crate::crm::{CrmError, CrmStore, NewCustomer};
use crate::events::CustomerInfo;

/// Looks the caller up by phone (creating the customer if new) and returns their
/// info with the CRM id, and a short context for the persona's prompt: name, tier,
/// VIP, open tickets, last call. Callers without a number stay anonymous.
pub async fn customer_for_call(
    store: &CrmStore,
    caller: &CustomerInfo,
) -> Result<(CustomerInfo, Option<String>), CrmError> {
    let Some(phone) = caller.phone.as_deref() else {
        return Ok((caller.clone(), None));
    };
    let customer = store
        .upsert_customer(&NewCustomer {
            phone: phone.to_string(),
            name: caller.name.clone(),
            email: None,
            tier: None,
            vip: None,
            language: None,
        })
        .await?;
    let ctx = store.customer_context(&customer.id).await?;
    let mut lines = Vec::new();
    if let Some(name) = &ctx.name {
        lines.push(format!("Name: {name}."));
    }
    lines.push(format!(
        "Tier: {}{}.",
        ctx.tier,
        if ctx.vip {
            " (VIP: give priority and extra care)"
        } else {
            ""
        }
    ));
    if let Some(lang) = &ctx.language {
        lines.push(format!("Preferred language: {lang}."));
    }
    if ctx.open_tickets.is_empty() {
        lines.push("No open tickets.".into());
    } else {
        lines.push(format!("Open tickets: {}.", ctx.open_tickets.join("; ")));
    }
    if let Some(summary) = &ctx.last_call_summary {
        lines.push(format!("Last call: {summary}"));
    }
    lines.push(format!("Calls so far: {}.", customer.total_calls));
    let info = CustomerInfo {
        id: Some(customer.id.clone()),
        phone: Some(customer.phone.clone()),
        name: customer.name.clone().or_else(|| caller.name.clone()),
    };
    Ok((info, Some(lines.join("\n"))))
}
