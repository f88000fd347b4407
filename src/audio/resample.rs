//! Sample-rate conversion to and from the engine's 16 kHz mono format.
//!
//! Standard rate pairs (8/11.025/22.05/44.1/48 kHz ↔ 16 kHz) use rubato's
//! synchronous FFT resampler: exact ratio, good anti-aliasing, cheap. Rates
//! whose ratio to the target has a huge reduced form (e.g. 44 099 Hz) would
//! need an FFT as long as a second of audio, so those fall back to the
//! asynchronous sinc resampler.
//!
//! All resamplers here compensate for the filter delay, so output sample `n`
//! corresponds to input time `n / out_rate`: timestamps survive resampling,
//! which the turn detector and STT alignment rely on.

use rubato::{
    FftFixedIn, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use super::wav::{f32_to_i16, AudioError};
use super::{Frame, FRAME_SAMPLES, SAMPLE_RATE};

/// Input chunk for whole-buffer conversion: long enough for a sharp filter,
/// short enough that per-chunk buffers stay small.
const BULK_CHUNK: usize = 2048;

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The two rubato engines we use, kept concrete (rather than boxed behind
/// `VecResampler`) so `Resampler::reset` stays available.
enum Engine {
    Fft(FftFixedIn<f32>),
    Sinc(SincFixedIn<f32>),
}

macro_rules! with_engine {
    ($e:expr, $r:ident => $body:expr) => {
        match $e {
            Engine::Fft($r) => $body,
            Engine::Sinc($r) => $body,
        }
    };
}

impl Engine {
    /// Output samples to drop so output time 0 lines up with input time 0.
    /// Measured, not taken from `output_delay()` blindly: rubato 0.16's
    /// SincFixedIn already starts its read position half a filter early, so its
    /// reported delay is not actually present in the output (the impulse test
    /// below pins this down if rubato changes).
    fn delay_to_skip(&self) -> usize {
        match self {
            Engine::Fft(r) => r.output_delay(),
            Engine::Sinc(_) => 0,
        }
    }
}

/// Mono resampler that accepts samples one at a time and hands out samples one
/// at a time, with all buffers allocated up front.
struct MonoResampler {
    engine: Engine,
    from: u32,
    to: u32,
    input: Vec<Vec<f32>>,
    input_fill: usize,
    output: Vec<Vec<f32>>,
    /// Leading output samples still to drop to cancel the filter delay.
    to_skip: usize,
    total_in: u64,
    total_out: u64,
}

impl MonoResampler {
    fn new(from: u32, to: u32, chunk: usize) -> Result<Self, AudioError> {
        let fail = |reason: String| AudioError::Resample { from, to, reason };
        if from == 0 || to == 0 {
            return Err(fail("sample rate must be non-zero".into()));
        }
        let chunk = chunk.max(1);
        let g = gcd(from, to);
        // FFT unit size is (from / g) input samples; beyond ~200 ms of audio (or
        // the chunk) the plan gets large and the latency unacceptable.
        let fft_unit = (from / g) as usize;
        let engine = if fft_unit <= chunk.max(from as usize / 5) {
            Engine::Fft(
                FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 1, 1)
                    .map_err(|e| fail(e.to_string()))?,
            )
        } else {
            let params = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: rubato::calculate_cutoff(128, WindowFunction::BlackmanHarris2),
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            Engine::Sinc(
                SincFixedIn::<f32>::new(f64::from(to) / f64::from(from), 1.0, params, chunk, 1)
                    .map_err(|e| fail(e.to_string()))?,
            )
        };
        let (chunk, out_max) =
            with_engine!(&engine, r => (r.input_frames_next(), r.output_frames_max()));
        let to_skip = engine.delay_to_skip();
        let output = vec![vec![0.0; out_max]; 1];
        Ok(MonoResampler {
            engine,
            from,
            to,
            input: vec![vec![0.0; chunk]; 1],
            input_fill: 0,
            output,
            to_skip,
            total_in: 0,
            total_out: 0,
        })
    }

    #[inline]
    fn push(&mut self, x: f32, sink: &mut impl FnMut(f32)) -> Result<(), AudioError> {
        self.input[0][self.input_fill] = x;
        self.input_fill += 1;
        self.total_in += 1;
        if self.input_fill == self.input[0].len() {
            self.run_chunk(u64::MAX, sink)?;
        }
        Ok(())
    }

    /// Processes the full input chunk, emitting at most up to `limit` total outputs.
    fn run_chunk(&mut self, limit: u64, sink: &mut impl FnMut(f32)) -> Result<(), AudioError> {
        let (_, produced) = with_engine!(&mut self.engine, r =>
            r.process_into_buffer(&self.input, &mut self.output, None))
        .map_err(|e| AudioError::Resample {
            from: self.from,
            to: self.to,
            reason: e.to_string(),
        })?;
        self.input_fill = 0;
        let mut out = &self.output[0][..produced];
        let skip = self.to_skip.min(out.len());
        self.to_skip -= skip;
        out = &out[skip..];
        for &y in out {
            if self.total_out >= limit {
                break;
            }
            sink(y);
            self.total_out += 1;
        }
        Ok(())
    }

    /// Output length that exactly corresponds to the input seen so far.
    fn expected_out(&self) -> u64 {
        (self.total_in * u64::from(self.to) + u64::from(self.from) / 2) / u64::from(self.from)
    }

    /// Drains the filter with silence until the output covers all input, then resets.
    fn finish(&mut self, sink: &mut impl FnMut(f32)) -> Result<(), AudioError> {
        let expected = self.expected_out();
        // Each chunk advances the output by roughly chunk*to/from samples; the
        // bound only guards against a resampler that stops producing output.
        let chunk = self.input[0].len() as u64;
        let per_chunk = (chunk * u64::from(self.to) / u64::from(self.from)).max(1);
        let mut budget =
            4 + (expected.saturating_sub(self.total_out) + self.to_skip as u64) / per_chunk * 2;
        while self.total_out < expected && budget > 0 {
            self.input[0][self.input_fill..].fill(0.0);
            self.run_chunk(expected, sink)?;
            budget -= 1;
        }
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        with_engine!(&mut self.engine, r => r.reset());
        self.to_skip = self.engine.delay_to_skip();
        self.input_fill = 0;
        self.total_in = 0;
        self.total_out = 0;
    }
}

/// Converts a whole mono buffer between any two rates.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    let mut r = MonoResampler::new(from, to, BULK_CHUNK)?;
    let mut out = Vec::with_capacity(
        (samples.len() as u64 * u64::from(to) / u64::from(from.max(1))) as usize + 1,
    );
    let mut sink = |y: f32| out.push(y);
    for &x in samples {
        r.push(x, &mut sink)?;
    }
    r.finish(&mut sink)?;
    Ok(out)
}

