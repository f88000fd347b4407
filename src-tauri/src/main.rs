//! The Switchboard desktop console: a thin shell. Commands forward to the engine
//! (hub, CRM); one task forwards every `CallEvent` to the webview as `call-event`.
//! Errors reach the UI as `{code, message}`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod audio;
mod commands;
mod livekit;
mod replay;
mod scenarios;
mod settings;
mod state;

use switchboard::hub::CallHub;
use tauri::{Emitter, Manager};

fn main() {
    switchboard::init_logging();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let state = tauri::async_runtime::block_on(state::AppState::start())?;
            let saved = settings::load(app.handle(), state.current_settings());
            *state
                .settings
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = saved;
            let mut events = state.hub.subscribe();
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(ev) => {
                            let _ = handle.emit("call-event", &ev);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(dropped = n, "the webview fell behind the event stream");
                        }
                        Err(_) => return,
                    }
                }
            });
            replay::start_retention(&state);
            app.manage(state);
            app.manage(switchboard::transport::AudioDesk::new());
            app.manage(livekit::RoomListening::default());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::list_scenarios,
            audio::list_audio_devices,
            audio::desk_status,
            audio::start_mic_call,
            audio::listen_call,
            audio::supervisor_microphone,
            livekit::join_livekit_room,
            livekit::listen_livekit_room,
            livekit::livekit_listening,
            commands::start_simulation,
            commands::list_calls,
            commands::supervisor_command,
            commands::get_customer,
            commands::update_customer,
            commands::customer_tickets,
            commands::customer_calls,
            commands::open_tickets,
            commands::create_ticket,
            commands::set_ticket_status,
            commands::ticket_history,
            settings::get_settings,
            settings::save_settings,
            settings::secret_status,
            settings::set_secret,
            settings::delete_secret,
            settings::notify,
            settings::model_status,
            replay::replay_settings,
            replay::find_calls,
            replay::load_replay,
            replay::recording_audio,
            replay::add_annotation,
            replay::delete_annotation,
            replay::set_score,
            replay::scores_by_persona,
            replay::export_call,
            replay::rerun_call,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("error: the Switchboard window could not start: {e}");
        std::process::exit(1);
    }
}
