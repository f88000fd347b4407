//! LiveKit's RoomService: rooms and the participants in them, over Twirp
//! (`POST /twirp/livekit.RoomService/<Method>`, protobuf bodies, a short-lived
//! admin token per request). The messages are LiveKit's own (`livekit-protocol`);
//! the HTTP is ours so that every answer — an error status, a page from a proxy, a
//! truncated body, a reply missing a field — becomes a clear error, never a panic,
//! and a slow server costs at most the timeout.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message;
use serde::Serialize;

use super::credentials::{CredentialsError, LiveKitCredentials};
use super::token::check_name;

/// One request's budget, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are refused (a room list of thousands is still far below).
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Life of the admin token signed for each request.
const REQUEST_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
const SERVICE: &str = "livekit.RoomService";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomServiceError {
    #[error(transparent)]
    Config(#[from] CredentialsError),
    #[error("{0}")]
    Input(String),
    #[error("cannot reach the LiveKit server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the LiveKit server did not answer {method} within {} ms", .after.as_millis())]
    Timeout {
        method: &'static str,
        after: Duration,
    },
    #[error("the LiveKit server refused {method}: {code}: {message} (HTTP {status})")]
    Server {
        method: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("the LiveKit server's answer to {method} is not usable: {reason}")]
    Malformed {
        method: &'static str,
        reason: String,
    },
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

impl RoomServiceError {
    /// For the UI's `{code, message}`.
    pub fn code(&self) -> String {
        match self {
            RoomServiceError::Config(e) => e.code().to_string(),
            RoomServiceError::Input(_) => "invalid_request".into(),
            RoomServiceError::Unreachable { .. } => "livekit_unreachable".into(),
            RoomServiceError::Timeout { .. } => "livekit_timeout".into(),
            RoomServiceError::Server { code, .. } => format!("livekit_{code}"),
            RoomServiceError::Malformed { .. } => "livekit_malformed_response".into(),
            RoomServiceError::Signing(_) => "livekit_signing_failed".into(),
        }
    }

    /// True when the room or participant does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RoomServiceError::Server { code, .. } if code == "not_found")
    }
}

/// A room, as the supervisor's console and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub sid: String,
    pub name: String,
    pub num_participants: u32,
    pub num_publishers: u32,
    pub created_at_ms: i64,
    pub max_participants: u32,
    pub empty_timeout_s: u32,
    pub metadata: String,
}

