//! What a worker and a supervisor's console say to each other in a call's room.
//!
//! - The worker publishes every `CallEvent` of its call, and the call's status
//!   whenever it changes, as reliable data packets on [`EVENTS_TOPIC`], numbered in
//!   one sequence. A message too big for one packet goes as numbered parts.
//! - The console sends supervisor commands by LiveKit RPC ([`COMMAND_METHOD`]) and,
//!   when it attaches to a call already under way, asks for the call so far
//!   ([`SYNC_METHOD`]): the worker sends it the history as data addressed to it
//!   alone, then answers with the last number it sent. LiveKit delivers one
//!   sender's reliable packets in order, so the console can put the history and
//!   what arrived meanwhile in order and drop repeats.
//! - Every request carries a proof: a short-lived supervisor token for this room
//!   and this identity, signed with the deployment's API secret. The worker holds
//!   the same secret (it mints its own token) and checks it, so a customer who can
//!   send data in the room cannot command the call.

use serde::{Deserialize, Serialize};

use crate::call::{CallStatus, SupervisorCommand};
use crate::events::CallEvent;

use super::super::credentials::LiveKitCredentials;
use super::super::token::{mint, verify, Role, TokenRequest};

/// The data topic of a worker's call events.
pub const EVENTS_TOPIC: &str = "switchboard.events";
/// RPC: a supervisor command for a call. Payload [`CommandRequest`], reply `{}`.
pub const COMMAND_METHOD: &str = "switchboard.command";
/// RPC: the calls so far. Payload [`SyncRequest`], reply [`SyncReply`].
pub const SYNC_METHOD: &str = "switchboard.sync";
/// LiveKit's limit for a reliable data packet and an RPC payload is 15 KiB; a
/// message above this is cut into parts.
pub const MAX_PACKET: usize = 14 * 1024;
/// The most one message may grow to once reassembled.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// How long a proof is good for: it travels with one request.
pub const PROOF_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// LiveKit's RPC error code for an application's own refusal; the reason's code
/// travels in the error's `data`.
pub const RPC_APPLICATION_ERROR: u32 = 1500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Wire {
    Event {
        seq: u64,
        event: CallEvent,
    },
    Status {
        seq: u64,
        status: CallStatus,
    },
    /// Part `index` of `count` of a message too big for one packet.
    Part {
        id: u64,
        index: u32,
        count: u32,
        data: String,
    },
}

impl Wire {
    pub fn seq(&self) -> Option<u64> {
        match self {
            Wire::Event { seq, .. } | Wire::Status { seq, .. } => Some(*seq),
            Wire::Part { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub call_id: String,
    pub command: SupervisorCommand,
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReply {
    /// The last sequence number sent before this reply (0: none yet).
    pub through: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("a message of {0} bytes is larger than the {MAX_MESSAGE} bytes a call message may be")]
    TooLarge(usize),
    #[error("not a Switchboard message: {0}")]
    Malformed(String),
    #[error("parts of a message arrived out of order or incomplete")]
    Parts,
}

/// A refusal of an RPC, as LiveKit carries it back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcFailure {
    pub code: u32,
    pub message: String,
    /// Our reason's code (`unknown_call`, `call_ended`, `not_a_supervisor`, …).
    pub data: Option<String>,
}

impl RpcFailure {
    pub fn app(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: RPC_APPLICATION_ERROR,
            message: message.into(),
            data: Some(code.to_string()),
        }
    }
}

/// `msg` as data packets, each at most [`MAX_PACKET`] bytes; `part_id` names
/// the parts if it has to be cut.
pub fn packets(msg: &Wire, part_id: u64) -> Result<Vec<Vec<u8>>, WireError> {
    let json = serde_json::to_string(msg).map_err(|e| WireError::Malformed(e.to_string()))?;
    if json.len() <= MAX_PACKET {
        return Ok(vec![json.into_bytes()]);
    }
    if json.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge(json.len()));
    }
    // Inside a part the message is a JSON string: quotes and backslashes double,
    // nothing grows more (serde_json already escaped control characters), so
    // half a packet, less the envelope, always fits.
    let budget = (MAX_PACKET - 128) / 2;
    let mut pieces = Vec::new();
    let mut rest = json.as_str();
    while !rest.is_empty() {
        let mut cut = budget.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let count = pieces.len() as u32;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            serde_json::to_vec(&Wire::Part {
                id: part_id,
                index: i as u32,
                count,
                data: data.to_string(),
            })
            .map_err(|e| WireError::Malformed(e.to_string()))
        })
        .collect()
}

