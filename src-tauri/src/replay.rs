//! Past calls in the console: history search, the replay of one call (its
//! recording handed to the webview's audio player), trainers'
//! comments and scorecards, exports and re-runs. Recording retention runs here
//! hourly.

use serde::Serialize;
use switchboard::crm::{Annotation, CallFilter, CallScore, NewAnnotation, PastCall, PersonaScore};
use switchboard::replay::export::{export, Format};
use switchboard::replay::rerun::{rerun_with, Rerun};
use switchboard::replay::{load_replay_in, recording, retention, CallReplay};
use tauri::State;

use crate::commands::{Reply, UiError};
use crate::state::AppState;

fn store(state: &AppState) -> Reply<switchboard::crm::CrmStore> {
    state.store.clone().ok_or_else(|| {
        UiError::new(
            "db_unavailable",
            "the CRM database is not available; past calls cannot be shown",
        )
    })
}

#[derive(Debug, Serialize)]
pub struct ReplaySettingsView {
    pub criteria: Vec<String>,
    /// Calls are being recorded now.
    pub recording: bool,
    pub retention_days: u32,
}

#[tauri::command]
pub fn replay_settings(state: State<'_, AppState>) -> ReplaySettingsView {
    let r = &state.config.replay;
    ReplaySettingsView {
        criteria: r.criteria.clone(),
        recording: r.record,
        retention_days: r.retention_days,
    }
}

#[tauri::command]
pub async fn find_calls(state: State<'_, AppState>, filter: CallFilter) -> Reply<Vec<PastCall>> {
    Ok(store(&state)?.find_calls(&filter).await?)
}

#[tauri::command]
pub async fn load_replay(state: State<'_, AppState>, call_id: String) -> Reply<CallReplay> {
    let dir = state.config.replay.dir();
    Ok(load_replay_in(&store(&state)?, &call_id, Some(&dir)).await?)
}

/// The call's recording for the audio player: a mono 16-bit WAV (customer and
/// what they heard, mixed), as raw bytes (empty: no recording). Bytes, not a URL:
/// WebKitGTK cannot play media from a custom URI scheme (tauri-apps/tauri#3725),
/// while a blob it can, on every platform.
#[tauri::command]
pub async fn recording_audio(
    state: State<'_, AppState>,
    call_id: String,
) -> Reply<tauri::ipc::Response> {
    let Some(call) = store(&state)?.call(&call_id).await? else {
        return Err(UiError::new("not_found", format!("no call {call_id}")));
    };
    let Some(file) = call.recording else {
        return Ok(tauri::ipc::Response::new(Vec::new()));
    };
    let source = state.config.replay.dir().join(&file);
    let bytes = tauri::async_runtime::spawn_blocking(move || {
        recording::read(&source).map(|d| recording::mono_wav_bytes(&d))
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?
    .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    Ok(tauri::ipc::Response::new(bytes))
}

#[tauri::command]
pub async fn add_annotation(
    state: State<'_, AppState>,
    annotation: NewAnnotation,
) -> Reply<Annotation> {
    Ok(store(&state)?.add_annotation(&annotation).await?)
}

#[tauri::command]
pub async fn delete_annotation(state: State<'_, AppState>, id: String) -> Reply<()> {
    Ok(store(&state)?.delete_annotation(&id).await?)
}

/// Who is scoring: the signed-in user of this computer.
fn reviewer() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "trainer".into())
}

#[tauri::command]
pub async fn set_score(
    state: State<'_, AppState>,
    call_id: String,
    criterion: String,
    score: i64,
    note: Option<String>,
) -> Reply<CallScore> {
    Ok(store(&state)?
        .set_score(&call_id, &criterion, score, &reviewer(), note.as_deref())
        .await?)
}

#[tauri::command]
pub async fn scores_by_persona(state: State<'_, AppState>) -> Reply<Vec<PersonaScore>> {
    Ok(store(&state)?.scores_by_persona().await?)
}

#[tauri::command]
pub async fn export_call(
    state: State<'_, AppState>,
    call_id: String,
    format: String,
) -> Reply<String> {
    let format = Format::parse(&format).ok_or_else(|| {
        UiError::new(
            "invalid_input",
            format!("no export format {format:?}: json, md or vtt"),
        )
    })?;
    let replay = load_replay_in(&store(&state)?, &call_id, None).await?;
    Ok(export(&replay, format))
}

/// Re-runs a past call through today's pipeline (unrecorded, off the wall).
#[tauri::command]
pub async fn rerun_call(state: State<'_, AppState>, call_id: String) -> Reply<Rerun> {
    let config = state.call_config();
    let replay = load_replay_in(&store(&state)?, &call_id, None).await?;
    rerun_with(&config, &replay, 4.0)
        .await
        .map_err(|e| UiError::new("rerun_failed", e.to_string()))
}

/// Finishes recordings a crash left behind, then deletes expired ones every hour.
pub fn start_retention(state: &AppState) {
    if let Some(store) = state.store.clone() {
        let settings = state.config.replay.clone();
        tauri::async_runtime::spawn(async move {
            let _ = retention::spawn_keeper(store, settings).await;
        });
    }
}
