//! The console's own settings: what a supervisor changes on the Settings page.
//!
//! `ConsoleSettings` is plain data (serde, every field defaulted) so the desktop
//! shell can persist it in a file and the webview can edit it through typed
//! bindings. It never holds a secret: API keys live in the OS keyring
//! ([`crate::secrets`]). [`ConsoleSettings::apply_to`] maps the engine-relevant
//! parts onto a [`Config`] when a call starts.

use serde::{Deserialize, Serialize};

use crate::config::{Config, LocalLlmSettings};

/// Speech-to-text models a supervisor may choose (the models themselves ship
/// separately; the choice is kept until they are installed).
pub const STT_MODELS: [&str; 2] = ["whisper-base", "whisper-tiny-en"];
/// Local language models a supervisor may choose (`switchboard models fetch`).
pub const LOCAL_LLM_MODELS: [&str; 2] = [
    crate::llm::local::DEFAULT_MODEL,
    crate::llm::local::SMALL_MODEL,
];
/// Engines that can speak English replies: the Piper neural voice (falls back to
/// espeak-ng when it is not installed) or espeak-ng.
pub const TTS_ENGLISH_VOICES: [&str; 2] = ["piper", "espeak"];
/// Engines that can speak Arabic replies.
pub const TTS_ARABIC_VOICES: [&str; 1] = ["espeak"];
/// A cloud voice first in the chain (both languages; the local voices take over
/// when it fails), or none.
pub const TTS_CLOUD_VOICES: [&str; 3] = ["none", "openai", "elevenlabs"];
/// A cloud recognizer first (its key is under API keys), or none.
pub const STT_CLOUD: [&str; 2] = ["none", "openai"];

/// Words that raise an alert when a customer says them (matched loosely by the UI:
/// case, Arabic letter forms and clitics are folded).
pub const DEFAULT_ALERT_KEYWORDS: [&str; 8] = [
    "manager",
    "cancel",
    "supervisor",
    "مدير",
    "المدير",
    "إلغاء",
    "الغي",
    "شكوى",
];

const MAX_KEYWORDS: usize = 200;
const MAX_KEYWORD_CHARS: usize = 100;
const MAX_TEXT_CHARS: usize = 500;

/// Language of the console's own interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum UiLang {
    #[default]
    En,
    Ar,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct ConsoleSettings {
    pub ui_lang: UiLang,
    pub alerts: AlertRules,
    pub llm: LlmChoice,
    pub stt: SttChoice,
    pub tts: TtsVoices,
    pub turn: TurnTiming,
    pub audio: AudioDevices,
    pub livekit: LivekitChoice,
}

/// The LiveKit server whose rooms the console joins ("Join LiveKit room"). Its
/// API key and secret are kept in the OS keyring (API keys), never here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct LivekitChoice {
    /// `wss://…`, `ws://…` or `http(s)://…`; `LIVEKIT_URL` is used when unset.
    pub url: Option<String>,
}

/// When a call is flagged on the wall (and a desktop notification is sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct AlertRules {
    /// Sentiment at or below this (−1 … 1) counts as negative. f64 so that the
    /// file keeps what was typed (-0.4, not -0.4000000059604645).
    pub threshold: f64,
    /// Consecutive negative customer turns that raise an alert.
    pub turns: u32,
    pub keywords: Vec<String>,
}

/// The language model that writes the agent's replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct LlmChoice {
    /// A local model (one of [`LOCAL_LLM_MODELS`]), served by the `switchboard-llm`
    /// process the console starts on demand. When set it answers and `base_url` is
    /// kept but unused. Default: the local Qwen2.5-0.5B (a missing model falls back
    /// to the template replies, and each reply says why).
    pub local: Option<String>,
    /// OpenAI-compatible base URL (".../v1"). None (and no `local`): the built-in
    /// template replies.
    pub base_url: Option<String>,
    pub model: String,
    /// Longest wait for the first token before the template reply answers instead.
    pub first_token_timeout_ms: u32,
    /// With a server: the local model (one of [`LOCAL_LLM_MODELS`]) that answers
    /// a turn the server fails, before the templates. None: the templates.
    pub fallback_local: Option<String>,
    /// With a server: offer the model the call's tools (open a ticket, look
    /// the customer up, hand the call over).
    pub tools: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct SttChoice {
    /// One of [`STT_MODELS`].
    pub model: String,
    /// One of [`STT_CLOUD`]: a cloud recognizer that hears the customer first,
    /// the local model behind it.
    pub cloud: String,
}

