//! Audio primitives: 20 ms frames of 16 kHz mono i16, WAV in/out, resampling, levels.
//!
//! OWNER: audio helper. The `Frame` type and constants are a fixed interface.

pub const SAMPLE_RATE: u32 = 16_000;
pub const FRAME_MS: u32 = 20;
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE as usize / 1000) * FRAME_MS as usize;

/// 20 ms of 16 kHz mono signed 16-bit audio. `Copy` and heap-free so that the hot
/// path (transport → turn detector → STT) never allocates per frame.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub samples: [i16; FRAME_SAMPLES],
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame(peak={})",
            self.samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap_or(0)
        )
    }
}

impl Frame {
    pub const SILENCE: Frame = Frame {
        samples: [0; FRAME_SAMPLES],
    };

    /// Builds a frame from up to `FRAME_SAMPLES` samples, zero-padding the rest.
    pub fn from_slice(samples: &[i16]) -> Frame {
        let mut f = Frame::SILENCE;
        let n = samples.len().min(FRAME_SAMPLES);
        f.samples[..n].copy_from_slice(&samples[..n]);
        f
    }
}

/// Splits 16 kHz mono samples into frames; the last one is zero-padded.
pub fn frames(samples: &[i16]) -> impl Iterator<Item = Frame> + '_ {
    samples.chunks(FRAME_SAMPLES).map(Frame::from_slice)
}

pub mod level;
pub mod resample;
pub mod wav;
pub use level::{peak, peak_dbfs, rms_dbfs};
pub use resample::{resample, resample_to_16k, upsample_from_16k, StreamResampler};
pub use wav::{decode_wav_bytes, read_wav, wav_bytes, write_wav, AudioError};
