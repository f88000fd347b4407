//! One typed configuration with defaults that work offline. Secrets never live here:
//! API keys come from the OS keyring or the environment ([`crate::secrets`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::call::Providers;
use crate::lang::Lang;
use crate::llm::openai::{OpenAiCompatible, OpenAiConfig};
use crate::llm::LanguageModel;
use crate::sentiment::LexiconSentiment;
use crate::tts::espeak::EspeakTts;
use crate::tts::TextToSpeech;
use crate::turn::TurnConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub llm: LlmSettings,
    pub tts: TtsSettings,
    pub turn: TurnConfig,
    /// Language of the greeting when a call's language is not fixed.
    pub default_lang: Lang,
    pub crm: CrmSettings,
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
            tts: TtsSettings::default(),
            turn: TurnConfig::default(),
            default_lang: Lang::Ar,
            crm: CrmSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (".../v1"). None: the template replier answers.
    pub base_url: Option<String>,
    pub model: String,
    pub first_token_timeout_ms: u64,
    pub stall_timeout_ms: u64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".into(),
            first_token_timeout_ms: 4000,
            stall_timeout_ms: 3000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TtsSettings {
    pub espeak_binary: PathBuf,
}

impl Default for TtsSettings {
    fn default() -> Self {
        Self {
            espeak_binary: PathBuf::from("espeak-ng"),
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
        if let Ok(url) = std::env::var("SWITCHBOARD_LLM_URL") {
            if !url.trim().is_empty() {
                c.llm.base_url = Some(url);
            }
        }
        if let Ok(db) = std::env::var("SWITCHBOARD_DB_URL") {
            if !db.trim().is_empty() {
                c.crm.url = Some(db);
            }
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
    pub fn language_model(&self) -> Option<Arc<dyn LanguageModel>> {
        let base_url = self.llm.base_url.clone()?;
        let mut cfg = OpenAiConfig {
            base_url,
            model: self.llm.model.clone(),
            api_key: crate::secrets::get(crate::secrets::SecretName::LlmApiKey),
            ..OpenAiConfig::default()
        };
        cfg.first_token_timeout = Duration::from_millis(self.llm.first_token_timeout_ms);
        cfg.stall_timeout = Duration::from_millis(self.llm.stall_timeout_ms);
        Some(Arc::new(OpenAiCompatible::new(cfg)))
    }

    pub fn text_to_speech(&self) -> Vec<Arc<dyn TextToSpeech>> {
        vec![Arc::new(EspeakTts::with_binary(
            self.tts.espeak_binary.clone(),
        ))]
    }

    /// Providers for a call: configured LLM (or templates), espeak-ng, lexicon
    /// sentiment. STT is chosen by the caller (it depends on the transport).
    pub fn providers(&self) -> Providers {
        Providers {
            stt: None,
            llm: self.language_model(),
            tts: self.text_to_speech(),
            sentiment: Arc::new(LexiconSentiment::new()),
        }
    }
}
