//! One agent utterance as a task: text (LLM stream, template or fixed) → sentences →
//! TTS (fallback chain) → audio chunks, all streamed to the call actor. Generation and
//! synthesis overlap: the first sentence is being synthesized while the LLM still
//! writes the second. Aborting the task drops the LLM stream (closing the HTTP
//! request) and the TTS stream (killing the synthesizer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::events::Stage;
use crate::llm::{ChatMessage, ChatRequest, Delta, LanguageModel, ToolCall};
use crate::tts::sentence_splitter::SentenceSplitter;
use crate::tts::{TextToSpeech, VoiceSpec};

pub(super) enum ReplySource {
    /// Ask the LLM; speak `fallback` if it fails (or after what it managed to say).
    Llm {
        llm: Arc<dyn LanguageModel>,
        request: ChatRequest,
        fallback: String,
    },
    /// Known text: greetings, template replies, supervisor lines.
    Fixed {
        text: String,
        provider: &'static str,
        fallback: bool,
    },
}

pub(super) struct ReplyJob {
    pub seq: u64,
    /// Spoken first, before any generated text (a persona introducing itself after a
    /// transfer). Being known at once, it also masks the LLM's first-token latency.
    pub prefix: Option<String>,
    pub source: ReplySource,
    pub voice: VoiceSpec,
    pub tts: Vec<Arc<dyn TextToSpeech>>,
    pub first_flush_chars: usize,
    pub tts_timeout: Duration,
}

/// What came of a reply's tool calls.
#[derive(Debug)]
pub(super) struct ToolOutcome {
    /// Each call's id and its result (JSON).
    pub results: Vec<(String, String)>,
    /// Ask the model again with the results; false: the call was handed to
    /// another persona, who answers the turn.
    pub go_on: bool,
}

pub(super) enum ReplyMsg {
    FirstToken {
        seq: u64,
        at: Instant,
    },
    Sentence {
        seq: u64,
        idx: usize,
        text: String,
        at: Instant,
    },
    Audio {
        seq: u64,
        idx: usize,
        samples: Vec<i16>,
        at: Instant,
    },
    SentenceDone {
        seq: u64,
        idx: usize,
    },
    /// Which voice of the chain spoke a sentence (sent on its first audio).
    Voiced {
        seq: u64,
        provider: String,
    },
    /// The model called tools: the call carries them out and answers with
    /// the results (and whether the model should go on).
    ToolCalls {
        seq: u64,
        calls: Vec<ToolCall>,
        answer: oneshot::Sender<ToolOutcome>,
    },
    Problem {
        seq: u64,
        stage: Stage,
        code: String,
        message: String,
        fallback: Option<String>,
    },
    Done {
        seq: u64,
        text: String,
        provider: String,
        fallback: bool,
    },
}

impl ReplyMsg {
    pub fn seq(&self) -> u64 {
        match self {
            ReplyMsg::FirstToken { seq, .. }
            | ReplyMsg::Sentence { seq, .. }
            | ReplyMsg::Audio { seq, .. }
            | ReplyMsg::SentenceDone { seq, .. }
            | ReplyMsg::Voiced { seq, .. }
            | ReplyMsg::ToolCalls { seq, .. }
            | ReplyMsg::Problem { seq, .. }
            | ReplyMsg::Done { seq, .. } => *seq,
        }
    }
}

pub(super) async fn run(job: ReplyJob, tx: mpsc::Sender<ReplyMsg>) {
    let (sent_tx, sent_rx) = mpsc::channel::<String>(32);
    let seq = job.seq;
    let writer = write_text(
        seq,
        job.prefix,
        job.source,
        job.first_flush_chars,
        sent_tx,
        tx.clone(),
    );
    let speaker = speak(
        seq,
        job.voice,
        job.tts,
        job.tts_timeout,
        sent_rx,
        tx.clone(),
    );
    let ((text, provider, fallback), ()) = tokio::join!(writer, speaker);
    let _ = tx
        .send(ReplyMsg::Done {
            seq,
            text,
            provider,
            fallback,
        })
        .await;
}