/// Resamples a whole mono buffer (e.g. a decoded file) to 16 kHz.
///
/// Returns an empty vector only when `rate` is 0 (nothing meaningful to do);
/// use [`resample`] to get the error instead.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Vec<f32> {
    match resample(samples, rate, SAMPLE_RATE) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "resample_to_16k failed");
            Vec::new()
        }
    }
}

/// Converts 16 kHz mono audio (e.g. TTS output) to a playback device's rate.
///
/// Returns an empty vector only when `out_rate` is 0.
pub fn upsample_from_16k(samples: &[i16], out_rate: u32) -> Vec<i16> {
    if out_rate == SAMPLE_RATE {
        return samples.to_vec();
    }
    let f: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    match resample(&f, SAMPLE_RATE, out_rate) {
        Ok(v) => v.into_iter().map(f32_to_i16).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "upsample_from_16k failed");
            Vec::new()
        }
    }
}

/// Turns a live stream of interleaved audio at any rate and channel count
/// (48 kHz stereo from a sound card, LiveKit, SIP at 8 kHz…) into 16 kHz mono
/// [`Frame`]s.
///
/// Input chunks may be any size, including sizes that split a multi-channel
/// sample frame. After construction nothing is allocated: frames are handed to
/// a callback instead of being collected.
///
/// ```
/// use switchboard::audio::resample::StreamResampler;
/// let mut r = StreamResampler::new(48_000, 2).unwrap();
/// let mut frames = Vec::new();
/// r.push_i16(&vec![0i16; 48_000 * 2], |f| frames.push(f)); // 1 s of stereo
/// r.finish(|f| frames.push(f));
/// assert_eq!(frames.len(), 50);
/// ```
pub struct StreamResampler {
    in_rate: u32,
    channels: usize,
    /// Running sum of the current interleaved sample frame and how many of its
    /// channels have arrived; chunk boundaries need not align to frames.
    downmix_sum: f32,
    downmix_count: usize,
    inv_channels: f32,
    /// `None` when the input is already 16 kHz.
    core: Option<MonoResampler>,
    frame: [i16; FRAME_SAMPLES],
    frame_fill: usize,
}

