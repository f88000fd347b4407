//! Cloud recognition: OpenAI's transcription API (`whisper-1`,
//! `gpt-4o-transcribe`, `gpt-4o-mini-transcribe`).
//!
//! The customer's utterance is kept while they speak; when the turn ends it is
//! uploaded as a 16 kHz WAV in a `multipart/form-data` request to
//! `POST /v1/audio/transcriptions` (with the call's language when it is fixed).
//! The `gpt-4o-*` models stream their answer (`stream=true`: server-sent events
//! `transcript.text.delta` … `transcript.text.done`); `whisper-1` answers one
//! JSON `{"text"}`.
//!
//! Until an answer has been used, the request may be repeated: 429 (obeying a
//! short `Retry-After`), 408, 5xx and connection failures are retried inside the
//! time budget. A circuit breaker skips the service for a while once it keeps
//! failing, so the chain's next recognizer (local Whisper) hears the customer
//! without waiting on it. Keys, audio and words never reach a log.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::audio::{wav_bytes, Frame, SAMPLE_RATE};
use crate::lang::{detect, Lang, LangHint};
use crate::resilience::{
    error_detail, one_line as clean, read_body as read, retry_after, root_cause, skipped_for,
    BreakerConfig, CircuitBreaker, RetryPolicy,
};

use super::{SpeechToText, SttError, SttResult, SttSession};

/// The longest utterance uploaded (a turn is capped well below this).
pub const MAX_SECONDS: usize = 60;
const ERROR_BODY_MAX: usize = 2048;
const ANSWER_MAX: usize = 256 * 1024;

#[derive(Clone)]
pub struct OpenAiSttConfig {
    /// Scheme and host (and a path prefix, if any), without `/v1`.
    pub base_url: String,
    pub model: String,
    /// From the OS keyring or the environment; never logged.
    pub api_key: Option<String>,
    /// From the end of the turn to the transcript, retries included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
}

impl OpenAiSttConfig {
    pub fn new(api_key: Option<String>) -> Self {
        Self {
            base_url: "https://api.openai.com".into(),
            model: "gpt-4o-mini-transcribe".into(),
            api_key,
            timeout: Duration::from_millis(2500),
            connect_timeout: Duration::from_millis(1000),
            retry: RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(80),
                max_delay: Duration::from_millis(400),
            },
            breaker: BreakerConfig::default(),
        }
    }

    /// The `gpt-4o-*` transcription models stream; `whisper-1` does not.
    pub fn streams(&self) -> bool {
        self.model.starts_with("gpt-")
    }
}

impl std::fmt::Debug for OpenAiSttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSttConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// OpenAI's transcription; clones share connections and the circuit breaker.
#[derive(Clone)]
pub struct OpenAiStt {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    cfg: OpenAiSttConfig,
    http: reqwest::Client,
    breaker: CircuitBreaker,
}

impl OpenAiStt {
    pub fn new(cfg: OpenAiSttConfig) -> Result<Self, SttError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| SttError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: std::sync::Arc::new(Inner {
                breaker: CircuitBreaker::new(cfg.breaker),
                cfg,
                http,
            }),
        })
    }
}

pub const NAME: &str = "openai-stt";

impl SpeechToText for OpenAiStt {
    fn name(&self) -> &str {
        NAME
    }

    fn skip_reason(&self) -> Option<String> {
        self.inner
            .breaker
            .is_open()
            .then(|| format!("{NAME} is skipped for now after failing repeatedly"))
    }

    fn start(&self, hint: LangHint) -> Box<dyn SttSession> {
        Box::new(Session {
            inner: self.inner.clone(),
            hint,
            samples: Vec::new(),
        })
    }
}

struct Session {
    inner: std::sync::Arc<Inner>,
    hint: LangHint,
    samples: Vec<i16>,
}

#[async_trait]
impl SttSession for Session {
    fn push(&mut self, frame: &Frame) -> Option<String> {
        if self.samples.len() < MAX_SECONDS * SAMPLE_RATE as usize {
            self.samples.extend_from_slice(&frame.samples);
        }
        None
    }

