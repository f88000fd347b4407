//! Voice activity, end of turn and barge-in detection.
//!
//! Three layers, each usable alone:
//!
//! 1. [`VoiceActivity`]: one voiced/unvoiced decision per 20 ms frame.
//!    [`VoiceActivityDetector`] is the production one (earshot neural VAD
//!    behind an energy gate); [`EnergyVad`] and plain closures serve tests.
//! 2. [`TurnStateMachine`]: pure turn-taking logic over those decisions
//!    (speech start, end of turn, barge-in, max turn length), unit-tested
//!    with scripted sequences.
//! 3. [`EndOfTurnDetector`]: the two combined, plus a pre-roll ring buffer so
//!    STT receives the audio from just before the detected speech onset.
//!
//! # Semantic end of turn
//! Silence alone is a blunt end-of-turn signal: people pause mid-sentence and
//! finish with no pause at all. A semantic model (e.g. Smart Turn) can be
//! plugged in without touching this module's logic: when
//! [`EndOfTurnDetector::state`] becomes [`TurnState::Pausing`], run the model
//! on the turn's audio (asynchronously) and pass its verdict with
//! [`EndOfTurnDetector::set_semantic_hint`]: [`EndOfTurnHint::Complete`] ends
//! the turn after a shorter silence, [`EndOfTurnHint::Incomplete`] holds it
//! longer. The hint is dropped when speech resumes; `max_turn_ms` always wins.
//! [`smart_turn`] does exactly that with Smart Turn v3
//! ([`EndOfTurnDetector::with_semantic`]), timed by [`SemanticTurnConfig`].

mod detector;
pub mod eval;
mod machine;
pub mod smart_turn;
pub mod vad;

pub use detector::EndOfTurnDetector;
pub use machine::{
    EndOfTurnHint, EndReason, TurnState, TurnStateMachine, ONSET_GAP_TOLERANCE_MS, RESUME_MS,
};
pub use smart_turn::{SemanticEndOfTurn, SemanticMode, SmartTurn, SmartTurnError};
pub use vad::{EnergyVad, VadConfig, VoiceActivity, VoiceActivityDetector};

use crate::audio::FRAME_MS;

/// Turn-taking timing. All durations in milliseconds; they are applied in
/// whole 20 ms frames (rounded up).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TurnConfig {
    /// Silence after speech that ends the customer's turn.
    pub silence_hold_ms: u32,
    /// Voiced audio needed before an utterance counts as speech.
    pub min_speech_ms: u32,
    /// Customer speech over the agent needed to interrupt it.
    pub barge_in_min_ms: u32,
    /// Audio kept from before the detected speech onset.
    pub pre_roll_ms: u32,
    /// A turn longer than this is ended regardless of pauses.
    pub max_turn_ms: u32,
    /// Semantic end of turn (Smart Turn), when the model is available.
    pub semantic: SemanticTurnConfig,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            silence_hold_ms: 500,
            min_speech_ms: 200,
            barge_in_min_ms: 160,
            pre_roll_ms: 300,
            max_turn_ms: 30_000,
            semantic: SemanticTurnConfig::default(),
        }
    }
}

/// When and how the Smart Turn model shapes the end of a turn (see
/// [`smart_turn`]). Only used when a call has the model
/// ([`crate::call::Providers::end_of_turn`]); without it `silence_hold_ms` alone
/// ends turns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SemanticTurnConfig {
    /// Use the model when it is installed.
    pub enabled: bool,
    /// Silence after which the model is asked whether the customer is done
    /// (once per pause). Smart Turn is trained on turns that end with a short
    /// silence; shorter pauses are usually breaths between words.
    pub ask_after_ms: u32,
    /// Silence that ends a turn the model judged complete.
    pub complete_hold_ms: u32,
    /// Silence that ends a turn the model judged unfinished: the customer is
    /// probably thinking, not done.
    pub incomplete_hold_ms: u32,
}

impl Default for SemanticTurnConfig {
    fn default() -> Self {
        SemanticTurnConfig {
            enabled: true,
            ask_after_ms: 200,
            complete_hold_ms: 250,
            incomplete_hold_ms: 1_500,
        }
    }
}

/// What the customer side did on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TurnEvent {
    /// The customer started speaking (emitted `min_speech_ms` after onset).
    SpeechStarted,
    /// The customer's turn ended. `speech_ms`: onset to last speech;
    /// `trailing_silence_ms`: silence observed after it.
    EndOfTurn {
        speech_ms: u32,
        trailing_silence_ms: u32,
    },
    /// The customer spoke over the agent for `barge_in_min_ms`: stop playback.
    /// Also marks the start of the customer's turn (no separate
    /// `SpeechStarted` is emitted for it).
    BargeIn,
}

/// Duration of `frames` 20 ms frames, in ms.
pub const fn frames_to_ms(frames: u32) -> u32 {
    frames.saturating_mul(FRAME_MS)
}

/// Number of whole frames covering `ms` (rounded up).
pub const fn ms_to_frames(ms: u32) -> u32 {
    ms.div_ceil(FRAME_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_up() {
        assert_eq!(ms_to_frames(0), 0);
        assert_eq!(ms_to_frames(1), 1);
        assert_eq!(ms_to_frames(20), 1);
        assert_eq!(ms_to_frames(500), 25);
        assert_eq!(frames_to_ms(25), 500);
    }

    #[test]
    fn config_serde_defaults_missing_fields() {
        let c: TurnConfig = serde_json::from_str(r#"{"silence_hold_ms": 700}"#).unwrap();
        assert_eq!(c.silence_hold_ms, 700);
        assert_eq!(c.max_turn_ms, 30_000);
    }
}
