//! One typed configuration with defaults that work offline. Secrets never live here:
//! API keys come from the OS keyring or the environment ([`crate::secrets`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::call::{CallConfig, Providers};
use crate::lang::Lang;
use crate::llm::local::{LocalLlm, LocalLlmOptions};
use crate::llm::openai::{OpenAiCompatible, OpenAiConfig};
use crate::llm::{LanguageModel, LlmChain};
use crate::sentiment::LexiconSentiment;
use crate::stt::SpeechToText;
use crate::tts::cloud::{CloudTts, CloudTtsConfig, CloudVoice};
use crate::tts::espeak::EspeakTts;
use crate::tts::{PiperConfig, PiperTts, TextToSpeech};
use crate::turn::{SmartTurn, TurnConfig};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub llm: LlmSettings,
    pub stt: SttSettings,
    pub tts: TtsSettings,
    pub turn: TurnConfig,
    /// Language of the greeting when a call's language is not fixed.
    pub default_lang: Lang,
    pub crm: CrmSettings,
    pub livekit: LivekitSettings,
    pub replay: ReplaySettings,
}

/// Recording and reviewing calls. Recording is off unless the deployment opts in
/// (`replay.record`, or env `SWITCHBOARD_RECORD=1`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ReplaySettings {
    pub record: bool,
    /// Where recordings are kept. Default: `recordings` in the user's data folder.
    pub dir: Option<PathBuf>,
    /// Recordings older than this many days are deleted (0: kept forever).
    pub retention_days: u32,
    /// Blank the audio where a card number or IBAN was said.
    pub redact_audio: bool,
    /// The criteria of a call's scorecard.
    pub criteria: Vec<String>,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            record: false,
            dir: None,
            retention_days: 90,
            redact_audio: true,
            criteria: ["greeting", "empathy", "resolution", "compliance"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl ReplaySettings {
    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| data_dir().join("recordings"))
    }

    /// What a call records with, if calls are recorded.
    pub fn recording(&self) -> Option<crate::replay::recording::RecordingConfig> {
        self.record
            .then(|| crate::replay::recording::RecordingConfig {
                dir: self.dir(),
                redact_audio: self.redact_audio,
            })
    }
}

/// Where the LiveKit server is. Its API key and secret are secrets (OS keyring or
/// `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`), never here.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct LivekitSettings {
    /// `wss://…` (or `ws://127.0.0.1:7880` for `livekit-server --dev`).
    /// `LIVEKIT_URL` overrides it.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CrmSettings {
    /// `sqlite://path`, `postgres://…`, or "none" to keep no records. Default: an
    /// SQLite file in the user's data folder. Passwords in URLs are never logged.
    pub url: Option<String>,
    /// Where writes wait while the database is unreachable. Default: beside the
    /// default database, in the user's data folder.
    pub outbox: Option<PathBuf>,
}

/// The user's data folder for Switchboard ($XDG_DATA_HOME or ~/.local/share).
pub fn data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("switchboard")
}

impl CrmSettings {
    pub fn outbox_path(&self) -> PathBuf {
        self.outbox
            .clone()
            .unwrap_or_else(|| data_dir().join("crm-outbox.jsonl"))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            llm: LlmSettings::default(),
            stt: SttSettings::default(),
            tts: TtsSettings::default(),
            turn: TurnConfig::default(),
            default_lang: Lang::Ar,
            crm: CrmSettings::default(),
            livekit: LivekitSettings::default(),
            replay: ReplaySettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (".../v1"). None (and no `local`): the template
    /// replier answers.
    pub base_url: Option<String>,
    pub model: String,
    pub first_token_timeout_ms: u64,
    pub stall_timeout_ms: u64,
    /// The local model (our llama.cpp server, started on demand). When set, it
    /// answers instead of `base_url`.
    pub local: Option<LocalLlmSettings>,
    /// The local model that answers when the server at `base_url` fails before
    /// its first token or is known to be down (env `SWITCHBOARD_LLM_FALLBACK`,
    /// e.g. `qwen2.5-0.5b`); the templates answer after it. Its server starts
    /// with the call, so it is warm when needed.
    pub fallback_local: Option<LocalLlmSettings>,
    /// Offer a hosted model the call's tools (open a ticket, look the customer
    /// up, hand the call over; env `SWITCHBOARD_LLM_TOOLS=1`). For models that
    /// call tools (OpenAI's do); the local models are never offered them.
    pub tools: bool,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".into(),
            first_token_timeout_ms: 4000,
            stall_timeout_ms: 3000,
            local: None,
            fallback_local: None,
            tools: false,
        }
    }
}

