//! `switchboard bench-voice`: voice to voice with every local model, as a
//! customer hears it — from the end of their speech to the first frame of the
//! agent's answer — over whole English calls in real time.
//!
//! Each call is a scripted caller spoken by espeak-ng, pushed through the
//! simulated transport at real-time pace (20 ms a frame), into the production
//! pipeline: VAD + Smart Turn → Whisper (`--stt-model`) → routing → the local
//! LLM (`switchboard-llm`, started once and shared, as in the console) → Piper.
//! The figure per turn is the engine's own `turn_metrics.response_ms` (last
//! voiced customer frame → first agent frame sent), so the bench measures what
//! the call measures. It runs once with streaming partials and once without
//! (`partial_every` 0: recognition starts only when the turn has ended), each on
//! its own Whisper instance, to show what streaming buys.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::call::CallConfig;
use crate::config::{Config, LocalLlmSettings};
use crate::events::{EventKind, Speaker};
use crate::hub::{CallHub, LocalHub};
use crate::metrics::percentile;
use crate::scenario::Scenario;
use crate::stt::whisper::{WhisperModel, WhisperOptions, WhisperSize, WhisperSpeechToText};
use crate::stt::SpeechToText;
use crate::transport::{run_scenario, SimOptions, SttMode};
use crate::tts::espeak::EspeakTts;
use crate::tts::TextToSpeech;

/// English callers: each list is one call. Short, realistic turns; the first
/// turn of each call routes away from reception (a persona change, so a cold
/// prompt for the local LLM), the rest stay with that persona.
pub const CALLS: [&[&str]; 4] = [
    &[
        "Hello, I would like to buy the premium internet plan.",
        "How much is it per month?",
        "Does it include a router?",
        "Can I pay by credit card?",
        "Great, please sign me up.",
        "Thank you, goodbye.",
    ],
    &[
        "Hi, my internet has been down since this morning.",
        "Yes, I already restarted the router.",
        "All the lights are on except the internet light.",
        "My account number is four five six seven.",
        "When can a technician come?",
        "Okay, thank you for your help.",
    ],
    &[
        "Good morning, I want to upgrade my mobile plan.",
        "I use a lot of data when I travel.",
        "What does roaming cost in Europe?",
        "Is there a discount for a yearly contract?",
        "I will think about it, thanks.",
        "Have a nice day.",
    ],
    &[
        "Hello, I have a problem with my bill.",
        "I was charged twice this month.",
        "The second charge was on the fifth.",
        "Can you refund it to my card?",
        "How long will the refund take?",
        "Thanks, that is all.",
    ],
];

#[derive(Debug, Clone)]
pub struct VoiceBenchOptions {
    /// Calls per configuration (cycling through [`CALLS`]).
    pub calls: usize,
    pub stt: WhisperSize,
    /// Local LLM model name; None: the built-in template replies.
    pub llm: Option<String>,
    /// Run with streaming partials, without, or both (in that order).
    pub partials: Vec<bool>,
}

impl Default for VoiceBenchOptions {
    fn default() -> Self {
        Self {
            calls: 4,
            stt: WhisperSize::TinyEn,
            llm: Some(crate::llm::local::DEFAULT_MODEL.into()),
            partials: vec![true, false],
        }
    }
}

/// One customer turn that the agent answered.
#[derive(Debug, Clone, Default)]
pub struct TurnSample {
    pub call: usize,
    pub turn: u32,
    /// What the recognizer heard.
    pub heard: String,
    /// Last voiced customer frame → first agent frame (what the customer waits).
    pub response_ms: f64,
    /// Trailing silence before the turn was declared over.
    pub eou_ms: f64,
    /// End of turn → final transcript.
    pub stt_ms: f64,
    /// Final transcript → first LLM token (or the fallback text).
    pub llm_ms: Option<f64>,
    /// First sentence → first synthesized audio.
    pub tts_ms: Option<f64>,
    /// The reply came from the templates (the LLM failed or timed out).
    pub fallback: bool,
    /// The persona changed on this turn (the LLM's prompt prefix is new).
    pub persona_changed: bool,
}

