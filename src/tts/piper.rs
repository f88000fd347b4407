//! Neural English speech with a Piper voice (VITS, ONNX) through `ort`, the
//! installed `piper-joe` model (en_US-joe-medium, 22.05 kHz).
//!
//! Piper speaks phonemes, not text. They come from espeak-ng, run as a
//! subprocess (`espeak-ng -q --ipa`, so no GPL code is linked into our
//! binary), and are turned into model input the way piper-phonemize does:
//! - espeak-ng splits the text into clauses and prints one line of IPA per
//!   clause; piper appends the clause's punctuation (`.?!,;:`, the last three
//!   followed by a space) and ends a sentence after `.?!`. The CLI does not print
//!   the punctuation, so [`clause_terminators`] finds it again with espeak-ng's
//!   own clause rules; when the counts disagree (rare: abbreviations, odd
//!   punctuation) the clauses are joined with spaces and only the final
//!   punctuation is kept.
//! - `(en)`-style language-switch flags are dropped, the IPA is decomposed (NFD)
//!   and every code point is mapped through the voice's `phoneme_id_map`:
//!   `^ _ (phoneme _)* $` (BOS, pad, each phoneme followed by pad, EOS).
//! - Inference: `input` (ids), `input_lengths`, `scales` = [noise_scale,
//!   length_scale, noise_w] from the voice's config; the float output is scaled
//!   to peak at full scale (as piper does) and resampled to 16 kHz.
//!
//! Each Piper sentence is synthesized on a blocking thread and its audio is
//! yielded in `chunk_ms` chunks as soon as it is ready. English only: for other
//! languages the stream is empty, so a call falls through to the next voice of
//! its chain (espeak-ng) without an error.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use unicode_normalization::UnicodeNormalization;

use super::espeak::sanitize_text;
use super::{AudioStream, TextToSpeech, TtsError, VoiceSpec};
use crate::audio::SAMPLE_RATE;
use crate::lang::Lang;

/// The `switchboard models` name of the voice.
pub const MODEL_NAME: &str = "piper-joe";

const BOS: char = '^';
const EOS: char = '$';
const PAD: char = '_';

/// Settings for [`PiperTts`].
#[derive(Debug, Clone, PartialEq)]
pub struct PiperConfig {
    /// espeak-ng, for phonemes (path or name looked up in `PATH`).
    pub espeak_binary: PathBuf,
    /// Longest time one call to `synthesize` may take, phonemes included.
    pub timeout: Duration,
    /// Length of each yielded audio chunk.
    pub chunk_ms: u32,
    /// Longer texts are cut (at a space) to this many characters.
    pub max_chars: usize,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
}

impl Default for PiperConfig {
    fn default() -> Self {
        Self {
            espeak_binary: PathBuf::from("espeak-ng"),
            timeout: Duration::from_secs(10),
            chunk_ms: 100,
            max_chars: 1000,
            threads: 2,
        }
    }
}