/// The local LLM: which installed model (`switchboard models fetch`), and how its
/// server runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LocalLlmSettings {
    /// `qwen2.5-0.5b` (default) or `smollm2-135m` (small, fast, weaker).
    pub model: String,
    /// The `switchboard-llm` binary; None: found beside this executable (see
    /// [`crate::llm::local::find_server`]).
    pub server: Option<PathBuf>,
    /// Context in tokens: persona prompt + call history + reply.
    pub ctx_size: u32,
    /// CPU threads while generating; None: half the cores (see
    /// [`crate::llm::local::default_threads`]).
    pub threads: Option<u16>,
    /// CPU threads while decoding the prompt; None: every core (see
    /// [`crate::llm::local::default_batch_threads`]).
    pub batch_threads: Option<u16>,
    /// Longer than a remote model's: on a laptop CPU the prompt is decoded first.
    pub first_token_timeout_ms: u64,
}

impl Default for LocalLlmSettings {
    fn default() -> Self {
        Self {
            model: crate::llm::local::DEFAULT_MODEL.into(),
            server: None,
            ctx_size: 4096,
            threads: None,
            batch_threads: None,
            first_token_timeout_ms: 15_000,
        }
    }
}

impl LocalLlmSettings {
    pub fn options(&self, stall_timeout: Duration) -> LocalLlmOptions {
        LocalLlmOptions {
            model: self.model.clone(),
            server: self.server.clone(),
            ctx_size: self.ctx_size,
            threads: self.threads,
            batch_threads: self.batch_threads,
            first_token_timeout: Duration::from_millis(self.first_token_timeout_ms),
            stall_timeout: stall_timeout.max(Duration::from_secs(5)),
            ..LocalLlmOptions::default()
        }
    }
}

/// Local speech recognition for calls that carry real audio (sound card,
/// LiveKit). Simulated callers bring their own transcripts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SttSettings {
    /// `whisper-base` (Arabic + English, default) or `whisper-tiny-en` (English
    /// only, fast enough to stream on two cores).
    pub model: String,
    /// OpenAI's transcription first, local Whisper behind it.
    pub cloud: CloudSttSettings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CloudSttSettings {
    /// `"openai"`, or none: local recognition only (env `SWITCHBOARD_STT_CLOUD`).
    pub provider: Option<String>,
    /// A proxy or compatible server (env `SWITCHBOARD_STT_URL`).
    pub base_url: Option<String>,
    /// `gpt-4o-mini-transcribe` (default, streams), `gpt-4o-transcribe` or `whisper-1`.
    pub model: Option<String>,
    /// End of turn to transcript, retries included (default 2500 ms); then
    /// local Whisper hears the utterance.
    pub timeout_ms: Option<u64>,
}