impl From<proto::Room> for RoomSummary {
    fn from(r: proto::Room) -> Self {
        let created_at_ms = if r.creation_time_ms > 0 {
            r.creation_time_ms
        } else {
            r.creation_time.saturating_mul(1000)
        };
        Self {
            sid: r.sid,
            name: r.name,
            num_participants: r.num_participants,
            num_publishers: r.num_publishers,
            created_at_ms,
            max_participants: r.max_participants,
            empty_timeout_s: r.empty_timeout,
            metadata: r.metadata,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackSummary {
    pub sid: String,
    pub name: String,
    /// audio, video or data.
    pub kind: String,
    /// microphone, camera, screen_share, screen_share_audio or unknown.
    pub source: String,
    pub muted: bool,
}

impl From<proto::TrackInfo> for TrackSummary {
    fn from(t: proto::TrackInfo) -> Self {
        let kind = proto::TrackType::try_from(t.r#type)
            .map(|k| k.as_str_name().to_ascii_lowercase())
            .unwrap_or_else(|_| "unknown".into());
        let source = proto::TrackSource::try_from(t.source)
            .map(|s| s.as_str_name().to_ascii_lowercase())
            .unwrap_or_else(|_| "unknown".into());
        Self {
            sid: t.sid,
            name: t.name,
            kind,
            source,
            muted: t.muted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantSummary {
    pub sid: String,
    pub identity: String,
    pub name: String,
    /// joining, joined, active or disconnected.
    pub state: String,
    /// standard (a browser or app), sip (a phone line), agent, ingress, egress…
    pub kind: String,
    pub joined_at_ms: i64,
    /// Listening unseen (a supervisor).
    pub hidden: bool,
    pub can_publish: bool,
    pub tracks: Vec<TrackSummary>,
}

impl From<proto::ParticipantInfo> for ParticipantSummary {
    fn from(p: proto::ParticipantInfo) -> Self {
        let state = proto::participant_info::State::try_from(p.state)
            .map(|s| s.as_str_name().to_ascii_lowercase())
            .unwrap_or_else(|_| "unknown".into());
        let kind = proto::participant_info::Kind::try_from(p.kind)
            .map(|k| k.as_str_name().to_ascii_lowercase())
            .unwrap_or_else(|_| "unknown".into());
        let joined_at_ms = if p.joined_at_ms > 0 {
            p.joined_at_ms
        } else {
            p.joined_at.saturating_mul(1000)
        };
        let (hidden, can_publish) = p
            .permission
            .as_ref()
            .map(|perm| (perm.hidden, perm.can_publish))
            .unwrap_or((false, false));
        Self {
            sid: p.sid,
            identity: p.identity,
            name: p.name,
            state,
            kind,
            joined_at_ms,
            hidden,
            can_publish,
            tracks: p.tracks.into_iter().map(TrackSummary::from).collect(),
        }
    }
}

/// How a room the engine creates for a call behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomOptions {
    /// Close the room this long after the last participant left.
    pub empty_timeout_s: u32,
    /// Close the room this long after everyone left once someone had joined.
    pub departure_timeout_s: u32,
    /// Customer, agent and a few supervisors; 0 = no limit.
    pub max_participants: u32,
    pub metadata: String,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            empty_timeout_s: 5 * 60,
            departure_timeout_s: 20,
            max_participants: 8,
            metadata: String::new(),
        }
    }
}

/// A client of one LiveKit server's RoomService.
#[derive(Clone)]
pub struct RoomService {
    http: reqwest::Client,
    base: String,
    creds: LiveKitCredentials,
    timeout: Duration,
}

impl std::fmt::Debug for RoomService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomService")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RoomService {
    pub fn new(creds: &LiveKitCredentials) -> Result<Self, RoomServiceError> {
        let base = creds.http_url()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| RoomServiceError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            creds: creds.clone(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn create_room(
        &self,
        name: &str,
        opts: &RoomOptions,
    ) -> Result<RoomSummary, RoomServiceError> {
        check(&[("room name", name)])?;
        let req = proto::CreateRoomRequest {
            name: name.to_string(),
            empty_timeout: opts.empty_timeout_s,
            departure_timeout: opts.departure_timeout_s,
            max_participants: opts.max_participants,
            metadata: opts.metadata.clone(),
            ..Default::default()
        };
        let grants = VideoGrants {
            room_create: true,
            ..Default::default()
        };
        let room: proto::Room = self.call("CreateRoom", &req, grants).await?;
        Ok(room.into())
    }

    /// Every room, or those of these names.
    pub async fn list_rooms(&self, names: &[String]) -> Result<Vec<RoomSummary>, RoomServiceError> {
        for n in names {
            check(&[("room name", n)])?;
        }
        let req = proto::ListRoomsRequest {
            names: names.to_vec(),
        };
        let grants = VideoGrants {
            room_list: true,
            ..Default::default()
        };
        let resp: proto::ListRoomsResponse = self.call("ListRooms", &req, grants).await?;
        Ok(resp.rooms.into_iter().map(RoomSummary::from).collect())
    }

    /// Closes the room: everyone in it is disconnected.
    pub async fn delete_room(&self, name: &str) -> Result<(), RoomServiceError> {
        check(&[("room name", name)])?;
        let req = proto::DeleteRoomRequest {
            room: name.to_string(),
        };
        let grants = VideoGrants {
            room_create: true,
            ..Default::default()
        };
        let _: proto::DeleteRoomResponse = self.call("DeleteRoom", &req, grants).await?;
        Ok(())
    }

    pub async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<ParticipantSummary>, RoomServiceError> {
        check(&[("room name", room)])?;
        let req = proto::ListParticipantsRequest {
            room: room.to_string(),
        };
        let resp: proto::ListParticipantsResponse =
            self.call("ListParticipants", &req, admin(room)).await?;
        Ok(resp
            .participants
            .into_iter()
            .map(ParticipantSummary::from)
            .collect())
    }

    /// Disconnects one participant (they may rejoin with a valid token).
    pub async fn remove_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<(), RoomServiceError> {
        check(&[("room name", room), ("identity", identity)])?;
        let req = proto::RoomParticipantIdentity {
            room: room.to_string(),
            identity: identity.to_string(),
            ..Default::default()
        };
        let _: proto::RemoveParticipantResponse =
            self.call("RemoveParticipant", &req, admin(room)).await?;
        Ok(())
    }

    /// Mutes (or unmutes) one published track; the server answers with the track.
    pub async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<TrackSummary, RoomServiceError> {
        check(&[
            ("room name", room),
            ("identity", identity),
            ("track id", track_sid),
        ])?;
        let req = proto::MuteRoomTrackRequest {
            room: room.to_string(),
            identity: identity.to_string(),
            track_sid: track_sid.to_string(),
            muted,
        };
        let resp: proto::MuteRoomTrackResponse =
            self.call("MutePublishedTrack", &req, admin(room)).await?;
        resp.track
            .map(TrackSummary::from)
            .ok_or(RoomServiceError::Malformed {
                method: "MutePublishedTrack",
                reason: "the answer has no track".into(),
            })
    }

    /// Lets a listening participant speak (a supervisor taking a call over) or
    /// returns them to listening unseen (handing the call back). The token they
    /// joined with never granted more than listening.
    pub async fn set_speaking(
        &self,
        room: &str,
        identity: &str,
        speaking: bool,
    ) -> Result<ParticipantSummary, RoomServiceError> {
        check(&[("room name", room), ("identity", identity)])?;
        let permission = proto::ParticipantPermission {
            can_subscribe: true,
            can_publish: speaking,
            can_publish_sources: if speaking {
                vec![proto::TrackSource::Microphone as i32]
            } else {
                Vec::new()
            },
            // Commands to the call's worker (LiveKit RPC is data) either way.
            can_publish_data: true,
            hidden: !speaking,
            ..Default::default()
        };
        let req = proto::UpdateParticipantRequest {
            room: room.to_string(),
            identity: identity.to_string(),
            permission: Some(permission),
            ..Default::default()
        };
        let p: proto::ParticipantInfo = self.call("UpdateParticipant", &req, admin(room)).await?;
        Ok(p.into())
    }

    async fn call<Req, Resp>(
        &self,
        method: &'static str,
        req: &Req,
        grants: VideoGrants,
    ) -> Result<Resp, RoomServiceError>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let token = AccessToken::with_api_key(self.creds.api_key(), self.creds.api_secret())
            .with_grants(grants)
            .with_ttl(REQUEST_TOKEN_TTL)
            .to_jwt()
            .map_err(|e| RoomServiceError::Signing(e.to_string()))?;
        let url = format!("{}/twirp/{SERVICE}/{method}", self.base);
        let timeout = self.timeout;
        let exchange = async {
            let resp = self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/protobuf")
                .bearer_auth(token)
                .body(req.encode_to_vec())
                .send()
                .await
                .map_err(|e| RoomServiceError::Unreachable {
                    url: self.base.clone(),
                    reason: transport_reason(&e),
                })?;
            let status = resp.status();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            let body = read_capped(resp, method).await?;
            Ok::<_, RoomServiceError>((status, content_type, body))
        };
        let (status, content_type, body) =
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| RoomServiceError::Timeout {
                    method,
                    after: timeout,
                })??;
        if !status.is_success() {
            return Err(twirp_error(method, status.as_u16(), &body));
        }
        if !content_type.starts_with("application/protobuf")
            && !content_type.starts_with("application/x-protobuf")
        {
            return Err(RoomServiceError::Malformed {
                method,
                reason: format!(
                    "expected a protobuf body, got {:?}",
                    clean(&content_type, 80)
                ),
            });
        }
        Resp::decode(body.as_slice()).map_err(|e| RoomServiceError::Malformed {
            method,
            reason: e.to_string(),
        })
    }
}

fn admin(room: &str) -> VideoGrants {
    VideoGrants {
        room_admin: true,
        room: room.to_string(),
        ..Default::default()
    }
}

fn check(fields: &[(&str, &str)]) -> Result<(), RoomServiceError> {
    for (what, value) in fields {
        check_name(what, value).map_err(|e| RoomServiceError::Input(e.to_string()))?;
    }
    Ok(())
}

async fn read_capped(
    mut resp: reqwest::Response,
    method: &'static str,
) -> Result<Vec<u8>, RoomServiceError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(RoomServiceError::Malformed {
                        method,
                        reason: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(RoomServiceError::Malformed {
                    method,
                    reason: format!("the answer broke off: {}", transport_reason(&e)),
                })
            }
        }
    }
}

/// Twirp errors are JSON `{"code": "...", "msg": "..."}`; a proxy's page or an
/// empty body still gives a code from the HTTP status.
fn twirp_error(method: &'static str, status: u16, body: &[u8]) -> RoomServiceError {
    #[derive(serde::Deserialize)]
    struct TwirpBody {
        code: Option<String>,
        msg: Option<String>,
    }
    let parsed: Option<TwirpBody> = serde_json::from_slice(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|b| b.code.as_deref())
        .map(|c| clean(c, 40))
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or_else(|| status_code_name(status).to_string());
    let message = match parsed.and_then(|b| b.msg) {
        Some(m) => clean(&m, 300),
        None => clean(&String::from_utf8_lossy(body), 120),
    };
    RoomServiceError::Server {
        method,
        status,
        code,
        message,
    }
}

/// Twirp's own names for HTTP statuses without a Twirp body.
fn status_code_name(status: u16) -> &'static str {
    match status {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        408 => "deadline_exceeded",
        409 => "already_exists",
        412 => "failed_precondition",
        429 => "resource_exhausted",
        501 => "unimplemented",
        503 => "unavailable",
        _ => "internal",
    }
}

