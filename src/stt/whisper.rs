//! Local speech recognition: Whisper through whisper.cpp (`whisper-rs`).
//!
//! One [`WhisperModel`] per model file, loaded once per process and shared by every
//! session of every call. Decoding never runs on the caller's task: each model has
//! one worker thread that owns a whisper.cpp state and takes jobs from a queue —
//! finals first, then partials, oldest first. A session re-decodes its growing
//! buffer about every 0.5 s while the customer speaks (at most one partial of a
//! session in flight; `push` returns the newest partial that came back) and
//! decodes everything once more at `finish`, aborting its partial still running.
//!
//! Decoding: greedy, no timestamps, blank and non-speech tokens suppressed, no
//! temperature fallback, the encoder window trimmed to the audio (whisper.cpp's
//! `audio_ctx`) so a 3 s utterance does not pay for 30 s. Language: fixed by the
//! hint, or detected per utterance between Arabic and English only (the
//! language-token logits of the two, after whisper.cpp's own detection pass).

use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::oneshot;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::{SpeechToText, SttError, SttResult, SttSession};
use crate::audio::{Frame, SAMPLE_RATE};
use crate::lang::{Lang, LangHint};

/// The Whisper models Switchboard installs (see [`crate::models`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WhisperSize {
    /// Multilingual base: Arabic and English. The default.
    Base,
    /// English-only tiny: fastest.
    TinyEn,
}

impl WhisperSize {
    /// Accepts `base`, `tiny.en`, `tiny-en` and the registry names.
    pub fn parse(s: &str) -> Option<WhisperSize> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base" | "whisper-base" => Some(WhisperSize::Base),
            "tiny.en" | "tiny-en" | "whisper-tiny-en" | "whisper-tiny.en" => {
                Some(WhisperSize::TinyEn)
            }
            _ => None,
        }
    }

    /// The model's name in [`crate::models::registry`].
    pub fn model_name(self) -> &'static str {
        match self {
            WhisperSize::Base => "whisper-base",
            WhisperSize::TinyEn => "whisper-tiny-en",
        }
    }

    pub fn short_name(self) -> &'static str {
        match self {
            WhisperSize::Base => "base",
            WhisperSize::TinyEn => "tiny.en",
        }
    }
}

/// How decoding runs.
#[derive(Debug, Clone)]
pub struct WhisperOptions {
    /// Threads per decode (`$SWITCHBOARD_WHISPER_THREADS`, else every core, 1 to
    /// 4): on an idle 2-core machine two threads halve the final's latency
    /// (`switchboard bench-voice`, docs/models.md).
    pub threads: usize,
    /// Take one thread less while this process's local LLM is working (prefilling
    /// the next prompt while the customer speaks, answering another call). ggml's
    /// threads spin on each other: with the LLM's own spinning pool on the same
    /// cores, two threads on two cores decode many times slower than one (a short
    /// utterance took over 15 s in the console's end-to-end test). Off when
    /// `$SWITCHBOARD_WHISPER_THREADS` fixes the count.
    pub yield_to_llm: bool,
    /// How often a session re-decodes its buffer for a partial (0: no partials).
    pub partial_every: Duration,
    /// Shortest encoder window of a final decode, in seconds: whisper.cpp's
    /// `audio_ctx`, which otherwise always encodes 30 s. The window grows with the
    /// audio; 30 means whisper's full window.
    pub final_min_window_s: f32,
    /// The same for partials.
    pub partial_min_window_s: f32,
    /// A final result takes the language a partial detected on at least 2 s of
    /// the same utterance, instead of detecting again.
    pub reuse_partial_language: bool,
}

impl Default for WhisperOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let fixed_threads = std::env::var("SWITCHBOARD_WHISPER_THREADS")
            .ok()
            .and_then(|t| t.trim().parse::<usize>().ok())
            .filter(|&t| t > 0);
        Self {
            threads: fixed_threads.unwrap_or(cores.clamp(1, 4)),
            yield_to_llm: fixed_threads.is_none(),
            partial_every: Duration::from_millis(500),
            final_min_window_s: DEFAULT_MIN_WINDOW_S,
            partial_min_window_s: DEFAULT_MIN_WINDOW_S,
            reuse_partial_language: true,
        }
    }
}

