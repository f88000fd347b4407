//! The console's half: calls hosted by workers in LiveKit rooms, on the same
//! wall as the console's own. Their events come in as data packets, are put in
//! order (history first, repeats dropped) and go out on the console's event
//! channel like any local call's; commands go back to the worker by RPC.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::call::{CallStatus, SupervisorCommand};
use crate::events::{CallEvent, EventKind};
use crate::hub::{CallHub, HubError};

use super::super::credentials::LiveKitCredentials;
use super::wire::{
    supervisor_proof, CommandRequest, Reassembler, RpcFailure, SyncReply, Wire, COMMAND_METHOD,
    EVENTS_TOPIC, SYNC_METHOD,
};

/// Messages held while a worker's history is on its way; past this the
/// console stops waiting and shows what it has.
const PENDING_MAX: usize = 10_000;

/// How the console reaches the workers of one room (LiveKit RPC in a joined
/// room; the tests' in-memory room).
#[async_trait]
pub trait WorkerLink: Send + Sync {
    async fn rpc(&self, to: &str, method: &str, payload: String) -> Result<String, RpcFailure>;
}

#[derive(Clone)]
pub struct RemoteHub {
    events: broadcast::Sender<CallEvent>,
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<String, RoomState>,
    calls: HashMap<String, RemoteCall>,
}

struct RoomState {
    /// Our identity in the room (the proofs name it).
    identity: String,
    /// The deployment's key pair, which signs our proofs.
    creds: LiveKitCredentials,
    link: Arc<dyn WorkerLink>,
    workers: HashMap<String, Sender>,
}

/// One worker's stream of messages.
#[derive(Default)]
struct Sender {
    parts: Reassembler,
    /// Its history has arrived (or will not): messages go straight out.
    synced: bool,
    sync_started: bool,
    pending: BTreeMap<u64, Wire>,
    last: u64,
}

struct RemoteCall {
    room: String,
    worker: String,
    status: Option<CallStatus>,
}