/// Server text goes into our messages: no control characters, bounded length.
fn clean(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out.trim().to_string()
}

fn transport_reason(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL (no secrets in it: tokens go in a
    // header); the source chain says what actually happened.
    let mut reason = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    if reason.is_empty() {
        reason = if e.is_connect() {
            "connection failed".into()
        } else {
            e.to_string()
        };
    }
    clean(&reason, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twirp_errors_and_foreign_pages_become_codes_and_messages() {
        let e = twirp_error(
            "ListParticipants",
            404,
            br#"{"code":"not_found","msg":"room does not exist"}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(e.code(), "livekit_not_found");
        assert!(e.to_string().contains("room does not exist"), "{e}");
        let e = twirp_error("CreateRoom", 502, b"<html>\n<b>Bad gateway</b></html>");
        assert_eq!(e.code(), "livekit_internal");
        assert!(!e.to_string().contains('\n'));
        let e = twirp_error("CreateRoom", 401, b"");
        assert_eq!(e.code(), "livekit_unauthenticated");
        let e = twirp_error("CreateRoom", 500, br#"{"code":"../../etc","msg":"x"}"#);
        assert_eq!(e.code(), "livekit_internal");
        let long = format!(r#"{{"code":"internal","msg":"{}"}}"#, "x".repeat(5000));
        assert!(twirp_error("X", 500, long.as_bytes()).to_string().len() < 500);
    }

    #[test]
    fn summaries_name_enums_in_words() {
        let p = proto::ParticipantInfo {
            identity: "+971501234567".into(),
            state: proto::participant_info::State::Active as i32,
            kind: proto::participant_info::Kind::Sip as i32,
            joined_at: 1_700_000_000,
            permission: Some(proto::ParticipantPermission {
                hidden: true,
                ..Default::default()
            }),
            tracks: vec![proto::TrackInfo {
                sid: "TR_1".into(),
                r#type: proto::TrackType::Audio as i32,
                source: proto::TrackSource::Microphone as i32,
                muted: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let s = ParticipantSummary::from(p);
        assert_eq!((s.state.as_str(), s.kind.as_str()), ("active", "sip"));
        assert_eq!(s.joined_at_ms, 1_700_000_000_000);
        assert!(s.hidden && !s.can_publish);
        assert_eq!(s.tracks[0].kind, "audio");
        assert_eq!(s.tracks[0].source, "microphone");
        assert!(s.tracks[0].muted);
        let odd = ParticipantSummary::from(proto::ParticipantInfo {
            state: 99,
            kind: 99,
            ..Default::default()
        });
        assert_eq!(
            (odd.state.as_str(), odd.kind.as_str()),
            ("unknown", "unknown")
        );
    }
}