/// The parts of a Piper voice's `.onnx.json` that inference needs.
#[derive(Debug, Clone, serde::Deserialize)]
struct VoiceFile {
    audio: AudioSection,
    espeak: EspeakSection,
    #[serde(default)]
    inference: InferenceSection,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default)]
    num_speakers: u32,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct AudioSection {
    sample_rate: u32,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct EspeakSection {
    voice: String,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct InferenceSection {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for InferenceSection {
    fn default() -> Self {
        Self {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

/// A loaded Piper voice: the ONNX session and its phoneme table.
pub struct PiperVoice {
    session: Mutex<ort::session::Session>,
    ids: HashMap<char, Vec<i64>>,
    sample_rate: u32,
    espeak_voice: String,
    scales: [f32; 3],
    multi_speaker: bool,
    path: PathBuf,
    /// Audio of short lines already spoken ([`LineCache`]).
    cache: LineCache,
}

/// Lines spoken again and again — a persona's handoff line, template replies,
/// "could you repeat that?" — are synthesized once: the second time their audio
/// is ready at once instead of after a whole-sentence inference (0.5 s for a
/// handoff line on a laptop CPU). Only short texts, at most [`LineCache::LINES`]
/// of them (≈ 10 MB), the oldest dropped first.
#[derive(Debug, Default)]
struct LineCache {
    lines: Mutex<CachedLines>,
}

/// Each line's audio by sentence, and the lines in the order they were added.
type CachedLines = (HashMap<String, Arc<Vec<Vec<i16>>>>, VecDeque<String>);

impl LineCache {
    const LINES: usize = 64;
    const MAX_CHARS: usize = 160;

    fn get(&self, text: &str) -> Option<Arc<Vec<Vec<i16>>>> {
        let guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.get(text).cloned()
    }

    fn put(&self, text: String, sentences: Vec<Vec<i16>>) {
        if text.chars().count() > Self::MAX_CHARS || sentences.is_empty() {
            return;
        }
        let mut guard = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(text.clone(), Arc::new(sentences)).is_none() {
            order.push_back(text);
        }
        while order.len() > Self::LINES {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice")
            .field("path", &self.path)
            .field("sample_rate", &self.sample_rate)
            .field("espeak_voice", &self.espeak_voice)
            .finish_non_exhaustive()
    }
}

/// The installed voice, loaded once per process (it is 63 MB).
static SHARED: Mutex<Option<Arc<PiperVoice>>> = Mutex::new(None);

impl PiperVoice {
    /// Loads `model` (`*.onnx`) and its config (`<model>.json`).
    pub fn load(model: &Path, threads: usize) -> Result<PiperVoice, TtsError> {
        let config_path = PathBuf::from(format!("{}.json", model.display()));
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            TtsError::Unavailable(format!(
                "Piper voice config {} is unreadable: {e}",
                config_path.display()
            ))
        })?;
        let file: VoiceFile = serde_json::from_str(&text).map_err(|e| {
            TtsError::Unavailable(format!(
                "Piper voice config {} is invalid: {e}",
                config_path.display()
            ))
        })?;
        if let Some(t) = file.phoneme_type.as_deref() {
            if t != "espeak" {
                return Err(TtsError::Unavailable(format!(
                    "Piper voice {} uses {t:?} phonemes; only espeak voices are supported",
                    model.display()
                )));
            }
        }
        let mut ids = HashMap::new();
        for (k, v) in file.phoneme_id_map {
            let mut chars = k.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                ids.insert(c, v);
            }
        }
        for c in [BOS, EOS, PAD] {
            if !ids.contains_key(&c) {
                return Err(TtsError::Unavailable(format!(
                    "Piper voice config {} has no id for {c:?}",
                    config_path.display()
                )));
            }
        }
        let session = crate::onnx::session(model, threads)
            .map_err(|e| TtsError::Unavailable(format!("Piper voice: {e}")))?;
        let inf = file.inference;
        Ok(PiperVoice {
            session: Mutex::new(session),
            ids,
            sample_rate: file.audio.sample_rate,
            espeak_voice: file.espeak.voice,
            scales: [inf.noise_scale, inf.length_scale, inf.noise_w],
            multi_speaker: file.num_speakers > 1,
            path: model.to_path_buf(),
            cache: LineCache::default(),
        })
    }

    /// The installed `piper-joe` voice, loaded once per process. A failure is
    /// not remembered (the model may be fetched meanwhile).
    pub fn shared() -> Result<Arc<PiperVoice>, TtsError> {
        let mut guard = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = guard.as_ref() {
            return Ok(v.clone());
        }
        let path = crate::models::installed_file(MODEL_NAME)
            .map_err(|e| TtsError::Unavailable(format!("Piper voice: {e}")))?;
        let voice = Arc::new(PiperVoice::load(&path, PiperConfig::default().threads)?);
        *guard = Some(voice.clone());
        Ok(voice)
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The espeak-ng voice its phonemes come from (e.g. "en-us").
    pub fn espeak_voice(&self) -> &str {
        &self.espeak_voice
    }

    /// Model input for one sentence of phonemes: `^ _ (p _)* $`; phonemes the
    /// voice does not know are skipped.
    pub fn phoneme_ids(&self, phonemes: &[char]) -> Vec<i64> {
        let id = |c: char| self.ids.get(&c).map(Vec::as_slice).unwrap_or(&[]);
        let mut out = Vec::with_capacity(phonemes.len() * 2 + 3);
        out.extend_from_slice(id(BOS));
        out.extend_from_slice(id(PAD));
        for &p in phonemes {
            match self.ids.get(&p) {
                Some(ids) => {
                    out.extend_from_slice(ids);
                    out.extend_from_slice(id(PAD));
                }
                None => {
                    tracing::debug!(phoneme = %p.escape_unicode(), "phoneme missing from the Piper voice")
                }
            }
        }
        out.extend_from_slice(id(EOS));
        out
    }

    /// Runs the model on one sentence of ids (blocking): 16 kHz samples.
    pub fn infer(&self, ids: &[i64]) -> Result<Vec<i16>, TtsError> {
        let failed = |e: &dyn std::fmt::Display| TtsError::Failed(format!("Piper inference: {e}"));
        let n = ids.len();
        let input =
            ort::value::Tensor::from_array(([1usize, n], ids.to_vec())).map_err(|e| failed(&e))?;
        let lengths =
            ort::value::Tensor::from_array(([1usize], vec![n as i64])).map_err(|e| failed(&e))?;
        let scales = ort::value::Tensor::from_array(([3usize], self.scales.to_vec()))
            .map_err(|e| failed(&e))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = if self.multi_speaker {
            let sid =
                ort::value::Tensor::from_array(([1usize], vec![0i64])).map_err(|e| failed(&e))?;
            session.run(ort::inputs![
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales,
                "sid" => sid
            ])
        } else {
            session.run(ort::inputs![
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales
            ])
        }
        .map_err(|e| failed(&e))?;
        let (_, audio) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| failed(&e))?;
        // Piper scales every sentence to peak at full scale.
        let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(0.01);
        let gain = 0.98 / peak;
        let scaled: Vec<f32> = audio.iter().map(|s| (s * gain).clamp(-1.0, 1.0)).collect();
        drop(outputs);
        drop(session);
        let resampled = crate::audio::resample(&scaled, self.sample_rate, SAMPLE_RATE)
            .map_err(|e| failed(&e))?;
        Ok(resampled
            .into_iter()
            .map(|s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect())
    }
}

/// Piper text to speech (English).
#[derive(Clone)]
pub struct PiperTts {
    voice: Arc<PiperVoice>,
    config: PiperConfig,
}

impl std::fmt::Debug for PiperTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperTts")
            .field("voice", &self.voice)
            .field("config", &self.config)
            .finish()
    }
}

impl PiperTts {
    pub fn new(voice: Arc<PiperVoice>, config: PiperConfig) -> Self {
        Self { voice, config }
    }

    /// The installed voice (`switchboard models fetch --only piper-joe`, which
    /// needs `onnxruntime` too) with `config`; loaded once per process.
    pub fn installed(config: PiperConfig) -> Result<Self, TtsError> {
        Ok(Self::new(PiperVoice::shared()?, config))
    }

    /// Loads a voice file (`*.onnx` with `*.onnx.json` beside it).
    pub fn load(model: &Path, config: PiperConfig) -> Result<Self, TtsError> {
        let voice = PiperVoice::load(model, config.threads)?;
        Ok(Self::new(Arc::new(voice), config))
    }

    pub fn voice(&self) -> &Arc<PiperVoice> {
        &self.voice
    }

    pub fn config(&self) -> &PiperConfig {
        &self.config
    }

    /// Synthesizes `lines` once in the background (a thread of its own), so that
    /// their first use in a call plays at once from the line cache — e.g. the
    /// personas' handoff lines, spoken at the very moment a customer is waiting.
    pub fn prewarm(&self, lines: Vec<String>) {
        let tts = self.clone();
        let spawned = std::thread::Builder::new()
            .name("piper-prewarm".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let voice = VoiceSpec {
                        lang: Lang::En,
                        voice: String::new(),
                        rate_wpm: 0,
                        pitch: 0,
                        persona: None,
                    };
                    for line in lines {
                        let mut stream = tts.synthesize(&line, &voice);
                        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
                            if chunk.is_err() {
                                break;
                            }
                        }
                    }
                });
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the Piper prewarm thread");
        }
    }

    /// Whether `text` (as given to `synthesize`) is in the line cache.
    pub fn is_cached(&self, text: &str) -> bool {
        sanitize_text(text, self.config.max_chars)
            .is_some_and(|t| self.voice.cache.get(&t).is_some())
    }

    /// The phonemes of `text` by sentence, as piper-phonemize makes them.
    pub async fn phonemize(&self, text: &str) -> Result<Vec<Vec<char>>, TtsError> {
        let lines = espeak_ipa(
            &self.config.espeak_binary,
            &self.voice.espeak_voice,
            text,
            self.config.timeout,
        )
        .await?;
        Ok(sentences_from_clauses(&lines, &clause_terminators(text)))
    }
}

