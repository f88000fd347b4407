//! Semantic end of turn with Smart Turn v3 (pipecat-ai, BSD-2): an audio
//! classifier — a Whisper encoder over the last 8 s of the turn — that says
//! whether the customer sounds finished. 23 languages, Arabic among them.
//!
//! Three parts:
//! - [`WhisperFeatures`]: the model's input, Whisper log-mel features exactly as
//!   pipecat computes them (`transformers.WhisperFeatureExtractor`, n_fft 400,
//!   hop 160, 80 Slaney mel bins, 8 s zero-padded at the start); checked
//!   against a Python reference in `tests/smart_turn.rs`.
//! - [`SmartTurn`]: the loaded model plus one worker thread that runs it, shared
//!   by every call of the process (on a 2-core machine a queue is better than
//!   several inferences fighting for the cores).
//! - [`SemanticEndOfTurn`]: the per-call part that [`EndOfTurnDetector`]
//!   consults on every frame: it keeps the turn's audio, asks the model once the
//!   customer has paused `ask_after_ms`, and turns the answer into an
//!   [`EndOfTurnHint`] (complete → end after `complete_hold_ms`; incomplete →
//!   wait up to `incomplete_hold_ms`). Without an answer (model slow, failed or
//!   absent) the plain silence hold applies.
//!
//! [`EndOfTurnDetector`]: super::EndOfTurnDetector

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::machine::{EndOfTurnHint, TurnState, TurnStateMachine};
use super::{SemanticTurnConfig, TurnEvent};
use crate::audio::{Frame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::onnx::OnnxError;

/// The `switchboard models` name of the model.
pub const MODEL_NAME: &str = "smart-turn-v3";

/// Seconds of audio the model sees (the end of the turn).
pub const WINDOW_SECONDS: usize = 8;
const WINDOW_SAMPLES: usize = WINDOW_SECONDS * SAMPLE_RATE as usize;
const N_FFT: usize = 400;
const HOP: usize = 160;
const N_BINS: usize = N_FFT / 2 + 1;
pub const N_MELS: usize = 80;
/// Feature frames per window (the STFT's last frame is dropped, as in Whisper).
pub const N_FRAMES: usize = WINDOW_SAMPLES / HOP;
/// Audio before the detected speech onset included in the model's input, as
/// pipecat does (`pre_speech_ms`).
const PRE_SPEECH_MS: u32 = 500;
/// A request older than this when the worker gets to it is answered with an
/// error instead of run: its pause is long over.
const STALE_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, thiserror::Error)]
pub enum SmartTurnError {
    #[error("{0}")]
    NotInstalled(String),
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("Smart Turn returned an unexpected output: {0}")]
    BadOutput(String),
    #[error("Smart Turn skipped a request that waited {waited_ms} ms in the queue")]
    Stale { waited_ms: u64 },
    #[error("the Smart Turn worker has stopped")]
    WorkerGone,
}

impl SmartTurnError {
    pub fn code(&self) -> &'static str {
        match self {
            SmartTurnError::NotInstalled(_) => "model_missing",
            SmartTurnError::Onnx(e) => e.code(),
            SmartTurnError::BadOutput(_) => "smart_turn_bad_output",
            SmartTurnError::Stale { .. } => "smart_turn_stale",
            SmartTurnError::WorkerGone => "smart_turn_worker_gone",
        }
    }
}

// ---------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------

/// Whisper log-mel features for an 8 s window, as `WhisperFeatureExtractor`
/// computes them (pipecat's `_whisper_features.py`): waveform zero-mean /
/// unit-variance, centred STFT (reflect padding, periodic Hann, n_fft 400, hop
/// 160), power → 80 Slaney-normalised mel bands over 0–8 kHz, log10 (floor
/// 1e-10), last frame dropped, clamped to max − 8, then (x + 4) / 4.
pub struct WhisperFeatures {
    fft: Arc<dyn RealToComplex<f64>>,
    window: [f64; N_FFT],
    /// Per mel band: first FFT bin and the band's nonzero weights from there.
    filters: Vec<(usize, Vec<f64>)>,
}