impl StreamResampler {
    /// Creates a resampler for `in_rate` Hz audio with `channels` interleaved channels.
    pub fn new(in_rate: u32, channels: u16) -> Result<Self, AudioError> {
        if channels == 0 {
            return Err(AudioError::UnsupportedFormat("zero channels".into()));
        }
        let core = if in_rate == SAMPLE_RATE {
            None
        } else {
            // 20 ms input chunks keep latency at about one engine frame.
            Some(MonoResampler::new(
                in_rate,
                SAMPLE_RATE,
                (in_rate as usize / 50).max(1),
            )?)
        };
        Ok(StreamResampler {
            in_rate,
            channels: usize::from(channels),
            downmix_sum: 0.0,
            downmix_count: 0,
            inv_channels: 1.0 / f32::from(channels),
            core,
            frame: [0; FRAME_SAMPLES],
            frame_fill: 0,
        })
    }

    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }

    pub fn channels(&self) -> u16 {
        self.channels as u16
    }

    /// Pushes interleaved 16-bit samples; `on_frame` is called for every
    /// completed 16 kHz frame.
    pub fn push_i16(&mut self, interleaved: &[i16], mut on_frame: impl FnMut(Frame)) {
        for &s in interleaved {
            self.push_sample(f32::from(s) / 32768.0, &mut on_frame);
        }
    }

    /// Pushes interleaved float samples in [-1, 1] (values outside are clipped,
    /// NaN/inf become silence).
    pub fn push_f32(&mut self, interleaved: &[f32], mut on_frame: impl FnMut(Frame)) {
        for &s in interleaved {
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            self.push_sample(s, &mut on_frame);
        }
    }

    #[inline]
    fn push_sample(&mut self, s: f32, on_frame: &mut impl FnMut(Frame)) {
        self.downmix_sum += s;
        self.downmix_count += 1;
        if self.downmix_count < self.channels {
            return;
        }
        let mono = self.downmix_sum * self.inv_channels;
        self.downmix_sum = 0.0;
        self.downmix_count = 0;

        let frame = &mut self.frame;
        let fill = &mut self.frame_fill;
        let mut emit = |y: f32| {
            frame[*fill] = f32_to_i16(y);
            *fill += 1;
            if *fill == FRAME_SAMPLES {
                *fill = 0;
                on_frame(Frame { samples: *frame });
            }
        };
        match &mut self.core {
            None => emit(mono),
            Some(core) => {
                // Only fails on a resampler buffer-size bug; dropping one chunk
                // is better than taking down the call.
                if let Err(e) = core.push(mono, &mut emit) {
                    tracing::error!(error = %e, "stream resampler dropped a chunk");
                }
            }
        }
    }

    /// Flushes buffered audio at the end of a stream (the last frame is
    /// zero-padded) and resets for reuse. An incomplete multi-channel sample
    /// frame is discarded.
    pub fn finish(&mut self, mut on_frame: impl FnMut(Frame)) {
        self.downmix_sum = 0.0;
        self.downmix_count = 0;
        let frame = &mut self.frame;
        let fill = &mut self.frame_fill;
        let mut emit = |y: f32| {
            frame[*fill] = f32_to_i16(y);
            *fill += 1;
            if *fill == FRAME_SAMPLES {
                *fill = 0;
                on_frame(Frame { samples: *frame });
            }
        };
        if let Some(core) = &mut self.core {
            if let Err(e) = core.finish(&mut emit) {
                tracing::error!(error = %e, "stream resampler failed to flush");
            }
        }
        if self.frame_fill > 0 {
            self.frame[self.frame_fill..].fill(0);
            self.frame_fill = 0;
            on_frame(Frame {
                samples: self.frame,
            });
        }
    }

    /// Drops all buffered audio (e.g. when the input device changes).
    pub fn reset(&mut self) {
        self.downmix_sum = 0.0;
        self.downmix_count = 0;
        self.frame_fill = 0;
        if let Some(core) = &mut self.core {
            core.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32, amp: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn bulk_lengths_are_exact_for_common_rates() {
        for rate in [8_000, 11_025, 16_000, 22_050, 44_100, 48_000, 44_099] {
            let x = sine(rate, 440.0, 1.0, 0.5);
            let y = resample_to_16k(&x, rate);
            let expected = (x.len() as u64 * 16_000 + u64::from(rate) / 2) / u64::from(rate);
            assert_eq!(y.len() as u64, expected, "rate {rate}");
        }
    }

    /// Fits `y` against a reference sine over its middle: returns the best
    /// fractional lag (in 16 kHz samples), the level ratio and the residual at
    /// that lag. rubato's FFT filters have sub-sample group-delay offsets that
    /// depend on the FFT size, so timing is checked to within one sample.
    fn fit(y: &[f32], hz: f32, amp: f32) -> (f32, f32, f32) {
        let range = y.len() / 4..y.len() * 3 / 4;
        let mut best = (f32::MAX, 0.0f32, 0.0f32);
        for lag10 in -30..=30 {
            let lag = lag10 as f32 / 10.0;
            let (mut e, mut gy, mut gr) = (0.0f32, 0.0f32, 0.0f32);
            for i in range.clone() {
                let r = amp * (2.0 * std::f32::consts::PI * hz * (i as f32 - lag) / 16_000.0).sin();
                e += (y[i] - r).powi(2);
                gy += y[i] * y[i];
                gr += r * r;
            }
            if e < best.0 {
                best = (e, lag, (gy / gr).sqrt());
            }
        }
        (best.1, best.2, (best.0 / range.len() as f32).sqrt())
    }

    #[test]
    fn bulk_preserves_level_and_timing() {
        // Catches uncompensated filter delay (would be tens of samples) and
        // level errors.
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 44_099] {
            let y = resample_to_16k(&sine(rate, 440.0, 1.0, 0.5), rate);
            let (lag, gain, resid) = fit(&y, 440.0, 0.5);
            assert!(lag.abs() <= 1.0, "rate {rate}: lag {lag}");
            assert!((gain - 1.0).abs() < 0.01, "rate {rate}: gain {gain}");
            assert!(resid < 0.005, "rate {rate}: residual {resid}");
        }
    }

    #[test]
    fn impulse_keeps_its_position() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 44_099, 16_001, 7_919] {
            let mut x = vec![0.0f32; rate as usize];
            x[rate as usize / 2] = 1.0;
            let y = resample_to_16k(&x, rate);
            let peak_at = y
                .iter()
                .enumerate()
                .fold(
                    (0, f32::MIN),
                    |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                )
                .0;
            assert!(
                peak_at.abs_diff(8_000) <= 1,
                "rate {rate}: impulse moved to {peak_at}"
            );
        }
    }

    #[test]
    fn bulk_removes_content_above_8k() {
        // 12 kHz at 48 kHz must not alias into the 16 kHz band.
        let y = resample_to_16k(&sine(48_000, 12_000.0, 0.5, 0.5), 48_000);
        assert!(rms(&y[800..7_200]) < 0.005, "alias rms {}", rms(&y));
    }

    #[test]
    fn upsample_round_trip_keeps_signal() {
        let x: Vec<i16> = sine(16_000, 300.0, 0.5, 0.5)
            .into_iter()
            .map(f32_to_i16)
            .collect();
        for rate in [8_000, 22_050, 44_100, 48_000] {
            let up = upsample_from_16k(&x, rate);
            assert_eq!(
                up.len() as u64,
                (x.len() as u64 * u64::from(rate) + 8_000) / 16_000
            );
            let f: Vec<f32> = up.iter().map(|&s| f32::from(s) / 32768.0).collect();
            let (lag, gain, resid) = fit(&resample_to_16k(&f, rate), 300.0, 0.5);
            assert!(
                lag.abs() <= 1.5 && (gain - 1.0).abs() < 0.01 && resid < 0.005,
                "{rate}: {lag} {gain} {resid}"
            );
        }
        assert!(upsample_from_16k(&x, 0).is_empty());
    }

    #[test]
    fn at_16k_mono_any_run_of_samples_becomes_whole_frames_unchanged() {
        let mut r = StreamResampler::new(SAMPLE_RATE, 1).unwrap();
        let samples: Vec<i16> = (0..1000).map(|i| i as i16).collect();
        let mut out = Vec::new();
        r.push_i16(&samples[..100], |f| out.push(f));
        assert!(out.is_empty());
        r.push_i16(&samples[100..700], |f| out.push(f));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].samples[0], 0);
        assert_eq!(out[1].samples[0], 320);
        r.push_i16(&samples[700..], |f| out.push(f));
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].samples[FRAME_SAMPLES - 1], 959);
        assert_eq!(r.frame_fill, 40);
        // Every sample comes through exactly.
        let flat: Vec<i16> = out.iter().flat_map(|f| f.samples).collect();
        assert_eq!(flat, samples[..960]);
    }

    #[test]
    fn stream_matches_duration_with_odd_chunking() {
        for (rate, ch) in [
            (48_000u32, 2u16),
            (44_100, 1),
            (8_000, 1),
            (16_000, 2),
            (22_050, 6),
        ] {
            let mut r = StreamResampler::new(rate, ch).unwrap();
            let n = rate as usize * usize::from(ch); // 1 s
            let input: Vec<i16> = (0..n).map(|i| ((i * 7919) % 2001) as i16 - 1000).collect();
            let mut frames = 0usize;
            // Prime-sized chunks split channel frames and resampler chunks.
            for chunk in input.chunks(317) {
                r.push_i16(chunk, |_| frames += 1);
            }
            r.finish(|_| frames += 1);
            assert_eq!(frames, 50, "rate {rate} ch {ch}");
        }
    }

    #[test]
    fn stream_output_is_time_aligned() {
        for (rate, ch) in [(48_000u32, 2u16), (44_100, 1), (8_000, 1), (11_025, 1)] {
            let mono = sine(rate, 500.0, 0.5, 0.3);
            let interleaved: Vec<f32> = mono
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, usize::from(ch)))
                .collect();
            let mut r = StreamResampler::new(rate, ch).unwrap();
            let mut out = Vec::new();
            for c in interleaved.chunks(480) {
                r.push_f32(c, |f| {
                    out.extend(f.samples.iter().map(|&s| f32::from(s) / 32768.0))
                });
            }
            r.finish(|f| out.extend(f.samples.iter().map(|&s| f32::from(s) / 32768.0)));
            let (lag, gain, resid) = fit(&out[..8_000], 500.0, 0.3);
            assert!(
                lag.abs() <= 1.0 && (gain - 1.0).abs() < 0.01 && resid < 0.005,
                "{rate}: {lag} {gain} {resid}"
            );
        }
    }

    #[test]
    fn stream_downmix_averages_channels() {
        let mut r = StreamResampler::new(16_000, 2).unwrap();
        let mut got = Vec::new();
        let stereo: Vec<i16> = (0..FRAME_SAMPLES).flat_map(|_| [1000i16, 3000]).collect();
        r.push_i16(&stereo, |f| got.push(f));
        assert_eq!(got.len(), 1);
        assert!(got[0].samples.iter().all(|&s| s == 2000));
    }

    #[test]
    fn zero_rate_and_channels_are_errors() {
        assert!(StreamResampler::new(0, 1).is_err());
        assert!(StreamResampler::new(48_000, 0).is_err());
        assert!(resample_to_16k(&[0.0; 10], 0).is_empty());
    }
}
