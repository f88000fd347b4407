//! Speech to text: one streaming trait. Audio is pushed frame by frame while the
//! customer speaks (partials may come back), and `finish` yields the final text when
//! the turn ends.
//!
//! Implementations: [`whisper`] (local Whisper through whisper.cpp, with partials
//! and per-utterance Arabic/English detection; `eval` measures it) and the
//! [`ScriptedSpeechToText`] oracle for simulated calls; cloud recognition plugs in
//! behind the same trait.

pub mod chain;
pub mod cloud;
#[cfg(feature = "whisper")]
pub mod eval;
mod scripted;
#[cfg(feature = "whisper")]
pub mod whisper;

pub use chain::SttChain;
pub use scripted::{ScriptedSpeechToText, SttScript};

use async_trait::async_trait;

use crate::audio::Frame;
use crate::lang::{Lang, LangHint};

#[derive(Debug, Clone, PartialEq)]
pub struct SttResult {
    pub text: String,
    pub lang: Lang,
    /// Who recognized it, when not the recognizer the call asked (a chain's
    /// fallback).
    pub provider: Option<String>,
    /// Recognizers of a chain that failed on this utterance before another
    /// recognized it, in order.
    pub failures: Vec<SttFailure>,
}

impl SttResult {
    pub fn new(text: String, lang: Lang) -> Self {
        Self {
            text,
            lang,
            provider: None,
            failures: Vec::new(),
        }
    }
}

/// A recognizer that failed on an utterance another then recognized.
#[derive(Debug, Clone, PartialEq)]
pub struct SttFailure {
    pub provider: String,
    pub code: String,
    pub message: String,
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
    /// Why this recognizer should not be asked right now (a cloud service
    /// known to be down); a chain then goes straight to the next.
    fn skip_reason(&self) -> Option<String> {
        None
    }
    /// Why this recognizer cannot hear anything at all (its model is not
    /// installed): tools that could do without it (a re-run) then do.
    fn unavailable(&self) -> Option<String> {
        None
    }
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
