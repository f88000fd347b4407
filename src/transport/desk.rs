//! The supervisor's desk: the sound devices of the computer the console runs
//! on, lent to live calls.
//!
//! - "Call from my microphone" (single seat): the local microphone is the
//!   customer and the agent answers through the speakers.
//! - Listening in: one call at a time plays on the supervisor's speakers.
//! - Takeover: the supervisor's microphone goes on a call's line.
//!
//! Devices are opened on a blocking thread (a sound server can take seconds to
//! answer) and released when the supervisor stops or the call ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::call::{CallCommand, CallConfig, CallHandle, CallSetup, Providers};
use crate::events::{CallEvent, CustomerInfo};
use crate::hub::LocalHub;

use super::local_device::{DeviceError, LocalDevices, LocalOptions, Microphone};
use super::monitor::CallMonitor;

/// What went wrong at the desk, worded for the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("call {0} is not live")]
    NoSuchCall(String),
    #[error("the sound device could not be opened: {0}")]
    Internal(String),
}

impl DeskError {
    pub fn code(&self) -> &'static str {
        match self {
            DeskError::Device(e) => e.code(),
            DeskError::NoSuchCall(_) => "no_such_call",
            DeskError::Internal(_) => "internal",
        }
    }
}

/// What the desk is doing, for the console.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DeskStatus {
    /// The call on the speakers.
    pub listening: Option<String>,
    /// Calls with the supervisor's microphone on the line.
    pub microphones: Vec<String>,
    /// Single-seat calls on this computer's microphone and speakers.
    pub local_calls: Vec<String>,
}

/// A single-seat call to start on the local devices.
pub struct LocalCall {
    pub call_id: String,
    pub customer: CustomerInfo,
    pub customer_context: Option<String>,
    pub config: CallConfig,
    pub providers: Providers,
    pub record: Option<tokio::sync::mpsc::UnboundedSender<CallEvent>>,
    pub devices: LocalOptions,
}

#[derive(Default)]
struct Inner {
    /// Single-seat calls and the devices they run on.
    local: HashMap<String, LocalDevices>,
    /// The call on the speakers.
    listening: Option<(String, CallMonitor)>,
    /// Supervisor microphones on calls' lines.
    mics: HashMap<String, Microphone>,
}

/// The devices of this computer, shared by the console's calls.
#[derive(Clone, Default)]
pub struct AudioDesk {
    inner: Arc<Mutex<Inner>>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeviceError> + Send + 'static,
) -> Result<T, DeskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeskError::Internal(e.to_string()))?
        .map_err(DeskError::from)
}

impl AudioDesk {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a call whose customer is the local microphone; the agent answers
    /// through the speakers. The speakers are the call's now: listening in on
    /// another call stops. The devices are released when the call ends.
    pub async fn start_local_call(
        &self,
        hub: &LocalHub,
        call: LocalCall,
    ) -> Result<CallHandle, DeskError> {
        self.stop_listening(hub).await;
        let opts = call.devices.clone();
        let mut devices = blocking(move || LocalDevices::open_with(opts)).await?;
        let io = devices
            .call_io()
            .ok_or_else(|| DeskError::Internal("call ends missing".into()))?;
        let handle = hub.start_call(CallSetup {
            call_id: call.call_id.clone(),
            customer: call.customer,
            customer_context: call.customer_context,
            config: call.config,
            providers: call.providers,
            io,
            record: call.record,
        });
        self.lock().local.insert(call.call_id.clone(), devices);
        let desk = self.clone();
        let watch = handle.clone();
        tokio::spawn(async move {
            watch.ended().await;
            let devices = desk.lock().local.remove(&watch.call_id);
            if let Some(mut d) = devices {
                let _ = tokio::task::spawn_blocking(move || d.stop()).await;
            }
        });
        Ok(handle)
    }

