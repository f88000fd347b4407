//! API keys in the real OS keyring (on Linux: the Secret Service of a private D-Bus
//! session with an unlocked GNOME Keyring, started by scripts/test.sh through
//! scripts/keyring.sh). Each test uses its own keyring service name, so nothing
//! touches a real user's keys.
//!
//! Without a reachable keyring these tests skip, unless SWITCHBOARD_REQUIRE_KEYRING=1
//! (scripts/test.sh sets it): then they fail. The "bus unavailable" test needs no
//! keyring and always runs on Linux.
//!
//! Checks made in a fresh process re-run this test binary with one test selected and
//! SWITCHBOARD_SECRETS_CHILD naming what to do.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use switchboard::config::Config;
use switchboard::llm::{ChatMessage, ChatRequest};
use switchboard::secrets::{SecretName, SecretStatus, SecretStore, SERVICE_ENV};
use switchboard::settings::ConsoleSettings;

const CHILD: &str = "SWITCHBOARD_SECRETS_CHILD";

fn fresh_service() -> String {
    format!("switchboard-test-{}", uuid::Uuid::new_v4())
}

/// A store on a fresh service, with no "environment" unless given.
fn store(service: &str, env: &[(&str, &str)]) -> SecretStore {
    SecretStore::with_service(service).with_env(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

/// True when the keyring answers; panics if it must and does not.
fn keyring_ready() -> bool {
    let s = store(&fresh_service(), &[]);
    let probe = s
        .set(SecretName::DeepgramApiKey, "probe")
        .and_then(|_| s.delete(SecretName::DeepgramApiKey));
    match probe {
        Ok(()) => true,
        Err(e) => {
            if std::env::var("SWITCHBOARD_REQUIRE_KEYRING").as_deref() == Ok("1") {
                panic!(
                    "SWITCHBOARD_REQUIRE_KEYRING=1 but the OS keyring is not usable: [{}] {e}",
                    e.code()
                );
            }
            eprintln!("skipped: no usable OS keyring here ([{}] {e})", e.code());
            false
        }
    }
}

/// Runs one test of this binary in a new process with `env`; returns its stdout.
fn run_child(test: &str, mode: &str, env: &[(&str, &str)], remove: &[&str]) -> (bool, String) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env_remove("SWITCHBOARD_LLM_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("SWITCHBOARD_KEYRING");
    for k in remove {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), format!("{stdout}\n{stderr}"))
}

fn child_mode() -> Option<String> {
    std::env::var(CHILD).ok()
}

#[test]
fn a_key_set_through_the_api_is_in_the_keyring_for_every_process() {
    if child_mode().is_some() || !keyring_ready() {
        return;
    }
    let service = fresh_service();
    let value = format!("sk-test-{}", uuid::Uuid::new_v4().simple());
    let s = store(&service, &[]);
    assert_eq!(
        s.try_status(SecretName::LlmApiKey).unwrap(),
        SecretStatus::Missing
    );
    assert_eq!(s.get(SecretName::LlmApiKey), None);

    s.set(SecretName::LlmApiKey, &format!("  {value}\n"))
        .expect("set");
    assert_eq!(
        s.try_status(SecretName::LlmApiKey).unwrap(),
        SecretStatus::Keyring
    );
    assert_eq!(
        s.get(SecretName::LlmApiKey).as_deref(),
        Some(value.as_str()),
        "trimmed"
    );
    // Other secrets are untouched.
    assert_eq!(
        s.try_status(SecretName::LivekitApiSecret).unwrap(),
        SecretStatus::Missing
    );

    // The OS keyring itself has it (another program reading the Secret Service).
    #[cfg(target_os = "linux")]
    {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", &service, "username", "llm_api_key"])
            .output()
            .expect("secret-tool (apt libsecret-tools) must be installed");
        assert!(out.status.success(), "secret-tool lookup failed: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), value);
    }

    // A fresh process finds it through the app's own lookup (keyring before env).
    let (ok, out) = run_child(
        "child_reports_status",
        "status",
        &[
            (SERVICE_ENV, &service),
            ("OPENAI_API_KEY", "from-the-environment"),
        ],
        &[],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("STATUS=Keyring VALUE={value}")),
        "{out}"
    );

    // The settings the console persists never contain it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.json");
    let mut settings = ConsoleSettings::default();
    settings.llm.base_url = Some("https://api.example.com/v1".into());
    std::fs::write(&file, serde_json::to_vec_pretty(&settings).unwrap()).unwrap();
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert!(!on_disk.contains(&value));
    assert!(!on_disk.contains("sk-test-"));

    // Delete: the environment answers again, then nothing.
    s.delete(SecretName::LlmApiKey).expect("delete");
    let with_env = store(&service, &[("OPENAI_API_KEY", "sk-env")]);
    assert_eq!(
        with_env.try_status(SecretName::LlmApiKey).unwrap(),
        SecretStatus::Environment
    );
    assert_eq!(
        with_env.get(SecretName::LlmApiKey).as_deref(),
        Some("sk-env")
    );
    assert_eq!(
        s.try_status(SecretName::LlmApiKey).unwrap(),
        SecretStatus::Missing
    );
    s.delete(SecretName::LlmApiKey)
        .expect("deleting an absent key succeeds");
    let (ok, out) = run_child(
        "child_reports_status",
        "status",
        &[
            (SERVICE_ENV, &service),
            ("OPENAI_API_KEY", "from-the-environment"),
        ],
        &[],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("STATUS=Environment VALUE=from-the-environment"),
        "{out}"
    );
    #[cfg(target_os = "linux")]
    {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", &service, "username", "llm_api_key"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
    }
}

#[test]
fn statuses_list_every_known_secret_without_values() {
    if child_mode().is_some() || !keyring_ready() {
        return;
    }
    let service = fresh_service();
    let s = store(&service, &[("LIVEKIT_API_SECRET", "lk-env-secret")]);
    s.set(SecretName::ElevenlabsApiKey, "el-keyring-value")
        .unwrap();
    let rows = s.statuses();
    let by_name: HashMap<_, _> = rows.iter().map(|r| (r.name, r.status)).collect();
    assert_eq!(
        by_name[&SecretName::ElevenlabsApiKey],
        SecretStatus::Keyring
    );
    assert_eq!(
        by_name[&SecretName::LivekitApiSecret],
        SecretStatus::Environment
    );
    assert_eq!(by_name[&SecretName::LlmApiKey], SecretStatus::Missing);
    assert_eq!(rows.len(), SecretName::ALL.len());
    assert!(rows.iter().all(|r| r.problem.is_none()), "{rows:?}");
    let json = serde_json::to_string(&rows).unwrap();
    assert!(
        !json.contains("el-keyring-value") && !json.contains("lk-env-secret"),
        "{json}"
    );
    s.delete(SecretName::ElevenlabsApiKey).unwrap();
}

#[test]
fn the_language_model_sends_the_keyring_key() {
    if child_mode().is_some() || !keyring_ready() {
        return;
    }
    let service = fresh_service();
    let value = format!("sk-llm-{}", uuid::Uuid::new_v4().simple());
    let s = store(&service, &[]);
    s.set(SecretName::LlmApiKey, &value).unwrap();
    let (ok, out) = run_child(
        "child_reports_llm_authorization",
        "llm",
        &[(SERVICE_ENV, &service)],
        &[],
    );
    s.delete(SecretName::LlmApiKey).unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("AUTHORIZATION=Bearer {value}")),
        "{out}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn without_a_session_bus_the_keyring_is_unavailable_quickly() {
    if child_mode().is_some() {
        return;
    }
    let t0 = Instant::now();
    let (ok, out) = run_child(
        "child_reports_unavailable",
        "unavailable",
        &[
            (
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/switchboard-test-bus",
            ),
            (SERVICE_ENV, &fresh_service()),
            ("DEEPGRAM_API_KEY", "dg-env"),
        ],
        &["DISPLAY", "WAYLAND_DISPLAY"],
    );
    let elapsed = t0.elapsed();
    assert!(ok, "{out}");
    assert!(out.contains("CODE=keyring_unavailable"), "{out}");
    assert!(out.contains("STATUS=Environment"), "{out}");
    assert!(
        !out.contains("sk-never-stored"),
        "the value must not appear in errors: {out}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

// ---------------------------------------------------------------------------
// Child processes (do nothing unless started by the tests above)
// ---------------------------------------------------------------------------

#[test]
fn child_reports_status() {
    if child_mode().as_deref() != Some("status") {
        return;
    }
    let s = SecretStore::from_env();
    let status = s
        .try_status(SecretName::LlmApiKey)
        .expect("keyring readable");
    let value = switchboard::secrets::get(SecretName::LlmApiKey).unwrap_or_default();
    println!("STATUS={status:?} VALUE={value}");
}

#[test]
fn child_reports_unavailable() {
    if child_mode().as_deref() != Some("unavailable") {
        return;
    }
    let s = SecretStore::from_env();
    let e = s
        .set(SecretName::DeepgramApiKey, "sk-never-stored")
        .expect_err("no bus: the write must fail");
    println!("CODE={} MESSAGE={e}", e.code());
    let e = s
        .try_status(SecretName::DeepgramApiKey)
        .expect_err("no bus");
    assert_eq!(e.code(), "keyring_unavailable");
    // The environment still answers.
    println!("STATUS={:?}", s.status(SecretName::DeepgramApiKey));
    assert_eq!(s.get(SecretName::DeepgramApiKey).as_deref(), Some("dg-env"));
    let rows = s.statuses();
    assert!(rows.iter().all(|r| r
        .problem
        .as_ref()
        .is_some_and(|p| p.code == "keyring_unavailable")));
}

#[test]
fn child_reports_llm_authorization() {
    if child_mode().as_deref() != Some("llm") {
        return;
    }
    // A one-shot HTTP server that records the Authorization header and answers 500.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(sock.try_clone().unwrap());
        let mut auth = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line
                .strip_prefix("authorization: ")
                .or_else(|| line.strip_prefix("Authorization: "))
            {
                auth = v.trim().to_string();
            }
        }
        let _ = sock.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        auth
    });
    let mut config = Config::default();
    config.llm.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
    let llm = config.language_model().expect("an LLM is configured");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut stream = llm.stream(ChatRequest {
            messages: vec![ChatMessage::user("hello")],
            max_tokens: 8,
            temperature: 0.0,
            tools: Vec::new(),
        });
        let first = stream.next().await;
        assert!(matches!(first, Some(Err(_))), "the server answers 500");
    });
    println!("AUTHORIZATION={}", server.join().unwrap());
}
