//! Text to speech with the `espeak-ng` binary, run as a subprocess (so no GPL code
//! is linked into our binary). Speaks Arabic and English.
//!
//! Safety: the text goes to the child's STDIN (`--stdin`), never on the command
//! line, so hostile text such as `--help -w /tmp/x.wav` is spoken, not interpreted.
//! Control characters and `[[` (espeak's inline phoneme syntax) are neutralised and
//! SSML mode (`-m`) is never enabled. The voice name is validated.
//!
//! Audio: `espeak-ng --stdout` writes a 22050 Hz mono 16-bit WAV whose size fields
//! are bogus (it cannot seek back), so the header is parsed here, tolerant of that,
//! and the PCM is resampled (windowed-sinc, polyphase) to 16 kHz mono i16 *while it
//! streams*: the first 100 ms chunk is yielded before espeak has finished.
//!
//! The child is killed when the stream is dropped (barge-in) or times out.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Text espeak-ng may print on stdout before its WAV header, at most.
const MAX_PREAMBLE: usize = 4096;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::time::Instant;

use super::{AudioStream, TextToSpeech, TtsError, VoiceSpec};
use crate::audio::SAMPLE_RATE;
use crate::lang::Lang;

/// Settings for [`EspeakTts`].
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakConfig {
    /// Path or name (looked up in `PATH`) of the espeak-ng binary.
    pub binary: PathBuf,
    /// Longest time one sentence may take to synthesize, start to last sample.
    pub timeout: Duration,
    /// Length of each yielded audio chunk.
    pub chunk_ms: u32,
    /// Longer texts are cut (at a space) to this many characters.
    pub max_chars: usize,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("espeak-ng"),
            timeout: Duration::from_secs(5),
            chunk_ms: 100,
            max_chars: 1000,
        }
    }
}

/// espeak-ng text to speech.
#[derive(Clone, Default)]
pub struct EspeakTts {
    config: EspeakConfig,
}

impl fmt::Debug for EspeakTts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspeakTts")
            .field("config", &self.config)
            .finish()
    }
}

impl EspeakTts {
    /// Default settings: `espeak-ng` from `PATH`, 5 s timeout, 100 ms chunks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Default settings with another binary (path or name looked up in `PATH`).
    pub fn with_binary(binary: impl Into<PathBuf>) -> Self {
        Self::with_config(EspeakConfig {
            binary: binary.into(),
            ..EspeakConfig::default()
        })
    }

    pub fn with_config(config: EspeakConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &EspeakConfig {
        &self.config
    }

    /// Whether the configured binary runs (`espeak-ng --version`). Blocking (a few
    /// ms): call at startup, not on the audio path.
    pub fn available(&self) -> bool {
        binary_runs(&self.config.binary)
    }

    /// Whether `espeak-ng` on `PATH` runs. Blocking, like [`EspeakTts::available`].
    pub fn installed() -> bool {
        binary_runs(Path::new("espeak-ng"))
    }

    /// The default espeak-ng voice for a language.
    pub fn default_voice(lang: Lang) -> &'static str {
        match lang {
            Lang::Ar => "ar",
            Lang::En => "en-us",
        }
    }

    /// The espeak-ng arguments for a voice (text is never among them).
    fn args(voice: &VoiceSpec) -> Result<Vec<String>, TtsError> {
        let name = voice.voice.trim();
        let name = if name.is_empty() {
            Self::default_voice(voice.lang)
        } else {
            name
        };
        let valid = !name.starts_with('-')
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'));
        if !valid {
            return Err(TtsError::Failed(format!(
                "invalid espeak-ng voice name {name:?}"
            )));
        }
        let rate = if voice.rate_wpm == 0 {
            175
        } else {
            voice.rate_wpm.clamp(80, 450)
        };
        let pitch = voice.pitch.min(99);
        Ok(vec![
            "--stdin".into(),
            "--stdout".into(),
            "-b".into(),
            "1".into(),
            "-v".into(),
            name.to_string(),
            "-s".into(),
            rate.to_string(),
            "-p".into(),
            pitch.to_string(),
        ])
    }
}

