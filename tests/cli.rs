//! The `switchboard` CLI contract: JSON Lines out, exit code 2 with a one-line error
//! on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn assert_input_error(out: &Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains("panicked"));
}

#[test]
fn simulate_prints_every_event_as_a_json_line_and_writes_agent_audio() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "s.json",
        r#"{"customer":{"phone":"+963944000111","name":"Rana"},"lang":"auto","turns":[
            {"say":"Hi, how much is the premium plan?"},
            {"say":"الراوتر خربان من امبارح"}]}"#,
    );
    let out_dir = dir.path().join("out");
    let db = format!("sqlite://{}", dir.path().join("crm.sqlite3").display());
    let out = bin()
        .args([
            "simulate",
            scenario.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--speed",
            "10",
            "--db",
            &db,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out);
    assert_eq!(events[0]["type"], "call_started");
    assert_eq!(events.last().unwrap()["type"], "call_ended");
    let call_id = events[0]["call_id"].as_str().unwrap();
    for e in &events {
        assert_eq!(e["call_id"], call_id);
        assert!(e["t_ms"].is_u64());
    }
    for t in [
        "transcript",
        "sentiment",
        "persona_changed",
        "turn_metrics",
        "agent_reply",
    ] {
        assert!(events.iter().any(|e| e["type"] == t), "missing {t}");
    }
    let m = events.iter().find(|e| e["type"] == "turn_metrics").unwrap();
    for k in [
        "turn",
        "eou_ms",
        "stt_ms",
        "llm_first_token_ms",
        "tts_first_audio_ms",
        "total_ms",
    ] {
        assert!(m.get(k).is_some(), "turn_metrics.{k}");
    }
    // The caller was looked up (created) in the CRM and the call recorded turn by turn.
    let customer_id = events[0]["customer"]["id"]
        .as_str()
        .expect("CRM id")
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = switchboard::crm::CrmStore::connect(&db).await.unwrap();
        let c = store
            .customer_by_phone("+963 944 000 111")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.id, customer_id);
        assert_eq!(c.total_calls, 1);
        let call = store.call(call_id).await.unwrap().expect("call row");
        assert_eq!(call.outcome.as_deref(), Some("customer_hangup"));
        let turns = store.turns_of_call(call_id).await.unwrap();
        let texts: Vec<&str> = turns
            .iter()
            .filter(|t| t.speaker == "customer")
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(
            texts,
            vec![
                "Hi, how much is the premium plan?",
                "الراوتر خربان من امبارح"
            ]
        );
        assert_eq!(turns.len(), 5, "greeting + 2 × (customer, agent)");
        let hits = store.search_transcripts("الراوتر", 10).await.unwrap();
        assert_eq!(hits.len(), 1);
    });
    // Agent audio per turn: greeting and two answers, real speech at 16 kHz.
    for n in 0..3 {
        let wav = out_dir.join(format!("turn-{n:02}.wav"));
        let samples = switchboard::audio::read_wav(&wav).unwrap();
        assert!(samples.len() > 16_000 / 2, "{} too short", wav.display());
        assert!(
            samples.iter().any(|s| s.unsigned_abs() > 2000),
            "{} is silent",
            wav.display()
        );
    }
}

