//! [`EndOfTurnDetector`]: VAD + turn state machine + pre-roll buffer.

use std::sync::Arc;

use super::machine::{EndOfTurnHint, EndReason, TurnState, TurnStateMachine};
use super::smart_turn::{SemanticEndOfTurn, SemanticMode, SmartTurn};
use super::vad::{VadConfig, VoiceActivity, VoiceActivityDetector};
use super::{frames_to_ms, ms_to_frames, TurnConfig, TurnEvent};
use crate::audio::Frame;

/// Fixed-capacity ring of the most recent frames; allocated once.
struct FrameRing {
    buf: Vec<Frame>,
    /// Index in `buf` of the oldest frame.
    head: usize,
    len: usize,
    /// Stream index of the next frame to be pushed.
    next_index: u64,
}

impl FrameRing {
    fn new(capacity: usize) -> Self {
        FrameRing {
            buf: vec![Frame::SILENCE; capacity.max(1)],
            head: 0,
            len: 0,
            next_index: 0,
        }
    }

    fn push(&mut self, frame: &Frame) {
        let cap = self.buf.len();
        if self.len < cap {
            self.buf[(self.head + self.len) % cap] = *frame;
            self.len += 1;
        } else {
            self.buf[self.head] = *frame;
            self.head = (self.head + 1) % cap;
        }
        self.next_index += 1;
    }

    fn oldest_index(&self) -> u64 {
        self.next_index - self.len as u64
    }

    /// Frames with stream index >= `from` (clamped to what is held), oldest first.
    fn since(&self, from: u64) -> impl Iterator<Item = &Frame> {
        let skip = from
            .saturating_sub(self.oldest_index())
            .min(self.len as u64) as usize;
        let cap = self.buf.len();
        (skip..self.len).map(move |i| &self.buf[(self.head + i) % cap])
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.next_index = 0;
    }
}

/// Detects speech start, end of turn and barge-in on a stream of customer
/// frames, and keeps the audio from just before speech onset for STT.
///
/// ```
/// use switchboard::audio::Frame;
/// use switchboard::turn::{EndOfTurnDetector, TurnConfig, TurnEvent};
///
/// let mut det = EndOfTurnDetector::new(TurnConfig::default());
/// for _ in 0..50 {
///     assert_eq!(det.push(&Frame::SILENCE, false), None);
/// }
/// ```
///
/// On `SpeechStarted` / `BargeIn`, [`pre_roll`](Self::pre_roll) yields the
/// frames from `pre_roll_ms` before the detected onset up to and including
/// the current frame; stream every later frame to STT directly.
pub struct EndOfTurnDetector {
    vad: Box<dyn VoiceActivity>,
    machine: TurnStateMachine,
    ring: FrameRing,
    pre_roll_frames: u64,
    last_voiced: bool,
    /// Smart Turn, when the call has it: hints the machine when the customer pauses.
    semantic: Option<SemanticEndOfTurn>,
}

impl std::fmt::Debug for EndOfTurnDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndOfTurnDetector")
            .field("machine", &self.machine)
            .field("pre_roll_frames", &self.pre_roll_frames)
            .finish_non_exhaustive()
    }
}

impl EndOfTurnDetector {
    /// Detector using the earshot VAD ([`VoiceActivityDetector`]) with its
    /// default energy gate: the production configuration.
    pub fn new(config: TurnConfig) -> Self {
        Self::with_vad(config, VoiceActivityDetector::new(VadConfig::default()))
    }

    /// Builds a detector around any voice-activity source (a
    /// [`VoiceActivityDetector`] with custom [`VadConfig`], an
    /// [`EnergyVad`](super::EnergyVad), or a closure
    /// `FnMut(&Frame) -> bool + Send` for scripted tests).
    pub fn with_vad(config: TurnConfig, vad: impl VoiceActivity + 'static) -> Self {
        Self::from_boxed(config, Box::new(vad))
    }

