//! A call in a LiveKit room: the LiveKit transport, beside the local sound card
//! and the simulated caller. The engine joins the room as the agent, takes the
//! first caller (a browser/app user or a SIP phone line) as the customer, feeds
//! their microphone — resampled by the library to 16 kHz — to the call, publishes
//! the agent's voice as a microphone track, and sends every transcript line as a
//! caption on LiveKit's transcription topic, so any LiveKit client shows them.
//!
//! The call ends when the customer leaves, when the call ends on our side (the
//! room is then left), or when the connection is lost for good: the library
//! retries first (a `livekit_reconnecting` error event tells the supervisor),
//! and only a final disconnect closes the call's audio — which ends the call the
//! way any transport closing does, every finished turn already persisted.

use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use crate::audio::SAMPLE_RATE;
use crate::call::{
    CallCommand, CallConfig, CallHandle, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
};
use crate::crm::CrmStore;
use crate::events::{CallEvent, CustomerInfo, EventKind, Speaker, Stage};
use crate::hub::LocalHub;
use crate::persist::customer_for_call;

use super::calls::is_caller;
use super::credentials::LiveKitCredentials;
use super::ffi::{
    AudioSource, AudioStream, FfiError, LocalAudioTrack, RemoteParticipant, Room, RoomEvent,
    RoomOptions, RoomSender, RpcInvocation,
};
use super::remote::{Relay, RelayFeed, COMMAND_METHOD, EVENTS_TOPIC, SYNC_METHOD};
use super::rooms::RoomServiceError;
use super::token::{mint, Role, TokenError, TokenRequest};