/// See [`WhisperOptions::final_min_window_s`]; chosen with `switchboard bench-stt`
/// (docs/models.md): shorter windows hallucinate loops on short clips.
pub const DEFAULT_MIN_WINDOW_S: f32 = 10.0;

/// A partial's language is reused once detected on this much audio.
const LANG_FROZEN_AFTER: usize = SAMPLE_RATE as usize;

/// What one decode produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    pub lang: Lang,
    /// Wall time of the decode (language detection included).
    pub decode_ms: f64,
}

enum LangChoice {
    Fixed(Lang),
    /// Pick Arabic or English by whisper's language scores.
    Detect,
}

enum JobKind {
    Partial(Arc<PartialSlot>),
    Final(oneshot::Sender<Result<Transcript, SttError>>),
}

struct Job {
    session: u64,
    audio: Vec<f32>,
    lang: LangChoice,
    min_window_s: f32,
    abort: Arc<AtomicBool>,
    kind: JobKind,
}

#[derive(Default)]
struct Queue {
    finals: VecDeque<Job>,
    partials: VecDeque<Job>,
    shutdown: bool,
}

struct Shared {
    ctx: WhisperContext,
    size: WhisperSize,
    path: PathBuf,
    multilingual: bool,
    opts: WhisperOptions,
    queue: Mutex<Queue>,
    wake: Condvar,
    next_session: AtomicU64,
}

/// Stops the worker when the last handle goes.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.shutdown = true;
        }
        self.shared.wake.notify_all();
    }
}

/// A loaded Whisper model and its decode worker. Cheap to clone.
#[derive(Clone)]
pub struct WhisperModel {
    handle: Arc<Handle>,
}

fn loaded() -> &'static Mutex<HashMap<(PathBuf, WhisperSize), WhisperModel>> {
    static LOADED: OnceLock<Mutex<HashMap<(PathBuf, WhisperSize), WhisperModel>>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

impl WhisperModel {
    /// The installed model of this size (from [`crate::models::models_dir`]),
    /// loaded once per process and shared. A missing model is
    /// `SttError::Unavailable` naming it and the command that fetches it.
    pub fn shared(size: WhisperSize) -> Result<WhisperModel, SttError> {
        Self::shared_in(&crate::models::models_dir(), size)
    }

    pub fn shared_in(models_dir: &Path, size: WhisperSize) -> Result<WhisperModel, SttError> {
        let path = crate::models::installed_file_in(models_dir, size.model_name())
            .map_err(|e| SttError::Unavailable(e.to_string()))?;
        let key = (path.clone(), size);
        let mut map = loaded()
            .lock()
            .map_err(|_| SttError::Failed("whisper model cache poisoned".into()))?;
        if let Some(m) = map.get(&key) {
            return Ok(m.clone());
        }
        let m = Self::load(&path, size, WhisperOptions::default())?;
        map.insert(key, m.clone());
        Ok(m)
    }

    /// Loads a ggml model file and starts its worker (not shared).
    pub fn load(
        path: &Path,
        size: WhisperSize,
        opts: WhisperOptions,
    ) -> Result<WhisperModel, SttError> {
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let path_str = path.to_str().ok_or_else(|| {
            SttError::Unavailable(format!("model path is not UTF-8: {}", path.display()))
        })?;
        let ctx = WhisperContext::new_with_params(path_str, params).map_err(|e| {
            SttError::Unavailable(format!(
                "cannot load {} ({e}); reinstall it with `switchboard models fetch --only {}`",
                path.display(),
                size.model_name()
            ))
        })?;
        let multilingual = ctx.is_multilingual();
        let shared = Arc::new(Shared {
            ctx,
            size,
            path: path.to_path_buf(),
            multilingual,
            opts,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            next_session: AtomicU64::new(1),
        });
        let state = shared
            .ctx
            .create_state()
            .map_err(|e| SttError::Unavailable(format!("whisper state: {e}")))?;
        let worker = shared.clone();
        std::thread::Builder::new()
            .name(format!("whisper-{}", size.short_name()))
            .spawn(move || worker_loop(worker, state))
            .map_err(|e| SttError::Unavailable(format!("cannot start the whisper worker: {e}")))?;
        Ok(WhisperModel {
            handle: Arc::new(Handle { shared }),
        })
    }

    pub fn size(&self) -> WhisperSize {
        self.handle.shared.size
    }

    pub fn path(&self) -> &Path {
        &self.handle.shared.path
    }

