//! OpenAI-compatible chat completions client (streaming SSE).
//!
//! Works with any server that speaks `POST {base_url}/chat/completions` with
//! `"stream": true` (OpenAI, llama.cpp server, vLLM, Ollama's `/v1`, LM Studio, …).
//!
//! Design notes:
//! - One `reqwest::Client` per [`OpenAiCompatible`], so consecutive turns reuse the
//!   pooled keep-alive connection (no TCP/TLS handshake per turn).
//! - The SSE body is buffered as raw bytes and split on line terminators before
//!   UTF-8 decoding, so a multi-byte character split across TCP reads is decoded
//!   correctly.
//! - Dropping the returned [`TokenStream`] drops the in-flight request/body, which
//!   closes the HTTP connection (barge-in cancellation).
//! - The API key is never logged: `Debug` impls redact it.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::{
    AgentStream, ChatMessage, ChatRequest, Delta, LanguageModel, LlmError, TokenStream, ToolCall,
};
use crate::resilience::{retry_after, root_cause, CircuitBreaker, RetryPolicy};

/// Environment variables consulted (in this order) for the API key.
pub const API_KEY_ENV_VARS: [&str; 2] = ["SWITCHBOARD_LLM_API_KEY", "OPENAI_API_KEY"];

/// Longest SSE line accepted before the stream is declared malformed (1 MiB).
const MAX_LINE_BYTES: usize = 1 << 20;
/// How much of a non-2xx response body is read / kept in the error.
const MAX_ERROR_BODY_BYTES: usize = 8 * 1024;
const MAX_ERROR_BODY_CHARS: usize = 300;
/// After `[DONE]`, how long / how much of the rest of the body is read so the
/// connection can be reused (the rest is normally just the chunked terminator).
const DRAIN_TIMEOUT: Duration = Duration::from_millis(100);
const MAX_DRAIN_BYTES: usize = 64 * 1024;

/// Connection settings for an OpenAI-compatible server.
#[derive(Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Base URL including the API version prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set. Never logged.
    pub api_key: Option<String>,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// From the start of the request until the first non-empty content delta.
    pub first_token_timeout: Duration,
    /// Longest silence between body chunks once the first token has arrived.
    pub stall_timeout: Duration,
    /// Before the first token, a 429 (obeying `Retry-After`), 408, 5xx or a
    /// refused connection is tried again within the first-token deadline.
    pub retry: RetryPolicy,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".to_string(),
            model: "default".to_string(),
            api_key: None,
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(4),
            stall_timeout: Duration::from_secs(3),
            retry: RetryPolicy {
                max_attempts: 2,
                base: Duration::from_millis(100),
                max_delay: Duration::from_millis(500),
            },
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .finish()
    }
}

impl OpenAiConfig {
    /// `base_url` and `model` with default timeouts, and the API key from
    /// `SWITCHBOARD_LLM_API_KEY`, falling back to `OPENAI_API_KEY` (empty values
    /// are ignored).
    pub fn from_env(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: Self::api_key_from_env(),
            ..Self::default()
        }
    }

    /// The API key from `SWITCHBOARD_LLM_API_KEY` or `OPENAI_API_KEY`, if either is
    /// set to a non-empty value.
    pub fn api_key_from_env() -> Option<String> {
        API_KEY_ENV_VARS.iter().find_map(|name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    }

    /// `{base_url}/chat/completions`, tolerant of a trailing slash on `base_url`.
    pub fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

/// Streaming client for an OpenAI-compatible `/chat/completions` endpoint.
#[derive(Clone)]
pub struct OpenAiCompatible {
    inner: Arc<Inner>,
}

struct Inner {
    /// `Err` only if the HTTP client could not be built (e.g. TLS backend failure);
    /// then every stream yields that error.
    client: Result<reqwest::Client, String>,
    config: OpenAiConfig,
    url: String,
    /// `url` with credentials/query removed, for errors and logs.
    display_url: String,
    /// Shared by every call using this client: once the server keeps failing,
    /// replies go straight to the next model of the chain for a while.
    breaker: CircuitBreaker,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// Builds the client (one connection pool shared by every call). Never fails:
    /// if the HTTP client cannot be built, every stream yields `LlmError::Other`
    /// (use [`OpenAiCompatible::try_new`] to find out up front).
    pub fn new(config: OpenAiConfig) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {}", root_cause(&e)));
        if let Err(err) = &client {
            tracing::error!(%err, "language model client unusable");
        }
        let url = config.completions_url();
        let display_url = redact_url(&url);
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                url,
                display_url,
                breaker: CircuitBreaker::default(),
            }),
        }
    }

    /// Like [`OpenAiCompatible::new`], but fails if the HTTP client cannot be built.
    pub fn try_new(config: OpenAiConfig) -> Result<Self, LlmError> {
        let this = Self::new(config);
        if let Err(err) = &this.inner.client {
            return Err(LlmError::Other(err.clone()));
        }
        Ok(this)
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.inner.config
    }
}

