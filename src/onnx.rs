//! The ONNX Runtime that runs Smart Turn and Piper, loaded once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is downloaded or linked at build
//! time. At run time the library comes from `$ORT_DYLIB_PATH` when set, else from
//! the installed `onnxruntime` model (`switchboard models fetch --only
//! onnxruntime`, the PyPI `onnxruntime` wheel's `libonnxruntime.so`). Every use
//! goes through [`session`], which loads the runtime first: `ort` panics if any
//! of its APIs is touched before a library is loaded, so nothing else in the
//! crate may call `ort` directly before [`runtime`] succeeded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

/// The `switchboard models` name of the runtime library.
pub const RUNTIME_MODEL: &str = "onnxruntime";

#[derive(Debug, Clone, thiserror::Error)]
pub enum OnnxError {
    #[error("the ONNX Runtime library is not available ({detail}); run `switchboard models fetch --only onnxruntime` (or set ORT_DYLIB_PATH to a libonnxruntime {version}.x)")]
    RuntimeMissing {
        detail: String,
        version: &'static str,
    },
    #[error("cannot load the ONNX Runtime library {path}: {detail}")]
    RuntimeLoad { path: String, detail: String },
    #[error("cannot load the ONNX model {path}: {detail}")]
    Model { path: String, detail: String },
    #[error("ONNX inference failed: {0}")]
    Run(String),
}

impl OnnxError {
    pub fn code(&self) -> &'static str {
        match self {
            OnnxError::RuntimeMissing { .. } => "onnx_runtime_missing",
            OnnxError::RuntimeLoad { .. } => "onnx_runtime_load_failed",
            OnnxError::Model { .. } => "onnx_model_load_failed",
            OnnxError::Run(_) => "onnx_run_failed",
        }
    }

    pub(crate) fn run(e: impl std::fmt::Display) -> OnnxError {
        OnnxError::Run(e.to_string())
    }
}

/// The loaded runtime: the library path and the process-wide environment
/// (sessions are built against it; it must live as long as they do).
struct Runtime {
    path: PathBuf,
    env: Environment,
}

/// Loaded once; a failed load is retried on the next use (the library may have
/// been installed in the meantime), a successful one is kept for good: ONNX
/// Runtime cannot be unloaded or swapped within a process.
static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// Where the runtime library is: `$ORT_DYLIB_PATH`, else the installed
/// `onnxruntime` model.
pub fn runtime_path() -> Result<PathBuf, OnnxError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(OnnxError::RuntimeMissing {
                detail: format!("ORT_DYLIB_PATH={} is not a file", p.display()),
                version: "1.31",
            });
        }
        return Ok(p);
    }
    crate::models::installed_file(RUNTIME_MODEL).map_err(|e| OnnxError::RuntimeMissing {
        detail: e.to_string(),
        version: "1.31",
    })
}

/// Loads ONNX Runtime if it is not loaded yet; returns the library's path.
pub fn runtime() -> Result<PathBuf, OnnxError> {
    let mut guard = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = guard.as_ref() {
        return Ok(rt.path.clone());
    }
    let path = runtime_path()?;
    let builder = ort::init_from(&path).map_err(|e| OnnxError::RuntimeLoad {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let env = builder
        .with_name("switchboard")
        .with_telemetry(false)
        .build()
        .map_err(|e| OnnxError::RuntimeLoad {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
    tracing::info!(path = %path.display(), "ONNX Runtime loaded");
    *guard = Some(Runtime {
        path: path.clone(),
        env,
    });
    Ok(path)
}

/// Whether ONNX Runtime is loaded or can be (without loading it).
pub fn runtime_available() -> bool {
    let loaded = RUNTIME.lock().unwrap_or_else(|p| p.into_inner()).is_some();
    loaded || runtime_path().is_ok()
}

/// A CPU session for the model at `path`, with `threads` intra-op threads (the
/// machines this runs on have few cores and other models run beside it) and no
/// inter-op parallelism. Loads the runtime first.
pub fn session(path: &Path, threads: usize) -> Result<Session, OnnxError> {
    runtime()?;
    let model_err = |e: &dyn std::fmt::Display| OnnxError::Model {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    if !path.is_file() {
        return Err(model_err(&"no such file"));
    }
    let guard = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let env = &guard
        .as_ref()
        .ok_or_else(|| model_err(&"ONNX Runtime was unloaded"))?
        .env;
    Session::builder(env)
        .map_err(|e| model_err(&e))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| model_err(&e))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| model_err(&e))?
        .with_inter_threads(1)
        .map_err(|e| model_err(&e))?
        .with_parallel_execution(false)
        .map_err(|e| model_err(&e))?
        .commit_from_file(path)
        .map_err(|e| model_err(&e))
}
