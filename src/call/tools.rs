//! The tools a hosted language model may call during a call: open a ticket,
//! look the customer up, hand the call to another persona or to a human. The
//! model only proposes; the call checks every argument (a model's JSON is
//! input like any other) and does the work itself, and each tool answers in
//! JSON the model reads on its next request.

use serde::Deserialize;
use serde_json::json;

use crate::llm::Tool;
use crate::routing::PersonaId;

pub const CREATE_TICKET: &str = "create_ticket";
pub const LOOKUP_CUSTOMER: &str = "lookup_customer";
pub const TRANSFER_TO: &str = "transfer_to";
/// Tool rounds in one turn before the model must answer in words.
pub const MAX_ROUNDS: u32 = 2;
/// The longest ticket subject kept.
pub const SUBJECT_MAX_CHARS: usize = 120;

pub fn all() -> Vec<Tool> {
    vec![
        Tool {
            name: CREATE_TICKET.into(),
            description: "Open a ticket so the customer's issue is tracked after the call. \
                          One per call: calling it again returns the open ticket."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "subject": {"type": "string", "description": "The issue in one short line, in the customer's language."},
                    "department": {"type": "string", "enum": ["support", "billing", "sales", "retention"]},
                    "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]}
                },
                "required": ["subject", "department", "priority"],
                "additionalProperties": false
            }),
        },
        Tool {
            name: LOOKUP_CUSTOMER.into(),
            description:
                "What our records say about the caller: name, phone, tier, open tickets, last call."
                    .into(),
            parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
        },
        Tool {
            name: TRANSFER_TO.into(),
            description:
                "Hand the call over: to reception (Ahmed), sales (Sarah), support (Mohammed), \
                          or a human supervisor when the customer insists or the issue needs one."
                    .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "target": {"type": "string", "enum": ["reception", "sales", "support", "human"]},
                    "reason": {"type": "string", "description": "Why, in a few words."}
                },
                "required": ["target", "reason"],
                "additionalProperties": false
            }),
        },
    ]
}

/// A tool call the call will carry out, its arguments checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateTicket {
        subject: String,
        department: String,
        priority: String,
    },
    LookupCustomer,
    Transfer {
        to: PersonaId,
        reason: String,
    },
    Human {
        reason: String,
    },
}

#[derive(Deserialize)]
struct TicketArgs {
    subject: String,
    department: String,
    priority: String,
}

#[derive(Deserialize)]
struct TransferArgs {
    target: String,
    #[serde(default)]
    reason: String,
}

/// Checks a call's name and arguments; the error goes back to the model as the
/// tool's answer, so it can try again.
pub fn parse(name: &str, arguments: &str) -> Result<Action, String> {
    let args = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    let bad = |e: serde_json::Error| format!("invalid arguments for {name}: {e}");
    match name {
        CREATE_TICKET => {
            let a: TicketArgs = serde_json::from_str(args).map_err(bad)?;
            let subject: String = a
                .subject
                .chars()
                .filter(|c| !c.is_control())
                .take(SUBJECT_MAX_CHARS)
                .collect();
            if subject.trim().is_empty() {
                return Err("the ticket needs a subject".into());
            }
            let department = a.department.trim().to_ascii_lowercase();
            if !["support", "billing", "sales", "retention"].contains(&department.as_str()) {
                return Err(format!("unknown department {:?}", a.department));
            }
            let priority = a.priority.trim().to_ascii_lowercase();
            if !["low", "normal", "high", "urgent"].contains(&priority.as_str()) {
                return Err(format!("unknown priority {:?}", a.priority));
            }
            Ok(Action::CreateTicket {
                subject: subject.trim().to_string(),
                department,
                priority,
            })
        }
        LOOKUP_CUSTOMER => Ok(Action::LookupCustomer),
        TRANSFER_TO => {
            let a: TransferArgs = serde_json::from_str(args).map_err(bad)?;
            let reason: String = a
                .reason
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            match a.target.trim().to_ascii_lowercase().as_str() {
                "human" | "supervisor" => Ok(Action::Human { reason }),
                t => PersonaId::parse(t)
                    .map(|to| Action::Transfer { to, reason })
                    .ok_or_else(|| format!("unknown target {:?}", a.target)),
            }
        }
        other => Err(format!(
            "no tool named {:?}",
            other.chars().take(60).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked_before_anything_is_done() {
        assert_eq!(
            parse(
                CREATE_TICKET,
                r#"{"subject":"الإنترنت مقطوع منذ الصباح","department":"Support","priority":"high"}"#
            ),
            Ok(Action::CreateTicket {
                subject: "الإنترنت مقطوع منذ الصباح".into(),
                department: "support".into(),
                priority: "high".into()
            })
        );
        assert!(parse(
            CREATE_TICKET,
            r#"{"subject":" ","department":"support","priority":"high"}"#
        )
        .is_err());
        assert!(parse(
            CREATE_TICKET,
            r#"{"subject":"x","department":"legal","priority":"high"}"#
        )
        .is_err());
        assert!(parse(CREATE_TICKET, r#"{"subject":"x""#)
            .unwrap_err()
            .contains("invalid arguments"));
        let long = format!(
            r#"{{"subject":"{}","department":"billing","priority":"low"}}"#,
            "a".repeat(500)
        );
        match parse(CREATE_TICKET, &long).unwrap() {
            Action::CreateTicket { subject, .. } => {
                assert_eq!(subject.chars().count(), SUBJECT_MAX_CHARS)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(LOOKUP_CUSTOMER, ""), Ok(Action::LookupCustomer));
        assert_eq!(
            parse(
                TRANSFER_TO,
                r#"{"target":"sales","reason":"wants to upgrade"}"#
            ),
            Ok(Action::Transfer {
                to: PersonaId::Sales,
                reason: "wants to upgrade".into()
            })
        );
        assert!(matches!(
            parse(
                TRANSFER_TO,
                r#"{"target":"human","reason":"asked for a manager"}"#
            ),
            Ok(Action::Human { .. })
        ));
        assert!(parse(TRANSFER_TO, r#"{"target":"ceo","reason":"x"}"#).is_err());
        assert!(parse("delete_all_customers", "{}").is_err());
        assert_eq!(all().len(), 3);
    }
}