/// The agent's voice is queued in the library at most this long: what is still
/// queued plays after a barge-in unless cleared (it is cleared on `barge_in`).
const AGENT_QUEUE_MS: u32 = 100;
/// Name of the agent's published track.
pub const AGENT_TRACK: &str = "agent-voice";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomCallError {
    #[error(transparent)]
    Credentials(#[from] super::credentials::CredentialsError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Media(#[from] FfiError),
    #[error("no customer joined room {room:?} within {} s", .waited.as_secs())]
    NoCustomer { room: String, waited: Duration },
    #[error(transparent)]
    Server(#[from] super::rooms::RoomServiceError),
}

impl RoomCallError {
    pub fn code(&self) -> &'static str {
        match self {
            RoomCallError::Credentials(e) => e.code(),
            RoomCallError::Token(e) => e.code(),
            RoomCallError::Media(e) => e.code(),
            RoomCallError::NoCustomer { .. } => "livekit_no_customer",
            RoomCallError::Server(RoomServiceError::Unreachable { .. }) => "livekit_unreachable",
            RoomCallError::Server(RoomServiceError::Timeout { .. }) => "livekit_timeout",
            RoomCallError::Server(_) => "livekit_server_refused",
        }
    }
}

/// Everything a call in a room needs besides the room itself.
pub struct RoomCall {
    pub room: String,
    /// The agent's identity in the room.
    pub agent_identity: String,
    pub call_id: String,
    pub config: CallConfig,
    pub providers: Providers,
    /// Who the caller is and what is known of them is looked up here once they
    /// join (a SIP caller by number), for the persona's prompt and the record.
    pub crm: Option<CrmStore>,
    pub record: Option<mpsc::UnboundedSender<CallEvent>>,
    /// How long to wait for a caller in a room nobody has joined yet.
    pub customer_wait: Duration,
    pub room_options: RoomOptions,
}

/// What the call knows of the caller from the room: a SIP caller's identity is
/// their number.
pub fn customer_info(identity: &str, kind: &str) -> CustomerInfo {
    let digits = identity.trim_start_matches('+');
    let phone = (kind == "sip" && digits.len() >= 6 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| identity.to_string());
    CustomerInfo {
        id: None,
        phone,
        name: None,
    }
}

/// Joins `call.room` as the agent and starts the call once a caller is there.
pub async fn start_room_call(
    hub: &LocalHub,
    creds: &LiveKitCredentials,
    call: RoomCall,
) -> Result<CallHandle, RoomCallError> {
    let url = creds.url()?.to_string();
    let mut req = TokenRequest::new(&call.room, &call.agent_identity, Role::Agent);
    req.name = Some("Switchboard".into());
    let token = mint(creds, &req)?;
    let mut room = Room::connect(&url, &token, &call.room_options).await?;
    // Supervisors' consoles follow and command the call through the room.
    for method in [COMMAND_METHOD, SYNC_METHOD] {
        if let Err(e) = room.register_rpc(method) {
            let _ = room.disconnect().await;
            return Err(e.into());
        }
    }
    let customer = match wait_for_caller(&mut room, call.customer_wait).await {
        Some(identity) => identity,
        None => {
            let _ = room.disconnect().await;
            return Err(RoomCallError::NoCustomer {
                room: call.room,
                waited: call.customer_wait,
            });
        }
    };
    let (stream, kind) = {
        let p: &RemoteParticipant = room
            .participant(&customer)
            .ok_or_else(|| FfiError::Input("the caller left while joining".into()))?;
        (p.audio(SAMPLE_RATE, 20)?, p.kind.clone())
    };
    let source = AudioSource::new(SAMPLE_RATE, 1, AGENT_QUEUE_MS)?;
    let track = LocalAudioTrack::new(AGENT_TRACK, &source)?;
    let agent_track_sid = room.publish_audio(&track).await?;

    let mut customer_info = customer_info(&customer, &kind);
    let mut customer_context = None;
    if let Some(store) = &call.crm {
        match customer_for_call(store, &customer_info).await {
            Ok((info, ctx)) => {
                customer_info = info;
                customer_context = ctx;
            }
            // The call goes on without what the CRM knows (its record waits in
            // the writer's outbox if the database is down).
            Err(e) => tracing::warn!(code = e.code(), "caller not looked up in the CRM"),
        }
    }
    let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(64);
    let (agent_tx, agent_rx) = mpsc::channel::<OutboundFrame>(16);
    let events = hub.event_sender();
    let call_events = events.subscribe();
    let relayed = events.subscribe();
    let handle = hub.start_call(CallSetup {
        call_id: call.call_id.clone(),
        customer: customer_info,
        customer_context,
        config: call.config,
        providers: call.providers,
        io: CallIo {
            customer_audio: cust_rx,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "livekit".into(),
            room: Some(call.room.clone()),
        },
        record: call.record,
    });
    tracing::info!(call_id = %handle.call_id, "livekit call started");
    let inbound = tokio::spawn(pump_customer_audio(stream, cust_tx));
    let source = std::sync::Arc::new(source);
    let outbound = tokio::spawn(pump_agent_audio(agent_rx, source.clone()));
    let relay = std::sync::Arc::new(Relay::new(
        &call.room,
        creds.clone(),
        std::sync::Arc::new(hub.clone()),
    ));
    let relaying = tokio::spawn(relay_call(
        RelayFeed::new(&handle, relayed),
        relay.clone(),
        room.sender(),
    ));
    tokio::spawn(run_room(RoomTask {
        relay,
        relaying,
        supervisor_voice: None,
        room,
        handle: handle.clone(),
        customer,
        customer_track_sid: String::new(),
        agent_track_sid,
        source,
        _track: track,
        inbound,
        outbound,
        events,
        call_events,
        started: Instant::now(),
    }));
    Ok(handle)
}

async fn wait_for_caller(room: &mut Room, wait: Duration) -> Option<String> {
    if let Some(p) = room.participants().find(|p| is_caller(&p.kind)) {
        return Some(p.identity.clone());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, room.next_event()).await {
            Ok(Some(RoomEvent::ParticipantConnected { identity, kind })) if is_caller(&kind) => {
                return Some(identity)
            }
            Ok(Some(RoomEvent::Disconnected { .. })) | Ok(None) | Err(_) => return None,
            Ok(Some(_)) => {}
        }
    }
}

/// The caller's microphone into the call. The call is never made to wait on
/// the network, nor the network on a busy call: a full queue drops the frame,
/// like a lost packet.
async fn pump_customer_audio(stream: AudioStream, tx: mpsc::Sender<InboundFrame>) {
    stream
        .frames(|frame| {
            let f = InboundFrame {
                frame,
                due: Instant::now(),
            };
            !matches!(tx.try_send(f), Err(mpsc::error::TrySendError::Closed(_)))
        })
        .await;
}

