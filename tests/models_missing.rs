//! Without the local ONNX models (an empty models dir) the engine says what to
//! fetch and falls back: English is spoken by espeak-ng and turns end on
//! silence alone. One test in its own binary: it points SWITCHBOARD_MODELS_DIR
//! at an empty folder for the whole process.

mod common;

use common::*;
use switchboard::config::Config;
use switchboard::events::Speaker;
use switchboard::transport::SttMode;
use switchboard::tts::{EspeakTts, PiperConfig, PiperTts};
use switchboard::turn::SmartTurn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_models_english_uses_espeak_and_turns_end_on_silence() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::env::set_var("SWITCHBOARD_MODELS_DIR", dir.path());

    let err = SmartTurn::load_installed().expect_err("not installed");
    assert!(
        err.to_string()
            .contains("switchboard models fetch --only smart-turn-v3"),
        "{err}"
    );
    let err = PiperTts::installed(PiperConfig::default()).expect_err("not installed");
    assert_eq!(err.code(), "tts_unavailable");
    assert!(
        err.to_string()
            .contains("switchboard models fetch --only piper-joe"),
        "{err}"
    );

    let config = Config::default();
    let names: Vec<String> = config
        .text_to_speech()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(names, ["espeak-ng"]);
    assert!(config.end_of_turn().is_none());

    if !EspeakTts::installed() {
        assert!(
            std::env::var_os("SWITCHBOARD_REQUIRE_ESPEAK").is_none(),
            "espeak-ng is required"
        );
        return;
    }
    // A call with those providers: spoken turns end on silence and every reply
    // is heard.
    let r = run(
        r#"{"lang":"en","turns":[{"say":"Where is my order?"},{"say":"Thank you, goodbye."}]}"#,
        config.providers(),
        SttMode::Script,
        4.0,
    )
    .await;
    assert!(r.errors().is_empty(), "{}", r.dump());
    assert_eq!(r.final_lines(Speaker::Customer).len(), 2, "{}", r.dump());
    assert_eq!(r.final_lines(Speaker::Agent).len(), 3, "{}", r.dump());
}