/// The voice (engine) that speaks agent replies in each language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct TtsVoices {
    pub english: String,
    pub arabic: String,
    /// One of [`TTS_CLOUD_VOICES`]; its key is under API keys.
    pub cloud: String,
}

/// The turn-taking timings a supervisor tunes (see [`crate::turn::TurnConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct TurnTiming {
    /// Silence after speech that ends the customer's turn.
    pub silence_hold_ms: u32,
    /// Voiced audio needed before an utterance counts as speech.
    pub min_speech_ms: u32,
    /// Customer speech over the agent needed to interrupt it.
    pub barge_in_min_ms: u32,
    /// A turn longer than this is ended regardless of pauses.
    pub max_turn_ms: u32,
    /// Smart Turn: end a turn sooner when the customer sounds finished and wait
    /// when they pause mid-sentence (when the model is installed).
    pub smart_turn: bool,
}

/// Sound devices of the single-seat console. None: the system default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct AudioDevices {
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// A headset is used: no echo from speakers, so the echo guard of
    /// single-seat calls stays off and the customer can talk over the agent
    /// at any level.
    pub headset: bool,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            threshold: -0.4,
            turns: 2,
            keywords: DEFAULT_ALERT_KEYWORDS
                .iter()
                .map(|k| k.to_string())
                .collect(),
        }
    }
}

impl Default for LlmChoice {
    fn default() -> Self {
        let engine = crate::config::LlmSettings::default();
        Self {
            local: Some(crate::llm::local::DEFAULT_MODEL.into()),
            base_url: None,
            model: engine.model,
            first_token_timeout_ms: u32::try_from(engine.first_token_timeout_ms)
                .unwrap_or(u32::MAX),
            fallback_local: None,
            tools: false,
        }
    }
}

impl Default for SttChoice {
    fn default() -> Self {
        Self {
            model: STT_MODELS[0].into(),
            cloud: STT_CLOUD[0].into(),
        }
    }
}

impl Default for TtsVoices {
    fn default() -> Self {
        Self {
            english: TTS_ENGLISH_VOICES[0].into(),
            arabic: TTS_ARABIC_VOICES[0].into(),
            cloud: TTS_CLOUD_VOICES[0].into(),
        }
    }
}

impl Default for TurnTiming {
    fn default() -> Self {
        Self::from(&crate::turn::TurnConfig::default())
    }
}

impl From<&crate::turn::TurnConfig> for TurnTiming {
    fn from(t: &crate::turn::TurnConfig) -> Self {
        Self {
            silence_hold_ms: t.silence_hold_ms,
            min_speech_ms: t.min_speech_ms,
            barge_in_min_ms: t.barge_in_min_ms,
            max_turn_ms: t.max_turn_ms,
            smart_turn: t.semantic.enabled,
        }
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            ui_lang: UiLang::En,
            alerts: AlertRules::default(),
            llm: LlmChoice::default(),
            stt: SttChoice::default(),
            tts: TtsVoices::default(),
            turn: TurnTiming::default(),
            audio: AudioDevices::default(),
            livekit: LivekitChoice::default(),
        }
    }
}

/// A setting that cannot be used. `field` is the dotted path (`llm.base_url`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SettingsError {
    pub field: &'static str,
    pub reason: String,
}

impl SettingsError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        "invalid_settings"
    }
}

fn in_range(
    field: &'static str,
    value: u32,
    min: u32,
    max: u32,
    unit: &str,
) -> Result<(), SettingsError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SettingsError::new(
            field,
            format!("must be between {min} and {max} {unit}, got {value}"),
        ))
    }
}

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<(), SettingsError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(SettingsError::new(
            field,
            format!(
                "unknown choice {value:?}; expected one of {}",
                allowed.join(", ")
            ),
        ))
    }
}