async fn pump_agent_audio(
    mut rx: mpsc::Receiver<OutboundFrame>,
    source: std::sync::Arc<AudioSource>,
) {
    let mut failures = 0u32;
    while let Some(f) = rx.recv().await {
        if let Err(e) = source.capture(&f.frame.samples).await {
            failures += 1;
            if failures == 1 || failures % 100 == 0 {
                tracing::warn!(
                    code = e.code(),
                    failures,
                    "agent audio not sent to the room"
                );
            }
        }
    }
}

struct RoomTask {
    relay: std::sync::Arc<Relay>,
    relaying: tokio::task::JoinHandle<()>,
    /// The supervisor's microphone, passed to the call (which sends it on to
    /// the customer while the supervisor is in control).
    supervisor_voice: Option<tokio::task::JoinHandle<()>>,
    room: Room,
    handle: CallHandle,
    customer: String,
    customer_track_sid: String,
    agent_track_sid: String,
    source: std::sync::Arc<AudioSource>,
    _track: LocalAudioTrack,
    inbound: tokio::task::JoinHandle<()>,
    outbound: tokio::task::JoinHandle<()>,
    events: broadcast::Sender<CallEvent>,
    call_events: broadcast::Receiver<CallEvent>,
    started: Instant,
}

impl RoomTask {
    fn tell(&self, code: &str, message: &str) {
        let _ = self.events.send(CallEvent {
            call_id: self.handle.call_id.clone(),
            t_ms: self.started.elapsed().as_millis() as u64,
            kind: EventKind::Error {
                turn: None,
                stage: Stage::Transport,
                code: code.to_string(),
                message: message.to_string(),
                fallback: None,
            },
        });
    }
}

impl RoomTask {
    /// A supervisor who proved themselves by command now publishes their
    /// microphone (they took the call over): it goes to the call as the
    /// supervisor's voice.
    async fn hear_supervisor(&mut self, identity: &str) {
        let stream = match self
            .room
            .participant(identity)
            .map(|p| p.audio(SAMPLE_RATE, 20))
        {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::warn!(call_id = %self.handle.call_id, code = e.code(), "the supervisor's voice is not heard");
                return;
            }
            None => return,
        };
        let (tx, rx) = mpsc::channel::<InboundFrame>(64);
        if self
            .handle
            .send(CallCommand::SupervisorAudio(rx))
            .await
            .is_err()
        {
            return;
        }
        if let Some(old) = self
            .supervisor_voice
            .replace(tokio::spawn(pump_customer_audio(stream, tx)))
        {
            old.abort();
        }
        tracing::info!(call_id = %self.handle.call_id, "supervisor's voice on the line");
    }
}

/// The call's events and statuses to the room, for supervisors' walls.
async fn relay_call(mut feed: RelayFeed, relay: std::sync::Arc<Relay>, room: RoomSender) {
    let mut failures = 0u32;
    while let Some(packets) = feed.next(&relay).await {
        for p in packets {
            let sent = tokio::time::timeout(
                Duration::from_secs(2),
                room.publish_data(p, EVENTS_TOPIC, &[]),
            )
            .await;
            if !matches!(sent, Ok(Ok(()))) {
                failures += 1;
                if failures == 1 || failures % 100 == 0 {
                    tracing::warn!(failures, "call events not sent to the room");
                }
            }
        }
    }
}

/// A supervisor's RPC: what they asked for goes to them alone, then the reply.
async fn answer(inv: RpcInvocation, relay: std::sync::Arc<Relay>, room: RoomSender) {
    let done = relay.invoke(&inv.method, &inv.caller, &inv.payload).await;
    let to = [inv.caller.clone()];
    for p in done.to_caller {
        if room.publish_data(p, EVENTS_TOPIC, &to).await.is_err() {
            break;
        }
    }
    if let Err(e) = room.respond_rpc(inv.invocation_id, done.reply) {
        tracing::warn!(code = e.code(), "an RPC was not answered");
    }
}

