//! Past calls in the console: history search, the replay of one call (its
//! recording served to the webview's audio player with byte ranges), trainers'
//! comments and scorecards, exports and re-runs. Recording retention runs here
//! hourly.

use std::path::{Path, PathBuf};

use serde::Serialize;
use switchboard::crm::{Annotation, CallFilter, CallScore, NewAnnotation, PastCall, PersonaScore};
use switchboard::replay::export::{export, Format};
use switchboard::replay::rerun::{rerun, Rerun};
use switchboard::replay::{load_replay_in, recording, retention, CallReplay};
use tauri::http::{header, Request, Response, StatusCode};
use tauri::State;

use crate::commands::{Reply, UiError};
use crate::state::AppState;

/// The URI scheme the webview's audio player loads recordings from.
pub const SCHEME: &str = "recording";
/// Decoded recordings kept for the player (the newest ones).
const CACHE_KEEP: usize = 4;

fn store(state: &AppState) -> Reply<switchboard::crm::CrmStore> {
    state.store.clone().ok_or_else(|| {
        UiError::new(
            "db_unavailable",
            "the CRM database is not available; past calls cannot be shown",
        )
    })
}

/// Where decoded recordings wait for the player.
fn cache_dir() -> PathBuf {
    switchboard::config::data_dir().join("replay-cache")
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

/// The URL of the call's recording as a WAV for the audio player, decoding it
/// into the cache first; None when the call has no recording.
#[tauri::command]
pub async fn recording_url(state: State<'_, AppState>, call_id: String) -> Reply<Option<String>> {
    let Some(call) = store(&state)?.call(&call_id).await? else {
        return Err(UiError::new("not_found", format!("no call {call_id}")));
    };
    let Some(file) = call.recording else {
        return Ok(None);
    };
    let source = state.config.replay.dir().join(&file);
    let name = format!("{}.wav", recording::file_stem(&call_id));
    let target = cache_dir().join(&name);
    if !target.exists() {
        let t = target.clone();
        tauri::async_runtime::spawn_blocking(move || -> Result<(), recording::RecordingError> {
            let decoded = recording::read(&source)?;
            if let Some(dir) = t.parent() {
                let _ = std::fs::create_dir_all(dir);
                prune_cache(dir);
            }
            recording::write_wav(&decoded, &t)
        })
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?
        .map_err(|e| UiError::new(e.code(), e.to_string()))?;
    }
    Ok(Some(scheme_url(&name)))
}

fn scheme_url(name: &str) -> String {
    if cfg!(windows) {
        format!("http://{SCHEME}.localhost/{name}")
    } else {
        format!("{SCHEME}://localhost/{name}")
    }
}

/// Keeps the newest few decoded recordings.
fn prune_cache(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let drop = files.len().saturating_sub(CACHE_KEEP - 1);
    for (_, p) in files.into_iter().take(drop) {
        let _ = std::fs::remove_file(p);
    }
}

/// Serves `recording://localhost/NAME.wav` from the cache, honouring `Range`
/// (the audio element seeks with it).
pub fn serve(request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    let name = request.uri().path().trim_start_matches('/').to_string();
    let valid = name.ends_with(".wav")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    let bytes = if valid {
        std::fs::read(cache_dir().join(&name)).ok()
    } else {
        None
    };
    let Some(bytes) = bytes else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Vec::new())
            .unwrap_or_default();
    };
    let total = bytes.len();
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, total));
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::ACCEPT_RANGES, "bytes")
        .header("Access-Control-Allow-Origin", "*");
    match range {
        Some((a, z)) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {a}-{z}/{total}"))
            .body(bytes[a..=z].to_vec()),
        None => builder.status(StatusCode::OK).body(bytes),
    }
    .unwrap_or_default()
}

/// `bytes=A-B`, `bytes=A-` or `bytes=-N` within `total` bytes.
fn parse_range(v: &str, total: usize) -> Option<(usize, usize)> {
    if total == 0 {
        return None;
    }
    let spec = v.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, z) = spec.split_once('-')?;
    let (a, z) = match (a.trim(), z.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (total.saturating_sub(n), total - 1)
        }
        (a, "") => (a.parse().ok()?, total - 1),
        (a, z) => (a.parse().ok()?, z.parse::<usize>().ok()?.min(total - 1)),
    };
    (a <= z && a < total).then_some((a, z))
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
    let path = replay
        .call
        .recording
        .as_ref()
        .map(|f| config.replay.dir().join(f));
    let cfg = config.clone();
    let (decoded, providers) = tauri::async_runtime::spawn_blocking(move || {
        let decoded = path.and_then(|p| match recording::read(&p) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(code = e.code(), "re-running from the transcript");
                None
            }
        });
        let mut providers = cfg.providers();
        if decoded.is_some() {
            providers.stt = cfg.speech_to_text();
        }
        (decoded, providers)
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?;
    let call_config = switchboard::call::CallConfig {
        default_lang: config.default_lang,
        turn: config.turn.clone(),
        tools: config.tools_enabled(),
        ..Default::default()
    };
    let work = std::env::temp_dir().join(format!("switchboard-rerun-{}", uuid::Uuid::new_v4()));
    rerun(
        &replay,
        decoded.as_ref(),
        providers,
        call_config,
        4.0,
        &work,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_within_the_file() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=0-5000", 1000), Some((0, 999)));
        assert_eq!(parse_range("bytes=2000-", 1000), None);
        assert_eq!(parse_range("lines=1-2", 1000), None);
    }
}
