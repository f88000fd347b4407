//! The model and its one context, on a thread of their own. Requests are decoded one
//! at a time in arrival order (the queue is the channel): on two cores, two
//! interleaved generations would each run at half speed and both reply late.
//!
//! Prefix cache: the tokens whose keys/values are in the context's KV cache are
//! remembered. A new prompt that starts with the same tokens (the persona's system
//! prompt and the call so far) only decodes what follows the common prefix.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::text::TextAssembler;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub model: PathBuf,
    pub ctx_size: u32,
    pub batch_size: u32,
    /// Threads for generation (one token per decode).
    pub threads: i32,
    /// Threads for prompt decoding (many tokens per decode).
    pub batch_threads: i32,
    /// A llama.cpp template name ("chatml", "llama3", …) instead of the model's own.
    pub chat_template: Option<String>,
    /// None: llama.cpp decides.
    pub flash_attn: Option<bool>,
}

/// What the server knows about the loaded model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub ctx_size: u32,
    pub n_params: u64,
    pub size_bytes: u64,
    /// "model" (the GGUF's own), "fallback chatml" or the name given.
    pub chat_template: String,
}

#[derive(Debug, Clone)]
pub struct Params {
    /// None: until the context is full.
    pub max_tokens: Option<u32>,
    /// 0: greedy.
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub stop: Vec<String>,
    /// Reuse the KV cache of the previous prompt (default); false forces a cold run.
    pub cache_prompt: bool,
    /// Keep generating past end-of-generation tokens (tests, benchmarks).
    pub ignore_eos: bool,
    /// Report each generated token's log probability and this many alternatives.
    pub logprobs: Option<usize>,
    /// llama.cpp's repetition penalty over the last [`PENALTY_WINDOW`] generated
    /// tokens (1: off), and OpenAI's frequency and presence penalties (0: off).
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
}

/// Generated tokens the penalties look back on.
pub const PENALTY_WINDOW: i32 = 64;

pub struct Job {
    pub id: u64,
    /// (role, content); roles already checked.
    pub messages: Vec<(String, String)>,
    pub params: Params,
    pub events: mpsc::Sender<Event>,
    pub queued_at: Instant,
}

#[derive(Debug)]
pub enum Event {
    /// The prompt is accepted (it fits the context); decoding starts.
    Started,
    /// A piece of the reply, with the log probabilities of the tokens generated
    /// since the previous piece (when asked for).
    Text {
        text: String,
        logprobs: Vec<TokenLogprob>,
    },
    Done(Summary),
    Failed(JobError),
}

/// One generated token: its text, log probability and the most likely
/// alternatives (OpenAI's `logprobs.content[]`).
#[derive(Debug, Clone, Serialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
    pub top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    Stop,
    Length,
    /// The client went away.
    Cancelled,
}

impl Finish {
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::Cancelled => "cancelled",
        }
    }
}

/// One finished request, as counted (no text).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: u64,
    pub finish: Finish,
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was reused (not decoded).
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    pub queue_ms: f64,
    /// Decoding the uncached part of the prompt.
    pub prompt_ms: f64,
    /// From the start of decoding to the first text delta.
    pub first_token_ms: Option<f64>,
    /// From the first generated token to the last.
    pub generation_ms: f64,
}

#[derive(Debug, Clone)]
pub enum JobError {
    /// The client's fault (HTTP 400).
    Invalid { code: &'static str, message: String },
    /// Ours (HTTP 500).
    Internal(String),
}

/// Counters for `/debug/stats` (and the tests).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub failed: u64,
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    /// Prompt tokens actually decoded (prompt − cached).
    pub decoded_prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Tokens whose KV cache is kept for the next request.
    pub kv_cached_tokens: u32,
    /// A request is being decoded.
    pub busy: bool,
    /// Requests waiting behind it.
    pub queued: u32,
    pub last: Option<Summary>,
}

pub type SharedStats = Arc<Mutex<Stats>>;

pub fn lock(stats: &SharedStats) -> std::sync::MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the worker thread; `ready` gets the model info once it is loaded, or why
/// it could not be.
pub fn spawn(
    opts: WorkerOptions,
    jobs: mpsc::Receiver<Job>,
    stats: SharedStats,
    ready: oneshot::Sender<Result<ModelInfo, String>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("llm-worker".into())
        .spawn(move || run(opts, jobs, stats, ready))
}

