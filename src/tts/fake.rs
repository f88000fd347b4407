//! A deterministic text-to-speech for tests and benchmarks.
//!
//! Produces a quiet 250 Hz tone (not silence, so level meters and "is the agent
//! speaking" logic see audio) whose duration is proportional to the text:
//! `max(min_ms, ms_per_char × characters)`, in 100 ms chunks of 16 kHz mono i16.
//! With zero latency the stream never touches the timer; the only allocations are
//! the chunks themselves (filled from a precomputed one-period table).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::Sleep;

use super::{AudioStream, TextToSpeech, TtsError, VoiceSpec};

const SAMPLES_PER_MS: usize = crate::audio::SAMPLE_RATE as usize / 1000;
/// Frequency of the fake voice's tone.
pub const TONE_HZ: f32 = 250.0;
/// 16 kHz / 250 Hz: one period of the tone.
const PERIOD: usize = (crate::audio::SAMPLE_RATE as f32 / TONE_HZ) as usize;
const DEFAULT_AMPLITUDE: i16 = 1200;

/// How a [`FakeTextToSpeech`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeTtsFailure {
    /// `TtsError::Failed` (after the first-audio latency) instead of any audio.
    FailBeforeAudio,
    /// `n` chunks, then `TtsError::Failed`.
    FailAfterChunks(usize),
    /// `TtsError::Unavailable` immediately.
    Unavailable,
}

/// Scripted [`TextToSpeech`]; cheap to clone (clones share the record of calls).
#[derive(Debug, Clone)]
pub struct FakeTextToSpeech {
    ms_per_char: u32,
    min_ms: u32,
    chunk_ms: u32,
    amplitude: i16,
    first_audio_latency: Duration,
    chunk_latency: Duration,
    failure: Option<FakeTtsFailure>,
    calls: Arc<AtomicUsize>,
    spoken: Arc<Mutex<Vec<String>>>,
}

impl Default for FakeTextToSpeech {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeTextToSpeech {
    /// 65 ms per character, at least 200 ms, 100 ms chunks, no latency, no failure.
    pub fn new() -> Self {
        Self {
            ms_per_char: 65,
            min_ms: 200,
            chunk_ms: 100,
            amplitude: DEFAULT_AMPLITUDE,
            first_audio_latency: Duration::ZERO,
            chunk_latency: Duration::ZERO,
            failure: None,
            calls: Arc::new(AtomicUsize::new(0)),
            spoken: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Delay before the first chunk.
    pub fn with_first_audio_latency(mut self, latency: Duration) -> Self {
        self.first_audio_latency = latency;
        self
    }

    /// Delay before every chunk after the first (e.g. 100 ms for real-time pacing).
    pub fn with_chunk_latency(mut self, latency: Duration) -> Self {
        self.chunk_latency = latency;
        self
    }

    pub fn with_failure(mut self, failure: FakeTtsFailure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// Audio length per character of text and the minimum length.
    pub fn with_timing(mut self, ms_per_char: u32, min_ms: u32) -> Self {
        self.ms_per_char = ms_per_char;
        self.min_ms = min_ms;
        self
    }

    /// Chunk length in ms (at least 1).
    pub fn with_chunk_ms(mut self, chunk_ms: u32) -> Self {
        self.chunk_ms = chunk_ms.max(1);
        self
    }

    /// Peak amplitude of the tone (default 1200, about −29 dBFS).
    pub fn with_amplitude(mut self, amplitude: i16) -> Self {
        self.amplitude = amplitude;
        self
    }

    /// How long the audio for `text` lasts; zero for blank text.
    pub fn duration_for(&self, text: &str) -> Duration {
        let chars = text.trim().chars().count();
        if chars == 0 {
            return Duration::ZERO;
        }
        let ms = (chars as u64)
            .saturating_mul(u64::from(self.ms_per_char))
            .max(u64::from(self.min_ms));
        Duration::from_millis(ms)
    }

    /// How many times [`TextToSpeech::synthesize`] was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Every text passed to [`TextToSpeech::synthesize`], in order.
    pub fn spoken(&self) -> Vec<String> {
        match self.spoken.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn tone_table() -> &'static [f32; PERIOD] {
    static TABLE: OnceLock<[f32; PERIOD]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0.0; PERIOD];
        for (i, v) in table.iter_mut().enumerate() {
            *v = (i as f32 * std::f32::consts::TAU / PERIOD as f32).sin();
        }
        table
    })
}

impl TextToSpeech for FakeTextToSpeech {
    fn name(&self) -> &str {
        "fake"
    }

