//! The worker's half: its calls' events and statuses numbered and cut into data
//! packets for the room, a bounded history for supervisors who attach later,
//! and supervisor commands (checked against their proof) handed to the hub.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use crate::call::{CallStatus, SupervisorCommand};
use crate::events::{CallEvent, EventKind};
use crate::hub::{CallHub, HubError};

use super::super::credentials::LiveKitCredentials;
use super::wire::{
    check_supervisor, packets, CommandRequest, RpcFailure, SyncReply, SyncRequest, Wire,
    COMMAND_METHOD, SYNC_METHOD,
};

/// Messages kept for supervisors who attach late (final lines, replies,
/// sentiment, routing, errors; never interim transcripts).
pub const HISTORY_MAX: usize = 4000;

pub struct Relay {
    room: String,
    creds: LiveKitCredentials,
    hub: Arc<dyn CallHub>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    seq: u64,
    part_id: u64,
    history: VecDeque<Wire>,
    latest_status: Option<Wire>,
    supervisors: HashSet<String>,
}

/// What an RPC comes to: the reply, and data for the caller alone, to send
/// before the reply.
#[derive(Debug)]
pub struct Invoked {
    pub reply: Result<String, RpcFailure>,
    pub to_caller: Vec<Vec<u8>>,
}

impl Relay {
    pub fn new(room: &str, creds: LiveKitCredentials, hub: Arc<dyn CallHub>) -> Self {
        Self {
            room: room.to_string(),
            creds,
            hub,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Packets announcing `ev` to the room.
    pub fn event(&self, ev: CallEvent) -> Vec<Vec<u8>> {
        let keep = !matches!(
            ev.kind,
            EventKind::Transcript {
                is_final: false,
                ..
            }
        );
        let mut s = self.lock();
        s.seq += 1;
        let msg = Wire::Event {
            seq: s.seq,
            event: ev,
        };
        let out = encode(&mut s, &msg);
        if keep && !out.is_empty() {
            if s.history.len() == HISTORY_MAX {
                s.history.pop_front();
            }
            s.history.push_back(msg);
        }
        out
    }

    /// Packets announcing a call's new status to the room.
    pub fn status(&self, status: CallStatus) -> Vec<Vec<u8>> {
        let mut s = self.lock();
        s.seq += 1;
        let msg = Wire::Status { seq: s.seq, status };
        let out = encode(&mut s, &msg);
        s.latest_status = Some(msg);
        out
    }

    /// Whether `identity` proved to be a supervisor of this room (their
    /// microphone is then the supervisor's voice during a takeover).
    pub fn is_supervisor(&self, identity: &str) -> bool {
        self.lock().supervisors.contains(identity)
    }

    /// An RPC from `caller`, the identity LiveKit vouches for.
    pub async fn invoke(&self, method: &str, caller: &str, payload: &str) -> Invoked {
        let none = |reply| Invoked {
            reply,
            to_caller: Vec::new(),
        };
        match method {
            COMMAND_METHOD => {
                let req: CommandRequest = match serde_json::from_str(payload) {
                    Ok(r) => r,
                    Err(e) => return none(Err(bad_request(e))),
                };
                if let Err(e) = self.admit(caller, &req.proof) {
                    return none(Err(e));
                }
                tracing::info!(
                    call_id = %req.call_id,
                    action = action_name(&req.command),
                    "supervisor command from the room"
                );
                let done = self.hub.command(&req.call_id, req.command).await;
                none(done.map(|()| "{}".to_string()).map_err(|e| refusal(&e)))
            }
            SYNC_METHOD => {
                let req: SyncRequest = match serde_json::from_str(payload) {
                    Ok(r) => r,
                    Err(e) => return none(Err(bad_request(e))),
                };
                if let Err(e) = self.admit(caller, &req.proof) {
                    return none(Err(e));
                }
                let mut s = self.lock();
                let mut msgs: Vec<Wire> = s.history.iter().cloned().collect();
                if let Some(st) = s.latest_status.clone() {
                    let at = msgs.partition_point(|m| m.seq() < st.seq());
                    msgs.insert(at, st);
                }
                let through = s.seq;
                let mut to_caller = Vec::new();
                for m in &msgs {
                    to_caller.extend(encode(&mut s, m));
                }
                let reply = serde_json::to_string(&SyncReply { through })
                    .map_err(|e| RpcFailure::app("internal", e.to_string()));
                Invoked { reply, to_caller }
            }
            other => none(Err(RpcFailure {
                code: 1400,
                message: format!(
                    "no method {:?} here",
                    other.chars().take(60).collect::<String>()
                ),
                data: Some("unsupported_method".into()),
            })),
        }
    }

    fn admit(&self, caller: &str, proof: &str) -> Result<(), RpcFailure> {
        check_supervisor(&self.creds, &self.room, caller, proof)?;
        self.lock().supervisors.insert(caller.to_string());
        Ok(())
    }
}

fn encode(s: &mut State, msg: &Wire) -> Vec<Vec<u8>> {
    s.part_id += 1;
    match packets(msg, s.part_id) {
        Ok(p) => p,
        Err(e) => {
            // Only a message over a megabyte; the wall misses it, the record has it.
            tracing::warn!(error = %e, "call message not sent to the room");
            Vec::new()
        }
    }
}

fn action_name(c: &SupervisorCommand) -> &'static str {
    match c {
        SupervisorCommand::Takeover => "takeover",
        SupervisorCommand::Handback => "handback",
        SupervisorCommand::Pin { .. } => "pin",
        SupervisorCommand::Unpin => "unpin",
        SupervisorCommand::Whisper { .. } => "whisper",
        SupervisorCommand::Say { .. } => "say",
        SupervisorCommand::End => "end",
    }
}

fn bad_request(e: serde_json::Error) -> RpcFailure {
    RpcFailure::app(
        "bad_request",
        format!(
            "not a Switchboard request: {}",
            e.to_string().chars().take(120).collect::<String>()
        ),
    )
}

fn refusal(e: &HubError) -> RpcFailure {
    RpcFailure::app(e.code(), e.to_string())
}
