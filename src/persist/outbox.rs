//! An append-only file of pending CRM writes, one JSON object per line, fsynced per
//! append. A line torn by a crash mid-write is skipped on load (its write was never
//! acknowledged to anyone; the event it came from is the turn in progress).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::{PersistError, WriteOp};

pub struct Outbox {
    path: PathBuf,
    pending: usize,
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`; writes left by an earlier run count
    /// as pending.
    pub fn open(path: &Path) -> Result<Outbox, PersistError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| err(path, e))?;
        }
        let mut outbox = Outbox {
            path: path.to_path_buf(),
            pending: 0,
        };
        outbox.pending = outbox.load()?.len();
        Ok(outbox)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pending(&self) -> usize {
        self.pending
    }

    pub fn append(&mut self, op: &WriteOp) -> Result<(), PersistError> {
        let mut line = serde_json::to_string(op).map_err(|e| err(&self.path, e))?;
        line.push('\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| err(&self.path, e))?;
        f.write_all(line.as_bytes())
            .map_err(|e| err(&self.path, e))?;
        f.sync_data().map_err(|e| err(&self.path, e))?;
        self.pending += 1;
        Ok(())
    }

    /// The oldest pending write, reading only as far as it (a torn line is
    /// skipped as in [`load`](Self::load)).
    pub fn first(&self) -> Result<Option<WriteOp>, PersistError> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(&self.path, e)),
        };
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| err(&self.path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            if let Ok(op) = serde_json::from_str::<WriteOp>(&line) {
                return Ok(Some(op));
            }
        }
        Ok(None)
    }

    pub fn load(&self) -> Result<Vec<WriteOp>, PersistError> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(&self.path, e)),
        };
        let mut ops = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| err(&self.path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<WriteOp>(&line) {
                Ok(op) => ops.push(op),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "skipping a torn outbox line")
                }
            }
        }
        Ok(ops)
    }

    /// Replaces the outbox with `ops` (the ones not yet applied), atomically.
    pub fn rewrite(&mut self, ops: &[WriteOp]) -> Result<(), PersistError> {
        if ops.is_empty() {
            return self.clear();
        }
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = File::create(&tmp).map_err(|e| err(&tmp, e))?;
            for op in ops {
                let line = serde_json::to_string(op).map_err(|e| err(&tmp, e))?;
                f.write_all(line.as_bytes()).map_err(|e| err(&tmp, e))?;
                f.write_all(b"\n").map_err(|e| err(&tmp, e))?;
            }
            f.sync_all().map_err(|e| err(&tmp, e))?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| err(&self.path, e))?;
        self.pending = ops.len();
        Ok(())
    }

    pub fn clear(&mut self) -> Result<(), PersistError> {
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(&self.path, e)),
        }
        self.pending = 0;
        Ok(())
    }
}

fn err(path: &Path, e: impl std::fmt::Display) -> PersistError {
    PersistError::Outbox {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}