impl std::fmt::Debug for WhisperFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperFeatures").finish_non_exhaustive()
    }
}

impl Default for WhisperFeatures {
    fn default() -> Self {
        Self::new()
    }
}

fn hz_to_mel_slaney(hz: f64) -> f64 {
    if hz >= 1000.0 {
        15.0 + (hz / 1000.0).ln() * (27.0 / 6.4f64.ln())
    } else {
        3.0 * hz / 200.0
    }
}

fn mel_to_hz_slaney(mel: f64) -> f64 {
    if mel >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (mel - 15.0)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

/// numpy's `linspace(start, stop, n)` (endpoint exact).
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    v[n - 1] = stop;
    v
}

/// The `(N_BINS, N_MELS)` Slaney mel filter bank of transformers'
/// `mel_filter_bank(norm="slaney", mel_scale="slaney")`, as `[mel][bin]`.
pub fn mel_filter_bank() -> Vec<[f64; N_BINS]> {
    let nyquist = f64::from(SAMPLE_RATE / 2);
    let mel_freqs = linspace(hz_to_mel_slaney(0.0), hz_to_mel_slaney(nyquist), N_MELS + 2);
    let filter_freqs: Vec<f64> = mel_freqs.iter().map(|&m| mel_to_hz_slaney(m)).collect();
    let fft_freqs = linspace(0.0, nyquist, N_BINS);
    let diff: Vec<f64> = filter_freqs.windows(2).map(|w| w[1] - w[0]).collect();
    (0..N_MELS)
        .map(|m| {
            let enorm = 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);
            let mut row = [0.0f64; N_BINS];
            for (b, &f) in fft_freqs.iter().enumerate() {
                let down = -(filter_freqs[m] - f) / diff[m];
                let up = (filter_freqs[m + 2] - f) / diff[m + 1];
                row[b] = 0.0f64.max(down.min(up)) * enorm;
            }
            row
        })
        .collect()
}

impl WhisperFeatures {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let mut window = [0.0f64; N_FFT];
        for (n, w) in window.iter_mut().enumerate() {
            // Periodic Hann (numpy.hanning(N + 1)[:-1], torch.hann_window).
            *w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos();
        }
        let filters = mel_filter_bank()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w != 0.0).unwrap_or(0);
                (first, row[first..=last.max(first)].to_vec())
            })
            .collect();
        WhisperFeatures {
            fft,
            window,
            filters,
        }
    }

    /// The model's 8 s window of a turn: the last 8 s of `samples` (16 kHz),
    /// scaled to [-1, 1), zero-padded at the start when shorter.
    pub fn window(samples: &[i16]) -> Vec<f32> {
        let take = samples.len().min(WINDOW_SAMPLES);
        let mut out = vec![0.0f32; WINDOW_SAMPLES - take];
        out.extend(
            samples[samples.len() - take..]
                .iter()
                .map(|&s| f32::from(s) / 32768.0),
        );
        out
    }

    /// Features of an 8 s window (`audio` is padded at the end or truncated to
    /// 8 s, as the reference does), `N_MELS × N_FRAMES` row-major by mel band.
    pub fn compute(&self, audio: &[f32]) -> Vec<f32> {
        let mut x = vec![0.0f32; WINDOW_SAMPLES];
        let n = audio.len().min(WINDOW_SAMPLES);
        x[..n].copy_from_slice(&audio[..n]);

        // Zero-mean, unit-variance in f32 like the reference (statistics in
        // f64: closer to exact than numpy's f32 pairwise sums, well within
        // the features' tolerance).
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / WINDOW_SAMPLES as f64;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / WINDOW_SAMPLES as f64;
        let (mean32, std32) = (mean as f32, (var as f32 + 1e-7).sqrt());
        for v in x.iter_mut() {
            *v = (*v - mean32) / std32;
        }

        // Centred frames over a reflect-padded signal (numpy "reflect": the
        // edge sample is not repeated).
        let pad = N_FFT / 2;
        let len = WINDOW_SAMPLES;
        let at = |i: isize| -> f64 {
            let j = if i < 0 {
                (-i) as usize
            } else if i as usize >= len {
                2 * (len - 1) - i as usize
            } else {
                i as usize
            };
            f64::from(x[j])
        };
        let mut frame = self.fft.make_input_vec();
        let mut spectrum: Vec<Complex<f64>> = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = [0.0f64; N_BINS];
        let mut out = vec![0.0f32; N_MELS * N_FRAMES];
        let mut logs = vec![0.0f64; N_MELS * N_FRAMES];
        let mut max = f64::NEG_INFINITY;
        for t in 0..N_FRAMES {
            let start = (t * HOP) as isize - pad as isize;
            for (k, v) in frame.iter_mut().enumerate() {
                *v = at(start + k as isize) * self.window[k];
            }
            // Lengths are the planner's own: process cannot fail.
            let _ = self
                .fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch);
            for (p, c) in power.iter_mut().zip(spectrum.iter()) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (m, (first, weights)) in self.filters.iter().enumerate() {
                let e: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                let l = e.max(1e-10).log10();
                max = max.max(l);
                logs[m * N_FRAMES + t] = l;
            }
        }
        let floor = max - 8.0;
        for (o, &l) in out.iter_mut().zip(&logs) {
            *o = ((l.max(floor) + 4.0) / 4.0) as f32;
        }
        out
    }
}

