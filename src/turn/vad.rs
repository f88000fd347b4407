//! Frame-level voice activity: is there speech in this 20 ms frame?
//!
//! The turn state machine only consumes the boolean decision through the
//! [`VoiceActivity`] trait, so it can be driven by scripted sequences in tests
//! or by a different model later.

use crate::audio::{level::rms_dbfs, Frame};

/// Source of per-frame voiced/unvoiced decisions for the turn detector.
pub trait VoiceActivity: Send {
    /// Classifies one 20 ms frame. Called exactly once per frame, in order.
    fn is_voice(&mut self, frame: &Frame) -> bool;

    /// Forgets stream history (new call, device change).
    fn reset(&mut self) {}
}

/// Any `FnMut(&Frame) -> bool` is a voice-activity source, which is what tests
/// and simple energy-based setups use.
impl<F> VoiceActivity for F
where
    F: FnMut(&Frame) -> bool + Send,
{
    fn is_voice(&mut self, frame: &Frame) -> bool {
        self(frame)
    }
}

/// Tunables of [`VoiceActivityDetector`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct VadConfig {
    /// Model score at or above which a frame counts as voiced (earshot's
    /// recommended default is 0.5).
    pub threshold: f32,
    /// Frames quieter than this RMS level are declared unvoiced without running
    /// the model. `None` disables the gate. Telephone line noise sits around
    /// -60..-70 dBFS and speech well above -45 dBFS, so -55 only skips frames
    /// that could not be speech anyway.
    pub energy_gate_dbfs: Option<f32>,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            threshold: 0.5,
            energy_gate_dbfs: Some(-55.0),
        }
    }
}

/// earshot's fixed analysis hop: 256 samples (16 ms) at 16 kHz.
const EARSHOT_HOP: usize = 256;

/// Neural voice activity detector (earshot) with an energy gate in front.
///
/// earshot analyses 16 ms hops, our frames are 20 ms: samples are carried over
/// in a fixed array so each frame runs the model once or twice (5 hops per 4
/// frames) without allocating. A frame's probability is the highest score of
/// the hops that completed in it, so a short onset is not averaged away.
pub struct VoiceActivityDetector {
    /// Boxed: the detector holds ~8 KiB of state and moving it around by value
    /// (e.g. into a per-call actor) would copy it each time.
    model: Box<earshot::Detector>,
    config: VadConfig,
    carry: [i16; EARSHOT_HOP],
    carry_len: usize,
    last_probability: f32,
    last_level_dbfs: f32,
    /// The previous frame was gated; used to reset the model once per silent
    /// stretch so it does not resume from pre-silence context.
    gated: bool,
    frames: u64,
    gated_frames: u64,
}

impl Default for VoiceActivityDetector {
    fn default() -> Self {
        Self::new(VadConfig::default())
    }
}

impl std::fmt::Debug for VoiceActivityDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceActivityDetector")
            .field("config", &self.config)
            .field("last_probability", &self.last_probability)
            .field("frames", &self.frames)
            .field("gated_frames", &self.gated_frames)
            .finish()
    }
}

impl VoiceActivityDetector {
    pub fn new(config: VadConfig) -> Self {
        VoiceActivityDetector {
            model: earshot::Detector::default_boxed(),
            config,
            carry: [0; EARSHOT_HOP],
            carry_len: 0,
            last_probability: 0.0,
            last_level_dbfs: crate::audio::level::MIN_DBFS,
            gated: false,
            frames: 0,
            gated_frames: 0,
        }
    }

    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Speech probability of `frame` in [0, 1] (0 for gated frames). Advances
    /// the stream: call once per frame, in order.
    pub fn probability(&mut self, frame: &Frame) -> f32 {
        self.frames += 1;
        let level = rms_dbfs(&frame.samples);
        self.last_level_dbfs = level;
        if let Some(gate) = self.config.energy_gate_dbfs {
            if level < gate {
                self.gated_frames += 1;
                if !self.gated {
                    // The model's context (48 ms window, recurrent state) still
                    // describes the audio before the gate closed; zeroed state
                    // is what a run of near-silence would converge to.
                    self.model.reset();
                    self.carry_len = 0;
                    self.gated = true;
                }
                self.last_probability = 0.0;
                return 0.0;
            }
        }
        self.gated = false;

        let mut best = 0.0f32;
        let mut input: &[i16] = &frame.samples;
        if self.carry_len > 0 {
            let take = EARSHOT_HOP - self.carry_len;
            self.carry[self.carry_len..].copy_from_slice(&input[..take]);
            best = best.max(self.model.predict_i16(&self.carry));
            input = &input[take..];
            self.carry_len = 0;
        }
        let mut hops = input.chunks_exact(EARSHOT_HOP);
        for hop in &mut hops {
            best = best.max(self.model.predict_i16(hop));
        }
        let rest = hops.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();

        self.last_probability = best;
        best
    }