impl CloudSttSettings {
    /// The cloud recognizer, shared by every call of the process.
    pub fn recognizer(&self) -> Option<crate::stt::cloud::OpenAiStt> {
        use crate::stt::cloud::{OpenAiStt, OpenAiSttConfig};
        if self.provider.as_deref().map(str::trim) != Some("openai") {
            return None;
        }
        let key = crate::secrets::get(crate::secrets::SecretName::OpenaiApiKey);
        type Shared = Vec<(CloudSttSettings, Option<String>, OpenAiStt)>;
        static SHARED: std::sync::OnceLock<std::sync::Mutex<Shared>> = std::sync::OnceLock::new();
        let mut shared = SHARED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, s)) = shared.iter().find(|(k, key_, _)| k == self && *key_ == key) {
            return Some(s.clone());
        }
        let mut cfg = OpenAiSttConfig::new(key.clone());
        if let Some(u) = self.base_url.as_ref().filter(|u| !u.trim().is_empty()) {
            cfg.base_url = u.trim().to_string();
        }
        if let Some(m) = self.model.as_ref().filter(|m| !m.trim().is_empty()) {
            cfg.model = m.trim().to_string();
        }
        if let Some(ms) = self.timeout_ms {
            cfg.timeout = Duration::from_millis(ms.clamp(300, 30_000));
        }
        match OpenAiStt::new(cfg) {
            Ok(s) => {
                shared.retain(|(k, _, _)| k != self);
                shared.push((self.clone(), key, s.clone()));
                Some(s)
            }
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "cloud recognition is off");
                None
            }
        }
    }
}

