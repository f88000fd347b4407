//! Text to speech: one trait, Piper (neural, English, ONNX), espeak-ng (subprocess,
//! Arabic and English) and a fake for tests, plus the sentence splitter that feeds
//! TTS while the LLM still streams.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// How a persona sounds in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceSpec {
    pub lang: Lang,
    /// Engine-specific voice name, e.g. espeak-ng "en-us+m3" or "ar".
    pub voice: String,
    /// Words per minute.
    pub rate_wpm: u32,
    /// 0..=99 (espeak-ng pitch).
    pub pitch: u8,
    /// Whose voice it is (cloud voices are chosen per persona and language);
    /// None for the supervisor's typed lines and simulated callers.
    #[serde(default)]
    pub persona: Option<crate::routing::PersonaId>,
}

#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("speech synthesis is unavailable: {0}")]
    Unavailable(String),
    #[error("speech synthesis failed: {0}")]
    Failed(String),
    #[error("speech synthesis timed out after {ms} ms")]
    Timeout { ms: u64 },
}

impl TtsError {
    pub fn code(&self) -> &'static str {
        match self {
            TtsError::Unavailable(_) => "tts_unavailable",
            TtsError::Failed(_) => "tts_failed",
            TtsError::Timeout { .. } => "tts_timeout",
        }
    }
}

/// Chunks of 16 kHz mono i16 audio for one piece of text, in order.
pub type AudioStream = Pin<Box<dyn Stream<Item = Result<Vec<i16>, TtsError>> + Send>>;

pub trait TextToSpeech: Send + Sync {
    fn name(&self) -> &str;
    /// Synthesizes one sentence. Must not block; work starts when polled.
    /// Dropping the stream cancels synthesis.
    fn synthesize(&self, text: &str, voice: &VoiceSpec) -> AudioStream;
    /// Why this voice should be skipped right now (a cloud service known to be
    /// down); the chain then goes straight to the next voice.
    fn skip_reason(&self) -> Option<String> {
        None
    }
}

pub mod bench;
pub mod cloud;
pub mod espeak;
pub mod fake;
pub mod piper;
pub mod sentence_splitter;
pub use espeak::{EspeakConfig, EspeakTts};
pub use fake::{FakeTextToSpeech, FakeTtsFailure};
pub use piper::{PiperConfig, PiperTts};
pub use sentence_splitter::SentenceSplitter;