    /// Plays `call_id` on the speakers (the default or a named output),
    /// instead of the call listened to so far. Returns the device's name.
    pub async fn listen(
        &self,
        hub: &LocalHub,
        call_id: &str,
        output: Option<String>,
    ) -> Result<String, DeskError> {
        let handle = hub
            .get(call_id)
            .ok_or_else(|| DeskError::NoSuchCall(call_id.into()))?;
        self.stop_listening(hub).await;
        let (monitor, tap) = blocking(move || CallMonitor::open(output.as_deref())).await?;
        let device = monitor.device().to_string();
        if handle.send(CallCommand::Monitor(Some(tap))).await.is_err() {
            return Err(DeskError::NoSuchCall(call_id.into()));
        }
        self.lock().listening = Some((call_id.to_string(), monitor));
        let desk = self.clone();
        tokio::spawn(async move {
            handle.ended().await;
            let stale = {
                let mut inner = desk.lock();
                match &inner.listening {
                    Some((id, _)) if *id == handle.call_id => inner.listening.take(),
                    _ => None,
                }
            };
            if let Some((_, mut m)) = stale {
                let _ = tokio::task::spawn_blocking(move || m.stop()).await;
            }
        });
        Ok(device)
    }

    /// Stops playing the call listened to, if any.
    pub async fn stop_listening(&self, hub: &LocalHub) {
        let current = self.lock().listening.take();
        if let Some((id, mut monitor)) = current {
            if let Some(h) = hub.get(&id) {
                let _ = h.send(CallCommand::Monitor(None)).await;
            }
            let _ = tokio::task::spawn_blocking(move || monitor.stop()).await;
        }
    }

    /// The call on the speakers.
    pub fn listening(&self) -> Option<String> {
        self.lock().listening.as_ref().map(|(id, _)| id.clone())
    }

    /// Puts the supervisor's microphone (default or named input) on the call's
    /// line; the customer hears it while the supervisor is in control. Returns
    /// the device's name.
    pub async fn attach_microphone(
        &self,
        hub: &LocalHub,
        call_id: &str,
        input: Option<String>,
    ) -> Result<String, DeskError> {
        let handle = hub
            .get(call_id)
            .ok_or_else(|| DeskError::NoSuchCall(call_id.into()))?;
        self.detach_microphone(call_id).await;
        let (mic, rx) = blocking(move || Microphone::open(input.as_deref())).await?;
        let device = mic.info().device.clone();
        if handle.send(CallCommand::SupervisorAudio(rx)).await.is_err() {
            return Err(DeskError::NoSuchCall(call_id.into()));
        }
        self.lock().mics.insert(call_id.to_string(), mic);
        let desk = self.clone();
        tokio::spawn(async move {
            handle.ended().await;
            desk.detach_microphone(&handle.call_id).await;
        });
        Ok(device)
    }

    /// Takes the supervisor's microphone off the call's line.
    pub async fn detach_microphone(&self, call_id: &str) {
        let mic = self.lock().mics.remove(call_id);
        if let Some(mut m) = mic {
            // Closing the capture channel tells the call the microphone is gone.
            let _ = tokio::task::spawn_blocking(move || m.stop()).await;
        }
    }

    /// Calls with the supervisor's microphone on the line.
    pub fn microphones(&self) -> Vec<String> {
        self.lock().mics.keys().cloned().collect()
    }

    /// Single-seat calls running on the local devices.
    pub fn local_calls(&self) -> Vec<String> {
        self.lock().local.keys().cloned().collect()
    }

    pub fn status(&self) -> DeskStatus {
        let inner = self.lock();
        let mut microphones: Vec<String> = inner.mics.keys().cloned().collect();
        let mut local_calls: Vec<String> = inner.local.keys().cloned().collect();
        microphones.sort();
        local_calls.sort();
        DeskStatus {
            listening: inner.listening.as_ref().map(|(id, _)| id.clone()),
            microphones,
            local_calls,
        }
    }
}