impl Default for SttSettings {
    fn default() -> Self {
        Self {
            model: "whisper-base".into(),
            cloud: CloudSttSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TtsSettings {
    pub espeak_binary: PathBuf,
    /// Speak English with the Piper neural voice when it is installed
    /// (`switchboard models fetch --only piper-joe`); espeak-ng stays the
    /// fallback and speaks Arabic.
    pub piper: bool,
    /// A cloud voice first in the chain (its key from the OS keyring or the
    /// environment); the local voices take over when it fails.
    pub cloud: CloudTtsSettings,
}

impl Default for TtsSettings {
    fn default() -> Self {
        Self {
            espeak_binary: PathBuf::from("espeak-ng"),
            piper: true,
            cloud: CloudTtsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CloudTtsSettings {
    /// `"openai"` or `"elevenlabs"`; none: local voices only
    /// (env `SWITCHBOARD_TTS_CLOUD`).
    pub provider: Option<CloudVoice>,
    /// The service's address, for a proxy or a compatible server
    /// (env `SWITCHBOARD_TTS_URL`); default: the provider's own.
    pub base_url: Option<String>,
    /// Default: `gpt-4o-mini-tts` / `eleven_flash_v2_5`.
    pub model: Option<String>,
    /// Voice ids per persona and language: `"sales.ar"`, `"sales"`, `"ar"`.
    pub voices: std::collections::BTreeMap<String, String>,
    /// Request to first audio, retries included (default 1200 ms); then the
    /// next voice speaks the sentence.
    pub first_audio_ms: Option<u64>,
}

/// OpenAI-compatible servers by name: where they listen by default and a model
/// they commonly serve (`SWITCHBOARD_LLM_MODEL` / `llm.model` picks another).
/// The key, where one is needed, comes from the keyring or
/// `SWITCHBOARD_LLM_API_KEY` / `OPENAI_API_KEY`.
pub const LLM_PRESETS: [(&str, &str, &str); 5] = [
    ("ollama", "http://127.0.0.1:11434/v1", "qwen2.5:7b-instruct"),
    (
        "vllm",
        "http://127.0.0.1:8000/v1",
        "Qwen/Qwen2.5-7B-Instruct",
    ),
    ("llamacpp", "http://127.0.0.1:8080/v1", "default"),
    (
        "lmstudio",
        "http://127.0.0.1:1234/v1",
        "qwen2.5-7b-instruct",
    ),
    ("openai", "https://api.openai.com/v1", "gpt-4o-mini"),
];

/// The base URL and model of a preset (case and `-`/`_`/`.` ignored:
/// "llama.cpp", "LM-Studio").
pub fn llm_preset(name: &str) -> Option<(&'static str, &'static str)> {
    let key: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .collect();
    LLM_PRESETS.iter().find(|p| p.0 == key).map(|p| (p.1, p.2))
}

/// One client per server and settings for the whole process: its connection
/// pool and its circuit breaker are shared, so a call that finds the server
/// down spares the others the wait.
fn shared_client(cfg: OpenAiConfig) -> OpenAiCompatible {
    static CLIENTS: std::sync::OnceLock<std::sync::Mutex<Vec<OpenAiCompatible>>> =
        std::sync::OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(c) = clients.iter().find(|c| *c.config() == cfg) {
        return c.clone();
    }
    let c = OpenAiCompatible::new(cfg);
    clients.push(c.clone());
    c
}

impl CloudTtsSettings {
    /// The cloud voice, shared by every call of the process (one circuit
    /// breaker: a call that finds it down spares the others the wait).
    pub fn voice(&self) -> Option<CloudTts> {
        let kind = self.provider?;
        // The key is part of what identifies the voice: one added or changed
        // in Settings applies to the next call.
        let key = crate::secrets::get(match kind {
            CloudVoice::OpenAi => crate::secrets::SecretName::OpenaiApiKey,
            CloudVoice::ElevenLabs => crate::secrets::SecretName::ElevenlabsApiKey,
        });
        type Shared = Vec<(CloudTtsSettings, Option<String>, CloudTts)>;
        static VOICES: std::sync::OnceLock<std::sync::Mutex<Shared>> = std::sync::OnceLock::new();
        let voices = VOICES.get_or_init(Default::default);
        let mut voices = voices.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, v)) = voices.iter().find(|(s, k, _)| s == self && *k == key) {
            return Some(v.clone());
        }
        let mut cfg = CloudTtsConfig::new(kind, key.clone());
        if let Some(u) = self.base_url.as_ref().filter(|u| !u.trim().is_empty()) {
            cfg.base_url = u.trim().to_string();
        }
        if let Some(m) = self.model.as_ref().filter(|m| !m.trim().is_empty()) {
            cfg.model = m.trim().to_string();
        }
        cfg.voices = self.voices.clone();
        if let Some(ms) = self.first_audio_ms {
            cfg.first_audio_timeout = Duration::from_millis(ms.clamp(200, 10_000));
        }
        match CloudTts::new(cfg) {
            Ok(v) => {
                voices.retain(|(s, _, _)| s != self);
                voices.push((self.clone(), key, v.clone()));
                Some(v)
            }
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "cloud voice is off");
                None
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("config {path} is invalid: {reason}")]
    Invalid { path: String, reason: String },
}

impl Config {
    /// Reads a JSON config file (missing fields take defaults), then applies the
    /// environment: SWITCHBOARD_LLM_URL, SWITCHBOARD_LLM_MODEL, SWITCHBOARD_DB_URL.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Io {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?;
                serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        if let Ok(name) = std::env::var("SWITCHBOARD_LLM_PRESET") {
            if !name.trim().is_empty() {
                let (url, model) = llm_preset(&name).ok_or_else(|| ConfigError::Invalid {
                    path: "SWITCHBOARD_LLM_PRESET".into(),
                    reason: format!(
                        "{:?} is not a preset: use {}",
                        name.chars().take(40).collect::<String>(),
                        LLM_PRESETS.map(|p| p.0).join(", ")
                    ),
                })?;
                c.llm.base_url = Some(url.to_string());
                c.llm.model = model.to_string();
                c.llm.local = None;
                // OpenAI's models call tools; servers of open models depend on
                // the model (SWITCHBOARD_LLM_TOOLS=1 turns them on).
                c.llm.tools = url.starts_with("https://api.openai.com");
            }
        }
        if let Ok(url) = std::env::var("SWITCHBOARD_LLM_URL") {
            if !url.trim().is_empty() {
                c.llm.base_url = Some(url);
            }
        }
        if let Ok(r) = std::env::var("SWITCHBOARD_RECORD") {
            c.replay.record = matches!(r.trim(), "1" | "true" | "yes" | "on");
        }
        if let Ok(d) = std::env::var("SWITCHBOARD_RECORDINGS_DIR") {
            if !d.trim().is_empty() {
                c.replay.dir = Some(PathBuf::from(d));
            }
        }
        if let Ok(db) = std::env::var("SWITCHBOARD_DB_URL") {
            if !db.trim().is_empty() {
                c.crm.url = Some(db);
            }
        }
        if let Ok(p) = std::env::var("SWITCHBOARD_TTS_CLOUD") {
            c.tts.cloud.provider = match p.trim().to_ascii_lowercase().as_str() {
                "" | "none" | "off" => None,
                "openai" => Some(CloudVoice::OpenAi),
                "elevenlabs" => Some(CloudVoice::ElevenLabs),
                other => {
                    return Err(ConfigError::Invalid {
                        path: "SWITCHBOARD_TTS_CLOUD".into(),
                        reason: format!(
                            "{:?} is not a cloud voice: use openai, elevenlabs or none",
                            other.chars().take(40).collect::<String>()
                        ),
                    })
                }
            };
        }
        if let Ok(p) = std::env::var("SWITCHBOARD_STT_CLOUD") {
            c.stt.cloud.provider = match p.trim().to_ascii_lowercase().as_str() {
                "" | "none" | "off" => None,
                "openai" => Some("openai".into()),
                other => {
                    return Err(ConfigError::Invalid {
                        path: "SWITCHBOARD_STT_CLOUD".into(),
                        reason: format!(
                            "{:?} is not a cloud recognizer: use openai or none",
                            other.chars().take(40).collect::<String>()
                        ),
                    })
                }
            };
        }
        if let Ok(u) = std::env::var("SWITCHBOARD_STT_URL") {
            if !u.trim().is_empty() {
                c.stt.cloud.base_url = Some(u);
            }
        }
        if let Ok(u) = std::env::var("SWITCHBOARD_TTS_URL") {
            if !u.trim().is_empty() {
                c.tts.cloud.base_url = Some(u);
            }
        }
        if let Ok(v) = std::env::var("SWITCHBOARD_LLM_TOOLS") {
            c.llm.tools = matches!(v.trim(), "1" | "true" | "on" | "yes");
        }
        if let Ok(model) = std::env::var("SWITCHBOARD_LLM_FALLBACK") {
            let model = model.trim();
            c.llm.fallback_local = match model {
                "" | "none" | "off" => None,
                m => Some(LocalLlmSettings {
                    model: m.to_string(),
                    ..LocalLlmSettings::default()
                }),
            };
        }
        if let Ok(model) = std::env::var("SWITCHBOARD_LLM_MODEL") {
            if !model.trim().is_empty() {
                c.llm.model = model;
            }
        }
        Ok(c)
    }

    /// The language model, if one is configured. The API key comes from the OS
    /// keyring, else from SWITCHBOARD_LLM_API_KEY / OPENAI_API_KEY (see
    /// [`crate::secrets`]), here and nowhere else.
    ///
    /// With `llm.local`, the local model's server, shared by every call of this
    /// process; a missing model shows as an error on each reply (which falls back to
    /// the templates), see [`Config::local_llm_problem`].
    pub fn language_model(&self) -> Option<Arc<dyn LanguageModel>> {
        if let Some(local) = &self.llm.local {
            let stall = Duration::from_millis(self.llm.stall_timeout_ms);
            return Some(Arc::new(LocalLlm::shared(local.options(stall))));
        }
        let base_url = self.llm.base_url.clone()?;
        let mut cfg = OpenAiConfig {
            base_url,
            model: self.llm.model.clone(),
            api_key: crate::secrets::get(crate::secrets::SecretName::LlmApiKey),
            ..OpenAiConfig::default()
        };
        cfg.first_token_timeout = Duration::from_millis(self.llm.first_token_timeout_ms);
        cfg.stall_timeout = Duration::from_millis(self.llm.stall_timeout_ms);
        let hosted: Arc<dyn LanguageModel> = Arc::new(shared_client(cfg));
        match &self.llm.fallback_local {
            Some(local) => {
                let stall = Duration::from_millis(self.llm.stall_timeout_ms);
                let fallback: Arc<dyn LanguageModel> =
                    Arc::new(LocalLlm::shared(local.options(stall)));
                Some(Arc::new(LlmChain::new(hosted, vec![fallback])))
            }
            None => Some(hosted),
        }
    }

    /// Whether calls offer the model their tools: a hosted model with tools on.
    pub fn tools_enabled(&self) -> bool {
        self.llm.tools && self.llm.local.is_none() && self.llm.base_url.is_some()
    }

    /// Starts the local model's server now, in the background, if one is
    /// configured: it loads while the call is set up and greeted.
    pub fn start_local_llm(&self) {
        let stall = Duration::from_millis(self.llm.stall_timeout_ms);
        if let Some(local) = &self.llm.local {
            LocalLlm::shared(local.options(stall)).start();
        } else if let (Some(_), Some(fallback)) = (&self.llm.base_url, &self.llm.fallback_local) {
            LocalLlm::shared(fallback.options(stall)).start();
        }
    }

    /// Why the configured local model cannot answer (not installed, server not
    /// built), in words that say how to fix it; None when it can or none is set.
    pub fn local_llm_problem(&self) -> Option<String> {
        let local = self.llm.local.as_ref()?;
        let opts = local.options(Duration::from_millis(self.llm.stall_timeout_ms));
        let problem = crate::llm::local::model_file(&opts)
            .and_then(|_| crate::llm::local::find_server(opts.server.as_deref()))
            .err()?;
        Some(problem.to_string())
    }

    /// The TTS chain of a call: the cloud voice when one is configured, then
    /// Piper when enabled and installed (English only; Arabic falls through to
    /// the next voice), then espeak-ng, which always speaks. The Piper voice is
    /// loaded once per process.
    pub fn text_to_speech(&self) -> Vec<Arc<dyn TextToSpeech>> {
        let mut chain: Vec<Arc<dyn TextToSpeech>> = Vec::new();
        if let Some(cloud) = self.tts.cloud.voice() {
            chain.push(Arc::new(cloud));
        }
        if self.tts.piper {
            let config = PiperConfig {
                espeak_binary: self.tts.espeak_binary.clone(),
                ..PiperConfig::default()
            };
            match PiperTts::installed(config) {
                Ok(piper) => chain.push(Arc::new(piper)),
                Err(e) => {
                    tracing::info!(code = e.code(), error = %e, "Piper voice is off; English uses espeak-ng")
                }
            }
        }
        chain.push(Arc::new(EspeakTts::with_binary(
            self.tts.espeak_binary.clone(),
        )));
        chain
    }

    /// The call's recognizer: OpenAI's transcription first when `stt.cloud` says
    /// so, with the local one behind it; else the local one. The local
    /// recognizer of `stt.model` is loaded once per process and shared by every
    /// call. A model that is not installed (or an unknown name) still gives a
    /// recognizer: each utterance then fails with `stt_unavailable` naming the
    /// fetch command, and the call goes on. None only in a build without
    /// Whisper and without a cloud recognizer.
    pub fn speech_to_text(&self) -> Option<Arc<dyn SpeechToText>> {
        let local = self.local_speech_to_text();
        let Some(cloud) = self.stt.cloud.recognizer() else {
            return local;
        };
        let cloud: Arc<dyn SpeechToText> = Arc::new(cloud);
        Some(Arc::new(crate::stt::SttChain::new(
            cloud,
            local.into_iter().collect(),
        )))
    }

    fn local_speech_to_text(&self) -> Option<Arc<dyn SpeechToText>> {
        #[cfg(feature = "whisper")]
        {
            use crate::stt::whisper::{WhisperSize, WhisperSpeechToText};
            let stt = match WhisperSize::parse(&self.stt.model) {
                Some(size) => WhisperSpeechToText::load_or_unavailable(size),
                None => WhisperSpeechToText::unavailable(
                    WhisperSize::Base,
                    format!(
                        "unknown speech model {:?}: use whisper-base or whisper-tiny-en",
                        self.stt.model
                    ),
                ),
            };
            Some(Arc::new(stt))
        }
        #[cfg(not(feature = "whisper"))]
        {
            None
        }
    }

    /// Synthesizes the personas' English handoff lines with Piper once per
    /// process, in the background, so they play at once when a customer is
    /// routed (they are spoken while the customer waits). For long-lived
    /// processes (the console, a server, benches); a no-op without Piper.
    pub fn prewarm_voices(&self) {
        if !self.tts.piper {
            return;
        }
        static PREWARM: std::sync::Once = std::sync::Once::new();
        let config = PiperConfig {
            espeak_binary: self.tts.espeak_binary.clone(),
            ..PiperConfig::default()
        };
        if let Ok(piper) = PiperTts::installed(config) {
            PREWARM.call_once(|| {
                use crate::routing::{persona, PersonaId};
                piper.prewarm(
                    [PersonaId::Reception, PersonaId::Sales, PersonaId::Support]
                        .into_iter()
                        .map(|id| persona(id).handoff_line(Lang::En))
                        .collect(),
                );
            });
        }
    }

    /// Providers for a call: configured LLM (or templates), espeak-ng, lexicon
    /// sentiment. STT is chosen by the caller (it depends on the transport; see
    /// [`Config::speech_to_text`]).
    /// What a call starts with under this config (callers set the rest: the
    /// call's language, the greeting).
    pub fn call_config(&self) -> CallConfig {
        CallConfig {
            default_lang: self.default_lang,
            turn: self.turn.clone(),
            tools: self.tools_enabled(),
            recording: self.replay.recording(),
            ..Default::default()
        }
    }

    pub fn providers(&self) -> Providers {
        Providers {
            stt: None,
            llm: self.language_model(),
            tts: self.text_to_speech(),
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: self.end_of_turn(),
        }
    }

    /// Smart Turn (semantic end of turn) when it is installed and
    /// `turn.semantic.enabled`; None: turns end on silence alone. Loaded once
    /// per process and shared by every call.
    pub fn end_of_turn(&self) -> Option<Arc<SmartTurn>> {
        if !self.turn.semantic.enabled {
            return None;
        }
        match SmartTurn::shared() {
            Ok(model) => Some(model),
            Err(e) => {
                tracing::info!(code = e.code(), error = %e, "semantic end of turn is off");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_the_usual_openai_compatible_servers() {
        assert_eq!(
            llm_preset("Ollama"),
            Some(("http://127.0.0.1:11434/v1", "qwen2.5:7b-instruct"))
        );
        assert_eq!(
            llm_preset("llama.cpp").unwrap().0,
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(
            llm_preset("LM-Studio").unwrap().0,
            "http://127.0.0.1:1234/v1"
        );
        assert_eq!(llm_preset(" vLLM ").unwrap().1, "Qwen/Qwen2.5-7B-Instruct");
        assert_eq!(llm_preset("openai").unwrap().0, "https://api.openai.com/v1");
        assert_eq!(llm_preset("bard"), None);
    }

    #[test]
    fn a_hosted_model_with_a_local_fallback_is_a_chain_and_without_one_is_not() {
        let mut c = Config::default();
        c.llm.base_url = Some("http://127.0.0.1:9/v1".into());
        let alone = c.language_model().unwrap();
        assert!(alone.fallbacks().is_empty());
        c.llm.fallback_local = Some(LocalLlmSettings::default());
        let chain = c.language_model().unwrap();
        assert_eq!(chain.name(), "openai-compatible");
        let rest = chain.fallbacks();
        assert_eq!(rest.len(), 1);
        assert_eq!(
            rest[0].name(),
            LocalLlm::shared(LocalLlmSettings::default().options(Duration::from_secs(3))).name()
        );
    }
}
