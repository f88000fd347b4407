//! Sound-card commands: device lists, "Call from my microphone", listening in on
//! a call, and the supervisor's microphone during a takeover. Each adapts one
//! `AudioDesk` call; device problems come back as `{code, message}` for the UI
//! to show in place (the rest of the console keeps working).

use switchboard::events::CustomerInfo;
use switchboard::transport::{
    list_devices, AudioDesk, DeskError, DeskStatus, DeviceError, DeviceList, EchoGuardConfig,
    LocalCall, LocalOptions,
};
use tauri::State;

use crate::commands::{call_setup, lang_hint, Audio, Reply, UiError};
use crate::livekit::RoomListening;
use crate::state::AppState;

impl From<DeskError> for UiError {
    fn from(e: DeskError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

impl From<DeviceError> for UiError {
    fn from(e: DeviceError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

/// Microphones and speakers to pick from (ALSA pseudo-devices left out).
#[tauri::command]
pub async fn list_audio_devices() -> Reply<DeviceList> {
    tauri::async_runtime::spawn_blocking(list_devices)
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?
        .map_err(UiError::from)
}

#[tauri::command]
pub fn desk_status(
    state: State<'_, AppState>,
    desk: State<'_, AudioDesk>,
    rooms: State<'_, RoomListening>,
) -> DeskStatus {
    rooms.merge(&state, desk.status())
}

/// Single seat: the local microphone is the customer, the agent answers through
/// the speakers (or headset). `lang`: "ar", "en" or "auto".
#[tauri::command]
pub async fn start_mic_call(
    state: State<'_, AppState>,
    desk: State<'_, AudioDesk>,
    lang: Option<String>,
) -> Reply<String> {
    let lang = lang_hint(lang.as_deref())?;
    let settings = state.current_settings();
    let (config, providers) = call_setup(&state, lang, Audio::Recognized).await?;
    let call_id = uuid::Uuid::new_v4().to_string();
    let call = LocalCall {
        call_id: call_id.clone(),
        customer: CustomerInfo {
            id: None,
            phone: None,
            name: None,
        },
        customer_context: None,
        config,
        providers,
        record: state.writer.as_ref().map(|w| w.recorder()),
        devices: LocalOptions {
            input: settings.audio.input_device.clone(),
            output: settings.audio.output_device.clone(),
            // Speakers echo into the microphone; a headset does not.
            echo_guard: (!settings.audio.headset).then(EchoGuardConfig::default),
        },
    };
    desk.start_local_call(&state.hub, call).await?;
    Ok(call_id)
}

/// Plays a call on the supervisor's speakers (`on`), or stops (`!on`).
#[tauri::command]
pub async fn listen_call(
    state: State<'_, AppState>,
    desk: State<'_, AudioDesk>,
    rooms: State<'_, RoomListening>,
    call_id: String,
    on: bool,
) -> Reply<DeskStatus> {
    if state.remote.room_of(&call_id).is_some() {
        // A call followed in a room is heard through the room listened to.
        return Ok(rooms.merge(&state, desk.status()));
    }
    if on {
        let output = state.current_settings().audio.output_device;
        desk.listen(&state.hub, &call_id, output).await?;
    } else if desk.listening().as_deref() == Some(call_id.as_str()) {
        desk.stop_listening(&state.hub).await;
    }
    Ok(rooms.merge(&state, desk.status()))
}

/// Puts the supervisor's microphone on the call's line (`on`: after a
/// takeover) or takes it off (`!on`: after hand-back).
#[tauri::command]
pub async fn supervisor_microphone(
    state: State<'_, AppState>,
    desk: State<'_, AudioDesk>,
    rooms: State<'_, RoomListening>,
    call_id: String,
    on: bool,
) -> Reply<DeskStatus> {
    if state.remote.room_of(&call_id).is_some() {
        if on {
            let input = state.current_settings().audio.input_device;
            rooms.speak(&call_id, input).await?;
        } else {
            rooms.quiet().await;
        }
        return Ok(rooms.merge(&state, desk.status()));
    }
    if on {
        let input = state.current_settings().audio.input_device;
        desk.attach_microphone(&state.hub, &call_id, input).await?;
    } else {
        desk.detach_microphone(&call_id).await;
    }
    Ok(rooms.merge(&state, desk.status()))
}
