//! Cloud voices: OpenAI's speech API and ElevenLabs, streamed.
//!
//! Both answer one HTTP request with raw 16-bit PCM as it is synthesized
//! (chunked): OpenAI's `POST /v1/audio/speech` with `response_format: "pcm"`
//! (24 kHz mono), ElevenLabs' `POST /v1/text-to-speech/{voice_id}/stream` with
//! `output_format=pcm_16000`. The audio is cut into the engine's 16 kHz frames as
//! it arrives, so the customer hears the first words before the sentence is done.
//!
//! Failures never hold a call up: a slow first byte, a stall or a cut-off
//! stream ends the sentence's attempt within the configured times, and the
//! reply goes on with the next voice of the chain (Piper, espeak-ng). Until the
//! first byte of audio is used, a request may be repeated: 429 (obeying
//! `Retry-After`), 5xx and connection failures are retried with jittered
//! backoff inside the first-audio budget. A circuit breaker per provider skips
//! it for a while once it keeps failing (at once on a 429 that asks for more
//! than the budget), so later sentences and turns do not wait on it. Requests
//! and errors are logged with the provider, status and reason — never the key,
//! the text or the voice's audio.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::audio::StreamResampler;
use crate::lang::Lang;
use crate::resilience::{
    error_detail, read_body, retry_after, root_cause, skipped_for, BreakerConfig, CircuitBreaker,
    RetryPolicy,
};

use super::{AudioStream, TextToSpeech, TtsError, VoiceSpec};

/// Longest text sent in one request (OpenAI's limit is 4096 characters).
pub const MAX_CHARS: usize = 4000;
/// Most of an error body kept for the message.
const ERROR_BODY_MAX: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudVoice {
    /// OpenAI's speech API (`gpt-4o-mini-tts`, `tts-1`, `tts-1-hd`).
    OpenAi,
    /// ElevenLabs (`eleven_flash_v2_5`, `eleven_multilingual_v2`: Arabic too).
    ElevenLabs,
}

impl CloudVoice {
    pub fn name(self) -> &'static str {
        match self {
            CloudVoice::OpenAi => "openai-tts",
            CloudVoice::ElevenLabs => "elevenlabs",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            CloudVoice::OpenAi => "https://api.openai.com",
            CloudVoice::ElevenLabs => "https://api.elevenlabs.io",
        }
    }

    pub fn default_model(self) -> &'static str {
        match self {
            CloudVoice::OpenAi => "gpt-4o-mini-tts",
            // Low latency, 32 languages including Arabic.
            CloudVoice::ElevenLabs => "eleven_flash_v2_5",
        }
    }

    /// The sample rate of the PCM the service sends.
    fn pcm_rate(self) -> u32 {
        match self {
            CloudVoice::OpenAi => 24_000,
            CloudVoice::ElevenLabs => 16_000,
        }
    }

    /// A voice for a persona when none is configured: Ahmed and Mohammed male,
    /// Sarah female; the supervisor's typed lines and others a neutral one.
    fn default_voice(self, persona: Option<&str>) -> &'static str {
        match (self, persona) {
            (CloudVoice::OpenAi, Some("reception")) => "ash",
            (CloudVoice::OpenAi, Some("sales")) => "coral",
            (CloudVoice::OpenAi, Some("support")) => "onyx",
            (CloudVoice::OpenAi, _) => "alloy",
            // ElevenLabs' premade voices: Adam, Sarah, Antoni; Rachel.
            (CloudVoice::ElevenLabs, Some("reception")) => "pNInz6obpgDQGcFmaJgB",
            (CloudVoice::ElevenLabs, Some("sales")) => "EXAVITQu4vr4xnSDxMaL",
            (CloudVoice::ElevenLabs, Some("support")) => "ErXwobaYiN019PkySvjV",
            (CloudVoice::ElevenLabs, _) => "21m00Tcm4TlvDq8ikWAM",
        }
    }
}

#[derive(Clone)]
pub struct CloudTtsConfig {
    pub kind: CloudVoice,
    /// Scheme and host (and a path prefix, if any), without `/v1`.
    pub base_url: String,
    pub model: String,
    /// From the OS keyring or the environment; never logged.
    pub api_key: Option<String>,
    /// Voice per persona and language: keys `"sales.ar"`, `"sales"`, `"ar"`,
    /// tried in that order, then the built-in choice.
    pub voices: BTreeMap<String, String>,
    pub connect_timeout: Duration,
    /// From the request to the first audio, retries included.
    pub first_audio_timeout: Duration,
    /// Longest gap between two pieces of audio once it flows.
    pub stall_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
}