/// Puts one sender's packets back into messages. LiveKit delivers a sender's
/// reliable packets in order, so one message is in progress at a time; a part
/// out of place drops the message it belonged to (and says so) rather than
/// stitch two together.
#[derive(Debug, Default)]
pub struct Reassembler {
    partial: Option<(u64, u32, String)>,
}

impl Reassembler {
    pub fn push(&mut self, packet: &[u8]) -> Result<Option<Wire>, WireError> {
        if packet.len() > MAX_PACKET * 2 {
            return Err(WireError::TooLarge(packet.len()));
        }
        let msg: Wire =
            serde_json::from_slice(packet).map_err(|e| WireError::Malformed(short(&e)))?;
        let Wire::Part {
            id,
            index,
            count,
            data,
        } = msg
        else {
            self.partial = None;
            return Ok(Some(msg));
        };
        if count == 0 || index >= count {
            self.partial = None;
            return Err(WireError::Parts);
        }
        match &mut self.partial {
            Some((pid, next, buf)) if *pid == id && *next == index => {
                if buf.len() + data.len() > MAX_MESSAGE {
                    self.partial = None;
                    return Err(WireError::TooLarge(MAX_MESSAGE + 1));
                }
                buf.push_str(&data);
                *next += 1;
            }
            _ if index == 0 => {
                let stale = self.partial.is_some();
                self.partial = Some((id, 1, data));
                if stale {
                    // The message before this one never finished.
                    if count == 1 {
                        return self.finish(count).map(Some);
                    }
                    return Err(WireError::Parts);
                }
            }
            _ => {
                self.partial = None;
                return Err(WireError::Parts);
            }
        }
        if self
            .partial
            .as_ref()
            .is_some_and(|(_, next, _)| *next == count)
        {
            return self.finish(count).map(Some);
        }
        Ok(None)
    }

    fn finish(&mut self, _count: u32) -> Result<Wire, WireError> {
        let (_, _, buf) = self.partial.take().ok_or(WireError::Parts)?;
        let msg: Wire = serde_json::from_str(&buf).map_err(|e| WireError::Malformed(short(&e)))?;
        if matches!(msg, Wire::Part { .. }) {
            return Err(WireError::Malformed("a part inside a part".into()));
        }
        Ok(msg)
    }
}

fn short(e: &serde_json::Error) -> String {
    e.to_string().chars().take(160).collect()
}

/// A proof that `identity` is a supervisor of `room`, for one request.
pub fn supervisor_proof(
    creds: &LiveKitCredentials,
    room: &str,
    identity: &str,
) -> Result<String, super::super::TokenError> {
    let mut req = TokenRequest::new(room, identity, Role::Supervisor);
    req.ttl = PROOF_TTL;
    mint(creds, &req)
}

