//! Calls hosted by `switchboard agent` workers, on supervisors' walls — the
//! remote hub of DESIGN.md's "Scale" section. LiveKit carries all of it in the
//! call's own room: the worker publishes its calls' events and statuses as data
//! ([`relay`]), the console follows them and sends supervisor commands back by
//! LiveKit RPC ([`hub::RemoteHub`], a [`crate::hub::CallHub`] like the local
//! one), and what they say to each other is in [`wire`].

pub mod bench;
pub mod hub;
pub mod relay;
pub mod wire;

use tokio::sync::{broadcast, watch};

use crate::call::{CallHandle, CallStatus};
use crate::events::CallEvent;

pub use hub::{RemoteHub, WorkerLink};
pub use relay::{Invoked, Relay};
pub use wire::{RpcFailure, Wire, COMMAND_METHOD, EVENTS_TOPIC, SYNC_METHOD};

/// One call's events and status changes, as packets for its room.
pub struct RelayFeed {
    call_id: String,
    events: broadcast::Receiver<CallEvent>,
    status: watch::Receiver<CallStatus>,
}

impl RelayFeed {
    /// Subscribe to `events` before the call starts to relay its `call_started`.
    pub fn new(handle: &CallHandle, events: broadcast::Receiver<CallEvent>) -> Self {
        let mut status = handle.watch();
        status.mark_changed();
        Self {
            call_id: handle.call_id.clone(),
            events,
            status,
        }
    }

    /// The packets of the call's next event or status change; None once the
    /// call's events are over.
    pub async fn next(&mut self, relay: &Relay) -> Option<Vec<Vec<u8>>> {
        loop {
            tokio::select! {
                biased;
                ev = self.events.recv() => match ev {
                    Ok(ev) if ev.call_id == self.call_id => return Some(relay.event(ev)),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        // The wall misses them; the CRM record does not.
                        tracing::warn!(call_id = %self.call_id, missed = n, "call events not relayed to the room");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = self.status.changed() => {
                    if changed.is_err() {
                        // The call is gone; its last events may still be queued.
                        continue;
                    }
                    let s = self.status.borrow_and_update().clone();
                    return Some(relay.status(s));
                }
            }
        }
    }
}