    fn synthesize(&self, text: &str, _voice: &VoiceSpec) -> AudioStream {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.spoken.lock() {
            Ok(mut guard) => guard.push(text.to_string()),
            Err(poisoned) => poisoned.into_inner().push(text.to_string()),
        }
        let total = self.duration_for(text).as_millis() as usize * SAMPLES_PER_MS;
        let mut table = [0i16; PERIOD];
        for (dst, src) in table.iter_mut().zip(tone_table()) {
            *dst = (src * f32::from(self.amplitude)).round() as i16;
        }
        Box::pin(FakeAudioStream {
            table,
            remaining: total,
            phase: 0,
            chunk_samples: self.chunk_ms as usize * SAMPLES_PER_MS,
            emitted: 0,
            first_audio_latency: self.first_audio_latency,
            chunk_latency: self.chunk_latency,
            failure: self.failure,
            sleep: None,
            sleeping: false,
            done: false,
        })
    }
}

struct FakeAudioStream {
    table: [i16; PERIOD],
    remaining: usize,
    phase: usize,
    chunk_samples: usize,
    emitted: usize,
    first_audio_latency: Duration,
    chunk_latency: Duration,
    failure: Option<FakeTtsFailure>,
    /// Only allocated when a latency is configured.
    sleep: Option<Pin<Box<Sleep>>>,
    sleeping: bool,
    done: bool,
}

impl Stream for FakeAudioStream {
    type Item = Result<Vec<i16>, TtsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.failure == Some(FakeTtsFailure::Unavailable) {
            this.done = true;
            return Poll::Ready(Some(Err(TtsError::Unavailable(
                "fake text-to-speech configured as unavailable".to_string(),
            ))));
        }
        if !this.sleeping {
            let latency = if this.emitted == 0 {
                this.first_audio_latency
            } else {
                this.chunk_latency
            };
            if !latency.is_zero() {
                let at = tokio::time::Instant::now() + latency;
                match &mut this.sleep {
                    Some(sleep) => sleep.as_mut().reset(at),
                    None => this.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                this.sleeping = true;
            }
        }
        if this.sleeping {
            if let Some(sleep) = &mut this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            this.sleeping = false;
        }
        match this.failure {
            Some(FakeTtsFailure::FailBeforeAudio) => {
                this.done = true;
                return Poll::Ready(Some(Err(TtsError::Failed(
                    "fake text-to-speech failed before any audio".to_string(),
                ))));
            }
            Some(FakeTtsFailure::FailAfterChunks(n)) if this.emitted >= n => {
                this.done = true;
                return Poll::Ready(Some(Err(TtsError::Failed(format!(
                    "fake text-to-speech failed after {n} chunks"
                )))));
            }
            _ => {}
        }
        if this.remaining == 0 {
            this.done = true;
            return Poll::Ready(None);
        }
        let n = this.remaining.min(this.chunk_samples);
        let mut chunk = Vec::with_capacity(n);
        chunk.extend(this.table.iter().cycle().skip(this.phase).take(n));
        this.phase = (this.phase + n) % PERIOD;
        this.remaining -= n;
        this.emitted += 1;
        Poll::Ready(Some(Ok(chunk)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;
    use futures::StreamExt;

    fn voice() -> VoiceSpec {
        VoiceSpec {
            lang: Lang::En,
            voice: "en-us".into(),
            rate_wpm: 175,
            pitch: 50,
            persona: None,
        }
    }

    async fn collect(stream: AudioStream) -> (Vec<Vec<i16>>, Option<TtsError>) {
        let mut chunks = Vec::new();
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            match item {
                Ok(c) => chunks.push(c),
                Err(e) => return (chunks, Some(e)),
            }
        }
        (chunks, None)
    }

    #[tokio::test]
    async fn duration_proportional_to_text_in_100ms_chunks() {
        let tts = FakeTextToSpeech::new();
        let (chunks, err) = collect(tts.synthesize("Hello there", &voice())).await;
        assert!(err.is_none());
        // 11 chars × 65 ms = 715 ms = 11440 samples → 7 full chunks + 240
        let total: usize = chunks.iter().map(Vec::len).sum();
        assert_eq!(total, 715 * 16);
        assert_eq!(chunks.len(), 8);
        assert!(chunks[..7].iter().all(|c| c.len() == 1600));
        let peak = chunks
            .iter()
            .flatten()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        assert!(peak > 500 && peak < 4000, "peak {peak}");
        assert_eq!(tts.spoken(), vec!["Hello there"]);
        assert_eq!(tts.name(), "fake");
    }

    #[tokio::test]
    async fn minimum_duration_and_blank_text() {
        let tts = FakeTextToSpeech::new();
        let (chunks, _) = collect(tts.synthesize("Hi", &voice())).await;
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 200 * 16);
        let (chunks, err) = collect(tts.synthesize("   ", &voice())).await;
        assert!(chunks.is_empty() && err.is_none());
        assert_eq!(tts.duration_for("مرحبا"), Duration::from_millis(325));
    }

    #[tokio::test]
    async fn deterministic_and_continuous_tone() {
        let tts = FakeTextToSpeech::new();
        let (a, _) = collect(tts.synthesize("abcdefghij", &voice())).await;
        let (b, _) = collect(tts.synthesize("abcdefghij", &voice())).await;
        assert_eq!(a, b);
        let flat: Vec<i16> = a.concat();
        for (i, s) in flat.iter().enumerate() {
            assert_eq!(*s, flat[i % PERIOD], "phase continuity at {i}");
        }
    }

    #[test]
    fn zero_latency_needs_no_runtime() {
        let tts = FakeTextToSpeech::new();
        let mut stream = tts.synthesize("Hello", &voice());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut n = 0;
        loop {
            match stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(c))) => n += c.len(),
                Poll::Ready(None) => break,
                other => panic!(
                    "unexpected {:?}",
                    other.map(|o| o.map(|r| r.map(|c| c.len())))
                ),
            }
        }
        assert_eq!(n, 325 * 16);
    }

