//! A scripted language model for tests and benchmarks.
//!
//! The reply is split into word-ish tokens (each word with the whitespace before it),
//! streamed with configurable latency and failure modes. With zero latency the
//! stream never touches the timer: every poll returns the next token immediately,
//! and the only allocation per token is the token `String` itself.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::Sleep;

use super::{ChatRequest, LanguageModel, LlmError, TokenStream};

/// How a [`FakeLanguageModel`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeFailure {
    /// Yields `LlmError::Other` (after the first-token latency) instead of any token.
    FailBeforeFirstToken,
    /// Yields `n` tokens, then `LlmError::Other`. If the reply has fewer tokens, the
    /// error comes after the last one.
    ErrorAfterTokens(usize),
    /// Yields `n` tokens, then never yields again (the caller's timeout must fire),
    /// unless [`FakeLanguageModel::with_stall_timeout`] is set, in which case it yields
    /// `LlmError::StallTimeout` after that long.
    StallAfterTokens(usize),
}

type ReplyFn = dyn Fn(&ChatRequest) -> String + Send + Sync;

#[derive(Clone)]
enum Reply {
    Text(Arc<str>),
    Func(Arc<ReplyFn>),
}

/// Scripted [`LanguageModel`]; cheap to clone (clones share call counters).
#[derive(Clone)]
pub struct FakeLanguageModel {
    reply: Reply,
    first_token_latency: Duration,
    token_latency: Duration,
    failure: Option<FakeFailure>,
    stall_timeout: Option<Duration>,
    calls: Arc<AtomicUsize>,
    last_request: Arc<Mutex<Option<ChatRequest>>>,
}

impl fmt::Debug for FakeLanguageModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reply: &dyn fmt::Debug = match &self.reply {
            Reply::Text(text) => text,
            Reply::Func(_) => &"<fn>",
        };
        f.debug_struct("FakeLanguageModel")
            .field("reply", reply)
            .field("first_token_latency", &self.first_token_latency)
            .field("token_latency", &self.token_latency)
            .field("failure", &self.failure)
            .field("stall_timeout", &self.stall_timeout)
            .finish()
    }
}

impl Default for FakeLanguageModel {
    fn default() -> Self {
        Self::new("Hello! How can I help you today?")
    }
}

impl FakeLanguageModel {
    /// Always replies with `reply`, with zero latency and no failure.
    pub fn new(reply: impl Into<String>) -> Self {
        Self::from_reply(Reply::Text(Arc::from(reply.into())))
    }

    /// Replies with whatever `f` returns for the request.
    pub fn replying_with<F>(f: F) -> Self
    where
        F: Fn(&ChatRequest) -> String + Send + Sync + 'static,
    {
        Self::from_reply(Reply::Func(Arc::new(f)))
    }

    fn from_reply(reply: Reply) -> Self {
        Self {
            reply,
            first_token_latency: Duration::ZERO,
            token_latency: Duration::ZERO,
            failure: None,
            stall_timeout: None,
            calls: Arc::new(AtomicUsize::new(0)),
            last_request: Arc::new(Mutex::new(None)),
        }
    }

    /// Delay before the first token.
    pub fn with_first_token_latency(mut self, latency: Duration) -> Self {
        self.first_token_latency = latency;
        self
    }

    /// Delay before every token after the first.
    pub fn with_token_latency(mut self, latency: Duration) -> Self {
        self.token_latency = latency;
        self
    }

    pub fn with_failure(mut self, failure: FakeFailure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// With [`FakeFailure::StallAfterTokens`]: yield `LlmError::StallTimeout` after
    /// stalling this long instead of stalling forever.
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = Some(timeout);
        self
    }

    /// How many times [`LanguageModel::stream`] was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The most recent request passed to [`LanguageModel::stream`].
    pub fn last_request(&self) -> Option<ChatRequest> {
        self.last_request
            .lock()
            .map(|guard| guard.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The tokens a reply is streamed as: each word with the whitespace before it.
    /// Concatenated they give back `text` exactly.
    pub fn tokens(text: &str) -> impl Iterator<Item = &str> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let end = next_token_end(text, pos)?;
            let token = &text[pos..end];
            pos = end;
            Some(token)
        })
    }
}