impl TurnSample {
    /// What the four measured steps leave over: the LLM writing its first
    /// sentence (first token → sentence ready) and the frame going out.
    pub fn rest_ms(&self) -> f64 {
        self.response_ms
            - self.eou_ms
            - self.stt_ms
            - self.llm_ms.unwrap_or(0.0)
            - self.tts_ms.unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct VoiceRun {
    pub partials: bool,
    pub turns: Vec<TurnSample>,
    /// Customer turns that got no timed answer (recognition failed, etc.).
    pub unanswered: usize,
    pub errors: Vec<String>,
}

impl VoiceRun {
    fn values(&self, f: impl Fn(&TurnSample) -> Option<f64>) -> Vec<f64> {
        self.turns.iter().filter_map(f).collect()
    }
}

pub struct VoiceReport {
    pub options: VoiceBenchOptions,
    pub runs: Vec<VoiceRun>,
    pub threads: String,
}

impl fmt::Display for VoiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "voice to voice, all local: espeak-ng caller → VAD + Smart Turn → {} → {} → Piper (real time, {})",
            self.options.stt.model_name(),
            self.options.llm.as_deref().unwrap_or("templates"),
            self.threads
        )?;
        writeln!(
            f,
            "{:<10} {:>5} {:>9} {:>9} {:>9} | {:>7} {:>7} {:>9} {:>9} {:>7} | {:>8} {:>8}",
            "partials",
            "turns",
            "p50 ms",
            "p95 ms",
            "max ms",
            "eou",
            "stt",
            "llm 1st",
            "sentence",
            "tts",
            "fallback",
            "p50 warm"
        )?;
        let mut json_runs = Vec::new();
        for r in &self.runs {
            let resp = r.values(|t| Some(t.response_ms));
            let warm = r.values(|t| (!t.persona_changed).then_some(t.response_ms));
            let eou = r.values(|t| Some(t.eou_ms));
            let stt = r.values(|t| Some(t.stt_ms));
            let llm = r.values(|t| t.llm_ms);
            let tts = r.values(|t| t.tts_ms);
            let rest = r.values(|t| Some(t.rest_ms()));
            let fallback = r.turns.iter().filter(|t| t.fallback).count();
            writeln!(
                f,
                "{:<10} {:>5} {:>9.0} {:>9.0} {:>9.0} | {:>7.0} {:>7.0} {:>9.0} {:>9.0} {:>7.0} | {:>8} {:>8.0}",
                if r.partials { "on" } else { "off" },
                r.turns.len(),
                percentile(&resp, 0.5),
                percentile(&resp, 0.95),
                resp.iter().cloned().fold(f64::NAN, f64::max),
                percentile(&eou, 0.5),
                percentile(&stt, 0.5),
                percentile(&llm, 0.5),
                percentile(&rest, 0.5),
                percentile(&tts, 0.5),
                fallback,
                percentile(&warm, 0.5),
            )?;
            for e in &r.errors {
                writeln!(f, "  error: {e}")?;
            }
            if r.unanswered > 0 {
                writeln!(f, "  {} customer turn(s) got no timed answer", r.unanswered)?;
            }
            json_runs.push(serde_json::json!({
                "partials": r.partials,
                "turns": r.turns.len(),
                "unanswered": r.unanswered,
                "response_p50_ms": percentile(&resp, 0.5),
                "response_p95_ms": percentile(&resp, 0.95),
                "response_warm_p50_ms": percentile(&warm, 0.5),
                "eou_p50_ms": percentile(&eou, 0.5),
                "stt_p50_ms": percentile(&stt, 0.5),
                "stt_p95_ms": percentile(&stt, 0.95),
                "llm_first_token_p50_ms": percentile(&llm, 0.5),
                "llm_first_token_p95_ms": percentile(&llm, 0.95),
                "first_sentence_and_send_p50_ms": percentile(&rest, 0.5),
                "tts_first_audio_p50_ms": percentile(&tts, 0.5),
                "fallback_replies": fallback,
                "per_turn_ms": r.turns.iter().map(|t| t.response_ms.round()).collect::<Vec<_>>(),
            }));
        }
        writeln!(
            f,
            "eou = trailing silence waited; stt = end of turn → final text; llm 1st = text → first token; sentence = first token → first sentence ready (and the frame out); tts = first sentence → first audio; warm = turns without a persona change"
        )?;
        if let Some(r) = self.runs.first() {
            writeln!(f, "what was heard (first run):")?;
            for t in r.turns.iter().take(8) {
                writeln!(
                    f,
                    "  call {} turn {}: {:>6.0} ms (stt {:.0}, llm {:.0}, sentence {:.0}, tts {:.0})  {:?}",
                    t.call,
                    t.turn,
                    t.response_ms,
                    t.stt_ms,
                    t.llm_ms.unwrap_or(f64::NAN),
                    t.rest_ms(),
                    t.tts_ms.unwrap_or(f64::NAN),
                    t.heard
                )?;
            }
        }
        let json = serde_json::json!({
            "stt": self.options.stt.model_name(),
            "llm": self.options.llm,
            "runs": json_runs,
        });
        write!(f, "{json}")
    }
}

fn scenario(lines: &[&str]) -> Result<Scenario, String> {
    let turns: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::json!({ "say": l, "pause_ms": 600 }))
        .collect();
    let json = serde_json::json!({ "lang": "en", "turns": turns }).to_string();
    Scenario::parse(&json, std::path::Path::new(".")).map_err(|e| e.to_string())
}