#[test]
fn corrupt_and_missing_inputs_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = fixture("truncated_half.wav");
    let garbage = fixture("garbage.wav");
    let s1 = write(
        dir.path(),
        "a.json",
        &serde_json::json!({"turns": [{"audio": truncated}]}).to_string(),
    );
    assert_input_error(
        &bin()
            .args(["simulate", s1.to_str().unwrap()])
            .output()
            .unwrap(),
        "truncated_half.wav",
    );
    let s2 = write(
        dir.path(),
        "b.json",
        &serde_json::json!({"turns": [{"audio": garbage}]}).to_string(),
    );
    assert_input_error(
        &bin()
            .args(["simulate", s2.to_str().unwrap()])
            .output()
            .unwrap(),
        "garbage.wav",
    );
    let s3 = write(
        dir.path(),
        "c.json",
        r#"{"turns": [{"audio": "nope.wav"}]}"#,
    );
    assert_input_error(
        &bin()
            .args(["simulate", s3.to_str().unwrap()])
            .output()
            .unwrap(),
        "nope.wav",
    );
    let s_phone = write(
        dir.path(),
        "phone.json",
        r#"{"customer": {"phone": "call me maybe"}, "turns": [{"say": "hi"}]}"#,
    );
    let db = format!("sqlite://{}", dir.path().join("crm.sqlite3").display());
    assert_input_error(
        &bin()
            .args(["simulate", s_phone.to_str().unwrap(), "--db", &db])
            .output()
            .unwrap(),
        "phone",
    );
    let s4 = write(
        dir.path(),
        "d.json",
        r#"{"turns": [{"say": "hi"}, {"supervisor": {"action": "dance"}}]}"#,
    );
    assert_input_error(
        &bin()
            .args(["simulate", s4.to_str().unwrap()])
            .output()
            .unwrap(),
        "turn 2",
    );
    let s5 = write(dir.path(), "e.json", r#"{"turns": [ {"say": "#);
    assert_input_error(
        &bin()
            .args(["simulate", s5.to_str().unwrap()])
            .output()
            .unwrap(),
        "not valid JSON",
    );
    assert_input_error(
        &bin()
            .args(["simulate", "/no/such/scenario.json"])
            .output()
            .unwrap(),
        "/no/such/scenario.json",
    );
    let ok = write(dir.path(), "f.json", r#"{"turns": [{"say": "hi"}]}"#);
    assert_input_error(
        &bin()
            .args(["simulate", ok.to_str().unwrap(), "--llm", "ftp://x"])
            .output()
            .unwrap(),
        "--llm",
    );
}

#[test]
fn sentiment_command_scores_arabic_and_english() {
    let run = |args: &[&str]| -> Value {
        let out = bin().arg("sentiment").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run(&["The service is terrible and nobody helps me"]);
    assert_eq!(v["label"], "negative");
    assert_eq!(v["lang"], "en");
    assert!(v["score"].as_f64().unwrap() < -0.3);
    let v = run(&["--lang", "auto", "الخدمة ممتازة جدا، شكرا كتير"]);
    assert_eq!(v["label"], "positive");
    assert_eq!(v["lang"], "ar");
    let v = run(&["--lang", "ar", "الخدمة مش منيحة أبدا"]);
    assert_eq!(v["label"], "negative");
    let v = run(&["I want to check my order status"]);
    assert_eq!(v["label"], "neutral");
    let out = bin()
        .args(["sentiment", "--lang", "fr", "bonjour"])
        .output()
        .unwrap();
    assert_input_error(&out, "--lang");
}

#[test]
fn config_file_sets_the_silence_hold_and_transcript_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "config.json",
        r#"{"turn": {"silence_hold_ms": 300}}"#,
    );
    let scenario = write(
        dir.path(),
        "s.json",
        r#"{"customer":{"phone":"+966501112233","name":"Omar"},"lang":"ar","turns":[{"say":"مرحبا، بدي أعرف وين صار الطلب تبعي"}]}"#,
    );
    let out = bin()
        .args([
            "--config",
            config.to_str().unwrap(),
            "simulate",
            scenario.to_str().unwrap(),
        ])
        .args([
            "--stt",
            "script",
            "--speed",
            "5",
            "--no-greeting",
            "--transcript",
            "--db",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out);
    let m = events
        .iter()
        .find(|e| e["type"] == "turn_metrics")
        .expect("turn_metrics");
    assert_eq!(m["eou_ms"], 300.0, "{m}");
    let readable = String::from_utf8_lossy(&out.stderr);
    assert!(
        readable.contains("Customer [ar]: مرحبا، بدي أعرف وين صار الطلب تبعي"),
        "{readable}"
    );
    // The phone number is masked in what a person reads over the supervisor's shoulder.
    assert!(
        readable.contains("+966•••••2233") && !readable.contains("+966501112233"),
        "{readable}"
    );
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"turn": {"silence_hold_ms": "long"}}"#,
    );
    assert_input_error(
        &bin()
            .args([
                "--config",
                bad.to_str().unwrap(),
                "simulate",
                scenario.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
        "bad.json",
    );
}

#[test]
fn a_recorded_call_is_found_exported_swept_and_rerun_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "s.json",
        r#"{"customer":{"phone":"+963944000222","name":"Omar"},"lang":"auto","turns":[
            {"say":"My router is broken since yesterday, this is terrible"},
            {"say":"بدي أدفع ببطاقتي ٤١١١ ١١١١ ١١١١ ١١١١"}]}"#,
    );
    let db = format!("sqlite://{}", dir.path().join("crm.sqlite3").display());
    let recordings = dir.path().join("recordings");
    let env = |c: &mut Command| {
        c.env("SWITCHBOARD_RECORD", "1")
            .env("SWITCHBOARD_RECORDINGS_DIR", &recordings)
            .env("XDG_DATA_HOME", dir.path());
    };
    let mut sim = bin();
    env(&mut sim);
    let out = sim
        .args([
            "simulate",
            scenario.to_str().unwrap(),
            "--stt",
            "script",
            "--speed",
            "4",
            "--db",
            &db,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out);
    let call_id = events[0]["call_id"].as_str().unwrap().to_string();
    let rec = events
        .iter()
        .find(|e| e["type"] == "recording")
        .expect("a recording event after the end");
    assert!(rec["duration_ms"].as_u64().unwrap() > 3000, "{rec}");
    assert!(
        rec["blanked_ms"].as_u64().unwrap() > 0,
        "the card number is blanked: {rec}"
    );
    assert!(recordings.join(rec["file"].as_str().unwrap()).exists());

    // History search: the negative English call is found by a word and by its
    // sentiment; a word never said finds nothing.
    let calls = |args: &[&str]| {
        let mut c = bin();
        env(&mut c);
        let out = c
            .arg("calls")
            .args(args)
            .args(["--db", &db])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines(&out)
    };
    let found = calls(&["--keyword", "router", "--recorded"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], call_id.as_str());
    assert_eq!(found[0]["customer_name"], "Omar");
    assert_eq!(calls(&["--sentiment-below", "-0.2"]).len(), 1);
    assert!(calls(&["--keyword", "zebra"]).is_empty());

    // Exports.
    let export = |format: &str| {
        let mut c = bin();
        env(&mut c);
        c.args(["export", &call_id, "--format", format, "--db", &db])
            .output()
            .unwrap()
    };
    let vtt = export("vtt");
    assert!(vtt.status.success());
    let vtt = String::from_utf8(vtt.stdout).unwrap();
    let cues = webvtt_parser::Vtt::parse(&vtt)
        .expect("WebVTT parses")
        .cues
        .len();
    assert!(cues >= 4, "{vtt}");
    assert!(
        vtt.contains("<v Customer>بدي أدفع ببطاقتي •••• •••• •••• ••••"),
        "{vtt}"
    );
    let json = export("json");
    let json = String::from_utf8(json.stdout).unwrap();
    assert!(json.lines().count() > 8);
    assert!(!json.contains("١١١١"));
    let md = String::from_utf8(export("md").stdout).unwrap();
    assert!(md.starts_with("# Call "), "{md}");
    assert_input_error(&export("pdf"), "--format");
    let mut missing = bin();
    env(&mut missing);
    let out = missing
        .args(["export", "no-such-call", "--db", &db])
        .output()
        .unwrap();
    assert_input_error(&out, "no-such-call");

    // Re-run with no recognizer installed (an empty models folder): the stored
    // lines are typed in; old and new answers side by side. (From the recorded
    // audio through local Whisper: tests/whisper_stt.rs.)
    let mut rerun = bin();
    env(&mut rerun);
    let out = rerun
        .args(["rerun", &call_id, "--speed", "10", "--db", &db])
        .env("SWITCHBOARD_MODELS_DIR", dir.path().join("no-models"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["call_id"], call_id.as_str());
    assert_eq!(r["from_audio"], false);
    let turns = r["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2, "{r}");
    for t in turns {
        assert!(
            t["old_reply"].as_str().is_some_and(|s| !s.is_empty()),
            "{t}"
        );
        assert!(
            t["new_reply"].as_str().is_some_and(|s| !s.is_empty()),
            "{t}"
        );
    }

    // Retention: with 0 days nothing goes; the recording stays.
    let mut sweep = bin();
    env(&mut sweep);
    let out = sweep
        .args(["recordings", "sweep", "--db", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = lines(&out);
    assert_eq!(s[0]["deleted"].as_array().unwrap().len(), 0);
    assert_eq!(s[0]["retention_days"], 90);

    // Erasing the customer deletes the recording and the call with it.
    let customer_id = found[0]["customer_id"].as_str().unwrap().to_string();
    let file = recordings.join(rec["file"].as_str().unwrap());
    let mut erase = bin();
    env(&mut erase);
    let out = erase
        .args(["erase-customer", &customer_id, "--db", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out)[0]["recordings_deleted"], 1);
    assert!(!file.exists());
    assert!(calls(&["--customer", "Omar"]).is_empty());
    let mut again = bin();
    env(&mut again);
    let out = again
        .args(["erase-customer", &customer_id, "--db", &db])
        .output()
        .unwrap();
    assert_input_error(&out, &customer_id);
}