fn binary_runs(binary: &Path) -> bool {
    std::process::Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Makes text safe and pleasant to feed espeak-ng: control characters become
/// spaces, `[[` (inline phonemes) is broken up, whitespace is collapsed, and the
/// length is capped. Returns `None` if nothing speakable is left.
pub fn sanitize_text(text: &str, max_chars: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0usize;
    let mut pending_space = false;
    let mut prev = '\0';
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
            continue;
        }
        if count >= max_chars {
            break;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
            count += 1;
            prev = ' ';
        }
        pending_space = false;
        if c == '[' && prev == '[' {
            out.push(' ');
            count += 1;
        }
        out.push(c);
        count += 1;
        prev = c;
    }
    out.chars().any(char::is_alphanumeric).then_some(out)
}

impl TextToSpeech for EspeakTts {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn synthesize(&self, text: &str, voice: &VoiceSpec) -> AudioStream {
        let state = Synth {
            phase: SynthPhase::Start {
                text: sanitize_text(text, self.config.max_chars),
                args: Self::args(voice),
            },
            config: self.config.clone(),
            deadline: None,
            decoder: None,
            out: Vec::new(),
            queue: VecDeque::new(),
            produced: 0,
        };
        Box::pin(futures::stream::unfold(state, Synth::next))
    }
}

// ---------------------------------------------------------------------------
// Subprocess state machine
// ---------------------------------------------------------------------------

enum SynthPhase {
    Start {
        text: Option<String>,
        args: Result<Vec<String>, TtsError>,
    },
    Reading(Box<Running>),
    Finished,
}

/// A live espeak-ng child; dropping it kills the process (kill_on_drop).
struct Running {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<ChildStderr>,
}

struct Synth {
    phase: SynthPhase,
    config: EspeakConfig,
    deadline: Option<Instant>,
    decoder: Option<WavStreamDecoder>,
    /// Resampled samples not yet cut into a chunk.
    out: Vec<i16>,
    queue: VecDeque<Vec<i16>>,
    produced: usize,
}

impl Synth {
    fn chunk_samples(&self) -> usize {
        (SAMPLE_RATE as usize / 1000 * self.config.chunk_ms as usize).max(1)
    }

    fn timeout_error(&self) -> TtsError {
        TtsError::Timeout {
            ms: u64::try_from(self.config.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn fail(mut self, err: TtsError) -> Option<(Result<Vec<i16>, TtsError>, Self)> {
        // Dropping the child kills it (kill_on_drop).
        self.phase = SynthPhase::Finished;
        self.queue.clear();
        Some((Err(err), self))
    }

    async fn next(mut self) -> Option<(Result<Vec<i16>, TtsError>, Self)> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some((Ok(chunk), self));
            }
            match std::mem::replace(&mut self.phase, SynthPhase::Finished) {
                SynthPhase::Finished => return None,
                SynthPhase::Start { text, args } => {
                    let Some(text) = text else {
                        return None; // nothing speakable
                    };
                    let args = match args {
                        Ok(args) => args,
                        Err(err) => return self.fail(err),
                    };
                    match self.spawn(&text, &args).await {
                        Ok(phase) => self.phase = phase,
                        Err(err) => return self.fail(err),
                    }
                }
                SynthPhase::Reading(mut running) => {
                    let deadline = self
                        .deadline
                        .unwrap_or_else(|| Instant::now() + self.config.timeout);
                    let mut buf = [0u8; 8192];
                    let read =
                        tokio::time::timeout_at(deadline, running.stdout.read(&mut buf)).await;
                    match read {
                        Err(_) => {
                            let _ = running.child.start_kill();
                            let err = self.timeout_error();
                            return self.fail(err);
                        }
                        Ok(Err(err)) => {
                            let _ = running.child.start_kill();
                            return self.fail(TtsError::Failed(format!(
                                "reading espeak-ng output failed: {err}"
                            )));
                        }
                        Ok(Ok(0)) => {
                            let Running { child, stderr, .. } = *running;
                            if let Err(err) = self.finish(child, stderr, deadline).await {
                                return self.fail(err);
                            }
                        }
                        Ok(Ok(n)) => {
                            if let Err(err) = self.feed(&buf[..n]) {
                                let _ = running.child.start_kill();
                                return self.fail(err);
                            }
                            self.phase = SynthPhase::Reading(running);
                        }
                    }
                }
            }
        }
    }

