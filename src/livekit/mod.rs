//! LiveKit: calls in LiveKit rooms. This part is the server side — who may join
//! a room and with which rights ([`token`]), the rooms themselves ([`rooms`],
//! LiveKit's RoomService over Twirp) and the server's signed webhooks that start
//! and end calls ([`webhook`], [`calls`]). The credentials come from the OS
//! keyring or the environment ([`credentials`]) and never reach a log.
//!
//! Media (joining a room as the agent) goes through `liblivekit_ffi`, the Rust SDK
//! that LiveKit's Python, Node and Unity SDKs load (see docs/livekit.md).

pub mod call;
pub mod calls;
pub mod credentials;
pub mod ffi;
pub mod listen;
pub mod remote;
pub mod rooms;
pub mod token;
pub mod webhook;
pub mod webhook_server;

pub use call::{start_room_call, RoomCall, RoomCallError};
pub use calls::{CallAction, EndReason, RoomCalls};
pub use credentials::{CredentialsError, LiveKitCredentials, URL_ENV};
pub use listen::{listen_to_room, RoomListener, VoiceControl};
pub use rooms::{
    ParticipantSummary, RoomOptions, RoomService, RoomServiceError, RoomSummary, TrackSummary,
};
pub use token::{mint, verify, Role, TokenError, TokenRequest, DEFAULT_TTL, MAX_TTL};
pub use webhook::{WebhookError, WebhookEvent, WebhookVerifier};
pub use webhook_server::{WebhookServer, WEBHOOK_PATH};