impl RemoteHub {
    /// `events`: where remote calls' events go (the console's own channel, so
    /// the wall shows every call the same way).
    pub fn new(events: broadcast::Sender<CallEvent>) -> Self {
        Self {
            events,
            inner: Arc::new(Mutex::new(State::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the calls of `room`, which the console joined as `identity`
    /// with the deployment's `creds`.
    pub fn attach(
        &self,
        room: &str,
        identity: &str,
        creds: LiveKitCredentials,
        link: Arc<dyn WorkerLink>,
    ) {
        self.lock().rooms.insert(
            room.to_string(),
            RoomState {
                identity: identity.to_string(),
                creds,
                link,
                workers: HashMap::new(),
            },
        );
    }

    /// Stops following `room`: its calls leave the wall (they go on on their
    /// worker). Returns their ids.
    pub fn detach(&self, room: &str) -> Vec<String> {
        let mut s = self.lock();
        s.rooms.remove(room);
        let gone: Vec<String> = s
            .calls
            .iter()
            .filter(|(_, c)| c.room == room)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            s.calls.remove(id);
        }
        gone
    }

    /// Rooms followed.
    pub fn rooms(&self) -> Vec<String> {
        self.lock().rooms.keys().cloned().collect()
    }

    /// The room a remote call is in.
    pub fn room_of(&self, call_id: &str) -> Option<String> {
        self.lock().calls.get(call_id).map(|c| c.room.clone())
    }

    /// A worker is in `room`: fetch its calls so far (once per worker).
    pub fn worker_seen(&self, room: &str, worker: &str) {
        let start = {
            let mut s = self.lock();
            let Some(r) = s.rooms.get_mut(room) else {
                return;
            };
            let w = r.workers.entry(worker.to_string()).or_default();
            let start = !w.sync_started;
            w.sync_started = true;
            start.then(|| (r.link.clone(), r.identity.clone(), r.creds.clone()))
        };
        let Some((link, identity, creds)) = start else {
            return;
        };
        let hub = self.clone();
        let (room, worker) = (room.to_string(), worker.to_string());
        tokio::spawn(async move {
            hub.sync(&link, &creds, &room, &identity, &worker).await;
            hub.synced(&room, &worker);
        });
    }

    async fn sync(
        &self,
        link: &Arc<dyn WorkerLink>,
        creds: &LiveKitCredentials,
        room: &str,
        identity: &str,
        worker: &str,
    ) {
        let Ok(proof) = supervisor_proof(creds, room, identity) else {
            return;
        };
        let payload = serde_json::json!({ "proof": proof }).to_string();
        match link.rpc(worker, SYNC_METHOD, payload).await {
            Ok(reply) => {
                // The history arrived before the reply (one sender's packets
                // keep their order); `through` is for tools and logs.
                if let Ok(r) = serde_json::from_str::<SyncReply>(&reply) {
                    tracing::debug!(%room, through = r.through, "a worker's calls so far arrived");
                }
            }
            Err(e) => {
                // An older worker, or one leaving: show what arrives from now on.
                tracing::warn!(%room, code = ?e.data, "a worker's calls so far were not fetched");
            }
        }
    }

    fn synced(&self, room: &str, worker: &str) {
        let out = {
            let mut s = self.lock();
            let State { rooms, calls } = &mut *s;
            let Some(w) = rooms.get_mut(room).and_then(|r| r.workers.get_mut(worker)) else {
                return;
            };
            w.synced = true;
            let pending = std::mem::take(&mut w.pending);
            let mut out = Vec::new();
            for (_, m) in pending {
                accept(w, calls, room, worker, m, &mut out);
            }
            out
        };
        self.emit(out);
    }

    /// A data packet from `from` in `room`.
    pub fn packet(&self, room: &str, from: &str, topic: &str, data: &[u8]) {
        if topic != EVENTS_TOPIC {
            return;
        }
        let (out, first) = {
            let mut s = self.lock();
            let State { rooms, calls } = &mut *s;
            let Some(r) = rooms.get_mut(room) else {
                return;
            };
            let w = r.workers.entry(from.to_string()).or_default();
            let msg = match w.parts.push(data) {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(%room, error = %e, "a message from a worker was dropped");
                    return;
                }
            };
            let first = !w.sync_started;
            let mut out = Vec::new();
            if w.synced {
                accept(w, calls, room, from, msg, &mut out);
            } else if let Some(seq) = msg.seq() {
                w.pending.insert(seq, msg);
                if w.pending.len() > PENDING_MAX {
                    w.synced = true;
                    for (_, m) in std::mem::take(&mut w.pending) {
                        accept(w, calls, room, from, m, &mut out);
                    }
                }
            }
            (out, first)
        };
        self.emit(out);
        if first {
            self.worker_seen(room, from);
        }
    }

    /// The worker `who` left `room`: its calls cannot be followed any more.
    pub fn worker_left(&self, room: &str, who: &str) {
        let mut s = self.lock();
        if let Some(r) = s.rooms.get_mut(room) {
            r.workers.remove(who);
        }
    }

    fn emit(&self, out: Vec<CallEvent>) {
        for ev in out {
            let _ = self.events.send(ev);
        }
    }

    fn route(&self, call_id: &str) -> Result<(Arc<dyn WorkerLink>, String, String), HubError> {
        let s = self.lock();
        let call = s
            .calls
            .get(call_id)
            .ok_or_else(|| HubError::UnknownCall(call_id.to_string()))?;
        let room = s
            .rooms
            .get(&call.room)
            .ok_or_else(|| HubError::UnknownCall(call_id.to_string()))?;
        Ok((
            room.link.clone(),
            call.worker.clone(),
            proof_for(&room.creds, &call.room, &room.identity)?,
        ))
    }
}

fn proof_for(creds: &LiveKitCredentials, room: &str, identity: &str) -> Result<String, HubError> {
    supervisor_proof(creds, room, identity).map_err(|e| HubError::Refused(e.to_string()))
}

/// One message in order from worker `from`: repeats dropped, statuses kept,
/// events passed on.
fn accept(
    w: &mut Sender,
    calls: &mut HashMap<String, RemoteCall>,
    room: &str,
    from: &str,
    msg: Wire,
    out: &mut Vec<CallEvent>,
) {
    let Some(seq) = msg.seq() else { return };
    if seq <= w.last {
        return;
    }
    w.last = seq;
    match msg {
        Wire::Event { event, .. } => {
            match &event.kind {
                EventKind::CallEnded { .. } => {
                    calls.remove(&event.call_id);
                }
                _ => {
                    calls
                        .entry(event.call_id.clone())
                        .or_insert_with(|| RemoteCall {
                            room: room.to_string(),
                            worker: from.to_string(),
                            status: None,
                        });
                }
            }
            out.push(event);
        }
        Wire::Status { status, .. } => {
            if status.ended {
                calls.remove(&status.call_id);
                return;
            }
            let c = calls
                .entry(status.call_id.clone())
                .or_insert_with(|| RemoteCall {
                    room: room.to_string(),
                    worker: from.to_string(),
                    status: None,
                });
            c.status = Some(status);
        }
        Wire::Part { .. } => {}
    }
}

#[async_trait]
impl CallHub for RemoteHub {
    fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }

    fn calls(&self) -> Vec<CallStatus> {
        self.lock()
            .calls
            .values()
            .filter_map(|c| c.status.clone())
            .collect()
    }

    async fn command(&self, call_id: &str, command: SupervisorCommand) -> Result<(), HubError> {
        let (link, worker, proof) = self.route(call_id)?;
        let payload = serde_json::to_string(&CommandRequest {
            call_id: call_id.to_string(),
            command,
            proof,
        })
        .map_err(|e| HubError::Refused(e.to_string()))?;
        match link.rpc(&worker, COMMAND_METHOD, payload).await {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.data.as_deref() {
                Some("unknown_call") => HubError::UnknownCall(call_id.to_string()),
                Some("call_ended") => HubError::Ended(call_id.to_string()),
                Some(_) => HubError::Refused(e.message),
                // LiveKit's own failures: timeout, recipient gone, send failed.
                None => HubError::Unreachable(format!("{} (LiveKit RPC {})", e.message, e.code)),
            }),
        }
    }
}

/// LiveKit RPC from our participant in a joined room.
#[async_trait]
impl WorkerLink for super::super::ffi::RoomSender {
    async fn rpc(&self, to: &str, method: &str, payload: String) -> Result<String, RpcFailure> {
        self.call(to, method, payload, RPC_TIMEOUT).await
    }
}

/// How long a worker has to answer a command.
pub const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