    async fn spawn(&mut self, text: &str, args: &[String]) -> Result<SynthPhase, TtsError> {
        let deadline = Instant::now() + self.config.timeout;
        self.deadline = Some(deadline);
        let binary = &self.config.binary;
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    TtsError::Unavailable(format!(
                        "espeak-ng is not installed or not executable ({}): {err}; \
                         install it with `apt-get install espeak-ng`",
                        binary.display()
                    ))
                }
                _ => TtsError::Failed(format!("cannot start {}: {err}", binary.display())),
            })?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(TtsError::Failed("espeak-ng pipes are missing".to_string()));
        };
        let stderr = child.stderr.take();
        // espeak-ng --stdin reads all input before it speaks, and the text is capped
        // far below the pipe buffer, so writing first cannot deadlock.
        let write = async {
            stdin.write_all(text.as_bytes()).await?;
            stdin.shutdown().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Err(_) => return Err(self.timeout_error()),
            // A broken pipe means espeak exited early (e.g. unknown voice); its exit
            // status and stderr tell why, so keep going and read them.
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
            Ok(Err(err)) => {
                return Err(TtsError::Failed(format!(
                    "writing text to espeak-ng failed: {err}"
                )))
            }
            Ok(Ok(())) => {}
        }
        drop(stdin);
        Ok(SynthPhase::Reading(Box::new(Running {
            child,
            stdout,
            stderr,
        })))
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), TtsError> {
        let decoder = self.decoder.get_or_insert_with(WavStreamDecoder::new);
        decoder.feed(bytes, &mut self.out)?;
        self.cut_chunks(false);
        Ok(())
    }

    fn cut_chunks(&mut self, all: bool) {
        let size = self.chunk_samples();
        let mut start = 0;
        while self.out.len() - start >= size {
            self.queue.push_back(self.out[start..start + size].to_vec());
            start += size;
        }
        self.out.drain(..start);
        self.produced += start;
        if all && !self.out.is_empty() {
            self.produced += self.out.len();
            self.queue.push_back(std::mem::take(&mut self.out));
        }
    }

    async fn finish(
        &mut self,
        mut child: Child,
        stderr: Option<ChildStderr>,
        deadline: Instant,
    ) -> Result<(), TtsError> {
        let decoded = match self.decoder.as_mut() {
            Some(decoder) => decoder.finish(&mut self.out),
            None => false,
        };
        self.cut_chunks(true);
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Err(_) => return Err(self.timeout_error()),
            Ok(Err(err)) => return Err(TtsError::Failed(format!("espeak-ng wait failed: {err}"))),
            Ok(Ok(status)) => status,
        };
        if status.success() && decoded {
            return Ok(());
        }
        let mut message = String::new();
        if let Some(mut stderr) = stderr {
            let mut bytes = Vec::new();
            let mut limited = (&mut stderr).take(4096);
            let _ = tokio::time::timeout_at(deadline, limited.read_to_end(&mut bytes)).await;
            message = String::from_utf8_lossy(&bytes).trim().to_string();
        }
        if message.is_empty() {
            message = if status.success() {
                "espeak-ng produced no audio".to_string()
            } else {
                format!("espeak-ng exited with {status}")
            };
        }
        if decoded && self.produced > 0 {
            // Audio came out but the exit was unclean: keep the audio, log it.
            tracing::warn!(%status, %message, "espeak-ng exited uncleanly after producing audio");
            return Ok(());
        }
        self.queue.clear();
        Err(TtsError::Failed(message))
    }
}

