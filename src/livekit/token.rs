//! Access tokens for the three kinds of participant in a call's room, each with
//! the least it needs and a short life. LiveKit checks a token when a participant
//! connects and refreshes it for the session, so minutes are enough.
//!
//! | role | joins | publishes | subscribes | data | seen by others |
//! |---|---|---|---|---|---|
//! | agent | the room | its microphone track | yes | yes (captions) | yes, as an agent |
//! | supervisor | the room | nothing (a takeover grants it through the server API) | yes | yes (commands to the call's worker, by RPC) | no (hidden) |
//! | customer | the room | their microphone track | yes | no | yes |

use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use livekit_api::access_token::{
    AccessToken, AccessTokenError, Claims, TokenVerifier, VideoGrants,
};
use serde::Serialize;

use super::credentials::LiveKitCredentials;

/// Long enough to connect on a slow network, short enough that a leaked token is
/// soon worthless.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
/// The longest life a token may be given.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Room names and identities longer than this are refused (LiveKit's own limit
/// is far above what a call needs; a megabyte-long name is a mistake or worse).
pub const MAX_NAME_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Customer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Customer => "customer",
        }
    }

    /// The rights of this role in one room, and nothing else.
    pub fn grants(self, room: &str) -> VideoGrants {
        let mic = vec!["microphone".to_string()];
        let base = VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_subscribe: Some(true),
            can_update_own_metadata: Some(false),
            ..Default::default()
        };
        match self {
            Role::Agent => VideoGrants {
                can_publish: Some(true),
                can_publish_sources: mic,
                can_publish_data: Some(true),
                agent: true,
                ..base
            },
            Role::Supervisor => VideoGrants {
                can_publish: Some(false),
                // LiveKit RPC rides on data packets: commands to the worker.
                can_publish_data: Some(true),
                hidden: true,
                ..base
            },
            Role::Customer => VideoGrants {
                can_publish: Some(true),
                can_publish_sources: mic,
                can_publish_data: Some(false),
                ..base
            },
        }
    }
}

