//! Speech to text: one streaming trait. Audio is pushed frame by frame while the
//! customer speaks (partials may come back), and `finish` yields the final text when
//! the turn ends.
//!
//! Implementations: [`whisper`] (local Whisper through whisper.cpp, with partials
//! and per-utterance Arabic/English detection; `eval` measures it) and the
//! [`ScriptedSpeechToText`] oracle for simulated calls; cloud recognition plugs in
//! behind the same trait.

#[cfg(feature = "whisper")]
pub mod eval;
mod scripted;
#[cfg(feature = "whisper")]
pub mod whisper;

pub use scripted::{ScriptedSpeechToText, SttScript};

use async_trait::async_trait;

use crate::audio::Frame;
use crate::lang::{Lang, LangHint};

#[derive(Debug, Clone, PartialEq)]
pub struct SttResult {
    pub text: String,
    pub lang: Lang,
}

#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error("speech recognition is unavailable: {0}")]
    Unavailable(String),
    #[error("speech recognition failed: {0}")]
    Failed(String),
    #[error("speech recognition timed out after {ms} ms")]
    Timeout { ms: u64 },
}

impl SttError {
    pub fn code(&self) -> &'static str {
        match self {
            SttError::Unavailable(_) => "stt_unavailable",
            SttError::Failed(_) => "stt_failed",
            SttError::Timeout { .. } => "stt_timeout",
        }
    }
}

pub trait SpeechToText: Send + Sync {
    fn name(&self) -> &str;
    /// Opens a session for one utterance.
    fn start(&self, hint: LangHint) -> Box<dyn SttSession>;
}

#[async_trait]
pub trait SttSession: Send {
    /// Adds audio. Must return at once (the call's audio path waits on it); returns a
    /// new partial transcript when one is ready.
    fn push(&mut self, frame: &Frame) -> Option<String>;
    /// The final transcript of everything pushed.
    async fn finish(self: Box<Self>) -> Result<SttResult, SttError>;
}
