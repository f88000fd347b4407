//! The console's settings, API keys and desktop notifications.
//!
//! Settings: `ConsoleSettings` only, in `settings.json` in the app data folder
//! (tauri-plugin-store, read and written from Rust; the webview has no store
//! permission). API keys: the OS keyring through `switchboard::secrets`; the webview
//! can set, remove and see the status of a key, never read one. Notifications:
//! sent from Rust (tauri-plugin-notification), so the webview needs no permission.

use switchboard::secrets::{SecretError, SecretInfo, SecretName, SecretStore, SecretValue};
use switchboard::settings::{ConsoleSettings, SettingsError};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_notification::NotificationExt;
use tauri_plugin_store::StoreExt;

use crate::commands::UiError;
use crate::state::AppState;

/// The store file, relative to the app data folder.
pub const STORE_FILE: &str = "settings.json";
/// The key holding `ConsoleSettings` in the store file.
const KEY: &str = "console";

impl From<SettingsError> for UiError {
    fn from(e: SettingsError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

impl From<SecretError> for UiError {
    fn from(e: SecretError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

fn unsaved(what: impl std::fmt::Display) -> UiError {
    UiError::new(
        "settings_unsaved",
        format!("the settings could not be written: {what}"),
    )
}

/// A store file that is not a JSON object is moved aside (kept for the user, not
/// overwritten) and the console starts on defaults.
fn set_aside_if_corrupt<R: Runtime>(app: &AppHandle<R>) {
    let Ok(path) = tauri_plugin_store::resolve_store_path(app, STORE_FILE) else {
        return;
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return; // missing (first start) or unreadable: the store starts empty
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        let aside = path.with_extension(format!(
            "json.corrupt-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ));
        let moved = std::fs::rename(&path, &aside).is_ok();
        tracing::warn!(
            line = e.line(),
            column = e.column(),
            kept_as = %aside.display(),
            moved,
            "the settings file is not valid JSON; starting with default settings"
        );
    }
}

/// The saved settings, or `seed` (defaults shaped by the engine config) when none
/// are saved or they cannot be used. Never fails: a bad file costs a warning.
pub fn load<R: Runtime>(app: &AppHandle<R>, seed: ConsoleSettings) -> ConsoleSettings {
    set_aside_if_corrupt(app);
    let store = match app.store_builder(STORE_FILE).disable_auto_save().build() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "the settings store cannot be opened; using defaults");
            return seed;
        }
    };
    decode(store.get(KEY), seed)
}

/// The stored value as settings, or `seed` when absent, unreadable or out of range.
fn decode(value: Option<serde_json::Value>, seed: ConsoleSettings) -> ConsoleSettings {
    let Some(value) = value else {
        return seed;
    };
    match serde_json::from_value::<ConsoleSettings>(value) {
        Ok(mut s) => {
            s.normalize();
            match s.validate() {
                Ok(()) => s,
                Err(e) => {
                    tracing::warn!(
                        field = e.field,
                        "saved settings are out of range; using defaults"
                    );
                    seed
                }
            }
        }
        Err(e) => {
            // The position only: serde's message may quote what was saved.
            tracing::warn!(
                line = e.line(),
                column = e.column(),
                "saved settings cannot be read; using defaults"
            );
            seed
        }
    }
}

fn persist<R: Runtime>(app: &AppHandle<R>, settings: &ConsoleSettings) -> Result<(), UiError> {
    let store = app
        .store_builder(STORE_FILE)
        .disable_auto_save()
        .build()
        .map_err(unsaved)?;
    store.set(KEY, serde_json::to_value(settings).map_err(unsaved)?);
    store.save().map_err(unsaved)
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> ConsoleSettings {
    state.current_settings()
}

/// Validates, writes `settings.json`, then makes the settings current (calls started
/// from now on use them). Returns them as saved (trimmed).
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: ConsoleSettings,
) -> Result<ConsoleSettings, UiError> {
    let mut settings = settings;
    settings.normalize();
    settings.validate()?;
    persist(&app, &settings)?;
    *state
        .settings
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings.clone();
    Ok(settings)
}

fn keyring_task<T: Send + 'static>(
    op: impl FnOnce(SecretStore) -> T + Send + 'static,
) -> tauri::async_runtime::JoinHandle<T> {
    // Keyring calls block (D-Bus, Keychain): never on the async runtime's threads.
    tauri::async_runtime::spawn_blocking(move || op(SecretStore::from_env()))
}

fn task_failed(e: impl std::fmt::Display) -> UiError {
    UiError::new("internal", format!("the keyring task failed: {e}"))
}

/// Where each known key would be read from. Never a value.
#[tauri::command]
pub async fn secret_status() -> Result<Vec<SecretInfo>, UiError> {
    keyring_task(|s| s.statuses()).await.map_err(task_failed)
}

#[tauri::command]
pub async fn set_secret(name: String, value: SecretValue) -> Result<(), UiError> {
    let name = SecretName::parse(&name)?;
    keyring_task(move |s| s.set(name, value.expose()))
        .await
        .map_err(task_failed)??;
    tracing::info!(secret = name.as_str(), "API key stored in the OS keyring");
    Ok(())
}

#[tauri::command]
pub async fn delete_secret(name: String) -> Result<(), UiError> {
    let name = SecretName::parse(&name)?;
    keyring_task(move |s| s.delete(name))
        .await
        .map_err(task_failed)??;
    tracing::info!(
        secret = name.as_str(),
        "API key removed from the OS keyring"
    );
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A desktop notification. Where none can be shown (no notification server, e.g.
/// under Xvfb) nothing happens but a debug log line.
#[tauri::command]
pub fn notify(app: AppHandle, title: String, body: String) {
    let shown = app
        .notification()
        .builder()
        .title(clip(&title, 120))
        .body(clip(&body, 400))
        .show();
    if let Err(e) = shown {
        tracing::debug!(error = %e, "desktop notification not shown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed() -> ConsoleSettings {
        let mut s = ConsoleSettings::default();
        s.llm.model = "seed".into();
        s
    }

    #[test]
    fn nothing_saved_gives_the_seed() {
        assert_eq!(decode(None, seed()), seed());
    }

    #[test]
    fn saved_settings_are_used_with_defaults_for_missing_fields() {
        let s = decode(
            Some(json!({"ui_lang": "ar", "llm": {"model": " qwen ", "base_url": ""}})),
            seed(),
        );
        assert_eq!(s.ui_lang, switchboard::settings::UiLang::Ar);
        assert_eq!(s.llm.model, "qwen");
        assert_eq!(s.llm.base_url, None);
        assert_eq!(s.alerts, ConsoleSettings::default().alerts);
    }

    #[test]
    fn unreadable_or_out_of_range_settings_give_the_seed() {
        assert_eq!(decode(Some(json!("oops")), seed()), seed());
        assert_eq!(decode(Some(json!({"ui_lang": "fr"})), seed()), seed());
        assert_eq!(
            decode(Some(json!({"alerts": {"threshold": 7}})), seed()),
            seed()
        );
        assert_eq!(
            decode(Some(json!({"llm": {"base_url": "ftp://x"}})), seed()),
            seed()
        );
    }

    #[test]
    fn errors_keep_their_codes_for_the_ui() {
        let e: UiError = SecretError::Empty.into();
        assert_eq!(e.code, "empty_secret");
        let e: UiError = SecretName::parse("nope").unwrap_err().into();
        assert_eq!(e.code, "unknown_secret");
        let mut s = ConsoleSettings::default();
        s.alerts.turns = 0;
        let e: UiError = s.validate().unwrap_err().into();
        assert_eq!(e.code, "invalid_settings");
        assert!(e.message.starts_with("alerts.turns:"), "{}", e.message);
    }

    #[test]
    fn a_secret_value_is_never_in_debug_output() {
        let v: SecretValue = serde_json::from_value(json!("sk-live-123")).unwrap();
        assert!(!format!("{v:?}").contains("sk-live-123"));
    }
}

/// The local models (speech, end of turn, voice, language model): installed or
/// not, and the command that installs what is missing. Reads sizes and
/// manifests only (no hashing), off the async workers.
#[tauri::command]
pub async fn model_status() -> Result<Vec<switchboard::models::ModelStatus>, UiError> {
    tauri::async_runtime::spawn_blocking(|| {
        switchboard::models::status_all(&switchboard::models::models_dir())
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))
}