fn run(
    opts: WorkerOptions,
    mut jobs: mpsc::Receiver<Job>,
    stats: SharedStats,
    ready: oneshot::Sender<Result<ModelInfo, String>>,
) {
    let backend = match LlamaBackend::init() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot initialise llama.cpp: {e}")));
            return;
        }
    };
    let model =
        match LlamaModel::load_from_file(&backend, &opts.model, &LlamaModelParams::default()) {
            Ok(m) => m,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "cannot load the model {}: {e}",
                    opts.model.display()
                )));
                return;
            }
        };
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(opts.ctx_size))
        .with_n_batch(opts.batch_size)
        .with_n_ubatch(opts.batch_size)
        .with_n_threads(opts.threads)
        .with_n_threads_batch(opts.batch_threads)
        .with_flash_attention_policy(match opts.flash_attn {
            None => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            Some(true) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            Some(false) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        });
    let ctx = match model.new_context(&backend, ctx_params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot create a context: {e}")));
            return;
        }
    };
    let (template, template_name) = match choose_template(&model, opts.chat_template.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = ModelInfo {
        ctx_size: ctx.n_ctx(),
        n_params: model.n_params(),
        size_bytes: model.size(),
        chat_template: template_name,
    };
    tracing::info!(
        ctx_size = info.ctx_size,
        params = info.n_params,
        template = %info.chat_template,
        threads = opts.threads,
        batch_threads = opts.batch_threads,
        "model loaded"
    );
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let mut state = State {
        model: &model,
        ctx,
        template,
        cache: Vec::new(),
        batch: LlamaBatch::new(opts.batch_size as usize, 1),
        batch_size: opts.batch_size as usize,
    };
    while let Some(job) = jobs.blocking_recv() {
        {
            let mut s = lock(&stats);
            s.queued = s.queued.saturating_sub(1);
            s.busy = true;
            s.requests += 1;
        }
        let id = job.id;
        let events = job.events.clone();
        let outcome = state.serve(job);
        let mut s = lock(&stats);
        s.busy = false;
        s.kv_cached_tokens = state.cache.len() as u32;
        match outcome {
            Ok(summary) => {
                s.prompt_tokens += u64::from(summary.prompt_tokens);
                s.cached_prompt_tokens += u64::from(summary.cached_tokens);
                s.decoded_prompt_tokens += u64::from(summary.prompt_tokens - summary.cached_tokens);
                s.completion_tokens += u64::from(summary.completion_tokens);
                if summary.finish == Finish::Cancelled {
                    s.cancelled += 1;
                } else {
                    s.completed += 1;
                }
                tracing::info!(
                    id,
                    finish = summary.finish.as_str(),
                    prompt_tokens = summary.prompt_tokens,
                    cached_tokens = summary.cached_tokens,
                    completion_tokens = summary.completion_tokens,
                    queue_ms = summary.queue_ms.round(),
                    prompt_ms = summary.prompt_ms.round(),
                    first_token_ms = summary.first_token_ms.map(f64::round),
                    generation_ms = summary.generation_ms.round(),
                    "request done"
                );
                s.last = Some(summary.clone());
                drop(s);
                let _ = events.blocking_send(Event::Done(summary));
            }
            Err(err) => {
                s.failed += 1;
                drop(s);
                match &err {
                    JobError::Invalid { code, .. } => tracing::info!(id, code, "request refused"),
                    JobError::Internal(reason) => tracing::error!(id, %reason, "request failed"),
                }
                let _ = events.blocking_send(Event::Failed(err));
            }
        }
    }
    tracing::debug!("worker stopped");
}

/// The model's own template if llama.cpp knows it; else ChatML (what both shipped
/// models use), with a warning.
fn choose_template(
    model: &LlamaModel,
    name: Option<&str>,
) -> Result<(LlamaChatTemplate, String), String> {
    let probe = [
        LlamaChatMessage::new("system".into(), "s".into()),
        LlamaChatMessage::new("user".into(), "u".into()),
    ];
    let probe: Vec<LlamaChatMessage> = probe.into_iter().filter_map(Result::ok).collect();
    if let Some(name) = name {
        let t = LlamaChatTemplate::new(name).map_err(|e| format!("bad template name: {e}"))?;
        model
            .apply_chat_template(&t, &probe, true)
            .map_err(|e| format!("llama.cpp does not know the chat template {name:?}: {e}"))?;
        return Ok((t, name.to_string()));
    }
    if let Ok(t) = model.chat_template(None) {
        if model.apply_chat_template(&t, &probe, true).is_ok() {
            return Ok((t, "model".into()));
        }
        tracing::warn!("the model's chat template is not one llama.cpp knows; using chatml");
    } else {
        tracing::warn!("the model has no chat template; using chatml");
    }
    let t = LlamaChatTemplate::new("chatml").map_err(|e| e.to_string())?;
    Ok((t, "fallback chatml".into()))
}