/// Runs `espeak-ng -q --ipa` on `text` (given on stdin, never on the command
/// line): one line of IPA per clause.
async fn espeak_ipa(
    binary: &Path,
    voice: &str,
    text: &str,
    timeout: Duration,
) -> Result<Vec<String>, TtsError> {
    let valid_voice = !voice.starts_with('-')
        && voice.len() <= 64
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'));
    if !valid_voice {
        return Err(TtsError::Failed(format!(
            "invalid espeak-ng voice {voice:?}"
        )));
    }
    let run = async {
        let mut child = Command::new(binary)
            .args(["-q", "--ipa", "-b", "1", "-v", voice, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    TtsError::Unavailable(format!(
                        "Piper needs espeak-ng for phonemes, which is not installed or not executable ({}): {e}; install it with `apt-get install espeak-ng`",
                        binary.display()
                    ))
                }
                _ => TtsError::Failed(format!("cannot start {}: {e}", binary.display())),
            })?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(TtsError::Failed("espeak-ng pipes are missing".into()));
        };
        let mut stderr = child.stderr.take();
        // espeak-ng reads all of stdin before it answers and the text is
        // capped far below the pipe buffer: writing first cannot deadlock.
        let _ = stdin.write_all(text.as_bytes()).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
        let mut out = Vec::new();
        stdout
            .read_to_end(&mut out)
            .await
            .map_err(|e| TtsError::Failed(format!("reading espeak-ng phonemes failed: {e}")))?;
        let status = child
            .wait()
            .await
            .map_err(|e| TtsError::Failed(format!("espeak-ng wait failed: {e}")))?;
        if !status.success() {
            let mut msg = Vec::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.take(4096).read_to_end(&mut msg).await;
            }
            return Err(TtsError::Failed(format!(
                "espeak-ng exited with {status}: {}",
                String::from_utf8_lossy(&msg).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out);
        let mut lines: Vec<String> = text.split('\n').map(|l| l.trim().to_string()).collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        Ok(lines)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(TtsError::Timeout {
            ms: timeout.as_millis() as u64,
        }),
    }
}