// ---------------------------------------------------------------------------
// Streaming WAV decoding and resampling
// ---------------------------------------------------------------------------

/// Parses a streamed RIFF/WAVE (16-bit PCM) and resamples it to 16 kHz mono.
/// The RIFF and `data` sizes are ignored (espeak-ng writes placeholders when its
/// output is a pipe); data runs to the end of the stream.
struct WavStreamDecoder {
    header: Vec<u8>,
    format: Option<PcmFormat>,
    data_started: bool,
    /// Bytes of an incomplete sample frame.
    partial: Vec<u8>,
    resampler: Option<Resampler>,
    frame: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
struct PcmFormat {
    channels: u16,
    sample_rate: u32,
}

impl WavStreamDecoder {
    fn new() -> Self {
        Self {
            header: Vec::new(),
            format: None,
            data_started: false,
            partial: Vec::new(),
            resampler: None,
            frame: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), TtsError> {
        let pcm: Vec<u8>;
        let mut data: &[u8] = bytes;
        if !self.data_started {
            self.header.extend_from_slice(bytes);
            match self.parse_header()? {
                None => return Ok(()),
                Some(offset) => {
                    pcm = self.header.split_off(offset);
                    self.header = Vec::new();
                    self.data_started = true;
                    data = &pcm;
                }
            }
        }
        let Some(format) = self.format else {
            return Err(TtsError::Failed("WAV data before its format".to_string()));
        };
        let resampler = self
            .resampler
            .get_or_insert_with(|| Resampler::new(format.sample_rate, SAMPLE_RATE));
        let frame_bytes = 2 * usize::from(format.channels);
        let mut input = std::mem::take(&mut self.partial);
        input.extend_from_slice(data);
        let whole = input.len() - input.len() % frame_bytes;
        self.frame.clear();
        for frame in input[..whole].chunks_exact(frame_bytes) {
            let sum: i32 = frame
                .chunks_exact(2)
                .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                .sum();
            self.frame
                .push(sum as f32 / f32::from(format.channels) / 32768.0);
        }
        self.partial = input[whole..].to_vec();
        resampler.process(&self.frame, out);
        Ok(())
    }

    /// Returns whether any WAV data was seen; flushes the resampler.
    fn finish(&mut self, out: &mut Vec<i16>) -> bool {
        if let Some(resampler) = self.resampler.as_mut() {
            resampler.flush(out);
        }
        self.data_started
    }

    /// Byte offset of the PCM data within `self.header` once the header is complete.
    fn parse_header(&mut self) -> Result<Option<usize>, TtsError> {
        // espeak-ng sometimes prints a diagnostic on stdout before the WAV (e.g.
        // "Invalid phoneme code 117" for Arabic-Indic digits): skip text up to the
        // RIFF header.
        if !self.header.starts_with(b"RIFF") {
            match self.header.windows(4).position(|w| w == b"RIFF") {
                Some(at) => {
                    tracing::debug!(skipped = at, "espeak-ng wrote text before its audio");
                    self.header.drain(..at);
                }
                None if self.header.len() < MAX_PREAMBLE => return Ok(None),
                None => {
                    return Err(TtsError::Failed(
                        "espeak-ng output is not a WAV stream".to_string(),
                    ))
                }
            }
        }
        let h = &self.header;
        if h.len() < 12 {
            return Ok(None);
        }
        if &h[0..4] != b"RIFF" || &h[8..12] != b"WAVE" {
            return Err(TtsError::Failed(
                "espeak-ng output is not a WAV stream".to_string(),
            ));
        }
        let mut pos = 12;
        loop {
            if h.len() < pos + 8 {
                return Ok(None);
            }
            let id = &h[pos..pos + 4];
            let size =
                u32::from_le_bytes([h[pos + 4], h[pos + 5], h[pos + 6], h[pos + 7]]) as usize;
            let body = pos + 8;
            if id == b"data" {
                if self.format.is_none() {
                    return Err(TtsError::Failed("WAV data chunk before fmt".to_string()));
                }
                return Ok(Some(body));
            }
            if size > 1 << 16 {
                return Err(TtsError::Failed(format!(
                    "implausible WAV chunk size {size}"
                )));
            }
            if h.len() < body + size {
                return Ok(None);
            }
            if id == b"fmt " {
                if size < 16 {
                    return Err(TtsError::Failed("WAV fmt chunk too short".to_string()));
                }
                let f = &h[body..body + size];
                let audio_format = u16::from_le_bytes([f[0], f[1]]);
                let channels = u16::from_le_bytes([f[2], f[3]]);
                let sample_rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                let bits = u16::from_le_bytes([f[14], f[15]]);
                if !(audio_format == 1 || audio_format == 0xFFFE)
                    || bits != 16
                    || channels == 0
                    || !(4000..=192_000).contains(&sample_rate)
                {
                    return Err(TtsError::Failed(format!(
                        "unsupported WAV format {audio_format}, {bits} bit, {channels} ch, {sample_rate} Hz"
                    )));
                }
                self.format = Some(PcmFormat {
                    channels,
                    sample_rate,
                });
            }
            pos = body + size + (size & 1);
        }
    }
}

/// Streaming polyphase windowed-sinc resampler (f32 in, i16 out).
struct Resampler {
    in_rate: u64,
    out_rate: u64,
    /// `phases × taps` filter coefficients.
    table: Vec<f32>,
    phases: u64,
    /// Half the number of taps.
    half: i64,
    /// Input samples from absolute index `offset` on.
    input: Vec<f32>,
    offset: i64,
    /// Absolute input samples received.
    received: i64,
    /// Next output sample index.
    next_out: u64,
}

impl Resampler {
    const HALF_TAPS: i64 = 16;
    const MAX_PHASES: u64 = 1024;