/// An OpenAI-compatible base URL: http(s), a host, no credentials (keys go to
/// the keyring, never into a settings file).
pub fn check_base_url(url: &str) -> Result<(), SettingsError> {
    const FIELD: &str = "llm.base_url";
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(SettingsError::new(
            FIELD,
            "must start with http:// or https:// (e.g. http://127.0.0.1:8080/v1)",
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        SettingsError::new(
            FIELD,
            format!("not a URL ({e}); expected e.g. http://127.0.0.1:8080/v1"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SettingsError::new(
            FIELD,
            format!(
                "must start with http:// or https://, not {}://",
                parsed.scheme()
            ),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(SettingsError::new(FIELD, "has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SettingsError::new(
            FIELD,
            "must not contain a user name or password; store the API key under API keys instead",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(SettingsError::new(
            FIELD,
            "must not contain a query (?…) or fragment (#…)",
        ));
    }
    Ok(())
}

fn tidy(s: &mut Option<String>) {
    if let Some(v) = s {
        let t = v.trim();
        if t.is_empty() {
            *s = None;
        } else if t.len() != v.len() {
            *s = Some(t.to_string());
        }
    }
}

impl ConsoleSettings {
    /// Defaults, with the LLM and turn timings taken from the engine config (so a
    /// console started with SWITCHBOARD_LLM_URL shows that LLM until settings are saved).
    pub fn from_config(config: &Config) -> Self {
        Self {
            llm: LlmChoice {
                // The config's local model; with neither a local model nor a URL
                // configured, the console's default (the local model) applies.
                local: match (&config.llm.local, &config.llm.base_url) {
                    (Some(local), _) => Some(local.model.clone()),
                    (None, Some(_)) => None,
                    (None, None) => LlmChoice::default().local,
                },
                base_url: config.llm.base_url.clone(),
                model: config.llm.model.clone(),
                first_token_timeout_ms: u32::try_from(config.llm.first_token_timeout_ms)
                    .unwrap_or(u32::MAX),
                fallback_local: config.llm.fallback_local.as_ref().map(|l| l.model.clone()),
                tools: config.llm.tools,
            },
            stt: SttChoice {
                model: if STT_MODELS.contains(&config.stt.model.as_str()) {
                    config.stt.model.clone()
                } else {
                    SttChoice::default().model
                },
                cloud: if config.stt.cloud.provider.as_deref() == Some("openai") {
                    "openai".into()
                } else {
                    STT_CLOUD[0].into()
                },
            },
            turn: TurnTiming::from(&config.turn),
            livekit: LivekitChoice {
                url: config.livekit.url.clone(),
            },
            ..Self::default()
        }
    }

    /// Trims text fields; empty optional text means "not set"; blank and duplicate
    /// keywords are dropped. Call before [`validate`](Self::validate) on user input.
    pub fn normalize(&mut self) {
        tidy(&mut self.llm.base_url);
        tidy(&mut self.llm.local);
        tidy(&mut self.llm.fallback_local);
        tidy(&mut self.audio.input_device);
        tidy(&mut self.audio.output_device);
        tidy(&mut self.livekit.url);
        self.llm.model = self.llm.model.trim().to_string();
        let mut seen = std::collections::HashSet::new();
        self.alerts.keywords = std::mem::take(&mut self.alerts.keywords)
            .into_iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty() && seen.insert(k.clone()))
            .collect();
    }

    /// Checks every field; the first problem found is returned with the field's path.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let a = &self.alerts;
        if !a.threshold.is_finite() || !(-1.0..=1.0).contains(&a.threshold) {
            return Err(SettingsError::new(
                "alerts.threshold",
                format!("must be between -1 and 1, got {}", a.threshold),
            ));
        }
        in_range("alerts.turns", a.turns, 1, 20, "turns")?;
        if a.keywords.len() > MAX_KEYWORDS {
            return Err(SettingsError::new(
                "alerts.keywords",
                format!("at most {MAX_KEYWORDS} keywords, got {}", a.keywords.len()),
            ));
        }
        for k in &a.keywords {
            if k.trim().is_empty() {
                return Err(SettingsError::new("alerts.keywords", "a keyword is empty"));
            }
            if k.chars().count() > MAX_KEYWORD_CHARS {
                return Err(SettingsError::new(
                    "alerts.keywords",
                    format!("a keyword is longer than {MAX_KEYWORD_CHARS} characters"),
                ));
            }
        }

        if let Some(fallback) = &self.llm.fallback_local {
            one_of("llm.fallback_local", fallback, &LOCAL_LLM_MODELS)?;
        }
        if let Some(local) = &self.llm.local {
            one_of("llm.local", local, &LOCAL_LLM_MODELS)?;
        }
        if let Some(url) = &self.llm.base_url {
            check_base_url(url)?;
        }
        let model = self.llm.model.trim();
        if model.is_empty() {
            return Err(SettingsError::new(
                "llm.model",
                "must not be empty (e.g. gpt-4o-mini, or the name your local server loaded)",
            ));
        }
        if model.chars().count() > MAX_TEXT_CHARS {
            return Err(SettingsError::new("llm.model", "is too long"));
        }
        in_range(
            "llm.first_token_timeout_ms",
            self.llm.first_token_timeout_ms,
            200,
            60_000,
            "ms",
        )?;

        one_of("stt.model", &self.stt.model, &STT_MODELS)?;
        one_of("stt.cloud", &self.stt.cloud, &STT_CLOUD)?;
        one_of("tts.english", &self.tts.english, &TTS_ENGLISH_VOICES)?;
        one_of("tts.arabic", &self.tts.arabic, &TTS_ARABIC_VOICES)?;
        one_of("tts.cloud", &self.tts.cloud, &TTS_CLOUD_VOICES)?;

        let t = &self.turn;
        in_range("turn.silence_hold_ms", t.silence_hold_ms, 100, 5_000, "ms")?;
        in_range("turn.min_speech_ms", t.min_speech_ms, 20, 2_000, "ms")?;
        in_range("turn.barge_in_min_ms", t.barge_in_min_ms, 20, 2_000, "ms")?;
        in_range("turn.max_turn_ms", t.max_turn_ms, 2_000, 120_000, "ms")?;
        if t.silence_hold_ms >= t.max_turn_ms {
            return Err(SettingsError::new(
                "turn.max_turn_ms",
                "must be longer than the end-of-turn silence",
            ));
        }

        if let Some(url) = &self.livekit.url {
            if url.chars().count() > MAX_TEXT_CHARS {
                return Err(SettingsError::new("livekit.url", "is too long"));
            }
            crate::livekit::credentials::http_base(url).map_err(|_| {
                SettingsError::new(
                    "livekit.url",
                    "must be a wss://, ws://, https:// or http:// address without a user or password",
                )
            })?;
        }

        for (field, dev) in [
            ("audio.input_device", &self.audio.input_device),
            ("audio.output_device", &self.audio.output_device),
        ] {
            if let Some(d) = dev {
                if d.trim().is_empty() || d.chars().count() > MAX_TEXT_CHARS {
                    return Err(SettingsError::new(
                        field,
                        "must be a device name from the list",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Maps the LLM, speech model, English voice and turn timings onto the engine's
    /// config (the Arabic voice has a single engine today).
    pub fn apply_to(&self, config: &mut Config) {
        config.llm.local = self.llm.local.as_ref().map(|model| LocalLlmSettings {
            model: model.clone(),
            ..config.llm.local.clone().unwrap_or_default()
        });
        config.llm.base_url = self.llm.base_url.clone();
        config.llm.model = self.llm.model.clone();
        config.llm.first_token_timeout_ms = u64::from(self.llm.first_token_timeout_ms);
        config.turn.silence_hold_ms = self.turn.silence_hold_ms;
        config.turn.min_speech_ms = self.turn.min_speech_ms;
        config.turn.barge_in_min_ms = self.turn.barge_in_min_ms;
        config.turn.max_turn_ms = self.turn.max_turn_ms;
        config.turn.semantic.enabled = self.turn.smart_turn;
        config.stt.model = self.stt.model.clone();
        config.stt.cloud.provider = (self.stt.cloud == "openai").then(|| "openai".to_string());
        config.llm.tools = self.llm.tools;
        config.llm.fallback_local =
            self.llm
                .fallback_local
                .as_ref()
                .map(|model| LocalLlmSettings {
                    model: model.clone(),
                    ..config.llm.fallback_local.clone().unwrap_or_default()
                });
        config.tts.piper = self.tts.english == "piper";
        config.tts.cloud.provider = match self.tts.cloud.as_str() {
            "openai" => Some(crate::tts::cloud::CloudVoice::OpenAi),
            "elevenlabs" => Some(crate::tts::cloud::CloudVoice::ElevenLabs),
            _ => None,
        };
        config.livekit.url = self.livekit.url.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ConsoleSettings {
        ConsoleSettings::default()
    }

    fn field_of(s: &ConsoleSettings) -> &'static str {
        s.validate().expect_err("should be invalid").field
    }

    #[test]
    fn defaults_are_valid_and_match_the_engine() {
        let s = ConsoleSettings::default();
        s.validate().expect("defaults validate");
        let mut c = Config::default();
        let before = c.clone();
        s.apply_to(&mut c);
        assert_eq!(c.turn, before.turn);
        assert_eq!(c.llm.model, before.llm.model);
        assert_eq!(
            c.llm.first_token_timeout_ms,
            before.llm.first_token_timeout_ms
        );
        assert_eq!(c.llm.base_url, None);
        // The console's default is the fully local voice agent.
        assert_eq!(
            c.llm.local.as_ref().map(|l| l.model.as_str()),
            Some("qwen2.5-0.5b")
        );
        assert_eq!(c.stt.model, "whisper-base");
        assert!(c.tts.piper);
        assert!(c.turn.semantic.enabled);
    }

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_ignored() {
        let s: ConsoleSettings =
            serde_json::from_str(r#"{"ui_lang":"ar","alerts":{"turns":3},"future":1}"#).unwrap();
        assert_eq!(s.ui_lang, UiLang::Ar);
        assert_eq!(s.alerts.turns, 3);
        assert_eq!(s.alerts.threshold, -0.4);
        assert_eq!(s.alerts.keywords.len(), DEFAULT_ALERT_KEYWORDS.len());
        assert_eq!(s.llm, LlmChoice::default());
        assert!(serde_json::from_str::<ConsoleSettings>(r#"{"ui_lang":"fr"}"#).is_err());
    }

    #[test]
    fn round_trips_through_json_with_stable_field_names() {
        let mut s = valid();
        s.llm.base_url = Some("http://127.0.0.1:8080/v1".into());
        s.audio.input_device = Some("USB headset".into());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ui_lang"], "en");
        assert_eq!(v["llm"]["base_url"], "http://127.0.0.1:8080/v1");
        assert_eq!(v["audio"]["output_device"], serde_json::Value::Null);
        assert_eq!(v["turn"]["silence_hold_ms"], 500);
        assert_eq!(v["alerts"]["threshold"].as_f64(), Some(-0.4));
        let back: ConsoleSettings = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn thresholds_out_of_range_are_rejected() {
        let mut s = valid();
        s.alerts.threshold = 1.5;
        assert_eq!(field_of(&s), "alerts.threshold");
        s.alerts.threshold = f64::NAN;
        assert_eq!(field_of(&s), "alerts.threshold");
        s.alerts.threshold = -1.0;
        s.validate().unwrap();
        s.alerts.turns = 0;
        assert_eq!(field_of(&s), "alerts.turns");
        s = valid();
        s.turn.silence_hold_ms = 50;
        assert_eq!(field_of(&s), "turn.silence_hold_ms");
        s = valid();
        s.turn.max_turn_ms = 2_000;
        s.turn.silence_hold_ms = 2_000;
        assert_eq!(field_of(&s), "turn.max_turn_ms");
        s = valid();
        s.llm.first_token_timeout_ms = 0;
        assert_eq!(field_of(&s), "llm.first_token_timeout_ms");
    }

    #[test]
    fn the_livekit_url_is_checked_and_reaches_the_engine() {
        let mut s = ConsoleSettings::default();
        assert_eq!(s.livekit.url, None);
        s.livekit.url = Some("  wss://callfloor.example.com  ".into());
        s.normalize();
        s.validate().unwrap();
        let mut c = Config::default();
        s.apply_to(&mut c);
        assert_eq!(
            c.livekit.url.as_deref(),
            Some("wss://callfloor.example.com")
        );
        assert_eq!(ConsoleSettings::from_config(&c).livekit.url, c.livekit.url);
        for bad in ["callfloor.example.com", "ftp://x", "wss://key:secret@x"] {
            s.livekit.url = Some(bad.into());
            let e = s.validate().expect_err(bad);
            assert_eq!(e.field, "livekit.url");
        }
        s.livekit.url = Some("   ".into());
        s.normalize();
        assert_eq!(s.livekit.url, None);
    }

    #[test]
    fn base_url_must_be_http_without_credentials() {
        for ok in [
            "http://127.0.0.1:8080/v1",
            "https://api.openai.com/v1",
            "http://localhost:11434/v1/",
        ] {
            check_base_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, says) in [
            ("ftp://example.com/v1", "http:// or https://"),
            ("127.0.0.1:8080", "http:// or https://"),
            ("not a url", "http:// or https://"),
            ("http://exa mple.com/v1", "not a URL"),
            ("https://user:sk-secret@api.example.com/v1", "API key"),
            ("https://api.example.com/v1?key=sk-secret", "query"),
        ] {
            let e = check_base_url(bad).expect_err(bad);
            assert_eq!(e.field, "llm.base_url");
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert!(!e.to_string().contains("sk-secret"), "{e}");
        }
    }

    #[test]
    fn model_and_choices_are_checked() {
        let mut s = valid();
        s.llm.model = "  ".into();
        assert_eq!(field_of(&s), "llm.model");
        s = valid();
        s.stt.model = "whisper-huge".into();
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "stt.model");
        assert!(e.reason.contains("whisper-base"), "{e}");
        s = valid();
        s.stt.model = "whisper-tiny-en".into();
        s.validate().unwrap();
        s.tts.arabic = "piper".into();
        assert_eq!(field_of(&s), "tts.arabic");
        s.tts.arabic = "espeak".into();
        s.tts.cloud = "google".into();
        assert_eq!(field_of(&s), "tts.cloud");
        s.tts.cloud = "none".into();
        s.stt.cloud = "deepgram".into();
        assert_eq!(field_of(&s), "stt.cloud");
        s.stt.cloud = "none".into();
        s.llm.fallback_local = Some("gpt-5".into());
        assert_eq!(field_of(&s), "llm.fallback_local");
        s = valid();
        s.alerts.keywords = vec!["x".repeat(101)];
        assert_eq!(field_of(&s), "alerts.keywords");
        s = valid();
        s.llm.local = Some("llama-70b".into());
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "llm.local");
        assert!(e.reason.contains("smollm2-135m"), "{e}");
        s.llm.local = Some("smollm2-135m".into());
        s.validate().unwrap();
    }

    #[test]
    fn normalize_tidies_user_input() {
        let mut s = valid();
        s.llm.base_url = Some("   ".into());
        s.llm.model = "  llama  ".into();
        s.audio.input_device = Some(" Mic ".into());
        s.audio.output_device = Some(String::new());
        s.alerts.keywords = vec![
            " refund ".into(),
            String::new(),
            "refund".into(),
            "مدير".into(),
        ];
        s.normalize();
        assert_eq!(s.llm.base_url, None);
        assert_eq!(s.llm.model, "llama");
        assert_eq!(s.audio.input_device.as_deref(), Some("Mic"));
        assert_eq!(s.audio.output_device, None);
        assert_eq!(s.alerts.keywords, vec!["refund", "مدير"]);
        s.validate().unwrap();
    }

    #[test]
    fn apply_to_maps_llm_and_turn_onto_the_engine_config() {
        let mut s = valid();
        s.llm = LlmChoice {
            local: None,
            base_url: Some("http://127.0.0.1:8080/v1".into()),
            model: "qwen".into(),
            first_token_timeout_ms: 2500,
            fallback_local: Some("smollm2-135m".into()),
            tools: true,
        };
        s.turn = TurnTiming {
            silence_hold_ms: 700,
            min_speech_ms: 120,
            barge_in_min_ms: 240,
            max_turn_ms: 20_000,
            smart_turn: false,
        };
        s.stt.model = "whisper-tiny-en".into();
        s.stt.cloud = "openai".into();
        s.tts.english = "espeak".into();
        s.tts.cloud = "elevenlabs".into();
        let mut c = Config::default();
        c.llm.stall_timeout_ms = 1234;
        c.tts
            .cloud
            .voices
            .insert("sales.ar".into(), "voice-x".into());
        c.turn.pre_roll_ms = 260;
        s.apply_to(&mut c);
        assert_eq!(c.llm.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"));
        assert_eq!(c.llm.model, "qwen");
        assert_eq!(c.llm.first_token_timeout_ms, 2500);
        assert_eq!(c.llm.stall_timeout_ms, 1234, "not a console setting: kept");
        assert_eq!(c.turn.silence_hold_ms, 700);
        assert_eq!(c.turn.min_speech_ms, 120);
        assert_eq!(c.turn.barge_in_min_ms, 240);
        assert_eq!(c.turn.max_turn_ms, 20_000);
        assert_eq!(c.turn.pre_roll_ms, 260, "not a console setting: kept");
        assert!(!c.turn.semantic.enabled);
        assert_eq!(c.stt.model, "whisper-tiny-en");
        assert_eq!(c.stt.cloud.provider.as_deref(), Some("openai"));
        assert!(c.llm.tools && c.tools_enabled());
        assert_eq!(
            c.llm.fallback_local.as_ref().map(|l| l.model.as_str()),
            Some("smollm2-135m")
        );
        assert!(!c.tts.piper);
        assert_eq!(
            c.tts.cloud.provider,
            Some(crate::tts::cloud::CloudVoice::ElevenLabs)
        );
        assert_eq!(
            c.tts.cloud.voices["sales.ar"], "voice-x",
            "not a console setting: kept"
        );
        assert!(c.llm.local.is_none());
        // A local model answers instead of the URL, keeping the config's server
        // settings; removing it brings the URL back.
        c.llm.local = Some(LocalLlmSettings {
            ctx_size: 2048,
            ..LocalLlmSettings::default()
        });
        s.llm.local = Some("smollm2-135m".into());
        s.apply_to(&mut c);
        let local = c.llm.local.clone().expect("local model");
        assert_eq!(local.model, "smollm2-135m");
        assert_eq!(local.ctx_size, 2048, "not a console setting: kept");
        s.llm.local = None;
        s.apply_to(&mut c);
        assert!(c.llm.local.is_none());
        assert_eq!(c.llm.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"));
        // Back to templates: the base URL is cleared.
        s.llm.base_url = None;
        s.apply_to(&mut c);
        assert_eq!(c.llm.base_url, None);
        assert!(c.language_model().is_none());
    }

    #[test]
    fn from_config_shows_the_configured_llm() {
        let mut c = Config::default();
        c.llm.base_url = Some("http://127.0.0.1:9999/v1".into());
        c.llm.model = "local".into();
        let s = ConsoleSettings::from_config(&c);
        assert_eq!(s.llm.base_url.as_deref(), Some("http://127.0.0.1:9999/v1"));
        assert_eq!(s.llm.model, "local");
        assert_eq!(s.llm.local, None, "a configured URL is not overridden");
        assert_eq!(s.alerts, AlertRules::default());
        // Nothing configured: the console's local default.
        let s = ConsoleSettings::from_config(&Config::default());
        assert_eq!(s.llm.local.as_deref(), Some("qwen2.5-0.5b"));
        // A configured local model and speech model are shown.
        let mut c = Config::default();
        c.llm.local = Some(LocalLlmSettings {
            model: "smollm2-135m".into(),
            ..LocalLlmSettings::default()
        });
        c.stt.model = "whisper-tiny-en".into();
        let s = ConsoleSettings::from_config(&c);
        assert_eq!(s.llm.local.as_deref(), Some("smollm2-135m"));
        assert_eq!(s.stt.model, "whisper-tiny-en");
    }
}
