//! The Piper voice (neural English TTS through ONNX Runtime): real speech of
//! plausible length and loudness in 16 kHz chunks, per sentence, English only,
//! and the fall back to espeak-ng in a call when it cannot speak.
//!
//! Tests that need the model (piper-joe, onnxruntime) skip when it is not
//! installed, and fail instead when `SWITCHBOARD_REQUIRE_MODELS=1`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use futures::{FutureExt, StreamExt};
use switchboard::events::Speaker;
use switchboard::lang::Lang;
use switchboard::transport::SttMode;
use switchboard::tts::{
    AudioStream, EspeakTts, PiperConfig, PiperTts, TextToSpeech, TtsError, VoiceSpec,
};

fn piper(test: &str) -> Option<PiperTts> {
    match PiperTts::installed(PiperConfig::default()) {
        Ok(p) => Some(p),
        Err(e) if std::env::var("SWITCHBOARD_REQUIRE_MODELS").as_deref() == Ok("1") => {
            panic!("{test}: the Piper voice is required: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            None
        }
    }
}

fn english() -> VoiceSpec {
    VoiceSpec {
        lang: Lang::En,
        voice: "en-us+m3".into(),
        rate_wpm: 165,
        pitch: 50,
        persona: None,
    }
}

async fn collect(mut s: AudioStream) -> (Vec<Vec<i16>>, Option<TtsError>) {
    let mut chunks = Vec::new();
    while let Some(c) = s.next().await {
        match c {
            Ok(c) => chunks.push(c),
            Err(e) => return (chunks, Some(e)),
        }
    }
    (chunks, None)
}

fn rms_dbfs(s: &[i16]) -> f64 {
    let rms = (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt();
    20.0 * (rms / 32768.0).max(1e-9).log10()
}

#[tokio::test]
async fn speaks_english_in_16khz_chunks_of_plausible_length_and_loudness() {
    let Some(tts) = piper("speaks_english_in_16khz_chunks_of_plausible_length_and_loudness") else {
        return;
    };
    let text = "Your order shipped yesterday and should arrive on Friday.";
    let (chunks, err) = collect(tts.synthesize(text, &english())).await;
    assert!(err.is_none(), "{err:?}");
    let samples: Vec<i16> = chunks.concat();
    let seconds = samples.len() as f64 / 16_000.0;
    // ~10 words: between 1.5 and 6 s of speech at any sane rate.
    assert!((1.5..6.0).contains(&seconds), "{seconds} s");
    // 100 ms chunks of 16 kHz audio, the last one possibly shorter.
    for c in &chunks[..chunks.len() - 1] {
        assert_eq!(c.len(), 1600);
    }
    let level = rms_dbfs(&samples);
    assert!((-35.0..-6.0).contains(&level), "RMS {level} dBFS");
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 16_000 && peak < 32_767, "peak {peak}");
    // Speech, not a tone or noise: it pauses between words (10 ms windows
    // well below the loudest) and is mostly sound.
    let windows: Vec<f64> = samples.chunks(160).map(rms_dbfs).collect();
    let loud = windows.iter().filter(|&&w| w > level - 10.0).count();
    let quiet = windows.iter().filter(|&&w| w < level - 25.0).count();
    assert!(loud * 2 > windows.len(), "{loud}/{}", windows.len());
    assert!(quiet > 3, "no pauses at all");
}

#[tokio::test]
async fn phonemes_follow_piper_sentences_and_ids() {
    let Some(tts) = piper("phonemes_follow_piper_sentences_and_ids") else {
        return;
    };
    let sentences = tts
        .phonemize("Hello world, how are you? I want to check my order.")
        .await
        .expect("phonemes");
    assert_eq!(sentences.len(), 2, "{sentences:?}");
    let first: String = sentences[0].iter().collect();
    assert!(first.contains(", ") && first.ends_with('?'), "{first}");
    let ids = tts.voice().phoneme_ids(&sentences[1]);
    // ^ _ (phoneme _)* $ : BOS 1, pad 0, EOS 2 in every Piper voice.
    assert_eq!(&ids[..2], &[1, 0]);
    assert_eq!(ids[ids.len() - 1], 2);
    assert!(ids[2..ids.len() - 1]
        .iter()
        .skip(1)
        .step_by(2)
        .all(|&i| i == 0));
}

#[tokio::test]
async fn each_sentence_is_spoken_as_it_is_ready() {
    let Some(tts) = piper("each_sentence_is_spoken_as_it_is_ready") else {
        return;
    };
    // Three sentences in one request: the first sentence's audio is yielded
    // as soon as it is synthesized, before the next one is: right after the
    // first chunk only the rest of that sentence is ready.
    let mut s = tts.synthesize(
        "Sure. Let me check that for you. Your order shipped yesterday and should arrive on Friday.",
        &english(),
    );
    let mut first_sentence = s.next().await.expect("audio").expect("audio").len();
    while let Some(Some(c)) = s.next().now_or_never() {
        first_sentence += c.expect("audio").len();
    }
    let mut total = first_sentence;
    while let Some(c) = s.next().await {
        total += c.expect("audio").len();
    }
    assert!(
        first_sentence * 4 < total,
        "first sentence {first_sentence} of {total} samples"
    );
}

#[tokio::test]
async fn arabic_is_left_to_the_next_voice() {
    let Some(tts) = piper("arabic_is_left_to_the_next_voice") else {
        return;
    };
    let ar = VoiceSpec {
        lang: Lang::Ar,
        voice: "ar".into(),
        rate_wpm: 150,
        pitch: 50,
        persona: None,
    };
    let (chunks, err) = collect(tts.synthesize("مرحبا بك", &ar)).await;
    assert!(chunks.is_empty() && err.is_none());
}

#[test]
fn a_missing_voice_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = PiperTts::load(
        &dir.path().join("en_US-joe-medium.onnx"),
        PiperConfig::default(),
    )
    .expect_err("no voice");
    assert_eq!(err.code(), "tts_unavailable");
    assert!(
        err.to_string().contains("en_US-joe-medium.onnx.json"),
        "{err}"
    );
    let err = switchboard::models::installed_file_in(dir.path(), "piper-joe").expect_err("nothing");
    assert!(
        err.to_string()
            .contains("switchboard models fetch --only piper-joe"),
        "{err}"
    );
}