struct State<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: LlamaChatTemplate,
    /// The tokens whose KV cache sits in sequence 0, by position.
    cache: Vec<LlamaToken>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
}

/// The client is gone: stop.
struct Gone;

impl State<'_> {
    fn serve(&mut self, job: Job) -> Result<Summary, JobError> {
        let started = Instant::now();
        let queue_ms = ms(started - job.queued_at);
        let cancelled = |prompt_tokens, cached_tokens| Summary {
            id: job.id,
            finish: Finish::Cancelled,
            prompt_tokens,
            cached_tokens,
            completion_tokens: 0,
            queue_ms,
            prompt_ms: 0.0,
            first_token_ms: None,
            generation_ms: 0.0,
        };
        if job.events.is_closed() {
            return Ok(cancelled(0, 0));
        }
        let prompt = self.prompt_tokens(&job.messages)?;
        let n_ctx = self.ctx.n_ctx() as usize;
        if prompt.is_empty() {
            return Err(JobError::Internal(
                "the chat template produced no tokens".into(),
            ));
        }
        if prompt.len() >= n_ctx {
            return Err(JobError::Invalid {
                code: "context_length_exceeded",
                message: format!(
                    "the prompt has {} tokens; this model's context holds {n_ctx} (prompt and reply)",
                    prompt.len()
                ),
            });
        }
        let p = &job.params;
        let mut reuse = if p.cache_prompt {
            common_prefix(&self.cache, &prompt)
        } else {
            0
        };
        // The last prompt token is always decoded: its logits give the first token.
        reuse = reuse.min(prompt.len() - 1);
        self.forget_from(reuse);
        let reuse = self.cache.len();
        let prompt_tokens = prompt.len() as u32;
        let cached_tokens = reuse as u32;
        if job.events.blocking_send(Event::Started).is_err() {
            return Ok(cancelled(prompt_tokens, cached_tokens));
        }

        // Prompt: the uncached suffix, in batches; logits for the last token only.
        let mut logits_at = 0;
        for chunk in prompt[reuse..].chunks(self.batch_size) {
            if job.events.is_closed() {
                return Ok(cancelled(prompt_tokens, cached_tokens));
            }
            let last_chunk = self.cache.len() + chunk.len() == prompt.len();
            self.batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = (self.cache.len() + i) as i32;
                let logits = last_chunk && i + 1 == chunk.len();
                self.batch
                    .add(t, pos, &[0], logits)
                    .map_err(|e| JobError::Internal(format!("batch: {e}")))?;
            }
            self.decode()?;
            self.cache.extend_from_slice(chunk);
            logits_at = chunk.len() as i32 - 1;
        }
        let prompt_ms = ms(started.elapsed());

        // Generation.
        let vocab = self.model.vocab();
        let penalties = LlamaSampler::penalties(
            self.model.n_vocab(),
            PENALTY_WINDOW,
            p.repeat_penalty,
            p.frequency_penalty,
            p.presence_penalty,
        );
        let mut sampler = if p.temperature <= 0.0 {
            LlamaSampler::chain_simple([penalties, LlamaSampler::greedy()])
        } else {
            LlamaSampler::chain_simple([
                penalties,
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(p.top_p, 1),
                LlamaSampler::min_p(0.05, 1),
                LlamaSampler::temp(p.temperature),
                LlamaSampler::dist(p.seed),
            ])
        };
        let mut text = TextAssembler::new(p.stop.clone());
        let max_tokens = p.max_tokens.map_or(usize::MAX, |m| m as usize);
        let mut completion = 0usize;
        let mut first_token_ms = None;
        let gen_start = Instant::now();
        let mut piece = Vec::with_capacity(32);
        let mut logprobs = Vec::new();
        let send = |events: &mpsc::Sender<Event>,
                    text: String,
                    logprobs: &mut Vec<TokenLogprob>|
         -> Result<(), Gone> {
            if text.is_empty() && logprobs.is_empty() {
                return Ok(());
            }
            let logprobs = std::mem::take(logprobs);
            events
                .blocking_send(Event::Text { text, logprobs })
                .map_err(|_| Gone)
        };
        let finish = loop {
            if job.events.is_closed() {
                break Finish::Cancelled;
            }
            let token = sampler.sample(&self.ctx, logits_at);
            sampler.accept(token);
            if let Some(top) = p.logprobs {
                logprobs.push(self.logprob(logits_at, token, top));
            }
            if vocab.is_eog(token) && !p.ignore_eos {
                logprobs.pop();
                break Finish::Stop;
            }
            completion += 1;
            piece.clear();
            vocab.token_to_piece_into(token, &mut piece, false, None);
            let pushed = text.push(&piece);
            if !pushed.delta.is_empty() && first_token_ms.is_none() {
                first_token_ms = Some(ms(started.elapsed()));
            }
            // Text held back (a partial character, a possible stop sequence) is sent
            // later, and the log probabilities of its tokens with it.
            if (!pushed.delta.is_empty() || pushed.stop)
                && send(&job.events, pushed.delta, &mut logprobs).is_err()
            {
                break Finish::Cancelled;
            }
            if pushed.stop {
                break Finish::Stop;
            }
            if completion >= max_tokens || self.cache.len() + 1 >= n_ctx {
                // Its logits would never be read.
                break Finish::Length;
            }
            self.batch.clear();
            self.batch
                .add(token, self.cache.len() as i32, &[0], true)
                .map_err(|e| JobError::Internal(format!("batch: {e}")))?;
            self.decode()?;
            self.cache.push(token);
            logits_at = 0;
        };
        if finish != Finish::Cancelled {
            let rest = text.finish();
            if !rest.is_empty() && first_token_ms.is_none() {
                first_token_ms = Some(ms(started.elapsed()));
            }
            let _ = send(&job.events, rest, &mut logprobs);
        }
        Ok(Summary {
            id: job.id,
            finish,
            prompt_tokens,
            cached_tokens,
            completion_tokens: completion as u32,
            queue_ms,
            prompt_ms,
            first_token_ms,
            generation_ms: ms(gen_start.elapsed()),
        })
    }

    /// The log probability of `token` at batch index `idx`, and the `top` most
    /// likely tokens there.
    fn logprob(&self, idx: i32, token: LlamaToken, top: usize) -> TokenLogprob {
        let logits = self.ctx.get_logits_ith(idx);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = logits.iter().map(|&l| (l - max).exp()).sum::<f32>().ln() + max;
        let vocab = self.model.vocab();
        let describe = |t: LlamaToken| {
            let bytes = vocab.token_to_piece(t, false, None);
            (String::from_utf8_lossy(&bytes).into_owned(), bytes)
        };
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(top + 1);
        if top > 0 {
            for (i, &l) in logits.iter().enumerate() {
                if best.len() < top || l > best[best.len() - 1].1 {
                    let at = best.partition_point(|&(_, b)| b >= l);
                    best.insert(at, (i, l));
                    best.truncate(top);
                }
            }
        }
        let (text, bytes) = describe(token);
        let chosen = usize::try_from(token.0).ok().and_then(|i| logits.get(i));
        TokenLogprob {
            token: text,
            logprob: chosen.map_or(f32::NEG_INFINITY, |l| l - log_sum),
            bytes,
            top_logprobs: best
                .into_iter()
                .map(|(i, l)| {
                    let (token, bytes) = describe(LlamaToken(i as i32));
                    TopLogprob {
                        token,
                        logprob: l - log_sum,
                        bytes,
                    }
                })
                .collect(),
        }
    }

    fn prompt_tokens(&self, messages: &[(String, String)]) -> Result<Vec<LlamaToken>, JobError> {
        let chat = messages
            .iter()
            .map(|(role, content)| LlamaChatMessage::new(role.clone(), content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| JobError::Invalid {
                code: "invalid_message",
                message: "a message contains a NUL character".into(),
            })?;
        let text = self
            .model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| JobError::Internal(format!("chat template: {e}")))?;
        // add_special: BOS if the model wants one; parse_special: the template's
        // markers (<|im_start|>) are control tokens, not text.
        Ok(self.model.vocab().tokenize(text.as_bytes(), true, true))
    }

    /// Drops the KV cache from position `keep` on.
    fn forget_from(&mut self, keep: usize) {
        if keep >= self.cache.len() {
            return;
        }
        let removed = self
            .ctx
            .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
            .unwrap_or(false);
        if removed {
            self.cache.truncate(keep);
        } else {
            self.ctx.clear_kv_cache();
            self.cache.clear();
        }
        // Only whole prefixes can be reused: partial removal failed → start over.
        if self.cache.len() != keep {
            self.ctx.clear_kv_cache();
            self.cache.clear();
        }
    }

    fn decode(&mut self) -> Result<(), JobError> {
        self.ctx.decode(&mut self.batch).map_err(|e| {
            // The cache's content is unknown after a failed decode.
            self.ctx.clear_kv_cache();
            self.cache.clear();
            JobError::Internal(format!("decode: {e}"))
        })
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