// ---------------------------------------------------------------------------
// The model and its worker
// ---------------------------------------------------------------------------

/// One answer of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Probability that the turn is complete (the model's sigmoid output).
    pub probability: f32,
    /// Feature extraction time.
    pub features_ms: f32,
    /// ONNX inference time.
    pub inference_ms: f32,
}

impl Prediction {
    pub fn is_complete(&self) -> bool {
        self.probability > 0.5
    }
}

struct Model {
    session: Mutex<ort::session::Session>,
    features: WhisperFeatures,
    path: PathBuf,
}

impl Model {
    fn predict(&self, samples: &[i16]) -> Result<Prediction, SmartTurnError> {
        let t0 = Instant::now();
        let feats = self.features.compute(&WhisperFeatures::window(samples));
        let t1 = Instant::now();
        let input = ort::value::Tensor::from_array(([1usize, N_MELS, N_FRAMES], feats))
            .map_err(OnnxError::run)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session
            .run(ort::inputs!["input_features" => input])
            .map_err(OnnxError::run)?;
        let (_, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(OnnxError::run)?;
        let probability = *values
            .first()
            .ok_or_else(|| SmartTurnError::BadOutput("empty output".into()))?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(SmartTurnError::BadOutput(format!(
                "probability {probability} outside [0, 1]"
            )));
        }
        let t2 = Instant::now();
        Ok(Prediction {
            probability,
            features_ms: (t1 - t0).as_secs_f32() * 1000.0,
            inference_ms: (t2 - t1).as_secs_f32() * 1000.0,
        })
    }
}

struct Job {
    audio: Vec<i16>,
    tag: u64,
    queued: Instant,
    reply: mpsc::Sender<Verdict>,
}

/// The model's answer to one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub tag: u64,
    pub result: Result<Prediction, SmartTurnError>,
}

/// Smart Turn v3, loaded, with the worker thread that runs it. Share one per
/// process (`Arc`); calls submit requests and get answers on their own channel.
pub struct SmartTurn {
    model: Arc<Model>,
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTurn")
            .field("path", &self.model.path)
            .finish_non_exhaustive()
    }
}