    /// Probability computed for the most recent frame.
    pub fn last_probability(&self) -> f32 {
        self.last_probability
    }

    /// RMS level of the most recent frame, in dBFS.
    pub fn last_level_dbfs(&self) -> f32 {
        self.last_level_dbfs
    }

    /// (frames seen, frames skipped by the energy gate) since creation.
    pub fn gate_stats(&self) -> (u64, u64) {
        (self.frames, self.gated_frames)
    }
}

impl VoiceActivity for VoiceActivityDetector {
    fn is_voice(&mut self, frame: &Frame) -> bool {
        self.probability(frame) >= self.config.threshold
    }

    fn reset(&mut self) {
        self.model.reset();
        self.carry_len = 0;
        self.last_probability = 0.0;
        self.gated = false;
    }
}

/// Energy-only fallback: voiced when the frame's RMS level is at or above
/// `threshold_dbfs`. Useful for tests and as a degraded mode; it cannot tell
/// speech from loud noise.
#[derive(Debug, Clone, Copy)]
pub struct EnergyVad {
    pub threshold_dbfs: f32,
}

impl VoiceActivity for EnergyVad {
    fn is_voice(&mut self, frame: &Frame) -> bool {
        rms_dbfs(&frame.samples) >= self.threshold_dbfs
    }
}

// Compile-time guard: per-call detectors move between tokio worker threads.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<VoiceActivityDetector>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FRAME_SAMPLES;

    fn noise(seed: &mut u32, amp: f32) -> Frame {
        let mut f = Frame::SILENCE;
        for s in f.samples.iter_mut() {
            // xorshift: deterministic, no rand dependency.
            *seed ^= *seed << 13;
            *seed ^= *seed >> 17;
            *seed ^= *seed << 5;
            *s = ((*seed as f32 / u32::MAX as f32 - 0.5) * 2.0 * amp) as i16;
        }
        f
    }

    #[test]
    fn silence_is_gated_and_never_voice() {
        let mut vad = VoiceActivityDetector::default();
        for _ in 0..50 {
            assert!(!vad.is_voice(&Frame::SILENCE));
        }
        assert_eq!(vad.gate_stats(), (50, 50));
    }

    #[test]
    fn gate_can_be_disabled() {
        let mut vad = VoiceActivityDetector::new(VadConfig {
            energy_gate_dbfs: None,
            ..VadConfig::default()
        });
        let mut seed = 7;
        for _ in 0..50 {
            assert!(!vad.is_voice(&noise(&mut seed, 30.0)));
        }
        assert_eq!(vad.gate_stats(), (50, 0));
    }

    #[test]
    fn carry_over_covers_every_sample() {
        // 4 frames = 1280 samples = exactly 5 hops: carry must be empty again.
        let mut vad = VoiceActivityDetector::new(VadConfig {
            energy_gate_dbfs: None,
            ..VadConfig::default()
        });
        for i in 0..4 {
            vad.probability(&Frame::SILENCE);
            assert_eq!(vad.carry_len, (FRAME_SAMPLES * (i + 1)) % EARSHOT_HOP);
        }
        assert_eq!(vad.carry_len, 0);
    }

    #[test]
    fn energy_vad_thresholds_level() {
        let mut v = EnergyVad {
            threshold_dbfs: -40.0,
        };
        assert!(!v.is_voice(&Frame::SILENCE));
        assert!(v.is_voice(&Frame::from_slice(&[8000; FRAME_SAMPLES])));
    }
}
