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