/// A Piper voice that cannot speak (here: its phonemizer is missing) fails
/// with a clear error and the call speaks every reply with espeak-ng instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_piper_falls_back_to_espeak_in_a_call() {
    let Some(tts) = piper("a_failing_piper_falls_back_to_espeak_in_a_call") else {
        return;
    };
    if !EspeakTts::installed() {
        assert!(std::env::var_os("SWITCHBOARD_REQUIRE_ESPEAK").is_none());
        return;
    }
    let broken = PiperTts::new(
        tts.voice().clone(),
        PiperConfig {
            espeak_binary: Path::new("/nonexistent/espeak-ng").into(),
            ..PiperConfig::default()
        },
    );
    let mut p = providers(None, Arc::new(broken) as Arc<dyn TextToSpeech>);
    p.tts.push(espeak());
    let r = run(
        r#"{"lang":"en","turns":[{"say":"Where is my order?"}]}"#,
        p,
        SttMode::Text,
        10.0,
    )
    .await;
    let errors = r.errors();
    assert!(!errors.is_empty(), "{}", r.dump());
    assert!(
        errors
            .iter()
            .all(|(code, fb)| code == "tts_unavailable" && fb.as_deref() == Some("espeak-ng")),
        "{}",
        r.dump()
    );
    assert_eq!(r.final_lines(Speaker::Agent).len(), 2, "{}", r.dump());
}

/// A line spoken once is spoken again from the line cache: the same audio, its
/// first chunk at once instead of after a whole-sentence inference. Lines that
/// are too long, or that failed, are not kept. `prewarm` fills the cache in the
/// background (the console prewarms the personas' handoff lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_spoken_again_comes_from_the_cache_at_once() {
    let Some(tts) = piper("a_line_spoken_again_comes_from_the_cache_at_once") else {
        return;
    };
    let line = "Thank you for waiting, I am checking your order now.";
    assert!(!tts.is_cached(line));
    let t0 = std::time::Instant::now();
    let (first, err) = collect(tts.synthesize(line, &english())).await;
    let cold = t0.elapsed();
    assert!(err.is_none(), "{err:?}");
    assert!(tts.is_cached(line));
    let t1 = std::time::Instant::now();
    let mut again = tts.synthesize(line, &english());
    let chunk = again.next().await.expect("audio").expect("no error");
    let warm_first = t1.elapsed();
    let mut second = vec![chunk];
    let (rest, err) = collect(again).await;
    assert!(err.is_none());
    second.extend(rest);
    assert_eq!(first, second, "the cached audio is the audio first spoken");
    assert!(
        warm_first * 10 < cold,
        "cached first chunk after {warm_first:?}, synthesis took {cold:?}"
    );

    let long =
        "This sentence is far too long to be kept in the line cache because it goes on and on, \
                listing every detail of the order, the address, the delivery window and the price.";
    let (_, err) = collect(tts.synthesize(long, &english())).await;
    assert!(err.is_none());
    assert!(!tts.is_cached(long), "only short lines are kept");

    let warm = "Hello, this is a prewarmed line.";
    tts.prewarm(vec![warm.to_string()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !tts.is_cached(warm) {
        assert!(
            std::time::Instant::now() < deadline,
            "prewarm did not fill the cache"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