/// Runs the bench. `config` supplies the voice, Smart Turn and LLM server
/// settings; its LLM choice is replaced by `opts.llm`.
pub async fn run(config: &Config, opts: &VoiceBenchOptions) -> Result<VoiceReport, String> {
    let mut config = config.clone();
    config.llm.base_url = None;
    config.llm.local = opts.llm.as_ref().map(|m| LocalLlmSettings {
        model: m.clone(),
        ..config.llm.local.clone().unwrap_or_default()
    });
    if let Some(problem) = config.local_llm_problem() {
        return Err(problem);
    }
    let model_path =
        crate::models::installed_file_in(&crate::models::models_dir(), opts.stt.model_name())
            .map_err(|e| e.to_string())?;
    let espeak = EspeakTts::with_binary(config.tts.espeak_binary.clone());
    if !espeak.available() {
        return Err("espeak-ng is not installed (run scripts/setup.sh)".into());
    }
    let customer_voice: Arc<dyn TextToSpeech> = Arc::new(espeak);
    config.start_local_llm();
    config.prewarm_voices();
    let whisper_threads = WhisperOptions::default().threads;

    let mut runs = Vec::new();
    for &partials in &opts.partials {
        let whisper_opts = WhisperOptions {
            partial_every: if partials {
                WhisperOptions::default().partial_every
            } else {
                Duration::ZERO
            },
            ..WhisperOptions::default()
        };
        let path = model_path.clone();
        let size = opts.stt;
        let model =
            tokio::task::spawn_blocking(move || WhisperModel::load(&path, size, whisper_opts))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        let stt: Arc<dyn SpeechToText> = Arc::new(WhisperSpeechToText::new(model));
        let mut run = VoiceRun {
            partials,
            ..VoiceRun::default()
        };
        for call in 0..opts.calls {
            let lines = CALLS[call % CALLS.len()];
            let sc = scenario(lines)?;
            let cfg = config.clone();
            let mut providers = tokio::task::spawn_blocking(move || cfg.providers())
                .await
                .map_err(|e| e.to_string())?;
            providers.stt = Some(stt.clone());
            let hub = LocalHub::new(4096);
            let mut events = hub.subscribe();
            let call_config = CallConfig {
                default_lang: crate::lang::Lang::En,
                turn: config.turn.clone(),
                ..Default::default()
            };
            let sim = SimOptions {
                stt: SttMode::Recognized,
                speed: 1.0,
                customer_tts: Some(customer_voice.clone()),
                turn_timeout: Duration::from_secs(60),
                ..Default::default()
            };
            let collector = tokio::spawn(async move {
                let mut samples: Vec<TurnSample> = Vec::new();
                let mut heard: std::collections::HashMap<u32, String> = Default::default();
                let mut changed = std::collections::HashSet::new();
                let mut fallback = std::collections::HashSet::new();
                let mut customer_turns = std::collections::HashSet::new();
                while let Ok(ev) = events.recv().await {
                    match ev.kind {
                        EventKind::Transcript {
                            speaker: Speaker::Customer,
                            text,
                            is_final: true,
                            turn,
                            ..
                        } => {
                            customer_turns.insert(turn);
                            heard.insert(turn, text);
                        }
                        EventKind::PersonaChanged { turn, .. } => {
                            changed.insert(turn);
                        }
                        EventKind::AgentReply {
                            turn,
                            fallback: true,
                            ..
                        } => {
                            fallback.insert(turn);
                        }
                        EventKind::TurnMetrics(m) => {
                            if let Some(response_ms) = m.response_ms {
                                samples.push(TurnSample {
                                    call,
                                    turn: m.turn,
                                    heard: String::new(),
                                    response_ms,
                                    eou_ms: m.eou_ms,
                                    stt_ms: m.stt_ms,
                                    llm_ms: m.llm_first_token_ms,
                                    tts_ms: m.tts_first_audio_ms,
                                    fallback: false,
                                    persona_changed: false,
                                });
                            }
                        }
                        EventKind::CallEnded { .. } => break,
                        _ => {}
                    }
                }
                // Only answers to customer turns (not the greeting).
                samples.retain(|s| customer_turns.contains(&s.turn));
                for s in &mut samples {
                    s.heard = heard.get(&s.turn).cloned().unwrap_or_default();
                    s.persona_changed = changed.contains(&s.turn);
                    s.fallback = fallback.contains(&s.turn);
                }
                let unanswered = customer_turns.len().saturating_sub(samples.len());
                (samples, unanswered)
            });
            if let Err(e) = run_scenario(&hub, &sc, providers, call_config, sim).await {
                run.errors.push(format!("call {call}: {e}"));
            }
            match tokio::time::timeout(Duration::from_secs(60), collector).await {
                Ok(Ok((samples, unanswered))) => {
                    run.turns.extend(samples);
                    run.unanswered += unanswered;
                }
                _ => run.errors.push(format!("call {call}: no call_ended event")),
            }
        }
        runs.push(run);
    }
    Ok(VoiceReport {
        options: opts.clone(),
        runs,
        threads: format!(
            "{} cores; whisper {} thread(s), LLM {} thread(s)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            whisper_threads,
            config
                .llm
                .local
                .as_ref()
                .and_then(|l| l.threads)
                .unwrap_or_else(crate::llm::local::default_threads)
        ),
    })
}