/// The process-wide instance (see [`SmartTurn::shared`]).
static SHARED: Mutex<Option<Arc<SmartTurn>>> = Mutex::new(None);

impl SmartTurn {
    /// Loads the model at `path` (ONNX Runtime from the installed
    /// `onnxruntime` model or `ORT_DYLIB_PATH`) with `threads` intra-op
    /// threads, and starts its worker.
    pub fn load(path: &Path, threads: usize) -> Result<SmartTurn, SmartTurnError> {
        let session = crate::onnx::session(path, threads)?;
        let model = Arc::new(Model {
            session: Mutex::new(session),
            features: WhisperFeatures::new(),
            path: path.to_path_buf(),
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let worker = model.clone();
        std::thread::Builder::new()
            .name("smart-turn".into())
            .spawn(move || {
                // Ends when every SmartTurn handle (the only senders) is gone.
                while let Ok(job) = rx.recv() {
                    let waited = job.queued.elapsed();
                    let result = if waited > STALE_AFTER {
                        Err(SmartTurnError::Stale {
                            waited_ms: waited.as_millis() as u64,
                        })
                    } else {
                        worker.predict(&job.audio)
                    };
                    let _ = job.reply.send(Verdict {
                        tag: job.tag,
                        result,
                    });
                }
            })
            .map_err(|e| {
                SmartTurnError::Onnx(OnnxError::Run(format!("cannot start worker: {e}")))
            })?;
        Ok(SmartTurn {
            model,
            jobs: Mutex::new(tx),
        })
    }

    /// Loads the installed model (`switchboard models fetch --only smart-turn-v3`).
    pub fn load_installed() -> Result<SmartTurn, SmartTurnError> {
        let path = crate::models::installed_file(MODEL_NAME)
            .map_err(|e| SmartTurnError::NotInstalled(e.to_string()))?;
        Self::load(&path, 1)
    }

    /// The installed model, loaded once per process and shared by all calls.
    /// A failure is not remembered: the next call tries again (the model may
    /// have been fetched meanwhile).
    pub fn shared() -> Result<Arc<SmartTurn>, SmartTurnError> {
        let mut guard = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = guard.as_ref() {
            return Ok(m.clone());
        }
        let m = Arc::new(Self::load_installed()?);
        *guard = Some(m.clone());
        Ok(m)
    }

    pub fn path(&self) -> &Path {
        &self.model.path
    }

    /// Runs the model on the calling thread (blocking; benches, tests). The
    /// answer is about the end of `samples` (16 kHz; only the last 8 s count).
    pub fn predict(&self, samples: &[i16]) -> Result<Prediction, SmartTurnError> {
        self.model.predict(samples)
    }

    /// Queues a request for the worker; the [`Verdict`] with `tag` arrives on
    /// `reply`.
    pub fn submit(
        &self,
        audio: Vec<i16>,
        tag: u64,
        reply: mpsc::Sender<Verdict>,
    ) -> Result<(), SmartTurnError> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.send(Job {
            audio,
            tag,
            queued: Instant::now(),
            reply,
        })
        .map_err(|_| SmartTurnError::WorkerGone)
    }
}

// ---------------------------------------------------------------------------
// Per-call integration with the turn state machine
// ---------------------------------------------------------------------------

/// How [`SemanticEndOfTurn`] waits for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemanticMode {
    /// Live calls: the model runs on its worker and the answer is applied on
    /// the first frame after it arrives; the audio path never waits.
    Background,
    /// Offline evaluation (tests, benches that push audio faster than real
    /// time): the frame that asks waits for the answer, as if inference took
    /// no time, so results do not depend on machine load.
    Lockstep,
}

/// The last model answer of a call, for logs and benches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SemanticVerdict {
    pub prediction: Prediction,
    pub hint: EndOfTurnHint,
    /// Silence (ms) when the model was asked and when the answer was applied.
    pub asked_at_silence_ms: u32,
    pub applied_at_silence_ms: u32,
}