impl CloudTtsConfig {
    pub fn new(kind: CloudVoice, api_key: Option<String>) -> Self {
        Self {
            kind,
            base_url: kind.default_base_url().into(),
            model: kind.default_model().into(),
            api_key,
            voices: BTreeMap::new(),
            connect_timeout: Duration::from_millis(1000),
            first_audio_timeout: Duration::from_millis(1200),
            stall_timeout: Duration::from_millis(1000),
            retry: RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(80),
                max_delay: Duration::from_millis(400),
            },
            breaker: BreakerConfig::default(),
        }
    }

    /// The voice id for `voice` (persona and language).
    pub fn voice_for(&self, voice: &VoiceSpec) -> String {
        let persona = voice.persona.map(|p| p.as_str());
        let lang = match voice.lang {
            Lang::Ar => "ar",
            Lang::En => "en",
        };
        let keys = [
            persona.map(|p| format!("{p}.{lang}")),
            persona.map(str::to_string),
            Some(lang.to_string()),
        ];
        keys.into_iter()
            .flatten()
            .find_map(|k| self.voices.get(&k).cloned())
            .unwrap_or_else(|| self.kind.default_voice(persona).to_string())
    }

    fn url(&self, voice_id: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        match self.kind {
            CloudVoice::OpenAi => format!("{base}/v1/audio/speech"),
            CloudVoice::ElevenLabs => format!(
                "{base}/v1/text-to-speech/{}/stream?output_format=pcm_16000",
                percent_encode(voice_id)
            ),
        }
    }

    fn body(&self, text: &str, voice_id: &str, lang: Lang) -> serde_json::Value {
        match self.kind {
            CloudVoice::OpenAi => serde_json::json!({
                "model": self.model,
                "input": text,
                "voice": voice_id,
                "response_format": "pcm",
            }),
            CloudVoice::ElevenLabs => {
                let mut b = serde_json::json!({
                    "text": text,
                    "model_id": self.model,
                });
                // Flash and Turbo v2.5 take the language; it keeps a short
                // Arabic sentence from being read with an English accent.
                if self.model.contains("v2_5") {
                    b["language_code"] = serde_json::json!(match lang {
                        Lang::Ar => "ar",
                        Lang::En => "en",
                    });
                }
                b
            }
        }
    }
}

impl std::fmt::Debug for CloudTtsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudTtsConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("voices", &self.voices)
            .finish()
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A cloud voice; clones share the HTTP connections and the circuit breaker.
#[derive(Clone)]
pub struct CloudTts {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: CloudTtsConfig,
    http: reqwest::Client,
    breaker: CircuitBreaker,
}

impl CloudTts {
    pub fn new(cfg: CloudTtsConfig) -> Result<Self, TtsError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| TtsError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                breaker: CircuitBreaker::new(cfg.breaker),
                cfg,
                http,
            }),
        })
    }

    pub fn config(&self) -> &CloudTtsConfig {
        &self.inner.cfg
    }
}

impl TextToSpeech for CloudTts {
    fn name(&self) -> &str {
        self.inner.cfg.kind.name()
    }

    fn skip_reason(&self) -> Option<String> {
        self.inner.breaker.is_open().then(|| {
            format!(
                "{} is skipped for now after failing repeatedly",
                self.name()
            )
        })
    }

