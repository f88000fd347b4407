//! LiveKit rooms from the console. "Join LiveKit room": the engine joins a room
//! as the agent and answers the caller there; the call appears on the wall like
//! any other. "Listen in": the supervisor hears a room's call (one a
//! `switchboard agent` worker hosts, say) on the speakers, unseen. The key pair
//! comes from the OS keyring (Settings → API keys) or the environment, the
//! server from Settings → LiveKit rooms or `LIVEKIT_URL`.

use std::sync::Mutex;
use std::time::Duration;

use switchboard::livekit::{
    listen_to_room, start_room_call, LiveKitCredentials, RoomCall, RoomListener,
};
use switchboard::secrets::SecretStore;
use switchboard::transport::CallMonitor;
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

/// The room the supervisor listens to, with its speakers.
#[derive(Default)]
pub struct RoomListening(Mutex<Option<(String, RoomListener, CallMonitor)>>);

impl RoomListening {
    fn take(&self) -> Option<(String, RoomListener, CallMonitor)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The room listened to, if its connection still stands.
    fn current(&self) -> Option<String> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(_, l, _)| !l.is_finished())
            .map(|(room, _, _)| room.clone())
    }
}

async fn stop(entry: Option<(String, RoomListener, CallMonitor)>) {
    if let Some((_, listener, mut monitor)) = entry {
        listener.stop().await;
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
    match listen_to_room(&creds, &room, &identity, tap).await {
        Ok(listener) => {
            *listening.0.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((room.clone(), listener, monitor));
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
