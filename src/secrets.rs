//! API keys: in the OS keyring (macOS Keychain, Windows Credential Manager, the
//! Secret Service on Linux), with environment variables as the fallback for
//! servers, CI and the CLI. Never in a settings or config file, never in a log.
//!
//! Lookups go keyring first, then the environment. Each secret is stored under the
//! service `switchboard` (override: `SWITCHBOARD_KEYRING_SERVICE`, so tests use
//! their own) with its [`SecretName`] as the user name. `SWITCHBOARD_KEYRING=off`
//! skips the keyring entirely (headless workers read the environment only).
//!
//! Every keyring call runs on its own thread with a deadline: a keyring that never
//! answers (a locked collection waiting on a prompt nobody sees) gives
//! `keyring_unavailable` after a few seconds instead of freezing the caller.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Service name in the OS keyring.
pub const DEFAULT_SERVICE: &str = "switchboard";
/// Overrides [`DEFAULT_SERVICE`] (tests, or two installations side by side).
pub const SERVICE_ENV: &str = "SWITCHBOARD_KEYRING_SERVICE";
/// `off` (or `0`, `false`, `no`) disables the keyring: environment variables only.
pub const KEYRING_SWITCH_ENV: &str = "SWITCHBOARD_KEYRING";
/// How long one keyring operation may take before it counts as unavailable.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest secret accepted (API keys and JWT-style secrets are far shorter).
pub const MAX_SECRET_CHARS: usize = 8192;

/// The secrets Switchboard knows. The serialized name is the keyring user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SecretName {
    /// Bearer token of the OpenAI-compatible LLM server.
    LlmApiKey,
    LivekitApiKey,
    LivekitApiSecret,
    /// Cloud speech-to-text.
    DeepgramApiKey,
    /// Cloud text-to-speech.
    ElevenlabsApiKey,
    /// OpenAI's speech and transcription APIs (cloud voices and recognition).
    OpenaiApiKey,
}

impl SecretName {
    pub const ALL: [SecretName; 6] = [
        SecretName::LlmApiKey,
        SecretName::LivekitApiKey,
        SecretName::LivekitApiSecret,
        SecretName::DeepgramApiKey,
        SecretName::ElevenlabsApiKey,
        SecretName::OpenaiApiKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::LlmApiKey => "llm_api_key",
            SecretName::LivekitApiKey => "livekit_api_key",
            SecretName::LivekitApiSecret => "livekit_api_secret",
            SecretName::DeepgramApiKey => "deepgram_api_key",
            SecretName::ElevenlabsApiKey => "elevenlabs_api_key",
            SecretName::OpenaiApiKey => "openai_api_key",
        }
    }

    pub fn parse(s: &str) -> Result<SecretName, SecretError> {
        SecretName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| SecretError::UnknownName(s.chars().take(64).collect()))
    }

    /// What the key is for, in English (the console translates by name).
    pub fn label(self) -> &'static str {
        match self {
            SecretName::LlmApiKey => "LLM API key (OpenAI-compatible)",
            SecretName::LivekitApiKey => "LiveKit API key",
            SecretName::LivekitApiSecret => "LiveKit API secret",
            SecretName::DeepgramApiKey => "Deepgram API key (cloud speech-to-text)",
            SecretName::ElevenlabsApiKey => "ElevenLabs API key (cloud voices)",
            SecretName::OpenaiApiKey => "OpenAI API key (cloud voices and recognition)",
        }
    }

    /// Environment variables consulted, in order, when the keyring has no value.
    pub fn env_vars(self) -> &'static [&'static str] {
        match self {
            SecretName::LlmApiKey => &crate::llm::openai::API_KEY_ENV_VARS,
            SecretName::LivekitApiKey => &["LIVEKIT_API_KEY"],
            SecretName::LivekitApiSecret => &["LIVEKIT_API_SECRET"],
            SecretName::DeepgramApiKey => &["DEEPGRAM_API_KEY"],
            SecretName::ElevenlabsApiKey => &["ELEVENLABS_API_KEY"],
            SecretName::OpenaiApiKey => &["OPENAI_API_KEY"],
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a secret would be read from. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum SecretStatus {
    Keyring,
    Environment,
    Missing,
}

/// A reason the keyring could not be asked, for the UI (`{code, message}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SecretProblem {
    pub code: String,
    pub message: String,
}

/// One row of the console's API keys list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SecretInfo {
    pub name: SecretName,
    pub label: String,
    pub env_vars: Vec<String>,
    pub status: SecretStatus,
    /// Set when the keyring could not be read (the status then reflects the
    /// environment only).
    pub problem: Option<SecretProblem>,
}

