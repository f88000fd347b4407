//! The LiveKit server's webhooks: a JSON body and, in the `Authorization` header,
//! a JWT signed with the API secret whose `sha256` claim is the body's hash.
//! Verification is LiveKit's own (`livekit_api::webhooks`); a forged, tampered or
//! stale request is refused with the reason, and what passes comes out typed.

use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::{WebhookError as SdkError, WebhookReceiver};
use livekit_protocol as proto;
use serde::Serialize;

use super::credentials::LiveKitCredentials;
use super::rooms::{ParticipantSummary, RoomSummary};
use super::token::{classify, TokenError};

/// Webhook bodies are a few kilobytes; anything far larger is refused unread.
pub const MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook has no Authorization header")]
    NoAuthorization,
    #[error("the webhook's signature is refused: {0}")]
    Token(TokenError),
    #[error("the webhook's body does not match its signature (altered on the way?)")]
    BodyMismatch,
    #[error("the webhook's body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the webhook is not a LiveKit event: {0}")]
    Malformed(String),
}

impl WebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::NoAuthorization => "webhook_unsigned",
            WebhookError::Token(_) => "webhook_bad_token",
            WebhookError::BodyMismatch => "webhook_body_mismatch",
            WebhookError::TooLarge => "webhook_too_large",
            WebhookError::Malformed(_) => "webhook_malformed",
        }
    }

    /// The HTTP status a webhook endpoint answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::NoAuthorization | WebhookError::Token(_) | WebhookError::BodyMismatch => {
                401
            }
            WebhookError::TooLarge => 413,
            WebhookError::Malformed(_) => 400,
        }
    }
}

/// What happened in a room. `id` is unique per event (LiveKit may deliver one
/// twice); `created_at_ms` is when the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WebhookEvent {
    RoomStarted {
        id: String,
        created_at_ms: i64,
        room: RoomSummary,
    },
    ParticipantJoined {
        id: String,
        created_at_ms: i64,
        room: RoomSummary,
        participant: ParticipantSummary,
    },
    ParticipantLeft {
        id: String,
        created_at_ms: i64,
        room: RoomSummary,
        participant: ParticipantSummary,
    },
    RoomFinished {
        id: String,
        created_at_ms: i64,
        room: RoomSummary,
    },
    /// Track, egress, ingress… events: verified, passed on, not acted upon.
    Other {
        id: String,
        created_at_ms: i64,
        name: String,
        room: Option<String>,
    },
}

impl WebhookEvent {
    pub fn id(&self) -> &str {
        match self {
            WebhookEvent::RoomStarted { id, .. }
            | WebhookEvent::ParticipantJoined { id, .. }
            | WebhookEvent::ParticipantLeft { id, .. }
            | WebhookEvent::RoomFinished { id, .. }
            | WebhookEvent::Other { id, .. } => id,
        }
    }

    pub fn room_name(&self) -> Option<&str> {
        match self {
            WebhookEvent::RoomStarted { room, .. }
            | WebhookEvent::ParticipantJoined { room, .. }
            | WebhookEvent::ParticipantLeft { room, .. }
            | WebhookEvent::RoomFinished { room, .. } => Some(&room.name),
            WebhookEvent::Other { room, .. } => room.as_deref(),
        }
    }

    fn from_proto(e: proto::WebhookEvent) -> Result<Self, WebhookError> {
        let id = e.id;
        let created_at_ms = e.created_at.saturating_mul(1000);
        let missing = |what: &str| WebhookError::Malformed(format!("{} without {what}", e.event));
        let room = e.room.map(RoomSummary::from);
        let participant = e.participant.map(ParticipantSummary::from);
        Ok(match e.event.as_str() {
            "room_started" => WebhookEvent::RoomStarted {
                id,
                created_at_ms,
                room: room.ok_or_else(|| missing("a room"))?,
            },
            "room_finished" => WebhookEvent::RoomFinished {
                id,
                created_at_ms,
                room: room.ok_or_else(|| missing("a room"))?,
            },
            "participant_joined" | "participant_left" => {
                let room = room.ok_or_else(|| missing("a room"))?;
                let participant = participant.ok_or_else(|| missing("a participant"))?;
                if e.event == "participant_joined" {
                    WebhookEvent::ParticipantJoined {
                        id,
                        created_at_ms,
                        room,
                        participant,
                    }
                } else {
                    WebhookEvent::ParticipantLeft {
                        id,
                        created_at_ms,
                        room,
                        participant,
                    }
                }
            }
            "" => return Err(WebhookError::Malformed("no event name".into())),
            _ => WebhookEvent::Other {
                id,
                created_at_ms,
                name: e.event.chars().take(64).collect(),
                room: room.map(|r| r.name),
            },
        })
    }
}

#[derive(Clone)]
pub struct WebhookVerifier {
    receiver: WebhookReceiver,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookVerifier")
    }
}

impl WebhookVerifier {
    pub fn new(creds: &LiveKitCredentials) -> Self {
        Self {
            receiver: WebhookReceiver::new(TokenVerifier::with_api_key(
                creds.api_key(),
                creds.api_secret(),
            )),
        }
    }

    /// `body` exactly as received; `authorization` the header's value (with or
    /// without "Bearer ").
    pub fn verify(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<WebhookEvent, WebhookError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(WebhookError::TooLarge);
        }
        let auth = authorization
            .map(str::trim)
            .map(|a| a.strip_prefix("Bearer ").unwrap_or(a).trim())
            .filter(|a| !a.is_empty())
            .ok_or(WebhookError::NoAuthorization)?;
        let body = std::str::from_utf8(body)
            .map_err(|_| WebhookError::Malformed("the body is not UTF-8".into()))?;
        let event = self.receiver.receive(body, auth).map_err(|e| match e {
            SdkError::InvalidAuth(e) => WebhookError::Token(classify(e)),
            SdkError::InvalidSignature => WebhookError::BodyMismatch,
            SdkError::InvalidBase64(_) => WebhookError::Token(TokenError::Malformed(
                "its sha256 claim is not base64".into(),
            )),
            SdkError::InvalidData(e) => WebhookError::Malformed(e.to_string()),
        })?;
        WebhookEvent::from_proto(event)
    }
}
