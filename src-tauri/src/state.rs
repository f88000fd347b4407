//! What the shell holds: the engine's hub, the CRM (when reachable) and its writer.

use switchboard::config::Config;
use switchboard::crm::CrmStore;
use switchboard::hub::LocalHub;
use switchboard::persist::CrmWriter;

pub struct AppState {
    pub hub: LocalHub,
    pub config: Config,
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
            hub,
            config,
            store,
            writer,
        })
    }
}