impl LanguageModel for OpenAiCompatible {
    fn name(&self) -> &str {
        "openai-compatible"
    }

    fn skip_reason(&self) -> Option<String> {
        self.inner.breaker.is_open().then(|| {
            format!(
                "the language model at {} is skipped for now after failing repeatedly",
                self.inner.display_url
            )
        })
    }

    fn stream(&self, request: ChatRequest) -> TokenStream {
        Box::pin(self.stream_agent(request).filter_map(|item| {
            std::future::ready(match item {
                Ok(Delta::Text(t)) => Some(Ok(t)),
                Ok(Delta::ToolCall(_)) => None,
                Err(e) => Some(Err(e)),
            })
        }))
    }

    fn stream_agent(&self, request: ChatRequest) -> AgentStream {
        let state = StreamState {
            inner: Arc::clone(&self.inner),
            request: Some(request),
            phase: Phase::Start,
            deadline: None,
            parser: SseParser::default(),
            queue: VecDeque::new(),
            pending_error: None,
            got_content: false,
            tools: std::collections::BTreeMap::new(),
        };
        Box::pin(futures::stream::unfold(state, StreamState::next))
    }
}

// ---------------------------------------------------------------------------
// Request/response state machine
// ---------------------------------------------------------------------------

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

enum Phase {
    Start,
    Streaming(BodyStream),
    /// After `[DONE]`: reading the (normally empty) rest of the body so that the
    /// keep-alive connection goes back to the pool for the next turn.
    Draining(BodyStream),
    Finished,
}

struct StreamState {
    inner: Arc<Inner>,
    request: Option<ChatRequest>,
    phase: Phase,
    /// Absolute first-token deadline, set when the request starts.
    deadline: Option<Instant>,
    parser: SseParser,
    /// Deltas parsed but not yet yielded.
    queue: VecDeque<Delta>,
    /// Tool calls being streamed, by their index: id, name, arguments so far.
    tools: std::collections::BTreeMap<u64, (String, String, String)>,
    /// An error found after some queued deltas; yielded once the queue drains.
    pending_error: Option<LlmError>,
    got_content: bool,
}