    fn new(in_rate: u32, out_rate: u32) -> Self {
        let (in_rate, out_rate) = (u64::from(in_rate), u64::from(out_rate));
        let g = gcd(in_rate, out_rate);
        let phases = (out_rate / g).min(Self::MAX_PHASES);
        let half = Self::HALF_TAPS;
        let taps = (2 * half) as usize;
        // Cutoff as a fraction of the input rate, a little under the lower Nyquist.
        let cutoff = 0.5 * (out_rate as f64 / in_rate as f64).min(1.0) * 0.92;
        let mut table = vec![0f32; phases as usize * taps];
        for p in 0..phases {
            let frac = p as f64 / phases as f64;
            let row = &mut table[p as usize * taps..(p as usize + 1) * taps];
            let mut sum = 0.0;
            let mut coeffs = [0f64; 64];
            for (j, c) in coeffs.iter_mut().take(taps).enumerate() {
                // distance from the output position to input tap j
                let d = (j as f64 - (half - 1) as f64) - frac;
                let x = 2.0 * cutoff * d;
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                // Blackman window over [-half, half]
                let w = d / half as f64;
                let window = if w.abs() >= 1.0 {
                    0.0
                } else {
                    let a = std::f64::consts::PI * (w + 1.0);
                    0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos()
                };
                *c = 2.0 * cutoff * sinc * window;
                sum += *c;
            }
            for (dst, c) in row.iter_mut().zip(coeffs.iter()) {
                *dst = if sum.abs() > 1e-12 {
                    (c / sum) as f32
                } else {
                    0.0
                };
            }
        }
        Self {
            in_rate,
            out_rate,
            table,
            phases,
            half,
            input: Vec::new(),
            offset: 0,
            received: 0,
            next_out: 0,
        }
    }

