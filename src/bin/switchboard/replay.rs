//! `switchboard export | calls | recordings | rerun`: past calls from the CLI.

use std::path::PathBuf;

use clap::Subcommand;
use switchboard::config::Config;
use switchboard::crm::{CallFilter, CrmError, CrmStore};
use switchboard::replay::export::{export, Format};
use switchboard::replay::{load_replay, rerun, retention};

use crate::Failure;

#[derive(Subcommand)]
pub enum RecordingsAction {
    /// Delete recordings older than the retention period now (the console and
    /// `switchboard agent` also do it hourly).
    Sweep,
    /// Encode recordings a crash left unfinished.
    Recover,
}

async fn store(config: &Config, db: Option<String>) -> Result<CrmStore, Failure> {
    let url = db
        .or_else(|| config.crm.url.clone())
        .unwrap_or_else(CrmStore::default_sqlite_url);
    if url == "none" {
        return Err(Failure::Input(
            "past calls need a CRM database (--db)".into(),
        ));
    }
    CrmStore::connect(&url).await.map_err(crm_failure)
}

fn crm_failure(e: CrmError) -> Failure {
    match e {
        CrmError::InvalidInput(_) | CrmError::NotFound { .. } | CrmError::InvalidPhone { .. } => {
            Failure::Input(e.to_string())
        }
        other => Failure::Other(other.to_string()),
    }
}

/// `switchboard export CALL_ID --format json|md|vtt [--out FILE]`
pub async fn export_call(
    config: &Config,
    call_id: &str,
    format: &str,
    out: Option<PathBuf>,
    db: Option<String>,
) -> Result<(), Failure> {
    let format = Format::parse(format).ok_or_else(|| {
        Failure::Input(format!("--format must be json, md or vtt, not {format:?}"))
    })?;
    let store = store(config, db).await?;
    let replay = load_replay(&store, call_id).await.map_err(crm_failure)?;
    let text = export(&replay, format);
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| Failure::Other(format!("cannot write {}: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// `switchboard calls [filters]`: matching past calls as JSON Lines, newest first.
pub async fn find_calls(
    config: &Config,
    filter: CallFilter,
    db: Option<String>,
) -> Result<(), Failure> {
    let store = store(config, db).await?;
    for c in store.find_calls(&filter).await.map_err(crm_failure)? {
        if let Ok(line) = serde_json::to_string(&c) {
            println!("{line}");
        }
    }
    Ok(())
}

pub async fn recordings(
    config: &Config,
    action: RecordingsAction,
    db: Option<String>,
) -> Result<(), Failure> {
    let store = store(config, db).await?;
    let dir = config.replay.dir();
    match action {
        RecordingsAction::Sweep => {
            let s = retention::sweep(
                &store,
                &dir,
                config.replay.retention_days,
                switchboard::crm::now_ms(),
            )
            .await
            .map_err(crm_failure)?;
            println!(
                "{}",
                serde_json::json!({
                    "deleted": s.deleted,
                    "missing": s.missing,
                    "failed": s.failed.iter().map(|(c, e)| serde_json::json!({"call_id": c, "error": e})).collect::<Vec<_>>(),
                    "retention_days": config.replay.retention_days,
                })
            );
        }
        RecordingsAction::Recover => {
            for (call_id, result) in retention::recover(&store, &dir).await {
                let line = match result {
                    Ok(f) => {
                        serde_json::json!({"call_id": call_id, "file": f.file, "duration_ms": f.duration_ms})
                    }
                    Err(e) => serde_json::json!({"call_id": call_id, "error": e}),
                };
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// `switchboard erase-customer ID`: the customer and everything of theirs,
/// recordings included.
pub async fn erase_customer(
    config: &Config,
    customer_id: &str,
    db: Option<String>,
) -> Result<(), Failure> {
    let store = store(config, db).await?;
    let recordings = retention::erase_customer(&store, &config.replay.dir(), customer_id)
        .await
        .map_err(crm_failure)?;
    println!(
        "{}",
        serde_json::json!({"erased": customer_id, "recordings_deleted": recordings})
    );
    Ok(())
}

/// `switchboard rerun CALL_ID`: the call's customer turns through today's
/// pipeline; old and new answers as one JSON object.
pub async fn rerun_call(
    config: &Config,
    call_id: &str,
    speed: f64,
    db: Option<String>,
) -> Result<(), Failure> {
    let store = store(config, db).await?;
    let replay = load_replay(&store, call_id).await.map_err(crm_failure)?;
    let r = rerun::rerun_with(config, &replay, speed)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    Ok(())
}
