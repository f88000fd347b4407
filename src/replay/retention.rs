//! Recordings are kept for a configured number of days, then deleted; erasing a
//! customer deletes their recordings with everything else of theirs.

use std::path::Path;

use crate::crm::{CrmError, CrmStore};

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Calls whose recording was deleted.
    pub deleted: Vec<String>,
    /// Recordings whose file was already gone (the call forgets it too).
    pub missing: Vec<String>,
    /// Files that could not be deleted (kept on the call, tried next sweep).
    pub failed: Vec<(String, String)>,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Deletes the recordings of calls started more than `days` days before `now_ms`.
/// `days == 0` keeps recordings forever.
pub async fn sweep(
    store: &CrmStore,
    dir: &Path,
    days: u32,
    now_ms: i64,
) -> Result<Swept, CrmError> {
    let mut out = Swept::default();
    if days == 0 {
        return Ok(out);
    }
    let cutoff = now_ms - i64::from(days) * DAY_MS;
    for r in store.recordings_before(cutoff).await? {
        match remove(dir, &r.recording) {
            Ok(true) => out.deleted.push(r.call_id.clone()),
            Ok(false) => out.missing.push(r.call_id.clone()),
            Err(e) => {
                out.failed.push((r.call_id.clone(), e));
                continue;
            }
        }
        store.clear_recording(&r.call_id).await?;
    }
    if !out.deleted.is_empty() || !out.failed.is_empty() {
        tracing::info!(
            deleted = out.deleted.len(),
            missing = out.missing.len(),
            failed = out.failed.len(),
            days,
            "recording retention sweep"
        );
    }
    Ok(out)
}

/// Deletes a recording file by its stored name. Ok(false): it was not there.
/// A name that would leave the recordings folder is refused.
pub fn remove(dir: &Path, file: &str) -> Result<bool, String> {
    if file.contains('/') || file.contains('\\') || file.starts_with('.') {
        return Err(format!("refusing to delete {file:?}: not a recording name"));
    }
    let _ = std::fs::remove_file(super::recording::peaks_path(dir, file));
    match std::fs::remove_file(dir.join(file)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// Erases a customer from the CRM and deletes their recordings. Returns how many
/// recording files were deleted.
pub async fn erase_customer(
    store: &CrmStore,
    dir: &Path,
    customer_id: &str,
) -> Result<usize, CrmError> {
    let files = store.erase_customer(customer_id).await?;
    let mut deleted = 0;
    for f in files {
        match remove(dir, &f) {
            Ok(true) => deleted += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "a recording of an erased customer could not be deleted")
            }
        }
    }
    Ok(deleted)
}

/// Encodes recordings a crash left unfinished, blanking the lines whose stored
/// text has a masked number, and points their calls at them.
pub async fn recover(
    store: &CrmStore,
    dir: &Path,
) -> Vec<(String, Result<super::recording::Finished, String>)> {
    let mut blanks = std::collections::HashMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".pcm.part") else {
                continue;
            };
            // The stored text is masked: blank each line that holds a masked number.
            let spans: Vec<(u64, u64)> = store
                .turns_of_call(stem)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|t| t.text.contains(crate::redact::MASK))
                .filter_map(|t| {
                    let (a, z) = (t.audio_start_ms?, t.audio_end_ms?);
                    Some((a.max(0) as u64, z.max(a).max(0) as u64))
                })
                .collect();
            blanks.insert(stem.to_string(), spans);
        }
    }
    if blanks.is_empty() {
        return Vec::new();
    }
    let dir_owned = dir.to_path_buf();
    let done = tokio::task::spawn_blocking(move || {
        super::recording::recover(&dir_owned, |stem| {
            blanks.get(stem).cloned().unwrap_or_default()
        })
    })
    .await
    .unwrap_or_default();
    let mut out = Vec::new();
    for (call_id, r) in done {
        match r {
            Ok(f) => {
                if let Err(e) = store
                    .set_recording(
                        &call_id,
                        &f.file,
                        f.duration_ms as i64,
                        f.bytes as i64,
                        f.blanked_ms as i64,
                    )
                    .await
                {
                    tracing::warn!(
                        code = e.code(),
                        "a recovered recording could not be linked to its call"
                    );
                }
                out.push((call_id, Ok(f)));
            }
            Err(e) => out.push((call_id, Err(e.to_string()))),
        }
    }
    out
}

/// Finishes recordings a crash left behind, then deletes expired ones now and
/// every hour, for as long as the process runs (the console and `switchboard
/// agent` both record calls).
pub fn spawn_keeper(
    store: CrmStore,
    settings: crate::config::ReplaySettings,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dir = settings.dir();
        for (call_id, r) in recover(&store, &dir).await {
            match r {
                Ok(_) => tracing::info!(%call_id, "recording recovered after a crash"),
                Err(e) => tracing::warn!(%call_id, error = %e, "recording could not be recovered"),
            }
        }
        loop {
            if let Err(e) = sweep(&store, &dir, settings.retention_days, crate::crm::now_ms()).await
            {
                tracing::warn!(code = e.code(), "recording retention sweep failed");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    })
}