impl StreamState {
    async fn next(mut self) -> Option<(Result<Delta, LlmError>, Self)> {
        loop {
            if let Some(token) = self.queue.pop_front() {
                return Some((Ok(token), self));
            }
            if let Some(err) = self.pending_error.take() {
                self.phase = Phase::Finished;
                return Some((Err(err), self));
            }
            match &mut self.phase {
                Phase::Finished => return None,
                Phase::Draining(body) => {
                    let mut drained = 0usize;
                    let until = Instant::now() + DRAIN_TIMEOUT;
                    while drained < MAX_DRAIN_BYTES {
                        match tokio::time::timeout_at(until, body.next()).await {
                            Ok(Some(Ok(bytes))) => drained += bytes.len(),
                            _ => break,
                        }
                    }
                    self.phase = Phase::Finished;
                }
                Phase::Start => {
                    if let Err(err) = self.start().await {
                        self.phase = Phase::Finished;
                        return Some((Err(err), self));
                    }
                }
                Phase::Streaming(body) => {
                    let cfg = &self.inner.config;
                    let chunk = if self.got_content {
                        match tokio::time::timeout(cfg.stall_timeout, body.next()).await {
                            Ok(chunk) => chunk,
                            Err(_) => {
                                self.phase = Phase::Finished;
                                let ms = millis(cfg.stall_timeout);
                                self.inner.breaker.failure(None);
                                return Some((Err(LlmError::StallTimeout { ms }), self));
                            }
                        }
                    } else {
                        let deadline = self
                            .deadline
                            .unwrap_or_else(|| Instant::now() + cfg.first_token_timeout);
                        match tokio::time::timeout_at(deadline, body.next()).await {
                            Ok(chunk) => chunk,
                            Err(_) => {
                                self.phase = Phase::Finished;
                                let ms = millis(cfg.first_token_timeout);
                                self.inner.breaker.failure(None);
                                return Some((Err(LlmError::FirstTokenTimeout { ms }), self));
                            }
                        }
                    };
                    match chunk {
                        Some(Ok(bytes)) => {
                            let mut events = Vec::new();
                            let fed = self.parser.feed(&bytes, &mut events);
                            self.handle_events(events);
                            if let Err(err) = fed {
                                self.fail_after_queue(err);
                            }
                        }
                        Some(Err(err)) => {
                            let reason = root_cause(&err);
                            self.fail_after_queue(LlmError::Other(format!(
                                "connection to the language model was lost mid-reply: {reason}"
                            )));
                        }
                        None => self.end_of_body(),
                    }
                }
            }
        }
    }