    pub fn is_multilingual(&self) -> bool {
        self.handle.shared.multilingual
    }

    fn lang_choice(&self, hint: LangHint) -> Result<LangChoice, SttError> {
        let s = &self.handle.shared;
        match (hint.fixed(), s.multilingual) {
            (Some(Lang::Ar), false) => Err(SttError::Unavailable(format!(
                "{} recognizes English only; Arabic needs whisper-base (`switchboard models fetch --only whisper-base`)",
                s.size.model_name()
            ))),
            (Some(l), _) => Ok(LangChoice::Fixed(l)),
            (None, false) => Ok(LangChoice::Fixed(Lang::En)),
            (None, true) => Ok(LangChoice::Detect),
        }
    }

    fn submit(&self, job: Job) {
        let s = &self.handle.shared;
        if let Ok(mut q) = s.queue.lock() {
            match job.kind {
                JobKind::Final(_) => q.finals.push_back(job),
                JobKind::Partial(_) => q.partials.push_back(job),
            }
        }
        s.wake.notify_one();
    }

    /// Transcribes a whole clip (16 kHz mono) on the worker.
    pub async fn transcribe(
        &self,
        samples: &[i16],
        hint: LangHint,
    ) -> Result<Transcript, SttError> {
        let lang = self.lang_choice(hint)?;
        let (tx, rx) = oneshot::channel();
        self.submit(Job {
            session: 0,
            audio: samples.iter().map(|&s| f32::from(s) / 32768.0).collect(),
            lang,
            min_window_s: self.handle.shared.opts.final_min_window_s,
            abort: Arc::new(AtomicBool::new(false)),
            kind: JobKind::Final(tx),
        });
        rx.await
            .map_err(|_| SttError::Failed("the whisper worker stopped".into()))?
    }
}

/// The newest partial of a session, written by the worker.
#[derive(Default)]
struct PartialSlot {
    state: Mutex<PartialState>,
}

#[derive(Default)]
struct PartialState {
    /// This session's partials queued or running.
    in_flight: usize,
    /// Samples of the session's audio the partial in flight decodes.
    in_flight_covers: usize,
    /// The newest partial not yet returned by `push`.
    text: Option<String>,
    /// The newest finished partial: text, language, samples it covered.
    latest: Option<(String, Lang, usize)>,
    /// Language detected on a partial, and on how many samples.
    lang: Option<(Lang, usize)>,
}

