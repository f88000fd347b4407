//! LiveKit rooms from the console. "Join LiveKit room": the engine joins a room
//! as the agent and answers the caller there; the call appears on the wall like
//! any other. "Listen in": the supervisor hears a room's call (one a
//! `switchboard agent` worker hosts, say) on the speakers, unseen, and the
//! call joins the wall: its events come from the worker through the room, and
//! taking it over puts the supervisor's microphone on its line. The key pair
//! comes from the OS keyring (Settings → API keys) or the environment, the
//! server from Settings → LiveKit rooms or `LIVEKIT_URL`.

use std::sync::Mutex;
use std::time::Duration;

use switchboard::hub::CallHub;
use switchboard::livekit::{
    listen_to_room, start_room_call, LiveKitCredentials, RoomCall, RoomListener,
};
use switchboard::secrets::SecretStore;
use switchboard::transport::{CallMonitor, DeskStatus, Microphone};
use tauri::State;

use crate::commands::{call_setup, lang_hint, Audio, Reply, UiError};
use crate::state::AppState;

/// How long the agent waits in an empty room for a caller.
const CUSTOMER_WAIT: Duration = Duration::from_secs(120);

/// Joins `room` and starts its call once a caller is there; returns the call id.
#[tauri::command]
pub async fn join_livekit_room(
    state: State<'_, AppState>,
    room: String,
    lang: Option<String>,
) -> Reply<String> {
    let room = room.trim().to_string();
    switchboard::livekit::token::check_name("room name", &room)
        .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    let lang = lang_hint(lang.as_deref())?;
    let creds = credentials(&state).await?;
    let (config, providers) = call_setup(&state, lang, Audio::Recognized).await?;
    let call_id = uuid::Uuid::new_v4().to_string();
    let call = RoomCall {
        room,
        agent_identity: "switchboard-agent".into(),
        call_id: call_id.clone(),
        config,
        providers,
        crm: state.store.clone(),
        record: state.writer.as_ref().map(|w| w.recorder()),
        customer_wait: CUSTOMER_WAIT,
        room_options: Default::default(),
    };
    start_room_call(&state.hub, &creds, call)
        .await
        .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    Ok(call_id)
}

/// The key pair and the server, or why not (read off the async workers: the
/// keyring may take a while).
async fn credentials(state: &AppState) -> Reply<LiveKitCredentials> {
    let url = state.current_settings().livekit.url;
    let creds = tauri::async_runtime::spawn_blocking(move || {
        LiveKitCredentials::load(&SecretStore::from_env(), url.as_deref())
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?
    .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    creds
        .url()
        .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    Ok(creds)
}

/// The room the supervisor listens to, with its speakers and, during a
/// takeover of its call, their microphone.
#[derive(Default)]
pub struct RoomListening(Mutex<Option<Listening>>);

pub struct Listening {
    room: String,
    listener: RoomListener,
    monitor: CallMonitor,
    /// The call taken over, and the microphone on its line.
    mic: Option<(String, Microphone)>,
}

impl RoomListening {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Listening>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self) -> Option<Listening> {
        self.lock().take()
    }

    /// The room listened to, if its connection still stands.
    fn current(&self) -> Option<String> {
        self.lock()
            .as_ref()
            .filter(|l| !l.listener.is_finished())
            .map(|l| l.room.clone())
    }

    /// The desk's status with the followed room's calls: they are on the
    /// speakers, and the one taken over has the microphone.
    pub fn merge(&self, state: &AppState, mut status: DeskStatus) -> DeskStatus {
        let guard = self.lock();
        let Some(l) = guard.as_ref().filter(|l| !l.listener.is_finished()) else {
            return status;
        };
        if status.listening.is_none() {
            status.listening = state
                .remote
                .calls()
                .into_iter()
                .map(|c| c.call_id)
                .find(|id| state.remote.room_of(id).as_deref() == Some(l.room.as_str()));
        }
        if let Some((call_id, _)) = &l.mic {
            status.microphones.push(call_id.clone());
        }
        status
    }

    /// Puts the supervisor's microphone on the line of `call_id`, a call
    /// followed in the room listened to (it was just taken over).
    pub async fn speak(&self, call_id: &str, input: Option<String>) -> Reply<()> {
        let voice = {
            let guard = self.lock();
            let l = guard.as_ref().ok_or_else(|| not_followed(call_id))?;
            l.listener.voice()
        };
        self.quiet().await;
        let (mic, rx) =
            tauri::async_runtime::spawn_blocking(move || Microphone::open(input.as_deref()))
                .await
                .map_err(|e| UiError::new("internal", e.to_string()))?
                .map_err(|e| UiError::new(e.code(), e.to_string()))?;
        if let Err(e) = voice.speak(rx).await {
            stop_mic(mic).await;
            return Err(UiError::new(e.code(), e.to_string()));
        }
        match self.lock().as_mut() {
            Some(l) => l.mic = Some((call_id.to_string(), mic)),
            None => {
                drop(mic);
            }
        }
        Ok(())
    }

    /// Takes the supervisor's microphone off the followed call's line.
    pub async fn quiet(&self) {
        let (voice, mic) = {
            let mut guard = self.lock();
            match guard.as_mut() {
                Some(l) => (Some(l.listener.voice()), l.mic.take()),
                None => (None, None),
            }
        };
        if let Some((_, mic)) = mic {
            if let Some(v) = voice {
                v.quiet().await;
            }
            stop_mic(mic).await;
        }
    }
}

fn not_followed(call_id: &str) -> UiError {
    UiError::new(
        "unknown_call",
        format!("call {call_id} is not in the room listened to"),
    )
}

async fn stop_mic(mut mic: Microphone) {
    let _ = tauri::async_runtime::spawn_blocking(move || mic.stop()).await;
}

async fn stop(entry: Option<Listening>) {
    if let Some(l) = entry {
        if let Some((_, mic)) = l.mic {
            stop_mic(mic).await;
        }
        l.listener.stop().await;
        let mut monitor = l.monitor;
        let _ = tauri::async_runtime::spawn_blocking(move || monitor.stop()).await;
    }
}

/// Listens in on `room` (instead of the room listened to so far), or stops
/// (`room: null`). Returns the room now listened to.
#[tauri::command]
pub async fn listen_livekit_room(
    state: State<'_, AppState>,
    listening: State<'_, RoomListening>,
    room: Option<String>,
) -> Reply<Option<String>> {
    stop(listening.take()).await;
    let Some(room) = room.map(|r| r.trim().to_string()) else {
        return Ok(None);
    };
    switchboard::livekit::token::check_name("room name", &room)
        .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    let creds = credentials(&state).await?;
    let output = state.current_settings().audio.output_device;
    let (monitor, tap) =
        tauri::async_runtime::spawn_blocking(move || CallMonitor::open(output.as_deref()))
            .await
            .map_err(|e| UiError::new("internal", e.to_string()))??;
    // An identity of its own, so two supervisors never push each other out.
    let identity = format!(
        "supervisor-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    match listen_to_room(&creds, &room, &identity, tap, Some(state.remote.clone())).await {
        Ok(listener) => {
            *listening.lock() = Some(Listening {
                room: room.clone(),
                listener,
                monitor,
                mic: None,
            });
            Ok(Some(room))
        }
        Err(e) => {
            let mut monitor = monitor;
            let _ = tauri::async_runtime::spawn_blocking(move || monitor.stop()).await;
            Err(UiError::new(e.code(), e.to_string()))
        }
    }
}

/// The room listened to (null once it has closed).
#[tauri::command]
pub fn livekit_listening(listening: State<'_, RoomListening>) -> Option<String> {
    listening.current()
}
