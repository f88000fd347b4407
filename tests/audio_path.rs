//! Calls whose customer speaks: espeak-ng voices and recorded WAVs go through the
//! real audio path (voice activity, end of turn, barge-in) at 16 kHz.

mod common;

use std::path::Path;

use common::*;
use switchboard::call::CallConfig;
use switchboard::events::{EventKind, Speaker};
use switchboard::transport::SttMode;

const SPEED: f64 = 4.0;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_turns_are_detected_transcribed_and_answered() {
    let r = run(
        r#"{"lang":"auto","turns":[
            {"say":"Hello, I would like to check the status of my order please"},
            {"say":"مرحبا، بدي أعرف وين صار الطلب تبعي"}]}"#,
        providers(None, espeak()),
        SttMode::Script,
        SPEED,
    )
    .await;
    let customer = r.final_lines(Speaker::Customer);
    assert_eq!(customer.len(), 2, "{}", r.dump());
    assert_eq!(
        customer[0].1,
        "Hello, I would like to check the status of my order please"
    );
    assert_eq!(customer[1].1, "مرحبا، بدي أعرف وين صار الطلب تبعي");
    // Partials arrived while the customer was still speaking.
    let partials = r
        .kinds()
        .filter(|k| {
            matches!(
                k,
                EventKind::Transcript {
                    speaker: Speaker::Customer,
                    is_final: false,
                    ..
                }
            )
        })
        .count();
    assert!(partials >= 2, "{}", r.dump());
    // End of turn waited for the configured silence, not much more.
    for k in r.kinds() {
        if let EventKind::TurnMetrics(m) = k {
            assert!(m.eou_ms >= 400.0 && m.eou_ms <= 700.0, "{m:?}");
            assert!(m.response_ms.unwrap() >= m.eou_ms);
        }
    }
    let agent = r.final_lines(Speaker::Agent);
    assert_eq!(agent.len(), 3);
    assert!(
        !has_arabic(&agent[1].1) && has_arabic(&agent[2].1),
        "{agent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_stops_the_agent_and_keeps_only_what_was_heard() {
    for (lang, first, cut_in) in [
        (
            "en",
            "I want to buy the premium internet plan",
            "Wait, wait, stop please",
        ),
        (
            "ar",
            "بدي اشتري باقة الانترنت المميزة",
            "لحظة لحظة، استنى شوي",
        ),
    ] {
        let json = format!(
            r#"{{"lang":"{lang}","turns":[{{"say":"{first}"}},{{"say":"{cut_in}","barge_in_ms":900}}]}}"#
        );
        // No greeting: the barge-in is the only cut.
        let config = CallConfig {
            greet: false,
            ..Default::default()
        };
        let r = run_with(
            &json,
            providers(None, espeak()),
            config,
            SttMode::Script,
            SPEED,
            None,
        )
        .await;
        let barge: Vec<(u32, String, String)> = r
            .kinds()
            .filter_map(|k| match k {
                EventKind::BargeIn {
                    turn,
                    heard,
                    dropped,
                } => Some((*turn, heard.clone(), dropped.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(barge.len(), 1, "{}", r.dump());
        let (turn, heard, dropped) = &barge[0];
        assert_eq!(*turn, 1);
        assert!(
            !dropped.is_empty(),
            "the customer cut in before the end: {barge:?}"
        );
        let reply = r.replies().into_iter().find(|x| x.0 == 1).map(|x| x.1);
        // The reply may still have been generating when it was cut; what was heard
        // plus what was dropped is what had been prepared, word for word.
        let agent = r.final_lines(Speaker::Agent);
        let cut = agent
            .iter()
            .find(|a| a.0 == 1)
            .expect("agent line of turn 1");
        assert!(cut.2, "marked interrupted: {cut:?}");
        assert_eq!(&cut.1, heard);
        if let Some(reply) = reply {
            assert!(reply.len() > heard.len());
        }
        let joined = format!("{heard} {dropped}");
        let heard_words: Vec<&str> = heard.split_whitespace().collect();
        let all_words: Vec<&str> = joined.split_whitespace().collect();
        assert_eq!(&all_words[..heard_words.len()], &heard_words[..]);
        // The cut-in itself became the next turn and was answered.
        let customer = r.final_lines(Speaker::Customer);
        assert_eq!(customer.len(), 2, "{}", r.dump());
        assert!(agent.iter().any(|a| a.0 == 2 && !a.2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_wav_turns_go_through_turn_detection() {
    let json = serde_json::json!({"lang": "en", "turns": [
        {"audio": fixture("en_speech_16k.wav"), "text": "Hello, I would like to check the status of my order."},
        {"audio": fixture("short_48k_stereo.wav"), "text": "Yes, that is correct."}
    ]})
    .to_string();
    let r = run(
        &json,
        providers(None, fast_fake_tts()),
        SttMode::Script,
        SPEED,
    )
    .await;
    let customer = r.final_lines(Speaker::Customer);
    assert_eq!(
        customer.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        vec![
            "Hello, I would like to check the status of my order.",
            "Yes, that is correct."
        ],
        "{}",
        r.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_without_a_recognizer_gets_an_error_and_a_request_to_repeat() {
    let json =
        serde_json::json!({"lang": "ar", "turns": [{"audio": fixture("ar_speech_16k.wav")}]})
            .to_string();
    let r = run(
        &json,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{}", r.dump());
    assert_eq!(errors[0].0, "stt_unavailable");
    // The agent asked, in Arabic, to repeat; the call did not end on the error.
    let agent = r.final_lines(Speaker::Agent);
    assert_eq!(agent.len(), 2, "{}", r.dump());
    assert!(has_arabic(&agent[1].1));
}
