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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f32,
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
    fn summary_timeout(&self) -> std::time::Duration {
        self.current().summary_timeout()
    }
    fn prefill(&self, request: ChatRequest) {
        // A local fallback warms up only while the first is down.
        self.current().prefill(request)
    }
}