impl FromStr for Role {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            "customer" => Ok(Role::Customer),
            _ => Err(TokenError::Input(format!(
                "role must be agent, supervisor or customer, not {:?}",
                s.chars().take(40).collect::<String>()
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub room: String,
    pub identity: String,
    pub role: Role,
    /// Display name shown to the others; default: none.
    pub name: Option<String>,
    pub ttl: Duration,
}

impl TokenRequest {
    pub fn new(room: &str, identity: &str, role: Role) -> Self {
        Self {
            room: room.to_string(),
            identity: identity.to_string(),
            role,
            name: None,
            ttl: DEFAULT_TTL,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Input(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (check this machine's clock)")]
    NotYetValid,
    #[error("the token's signature does not match this API secret")]
    BadSignature,
    #[error("the token was issued for another API key")]
    WrongKey,
    #[error("not a LiveKit token: {0}")]
    Malformed(String),
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Input(_) => "invalid_token_request",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::WrongKey => "token_wrong_key",
            TokenError::Malformed(_) => "token_malformed",
            TokenError::Signing(_) => "token_signing_failed",
        }
    }
}

/// Checks a room name or identity: something, not too long, no control characters
/// (they would garble logs and the supervisor's screen). Arabic is fine.
pub fn check_name(what: &str, value: &str) -> Result<(), TokenError> {
    if value.trim().is_empty() {
        return Err(TokenError::Input(format!("the {what} is empty")));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(TokenError::Input(format!(
            "the {what} is longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(TokenError::Input(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(())
}

/// A signed JWT for one participant of one room.
pub fn mint(creds: &LiveKitCredentials, req: &TokenRequest) -> Result<String, TokenError> {
    check_name("room name", &req.room)?;
    check_name("identity", &req.identity)?;
    if let Some(name) = &req.name {
        check_name("display name", name)?;
    }
    if req.ttl.is_zero() || req.ttl > MAX_TTL {
        return Err(TokenError::Input(format!(
            "the token's life must be between 1 s and {} h",
            MAX_TTL.as_secs() / 3600
        )));
    }
    let mut token = AccessToken::with_api_key(creds.api_key(), creds.api_secret())
        .with_identity(&req.identity)
        .with_grants(req.role.grants(&req.room))
        .with_ttl(req.ttl);
    if let Some(name) = &req.name {
        token = token.with_name(name);
    }
    if req.role == Role::Agent {
        token = token.with_kind("agent");
    }
    token
        .to_jwt()
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// The claims of a token signed with these credentials, or why it is refused.
pub fn verify(creds: &LiveKitCredentials, jwt: &str) -> Result<Claims, TokenError> {
    let jwt = jwt.trim();
    let jwt = jwt.strip_prefix("Bearer ").unwrap_or(jwt).trim();
    TokenVerifier::with_api_key(creds.api_key(), creds.api_secret())
        .verify(jwt)
        .map_err(classify)
}

pub(crate) fn classify(e: AccessTokenError) -> TokenError {
    match e {
        AccessTokenError::Encoding(e) => match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidIssuer => TokenError::WrongKey,
            ErrorKind::InvalidAlgorithm => {
                TokenError::Malformed("signed with another algorithm than HS256".into())
            }
            _ => TokenError::Malformed(e.to_string()),
        },
        AccessTokenError::InvalidKeys => TokenError::Signing("empty API key or secret".into()),
        other => TokenError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> LiveKitCredentials {
        LiveKitCredentials::new(None, "APItestkey", "a-secret-of-thirty-two-characters!").unwrap()
    }

    #[test]
    fn each_role_gets_exactly_its_rights() {
        let c = creds();
        for role in [Role::Agent, Role::Supervisor, Role::Customer] {
            let jwt = mint(&c, &TokenRequest::new("call-42", "who", role)).unwrap();
            let claims = verify(&c, &jwt).unwrap();
            let v = &claims.video;
            assert!(v.room_join && v.room == "call-42", "{role:?}");
            assert!(!v.room_admin && !v.room_create && !v.room_list && !v.room_record);
            assert!(v.can_subscribe());
            assert!(!v.can_update_own_metadata());
            match role {
                Role::Agent => {
                    assert!(v.can_publish() && v.can_publish_data() && v.agent);
                    assert_eq!(v.can_publish_sources, ["microphone"]);
                    assert!(!v.hidden);
                    assert_eq!(claims.kind, "agent");
                }
                Role::Supervisor => {
                    assert!(!v.can_publish() && v.can_publish_data() && v.hidden);
                }
                Role::Customer => {
                    assert!(v.can_publish() && !v.can_publish_data() && !v.hidden);
                    assert_eq!(v.can_publish_sources, ["microphone"]);
                }
            }
            let life = claims.exp as i64 - claims.nbf as i64;
            assert!((life - DEFAULT_TTL.as_secs() as i64).abs() <= 2, "{life}");
        }
    }

    #[test]
    fn bad_requests_are_refused_before_signing() {
        let c = creds();
        let mut r = TokenRequest::new("room", "id", Role::Customer);
        r.ttl = Duration::ZERO;
        assert!(matches!(mint(&c, &r), Err(TokenError::Input(_))));
        r.ttl = MAX_TTL + Duration::from_secs(1);
        assert!(matches!(mint(&c, &r), Err(TokenError::Input(_))));
        for (room, id) in [
            (" ", "id"),
            ("room", ""),
            ("ro\u{7}om", "id"),
            ("room", &*"x".repeat(300)),
        ] {
            let r = TokenRequest::new(room, id, Role::Agent);
            assert!(
                matches!(mint(&c, &r), Err(TokenError::Input(_))),
                "{room:?} {id:?}"
            );
        }
        // Arabic names are names.
        let mut r = TokenRequest::new("غرفة-الدعم", "عميل-7", Role::Customer);
        r.name = Some("أحمد".into());
        let claims = verify(&c, &mint(&c, &r).unwrap()).unwrap();
        assert_eq!(claims.video.room, "غرفة-الدعم");
        assert_eq!(claims.name, "أحمد");
        assert!("boss".parse::<Role>().is_err());
        assert_eq!(" Supervisor ".parse::<Role>().unwrap(), Role::Supervisor);
    }

    #[test]
    fn foreign_tampered_and_stale_tokens_are_refused_with_the_reason() {
        let c = creds();
        let jwt = mint(&c, &TokenRequest::new("r", "i", Role::Customer)).unwrap();
        let other_secret = LiveKitCredentials::new(None, "APItestkey", "another-secret").unwrap();
        assert_eq!(
            verify(&other_secret, &jwt).unwrap_err(),
            TokenError::BadSignature
        );
        let other_key =
            LiveKitCredentials::new(None, "APIother", "a-secret-of-thirty-two-characters!")
                .unwrap();
        assert_eq!(verify(&other_key, &jwt).unwrap_err(), TokenError::WrongKey);
        // Flip one character of the payload.
        let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
        let p = &mut parts[1];
        let last = p.pop().unwrap();
        p.push(if last == 'A' { 'B' } else { 'A' });
        let tampered = parts.join(".");
        assert!(verify(&c, &tampered).is_err());
        assert!(matches!(
            verify(&c, "not a token"),
            Err(TokenError::Malformed(_))
        ));
        // "Bearer " as HTTP headers carry it is accepted.
        assert!(verify(&c, &format!("Bearer {jwt}")).is_ok());
        // The same claims, expired an hour ago (beyond the 60 s of clock skew
        // jsonwebtoken allows), signed with the right secret.
        let mut claims = Claims::from_unverified(&jwt).unwrap();
        claims.exp -= 7200;
        claims.nbf -= 7200;
        let stale = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"a-secret-of-thirty-two-characters!"),
        )
        .unwrap();
        assert_eq!(verify(&c, &stale).unwrap_err(), TokenError::Expired);
        claims.exp += 4 * 7200;
        claims.nbf += 3 * 7200;
        let early = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"a-secret-of-thirty-two-characters!"),
        )
        .unwrap();
        assert_eq!(verify(&c, &early).unwrap_err(), TokenError::NotYetValid);
    }
}