/// Produces the reply's sentences. Returns (full text, provider, fallback used).
async fn write_text(
    seq: u64,
    prefix: Option<String>,
    source: ReplySource,
    first_flush_chars: usize,
    sentences: mpsc::Sender<String>,
    tx: mpsc::Sender<ReplyMsg>,
) -> (String, String, bool) {
    let mut full: Vec<String> = Vec::new();
    let emit = |s: String, full: &mut Vec<String>| {
        let s = s.trim().to_string();
        if s.is_empty() {
            return None;
        }
        full.push(s.clone());
        Some(s)
    };
    if let Some(p) = prefix {
        if let Some(s) = emit(p, &mut full) {
            let _ = sentences.send(s).await;
        }
    }
    match source {
        ReplySource::Fixed {
            text,
            provider,
            fallback,
        } => {
            send_fixed_text(seq, &text, true, &mut full, &sentences, &tx).await;
            (full.join(" "), provider.to_string(), fallback)
        }
        ReplySource::Llm {
            llm,
            request,
            fallback,
        } => {
            // The chain: this model, then its fallbacks, then the template.
            let mut chain = vec![llm.clone()];
            chain.extend(llm.fallbacks());
            let mut splitter = SentenceSplitter::new(first_flush_chars);
            let mut first = true;
            let mut request = request;
            let mut rounds = 0u32;
            'round: loop {
                for (i, model) in chain.iter().enumerate() {
                    if let Some(why) = model.skip_reason() {
                        // Known to be down: its failure was reported when it happened.
                        tracing::debug!(provider = model.name(), %why, "language model skipped");
                        continue;
                    }
                    let next = chain[i + 1..]
                        .iter()
                        .find(|m| m.skip_reason().is_none())
                        .map(|m| m.name().to_string())
                        .unwrap_or_else(|| "template".to_string());
                    let provider = model.name().to_string();
                    let mut stream = model.stream_agent(request.clone());
                    let mut from_llm = 0usize;
                    let mut failure = None;
                    let mut calls = Vec::new();
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(Delta::ToolCall(c)) => calls.push(c),
                            Ok(Delta::Text(delta)) => {
                                if first && !delta.is_empty() {
                                    first = false;
                                    let _ = tx
                                        .send(ReplyMsg::FirstToken {
                                            seq,
                                            at: Instant::now(),
                                        })
                                        .await;
                                }
                                for s in splitter.push(&delta) {
                                    if let Some(s) = emit(s, &mut full) {
                                        from_llm += 1;
                                        let _ = sentences.send(s).await;
                                    }
                                }
                            }
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                    drop(stream);
                    if failure.is_none() && !calls.is_empty() {
                        // The call does what was asked; the results go back to the
                        // model, which then answers (within the same reply: what is
                        // playing goes on playing).
                        let (answer, outcome) = oneshot::channel();
                        let _ = tx
                            .send(ReplyMsg::ToolCalls {
                                seq,
                                calls: calls.clone(),
                                answer,
                            })
                            .await;
                        let Ok(outcome) = outcome.await else {
                            return (full.join(" "), provider, i > 0);
                        };
                        if from_llm == 0 {
                            if !outcome.go_on {
                                // Handed over: the next persona answers the turn.
                                return (full.join(" "), provider, i > 0);
                            }
                            let said = splitter.finish().unwrap_or_default();
                            request
                                .messages
                                .push(ChatMessage::tool_calls(said.trim(), calls));
                            for (id, result) in outcome.results {
                                request.messages.push(ChatMessage::tool_result(id, result));
                            }
                            rounds += 1;
                            if rounds >= super::tools::MAX_ROUNDS {
                                request.tools.clear();
                            }
                            splitter = SentenceSplitter::new(first_flush_chars);
                            continue 'round;
                        }
                    }
                    if failure.is_none() {
                        if let Some(s) = splitter.finish().and_then(|s| emit(s, &mut full)) {
                            from_llm += 1;
                            let _ = sentences.send(s).await;
                        }
                        if from_llm > 0 {
                            return (full.join(" "), provider, i > 0);
                        }
                    }
                    let (code, message) = match &failure {
                        Some(e) => (e.code().to_string(), e.to_string()),
                        // An empty completion is as useless to the customer as an error.
                        None => (
                            "llm_empty".to_string(),
                            "the language model returned an empty reply".to_string(),
                        ),
                    };
                    if from_llm > 0 || !first {
                        // Cut off after speaking: the unfinished sentence is dropped
                        // (a half sentence then another voice would sound broken) and
                        // the template closes the reply.
                        let _ = tx
                            .send(ReplyMsg::Problem {
                                seq,
                                stage: Stage::Llm,
                                code,
                                message,
                                fallback: Some("template".into()),
                            })
                            .await;
                        send_fixed_text(seq, &fallback, first, &mut full, &sentences, &tx).await;
                        return (full.join(" "), format!("{provider}+template"), true);
                    }
                    // Nothing said yet: the next model answers the whole turn.
                    let _ = tx
                        .send(ReplyMsg::Problem {
                            seq,
                            stage: Stage::Llm,
                            code,
                            message,
                            fallback: Some(next),
                        })
                        .await;
                    splitter = SentenceSplitter::new(first_flush_chars);
                }
                break;
            }
            send_fixed_text(seq, &fallback, first, &mut full, &sentences, &tx).await;
            (full.join(" "), "template".into(), true)
        }
    }
}

