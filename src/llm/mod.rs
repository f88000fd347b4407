//! Language models: one trait, one real client (OpenAI-compatible, streaming SSE),
//! the local model (our llama.cpp server process, spoken to through that client)
//! and a fake for tests.
//!
//! A reply is a stream of text deltas. Dropping the stream cancels the request
//! (the HTTP connection is closed), which is how barge-in cancels work in flight.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool the assistant called.
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Tools the assistant called (an assistant message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers (a tool message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool the model may call: a name, what it does, and its arguments as a
/// JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// A call the model made: its id, the tool, and the arguments (a JSON text,
/// as the model wrote it — parse it, never trust it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What a model sends while answering with tools offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    /// A whole tool call (sent once its arguments are complete).
    ToolCall(ToolCall),
}

/// Text and tool calls of one reply, in order.
pub type AgentStream = Pin<Box<dyn Stream<Item = Result<Delta, LlmError>> + Send>>;

impl ChatMessage {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    /// The assistant calling tools (what it said first, if anything).
    pub fn tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }
    /// A tool's result for call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Tools the model may call (only models that support tools are offered
    /// them; see `llm.tools`).
    pub tools: Vec<Tool>,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("could not reach the language model at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the language model returned HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the language model sent no first token within {ms} ms")]
    FirstTokenTimeout { ms: u64 },
    #[error("the language model stalled for {ms} ms mid-reply")]
    StallTimeout { ms: u64 },
    #[error("the language model sent a malformed stream: {0}")]
    Protocol(String),
    /// No model to ask (a local model not installed, its server not built or not
    /// starting); the message says what to do.
    #[error("{0}")]
    Unavailable(String),
    #[error("the language model failed: {0}")]
    Other(String),
}

impl LlmError {
    /// Short stable code for events and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Connect { .. } => "llm_connect",
            LlmError::Status { .. } => "llm_status",
            LlmError::FirstTokenTimeout { .. } => "llm_first_token_timeout",
            LlmError::StallTimeout { .. } => "llm_stall_timeout",
            LlmError::Protocol(_) => "llm_protocol",
            LlmError::Unavailable(_) => "llm_unavailable",
            LlmError::Other(_) => "llm_error",
        }
    }
}

/// Text deltas of one reply, in order. Ends after the last delta.
pub type TokenStream = Pin<Box<dyn Stream<Item = Result<String, LlmError>> + Send>>;

pub trait LanguageModel: Send + Sync {
    /// Provider name for events and metrics, e.g. "openai-compatible" or "fake".
    fn name(&self) -> &str;
    /// Why this model should not be asked right now (a server known to be
    /// down); a reply then goes straight to the next model of the chain.
    fn skip_reason(&self) -> Option<String> {
        None
    }
    /// The models that answer, in order, when this one fails before its first
    /// token (see [`LlmChain`]); then the personas' templates.
    fn fallbacks(&self) -> Vec<std::sync::Arc<dyn LanguageModel>> {
        Vec::new()
    }
    /// Starts a streaming completion. Must not block; work starts when polled.
    fn stream(&self, request: ChatRequest) -> TokenStream;
    /// Like [`stream`](Self::stream), with the tool calls the model makes.
    /// Models without tools answer in text only.
    fn stream_agent(&self, request: ChatRequest) -> AgentStream {
        use futures::StreamExt;
        Box::pin(self.stream(request).map(|item| item.map(Delta::Text)))
    }
    /// How long the end-of-call summary (a fresh ~500-token prompt, ~160 tokens
    /// out) may take before the extractive summary is used instead. A model on
    /// the call's own CPU needs longer than a hosted one.
    fn summary_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
    /// A hint that the next request will start with `request`'s prompt (the
    /// system prompt and the history so far): a local model decodes it now, while
    /// the customer is still speaking, so the next turn decodes only what is new.
    /// Returns at once. Hosted models ignore it (it would be billed).
    fn prefill(&self, _request: ChatRequest) {}
}

pub mod bench;
pub mod fake;
pub mod local;
pub mod openai;
pub use fake::{FakeFailure, FakeLanguageModel};
pub use local::{LocalLlm, LocalLlmOptions};
pub use openai::{OpenAiCompatible, OpenAiConfig};

/// A model with others behind it: a reply goes to the first that is not known
/// to be down, and to the next when one fails before its first token (the
/// reply's events say which failed and which answered). Other requests (the
/// end-of-call summary, prefix warming) go to the first that is not known to be
/// down.
pub struct LlmChain {
    first: std::sync::Arc<dyn LanguageModel>,
    rest: Vec<std::sync::Arc<dyn LanguageModel>>,
}

impl LlmChain {
    pub fn new(
        first: std::sync::Arc<dyn LanguageModel>,
        rest: Vec<std::sync::Arc<dyn LanguageModel>>,
    ) -> Self {
        Self { first, rest }
    }
}

impl LlmChain {
    /// The first model not known to be down (the first if all are).
    fn current(&self) -> &std::sync::Arc<dyn LanguageModel> {
        std::iter::once(&self.first)
            .chain(self.rest.iter())
            .find(|m| m.skip_reason().is_none())
            .unwrap_or(&self.first)
    }
}

impl LanguageModel for LlmChain {
    fn name(&self) -> &str {
        self.current().name()
    }
    fn skip_reason(&self) -> Option<String> {
        self.first.skip_reason()
    }
    fn fallbacks(&self) -> Vec<std::sync::Arc<dyn LanguageModel>> {
        self.rest.clone()
    }
    fn stream(&self, request: ChatRequest) -> TokenStream {
        self.current().stream(request)
    }
    fn stream_agent(&self, request: ChatRequest) -> AgentStream {
        self.current().stream_agent(request)
    }
    fn summary_timeout(&self) -> std::time::Duration {
        self.current().summary_timeout()
    }
    fn prefill(&self, request: ChatRequest) {
        // A local fallback warms up only while the first is down.
        self.current().prefill(request)
    }
}