    pub fn from_boxed(config: TurnConfig, vad: Box<dyn VoiceActivity>) -> Self {
        let pre_roll_frames = u64::from(ms_to_frames(config.pre_roll_ms));
        // Onset is confirmed min_speech_ms (more with in-word gaps, or
        // barge_in_min_ms when the agent talks) after it happens; the ring must
        // still hold pre_roll_ms before it at that moment. 500 ms of slack
        // covers gaps; beyond that the oldest frames are lost, not corrupted.
        let confirm = ms_to_frames(config.min_speech_ms.max(config.barge_in_min_ms));
        let capacity = pre_roll_frames as usize + confirm as usize + ms_to_frames(500) as usize;
        EndOfTurnDetector {
            vad,
            machine: TurnStateMachine::new(config),
            ring: FrameRing::new(capacity),
            pre_roll_frames,
            last_voiced: false,
            semantic: None,
        }
    }

    /// Adds semantic end of turn with `model` (Smart Turn), timed by the
    /// config's [`SemanticTurnConfig`](super::SemanticTurnConfig); a no-op when
    /// that is disabled. Without an answer from the model (slow, failing) the
    /// silence hold applies as before.
    pub fn with_semantic(mut self, model: Arc<SmartTurn>, mode: SemanticMode) -> Self {
        let config = self.machine.config().semantic.clone();
        if config.enabled {
            self.semantic = Some(SemanticEndOfTurn::new(model, config, mode));
        }
        self
    }

    /// The semantic end-of-turn part, when there is one.
    pub fn semantic(&self) -> Option<&SemanticEndOfTurn> {
        self.semantic.as_ref()
    }

    /// Feeds one 20 ms customer frame. `agent_speaking`: the agent's audio is
    /// being played to the customer during this frame.
    pub fn push(&mut self, frame: &Frame, agent_speaking: bool) -> Option<TurnEvent> {
        self.ring.push(frame);
        let voiced = self.vad.is_voice(frame);
        self.last_voiced = voiced;
        if let Some(s) = self.semantic.as_mut() {
            s.apply_answers(&mut self.machine);
        }
        let event = self.machine.step(voiced, agent_speaking);
        if let Some(s) = self.semantic.as_mut() {
            s.observe(frame, &mut self.machine, event);
        }
        event
    }

    /// Audio for STT: while an utterance is starting or in progress, the frames
    /// from `pre_roll_ms` before its onset through the latest frame (as far as
    /// the ring reaches); otherwise the latest `pre_roll_ms` of audio.
    pub fn pre_roll(&self) -> impl Iterator<Item = &Frame> {
        let from = match self.machine.onset_frame() {
            Some(onset) => onset.saturating_sub(self.pre_roll_frames),
            None => self.ring.next_index.saturating_sub(self.pre_roll_frames),
        };
        self.ring.since(from)
    }

    /// Extension point for a semantic end-of-turn model (e.g. Smart Turn):
    /// when the customer pauses (`state() == TurnState::Pausing`), run the
    /// model on the turn's audio and pass its verdict here to end the turn
    /// sooner or hold it longer. See [`EndOfTurnHint`].
    pub fn set_semantic_hint(&mut self, hint: Option<EndOfTurnHint>) {
        self.machine.set_semantic_hint(hint);
    }

    pub fn state(&self) -> TurnState {
        self.machine.state()
    }

    /// Silence since the last speech of the current turn, in ms.
    pub fn trailing_silence_ms(&self) -> u32 {
        self.machine.trailing_silence_ms()
    }

    /// Stream time (ms since creation/reset) of the current utterance's onset.
    pub fn speech_onset_ms(&self) -> Option<u64> {
        self.machine
            .onset_frame()
            .map(|f| f * u64::from(super::FRAME_MS))
    }