/// End (byte index) of the token starting at `pos`, or `None` at the end of `text`.
fn next_token_end(text: &str, pos: usize) -> Option<usize> {
    let rest = text.get(pos..).filter(|r| !r.is_empty())?;
    let mut seen_word = false;
    for (i, c) in rest.char_indices() {
        if c.is_whitespace() {
            if seen_word {
                return Some(pos + i);
            }
        } else {
            seen_word = true;
        }
    }
    Some(text.len())
}

impl LanguageModel for FakeLanguageModel {
    fn name(&self) -> &str {
        "fake"
    }

    fn stream(&self, request: ChatRequest) -> TokenStream {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let text = match &self.reply {
            Reply::Text(text) => ReplyText::Shared(Arc::clone(text)),
            Reply::Func(f) => ReplyText::Owned(f(&request)),
        };
        match self.last_request.lock() {
            Ok(mut guard) => *guard = Some(request),
            Err(poisoned) => *poisoned.into_inner() = Some(request),
        }
        Box::pin(FakeStream {
            text,
            pos: 0,
            emitted: 0,
            first_token_latency: self.first_token_latency,
            token_latency: self.token_latency,
            failure: self.failure,
            stall_timeout: self.stall_timeout,
            sleep: None,
            sleeping: false,
            state: State::Running,
        })
    }
}

enum ReplyText {
    Shared(Arc<str>),
    Owned(String),
}

impl ReplyText {
    fn as_str(&self) -> &str {
        match self {
            ReplyText::Shared(s) => s,
            ReplyText::Owned(s) => s,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Stalled,
    Done,
}

struct FakeStream {
    text: ReplyText,
    pos: usize,
    emitted: usize,
    first_token_latency: Duration,
    token_latency: Duration,
    failure: Option<FakeFailure>,
    stall_timeout: Option<Duration>,
    /// Only allocated when a non-zero latency or stall timeout is configured.
    sleep: Option<Pin<Box<Sleep>>>,
    /// The latency sleep before the next token is armed.
    sleeping: bool,
    state: State,
}

impl FakeStream {
    fn start_sleep(&mut self, duration: Duration) {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(tokio::time::Instant::now() + duration),
            None => self.sleep = Some(Box::pin(tokio::time::sleep(duration))),
        }
    }

    fn poll_sleep(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Stream for FakeStream {
    type Item = Result<String, LlmError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // FakeStream is Unpin (the Sleep is boxed).
        let this = self.get_mut();
        loop {
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Stalled => {
                    let Some(timeout) = this.stall_timeout else {
                        // Stalled for good: never woken, never ready.
                        return Poll::Pending;
                    };
                    if this.poll_sleep(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = State::Done;
                    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                    return Poll::Ready(Some(Err(LlmError::StallTimeout { ms })));
                }
                State::Running => {}
            }

            if !this.sleeping {
                let latency = if this.emitted == 0 {
                    this.first_token_latency
                } else {
                    this.token_latency
                };
                if !latency.is_zero() {
                    this.start_sleep(latency);
                    this.sleeping = true;
                }
            }
            if this.sleeping {
                if this.poll_sleep(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleeping = false;
            }

            let next_end = next_token_end(this.text.as_str(), this.pos);
            match this.failure {
                Some(FakeFailure::FailBeforeFirstToken) if this.emitted == 0 => {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(LlmError::Other(
                        "fake language model failed before the first token".to_string(),
                    ))));
                }
                Some(FakeFailure::ErrorAfterTokens(n))
                    if this.emitted >= n || next_end.is_none() =>
                {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(LlmError::Other(format!(
                        "fake language model failed after {} tokens",
                        this.emitted
                    )))));
                }
                Some(FakeFailure::StallAfterTokens(n))
                    if this.emitted >= n || next_end.is_none() =>
                {
                    this.state = State::Stalled;
                    if let Some(timeout) = this.stall_timeout {
                        this.start_sleep(timeout);
                    }
                    continue;
                }
                _ => {}
            }

            let Some(end) = next_end else {
                this.state = State::Done;
                return Poll::Ready(None);
            };
            let token = this.text.as_str()[this.pos..end].to_string();
            this.pos = end;
            this.emitted += 1;
            return Poll::Ready(Some(Ok(token)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;
    use futures::StreamExt;
    use std::time::Instant;

    fn req(text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage::user(text)],
            max_tokens: 64,
            temperature: 0.2,
            tools: Vec::new(),
        }
    }

    async fn collect(stream: TokenStream) -> (Vec<String>, Option<LlmError>) {
        let mut tokens = Vec::new();
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            match item {
                Ok(t) => tokens.push(t),
                Err(e) => return (tokens, Some(e)),
            }
        }
        (tokens, None)
    }

