//! The registry of live calls: supervisor commands in, `CallEvent`s out.
//!
//! `CallHub` is the interface the desktop shell and tools use; `LocalHub` hosts calls
//! in this process. A remote hub (calls on `switchboard agent` workers, events over
//! LiveKit data messages, commands over RPC) implements the same trait, so the UI
//! never cares where a call runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::call::{spawn_call, CallHandle, CallSetup, CallStatus, SupervisorCommand};
use crate::events::{CallEvent, EventKind};

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no live call with id {0}")]
    UnknownCall(String),
    #[error("call {0} has ended")]
    Ended(String),
}

impl HubError {
    pub fn code(&self) -> &'static str {
        match self {
            HubError::UnknownCall(_) => "unknown_call",
            HubError::Ended(_) => "call_ended",
        }
    }
}

#[async_trait]
pub trait CallHub: Send + Sync {
    /// Every event of every call, from now on.
    fn subscribe(&self) -> broadcast::Receiver<CallEvent>;
    /// Live calls.
    fn calls(&self) -> Vec<CallStatus>;
    async fn command(&self, call_id: &str, cmd: SupervisorCommand) -> Result<(), HubError>;
}

/// Calls hosted in this process.
#[derive(Clone)]
pub struct LocalHub {
    inner: Arc<Inner>,
}

struct Inner {
    calls: Mutex<HashMap<String, CallHandle>>,
    events: broadcast::Sender<CallEvent>,
}

impl LocalHub {
    /// `capacity`: events buffered per subscriber before a slow one starts losing the
    /// oldest (it is told how many with `RecvError::Lagged`).
    pub fn new(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity.max(16));
        let hub = Self {
            inner: Arc::new(Inner {
                calls: Mutex::new(HashMap::new()),
                events,
            }),
        };
        hub.spawn_reaper();
        hub
    }

    /// Starts a call. Subscribe before this to see its `call_started`.
    pub fn start_call(&self, setup: CallSetup) -> CallHandle {
        let handle = spawn_call(setup, self.inner.events.clone());
        if let Ok(mut calls) = self.inner.calls.lock() {
            calls.insert(handle.call_id.clone(), handle.clone());
        }
        handle
    }

    pub fn get(&self, call_id: &str) -> Option<CallHandle> {
        self.inner
            .calls
            .lock()
            .ok()
            .and_then(|c| c.get(call_id).cloned())
    }

    pub fn len(&self) -> usize {
        self.inner.calls.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops ended calls from the registry as their `call_ended` goes by.
    fn spawn_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut rx = self.inner.events.subscribe();
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        if let EventKind::CallEnded { .. } = ev.kind {
                            let Some(inner) = weak.upgrade() else { return };
                            if let Ok(mut calls) = inner.calls.lock() {
                                calls.remove(&ev.call_id);
                            };
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let Some(inner) = weak.upgrade() else { return };
                        if let Ok(mut calls) = inner.calls.lock() {
                            calls.retain(|_, h| !h.status().ended);
                        };
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

#[async_trait]
impl CallHub for LocalHub {
    fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.inner.events.subscribe()
    }

    fn calls(&self) -> Vec<CallStatus> {
        let handles: Vec<CallHandle> = self
            .inner
            .calls
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        handles
            .iter()
            .map(CallHandle::status)
            .filter(|s| !s.ended)
            .collect()
    }

    async fn command(&self, call_id: &str, cmd: SupervisorCommand) -> Result<(), HubError> {
        let handle = self
            .get(call_id)
            .ok_or_else(|| HubError::UnknownCall(call_id.to_string()))?;
        handle
            .supervisor(cmd)
            .await
            .map_err(|_| HubError::Ended(call_id.to_string()))
    }
}