/// Captions of one transcript line: interim ones share the final one's id.
pub fn caption_segment(call_id: &str, turn: u32, speaker: Speaker) -> String {
    let who = match speaker {
        Speaker::Customer => "customer",
        Speaker::Agent => "agent",
        Speaker::Supervisor => "supervisor",
    };
    format!("{call_id}-{turn}-{who}")
}

async fn run_room(mut t: RoomTask) {
    let ended = t.handle.clone();
    let ended = ended.ended();
    tokio::pin!(ended);
    loop {
        tokio::select! {
            _ = &mut ended => break,
            ev = t.room.next_event() => match ev {
                Some(RoomEvent::ParticipantDisconnected { identity }) if identity == t.customer => {
                    let _ = t.handle.send(CallCommand::Hangup).await;
                }
                Some(RoomEvent::TrackSubscribed { identity, track_sid, audio: true, .. }) if identity == t.customer => {
                    t.customer_track_sid = track_sid;
                }
                Some(RoomEvent::TrackSubscribed { identity, audio: true, .. }) if t.relay.is_supervisor(&identity) => {
                    t.hear_supervisor(&identity).await;
                }
                Some(RoomEvent::RpcInvocation(inv)) => {
                    tokio::spawn(answer(inv, t.relay.clone(), t.room.sender()));
                }
                Some(RoomEvent::Reconnecting) => {
                    tracing::warn!(call_id = %t.handle.call_id, "livekit connection lost; reconnecting");
                    t.tell("livekit_reconnecting", "the connection to the LiveKit room was lost; reconnecting");
                }
                Some(RoomEvent::Reconnected) => {
                    tracing::info!(call_id = %t.handle.call_id, "livekit connection restored");
                }
                Some(RoomEvent::Disconnected { reason }) => {
                    tracing::warn!(call_id = %t.handle.call_id, %reason, "left the livekit room");
                    t.tell("livekit_disconnected", &format!("the LiveKit room connection ended ({reason})"));
                    // Closing the customer's audio ends the call (transport closed).
                    t.inbound.abort();
                }
                None => {
                    t.inbound.abort();
                }
                Some(_) => {}
            },
            ev = t.call_events.recv() => match ev {
                Ok(ev) if ev.call_id == t.handle.call_id => match ev.kind {
                    EventKind::Transcript { speaker, text, is_final, turn, .. } => {
                        let track = match speaker {
                            Speaker::Customer => t.customer_track_sid.clone(),
                            _ => t.agent_track_sid.clone(),
                        };
                        let segment = caption_segment(&t.handle.call_id, turn, speaker);
                        let sent = tokio::time::timeout(
                            Duration::from_secs(2),
                            t.room.send_transcription(&text, &segment, &track, is_final),
                        )
                        .await;
                        if !matches!(sent, Ok(Ok(()))) {
                            tracing::debug!(call_id = %t.handle.call_id, "caption not sent");
                        }
                    }
                    EventKind::BargeIn { .. } => {
                        // What the library still holds of the interrupted reply
                        // must not play on.
                        let _ = t.source.clear();
                    }
                    _ => {}
                },
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    t.inbound.abort();
    t.outbound.abort();
    if let Some(v) = t.supervisor_voice.take() {
        v.abort();
    }
    // The last events (call_ended) go out before the room is left.
    let _ = tokio::time::timeout(Duration::from_secs(2), &mut t.relaying).await;
    t.relaying.abort();
    let call_id = t.handle.call_id.clone();
    if let Err(e) = t.room.disconnect().await {
        tracing::debug!(%call_id, code = e.code(), "leaving the livekit room");
    }
    tracing::info!(%call_id, "livekit call closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_callers_are_known_by_number_and_others_are_not_guessed() {
        assert_eq!(
            customer_info("+971501234567", "sip").phone.as_deref(),
            Some("+971501234567")
        );
        assert_eq!(customer_info("web-visitor-9", "standard").phone, None);
        assert_eq!(customer_info("+971501234567", "standard").phone, None);
        assert_eq!(customer_info("sip_trunk_x", "sip").phone, None);
        assert!(is_caller("sip") && is_caller("standard"));
        assert!(!is_caller("agent") && !is_caller("egress"));
        assert_eq!(caption_segment("c1", 3, Speaker::Agent), "c1-3-agent");
    }
}