    /// Sends the request and waits for response headers (within the first-token
    /// deadline), trying again on a 429, 408, 5xx or refused connection while
    /// the deadline allows: nothing has been said yet, so repeating is harmless.
    async fn start(&mut self) -> Result<(), LlmError> {
        let inner = Arc::clone(&self.inner);
        let cfg = &inner.config;
        let deadline = Instant::now() + cfg.first_token_timeout;
        self.deadline = Some(deadline);
        if let Err(open) = inner.breaker.allow() {
            return Err(LlmError::Unavailable(
                open.reason(&format!("the language model at {}", inner.display_url)),
            ));
        }
        let request = self
            .request
            .take()
            .ok_or_else(|| LlmError::Other("request already sent".to_string()))?;
        let mut body = serde_json::json!({
            "model": cfg.model,
            "messages": request.messages.iter().map(wire_message).collect::<Vec<_>>(),
            "stream": true,
            "max_tokens": request.max_tokens,
            // f32 → f64 without the 0.699999988 noise.
            "temperature": (f64::from(request.temperature) * 1000.0).round() / 1000.0,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.parameters,
                        }
                    })
                })
                .collect();
            body["tool_choice"] = serde_json::json!("auto");
        }
        let client = inner
            .client
            .as_ref()
            .map_err(|e| LlmError::Other(e.clone()))?;
        let mut attempt = 1;
        loop {
            let (err, after) = match self.send(client, &body, deadline).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let retryable = match &err {
                LlmError::Connect { .. } => true,
                LlmError::Status { status, .. } => {
                    *status == 429 || *status == 408 || *status >= 500
                }
                _ => false,
            };
            let retried = cfg
                .retry
                .wait_to_retry(
                    &mut attempt,
                    retryable,
                    after,
                    deadline,
                    &inner.display_url,
                    err.code(),
                )
                .await;
            if !retried {
                let hold = match &err {
                    LlmError::Status { status: 429, .. } => after,
                    _ => None,
                };
                inner.breaker.failure(hold);
                return Err(err);
            }
        }
    }

    /// One request up to its response headers; a failure comes with the
    /// server's `Retry-After`, if any.
    async fn send(
        &mut self,
        client: &reqwest::Client,
        body: &serde_json::Value,
        deadline: Instant,
    ) -> Result<(), (LlmError, Option<Duration>)> {
        let inner = Arc::clone(&self.inner);
        let cfg = &inner.config;
        let mut builder = client
            .post(&inner.url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(body);
        if let Some(key) = &cfg.api_key {
            // `bearer_auth` marks the header value as sensitive.
            builder = builder.bearer_auth(key);
        }
        tracing::debug!(url = %inner.display_url, model = %cfg.model, "starting LLM stream");
        let response = match tokio::time::timeout_at(deadline, builder.send()).await {
            Err(_) => {
                return Err((
                    LlmError::FirstTokenTimeout {
                        ms: millis(cfg.first_token_timeout),
                    },
                    None,
                ))
            }
            Ok(Err(err)) => return Err((map_send_error(&err, &inner.display_url, cfg), None)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let after = retry_after(
                response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = read_error_body(response, deadline).await;
            return Err((
                LlmError::Status {
                    status: status.as_u16(),
                    body,
                },
                after,
            ));
        }
        self.phase = Phase::Streaming(Box::pin(response.bytes_stream()));
        Ok(())
    }

    fn handle_events(&mut self, events: Vec<SseEvent>) {
        for event in events {
            if !matches!(self.phase, Phase::Streaming(_)) || self.pending_error.is_some() {
                return;
            }
            match interpret_event(&event) {
                Ok(Parsed::Delta {
                    content,
                    tools,
                    finish,
                }) => {
                    if let Some(text) = content {
                        if !self.got_content {
                            self.inner.breaker.success();
                        }
                        self.got_content = true;
                        self.queue.push_back(Delta::Text(text));
                    }
                    for t in tools {
                        let e = self.tools.entry(t.index).or_default();
                        if let Some(id) = t.id {
                            e.0 = id;
                        }
                        if let Some(name) = t.name {
                            e.1.push_str(&name);
                        }
                        if let Some(args) = t.arguments {
                            e.2.push_str(&args);
                        }
                    }
                    if finish.is_some() {
                        self.flush_tools();
                    }
                }
                Ok(Parsed::Nothing) => {}
                Ok(Parsed::Done) => {
                    self.flush_tools();
                    self.phase = match std::mem::replace(&mut self.phase, Phase::Finished) {
                        Phase::Streaming(body) => Phase::Draining(body),
                        other => other,
                    };
                }
                Err(err) => self.fail_after_queue(err),
            }
        }
    }

    /// The tool calls streamed so far, whole, as deltas (at the end of the
    /// choice: their arguments are complete).
    fn flush_tools(&mut self) {
        if self.tools.is_empty() {
            return;
        }
        if !self.got_content {
            self.inner.breaker.success();
        }
        self.got_content = true;
        for (i, (id, name, arguments)) in std::mem::take(&mut self.tools) {
            self.queue.push_back(Delta::ToolCall(ToolCall {
                id: if id.is_empty() {
                    format!("call_{i}")
                } else {
                    id
                },
                name,
                arguments,
            }));
        }
    }

    /// Ends the stream with `err`, after the deltas already queued.
    fn fail_after_queue(&mut self, err: LlmError) {
        if self.pending_error.is_none() {
            self.inner.breaker.failure(None);
            self.pending_error = Some(err);
        }
        self.phase = Phase::Finished;
    }

    fn end_of_body(&mut self) {
        // A final event without its blank line: use it if it parses, otherwise it
        // was cut off and is dropped.
        if let Some(event) = self.parser.finish() {
            if let Ok(Parsed::Delta {
                content: Some(text),
                ..
            }) = interpret_event(&event)
            {
                self.got_content = true;
                self.queue.push_back(Delta::Text(text));
            }
        }
        self.flush_tools();
        if !self.got_content {
            self.fail_after_queue(LlmError::Protocol(
                "the stream ended without any content and without [DONE]".to_string(),
            ));
        }
        self.phase = Phase::Finished;
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn map_send_error(err: &reqwest::Error, url: &str, cfg: &OpenAiConfig) -> LlmError {
    if err.is_builder() {
        return LlmError::Other(format!("invalid request to {url}: {}", root_cause(err)));
    }
    let reason = if err.is_timeout() {
        format!("connect timed out after {} ms", millis(cfg.connect_timeout))
    } else {
        root_cause(err)
    };
    LlmError::Connect {
        url: url.to_string(),
        reason,
    }
}

/// Reads at most a few KiB of an error body, bounded by `deadline`.
async fn read_error_body(response: reqwest::Response, deadline: Instant) -> String {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(bytes))) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    truncate_chars(String::from_utf8_lossy(&body).trim(), MAX_ERROR_BODY_CHARS)
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_string(),
    }
}

/// Removes `user:password@` and the query string from a URL for display.
fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{path}"),
                None => without_query.to_string(),
            }
        }
        None => without_query.to_string(),
    }
}