/// Checks that `caller` (the identity LiveKit vouches for) sent a valid
/// supervisor proof for `room`.
pub fn check_supervisor(
    creds: &LiveKitCredentials,
    room: &str,
    caller: &str,
    proof: &str,
) -> Result<(), RpcFailure> {
    let refuse = |why: String| RpcFailure::app("not_a_supervisor", why);
    let claims = verify(creds, proof).map_err(|e| refuse(format!("supervisor proof: {e}")))?;
    let v = &claims.video;
    if claims.sub != caller {
        return Err(refuse(
            "the supervisor proof was issued to someone else".into(),
        ));
    }
    if v.room != room || !v.room_join {
        return Err(refuse("the supervisor proof is for another room".into()));
    }
    if !v.hidden || v.agent || claims.kind == "agent" {
        return Err(refuse("the proof is not a supervisor's".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, Speaker};

    fn transcript(text: &str) -> Wire {
        Wire::Event {
            seq: 7,
            event: CallEvent {
                call_id: "c1".into(),
                t_ms: 1200,
                kind: EventKind::Transcript {
                    speaker: Speaker::Customer,
                    turn: 1,
                    text: text.into(),
                    is_final: true,
                    lang: crate::lang::Lang::Ar,
                    persona: None,
                    interrupted: false,
                    audio_start_ms: None,
                    audio_end_ms: None,
                },
            },
        }
    }

    #[test]
    fn small_messages_go_whole_and_big_ones_in_parts_that_fit_and_rejoin() {
        let small = transcript("أريد إلغاء طلبي رقم 4471 من فضلك");
        let p = packets(&small, 1).unwrap();
        assert_eq!(p.len(), 1);
        let mut r = Reassembler::default();
        assert_eq!(r.push(&p[0]).unwrap(), Some(small));

        // Quotes and backslashes double inside a part: the worst case.
        let text: String = "\"\\مرحبا quoted \"".repeat(4000);
        let big = transcript(&text);
        let p = packets(&big, 9).unwrap();
        assert!(p.len() > 4, "{}", p.len());
        assert!(p.iter().all(|x| x.len() <= MAX_PACKET), "a part is too big");
        let mut out = None;
        for (i, x) in p.iter().enumerate() {
            let got = r.push(x).unwrap();
            if i + 1 < p.len() {
                assert!(got.is_none());
            } else {
                out = got;
            }
        }
        assert_eq!(out, Some(big));
    }

    #[test]
    fn lost_or_foreign_parts_drop_only_their_message() {
        let a = packets(&transcript(&"a".repeat(40_000)), 1).unwrap();
        let b = packets(&transcript(&"ب".repeat(30_000)), 2).unwrap();
        let mut r = Reassembler::default();
        r.push(&a[0]).unwrap();
        // Part 1 of `a` lost: part 2 is refused, and `b` still comes through.
        assert_eq!(r.push(&a[2]), Err(WireError::Parts));
        let mut last = None;
        for x in &b {
            last = r.push(x).unwrap();
        }
        assert!(matches!(last, Some(Wire::Event { .. })));
        // A new message starting while one is unfinished: the old one is dropped.
        r.push(&a[0]).unwrap();
        assert_eq!(r.push(&b[0]), Err(WireError::Parts));
        assert!(r.push(b"<html>proxy</html>").is_err());
        assert!(r
            .push(br#"{"type":"part","id":1,"index":3,"count":2,"data":""}"#)
            .is_err());
        let too_big = transcript(&"x".repeat(MAX_MESSAGE));
        assert!(matches!(packets(&too_big, 3), Err(WireError::TooLarge(_))));
    }

    #[test]
    fn only_a_supervisor_of_this_room_with_their_own_proof_may_command() {
        let c = LiveKitCredentials::new(None, "APItestkey", "a-secret-of-thirty-two-characters!")
            .unwrap();
        let proof = supervisor_proof(&c, "call-7", "sup-layla").unwrap();
        assert_eq!(check_supervisor(&c, "call-7", "sup-layla", &proof), Ok(()));
        let refused = |r: Result<(), RpcFailure>| r.unwrap_err().data.unwrap();
        // Someone else replaying it, another room, another secret.
        assert_eq!(
            refused(check_supervisor(&c, "call-7", "customer-1", &proof)),
            "not_a_supervisor"
        );
        assert!(check_supervisor(&c, "call-8", "sup-layla", &proof).is_err());
        let other =
            LiveKitCredentials::new(None, "APItestkey", "another-secret-of-32-characters!!")
                .unwrap();
        assert!(check_supervisor(&other, "call-7", "sup-layla", &proof).is_err());
        // A customer's or an agent's own token is no proof.
        for role in [Role::Customer, Role::Agent] {
            let t = mint(&c, &TokenRequest::new("call-7", "sup-layla", role)).unwrap();
            assert!(
                check_supervisor(&c, "call-7", "sup-layla", &t).is_err(),
                "{role:?}"
            );
        }
        assert!(check_supervisor(&c, "call-7", "sup-layla", "garbage").is_err());
    }
}