    fn synthesize(&self, text: &str, voice: &VoiceSpec) -> AudioStream {
        let text: String = text.trim().chars().take(MAX_CHARS).collect();
        let state = Synth {
            inner: self.inner.clone(),
            voice_id: self.inner.cfg.voice_for(voice),
            lang: voice.lang,
            text,
            body: None,
            resampler: None,
            odd: None,
            queue: VecDeque::new(),
            yielded: false,
            finished: false,
            deadline: None,
        };
        Box::pin(futures::stream::unfold(state, Synth::next))
    }
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

struct Synth {
    inner: Arc<Inner>,
    voice_id: String,
    lang: Lang,
    text: String,
    body: Option<Body>,
    resampler: Option<StreamResampler>,
    /// A byte of a sample split across two network chunks.
    odd: Option<u8>,
    queue: VecDeque<Vec<i16>>,
    /// Audio has gone out: the request can no longer be repeated.
    yielded: bool,
    finished: bool,
    deadline: Option<Instant>,
}

/// Why a try failed, and whether another try may help.
struct Failure {
    error: TtsError,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Synth {
    async fn next(mut self) -> Option<(Result<Vec<i16>, TtsError>, Self)> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                self.yielded = true;
                return Some((Ok(chunk), self));
            }
            if self.finished {
                return None;
            }
            if self.text.is_empty() {
                self.finished = true;
                continue;
            }
            let step = if self.body.is_none() {
                self.connect().await
            } else {
                self.read().await
            };
            if let Err(e) = step {
                self.finished = true;
                self.body = None;
                return Some((Err(e), self));
            }
        }
    }

    fn fail(&self, error: TtsError, hold: Option<Duration>) -> TtsError {
        let name = self.inner.cfg.kind.name();
        let opened = self.inner.breaker.failure(hold);
        tracing::warn!(provider = name, code = error.code(), error = %error, circuit_open_s = opened.map(|d| d.as_secs()), "cloud voice failed");
        match opened {
            Some(d) => TtsError::Failed(format!("{error}; {}", skipped_for(name, d))),
            None => error,
        }
    }

    /// Sends the request (again, while nothing was played and time allows)
    /// until audio starts flowing.
    async fn connect(&mut self) -> Result<(), TtsError> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        let name = cfg.kind.name();
        if let Err(open) = self.inner.breaker.allow() {
            return Err(TtsError::Unavailable(open.reason(name)));
        }
        let Some(key) = cfg.api_key.clone().filter(|k| !k.trim().is_empty()) else {
            return Err(TtsError::Unavailable(format!(
                "{name} has no API key (set it in Settings → API keys or the environment)"
            )));
        };
        let deadline = *self
            .deadline
            .get_or_insert_with(|| Instant::now() + cfg.first_audio_timeout);
        let mut attempt = 1;
        loop {
            match self.try_once(&key, deadline).await {
                Ok(()) => return Ok(()),
                Err(f) => {
                    let retried = cfg
                        .retry
                        .wait_to_retry(
                            &mut attempt,
                            f.retry,
                            f.retry_after,
                            deadline,
                            name,
                            f.error.code(),
                        )
                        .await;
                    if !retried {
                        // A 429 asking for longer than we can wait: leave the
                        // service alone that long.
                        let hold = f.retry_after.filter(|d| *d > Duration::ZERO);
                        return Err(self.fail(f.error, hold));
                    }
                }
            }
        }
    }

    /// One request, up to its first audio bytes.
    async fn try_once(&mut self, key: &str, deadline: Instant) -> Result<(), Failure> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        let name = cfg.kind.name();
        let mut req = inner.http.post(cfg.url(&self.voice_id)).json(&cfg.body(
            &self.text,
            &self.voice_id,
            self.lang,
        ));
        req = match cfg.kind {
            CloudVoice::OpenAi => req.bearer_auth(key),
            CloudVoice::ElevenLabs => req.header("xi-api-key", key),
        };
        let timeout_err = || Failure {
            error: TtsError::Timeout {
                ms: cfg.first_audio_timeout.as_millis() as u64,
            },
            retry: false,
            retry_after: None,
        };
        let resp = match tokio::time::timeout_at(deadline, req.send()).await {
            Err(_) => return Err(timeout_err()),
            Ok(Err(e)) => {
                return Err(Failure {
                    error: TtsError::Unavailable(format!(
                        "cannot reach {name}: {}",
                        root_cause(&e)
                    )),
                    retry: true,
                    retry_after: None,
                })
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(
                resp.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = read_body(resp, deadline, ERROR_BODY_MAX)
                .await
                .unwrap_or_default();
            let detail = error_detail(&body);
            let code = status.as_u16();
            let retry = code == 429 || code == 408 || status.is_server_error();
            let what = match code {
                401 | 403 => format!("{name} refused the API key (HTTP {code}): {detail}"),
                429 => format!("{name} is rate limiting (HTTP 429): {detail}"),
                _ => format!("{name} answered HTTP {code}: {detail}"),
            };
            return Err(Failure {
                error: TtsError::Failed(what),
                retry,
                retry_after: after,
            });
        }
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ctype.starts_with("application/json") || ctype.starts_with("text/") {
            // A 200 that is not audio (a proxy's page, an error in JSON).
            let body = read_body(resp, deadline, ERROR_BODY_MAX)
                .await
                .unwrap_or_default();
            return Err(Failure {
                error: TtsError::Failed(format!(
                    "{name} answered {} instead of audio: {}",
                    ctype.split(';').next().unwrap_or(""),
                    error_detail(&body)
                )),
                retry: false,
                retry_after: None,
            });
        }
        let mut body: Body = Box::pin(resp.bytes_stream());
        // The first audio bytes, within the same deadline.
        loop {
            match tokio::time::timeout_at(deadline, body.next()).await {
                Err(_) => return Err(timeout_err()),
                Ok(None) => {
                    return Err(Failure {
                        error: TtsError::Failed(format!("{name} sent no audio")),
                        retry: true,
                        retry_after: None,
                    })
                }
                Ok(Some(Err(e))) => {
                    return Err(Failure {
                        error: TtsError::Failed(format!(
                            "{name} closed the stream before any audio: {}",
                            root_cause(&e)
                        )),
                        retry: true,
                        retry_after: None,
                    })
                }
                Ok(Some(Ok(b))) if b.is_empty() => {}
                Ok(Some(Ok(b))) => {
                    self.resampler =
                        Some(StreamResampler::new(cfg.kind.pcm_rate(), 1).map_err(|e| {
                            Failure {
                                error: TtsError::Failed(e.to_string()),
                                retry: false,
                                retry_after: None,
                            }
                        })?);
                    self.body = Some(body);
                    self.take(&b);
                    return Ok(());
                }
            }
        }
    }

    /// More audio, or the end of it.
    async fn read(&mut self) -> Result<(), TtsError> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        let name = cfg.kind.name();
        let Some(body) = self.body.as_mut() else {
            return Ok(());
        };
        match tokio::time::timeout(cfg.stall_timeout, body.next()).await {
            Err(_) => {
                let e = TtsError::Failed(format!(
                    "{name} stalled for {} ms mid-sentence",
                    cfg.stall_timeout.as_millis()
                ));
                Err(self.fail(e, None))
            }
            Ok(Some(Err(e))) => {
                let e = TtsError::Failed(format!(
                    "{name} cut the audio off mid-sentence: {}",
                    root_cause(&e)
                ));
                Err(self.fail(e, None))
            }
            Ok(Some(Ok(b))) => {
                self.take(&b);
                Ok(())
            }
            Ok(None) => {
                self.body = None;
                self.finished = true;
                let mut tail = Vec::new();
                if let Some(r) = self.resampler.as_mut() {
                    r.finish(|f| tail.extend_from_slice(&f.samples));
                }
                if !tail.is_empty() {
                    self.queue.push_back(tail);
                }
                self.inner.breaker.success();
                Ok(())
            }
        }
    }

    /// Little-endian 16-bit samples in, 16 kHz frames out.
    fn take(&mut self, bytes: &[u8]) {
        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
        let mut rest = bytes;
        if let Some(lo) = self.odd.take() {
            if let Some((&hi, r)) = rest.split_first() {
                samples.push(i16::from_le_bytes([lo, hi]));
                rest = r;
            } else {
                self.odd = Some(lo);
            }
        }
        let mut pairs = rest.chunks_exact(2);
        for p in &mut pairs {
            samples.push(i16::from_le_bytes([p[0], p[1]]));
        }
        if let [b] = pairs.remainder() {
            self.odd = Some(*b);
        }
        let Some(r) = self.resampler.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        r.push_i16(&samples, |f| out.extend_from_slice(&f.samples));
        if !out.is_empty() {
            self.queue.push_back(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::PersonaId;

    fn spec(persona: Option<PersonaId>, lang: Lang) -> VoiceSpec {
        VoiceSpec {
            lang,
            voice: "x".into(),
            rate_wpm: 160,
            pitch: 50,
            persona,
        }
    }

    #[test]
    fn voices_are_chosen_per_persona_and_language_then_per_persona_then_per_language() {
        let mut c = CloudTtsConfig::new(CloudVoice::ElevenLabs, None);
        c.voices.insert("sales.ar".into(), "voice-sara-ar".into());
        c.voices.insert("sales".into(), "voice-sarah".into());
        c.voices.insert("ar".into(), "voice-any-ar".into());
        assert_eq!(
            c.voice_for(&spec(Some(PersonaId::Sales), Lang::Ar)),
            "voice-sara-ar"
        );
        assert_eq!(
            c.voice_for(&spec(Some(PersonaId::Sales), Lang::En)),
            "voice-sarah"
        );
        assert_eq!(
            c.voice_for(&spec(Some(PersonaId::Support), Lang::Ar)),
            "voice-any-ar"
        );
        assert_eq!(
            c.voice_for(&spec(Some(PersonaId::Support), Lang::En)),
            "ErXwobaYiN019PkySvjV"
        );
        let o = CloudTtsConfig::new(CloudVoice::OpenAi, None);
        assert_eq!(o.voice_for(&spec(None, Lang::Ar)), "alloy");
        assert_eq!(
            o.voice_for(&spec(Some(PersonaId::Sales), Lang::En)),
            "coral"
        );
        assert_eq!(
            c.url("a b/c"),
            "https://api.elevenlabs.io/v1/text-to-speech/a%20b%2Fc/stream?output_format=pcm_16000"
        );
        assert!(!format!(
            "{:?}",
            CloudTtsConfig::new(CloudVoice::OpenAi, Some("sk-secret".into()))
        )
        .contains("sk-secret"));
    }
}