    /// Stream time (ms since creation/reset) at the end of the last pushed frame.
    pub fn elapsed_ms(&self) -> u64 {
        self.machine.frames_seen() * u64::from(super::FRAME_MS)
    }

    /// VAD decision for the last pushed frame.
    pub fn last_frame_voiced(&self) -> bool {
        self.last_voiced
    }

    pub fn last_end_reason(&self) -> Option<EndReason> {
        self.machine.last_end_reason()
    }

    pub fn config(&self) -> &TurnConfig {
        self.machine.config()
    }

    /// Pre-roll length actually kept, in ms (rounded up to whole frames).
    pub fn pre_roll_ms(&self) -> u32 {
        frames_to_ms(self.pre_roll_frames as u32)
    }

    /// Forgets all state and audio (new call on a pooled detector).
    pub fn reset(&mut self) {
        self.vad.reset();
        self.machine.reset();
        self.ring.clear();
        self.last_voiced = false;
        if let Some(s) = self.semantic.as_mut() {
            s.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FRAME_SAMPLES;

    /// Frame whose first sample encodes its stream index, voiced when nonzero
    /// marker bit is set, so tests can see exactly which frames come back.
    fn tagged(index: u16, voiced: bool) -> Frame {
        let mut f = Frame::SILENCE;
        f.samples[0] = index as i16;
        f.samples[1] = i16::from(voiced);
        f
    }

    fn detector(config: TurnConfig) -> EndOfTurnDetector {
        EndOfTurnDetector::with_vad(config, |f: &Frame| f.samples[1] == 1)
    }

    #[test]
    fn pre_roll_starts_before_onset() {
        let mut d = detector(TurnConfig::default());
        let mut i = 0u16;
        for _ in 0..40 {
            assert_eq!(d.push(&tagged(i, false), false), None);
            i += 1;
        }
        // Idle: last 300 ms = 15 frames.
        let idle: Vec<i16> = d.pre_roll().map(|f| f.samples[0]).collect();
        assert_eq!(idle, (25..40).collect::<Vec<_>>());

        let mut started = None;
        for _ in 0..10 {
            if let Some(e) = d.push(&tagged(i, true), false) {
                started = Some((i, e));
            }
            i += 1;
        }
        assert_eq!(started, Some((49, TurnEvent::SpeechStarted)));
        assert_eq!(d.speech_onset_ms(), Some(800));
        let got: Vec<i16> = d.pre_roll().map(|f| f.samples[0]).collect();
        // onset at 40, 15 frames of pre-roll → 25..=49.
        assert_eq!(got, (25..50).collect::<Vec<_>>());
    }

    #[test]
    fn pre_roll_survives_slow_onset_with_gaps() {
        let mut d = detector(TurnConfig::default());
        let mut i = 0u16;
        for _ in 0..30 {
            d.push(&tagged(i, false), false);
            i += 1;
        }
        // Onset at 30, then voiced/gap alternation: 10 voiced frames over 28.
        let pattern = [true, false, false];
        let mut event = None;
        for k in 0..28 {
            let e = d.push(&tagged(i, pattern[k % 3]), false);
            if e.is_some() {
                event = e;
            }
            i += 1;
        }
        assert_eq!(event, Some(TurnEvent::SpeechStarted));
        let first = d.pre_roll().next().map(|f| f.samples[0]);
        assert_eq!(first, Some(15));
    }

    #[test]
    fn reset_clears_everything() {
        let mut d = detector(TurnConfig::default());
        for k in 0..20 {
            d.push(&tagged(k, true), false);
        }
        d.reset();
        assert_eq!(d.state(), TurnState::Idle);
        assert_eq!(d.pre_roll().count(), 0);
        assert_eq!(d.elapsed_ms(), 0);
    }

    #[test]
    fn detector_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let d = EndOfTurnDetector::new(TurnConfig::default());
        assert_send(&d);
        assert_eq!(FRAME_SAMPLES, 320);
    }
}
