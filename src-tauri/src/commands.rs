//! Commands of the webview: each one adapts an engine call. Errors are `{code,
//! message}` so the UI can show them in place.

use std::sync::Arc;

use serde::Serialize;
use switchboard::call::{CallConfig, CallStatus, Providers, SupervisorCommand};
use switchboard::crm::{
    CallRow, CrmError, CrmStore, Customer, NewCustomer, NewTicket, Ticket, TicketChange,
    TicketStatus,
};
use switchboard::hub::HubError;
use switchboard::lang::LangHint;
use switchboard::persist::customer_for_call;
use switchboard::scenario::Scenario;
use switchboard::transport::{run_scenario, SimOptions, SttMode};
use switchboard::tts::espeak::EspeakTts;
use switchboard::tts::TextToSpeech;
use tauri::State;

use crate::scenarios::{self, SCENARIOS};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct UiError {
    pub code: String,
    pub message: String,
}

impl UiError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<CrmError> for UiError {
    fn from(e: CrmError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

impl From<HubError> for UiError {
    fn from(e: HubError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

pub(crate) type Reply<T> = Result<T, UiError>;

/// Whether a call's customer audio must be recognized (sound card, LiveKit) or
/// brings its own transcript (simulated callers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audio {
    Scripted,
    Recognized,
}

/// What a new call starts with: the current settings' call config and providers.
/// Building the providers may read the LLM's key from the OS keyring and load the
/// speech model (once per process), blocking work, so it runs off the async workers.
/// The local LLM's server is started now, so it loads while the call is greeted.
pub(crate) async fn call_setup(
    state: &AppState,
    lang: LangHint,
    audio: Audio,
) -> Reply<(CallConfig, Providers)> {
    let call_config = state.call_config();
    let config = CallConfig {
        lang,
        ..call_config.call_config()
    };
    let providers = tauri::async_runtime::spawn_blocking(move || {
        call_config.start_local_llm();
        call_config.prewarm_voices();
        let mut providers = call_config.providers();
        if audio == Audio::Recognized {
            providers.stt = call_config.speech_to_text();
        }
        providers
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?;
    Ok((config, providers))
}

/// A call's language from the webview: "ar", "en" or "auto" (absent: auto).
pub(crate) fn lang_hint(lang: Option<&str>) -> Reply<LangHint> {
    match lang {
        None => Ok(LangHint::Auto),
        Some(l) => LangHint::parse(l)
            .ok_or_else(|| UiError::new("bad_lang", format!("unknown language {l:?}"))),
    }
}

fn store(state: &AppState) -> Reply<CrmStore> {
    state.store.clone().ok_or_else(|| {
        UiError::new(
            "db_unavailable",
            "the CRM database is not available; calls still run",
        )
    })
}

#[derive(Debug, Serialize)]
pub struct ScenarioInfo {
    pub id: String,
    pub title: String,
    pub lang: String,
}

#[tauri::command]
pub fn list_scenarios() -> Vec<ScenarioInfo> {
    SCENARIOS
        .iter()
        .map(|s| ScenarioInfo {
            id: s.id.into(),
            title: s.title.into(),
            lang: s.lang.into(),
        })
        .collect()
}

/// Starts a simulated caller: its lines are spoken by the local TTS and go through
/// the real audio path, so the wall shows a live call with no account or network.
#[tauri::command]
pub async fn start_simulation(
    state: State<'_, AppState>,
    scenario: String,
    speed: Option<f64>,
) -> Reply<String> {
    let shipped = scenarios::find(&scenario)
        .ok_or_else(|| UiError::new("unknown_scenario", format!("no scenario {scenario:?}")))?;
    let mut sc = Scenario::parse(shipped.json, std::path::Path::new("."))
        .map_err(|e| UiError::new("bad_scenario", e.to_string()))?;
    let mut customer_context = None;
    if let Some(store) = &state.store {
        match customer_for_call(store, &sc.customer).await {
            Ok((info, ctx)) => {
                sc.customer = info;
                customer_context = ctx;
            }
            Err(e) => tracing::warn!(
                code = e.code(),
                "caller lookup failed; the call runs without CRM context"
            ),
        }
    }
    let call_id = uuid::Uuid::new_v4().to_string();
    let espeak: Arc<dyn TextToSpeech> = Arc::new(EspeakTts::default());
    let opts = SimOptions {
        stt: SttMode::Script,
        // SWITCHBOARD_SIM_SPEED lets demos and end-to-end tests run callers faster.
        speed: speed
            .or_else(|| {
                std::env::var("SWITCHBOARD_SIM_SPEED")
                    .ok()
                    .and_then(|s| s.parse().ok())
            })
            .unwrap_or(1.0)
            .clamp(0.25, 20.0),
        customer_tts: Some(espeak),
        record: state.writer.as_ref().map(|w| w.recorder()),
        customer_context,
        call_id: Some(call_id.clone()),
        ..Default::default()
    };
    let (config, providers) = call_setup(&state, LangHint::Auto, Audio::Scripted).await?;
    let hub = state.hub.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = run_scenario(&hub, &sc, providers, config, opts).await {
            tracing::warn!(error = %e, "simulated call failed");
        }
    });
    Ok(call_id)
}

#[tauri::command]
pub fn list_calls(state: State<'_, AppState>) -> Vec<CallStatus> {
    state.calls()
}

#[tauri::command]
pub async fn supervisor_command(
    state: State<'_, AppState>,
    call_id: String,
    command: SupervisorCommand,
) -> Reply<()> {
    state
        .command(&call_id, command)
        .await
        .map_err(UiError::from)
}

#[tauri::command]
pub async fn get_customer(
    state: State<'_, AppState>,
    customer_id: String,
) -> Reply<Option<Customer>> {
    Ok(store(&state)?.customer(&customer_id).await?)
}

#[tauri::command]
pub async fn update_customer(state: State<'_, AppState>, customer: NewCustomer) -> Reply<Customer> {
    Ok(store(&state)?.upsert_customer(&customer).await?)
}

#[tauri::command]
pub async fn customer_tickets(
    state: State<'_, AppState>,
    customer_id: String,
) -> Reply<Vec<Ticket>> {
    Ok(store(&state)?.tickets_of_customer(&customer_id).await?)
}

#[tauri::command]
pub async fn customer_calls(
    state: State<'_, AppState>,
    customer_id: String,
) -> Reply<Vec<CallRow>> {
    Ok(store(&state)?.calls_of_customer(&customer_id, 50).await?)
}

#[tauri::command]
pub async fn open_tickets(state: State<'_, AppState>) -> Reply<Vec<Ticket>> {
    Ok(store(&state)?.open_tickets(200).await?)
}

#[tauri::command]
pub async fn create_ticket(state: State<'_, AppState>, ticket: NewTicket) -> Reply<Ticket> {
    Ok(store(&state)?.create_ticket(&ticket).await?)
}

#[tauri::command]
pub async fn set_ticket_status(
    state: State<'_, AppState>,
    ticket_id: String,
    status: TicketStatus,
    reason: String,
) -> Reply<Ticket> {
    if reason.trim().is_empty() {
        return Err(UiError::new(
            "invalid_input",
            "give a reason for the status change",
        ));
    }
    Ok(store(&state)?
        .set_ticket_status(&ticket_id, status, "supervisor", &reason)
        .await?)
}

#[tauri::command]
pub async fn ticket_history(
    state: State<'_, AppState>,
    ticket_id: String,
) -> Reply<Vec<TicketChange>> {
    Ok(store(&state)?.ticket_history(&ticket_id).await?)
}
