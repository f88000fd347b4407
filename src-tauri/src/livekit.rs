//! "Join LiveKit room": the engine joins a room as the agent and answers the
//! caller there; the call appears on the wall like any other. The key pair comes
//! from the OS keyring (Settings → API keys) or the environment, the server from
//! Settings → LiveKit or `LIVEKIT_URL`.

use std::time::Duration;

use switchboard::lang::LangHint;
use switchboard::livekit::{start_room_call, LiveKitCredentials, RoomCall};
use switchboard::secrets::SecretStore;
use tauri::State;

use crate::commands::{call_setup, Audio, Reply, UiError};
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
    let lang = match lang.as_deref() {
        None => LangHint::Auto,
        Some(l) => LangHint::parse(l)
            .ok_or_else(|| UiError::new("bad_lang", format!("unknown language {l:?}")))?,
    };
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