/// A secret on its way in (from the UI): `Debug` never shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Messages name the secret and the cause; they never contain a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("unknown secret {0:?}")]
    UnknownName(String),
    #[error("the value is empty")]
    Empty,
    #[error("the value is longer than {MAX_SECRET_CHARS} characters")]
    TooLong,
    #[error("the OS keyring is not available: {0}")]
    KeyringUnavailable(String),
    #[error("the OS keyring refused the request: {0}")]
    Keyring(String),
}

impl SecretError {
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::UnknownName(_) => "unknown_secret",
            SecretError::Empty => "empty_secret",
            SecretError::TooLong => "secret_too_long",
            SecretError::KeyringUnavailable(_) => "keyring_unavailable",
            SecretError::Keyring(_) => "keyring_error",
        }
    }

    fn problem(&self) -> SecretProblem {
        SecretProblem {
            code: self.code().into(),
            message: self.to_string(),
        }
    }
}

/// Describes a keyring failure without its payload (`BadEncoding` carries the
/// stored bytes; platform errors only describe the transport).
fn keyring_error(e: keyring::Error) -> SecretError {
    use keyring::Error as K;
    match e {
        K::PlatformFailure(inner) => SecretError::KeyringUnavailable(format!(
            "{inner}. On Linux a Secret Service (GNOME Keyring, KWallet) must run in the \
             session; keys can also come from environment variables"
        )),
        K::NoStorageAccess(inner) => SecretError::KeyringUnavailable(format!(
            "it is locked or access was denied ({inner}); unlock it and try again"
        )),
        K::NoEntry => SecretError::Keyring("no entry".into()),
        K::BadEncoding(_) => {
            SecretError::Keyring("the stored value is not text; remove it and set it again".into())
        }
        K::TooLong(attr, limit) => SecretError::Keyring(format!(
            "{attr} is longer than the keyring's limit of {limit}"
        )),
        K::Invalid(attr, reason) => SecretError::Keyring(format!("{attr} is invalid: {reason}")),
        K::Ambiguous(items) => SecretError::Keyring(format!(
            "{} entries match; remove the key and set it again",
            items.len()
        )),
        other => SecretError::Keyring(format!("{other}")),
    }
}

/// Runs one keyring operation on its own thread, giving up after `timeout`.
fn bounded<T: Send + 'static>(
    timeout: Duration,
    op: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SecretError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(op());
        })
        .map_err(|e| SecretError::KeyringUnavailable(format!("cannot start a thread: {e}")))?;
    rx.recv_timeout(timeout).map_err(|_| {
        SecretError::KeyringUnavailable(format!(
            "it did not answer within {} s",
            timeout.as_secs_f32()
        ))
    })
}

#[derive(Clone)]
enum EnvSource {
    Process,
    Fixed(HashMap<String, String>),
}

/// The keyring + environment lookup for one keyring service.
#[derive(Clone)]
pub struct SecretStore {
    service: String,
    keyring: bool,
    env: EnvSource,
    timeout: Duration,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("service", &self.service)
            .field("keyring", &self.keyring)
            .field(
                "env",
                &match self.env {
                    EnvSource::Process => "process",
                    EnvSource::Fixed(_) => "fixed (<redacted>)",
                },
            )
            .finish()
    }
}

impl Default for SecretStore {
    fn default() -> Self {
        Self::from_env()
    }
}