const CLAUSE_PUNCT: [char; 7] = ['.', ',', '?', '!', ';', ':', '…'];
const CLOSERS: [char; 8] = ['"', '\'', ')', ']', '}', '»', '”', '’'];

/// The punctuation piper-phonemize would attach to each clause espeak-ng
/// makes of `text` (the final clause included): `Some('.')` etc., or None when
/// the clause ends in anything else. Mirrors espeak-ng's clause rules as
/// observed from its output: a run of `.,?!;:…` (optionally followed by closing
/// quotes or brackets) ends a clause when whitespace follows, except a single
/// or double full stop before a lowercase word (an abbreviation: "e.g. this",
/// "U.S. is").
pub fn clause_terminators(text: &str) -> Vec<Option<char>> {
    let chars: Vec<char> = text.trim().chars().collect();
    let piper_punct = |c: char| matches!(c, '.' | ',' | '?' | '!' | ';' | ':').then_some(c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !CLAUSE_PUNCT.contains(&chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && CLAUSE_PUNCT.contains(&chars[i]) {
            i += 1;
        }
        let run = &chars[start..i];
        let mut j = i;
        while j < chars.len() && CLOSERS.contains(&chars[j]) {
            j += 1;
        }
        if j >= chars.len() || !chars[j].is_whitespace() {
            // End of text (the final clause, below) or punctuation inside a
            // word or number ("3.50", "Hi!Bye").
            i = j;
            continue;
        }
        let next = chars[j..].iter().find(|c| !c.is_whitespace());
        let short_stop = run.len() < 3 && run.iter().all(|&c| c == '.');
        if short_stop && next.is_some_and(|c| c.is_lowercase()) {
            i = j;
            continue;
        }
        // piper looks at the last character before the next clause.
        out.push(if j > i {
            None
        } else {
            piper_punct(run[run.len() - 1])
        });
        i = j;
    }
    out.push(chars.last().and_then(|&c| piper_punct(c)));
    out
}

/// Piper's sentences from espeak-ng's clause lines and their punctuation (see
/// [`clause_terminators`]): punctuation appended (`,;:` with a space), a new
/// sentence after `.?!`, language-switch flags `(xx)` removed, NFD.
pub fn sentences_from_clauses(lines: &[String], terminators: &[Option<char>]) -> Vec<Vec<char>> {
    let joined;
    let (lines, terminators): (&[String], Vec<Option<char>>) = if lines.len() == terminators.len() {
        (lines, terminators.to_vec())
    } else {
        // espeak-ng split differently than predicted: keep its words, lose
        // the inner punctuation (a pause less), keep the final one.
        tracing::debug!(
            lines = lines.len(),
            predicted = terminators.len(),
            "espeak-ng clause count differs from the punctuation"
        );
        joined = vec![lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")];
        (&joined, vec![terminators.last().copied().flatten()])
    };
    let mut sentences = Vec::new();
    let mut current: Vec<char> = Vec::new();
    for (i, (line, term)) in lines.iter().zip(terminators).enumerate() {
        let mut in_flag = false;
        for c in line.trim().nfd() {
            match c {
                '(' => in_flag = true,
                ')' if in_flag => in_flag = false,
                _ if in_flag => {}
                c => current.push(c),
            }
        }
        match term {
            Some(c @ ('.' | '?' | '!')) => {
                current.push(c);
                sentences.push(std::mem::take(&mut current));
            }
            Some(c) => {
                current.push(c);
                current.push(' ');
            }
            // piper would glue the next clause on directly; a space keeps
            // the words apart.
            None if i + 1 < lines.len() => current.push(' '),
            None => {}
        }
    }
    if current.iter().any(|c| !c.is_whitespace()) {
        sentences.push(current);
    }
    sentences
}

impl TextToSpeech for PiperTts {
    fn name(&self) -> &str {
        "piper"
    }

    fn synthesize(&self, text: &str, voice: &VoiceSpec) -> AudioStream {
        let text = match voice.lang {
            Lang::En => sanitize_text(text, self.config.max_chars),
            // English voice: other languages fall through to the next voice.
            _ => None,
        };
        let mut state = Synth {
            tts: self.clone(),
            text: None,
            sentences: None,
            queue: VecDeque::new(),
            deadline: None,
            done: Vec::new(),
            cache_as: None,
        };
        if let Some(text) = text {
            match self.voice.cache.get(&text) {
                Some(sentences) => {
                    for audio in sentences.iter() {
                        state.push_audio(audio);
                    }
                }
                None => {
                    state.cache_as = Some(text.clone());
                    state.text = Some(text);
                }
            }
        }
        Box::pin(futures::stream::unfold(state, Synth::next))
    }
}

struct Synth {
    tts: PiperTts,
    /// Still to phonemize; None once done (or nothing speakable).
    text: Option<String>,
    sentences: Option<VecDeque<Vec<char>>>,
    queue: VecDeque<Vec<i16>>,
    deadline: Option<tokio::time::Instant>,
    /// Audio of each sentence synthesized so far, for the line cache.
    done: Vec<Vec<i16>>,
    /// The text, while it may still be cached (cleared on any failure).
    cache_as: Option<String>,
}

impl Synth {
    fn push_audio(&mut self, samples: &[i16]) {
        let size = (SAMPLE_RATE as usize / 1000 * self.tts.config.chunk_ms as usize).max(1);
        self.queue.extend(samples.chunks(size).map(<[i16]>::to_vec));
    }

    async fn next(mut self) -> Option<(Result<Vec<i16>, TtsError>, Self)> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some((Ok(chunk), self));
            }
            if self.text.is_none() && self.sentences.as_ref().is_some_and(VecDeque::is_empty) {
                if let Some(text) = self.cache_as.take() {
                    let done = std::mem::take(&mut self.done);
                    self.tts.voice.cache.put(text, done);
                }
            }
            let deadline = *self
                .deadline
                .get_or_insert_with(|| tokio::time::Instant::now() + self.tts.config.timeout);
            if let Some(text) = self.text.take() {
                match self.tts.phonemize(&text).await {
                    Ok(s) => self.sentences = Some(s.into()),
                    Err(e) => {
                        self.cache_as = None;
                        return Some((Err(e), self));
                    }
                }
                continue;
            }
            let sentence = self.sentences.as_mut()?.pop_front()?;
            let voice = self.tts.voice.clone();
            let job = tokio::task::spawn_blocking(move || {
                let ids = voice.phoneme_ids(&sentence);
                voice.infer(&ids)
            });
            let audio = match tokio::time::timeout_at(deadline, job).await {
                Err(_) => {
                    self.sentences = None;
                    self.cache_as = None;
                    let ms = self.tts.config.timeout.as_millis() as u64;
                    return Some((Err(TtsError::Timeout { ms }), self));
                }
                Ok(Err(e)) => Err(TtsError::Failed(format!("Piper worker failed: {e}"))),
                Ok(Ok(r)) => r,
            };
            match audio {
                Ok(samples) => {
                    self.push_audio(&samples);
                    if self.cache_as.is_some() {
                        self.done.push(samples);
                    }
                }
                Err(e) => {
                    self.sentences = None;
                    self.cache_as = None;
                    return Some((Err(e), self));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_punctuation_follows_espeak_rules() {
        let t = |s: &str| clause_terminators(s);
        assert_eq!(t("Hello world, how are you?"), vec![Some(','), Some('?')]);
        assert_eq!(t("I want to check my"), vec![None]);
        assert_eq!(t("e.g. this one, or that."), vec![Some(','), Some('.')]);
        assert_eq!(t("The U.S. is big."), vec![Some('.')]);
        assert_eq!(
            t("It costs 3.50 dollars. Call now!"),
            vec![Some('.'), Some('!')]
        );
        assert_eq!(
            t("Mr. Jones and Mrs. Smith"),
            vec![Some('.'), Some('.'), None]
        );
        assert_eq!(t("so... then"), vec![Some('.'), None]);
        assert_eq!(t("Really?! Yes"), vec![Some('!'), None]);
        assert_eq!(t("He said \"no.\" Then left."), vec![None, Some('.')]);
        assert_eq!(t("Hi!Bye"), vec![None]);
        assert_eq!(t("Well; fine: ok"), vec![Some(';'), Some(':'), None]);
    }

    #[test]
    fn clauses_become_piper_sentences() {
        let lines: Vec<String> = ["həlˈoʊ wˈɜːld", "hˈaʊ ɑːɹ juː", "(fr)bɔ̃(en) ɡˈʊd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = sentences_from_clauses(&lines, &[Some(','), Some('?'), None]);
        assert_eq!(s.len(), 2);
        let first: String = s[0].iter().collect();
        assert_eq!(first, "həlˈoʊ wˈɜːld, hˈaʊ ɑːɹ juː?");
        let second: String = s[1].iter().collect();
        assert_eq!(second, "bɔ̃ ɡˈʊd");
    }

    #[test]
    fn clause_count_mismatch_keeps_words_and_final_stop() {
        let lines: Vec<String> = vec!["ɐ".into(), "bˈiː".into()];
        let s = sentences_from_clauses(&lines, &[Some('.')]);
        let got: String = s[0].iter().collect();
        assert_eq!(got, "ɐ bˈiː.");
    }

    #[test]
    fn nfd_decomposes_phonemes() {
        let lines = vec!["ç".to_string()];
        let s = sentences_from_clauses(&lines, &[None]);
        assert_eq!(s[0], vec!['c', '\u{327}']);
    }
}