fn worker_loop(shared: Arc<Shared>, mut state: WhisperState) {
    loop {
        let job = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if q.shutdown {
                    return;
                }
                if let Some(j) = q.finals.pop_front().or_else(|| q.partials.pop_front()) {
                    break j;
                }
                q = match shared.wake.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        match job.kind {
            JobKind::Final(tx) => {
                let r = decode(
                    &shared,
                    &mut state,
                    &job.audio,
                    &job.lang,
                    job.min_window_s,
                    &job.abort,
                );
                let _ = tx.send(r.map_err(|e| SttError::Failed(e.to_string())));
            }
            JobKind::Partial(slot) => {
                let known = slot.state.lock().ok().and_then(|s| s.lang);
                let lang = match (&job.lang, known) {
                    (LangChoice::Detect, Some((l, n))) if n >= LANG_FROZEN_AFTER => {
                        LangChoice::Fixed(l)
                    }
                    (LangChoice::Detect, _) => LangChoice::Detect,
                    (LangChoice::Fixed(l), _) => LangChoice::Fixed(*l),
                };
                let detecting = matches!(lang, LangChoice::Detect);
                let r = if job.abort.load(Ordering::Relaxed) {
                    Err(DecodeError::Aborted)
                } else {
                    decode(
                        &shared,
                        &mut state,
                        &job.audio,
                        &lang,
                        job.min_window_s,
                        &job.abort,
                    )
                };
                if let Ok(mut s) = slot.state.lock() {
                    s.in_flight = s.in_flight.saturating_sub(1);
                    if let Ok(t) = r {
                        if detecting {
                            s.lang = Some((t.lang, job.audio.len()));
                        }
                        s.latest = Some((t.text.clone(), t.lang, job.audio.len()));
                        s.text = Some(t.text);
                    }
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DecodeError {
    #[error("aborted")]
    Aborted,
    #[error("{0}")]
    Whisper(String),
}

/// Called by whisper.cpp between steps; `data` points at the job's abort flag.
unsafe extern "C" fn abort_requested(data: *mut c_void) -> bool {
    // SAFETY: `data` is the `AtomicBool` inside the job's `Arc`, which `decode`
    // keeps alive for as long as whisper.cpp runs with these parameters.
    let flag = unsafe { &*(data as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

/// Encoder frames (20 ms each) for `n` samples plus a margin, at least
/// `min_s` seconds; whisper's window is 1500 frames (30 s).
fn window_for(n: usize, min_s: f32) -> i32 {
    let frames = (n.div_ceil(320) + 64).max((min_s.max(0.0) * 50.0) as usize);
    frames.min(1500) as i32
}

/// An upper bound on the tokens of `n` samples of speech (fast Arabic runs at
/// about 8 tokens a second): a hallucinated loop stops there.
fn max_tokens_for(n: usize) -> i32 {
    (n as f32 / SAMPLE_RATE as f32 * 12.0 + 16.0) as i32
}

/// "yes, not incorrect. yes, not incorrect. yes, not incorrect." → one: a phrase
/// of two or more words repeated three times or more in a row is a decoding
/// loop, not speech.
fn collapse_loops(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    'outer: while i < words.len() {
        for len in 2..=((words.len() - i) / 3).min(12) {
            let phrase = &words[i..i + len];
            let mut reps = 1;
            while i + (reps + 1) * len <= words.len()
                && &words[i + reps * len..i + (reps + 1) * len] == phrase
            {
                reps += 1;
            }
            if reps >= 3 {
                out.extend_from_slice(phrase);
                i += reps * len;
                continue 'outer;
            }
        }
        out.push(words[i]);
        i += 1;
    }
    out.join(" ")
}

fn decode(
    shared: &Shared,
    state: &mut WhisperState,
    audio: &[f32],
    lang: &LangChoice,
    min_window_s: f32,
    abort: &Arc<AtomicBool>,
) -> Result<Transcript, DecodeError> {
    let started = Instant::now();
    // Whisper was trained on padded 30 s windows; under one second of audio it
    // does better with trailing silence than with a clip cut short.
    let min = SAMPLE_RATE as usize;
    let padded;
    let audio = if audio.len() < min {
        let mut v = audio.to_vec();
        v.resize(min, 0.0);
        padded = v;
        &padded[..]
    } else {
        audio
    };
    let audio_ctx = window_for(audio.len(), min_window_s);
    let max_tokens = max_tokens_for(audio.len());
    let mut threads = shared.opts.threads.max(1);
    if shared.opts.yield_to_llm && crate::llm::local::busy() {
        threads = (threads - 1).max(1);
    }
    let threads = threads as i32;
    let flag_ptr = Arc::as_ptr(abort) as *mut c_void;
    let params = |language: Option<&'static str>| {
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        p.set_n_threads(threads);
        p.set_language(language);
        p.set_translate(false);
        p.set_no_context(true);
        p.set_no_timestamps(true);
        p.set_single_segment(false);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_temperature(0.0);
        p.set_temperature_inc(0.0);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        p.set_audio_ctx(audio_ctx);
        p.set_max_tokens(max_tokens);
        // SAFETY: `abort_requested` only reads the flag behind `flag_ptr`; the Arc
        // it comes from outlives every `state.full` call below.
        unsafe {
            p.set_abort_callback(Some(abort_requested));
            p.set_abort_callback_user_data(flag_ptr);
        }
        p
    };
    let lang = match lang {
        LangChoice::Fixed(l) => *l,
        LangChoice::Detect => {
            // whisper.cpp runs its detection pass (encoder + one decoder step)
            // before it applies `audio_ctx`, i.e. with the window of the previous
            // decode on this state. Set the window first with a pass over 100 ms:
            // whisper.cpp stores `audio_ctx`, then stops before encoding anything.
            let mut prime = params(Some("en"));
            prime.set_duration_ms(100);
            run_full(state, prime, audio, abort)?;
            // Then the detection pass, and the two languages' scores from its logits.
            let mut p = params(Some("auto"));
            p.set_detect_language(true);
            run_full(state, p, audio, abort)?;
            let logits = state
                .get_logits()
                .map_err(|e| DecodeError::Whisper(format!("language scores: {e}")))?;
            let score = |code: &str| {
                whisper_rs::get_lang_id(code)
                    .map(|id| shared.ctx.token_lang(id))
                    .and_then(|tok| logits.get(tok as usize).copied())
                    .unwrap_or(f32::NEG_INFINITY)
            };
            if score("ar") > score("en") {
                Lang::Ar
            } else {
                Lang::En
            }
        }
    };
    let detect_ms = started.elapsed().as_secs_f64() * 1000.0;
    run_full(state, params(Some(lang.code())), audio, abort)?;
    tracing::debug!(
        model = shared.size.model_name(),
        audio_ms = audio.len() / 16,
        window_frames = audio_ctx,
        detect_ms = detect_ms as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "whisper decode"
    );
    let mut text = String::new();
    for seg in state.as_iter() {
        let piece = seg
            .to_str_lossy()
            .map_err(|e| DecodeError::Whisper(e.to_string()))?;
        let piece = piece.trim();
        if piece.is_empty() || is_annotation(piece) {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(piece);
    }
    Ok(Transcript {
        text: collapse_loops(&text),
        lang,
        decode_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

fn run_full(
    state: &mut WhisperState,
    p: FullParams,
    audio: &[f32],
    abort: &AtomicBool,
) -> Result<(), DecodeError> {
    let r = state.full(p, audio);
    if abort.load(Ordering::Relaxed) {
        return Err(DecodeError::Aborted);
    }
    r.map_err(|e| DecodeError::Whisper(e.to_string()))
}

/// "[BLANK_AUDIO]", "(music)", "*coughs*": whisper's notes about sounds, not words.
fn is_annotation(s: &str) -> bool {
    let s = s.trim();
    (s.starts_with('[') && s.ends_with(']'))
        || (s.starts_with('(') && s.ends_with(')'))
        || (s.starts_with('*') && s.ends_with('*') && s.len() > 1)
}

/// Local recognition for calls.
pub struct WhisperSpeechToText {
    model: Result<WhisperModel, String>,
    name: String,
}

impl WhisperSpeechToText {
    pub fn new(model: WhisperModel) -> Self {
        let name = model.size().model_name().to_string();
        Self {
            model: Ok(model),
            name,
        }
    }

    /// The installed model of this size, shared by every call of this process.
    pub fn load(size: WhisperSize) -> Result<Self, SttError> {
        WhisperModel::shared(size).map(Self::new)
    }

    /// A recognizer that cannot recognize: every utterance ends in
    /// `SttError::Unavailable(reason)`, so calls go on with the fallback reply
    /// and show why (e.g. the model is not installed).
    pub fn unavailable(size: WhisperSize, reason: String) -> Self {
        Self {
            model: Err(reason),
            name: size.model_name().to_string(),
        }
    }

    /// The installed model, or — if it is missing — a recognizer whose utterances
    /// fail with the reason (naming the fetch command).
    pub fn load_or_unavailable(size: WhisperSize) -> Self {
        match Self::load(size) {
            Ok(s) => s,
            Err(SttError::Unavailable(reason)) | Err(SttError::Failed(reason)) => {
                Self::unavailable(size, reason)
            }
            Err(e) => Self::unavailable(size, e.to_string()),
        }
    }

    pub fn is_available(&self) -> bool {
        self.model.is_ok()
    }
}

impl SpeechToText for WhisperSpeechToText {
    fn name(&self) -> &str {
        &self.name
    }

    fn unavailable(&self) -> Option<String> {
        self.model.as_ref().err().cloned()
    }

    fn start(&self, hint: LangHint) -> Box<dyn SttSession> {
        match &self.model {
            Ok(model) => {
                let (lang, error) = match model.lang_choice(hint) {
                    Ok(l) => (Some(l), None),
                    Err(e) => (None, Some(e)),
                };
                let partial_every = model.handle.shared.opts.partial_every;
                Box::new(WhisperSession {
                    id: model
                        .handle
                        .shared
                        .next_session
                        .fetch_add(1, Ordering::Relaxed),
                    model: model.clone(),
                    lang,
                    error,
                    audio: Vec::with_capacity(SAMPLE_RATE as usize * 10),
                    partial_every: (partial_every.as_secs_f64() * SAMPLE_RATE as f64) as usize,
                    next_partial_at: (partial_every.as_secs_f64() * SAMPLE_RATE as f64) as usize,
                    slot: Arc::new(PartialSlot::default()),
                    last_partial: String::new(),
                    abort: Arc::new(AtomicBool::new(false)),
                    quiet_frames: 0,
                    speech_since_submit: false,
                })
            }
            Err(reason) => Box::new(UnavailableSession {
                reason: reason.clone(),
            }),
        }
    }
}

struct UnavailableSession {
    reason: String,
}

#[async_trait]
impl SttSession for UnavailableSession {
    fn push(&mut self, _frame: &Frame) -> Option<String> {
        None
    }
    async fn finish(self: Box<Self>) -> Result<SttResult, SttError> {
        Err(SttError::Unavailable(self.reason))
    }
}

struct WhisperSession {
    id: u64,
    model: WhisperModel,
    lang: Option<LangChoice>,
    error: Option<SttError>,
    audio: Vec<f32>,
    /// Samples between partial decodes (0: none).
    partial_every: usize,
    next_partial_at: usize,
    slot: Arc<PartialSlot>,
    last_partial: String,
    /// Aborts this session's newest partial (a new flag per partial job).
    abort: Arc<AtomicBool>,
    /// Consecutive quiet frames at the end of the audio.
    quiet_frames: usize,
    /// Speech arrived since the last partial was submitted.
    speech_since_submit: bool,
}

/// Peak below which a frame is silence (about −40 dBFS).
const QUIET_PEAK: f32 = 0.01;

/// Quiet frames (20 ms) after speech before a partial is decoded at once: the
/// customer may have finished, and that partial can then serve as the final.
const QUIET_FRAMES_FOR_EARLY_PARTIAL: usize = 6;

impl WhisperSession {
    fn lang_for_job(&self) -> Option<LangChoice> {
        match self.lang.as_ref()? {
            LangChoice::Fixed(l) => Some(LangChoice::Fixed(*l)),
            LangChoice::Detect => Some(LangChoice::Detect),
        }
    }

    /// Nothing but silence after the first `covered` samples.
    fn quiet_after(&self, covered: usize) -> bool {
        covered <= self.audio.len() && self.audio[covered..].iter().all(|x| x.abs() < QUIET_PEAK)
    }

    /// Queues a partial of everything heard so far. With one in flight already,
    /// nothing happens — unless `replace`: then this one is queued behind the one
    /// running (which still yields its partial), and any of this session's
    /// partials that have not started yet are dropped.
    fn submit_partial(&mut self, replace: bool) {
        let Some(lang) = self.lang_for_job() else {
            return;
        };
        if let Ok(mut s) = self.slot.state.lock() {
            if s.in_flight > 0 {
                if !replace {
                    return;
                }
                if let Ok(mut q) = self.model.handle.shared.queue.lock() {
                    let before = q.partials.len();
                    q.partials.retain(|j| j.session != self.id);
                    s.in_flight -= (before - q.partials.len()).min(s.in_flight);
                }
            }
            s.in_flight += 1;
            s.in_flight_covers = self.audio.len();
        }
        self.next_partial_at = self.audio.len() + self.partial_every;
        self.speech_since_submit = false;
        self.model.submit(Job {
            session: self.id,
            audio: self.audio.clone(),
            lang,
            min_window_s: self.model.handle.shared.opts.partial_min_window_s,
            abort: self.abort.clone(),
            kind: JobKind::Partial(self.slot.clone()),
        });
    }

    /// A finished partial that covers all the speech of this utterance (only
    /// silence came after it), waiting for one in flight that does.
    async fn partial_as_final(&self) -> Option<(String, Lang)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let s = self.slot.state.lock().ok()?;
                if let Some((text, lang, covered)) = &s.latest {
                    if self.quiet_after(*covered) {
                        return Some((text.clone(), *lang));
                    }
                }
                if !(s.in_flight > 0 && self.quiet_after(s.in_flight_covers)) {
                    return None;
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[async_trait]
impl SttSession for WhisperSession {
    fn push(&mut self, frame: &Frame) -> Option<String> {
        let quiet = frame
            .samples
            .iter()
            .all(|&s| (f32::from(s) / 32768.0).abs() < QUIET_PEAK);
        if quiet {
            self.quiet_frames += 1;
        } else {
            self.quiet_frames = 0;
            self.speech_since_submit = true;
        }
        self.audio
            .extend(frame.samples.iter().map(|&s| f32::from(s) / 32768.0));
        let mut out = None;
        if let Ok(mut s) = self.slot.state.lock() {
            if let Some(text) = s.text.take() {
                if !text.is_empty() && text != self.last_partial {
                    self.last_partial = text.clone();
                    out = Some(text);
                }
            }
        }
        if self.partial_every > 0 {
            let due = self.audio.len() >= self.next_partial_at;
            let speech_ended =
                self.speech_since_submit && self.quiet_frames >= QUIET_FRAMES_FOR_EARLY_PARTIAL;
            if speech_ended {
                self.submit_partial(true);
            } else if due {
                self.submit_partial(false);
            }
        }
        out
    }

    async fn finish(self: Box<Self>) -> Result<SttResult, SttError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let Some(mut lang) = self.lang_for_job() else {
            return Err(SttError::Failed("no language choice".into()));
        };
        // Less than 100 ms is a click, not speech.
        if self.audio.len() < SAMPLE_RATE as usize / 10 {
            let lang = match lang {
                LangChoice::Fixed(l) => l,
                LangChoice::Detect => Lang::En,
            };
            return Ok(SttResult::new(String::new(), lang));
        }
        // The partial decoded after the customer stopped speaking already is the
        // final: same audio, same settings.
        if self.partial_every > 0 {
            if let Some((text, lang)) = self.partial_as_final().await {
                return Ok(SttResult::new(text, lang));
            }
        }
        // Otherwise the final supersedes any partial of this session.
        self.abort.store(true, Ordering::Relaxed);
        if let Ok(mut q) = self.model.handle.shared.queue.lock() {
            q.partials.retain(|j| j.session != self.id);
        }
        if matches!(lang, LangChoice::Detect)
            && self.model.handle.shared.opts.reuse_partial_language
        {
            if let Some((l, n)) = self.slot.state.lock().ok().and_then(|s| s.lang) {
                if n >= LANG_FROZEN_AFTER {
                    lang = LangChoice::Fixed(l);
                }
            }
        }
        let (tx, rx) = oneshot::channel();
        self.model.submit(Job {
            session: self.id,
            audio: self.audio,
            lang,
            min_window_s: self.model.handle.shared.opts.final_min_window_s,
            abort: Arc::new(AtomicBool::new(false)),
            kind: JobKind::Final(tx),
        });
        let t = rx
            .await
            .map_err(|_| SttError::Failed("the whisper worker stopped".into()))??;
        Ok(SttResult::new(t.text, t.lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_from_cli_settings_and_registry_names() {
        for s in ["base", "whisper-base", " Base "] {
            assert_eq!(WhisperSize::parse(s), Some(WhisperSize::Base), "{s}");
        }
        for s in ["tiny.en", "tiny-en", "whisper-tiny-en", "whisper-tiny.en"] {
            assert_eq!(WhisperSize::parse(s), Some(WhisperSize::TinyEn), "{s}");
        }
        assert_eq!(WhisperSize::parse("large"), None);
        for s in [WhisperSize::Base, WhisperSize::TinyEn] {
            assert!(crate::models::find(s.model_name()).is_ok());
        }
    }

    #[test]
    fn encoder_window_covers_the_audio() {
        assert_eq!(window_for(16_000, 0.0), 50 + 64);
        assert_eq!(window_for(16_000, 10.0), 500);
        assert_eq!(window_for(16_000 * 30, 0.0), 1500);
        assert_eq!(window_for(16_000 * 60, 10.0), 1500);
        assert_eq!(window_for(16_000, 30.0), 1500);
    }

    #[test]
    fn decoding_loops_collapse_but_speech_stays() {
        assert_eq!(
            collapse_loops(
                "Yes, not incorrect. Yes, not incorrect. Yes, not incorrect. Yes, not incorrect."
            ),
            "Yes, not incorrect."
        );
        assert_eq!(collapse_loops("no no no, I said no"), "no no no, I said no");
        assert_eq!(
            collapse_loops("I want to pay my bill"),
            "I want to pay my bill"
        );
        assert_eq!(collapse_loops("a b a b a b c"), "a b c");
    }

    #[test]
    fn annotations_are_not_words() {
        assert!(is_annotation("[BLANK_AUDIO]"));
        assert!(is_annotation("(music)"));
        assert!(!is_annotation("I want (a) refund"));
    }
}
