//! The local LLM as the engine uses it: the `switchboard-llm` server started on
//! demand, restarted when it dies, and a call whose replies come from it — or from
//! the templates when the model is missing.
//!
//! Needs the server binary (`cargo build -p switchboard-llm`; scripts/test.sh builds
//! it) and the small model (`switchboard models fetch --only smollm2-135m`). Without
//! them the tests that need them are skipped, unless `SWITCHBOARD_REQUIRE_MODELS=1`
//! (scripts/test.sh), where they fail.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::Value;
use switchboard::llm::local::{find_server, ServerState, SMALL_MODEL};
use switchboard::llm::{
    ChatMessage, ChatRequest, LanguageModel, LlmError, LocalLlm, LocalLlmOptions,
};
use switchboard::transport::SttMode;

fn required() -> bool {
    std::env::var("SWITCHBOARD_REQUIRE_MODELS").as_deref() == Ok("1")
}

/// The small model and the server binary, or None (skip) when either is missing.
fn small_model_or_skip(test: &str) -> Option<LocalLlmOptions> {
    let opts = LocalLlmOptions::new(SMALL_MODEL);
    let missing = match (
        switchboard::llm::local::model_file(&opts),
        find_server(None),
    ) {
        (Ok(_), Ok(_)) => return Some(opts),
        (Err(e), _) => e.to_string(),
        (_, Err(e)) => e.to_string(),
    };
    if required() {
        panic!("{test}: {missing} (SWITCHBOARD_REQUIRE_MODELS=1)");
    }
    eprintln!("SKIPPED {test}: {missing}");
    None
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(
                "You are a helpful call-center agent. Answer in one short sentence.",
            ),
            ChatMessage::user(text),
        ],
        max_tokens: 24,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

async fn reply(llm: &LocalLlm, text: &str) -> Result<String, LlmError> {
    let mut stream = llm.stream(request(text));
    let mut out = String::new();
    while let Some(delta) = stream.next().await {
        out.push_str(&delta?);
    }
    Ok(out)
}

