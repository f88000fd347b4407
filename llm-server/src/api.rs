//! The OpenAI Chat Completions API over the worker: `POST /v1/chat/completions`
//! (streaming SSE or one JSON body), `GET /v1/models`, `GET /health`, and
//! `GET /debug/stats` (counters, no text).
//!
//! Requests are queued for the one worker. A client that goes away (its stream is
//! dropped) closes its event channel, which the worker sees before its next token.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::worker::{self, Event, Finish, Job, JobError, ModelInfo, Params, SharedStats, Summary};

pub struct AppState {
    pub model_id: String,
    pub info: ModelInfo,
    pub jobs: mpsc::Sender<Job>,
    pub stats: SharedStats,
    pub next_id: AtomicU64,
    /// Requests waiting for (or in) the worker, beyond which new ones are refused.
    pub max_queue: u32,
    pub defaults: Defaults,
}

/// Sampling settings for requests that do not choose their own.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub repeat_penalty: f32,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/debug/stats", get(stats))
        .fallback(not_found)
        .with_state(state)
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An OpenAI-style error: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
    message: String,
}

impl ApiError {
    fn invalid(param: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: None,
            param,
            message: message.into(),
        }
    }

    fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Invalid { code, message } => Self {
                code: Some(code),
                ..Self::invalid(Some("messages"), message)
            },
            JobError::Internal(message) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "server_error",
                code: None,
                param: None,
                message,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "invalid_request_error",
        code: Some("unknown_url"),
        param: None,
        message:
            "unknown URL; this server has POST /v1/chat/completions, GET /v1/models, GET /health"
                .into(),
    }
}

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ChatCompletionRequest {
    #[allow(dead_code)]
    model: Option<String>,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<u64>,
    stop: Option<Stop>,
    n: Option<u32>,
    /// llama.cpp's extension: false decodes the whole prompt (a cold run).
    cache_prompt: Option<bool>,
    /// llama.cpp's extension: generate until `max_tokens` whatever the model says.
    ignore_eos: Option<bool>,
    logprobs: Option<bool>,
    top_logprobs: Option<u8>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    /// llama.cpp's extension; default: the server's `--repeat-penalty`.
    repeat_penalty: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug)]
struct Checked {
    messages: Vec<(String, String)>,
    params: Params,
    stream: bool,
    include_usage: bool,
}

fn check(body: &[u8], defaults: &Defaults) -> Result<Checked, ApiError> {
    let req: ChatCompletionRequest = serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "the body is not valid JSON"
        } else {
            "the body is not a valid chat completion request"
        };
        ApiError::invalid(None, format!("{what}: {e}"))
    })?;
    if req.messages.is_empty() {
        return Err(ApiError::invalid(
            Some("messages"),
            "messages must not be empty",
        ));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in req.messages {
        let role = match m.role.as_str() {
            "system" | "developer" => "system",
            "user" => "user",
            "assistant" => "assistant",
            other => {
                return Err(ApiError::invalid(
                    Some("messages"),
                    format!("unsupported role {other:?} (system, developer, user, assistant)"),
                ))
            }
        };
        let content = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for p in parts {
                    if p.kind != "text" {
                        return Err(ApiError::invalid(
                            Some("messages"),
                            format!("unsupported content part {:?}; only text", p.kind),
                        ));
                    }
                    text.push_str(p.text.as_deref().unwrap_or(""));
                }
                text
            }
        };
        messages.push((role.to_string(), content));
    }
    if req.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(Some("n"), "only n = 1 is supported"));
    }
    let max_tokens = req.max_completion_tokens.or(req.max_tokens);
    if max_tokens == Some(0) {
        return Err(ApiError::invalid(
            Some("max_tokens"),
            "max_tokens must be at least 1",
        ));
    }
    let temperature = req.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid(
            Some("temperature"),
            "temperature must be between 0 and 2",
        ));
    }
    let top_p = req.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ApiError::invalid(Some("top_p"), "top_p must be in (0, 1]"));
    }
    let stop = match req.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if stop.len() > 16 {
        return Err(ApiError::invalid(Some("stop"), "at most 16 stop sequences"));
    }
    if req.top_logprobs.is_some_and(|n| n > 20) {
        return Err(ApiError::invalid(
            Some("top_logprobs"),
            "top_logprobs must be 0 to 20",
        ));
    }
    if req.top_logprobs.is_some() && req.logprobs != Some(true) {
        return Err(ApiError::invalid(
            Some("top_logprobs"),
            "top_logprobs needs logprobs: true",
        ));
    }
    for (name, v) in [
        ("frequency_penalty", req.frequency_penalty),
        ("presence_penalty", req.presence_penalty),
    ] {
        if v.is_some_and(|v| !(-2.0..=2.0).contains(&v)) {
            return Err(ApiError::invalid(
                Some(name),
                format!("{name} must be between -2 and 2"),
            ));
        }
    }
    let repeat_penalty = req.repeat_penalty.unwrap_or(defaults.repeat_penalty);
    if !(repeat_penalty > 0.0 && repeat_penalty <= 10.0) {
        return Err(ApiError::invalid(
            Some("repeat_penalty"),
            "repeat_penalty must be in (0, 10]",
        ));
    }
    let logprobs = (req.logprobs == Some(true)).then(|| usize::from(req.top_logprobs.unwrap_or(0)));
    let seed = req.seed.map_or_else(
        || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        },
        |s| s as u32,
    );
    Ok(Checked {
        messages,
        params: Params {
            max_tokens,
            temperature,
            top_p,
            seed,
            stop,
            cache_prompt: req.cache_prompt.unwrap_or(true),
            ignore_eos: req.ignore_eos.unwrap_or(false),
            logprobs,
            repeat_penalty,
            frequency_penalty: req.frequency_penalty.unwrap_or(0.0),
            presence_penalty: req.presence_penalty.unwrap_or(0.0),
        },
        stream: req.stream,
        include_usage: req.stream_options.is_some_and(|o| o.include_usage),
    })
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

