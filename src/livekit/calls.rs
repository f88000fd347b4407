//! Which webhooks start and end calls. One call per room: it starts when a
//! customer (a browser or app user, or a phone line through SIP) joins, and ends
//! when that customer leaves or the room closes. Agents, supervisors listening
//! unseen, recorders and the like never start a call. LiveKit may deliver an
//! event twice or, across retries, out of order: duplicates are ignored and a
//! departure nobody arrived for does nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use super::rooms::ParticipantSummary;
use super::webhook::WebhookEvent;

/// How many event ids are remembered to drop redeliveries.
const SEEN_IDS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallAction {
    /// Join `room` as the agent and answer `customer`.
    Start { room: String, customer: String },
    /// End the call in `room` (its record is kept).
    End { room: String, reason: EndReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    CustomerLeft,
    RoomFinished,
}

#[derive(Debug, Default)]
pub struct RoomCalls {
    /// Room name → the customer's identity.
    active: HashMap<String, String>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

/// A kind of participant that calls: a person on an app (`standard`) or a phone
/// line (`sip`) — not an agent, a recorder or an ingress.
pub fn is_caller(kind: &str) -> bool {
    matches!(kind, "standard" | "sip")
}

/// A participant who is a caller, and visible (a supervisor listens hidden).
pub fn is_customer(p: &ParticipantSummary) -> bool {
    is_caller(&p.kind) && !p.hidden
}

impl RoomCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// The customer of the call in `room`, if one is going on.
    pub fn customer(&self, room: &str) -> Option<&str> {
        self.active.get(room).map(String::as_str)
    }

    pub fn active_rooms(&self) -> impl Iterator<Item = &str> {
        self.active.keys().map(String::as_str)
    }

    /// What to do about one verified webhook, if anything.
    pub fn on_event(&mut self, event: &WebhookEvent) -> Option<CallAction> {
        if !self.first_time(event.id()) {
            return None;
        }
        match event {
            WebhookEvent::ParticipantJoined {
                room, participant, ..
            } if is_customer(participant) => {
                if self.active.contains_key(&room.name) {
                    // A second caller in the same room joins the call in progress.
                    return None;
                }
                self.active
                    .insert(room.name.clone(), participant.identity.clone());
                Some(CallAction::Start {
                    room: room.name.clone(),
                    customer: participant.identity.clone(),
                })
            }
            WebhookEvent::ParticipantLeft {
                room, participant, ..
            } => {
                if self.active.get(&room.name) != Some(&participant.identity) {
                    return None;
                }
                self.active.remove(&room.name);
                Some(CallAction::End {
                    room: room.name.clone(),
                    reason: EndReason::CustomerLeft,
                })
            }
            WebhookEvent::RoomFinished { room, .. } => {
                self.active.remove(&room.name).map(|_| CallAction::End {
                    room: room.name.clone(),
                    reason: EndReason::RoomFinished,
                })
            }
            _ => None,
        }
    }

    fn first_time(&mut self, id: &str) -> bool {
        if id.is_empty() {
            // No id to tell a redelivery by: act on it.
            return true;
        }
        if !self.seen.insert(id.to_string()) {
            return false;
        }
        self.seen_order.push_back(id.to_string());
        if self.seen_order.len() > SEEN_IDS {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::livekit::rooms::RoomSummary;

    fn room(name: &str) -> RoomSummary {
        RoomSummary {
            sid: format!("RM_{name}"),
            name: name.into(),
            num_participants: 0,
            num_publishers: 0,
            created_at_ms: 0,
            max_participants: 0,
            empty_timeout_s: 0,
            metadata: String::new(),
        }
    }

    fn person(identity: &str, kind: &str, hidden: bool) -> ParticipantSummary {
        ParticipantSummary {
            sid: format!("PA_{identity}"),
            identity: identity.into(),
            name: String::new(),
            state: "active".into(),
            kind: kind.into(),
            joined_at_ms: 0,
            hidden,
            can_publish: !hidden,
            tracks: Vec::new(),
        }
    }

    fn joined(id: &str, r: &str, p: ParticipantSummary) -> WebhookEvent {
        WebhookEvent::ParticipantJoined {
            id: id.into(),
            created_at_ms: 0,
            room: room(r),
            participant: p,
        }
    }

    fn left(id: &str, r: &str, p: ParticipantSummary) -> WebhookEvent {
        WebhookEvent::ParticipantLeft {
            id: id.into(),
            created_at_ms: 0,
            room: room(r),
            participant: p,
        }
    }

    #[test]
    fn a_customer_starts_the_call_and_their_leaving_ends_it() {
        let mut calls = RoomCalls::new();
        let started = WebhookEvent::RoomStarted {
            id: "EV_1".into(),
            created_at_ms: 0,
            room: room("call-1"),
        };
        assert_eq!(calls.on_event(&started), None);
        // The agent and a hidden supervisor do not start a call.
        assert_eq!(
            calls.on_event(&joined(
                "EV_2",
                "call-1",
                person("agent-ahmed", "agent", false)
            )),
            None
        );
        assert_eq!(
            calls.on_event(&joined("EV_3", "call-1", person("sup-1", "standard", true))),
            None
        );
        let customer = person("+971501234567", "sip", false);
        assert_eq!(
            calls.on_event(&joined("EV_4", "call-1", customer.clone())),
            Some(CallAction::Start {
                room: "call-1".into(),
                customer: "+971501234567".into()
            })
        );
        assert_eq!(calls.customer("call-1"), Some("+971501234567"));
        // A redelivered join does nothing; a second caller joins the same call.
        assert_eq!(
            calls.on_event(&joined("EV_4", "call-1", customer.clone())),
            None
        );
        assert_eq!(
            calls.on_event(&joined(
                "EV_5",
                "call-1",
                person("cousin", "standard", false)
            )),
            None
        );
        // The supervisor leaving does not end it; the customer leaving does, once.
        assert_eq!(
            calls.on_event(&left("EV_6", "call-1", person("sup-1", "standard", true))),
            None
        );
        assert_eq!(
            calls.on_event(&left("EV_7", "call-1", customer.clone())),
            Some(CallAction::End {
                room: "call-1".into(),
                reason: EndReason::CustomerLeft
            })
        );
        assert_eq!(calls.on_event(&left("EV_7", "call-1", customer)), None);
        let finished = WebhookEvent::RoomFinished {
            id: "EV_8".into(),
            created_at_ms: 0,
            room: room("call-1"),
        };
        assert_eq!(calls.on_event(&finished), None, "already ended");
        assert_eq!(calls.active_rooms().count(), 0);
    }

    #[test]
    fn a_closing_room_ends_its_call_and_rooms_are_independent() {
        let mut calls = RoomCalls::new();
        calls.on_event(&joined(
            "a1",
            "support-ar",
            person("عميل-1", "standard", false),
        ));
        calls.on_event(&joined(
            "b1",
            "sales-en",
            person("cust-2", "standard", false),
        ));
        // Leaving before joining (out of order) does nothing.
        assert_eq!(
            calls.on_event(&left("c1", "other", person("x", "standard", false))),
            None
        );
        let finished = WebhookEvent::RoomFinished {
            id: "a2".into(),
            created_at_ms: 0,
            room: room("support-ar"),
        };
        assert_eq!(
            calls.on_event(&finished),
            Some(CallAction::End {
                room: "support-ar".into(),
                reason: EndReason::RoomFinished
            })
        );
        assert_eq!(calls.customer("sales-en"), Some("cust-2"));
        // Egress (a recorder) is no customer.
        assert_eq!(
            calls.on_event(&joined("d1", "rec", person("EG_1", "egress", false))),
            None
        );
    }

    #[test]
    fn the_memory_of_seen_events_is_bounded() {
        let mut calls = RoomCalls::new();
        for i in 0..(SEEN_IDS + 100) {
            calls.on_event(&WebhookEvent::Other {
                id: format!("EV_{i}"),
                created_at_ms: 0,
                name: "track_published".into(),
                room: None,
            });
        }
        assert_eq!(calls.seen.len(), SEEN_IDS);
        assert_eq!(calls.seen_order.len(), SEEN_IDS);
    }
}