// ---------------------------------------------------------------------------
// SSE parsing
// ---------------------------------------------------------------------------

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq)]
struct SseEvent {
    /// The `event:` field, if any.
    event: Option<String>,
    /// All `data:` lines joined with `\n`.
    data: String,
}

/// Incremental SSE parser over raw bytes (WHATWG EventSource rules).
#[derive(Debug, Default)]
struct SseParser {
    /// Bytes of the current, not yet terminated line.
    buf: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// Whether the first line (where a BOM may sit) has been processed.
    started: bool,
}

impl SseParser {
    /// Feeds one network chunk; completed events are appended to `out`.
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LlmError> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(rel) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + rel;
            let next = if self.buf[end] == b'\r' {
                match self.buf.get(end + 1) {
                    Some(b'\n') => end + 2,
                    Some(_) => end + 1,
                    // A CR at the end of the chunk may be half of a CRLF: wait.
                    None => break,
                }
            } else {
                end + 1
            };
            let line = std::str::from_utf8(&self.buf[start..end]).map_err(|_| {
                LlmError::Protocol("the event stream is not valid UTF-8".to_string())
            })?;
            Self::process_line(
                &mut self.started,
                &mut self.data,
                &mut self.has_data,
                &mut self.event,
                line,
                out,
            );
            start = next;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(LlmError::Protocol(format!(
                "an event stream line exceeded {MAX_LINE_BYTES} bytes"
            )));
        }
        Ok(())
    }

    /// At end of input: returns the last event if it lacked its terminating blank line.
    fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let bytes = std::mem::take(&mut self.buf);
            let trimmed = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
            if let Ok(line) = std::str::from_utf8(trimmed) {
                Self::process_line(
                    &mut self.started,
                    &mut self.data,
                    &mut self.has_data,
                    &mut self.event,
                    line,
                    &mut out,
                );
            }
        }
        // A blank line would dispatch whatever is pending.
        Self::process_line(
            &mut self.started,
            &mut self.data,
            &mut self.has_data,
            &mut self.event,
            "",
            &mut out,
        );
        out.pop()
    }

    fn process_line(
        started: &mut bool,
        data: &mut String,
        has_data: &mut bool,
        event: &mut Option<String>,
        mut line: &str,
        out: &mut Vec<SseEvent>,
    ) {
        if !*started {
            *started = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            if *has_data {
                out.push(SseEvent {
                    event: event.take(),
                    data: std::mem::take(data),
                });
                *has_data = false;
            } else {
                *event = None;
            }
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if *has_data {
                    data.push('\n');
                }
                data.push_str(value);
                *has_data = true;
            }
            "event" => *event = Some(value.to_string()),
            _ => {} // id, retry, unknown fields
        }
    }
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Delta {
        content: Option<String>,
        tools: Vec<ToolPiece>,
        /// `finish_reason`, once the choice is over.
        finish: Option<String>,
    },
    Nothing,
    Done,
}

/// A piece of a streamed tool call: the id and name come first, the arguments
/// in pieces after.
#[derive(Debug, PartialEq)]
struct ToolPiece {
    index: u64,
    id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

/// A message as OpenAI's chat API takes it.
fn wire_message(m: &ChatMessage) -> serde_json::Value {
    let mut v = serde_json::json!({ "role": m.role, "content": m.content });
    if !m.tool_calls.is_empty() {
        if m.content.is_empty() {
            v["content"] = serde_json::Value::Null;
        }
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments },
                })
            })
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = serde_json::json!(id);
    }
    v
}