/// Sends known text as sentences (a template, greeting or supervisor line).
async fn send_fixed_text(
    seq: u64,
    fallback: &str,
    no_token_yet: bool,
    full: &mut Vec<String>,
    sentences: &mpsc::Sender<String>,
    tx: &mpsc::Sender<ReplyMsg>,
) {
    if no_token_yet {
        let _ = tx
            .send(ReplyMsg::FirstToken {
                seq,
                at: Instant::now(),
            })
            .await;
    }
    let mut splitter = SentenceSplitter::new(usize::MAX);
    let mut parts = splitter.push(fallback);
    parts.extend(splitter.finish());
    for s in parts {
        let s = s.trim().to_string();
        if !s.is_empty() {
            full.push(s.clone());
            let _ = sentences.send(s).await;
        }
    }
}

/// Synthesizes sentences in order, trying each TTS of the chain until one
/// speaks the sentence whole. A voice that fails is not used again for the rest
/// of this reply (one reply, one voice, as far as possible); a voice known to be
/// down (an open circuit) is not even tried.
async fn speak(
    seq: u64,
    voice: VoiceSpec,
    chain: Vec<Arc<dyn TextToSpeech>>,
    timeout: Duration,
    mut sentences: mpsc::Receiver<String>,
    tx: mpsc::Sender<ReplyMsg>,
) {
    let mut idx = 0usize;
    let mut failed = vec![false; chain.len()];
    while let Some(text) = sentences.recv().await {
        let _ = tx
            .send(ReplyMsg::Sentence {
                seq,
                idx,
                text: text.clone(),
                at: Instant::now(),
            })
            .await;
        for (i, tts) in chain.iter().enumerate() {
            if failed[i] {
                continue;
            }
            if let Some(why) = tts.skip_reason() {
                // Known to be down: the failure that put it there was reported
                // when it happened.
                tracing::debug!(provider = tts.name(), %why, "voice skipped");
                continue;
            }
            let next = (i + 1..chain.len())
                .find(|&j| !failed[j] && chain[j].skip_reason().is_none())
                .map(|j| chain[j].name().to_string());
            let mut stream = tts.synthesize(&text, &voice);
            let mut got_audio = false;
            let mut problem = None;
            loop {
                match tokio::time::timeout(timeout, stream.next()).await {
                    Ok(Some(Ok(samples))) => {
                        if samples.is_empty() {
                            continue;
                        }
                        if !got_audio {
                            let _ = tx
                                .send(ReplyMsg::Voiced {
                                    seq,
                                    provider: tts.name().to_string(),
                                })
                                .await;
                        }
                        got_audio = true;
                        let _ = tx
                            .send(ReplyMsg::Audio {
                                seq,
                                idx,
                                samples,
                                at: Instant::now(),
                            })
                            .await;
                    }
                    Ok(Some(Err(e))) => {
                        problem = Some((e.code().to_string(), e.to_string()));
                        break;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        problem = Some((
                            "tts_timeout".to_string(),
                            format!(
                                "{} produced no audio for {} ms",
                                tts.name(),
                                timeout.as_millis()
                            ),
                        ));
                        break;
                    }
                }
            }
            drop(stream);
            match problem {
                None if got_audio => break,
                // Nothing to say (a voice that does not speak this language).
                None => continue,
                Some((code, message)) => {
                    failed[i] = true;
                    // Cut off mid-sentence, the sentence is said again whole by
                    // the next voice: a repeated start is better than a lost
                    // order number.
                    let _ = tx
                        .send(ReplyMsg::Problem {
                            seq,
                            stage: Stage::Tts,
                            code,
                            message,
                            fallback: next,
                        })
                        .await;
                }
            }
        }
        let _ = tx.send(ReplyMsg::SentenceDone { seq, idx }).await;
        idx += 1;
    }
}