fn alive(pid: u32) -> bool {
    // A zombie still has /proc/PID; its state is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_on_demand_restarts_a_killed_server_and_stops_with_its_handle() {
    let Some(opts) = small_model_or_skip("starts_on_demand_restarts_a_killed_server") else {
        return;
    };
    let llm = LocalLlm::new(opts);
    assert!(matches!(llm.state(), ServerState::Idle));
    assert_eq!(llm.starts(), 0, "nothing runs before the first request");

    let first = reply(&llm, "Hello, can you help me with my bill?")
        .await
        .expect("first reply");
    assert!(!first.trim().is_empty());
    assert_eq!(llm.starts(), 1);
    let pid = llm.pid().expect("running");
    let url = llm.base_url().expect("url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // kill -9: the supervisor sees it exit and starts a new one.
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while llm.pid() == Some(pid) {
        assert!(Instant::now() < deadline, "the exit was not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = reply(&llm, "What are your opening hours?")
        .await
        .expect("the next call works");
    assert!(!second.trim().is_empty());
    assert_eq!(llm.starts(), 2);
    let new_pid = llm.pid().expect("running again");
    assert_ne!(new_pid, pid);
    assert!(!alive(pid));

    // The server goes with the engine's handle.
    drop(llm);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(new_pid) {
        assert!(Instant::now() < deadline, "server {new_pid} still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stats(llm: &LocalLlm) -> Value {
    let url = llm
        .base_url()
        .expect("running")
        .replace("/v1", "/debug/stats");
    reqwest::get(&url)
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// `prefill` decodes the call so far while the customer is speaking: the next
/// turn's request then decodes only the new customer line, not the system prompt
/// and history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefill_decodes_the_call_so_far_so_the_next_turn_decodes_only_what_is_new() {
    let Some(opts) = small_model_or_skip("prefill_decodes_the_call_so_far") else {
        return;
    };
    let llm = LocalLlm::new(opts);
    let persona = switchboard::routing::persona(switchboard::routing::PersonaId::Sales)
        .system_prompt(switchboard::lang::Lang::En);
    let so_far = vec![
        ChatMessage::system(persona),
        ChatMessage::assistant("Hello, this is Sarah from sales. How can I help you today?"),
    ];
    llm.prefill(ChatRequest {
        messages: so_far.clone(),
        max_tokens: 80,
        temperature: 0.0,
        tools: Vec::new(),
    });
    // Speech recognition takes a thread less while the model works.
    assert!(
        switchboard::llm::local::busy(),
        "a prefill in flight counts"
    );
    // The prefill runs in the background: wait until the server has finished it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if llm.base_url().is_some() {
            let s = stats(&llm).await;
            if s["completed"].as_u64() == Some(1) {
                assert_eq!(s["completion_tokens"].as_u64(), Some(1), "{s}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the prefill did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prefilled = stats(&llm).await["prompt_tokens"].as_u64().unwrap();
    assert!(prefilled > 100, "the persona prompt is long: {prefilled}");

    let mut turn = so_far;
    turn.push(ChatMessage::user("How much is the premium plan per month?"));
    let mut stream = llm.stream(ChatRequest {
        messages: turn,
        max_tokens: 16,
        temperature: 0.0,
        tools: Vec::new(),
    });
    while let Some(delta) = stream.next().await {
        delta.expect("reply");
    }
    let s = stats(&llm).await;
    let last = &s["last"];
    let cached = last["cached_tokens"].as_u64().expect("cached_tokens");
    let decoded = last["prompt_tokens"].as_u64().expect("prompt_tokens") - cached;
    assert!(
        // All but the generation header that ended the prefill ("<|im_start|>assistant\n").
        cached + 4 >= prefilled && decoded < 40,
        "only the new line is decoded: cached {cached} of the {prefilled} prefilled, decoded {decoded}: {s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_model_is_a_clear_error_and_the_call_answers_from_templates() {
    let empty = tempfile::tempdir().expect("tempdir");
    let llm = LocalLlm::new(LocalLlmOptions {
        models_dir: Some(empty.path().to_path_buf()),
        ..LocalLlmOptions::new(SMALL_MODEL)
    });
    let err = reply(&llm, "Hello?").await.expect_err("no model");
    let msg = err.to_string();
    assert_eq!(err.code(), "llm_unavailable");
    assert!(
        msg.contains("switchboard models fetch --only smollm2-135m"),
        "{msg}"
    );
    assert_eq!(llm.starts(), 0, "no process for a missing model");

    let r = run(
        r#"{"lang":"en","turns":[{"say":"How much is the premium plan?"},{"say":"OK, thanks, bye"}]}"#,
        providers(Some(std::sync::Arc::new(llm)), fast_fake_tts()),
        SttMode::Text,
        10.0,
    )
    .await;
    let replies = r.replies();
    assert!(replies.len() >= 2, "{}", r.dump());
    for (turn, text, provider, fallback) in replies.iter().filter(|x| x.0 > 0) {
        assert_eq!(provider, "template", "turn {turn}: {}", r.dump());
        assert!(*fallback);
        assert!(!text.is_empty());
    }
    let errors = r.errors();
    assert!(!errors.is_empty(), "{}", r.dump());
    assert!(
        errors.iter().all(|e| e.0 == "llm_unavailable"),
        "{}",
        r.dump()
    );
    let messages: Vec<String> = r
        .kinds()
        .filter_map(|k| match k {
            switchboard::events::EventKind::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        messages[0].contains("switchboard models fetch --only smollm2-135m"),
        "{messages:?}"
    );
}

#[test]
fn the_cli_runs_a_call_on_the_local_model() {
    let Some(_) = small_model_or_skip("the_cli_runs_a_call_on_the_local_model") else {
        return;
    };
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/sales_en.json");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["simulate", scenario.to_str().expect("path")])
        .args(["--llm", "local", "--model", "smollm2-135m"])
        .args(["--tts", "fake", "--speed", "20", "--db", "none"])
        .output()
        .expect("run switchboard");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let replies: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "agent_reply" && e["turn"].as_u64().unwrap_or(0) > 0)
        .collect();
    // SmolLM2-135M can ramble until the customer talks over it (barge-in: that turn
    // has no complete reply); every reply that was given came from the model.
    assert!(replies.len() >= 2, "replies: {replies:?}\nstderr: {stderr}");
    for r in &replies {
        assert_eq!(r["provider"], "local:smollm2-135m", "{r}\nstderr: {stderr}");
        assert_eq!(r["fallback"], false, "{r}");
        assert!(!r["text"].as_str().unwrap_or("").trim().is_empty(), "{r}");
    }
    // No reply fell back to a template (the end-of-call summary may, on a busy
    // machine, fall back to the extractive one).
    let fallbacks: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "error" && e["fallback"] == "template")
        .collect();
    assert!(fallbacks.is_empty(), "{fallbacks:?}");
}

#[test]
fn the_cli_names_the_fetch_command_when_the_model_is_missing() {
    let empty = tempfile::tempdir().expect("tempdir");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/sales_en.json");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env("SWITCHBOARD_MODELS_DIR", empty.path())
        .args(["simulate", scenario.to_str().expect("path")])
        .args(["--llm", "local", "--model", "smollm2-135m"])
        .args(["--tts", "fake", "--speed", "20", "--db", "none"])
        .output()
        .expect("run switchboard");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the call goes on: {stderr}");
    assert!(
        stderr.contains("switchboard models fetch --only smollm2-135m"),
        "{stderr}"
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let replies: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "agent_reply" && e["turn"].as_u64().unwrap_or(0) > 0)
        .collect();
    assert!(!replies.is_empty());
    assert!(
        replies.iter().all(|r| r["provider"] == "template"),
        "{replies:?}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["simulate", scenario.to_str().expect("path")])
        .args(["--llm", "local", "--model", "gpt-17"])
        .output()
        .expect("run switchboard");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("smollm2-135m"));
}

#[test]
fn a_config_file_chooses_the_local_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"llm": {"local": {"model": "smollm2-135m", "threads": 1}}}"#,
    )
    .expect("write");
    let config = switchboard::config::Config::load(Some(&path)).expect("config");
    let local = config.llm.local.as_ref().expect("local");
    assert_eq!(local.ctx_size, 4096, "defaults fill the rest");
    // Building the model starts nothing: the server starts on the first reply.
    let llm = config.language_model().expect("a model");
    assert_eq!(llm.name(), "local:smollm2-135m");
    let default = switchboard::config::LocalLlmSettings::default();
    assert_eq!(default.model, "qwen2.5-0.5b");
}