impl SecretStore {
    /// The store the app uses: service from `SWITCHBOARD_KEYRING_SERVICE` (default
    /// `switchboard`), keyring unless `SWITCHBOARD_KEYRING=off`, process environment.
    pub fn from_env() -> Self {
        let service = std::env::var(SERVICE_ENV)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE.into());
        let keyring = !matches!(
            std::env::var(KEYRING_SWITCH_ENV)
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
                .as_str(),
            "off" | "0" | "false" | "no"
        );
        Self {
            service,
            keyring,
            env: EnvSource::Process,
            timeout: KEYRING_TIMEOUT,
        }
    }

    /// A store on another keyring service (tests use a fresh one each).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            ..Self::from_env()
        }
    }

    /// Reads "environment variables" from `vars` instead of the process (tests).
    pub fn with_env(mut self, vars: HashMap<String, String>) -> Self {
        self.env = EnvSource::Fixed(vars);
        self
    }

    pub fn without_keyring(mut self) -> Self {
        self.keyring = false;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, name: SecretName) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, name.as_str()).map_err(keyring_error)
    }

    fn disabled() -> SecretError {
        SecretError::KeyringUnavailable(format!(
            "it is turned off ({KEYRING_SWITCH_ENV}=off); keys come from environment variables"
        ))
    }

    /// Stores `value` (trimmed) in the keyring.
    pub fn set(&self, name: SecretName, value: &str) -> Result<(), SecretError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        if value.chars().count() > MAX_SECRET_CHARS {
            return Err(SecretError::TooLong);
        }
        if !self.keyring {
            return Err(Self::disabled());
        }
        let entry = self.entry(name)?;
        let value = value.to_string();
        let result = bounded(self.timeout, move || entry.set_password(&value))?;
        result.map_err(keyring_error).inspect_err(|e| {
            tracing::warn!(
                secret = name.as_str(),
                code = e.code(),
                "keyring write failed"
            )
        })
    }

    /// Removes the secret from the keyring. Removing an absent secret succeeds.
    pub fn delete(&self, name: SecretName) -> Result<(), SecretError> {
        if !self.keyring {
            return Err(Self::disabled());
        }
        let entry = self.entry(name)?;
        match bounded(self.timeout, move || entry.delete_credential())? {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }

    /// The keyring's value only: `Ok(None)` when it has none.
    pub fn keyring_value(&self, name: SecretName) -> Result<Option<String>, SecretError> {
        if !self.keyring {
            return Ok(None);
        }
        let entry = self.entry(name)?;
        match bounded(self.timeout, move || entry.get_password())? {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    /// The environment's value only: the first of [`SecretName::env_vars`] set to
    /// something other than blanks.
    pub fn env_value(&self, name: SecretName) -> Option<String> {
        name.env_vars().iter().find_map(|var| {
            let v = match &self.env {
                EnvSource::Process => std::env::var(var).ok(),
                EnvSource::Fixed(m) => m.get(*var).cloned(),
            }?;
            let v = v.trim();
            (!v.is_empty()).then(|| v.to_string())
        })
    }

    /// The secret: keyring first, then the environment. A keyring that cannot be
    /// read is logged (code only) and the environment answers.
    pub fn get(&self, name: SecretName) -> Option<String> {
        match self.keyring_value(name) {
            Ok(Some(v)) => return Some(v),
            Ok(None) => {}
            Err(e) => tracing::debug!(
                secret = name.as_str(),
                code = e.code(),
                "keyring not readable; trying the environment"
            ),
        }
        self.env_value(name)
    }

    /// Where [`get`](Self::get) would find the secret. Fails only when the keyring
    /// cannot be read (the caller decides whether the environment is enough).
    pub fn try_status(&self, name: SecretName) -> Result<SecretStatus, SecretError> {
        if self.keyring_value(name)?.is_some() {
            return Ok(SecretStatus::Keyring);
        }
        Ok(self.env_status(name))
    }

    fn env_status(&self, name: SecretName) -> SecretStatus {
        if self.env_value(name).is_some() {
            SecretStatus::Environment
        } else {
            SecretStatus::Missing
        }
    }

    /// Like [`try_status`](Self::try_status), reporting the environment when the
    /// keyring cannot be read.
    pub fn status(&self, name: SecretName) -> SecretStatus {
        self.try_status(name)
            .unwrap_or_else(|_| self.env_status(name))
    }

    /// Every known secret's status. After the first keyring failure the keyring is
    /// not asked again (one slow keyring must not cost five timeouts).
    pub fn statuses(&self) -> Vec<SecretInfo> {
        let mut failure: Option<SecretError> = None;
        SecretName::ALL
            .into_iter()
            .map(|name| {
                let (status, problem) = match &failure {
                    Some(e) => (self.env_status(name), Some(e.problem())),
                    None => match self.try_status(name) {
                        Ok(s) => (s, None),
                        Err(e) => {
                            let p = e.problem();
                            failure = Some(e);
                            (self.env_status(name), Some(p))
                        }
                    },
                };
                SecretInfo {
                    name,
                    label: name.label().into(),
                    env_vars: name.env_vars().iter().map(|v| v.to_string()).collect(),
                    status,
                    problem,
                }
            })
            .collect()
    }
}

/// The secret from the app's store (keyring, then environment).
pub fn get(name: SecretName) -> Option<String> {
    SecretStore::from_env().get(name)
}

pub fn set(name: SecretName, value: &str) -> Result<(), SecretError> {
    SecretStore::from_env().set(name, value)
}

pub fn delete(name: SecretName) -> Result<(), SecretError> {
    SecretStore::from_env().delete(name)
}

pub fn status(name: SecretName) -> SecretStatus {
    SecretStore::from_env().status(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for n in SecretName::ALL {
            assert_eq!(SecretName::parse(n.as_str()).unwrap(), n);
            assert_eq!(
                serde_json::to_value(n).unwrap(),
                serde_json::Value::String(n.as_str().into())
            );
            assert!(!n.env_vars().is_empty());
        }
        let e = SecretName::parse("root_password").unwrap_err();
        assert_eq!(e.code(), "unknown_secret");
        assert_eq!(
            SecretName::LlmApiKey.env_vars(),
            &["SWITCHBOARD_LLM_API_KEY", "OPENAI_API_KEY"]
        );
    }

    #[test]
    fn environment_fallback_in_order_without_the_keyring() {
        let s = SecretStore::with_service("unused")
            .without_keyring()
            .with_env(env(&[
                ("OPENAI_API_KEY", " sk-2 "),
                ("LIVEKIT_API_KEY", "  "),
            ]));
        assert_eq!(s.get(SecretName::LlmApiKey).as_deref(), Some("sk-2"));
        assert_eq!(s.status(SecretName::LlmApiKey), SecretStatus::Environment);
        assert_eq!(s.status(SecretName::LivekitApiKey), SecretStatus::Missing);
        let s = s.with_env(env(&[
            ("OPENAI_API_KEY", "sk-2"),
            ("SWITCHBOARD_LLM_API_KEY", "sk-1"),
        ]));
        assert_eq!(s.get(SecretName::LlmApiKey).as_deref(), Some("sk-1"));
        let rows = s.statuses();
        assert_eq!(rows.len(), SecretName::ALL.len());
        assert!(rows.iter().all(|r| r.problem.is_none()));
        let json = serde_json::to_string(&rows).unwrap();
        assert!(!json.contains("sk-1") && !json.contains("sk-2"), "{json}");
    }

    #[test]
    fn a_disabled_keyring_refuses_writes_clearly() {
        let s = SecretStore::with_service("unused").without_keyring();
        let e = s.set(SecretName::DeepgramApiKey, "dg-value").unwrap_err();
        assert_eq!(e.code(), "keyring_unavailable");
        assert!(e.to_string().contains("SWITCHBOARD_KEYRING"), "{e}");
        assert!(!e.to_string().contains("dg-value"));
        assert_eq!(
            s.delete(SecretName::DeepgramApiKey).unwrap_err().code(),
            "keyring_unavailable"
        );
    }

    #[test]
    fn empty_and_oversized_values_are_refused_before_the_keyring() {
        let s = SecretStore::with_service("unused").without_keyring();
        assert_eq!(
            s.set(SecretName::LlmApiKey, " \n ").unwrap_err(),
            SecretError::Empty
        );
        let long = "k".repeat(MAX_SECRET_CHARS + 1);
        assert_eq!(
            s.set(SecretName::LlmApiKey, &long).unwrap_err(),
            SecretError::TooLong
        );
    }

    #[test]
    fn debug_output_never_shows_a_value() {
        let v = SecretValue::new("sk-very-secret");
        assert_eq!(format!("{v:?}"), "SecretValue(<redacted>)");
        let s =
            SecretStore::with_service("svc").with_env(env(&[("OPENAI_API_KEY", "sk-very-secret")]));
        assert!(!format!("{s:?}").contains("sk-very-secret"));
        let v: SecretValue = serde_json::from_str("\"sk-very-secret\"").unwrap();
        assert_eq!(v.expose(), "sk-very-secret");
    }

    #[test]
    fn a_hung_operation_times_out() {
        let r = bounded(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
        });
        let e = r.unwrap_err();
        assert_eq!(e.code(), "keyring_unavailable");
        assert!(e.to_string().contains("did not answer"), "{e}");
    }
}