    #[test]
    fn tokens_keep_spaces_and_concatenate_exactly() {
        let text = "  Hello, world!  مرحبا بك \nok ";
        let toks: Vec<&str> = FakeLanguageModel::tokens(text).collect();
        assert_eq!(toks.concat(), text);
        assert_eq!(
            toks,
            vec!["  Hello,", " world!", "  مرحبا", " بك", " \nok", " "]
        );
        assert_eq!(FakeLanguageModel::tokens("").count(), 0);
    }

    #[tokio::test]
    async fn streams_reply_and_records_request() {
        let llm = FakeLanguageModel::new("Hi there friend.");
        let (tokens, err) = collect(llm.stream(req("hello"))).await;
        assert!(err.is_none());
        assert_eq!(tokens, vec!["Hi", " there", " friend."]);
        assert_eq!(llm.calls(), 1);
        assert_eq!(llm.last_request(), Some(req("hello")));
        assert_eq!(llm.name(), "fake");
    }

    #[tokio::test]
    async fn closure_reply_sees_request() {
        let llm = FakeLanguageModel::replying_with(|r| {
            format!(
                "echo {}",
                r.messages.last().map(|m| m.content.as_str()).unwrap_or("")
            )
        });
        let (tokens, _) = collect(llm.stream(req("أهلا"))).await;
        assert_eq!(tokens.concat(), "echo أهلا");
    }

    #[test]
    fn zero_latency_is_immediately_ready() {
        // Polled without a runtime: would panic if a timer were created.
        let llm = FakeLanguageModel::new("one two three");
        let mut stream = llm.stream(req("x"));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut out = String::new();
        loop {
            match stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(t))) => out.push_str(&t),
                Poll::Ready(None) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(out, "one two three");
    }

    #[tokio::test]
    async fn latencies_are_applied() {
        let llm = FakeLanguageModel::new("a b c")
            .with_first_token_latency(Duration::from_millis(120))
            .with_token_latency(Duration::from_millis(40));
        let start = Instant::now();
        let mut stream = llm.stream(req("x"));
        let first = stream.next().await;
        assert!(matches!(first, Some(Ok(ref t)) if t == "a"));
        let t1 = start.elapsed();
        assert!(t1 >= Duration::from_millis(120), "{t1:?}");
        let (rest, err) = collect(stream).await;
        assert!(err.is_none());
        assert_eq!(rest, vec![" b", " c"]);
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn fail_before_first_token() {
        let llm = FakeLanguageModel::new("a b").with_failure(FakeFailure::FailBeforeFirstToken);
        let (tokens, err) = collect(llm.stream(req("x"))).await;
        assert!(tokens.is_empty());
        assert!(matches!(err, Some(LlmError::Other(_))));
    }

    #[tokio::test]
    async fn error_after_tokens() {
        let llm = FakeLanguageModel::new("a b c d").with_failure(FakeFailure::ErrorAfterTokens(2));
        let (tokens, err) = collect(llm.stream(req("x"))).await;
        assert_eq!(tokens, vec!["a", " b"]);
        assert!(matches!(err, Some(LlmError::Other(_))));
        // more than available: error after the last token
        let llm = FakeLanguageModel::new("a b").with_failure(FakeFailure::ErrorAfterTokens(9));
        let (tokens, err) = collect(llm.stream(req("x"))).await;
        assert_eq!(tokens, vec!["a", " b"]);
        assert!(err.is_some());
    }

    #[tokio::test]
    async fn stall_forever_is_caught_by_caller_timeout() {
        let llm = FakeLanguageModel::new("a b c").with_failure(FakeFailure::StallAfterTokens(1));
        let mut stream = llm.stream(req("x"));
        assert!(matches!(stream.next().await, Some(Ok(ref t)) if t == "a"));
        let waited = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(waited.is_err(), "stream should stall");
    }

    #[tokio::test]
    async fn stall_with_own_timeout() {
        let llm = FakeLanguageModel::new("a b c")
            .with_failure(FakeFailure::StallAfterTokens(2))
            .with_stall_timeout(Duration::from_millis(30));
        let start = Instant::now();
        let (tokens, err) = collect(llm.stream(req("x"))).await;
        assert_eq!(tokens, vec!["a", " b"]);
        assert!(matches!(err, Some(LlmError::StallTimeout { ms: 30 })));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