    #[tokio::test]
    async fn latency_and_failures() {
        let tts = FakeTextToSpeech::new()
            .with_first_audio_latency(Duration::from_millis(120))
            .with_chunk_latency(Duration::from_millis(50));
        let start = std::time::Instant::now();
        let mut stream = tts.synthesize("Hello world!", &voice());
        assert!(stream.next().await.is_some());
        assert!(start.elapsed() >= Duration::from_millis(120));
        assert!(stream.next().await.is_some());
        assert!(start.elapsed() >= Duration::from_millis(170));

        let tts = FakeTextToSpeech::new().with_failure(FakeTtsFailure::FailAfterChunks(2));
        let (chunks, err) = collect(tts.synthesize("Hello world!", &voice())).await;
        assert_eq!(chunks.len(), 2);
        assert!(matches!(err, Some(TtsError::Failed(_))));

        let tts = FakeTextToSpeech::new().with_failure(FakeTtsFailure::FailBeforeAudio);
        let (chunks, err) = collect(tts.synthesize("Hello", &voice())).await;
        assert!(chunks.is_empty());
        assert!(matches!(err, Some(TtsError::Failed(_))));

        let tts = FakeTextToSpeech::new().with_failure(FakeTtsFailure::Unavailable);
        let (_, err) = collect(tts.synthesize("Hello", &voice())).await;
        assert!(matches!(err, Some(TtsError::Unavailable(_))));
    }
}
