//! Where the engine finds its LiveKit server and the API key pair that signs
//! tokens: the key and secret from the OS keyring or `LIVEKIT_API_KEY` /
//! `LIVEKIT_API_SECRET`, the URL from `LIVEKIT_URL` or the config file. `Debug`
//! never shows the secret; errors say what is missing and where to put it.

use std::fmt;

use crate::secrets::{SecretName, SecretStore, SecretValue};

/// The server's URL, as LiveKit's own tools name it (`wss://…` or `ws://…`).
pub const URL_ENV: &str = "LIVEKIT_URL";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("no {what}: store it in Settings → API keys (OS keyring) or set {env}")]
    Missing {
        what: &'static str,
        env: &'static str,
    },
    #[error("no LiveKit server URL: set {URL_ENV} (e.g. wss://example.livekit.cloud) or livekit.url in the config file")]
    NoUrl,
    #[error("the LiveKit URL {0:?} is not a ws://, wss://, http:// or https:// address")]
    BadUrl(String),
}

impl CredentialsError {
    pub fn code(&self) -> &'static str {
        match self {
            CredentialsError::Missing { .. } => "livekit_credentials_missing",
            CredentialsError::NoUrl => "livekit_url_missing",
            CredentialsError::BadUrl(_) => "livekit_url_invalid",
        }
    }
}

#[derive(Clone)]
pub struct LiveKitCredentials {
    url: Option<String>,
    api_key: String,
    api_secret: SecretValue,
}

impl fmt::Debug for LiveKitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKitCredentials")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

impl LiveKitCredentials {
    /// A key pair, and the server when one is known. The URL is checked here, so
    /// a typo fails at start-up and not at the first call.
    pub fn new(
        url: Option<&str>,
        api_key: &str,
        api_secret: &str,
    ) -> Result<Self, CredentialsError> {
        let api_key = api_key.trim();
        let api_secret = api_secret.trim();
        if api_key.is_empty() {
            return Err(CredentialsError::Missing {
                what: "LiveKit API key",
                env: "LIVEKIT_API_KEY",
            });
        }
        if api_secret.is_empty() {
            return Err(CredentialsError::Missing {
                what: "LiveKit API secret",
                env: "LIVEKIT_API_SECRET",
            });
        }
        let url = match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => {
                http_base(u)?;
                Some(u.trim_end_matches('/').to_string())
            }
            None => None,
        };
        Ok(Self {
            url,
            api_key: api_key.to_string(),
            api_secret: SecretValue::new(api_secret),
        })
    }

    /// From the keyring or the environment; the URL from `LIVEKIT_URL`, else the
    /// config file's `livekit.url`.
    pub fn load(store: &SecretStore, config_url: Option<&str>) -> Result<Self, CredentialsError> {
        let key = store
            .get(SecretName::LivekitApiKey)
            .ok_or(CredentialsError::Missing {
                what: "LiveKit API key",
                env: "LIVEKIT_API_KEY",
            })?;
        let secret = store
            .get(SecretName::LivekitApiSecret)
            .ok_or(CredentialsError::Missing {
                what: "LiveKit API secret",
                env: "LIVEKIT_API_SECRET",
            })?;
        let env_url = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
        Self::new(env_url.as_deref().or(config_url), &key, &secret)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub(crate) fn api_secret(&self) -> &str {
        self.api_secret.expose()
    }

    /// The URL as given (what clients connect to).
    pub fn url(&self) -> Result<&str, CredentialsError> {
        self.url.as_deref().ok_or(CredentialsError::NoUrl)
    }

    /// Where the server API answers: `wss://h` → `https://h`, `ws://h` → `http://h`.
    pub fn http_url(&self) -> Result<String, CredentialsError> {
        http_base(self.url()?)
    }
}

/// The HTTP origin for a LiveKit URL given in any of the forms people use.
pub fn http_base(url: &str) -> Result<String, CredentialsError> {
    let bad = || CredentialsError::BadUrl(url.chars().take(200).collect());
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad())?;
    let scheme = match parsed.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return Err(bad()),
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // A key in the URL would end up in logs and error messages.
        return Err(bad());
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = parsed.path().trim_end_matches('/');
    Ok(format!("{scheme}://{host}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_every_usual_form_give_the_http_origin() {
        for (given, want) in [
            (
                "wss://example.livekit.cloud",
                "https://example.livekit.cloud",
            ),
            (
                "wss://example.livekit.cloud/",
                "https://example.livekit.cloud",
            ),
            ("ws://127.0.0.1:7880", "http://127.0.0.1:7880"),
            ("http://localhost:7880/", "http://localhost:7880"),
            ("https://lk.example.com/base", "https://lk.example.com/base"),
            ("ws://[::1]:7880", "http://[::1]:7880"),
        ] {
            assert_eq!(http_base(given).unwrap(), want, "{given}");
        }
        for bad in [
            "",
            "example.livekit.cloud",
            "ftp://x",
            "wss://",
            "wss://key:secret@x",
        ] {
            assert!(
                matches!(http_base(bad), Err(CredentialsError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_parts_are_named_and_the_secret_never_shows() {
        let e = LiveKitCredentials::new(None, "", "s").unwrap_err();
        assert!(e.to_string().contains("LIVEKIT_API_KEY"), "{e}");
        let e = LiveKitCredentials::new(None, "k", "  ").unwrap_err();
        assert!(e.to_string().contains("LIVEKIT_API_SECRET"), "{e}");
        let c = LiveKitCredentials::new(None, "APIkey", "very-secret-value").unwrap();
        assert_eq!(c.url().unwrap_err(), CredentialsError::NoUrl);
        assert!(c.url().unwrap_err().to_string().contains("LIVEKIT_URL"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("APIkey"));
        assert!(LiveKitCredentials::new(Some("nope"), "k", "s").is_err());
    }

    #[test]
    fn the_environment_answers_when_the_keyring_is_off() {
        let store = SecretStore::from_env().without_keyring().with_env(
            [
                ("LIVEKIT_API_KEY".to_string(), "APIenv".to_string()),
                (
                    "LIVEKIT_API_SECRET".to_string(),
                    "secret-from-env".to_string(),
                ),
            ]
            .into(),
        );
        let c = LiveKitCredentials::load(&store, Some("ws://127.0.0.1:7880")).unwrap();
        assert_eq!(c.api_key(), "APIenv");
        assert_eq!(c.api_secret(), "secret-from-env");
        let none = SecretStore::from_env()
            .without_keyring()
            .with_env(Default::default());
        let e = LiveKitCredentials::load(&none, None).unwrap_err();
        assert_eq!(e.code(), "livekit_credentials_missing");
    }
}