    async fn finish(self: Box<Self>) -> Result<SttResult, SttError> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        if let Err(open) = inner.breaker.allow() {
            return Err(SttError::Unavailable(open.reason(NAME)));
        }
        let Some(key) = cfg.api_key.clone().filter(|k| !k.trim().is_empty()) else {
            return Err(SttError::Unavailable(format!(
                "{NAME} has no API key (set it in Settings → API keys or OPENAI_API_KEY)"
            )));
        };
        if self.samples.is_empty() {
            return Ok(SttResult::new(
                String::new(),
                self.hint.fixed().unwrap_or(Lang::En),
            ));
        }
        let deadline = Instant::now() + cfg.timeout;
        let (boundary, body) = form(cfg, &wav_bytes(self.samples.iter().copied()), self.hint);
        let mut attempt = 1;
        loop {
            let failure = match self.once(&key, &boundary, &body, deadline).await {
                Ok(text) => {
                    inner.breaker.success();
                    let text = text.trim().to_string();
                    let lang = self.hint.fixed().unwrap_or_else(|| detect(&text, Lang::En));
                    return Ok(SttResult::new(text, lang));
                }
                Err(f) => f,
            };
            let retried = cfg
                .retry
                .wait_to_retry(
                    &mut attempt,
                    failure.retry,
                    failure.retry_after,
                    deadline,
                    NAME,
                    failure.error.code(),
                )
                .await;
            if !retried {
                let hold = failure.retry_after.filter(|_| failure.rate_limited);
                let opened = inner.breaker.failure(hold);
                tracing::warn!(provider = NAME, code = failure.error.code(), error = %failure.error, circuit_open_s = opened.map(|d| d.as_secs()), "cloud recognition failed");
                return Err(match opened {
                    Some(d) => {
                        SttError::Failed(format!("{}; {}", failure.error, skipped_for(NAME, d)))
                    }
                    None => failure.error,
                });
            }
        }
    }
}

struct Failure {
    error: SttError,
    retry: bool,
    retry_after: Option<Duration>,
    rate_limited: bool,
}

impl Failure {
    fn final_(error: SttError) -> Self {
        Self {
            error,
            retry: false,
            retry_after: None,
            rate_limited: false,
        }
    }
}

impl Session {
    async fn once(
        &self,
        key: &str,
        boundary: &str,
        body: &[u8],
        deadline: Instant,
    ) -> Result<String, Failure> {
        let cfg = &self.inner.cfg;
        let url = format!(
            "{}/v1/audio/transcriptions",
            cfg.base_url.trim_end_matches('/')
        );
        let req = self
            .inner
            .http
            .post(url)
            .bearer_auth(key)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body.to_vec());
        let timeout = || {
            Failure::final_(SttError::Timeout {
                ms: cfg.timeout.as_millis() as u64,
            })
        };
        let resp = match tokio::time::timeout_at(deadline, req.send()).await {
            Err(_) => return Err(timeout()),
            Ok(Err(e)) => {
                return Err(Failure {
                    error: SttError::Unavailable(format!(
                        "cannot reach {NAME}: {}",
                        root_cause(&e)
                    )),
                    retry: true,
                    retry_after: None,
                    rate_limited: false,
                })
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !status.is_success() {
            let after = retry_after(
                resp.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = read(resp, deadline, ERROR_BODY_MAX)
                .await
                .unwrap_or_default();
            let detail = error_detail(&body);
            let code = status.as_u16();
            let what = match code {
                401 | 403 => format!("{NAME} refused the API key (HTTP {code}): {detail}"),
                429 => format!("{NAME} is rate limiting (HTTP 429): {detail}"),
                _ => format!("{NAME} answered HTTP {code}: {detail}"),
            };
            return Err(Failure {
                error: SttError::Failed(what),
                retry: code == 429 || code == 408 || status.is_server_error(),
                retry_after: after,
                rate_limited: code == 429,
            });
        }
        let Some(body) = read(resp, deadline, ANSWER_MAX).await else {
            return Err(timeout());
        };
        let malformed =
            |why: String| Failure::final_(SttError::Failed(format!("{NAME} sent {why}")));
        if ctype.starts_with("text/event-stream") {
            parse_events(&body).map_err(malformed)
        } else if ctype.starts_with("application/json") {
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|_| malformed(format!("malformed JSON: {}", clean(&body))))?;
            v.get("text")
                .and_then(|t| t.as_str())
                .map(str::to_string)
                .ok_or_else(|| malformed(format!("no text: {}", clean(&body))))
        } else {
            Err(malformed(format!(
                "{} instead of a transcript: {}",
                ctype.split(';').next().unwrap_or("nothing"),
                clean(&body)
            )))
        }
    }
}

/// The text of a streamed transcription: `transcript.text.done`'s text, or the
/// deltas joined if the stream ended without it.
fn parse_events(body: &str) -> Result<String, String> {
    let mut deltas = String::new();
    let mut any = false;
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(data)
            .map_err(|_| format!("a malformed event: {}", clean(data)))?;
        match v.get("type").and_then(|t| t.as_str()) {
            Some("transcript.text.delta") => {
                any = true;
                deltas.push_str(v.get("delta").and_then(|d| d.as_str()).unwrap_or(""));
            }
            Some("transcript.text.done") => {
                if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                    return Ok(t.to_string());
                }
            }
            Some("error") | None if v.get("error").is_some() => {
                return Err(format!("an error: {}", error_detail(data)));
            }
            _ => {}
        }
    }
    if any {
        Ok(deltas)
    } else {
        Err("an event stream without a transcript".into())
    }
}