/// The per-call semantic end-of-turn logic; lives inside an
/// [`EndOfTurnDetector`](super::EndOfTurnDetector) (see
/// `EndOfTurnDetector::with_semantic`).
pub struct SemanticEndOfTurn {
    model: Arc<SmartTurn>,
    mode: SemanticMode,
    config: SemanticTurnConfig,
    /// The last `capacity` frames, by stream index (`index % capacity`).
    ring: Vec<Frame>,
    /// Frames pushed so far (stream index of the next frame).
    pushed: u64,
    reply_tx: mpsc::Sender<Verdict>,
    reply_rx: mpsc::Receiver<Verdict>,
    /// Identifies the current pause; bumped whenever a pause ends.
    pause: u64,
    /// The pause whose request is out (or answered).
    asked: Option<u64>,
    asked_at_silence_ms: u32,
    was_pausing: bool,
    last: Option<SemanticVerdict>,
    requests: u64,
    errors: u64,
    last_error: Option<SmartTurnError>,
}

impl std::fmt::Debug for SemanticEndOfTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticEndOfTurn")
            .field("mode", &self.mode)
            .field("config", &self.config)
            .field("requests", &self.requests)
            .field("errors", &self.errors)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl SemanticEndOfTurn {
    pub fn new(model: Arc<SmartTurn>, config: SemanticTurnConfig, mode: SemanticMode) -> Self {
        let frames = WINDOW_SAMPLES / FRAME_SAMPLES;
        let (reply_tx, reply_rx) = mpsc::channel();
        SemanticEndOfTurn {
            model,
            mode,
            config,
            ring: vec![Frame::SILENCE; frames],
            pushed: 0,
            reply_tx,
            reply_rx,
            pause: 0,
            asked: None,
            asked_at_silence_ms: 0,
            was_pausing: false,
            last: None,
            requests: 0,
            errors: 0,
            last_error: None,
        }
    }

    /// Applies answers that have arrived to `machine` (before it steps, so a
    /// hint counts on this very frame).
    pub(crate) fn apply_answers(&mut self, machine: &mut TurnStateMachine) {
        while let Ok(v) = self.reply_rx.try_recv() {
            self.apply(v, machine);
        }
    }

    /// Records `frame` and, when the customer has paused long enough, asks
    /// the model (once per pause). Called after `machine` stepped over it.
    pub(crate) fn observe(
        &mut self,
        frame: &Frame,
        machine: &mut TurnStateMachine,
        event: Option<TurnEvent>,
    ) {
        let cap = self.ring.len() as u64;
        self.ring[(self.pushed % cap) as usize] = *frame;
        self.pushed += 1;

        let pausing = machine.state() == TurnState::Pausing;
        let ended = matches!(event, Some(TurnEvent::EndOfTurn { .. }));
        if (self.was_pausing && !pausing) || ended {
            self.pause += 1;
        }
        self.was_pausing = pausing;
        if !pausing || self.asked == Some(self.pause) {
            return;
        }
        let silence = machine.trailing_silence_ms();
        if silence < self.config.ask_after_ms {
            return;
        }
        let Some(onset) = machine.onset_frame() else {
            return;
        };
        let pre = u64::from(super::ms_to_frames(PRE_SPEECH_MS));
        let from = onset
            .saturating_sub(pre)
            .max(self.pushed.saturating_sub(cap));
        let mut audio = Vec::with_capacity(((self.pushed - from) as usize) * FRAME_SAMPLES);
        for i in from..self.pushed {
            audio.extend_from_slice(&self.ring[(i % cap) as usize].samples);
        }
        self.asked = Some(self.pause);
        self.asked_at_silence_ms = silence;
        self.requests += 1;
        match self.mode {
            SemanticMode::Background => {
                if let Err(e) = self.model.submit(audio, self.pause, self.reply_tx.clone()) {
                    self.record_error(e);
                }
            }
            SemanticMode::Lockstep => {
                let result = self.model.predict(&audio);
                let v = Verdict {
                    tag: self.pause,
                    result,
                };
                self.apply(v, machine);
            }
        }
    }

    fn apply(&mut self, v: Verdict, machine: &mut TurnStateMachine) {
        let prediction = match v.result {
            Ok(p) => p,
            Err(e) => {
                self.record_error(e);
                return;
            }
        };
        // An answer about a pause that is over (speech resumed, turn ended)
        // must not shape the next one.
        if v.tag != self.pause || machine.state() != TurnState::Pausing {
            return;
        }
        let hint = if prediction.is_complete() {
            EndOfTurnHint::Complete {
                silence_ms: self.config.complete_hold_ms,
            }
        } else {
            EndOfTurnHint::Incomplete {
                silence_ms: self.config.incomplete_hold_ms,
            }
        };
        machine.set_semantic_hint(Some(hint));
        self.last = Some(SemanticVerdict {
            prediction,
            hint,
            asked_at_silence_ms: self.asked_at_silence_ms,
            applied_at_silence_ms: machine.trailing_silence_ms(),
        });
        tracing::debug!(
            probability = prediction.probability,
            inference_ms = prediction.inference_ms,
            ?hint,
            "smart turn verdict"
        );
    }

    fn record_error(&mut self, e: SmartTurnError) {
        if self.errors == 0 {
            // Once per call: the silence hold takes over, nothing else to do.
            tracing::warn!(code = e.code(), error = %e, "smart turn failed; ending turns on silence alone");
        }
        self.errors += 1;
        self.last_error = Some(e);
    }

    /// The most recent answer that was applied.
    pub fn last_verdict(&self) -> Option<SemanticVerdict> {
        self.last
    }

    /// Requests made and failed so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.requests, self.errors)
    }

    pub fn last_error(&self) -> Option<&SmartTurnError> {
        self.last_error.as_ref()
    }

    pub fn reset(&mut self) {
        while self.reply_rx.try_recv().is_ok() {}
        self.pushed = 0;
        self.pause += 1;
        self.asked = None;
        self.was_pausing = false;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_bank_matches_reference_shape_and_norm() {
        let bank = mel_filter_bank();
        assert_eq!(bank.len(), N_MELS);
        // Slaney normalisation: each triangle has area ~ 2 / width * width / 2 = 1
        // in Hz; over bins of 40 Hz the weights sum to ~1/40 per band.
        for row in &bank {
            assert!(row.iter().all(|w| *w >= 0.0));
            assert!(row.iter().any(|w| *w > 0.0));
        }
        // The first band starts at 0 Hz and peaks at the second mel point.
        assert_eq!(bank[0][0], 0.0);
    }

    #[test]
    fn window_pads_at_the_start_and_keeps_the_end() {
        let w = WhisperFeatures::window(&[16384; 10]);
        assert_eq!(w.len(), WINDOW_SAMPLES);
        assert_eq!(w[0], 0.0);
        assert_eq!(w[WINDOW_SAMPLES - 1], 0.5);
        let long: Vec<i16> = (0..WINDOW_SAMPLES + 5).map(|i| (i % 7) as i16).collect();
        let w = WhisperFeatures::window(&long);
        assert_eq!(w.len(), WINDOW_SAMPLES);
        assert_eq!(w[0], f32::from(long[5]) / 32768.0);
    }

    #[test]
    fn silence_gives_flat_features() {
        let f = WhisperFeatures::new().compute(&vec![0.0; WINDOW_SAMPLES]);
        assert_eq!(f.len(), N_MELS * N_FRAMES);
        // log10(1e-10) = -10 everywhere → (-10 + 4) / 4.
        assert!(f.iter().all(|&v| (v - -1.5).abs() < 1e-6), "{:?}", &f[..4]);
    }
}
