//! What the shell holds: the engine's hub, the CRM (when reachable) and its writer,
//! and the console's settings.

use std::sync::RwLock;

use switchboard::config::Config;
use switchboard::crm::CrmStore;
use switchboard::hub::{CallHub, HubError, LocalHub};
use switchboard::livekit::remote::RemoteHub;
use switchboard::persist::CrmWriter;
use switchboard::settings::ConsoleSettings;

pub struct AppState {
    pub hub: LocalHub,
    /// Calls hosted by `switchboard agent` workers in LiveKit rooms the
    /// supervisor follows; their events go out on `hub`'s channel, so the wall
    /// shows every call the same way.
    pub remote: RemoteHub,
    /// The environment / file config; calls use [`AppState::call_config`].
    pub config: Config,
    /// The console's settings (settings.json), current from startup and after each
    /// save. Read it briefly; never hold the guard across an await.
    pub settings: RwLock<ConsoleSettings>,
    pub store: Option<CrmStore>,
    pub writer: Option<CrmWriter>,
}

impl AppState {
    /// Embedded defaults: SQLite in the user's data folder, espeak-ng, templates
    /// (or the LLM named by SWITCHBOARD_LLM_URL). A CRM that cannot be opened leaves
    /// the console working without records, and says so.
    pub async fn start() -> Result<AppState, Box<dyn std::error::Error>> {
        let config = Config::load(None)?;
        let hub = LocalHub::new(1 << 14);
        let url = config
            .crm
            .url
            .clone()
            .unwrap_or_else(CrmStore::default_sqlite_url);
        let (store, writer) = if url == "none" {
            (None, None)
        } else {
            match CrmStore::connect(&url).await {
                Ok(store) => {
                    let writer = CrmWriter::spawn(
                        store.clone(),
                        &config.crm.outbox_path(),
                        Some(hub.event_sender()),
                    )?;
                    (Some(store), Some(writer))
                }
                Err(e) => {
                    tracing::error!(
                        code = e.code(),
                        "CRM unavailable; calls will not be recorded"
                    );
                    (None, None)
                }
            }
        };
        Ok(AppState {
            remote: RemoteHub::new(hub.event_sender()),
            hub,
            settings: RwLock::new(ConsoleSettings::from_config(&config)),
            config,
            store,
            writer,
        })
    }

    /// Every live call: this console's own and those it follows in rooms.
    pub fn calls(&self) -> Vec<switchboard::call::CallStatus> {
        let mut calls = self.hub.calls();
        calls.extend(self.remote.calls());
        calls
    }

    /// A supervisor command for a call, wherever it runs.
    pub async fn command(
        &self,
        call_id: &str,
        cmd: switchboard::call::SupervisorCommand,
    ) -> Result<(), HubError> {
        if self.remote.room_of(call_id).is_some() {
            return self.remote.command(call_id, cmd).await;
        }
        self.hub.command(call_id, cmd).await
    }

    /// A copy of the current settings.
    pub fn current_settings(&self) -> ConsoleSettings {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The config a call starts with: the environment / file config with the
    /// current settings applied (LLM, turn timings).
    pub fn call_config(&self) -> Config {
        let mut config = self.config.clone();
        self.current_settings().apply_to(&mut config);
        config
    }
}