/// The multipart form: the audio, the model, the language when fixed, and
/// streaming for the models that stream.
fn form(cfg: &OpenAiSttConfig, wav: &[u8], hint: LangHint) -> (String, Vec<u8>) {
    let boundary = format!(
        "switchboard-{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    );
    let mut body = Vec::with_capacity(wav.len() + 1024);
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    field("model", &cfg.model);
    field("response_format", "json");
    if let Some(lang) = hint.fixed() {
        field("language", lang.code());
    }
    if cfg.streams() {
        field("stream", "true");
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(wav);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_transcript_is_the_done_events_text_or_the_deltas() {
        let done = "data: {\"type\":\"transcript.text.delta\",\"delta\":\"مرحبا\"}\n\n\
                    data: {\"type\":\"transcript.text.delta\",\"delta\":\" بك\"}\n\n\
                    data: {\"type\":\"transcript.text.done\",\"text\":\"مرحبا بك\"}\n\n";
        assert_eq!(parse_events(done).unwrap(), "مرحبا بك");
        let cut = "data: {\"type\":\"transcript.text.delta\",\"delta\":\"Hello\"}\n\n";
        assert_eq!(parse_events(cut).unwrap(), "Hello");
        assert!(parse_events("data: {\"type\": \n\n").is_err());
        assert!(parse_events("").is_err());
    }

    #[test]
    fn the_upload_is_a_valid_wav_in_a_well_formed_form() {
        let cfg = OpenAiSttConfig::new(Some("k".into()));
        let samples: Vec<i16> = (0..1600).map(|i| i as i16).collect();
        let w = wav_bytes(samples.iter().copied());
        let decoded = crate::audio::decode_wav_bytes(&w).unwrap();
        assert_eq!(decoded.len(), 1600);
        let (boundary, body) = form(&cfg, &w, LangHint::Ar);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        for part in [
            "name=\"model\"\r\n\r\ngpt-4o-mini-transcribe",
            "name=\"language\"\r\n\r\nar",
            "name=\"stream\"\r\n\r\ntrue",
            "filename=\"utterance.wav\"",
        ] {
            assert!(text.contains(part), "{part}");
        }
        let (_, auto) = form(&cfg, &w, LangHint::Auto);
        assert!(!String::from_utf8_lossy(&auto).contains("name=\"language\""));
    }
}