    fn process(&mut self, samples: &[f32], out: &mut Vec<i16>) {
        if self.in_rate == self.out_rate {
            out.extend(samples.iter().map(|&x| to_i16(x)));
            return;
        }
        self.input.extend_from_slice(samples);
        self.received += samples.len() as i64;
        self.produce(out, self.received);
    }

    /// Emits the remaining output, treating the input after the end as silence.
    fn flush(&mut self, out: &mut Vec<i16>) {
        if self.in_rate == self.out_rate {
            return;
        }
        let end = self.received;
        let pad = vec![0f32; self.half as usize + 1];
        self.input.extend_from_slice(&pad);
        self.produce(out, end + self.half + 1);
        // Exactly ceil(received × out / in) samples in total.
        let total = (end as u64 * self.out_rate).div_ceil(self.in_rate);
        let extra = self.next_out.saturating_sub(total) as usize;
        out.truncate(out.len().saturating_sub(extra));
        self.next_out = total.min(self.next_out);
    }

    /// Produces every output sample whose taps lie below absolute index `available`.
    fn produce(&mut self, out: &mut Vec<i16>, available: i64) {
        let taps = (2 * self.half) as usize;
        loop {
            let num = self.next_out * self.in_rate;
            let base = (num / self.out_rate) as i64;
            if base + self.half >= available {
                break;
            }
            let rem = num % self.out_rate;
            let phase = (rem * self.phases / self.out_rate) as usize;
            let row = &self.table[phase * taps..(phase + 1) * taps];
            let first = base - self.half + 1;
            let mut acc = 0f32;
            for (j, c) in row.iter().enumerate() {
                let idx = first + j as i64 - self.offset;
                if idx >= 0 {
                    if let Some(x) = self.input.get(idx as usize) {
                        acc += x * c;
                    }
                }
            }
            out.push(to_i16(acc));
            self.next_out += 1;
        }
        // Drop input no longer needed by any future output.
        let next_base = (self.next_out * self.in_rate / self.out_rate) as i64;
        let keep_from = next_base - self.half + 1;
        let drop = (keep_from - self.offset).clamp(0, self.input.len() as i64) as usize;
        if drop >= 4096 || drop == self.input.len() {
            self.input.drain(..drop);
            self.offset += drop as i64;
        }
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(rate: u32, channels: u16, samples: &[i16], bogus_sizes: bool) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        let riff = if bogus_sizes {
            0x7fff_f024
        } else {
            36 + data_len
        };
        v.extend_from_slice(&riff.to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        v.extend_from_slice(&(2 * channels).to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"LIST");
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(b"abc\0"); // odd size + pad byte
        v.extend_from_slice(b"data");
        let data = if bogus_sizes { 0x7fff_f000 } else { data_len };
        v.extend_from_slice(&data.to_le_bytes());
        for s in samples {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v
    }

    fn sine(rate: u32, freq: f32, secs: f32, amp: f32) -> Vec<i16> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| (amp * (i as f32 * freq * std::f32::consts::TAU / rate as f32).sin()) as i16)
            .collect()
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Vec<i16> {
        let mut dec = WavStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(piece) {
            dec.feed(chunk, &mut out).expect("feed");
        }
        assert!(dec.finish(&mut out));
        out
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn resamples_22050_to_16000_with_correct_length_and_level() {
        let input = sine(22050, 440.0, 1.0, 10000.0);
        let bytes = wav_bytes(22050, 1, &input, true);
        let whole = decode_in_pieces(&bytes, bytes.len());
        let pieces = decode_in_pieces(&bytes, 777);
        let odd = decode_in_pieces(&bytes, 3);
        assert_eq!(whole.len(), 16000);
        assert_eq!(whole, pieces);
        assert_eq!(whole, odd);
        // a 440 Hz tone keeps its level (≈ 10000/√2)
        let level = rms(&whole[1000..15000]);
        assert!((level - 7071.0).abs() < 150.0, "rms {level}");
        // and its frequency: count zero crossings in 14000 samples (0.875 s)
        let crossings = whole[1000..15000]
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        assert!((crossings as i64 - 770).abs() <= 4, "crossings {crossings}");
    }

    #[test]
    fn removes_content_above_new_nyquist() {
        // 10 kHz cannot be represented at 16 kHz: must be strongly attenuated.
        let input = sine(22050, 10000.0, 0.5, 10000.0);
        let out = decode_in_pieces(&wav_bytes(22050, 1, &input, true), 4096);
        let level = rms(&out[500..7500]);
        assert!(level < 300.0, "aliasing rms {level}");
    }

    #[test]
    fn stereo_and_passthrough() {
        let mono = sine(16000, 300.0, 0.25, 8000.0);
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let out = decode_in_pieces(&wav_bytes(16000, 2, &stereo, false), 1000);
        assert_eq!(out.len(), mono.len());
        let max_diff = out
            .iter()
            .zip(&mono)
            .map(|(a, b)| (a - b).abs())
            .max()
            .unwrap_or(0);
        assert!(max_diff <= 2, "passthrough differs by {max_diff}");
    }

    #[test]
    fn rejects_non_wav() {
        let mut dec = WavStreamDecoder::new();
        let mut out = Vec::new();
        assert!(dec.feed(b"this is not a wav file", &mut out).is_ok());
        assert!(!dec.finish(&mut out), "no audio came");
        let mut dec = WavStreamDecoder::new();
        assert!(dec.feed(&[b'x'; MAX_PREAMBLE + 1], &mut out).is_err());
    }

    #[test]
    fn a_diagnostic_before_the_wav_is_skipped() {
        // espeak-ng prints this before the audio of some Arabic-Indic digits.
        let input = sine(22050, 440.0, 0.2, 8000.0);
        let mut bytes = b"Invalid phoneme code 117\n".to_vec();
        bytes.extend(wav_bytes(22050, 1, &input, true));
        let mut dec = WavStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(7) {
            dec.feed(chunk, &mut out).unwrap();
        }
        assert!(dec.finish(&mut out));
        let expected = input.len() * 16000 / 22050;
        assert!(
            out.len().abs_diff(expected) < 200,
            "{} vs {expected}",
            out.len()
        );
    }

    #[test]
    fn sanitizes_text() {
        assert_eq!(
            sanitize_text("  --help\n-w /tmp/x\t\u{7}[[h@l'oU]] ", 100).as_deref(),
            Some("--help -w /tmp/x [ [h@l'oU]]")
        );
        assert_eq!(sanitize_text(" \n\t", 100), None);
        assert_eq!(sanitize_text("...", 100), None);
        assert_eq!(sanitize_text("مرحبا بك", 4).as_deref(), Some("مرحب"));
    }

    #[test]
    fn voice_args_are_validated_and_clamped() {
        let v = VoiceSpec {
            lang: Lang::Ar,
            voice: String::new(),
            rate_wpm: 1000,
            pitch: 200,
            persona: None,
        };
        let args = EspeakTts::args(&v).expect("args");
        assert!(args.windows(2).any(|w| w[0] == "-v" && w[1] == "ar"));
        assert!(args.windows(2).any(|w| w[0] == "-s" && w[1] == "450"));
        assert!(args.windows(2).any(|w| w[0] == "-p" && w[1] == "99"));
        assert!(!args.iter().any(|a| a == "-m"));
        for bad in ["--help", "-w", "en us", "en;rm", "../../etc"] {
            let v = VoiceSpec {
                lang: Lang::En,
                voice: bad.into(),
                rate_wpm: 175,
                pitch: 50,
                persona: None,
            };
            assert!(EspeakTts::args(&v).is_err(), "{bad}");
        }
    }
}