/// Turns one SSE event into a content delta, `[DONE]`, nothing, or an error.
fn interpret_event(event: &SseEvent) -> Result<Parsed, LlmError> {
    let data = event.data.trim();
    if data == "[DONE]" {
        return Ok(Parsed::Done);
    }
    if data.is_empty() {
        return Ok(Parsed::Nothing);
    }
    let value: serde_json::Value = serde_json::from_str(data).map_err(|e| {
        LlmError::Protocol(format!(
            "invalid JSON in event ({e}): {}",
            truncate_chars(data, 120)
        ))
    })?;
    let Some(object) = value.as_object() else {
        return Err(LlmError::Protocol(format!(
            "expected a JSON object in event: {}",
            truncate_chars(data, 120)
        )));
    };
    let is_error_event = event.event.as_deref() == Some("error");
    match object.get("error") {
        Some(err) if !err.is_null() => return Err(provider_error(err)),
        _ if is_error_event => return Err(provider_error(&value)),
        _ => {}
    }
    let choice = object.get("choices").and_then(|c| c.get(0));
    let delta = choice.and_then(|c| c.get("delta"));
    let content = delta
        .and_then(|d| d.get("content"))
        .and_then(|c| c.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let tools: Vec<ToolPiece> = delta
        .and_then(|d| d.get("tool_calls"))
        .and_then(|t| t.as_array())
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let f = c.get("function");
                    let text = |v: Option<&serde_json::Value>| {
                        v.and_then(|x| x.as_str()).map(str::to_string)
                    };
                    ToolPiece {
                        index: c.get("index").and_then(|i| i.as_u64()).unwrap_or(0),
                        id: text(c.get("id")),
                        name: text(f.and_then(|f| f.get("name"))),
                        arguments: text(f.and_then(|f| f.get("arguments"))),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(|f| f.as_str())
        .map(str::to_string);
    if content.is_none() && tools.is_empty() && finish.is_none() {
        return Ok(Parsed::Nothing);
    }
    Ok(Parsed::Delta {
        content,
        tools,
        finish,
    })
}

fn provider_error(err: &serde_json::Value) -> LlmError {
    let message = err
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .or_else(|| err.as_str().map(str::to_string))
        .unwrap_or_else(|| err.to_string());
    LlmError::Other(format!(
        "the language model reported an error: {}",
        truncate_chars(&message, MAX_ERROR_BODY_CHARS)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).expect("feed");
        }
        out
    }

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.to_string(),
        }
    }

    #[test]
    fn sse_splits_events_on_blank_lines() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[b"data: a\n\ndata: b\n\n"]);
        assert_eq!(evs, vec![data("a"), data("b")]);
    }

    #[test]
    fn sse_handles_crlf_split_across_chunks() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(evs, vec![data("a"), data("b")]);
    }

    #[test]
    fn sse_handles_lone_cr() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[b"data: a\r\rdata: b\r\r"]);
        // the second event's final CR is pending until more data or finish
        assert_eq!(evs, vec![data("a")]);
        assert_eq!(p.finish(), Some(data("b")));
    }

    #[test]
    fn sse_ignores_comments_event_and_id_fields() {
        let mut p = SseParser::default();
        let evs = feed_all(
            &mut p,
            &[b": keep-alive\n\nid: 7\nevent: message\nretry: 10\ndata: x\n\n"],
        );
        assert_eq!(
            evs,
            vec![SseEvent {
                event: Some("message".into()),
                data: "x".into()
            }]
        );
    }

    #[test]
    fn sse_joins_multiple_data_lines() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[b"data: {\"a\":\ndata: 1}\n\n"]);
        assert_eq!(evs, vec![data("{\"a\":\n1}")]);
    }

    #[test]
    fn sse_decodes_multibyte_char_split_across_chunks() {
        let text = "data: مرحبا\n\n".as_bytes();
        // split inside the first Arabic letter (2 bytes)
        let (a, b) = text.split_at(7);
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[a, b]);
        assert_eq!(evs, vec![data("مرحبا")]);
        // and byte by byte
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for byte in text {
            p.feed(std::slice::from_ref(byte), &mut out).expect("feed");
        }
        assert_eq!(out, vec![data("مرحبا")]);
    }

    #[test]
    fn sse_strips_bom_and_no_space_after_colon() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &["\u{feff}data:x\n\n".as_bytes()]);
        assert_eq!(evs, vec![data("x")]);
    }

    #[test]
    fn sse_finish_returns_unterminated_event() {
        let mut p = SseParser::default();
        let evs = feed_all(&mut p, &[b"data: a\n\ndata: b"]);
        assert_eq!(evs, vec![data("a")]);
        assert_eq!(p.finish(), Some(data("b")));
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn sse_rejects_invalid_utf8() {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        let err = p.feed(b"data: \xff\xfe\n\n", &mut out).unwrap_err();
        assert!(matches!(err, LlmError::Protocol(_)));
    }

    #[test]
    fn interpret_content_done_and_skips() {
        let ev = data(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#);
        assert_eq!(
            interpret_event(&ev).unwrap(),
            Parsed::Delta {
                content: Some("Hi".into()),
                tools: Vec::new(),
                finish: None
            }
        );
        let role = data(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#);
        assert_eq!(interpret_event(&role).unwrap(), Parsed::Nothing);
        let null = data(r#"{"choices":[{"delta":{"content":null},"finish_reason":"stop"}]}"#);
        assert_eq!(
            interpret_event(&null).unwrap(),
            Parsed::Delta {
                content: None,
                tools: Vec::new(),
                finish: Some("stop".into())
            }
        );
        let empty = data(r#"{"choices":[{"delta":{"content":""}}]}"#);
        assert_eq!(interpret_event(&empty).unwrap(), Parsed::Nothing);
        let usage = data(r#"{"choices":[],"usage":{"total_tokens":3}}"#);
        assert_eq!(interpret_event(&usage).unwrap(), Parsed::Nothing);
        assert_eq!(interpret_event(&data("[DONE]")).unwrap(), Parsed::Done);
    }

    #[test]
    fn interpret_errors() {
        let err = interpret_event(&data(r#"{"error":{"message":"overloaded"}}"#)).unwrap_err();
        assert!(err.to_string().contains("overloaded"), "{err}");
        let err = interpret_event(&SseEvent {
            event: Some("error".into()),
            data: r#"{"message":"boom"}"#.into(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        let err = interpret_event(&data("{not json")).unwrap_err();
        assert!(matches!(err, LlmError::Protocol(_)));
        let err = interpret_event(&data("42")).unwrap_err();
        assert!(matches!(err, LlmError::Protocol(_)));
    }

    #[test]
    fn config_debug_redacts_key() {
        let cfg = OpenAiConfig {
            api_key: Some("sk-secret-123".into()),
            base_url: "http://user:pw@host:1/v1?key=abc".into(),
            ..OpenAiConfig::default()
        };
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("sk-secret-123"), "{dbg}");
        assert!(!dbg.contains("pw"), "{dbg}");
        assert!(!dbg.contains("abc"), "{dbg}");
        let client = OpenAiCompatible::new(cfg);
        let dbg = format!("{client:?}");
        assert!(!dbg.contains("sk-secret-123"), "{dbg}");
    }

    #[test]
    fn completions_url_and_truncation() {
        let cfg = OpenAiConfig {
            base_url: "http://h/v1/".into(),
            ..Default::default()
        };
        assert_eq!(cfg.completions_url(), "http://h/v1/chat/completions");
        assert_eq!(truncate_chars("abcdef", 3), "abc…");
        assert_eq!(truncate_chars("مرحبا", 2), "مر…");
        assert_eq!(truncate_chars("ab", 3), "ab");
    }
}
