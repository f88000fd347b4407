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
    /// A worker hosting the call refused the command (not a supervisor of its room…).
    #[error("the call's worker refused: {0}")]
    Refused(String),
    /// The worker hosting the call did not answer (left the room, network).
    #[error("the call's worker did not answer: {0}")]
    Unreachable(String),
}

impl HubError {
    pub fn code(&self) -> &'static str {
        match self {
            HubError::UnknownCall(_) => "unknown_call",
            HubError::Ended(_) => "call_ended",
            HubError::Refused(_) => "worker_refused",
            HubError::Unreachable(_) => "worker_unreachable",
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

    /// The event channel itself, for components that speak for calls (the CRM
    /// writer reports outages of a call's records there).
    pub fn event_sender(&self) -> broadcast::Sender<CallEvent> {
        self.inner.events.clone()
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;
    use crate::call::{CallCommand, CallConfig, CallIo, CallSetup, Controller, Providers};
    use crate::events::CustomerInfo;
    use crate::sentiment::LexiconSentiment;
    use crate::tts::fake::FakeTextToSpeech;

    fn setup(id: &str) -> (CallSetup, mpsc::Sender<crate::call::InboundFrame>) {
        let (cust_tx, cust_rx) = mpsc::channel(8);
        let (agent_tx, mut agent_rx) = mpsc::channel(1024);
        tokio::spawn(async move { while agent_rx.recv().await.is_some() {} });
        let setup = CallSetup {
            call_id: id.into(),
            customer: CustomerInfo::default(),
            customer_context: None,
            record: None,
            config: CallConfig {
                greet: false,
                ..Default::default()
            },
            providers: Providers {
                stt: None,
                llm: None,
                tts: vec![Arc::new(FakeTextToSpeech::new())],
                sentiment: Arc::new(LexiconSentiment::new()),
                end_of_turn: None,
            },
            io: CallIo {
                customer_audio: cust_rx,
                supervisor_audio: None,
                agent_audio: agent_tx,
                transport: "memory".into(),
                room: None,
            },
        };
        (setup, cust_tx)
    }

    #[tokio::test]
    async fn commands_reach_live_calls_and_ended_calls_leave_the_wall() {
        let hub = LocalHub::new(64);
        let (a, _a_line) = setup("a");
        let (b, _b_line) = setup("b");
        let ha = hub.start_call(a);
        let _hb = hub.start_call(b);
        let mut ids: Vec<String> = hub.calls().into_iter().map(|s| s.call_id).collect();
        ids.sort();
        assert_eq!(ids, vec!["a", "b"]);
        hub.command("a", SupervisorCommand::Takeover).await.unwrap();
        ha.wait_for(Duration::from_secs(2), |s| {
            s.controller == Controller::Supervisor
        })
        .await
        .unwrap();
        let err = hub
            .command("nope", SupervisorCommand::Handback)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "unknown_call");
        ha.send(CallCommand::Hangup).await.unwrap();
        ha.ended().await;
        // The reaper drops it once its call_ended goes by.
        for _ in 0..100 {
            if hub.len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(hub.calls().len(), 1);
        assert!(hub.command("a", SupervisorCommand::Handback).await.is_err());
    }

    #[tokio::test]
    async fn a_closed_customer_line_ends_the_call() {
        let hub = LocalHub::new(64);
        let mut rx = hub.subscribe();
        let (s, line) = setup("c");
        let h = hub.start_call(s);
        drop(line);
        h.ended().await;
        let mut reason = None;
        while let Ok(ev) = rx.try_recv() {
            if let EventKind::CallEnded { reason: r, .. } = ev.kind {
                reason = Some(r);
            }
        }
        assert_eq!(reason, Some(crate::events::EndReason::TransportClosed));
    }
}