async fn health(State(app): State<Arc<AppState>>) -> Response {
    if app.jobs.is_closed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "error", "reason": "the model worker stopped"})),
        )
            .into_response();
    }
    Json(json!({"status": "ok", "model": app.model_id})).into_response()
}

async fn models(State(app): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": app.model_id,
            "object": "model",
            "created": 0,
            "owned_by": "switchboard",
            "meta": app.info,
        }],
    }))
}

async fn stats(State(app): State<Arc<AppState>>) -> Json<Value> {
    let s = worker::lock(&app.stats).clone();
    Json(json!(s))
}

async fn chat_completions(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    match start(&app, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn start(app: &Arc<AppState>, body: &[u8]) -> Result<Response, ApiError> {
    let checked = check(body, &app.defaults)?;
    let want_logprobs = checked.params.logprobs.is_some();
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel(64);
    {
        let mut s = worker::lock(&app.stats);
        if s.queued >= app.max_queue {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                kind: "server_error",
                code: Some("queue_full"),
                param: None,
                message: format!("{} requests are already waiting", s.queued),
            });
        }
        s.queued += 1;
    }
    let job = Job {
        id,
        messages: checked.messages,
        params: checked.params,
        events: tx,
        queued_at: Instant::now(),
    };
    if app.jobs.send(job).await.is_err() {
        let mut s = worker::lock(&app.stats);
        s.queued = s.queued.saturating_sub(1);
        return Err(JobError::Internal("the model worker stopped".into()).into());
    }
    // Wait for the worker to take the request: a prompt that does not fit is a 400,
    // not an error in the middle of a 200 stream.
    match rx.recv().await {
        Some(Event::Started) => {}
        Some(Event::Failed(e)) => return Err(e.into()),
        Some(_) | None => {
            return Err(JobError::Internal("the model worker stopped mid-request".into()).into())
        }
    }
    let reply = Reply {
        id: format!("chatcmpl-{id}"),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: app.model_id.clone(),
    };
    if checked.stream {
        Ok(stream_response(reply, rx, checked.include_usage))
    } else {
        whole_response(reply, rx, want_logprobs).await
    }
}

struct Reply {
    id: String,
    created: u64,
    model: String,
}

impl Reply {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }
}

fn usage(s: &Summary) -> Value {
    json!({
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": s.cached_tokens},
    })
}

/// llama.cpp server's `timings` object, for benchmarks.
fn timings(s: &Summary) -> Value {
    let decoded = s.prompt_tokens - s.cached_tokens;
    json!({
        "prompt_n": decoded,
        "prompt_cached": s.cached_tokens,
        "prompt_ms": s.prompt_ms,
        "predicted_n": s.completion_tokens,
        "predicted_ms": s.generation_ms,
        "first_token_ms": s.first_token_ms,
        "queue_ms": s.queue_ms,
    })
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Length => "length",
        Finish::Stop | Finish::Cancelled => "stop",
    }
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn stream_response(reply: Reply, rx: mpsc::Receiver<Event>, include_usage: bool) -> Response {
    let first = sse(&reply.chunk(json!({"role": "assistant", "content": ""}), None));
    struct St {
        reply: Reply,
        rx: mpsc::Receiver<Event>,
        include_usage: bool,
        pending: Vec<Bytes>,
        done: bool,
    }
    let st = St {
        reply,
        rx,
        include_usage,
        pending: vec![first],
        done: false,
    };
    // Dropping this stream (the client went away) drops `rx`: the worker stops.
    let body = futures::stream::unfold(st, |mut st| async move {
        loop {
            if !st.pending.is_empty() {
                let b = st.pending.remove(0);
                return Some((Ok::<Bytes, Infallible>(b), st));
            }
            if st.done {
                return None;
            }
            match st.rx.recv().await {
                Some(Event::Text { text, logprobs }) => {
                    let mut chunk = st.reply.chunk(json!({"content": text}), None);
                    if !logprobs.is_empty() {
                        chunk["choices"][0]["logprobs"] = json!({"content": logprobs});
                    }
                    st.pending.push(sse(&chunk));
                }
                Some(Event::Done(s)) => {
                    let mut last = st.reply.chunk(json!({}), Some(finish_reason(s.finish)));
                    last["timings"] = timings(&s);
                    st.pending.push(sse(&last));
                    if st.include_usage {
                        let mut u = st.reply.chunk(json!({}), None);
                        u["choices"] = json!([]);
                        u["usage"] = usage(&s);
                        st.pending.push(sse(&u));
                    }
                    st.pending.push(Bytes::from_static(b"data: [DONE]\n\n"));
                    st.done = true;
                }
                Some(Event::Failed(e)) => {
                    st.pending.push(sse(&ApiError::from(e).body()));
                    st.done = true;
                }
                Some(Event::Started) => {}
                None => {
                    let e = JobError::Internal("the model worker stopped mid-reply".into());
                    st.pending.push(sse(&ApiError::from(e).body()));
                    st.done = true;
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn whole_response(
    reply: Reply,
    mut rx: mpsc::Receiver<Event>,
    want_logprobs: bool,
) -> Result<Response, ApiError> {
    let mut text = String::new();
    let mut logprobs = Vec::new();
    loop {
        match rx.recv().await {
            Some(Event::Text {
                text: t,
                logprobs: l,
            }) => {
                text.push_str(&t);
                logprobs.extend(l);
            }
            Some(Event::Done(s)) => {
                let body = json!({
                    "id": reply.id,
                    "object": "chat.completion",
                    "created": reply.created,
                    "model": reply.model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": if want_logprobs { json!({"content": logprobs}) } else { Value::Null },
                        "finish_reason": finish_reason(s.finish),
                    }],
                    "usage": usage(&s),
                    "timings": timings(&s),
                });
                return Ok(Json(body).into_response());
            }
            Some(Event::Failed(e)) => return Err(e.into()),
            Some(Event::Started) => {}
            None => {
                return Err(JobError::Internal("the model worker stopped mid-reply".into()).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Defaults = Defaults {
        repeat_penalty: 1.1,
    };

    fn check(body: &[u8]) -> Result<Checked, ApiError> {
        super::check(body, &D)
    }

    #[test]
    fn malformed_bodies_are_invalid_requests() {
        for body in [
            &b"{not json"[..],
            b"",
            b"{\"messages\": 3}",
            b"{\"messages\": []}",
        ] {
            let e = check(body).expect_err("must be refused");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.body()["error"]["type"], "invalid_request_error");
        }
        let e = check(br#"{"messages":[{"role":"tool","content":"x"}]}"#).expect_err("role");
        assert!(e.message.contains("tool"));
        let e = check(br#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#)
            .expect_err("temperature");
        assert_eq!(e.param, Some("temperature"));
    }

    #[test]
    fn accepts_openai_shapes() {
        let c = check(
            br#"{"model":"m","messages":[{"role":"system","content":"s"},
                {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
                "stream":true,"stop":"\n","max_tokens":5,"temperature":0,
                "stream_options":{"include_usage":true},"unknown_field":1}"#,
        )
        .expect("valid");
        assert_eq!(c.messages[1], ("user".to_string(), "ab".to_string()));
        assert_eq!(c.params.stop, vec!["\n"]);
        assert_eq!(c.params.max_tokens, Some(5));
        assert!(c.stream && c.include_usage && c.params.cache_prompt);
    }
}
