//! A LiveKit room joined through the library: connect with a URL and token,
//! the room's events (who joined and left, tracks, reconnecting, disconnected),
//! the agent's audio track published, captions sent on LiveKit's transcription
//! topic, and a clean disconnect that releases every handle.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;

use super::audio::{AudioStream, LocalAudioTrack};
use super::{ask, proto, FfiClient, FfiError, Keep, OwnedHandle, Router, ANSWER_TIMEOUT};
use crate::livekit::remote::RpcFailure;

/// LiveKit's text-stream topic for captions (what LiveKit's clients render).
pub const TRANSCRIPTION_TOPIC: &str = "lk.transcription";

#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Give up joining after this long.
    pub connect_timeout: Duration,
    /// Extra attempts the library makes to join.
    pub join_retries: u32,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            join_retries: 1,
        }
    }
}

/// What happens in a joined room.
#[derive(Debug)]
pub enum RoomEvent {
    ParticipantConnected {
        identity: String,
        /// standard, sip, agent…
        kind: String,
    },
    ParticipantDisconnected {
        identity: String,
    },
    /// We now receive this participant's track (audio: make an [`AudioStream`]).
    TrackSubscribed {
        identity: String,
        track_sid: String,
        audio: bool,
        track: OwnedHandle,
    },
    TrackUnsubscribed {
        identity: String,
        track_sid: String,
    },
    /// The connection dropped; the library is trying to restore it.
    Reconnecting,
    Reconnected,
    /// We are out of the room for good (left, removed, room closed, network).
    Disconnected {
        reason: String,
    },
    /// A data packet (reliable or not) someone published on `topic`.
    Data {
        identity: String,
        topic: String,
        data: Vec<u8>,
    },
    /// Someone called one of our registered RPC methods: answer with
    /// [`Room::respond_rpc`] within `timeout`.
    RpcInvocation(RpcInvocation),
}

#[derive(Debug, Clone)]
pub struct RpcInvocation {
    pub invocation_id: u64,
    pub method: String,
    /// Who called, as LiveKit's server vouches.
    pub caller: String,
    pub payload: String,
    pub timeout: Duration,
}

/// Our participant in a room, for other tasks: data, RPC calls and answers.
/// Cheap to clone; once the room is left its calls fail.
#[derive(Debug, Clone)]
pub struct RoomSender {
    local: u64,
}

impl RoomSender {
    /// Publishes `data` reliably on `topic`, to `to` only, or to everyone if empty.
    pub async fn publish_data(
        &self,
        data: Vec<u8>,
        topic: &str,
        to: &[String],
    ) -> Result<(), FfiError> {
        let (data_ptr, data_len) = (data.as_ptr() as u64, data.len() as u64);
        let local = self.local;
        // The library reads the bytes until it answers: the request owns them.
        let answered = ask(
            "PublishData",
            Some(Keep::Bytes(data)),
            ANSWER_TIMEOUT,
            |id| {
                proto::ffi_request::Message::PublishData(proto::PublishDataRequest {
                    local_participant_handle: local,
                    data_ptr,
                    data_len,
                    reliable: true,
                    topic: Some(topic.to_string()),
                    destination_identities: to.to_vec(),
                    request_async_id: Some(id),
                    ..Default::default()
                })
            },
        );
        match answered.await? {
            proto::ffi_event::Message::PublishData(cb) => match cb.error {
                Some(e) => Err(FfiError::Refused {
                    what: "PublishData",
                    reason: e,
                }),
                None => Ok(()),
            },
            _ => Err(FfiError::Protocol {
                what: "PublishData",
            }),
        }
    }

    /// Answers an RPC call made to us.
    pub fn respond_rpc(
        &self,
        invocation_id: u64,
        reply: Result<String, RpcFailure>,
    ) -> Result<(), FfiError> {
        let (payload, error) = match reply {
            Ok(p) => (Some(p), None),
            Err(e) => (
                None,
                Some(proto::RpcError {
                    code: e.code,
                    message: e.message,
                    data: e.data,
                }),
            ),
        };
        let msg = proto::ffi_request::Message::RpcMethodInvocationResponse(
            proto::RpcMethodInvocationResponseRequest {
                local_participant_handle: self.local,
                invocation_id,
                payload,
                error,
            },
        );
        match FfiClient::get()?.request("RpcMethodInvocationResponse", msg)? {
            proto::ffi_response::Message::RpcMethodInvocationResponse(r) => match r.error {
                Some(e) => Err(FfiError::Refused {
                    what: "RpcMethodInvocationResponse",
                    reason: e,
                }),
                None => Ok(()),
            },
            _ => Err(FfiError::Protocol {
                what: "RpcMethodInvocationResponse",
            }),
        }
    }

    /// Calls `method` of participant `to`, waiting up to `timeout` for the reply.
    pub async fn call(
        &self,
        to: &str,
        method: &str,
        payload: String,
        timeout: Duration,
    ) -> Result<String, RpcFailure> {
        let local = self.local;
        let ms = timeout.as_millis().clamp(1000, 60_000) as u32;
        // The library answers with its own timeout error; ours only bounds a
        // library that never answers at all.
        let answered = ask("PerformRpc", None, timeout + Duration::from_secs(5), |id| {
            proto::ffi_request::Message::PerformRpc(proto::PerformRpcRequest {
                local_participant_handle: local,
                destination_identity: to.to_string(),
                method: method.to_string(),
                payload,
                response_timeout_ms: Some(ms),
                request_async_id: Some(id),
                max_round_trip_latency_ms: None,
            })
        });
        let lost = |e: FfiError| RpcFailure {
            code: 1505,
            message: e.to_string(),
            data: None,
        };
        match answered.await.map_err(lost)? {
            proto::ffi_event::Message::PerformRpc(cb) => match cb.error {
                Some(e) => Err(RpcFailure {
                    code: e.code,
                    message: e.message,
                    data: e.data,
                }),
                None => Ok(cb.payload.unwrap_or_default()),
            },
            _ => Err(lost(FfiError::Protocol { what: "PerformRpc" })),
        }
    }
}

/// Someone else in the room.
#[derive(Debug)]
pub struct RemoteParticipant {
    pub identity: String,
    pub kind: String,
    handle: OwnedHandle,
}

impl RemoteParticipant {
    /// Their microphone's audio at `sample_rate` Hz mono, in frames of `frame_ms`.
    pub fn audio(&self, sample_rate: u32, frame_ms: u32) -> Result<AudioStream, FfiError> {
        AudioStream::for_participant(self.handle.id(), sample_rate, 1, frame_ms)
    }
}

#[derive(Debug)]
pub struct Room {
    handle: OwnedHandle,
    local: OwnedHandle,
    pub name: String,
    pub sid: String,
    pub local_identity: String,
    participants: HashMap<String, RemoteParticipant>,
    events: mpsc::UnboundedReceiver<Routed>,
}

/// A room event as routed from the callback: handles already owned.
#[derive(Debug)]
pub(super) enum Routed {
    Event(RoomEvent),
    Joined(RemoteParticipant),
}

fn kind_name(kind: i32) -> String {
    proto::ParticipantKind::try_from(kind)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("PARTICIPANT_KIND_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn reason_name(reason: i32) -> String {
    proto::DisconnectReason::try_from(reason)
        .map(|r| r.as_str_name().to_ascii_lowercase())
        .unwrap_or_else(|_| "unknown_reason".into())
}

fn participant(p: proto::OwnedParticipant) -> Option<RemoteParticipant> {
    let info = p.info;
    let handle = OwnedHandle::new(p.handle)?;
    Some(RemoteParticipant {
        identity: info.identity,
        kind: kind_name(info.kind),
        handle,
    })
}

impl Room {
    /// Joins the room at `url` with `token`. A server that is not there, refuses
    /// the token or does not answer in time is an error naming the cause; nothing
    /// is left behind.
    pub async fn connect(url: &str, token: &str, opts: &RoomOptions) -> Result<Room, FfiError> {
        if url.trim().is_empty() || token.trim().is_empty() {
            return Err(FfiError::Input("a room needs a URL and a token".into()));
        }
        // The library's own timeout applies per attempt; ours bounds the whole.
        let budget = opts.connect_timeout * (opts.join_retries + 1) + Duration::from_secs(5);
        let answered = ask("Connect", None, budget, |id| {
            proto::ffi_request::Message::Connect(proto::ConnectRequest {
                url: url.trim().to_string(),
                token: token.trim().to_string(),
                options: proto::RoomOptions {
                    auto_subscribe: Some(true),
                    adaptive_stream: Some(false),
                    dynacast: Some(false),
                    join_retries: Some(opts.join_retries),
                    connect_timeout_ms: Some(opts.connect_timeout.as_millis() as u64),
                    ..Default::default()
                },
                request_async_id: Some(id),
            })
        });
        let cb = match answered.await? {
            proto::ffi_event::Message::Connect(cb) => cb,
            _ => return Err(FfiError::Protocol { what: "Connect" }),
        };
        use proto::connect_callback::Message as M;
        let result = match cb.message {
            Some(M::Error(e)) => {
                return Err(FfiError::Connect(format!("{e} (server {})", url.trim())))
            }
            Some(M::Result(r)) => r,
            None => return Err(FfiError::Protocol { what: "Connect" }),
        };
        let room = result.room;
        let info = room.info;
        let handle = OwnedHandle::new(room.handle).ok_or(FfiError::Protocol { what: "Connect" })?;
        let local = result.local_participant;
        let local_identity = local.info.identity.clone();
        let local = OwnedHandle::new(local.handle).ok_or(FfiError::Protocol { what: "Connect" })?;
        let mut participants = HashMap::new();
        for p in result.participants {
            // Publications are announced again as tracks get subscribed.
            for publication in p.publications {
                drop(OwnedHandle::new(publication.handle));
            }
            if let Some(rp) = participant(p.participant) {
                participants.insert(rp.identity.clone(), rp);
            }
        }
        let (tx, events) = mpsc::unbounded_channel();
        // RPC calls to us are addressed to our participant, not the room.
        super::router().register_room(local.id(), tx.clone());
        super::router().register_room(handle.id(), tx);
        Ok(Room {
            handle,
            local,
            name: info.name,
            sid: info.sid.unwrap_or_default(),
            local_identity,
            participants,
            events,
        })
    }

    pub fn participant(&self, identity: &str) -> Option<&RemoteParticipant> {
        self.participants.get(identity)
    }

    pub fn participants(&self) -> impl Iterator<Item = &RemoteParticipant> {
        self.participants.values()
    }

    /// The next event; None once the room is gone.
    pub async fn next_event(&mut self) -> Option<RoomEvent> {
        match self.events.recv().await? {
            Routed::Joined(p) => {
                let event = RoomEvent::ParticipantConnected {
                    identity: p.identity.clone(),
                    kind: p.kind.clone(),
                };
                self.participants.insert(p.identity.clone(), p);
                Some(event)
            }
            Routed::Event(e) => {
                if let RoomEvent::ParticipantDisconnected { identity } = &e {
                    self.participants.remove(identity);
                }
                Some(e)
            }
        }
    }

    /// Publishes the agent's voice; returns the track's id in the room.
    pub async fn publish_audio(&self, track: &LocalAudioTrack) -> Result<String, FfiError> {
        let answered = ask("PublishTrack", None, ANSWER_TIMEOUT, |id| {
            proto::ffi_request::Message::PublishTrack(proto::PublishTrackRequest {
                local_participant_handle: self.local.id(),
                track_handle: track.handle_id(),
                options: proto::TrackPublishOptions {
                    source: Some(proto::TrackSource::SourceMicrophone as i32),
                    dtx: Some(true),
                    red: Some(true),
                    ..Default::default()
                },
                request_async_id: Some(id),
            })
        });
        match answered.await? {
            proto::ffi_event::Message::PublishTrack(cb) => {
                use proto::publish_track_callback::Message as M;
                match cb.message {
                    Some(M::Error(e)) => Err(FfiError::Refused {
                        what: "PublishTrack",
                        reason: e,
                    }),
                    Some(M::Publication(p)) => {
                        let sid = p.info.sid;
                        drop(OwnedHandle::new(p.handle));
                        Ok(sid)
                    }
                    None => Err(FfiError::Protocol {
                        what: "PublishTrack",
                    }),
                }
            }
            _ => Err(FfiError::Protocol {
                what: "PublishTrack",
            }),
        }
    }

    /// A caption on LiveKit's transcription topic, attributed to `track_sid`
    /// (the agent's track for its words, the customer's for theirs). Interim
    /// captions share `segment_id` with the final one that replaces them.
    pub async fn send_transcription(
        &self,
        text: &str,
        segment_id: &str,
        track_sid: &str,
        is_final: bool,
    ) -> Result<(), FfiError> {
        let attributes: std::collections::HashMap<String, String> = [
            ("lk.segment_id", segment_id),
            ("lk.transcribed_track_id", track_sid),
            (
                "lk.transcription_final",
                if is_final { "true" } else { "false" },
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let answered = ask("StreamSendText", None, ANSWER_TIMEOUT, |id| {
            proto::ffi_request::Message::SendText(proto::StreamSendTextRequest {
                local_participant_handle: self.local.id(),
                options: proto::StreamTextOptions {
                    topic: TRANSCRIPTION_TOPIC.to_string(),
                    attributes,
                    ..Default::default()
                },
                text: text.to_string(),
                request_async_id: Some(id),
            })
        });
        match answered.await? {
            proto::ffi_event::Message::SendText(cb) => {
                use proto::stream_send_text_callback::Result as R;
                match cb.result {
                    Some(R::Error(e)) => Err(FfiError::Refused {
                        what: "StreamSendText",
                        reason: e.description,
                    }),
                    _ => Ok(()),
                }
            }
            _ => Err(FfiError::Protocol {
                what: "StreamSendText",
            }),
        }
    }

    /// Lets others call `method` on us; calls arrive as
    /// [`RoomEvent::RpcInvocation`].
    pub fn register_rpc(&self, method: &str) -> Result<(), FfiError> {
        let msg = proto::ffi_request::Message::RegisterRpcMethod(proto::RegisterRpcMethodRequest {
            local_participant_handle: self.local.id(),
            method: method.to_string(),
        });
        match FfiClient::get()?.request("RegisterRpcMethod", msg)? {
            proto::ffi_response::Message::RegisterRpcMethod(_) => Ok(()),
            _ => Err(FfiError::Protocol {
                what: "RegisterRpcMethod",
            }),
        }
    }

    /// Our participant, for other tasks (data, RPC).
    pub fn sender(&self) -> RoomSender {
        RoomSender {
            local: self.local.id(),
        }
    }

    /// Who may subscribe to the tracks we publish: only `identities` (the
    /// supervisor's voice goes to the worker alone, which passes it on to the
    /// customer while the supervisor is in control).
    pub fn allow_subscribers(&self, identities: &[String]) -> Result<(), FfiError> {
        let msg = proto::ffi_request::Message::SetTrackSubscriptionPermissions(
            proto::SetTrackSubscriptionPermissionsRequest {
                local_participant_handle: self.local.id(),
                all_participants_allowed: false,
                permissions: identities
                    .iter()
                    .map(|i| proto::ParticipantTrackPermission {
                        participant_identity: i.clone(),
                        allow_all: Some(true),
                        allowed_track_sids: Vec::new(),
                    })
                    .collect(),
            },
        );
        match FfiClient::get()?.request("SetTrackSubscriptionPermissions", msg)? {
            proto::ffi_response::Message::SetTrackSubscriptionPermissions(_) => Ok(()),
            _ => Err(FfiError::Protocol {
                what: "SetTrackSubscriptionPermissions",
            }),
        }
    }

    /// Stops publishing a track of ours.
    pub async fn unpublish(&self, track_sid: &str) -> Result<(), FfiError> {
        let local = self.local.id();
        let answered = ask("UnpublishTrack", None, ANSWER_TIMEOUT, |id| {
            proto::ffi_request::Message::UnpublishTrack(proto::UnpublishTrackRequest {
                local_participant_handle: local,
                track_sid: track_sid.to_string(),
                stop_on_unpublish: true,
                request_async_id: Some(id),
            })
        });
        match answered.await? {
            proto::ffi_event::Message::UnpublishTrack(cb) => match cb.error {
                Some(e) => Err(FfiError::Refused {
                    what: "UnpublishTrack",
                    reason: e,
                }),
                None => Ok(()),
            },
            _ => Err(FfiError::Protocol {
                what: "UnpublishTrack",
            }),
        }
    }

    /// Leaves the room and releases its handles.
    pub async fn disconnect(self) -> Result<(), FfiError> {
        let room_handle = self.handle.id();
        ask("Disconnect", None, ANSWER_TIMEOUT, |id| {
            proto::ffi_request::Message::Disconnect(proto::DisconnectRequest {
                room_handle,
                request_async_id: Some(id),
                reason: Some(proto::DisconnectReason::ClientInitiated as i32),
            })
        })
        .await?;
        Ok(())
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        super::router().unregister_room(self.handle.id());
        super::router().unregister_room(self.local.id());
    }
}

impl Router {
    fn register_room(&self, room: u64, tx: mpsc::UnboundedSender<Routed>) {
        let early = self
            .early_rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&room)
            .unwrap_or_default();
        for e in early {
            let _ = tx.send(e);
        }
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room, tx);
    }

    fn unregister_room(&self, room: u64) {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&room);
        let mut left = self.left_rooms.lock().unwrap_or_else(|p| p.into_inner());
        if left.len() == 256 {
            left.pop_front();
        }
        left.push_back(room);
        drop(left);
        self.early_rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&room);
    }
}

/// A user data packet, copied out of the library's buffer (whose handle is then
/// released); packets bigger than LiveKit sends are dropped.
fn data_packet(d: proto::DataPacketReceived) -> Option<RoomEvent> {
    use proto::data_packet_received::Value;
    let Some(Value::User(user)) = d.value else {
        return None;
    };
    let owned = OwnedHandle::new(user.data.handle);
    let info = user.data.data;
    if info.data_ptr == 0 || info.data_len > 1 << 20 {
        return None;
    }
    // SAFETY: the library's buffer is valid for `data_len` bytes until its
    // handle (`owned`) is dropped, which is after this copy.
    let data =
        unsafe { std::slice::from_raw_parts(info.data_ptr as *const u8, info.data_len as usize) }
            .to_vec();
    drop(owned);
    Some(RoomEvent::Data {
        identity: d.participant_identity,
        topic: user.topic.unwrap_or_default(),
        data,
    })
}

/// In the library's callback: an RPC call to one of our participants.
pub(super) fn route_rpc_invocation(r: &Router, ev: proto::RpcMethodInvocationEvent) {
    let tx = r
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&ev.local_participant_handle)
        .cloned();
    let invocation = RpcInvocation {
        invocation_id: ev.invocation_id,
        method: ev.method,
        caller: ev.caller_identity,
        payload: ev.payload,
        timeout: Duration::from_millis(ev.response_timeout_ms as u64),
    };
    match tx {
        Some(tx) => {
            let _ = tx.send(Routed::Event(RoomEvent::RpcInvocation(invocation)));
        }
        None => tracing::debug!("an RPC call for a room we are not in"),
    }
}

/// In the library's callback: own the handles, type the event, pass it on (or
/// keep it for a room whose `connect` has not returned yet).
pub(super) fn route_room_event(r: &Router, ev: proto::RoomEvent) {
    use proto::room_event::Message as M;
    let routed = match ev.message {
        Some(M::ParticipantConnected(p)) => participant(p.info).map(Routed::Joined),
        Some(M::ParticipantDisconnected(p)) => {
            Some(Routed::Event(RoomEvent::ParticipantDisconnected {
                identity: p.participant_identity,
            }))
        }
        Some(M::TrackSubscribed(t)) => {
            let track = t.track;
            let info = track.info;
            OwnedHandle::new(track.handle).map(|h| {
                Routed::Event(RoomEvent::TrackSubscribed {
                    identity: t.participant_identity,
                    track_sid: info.sid,
                    audio: info.kind == proto::TrackKind::KindAudio as i32,
                    track: h,
                })
            })
        }
        Some(M::TrackUnsubscribed(t)) => Some(Routed::Event(RoomEvent::TrackUnsubscribed {
            identity: t.participant_identity,
            track_sid: t.track_sid,
        })),
        Some(M::TrackPublished(t)) => {
            // Auto-subscribe follows with TrackSubscribed; release the publication.
            drop(OwnedHandle::new(t.publication.handle));
            None
        }
        Some(M::LocalTrackPublished(_)) => None,
        Some(M::Reconnecting(_)) => Some(Routed::Event(RoomEvent::Reconnecting)),
        Some(M::Reconnected(_)) => Some(Routed::Event(RoomEvent::Reconnected)),
        Some(M::Disconnected(d)) => Some(Routed::Event(RoomEvent::Disconnected {
            reason: reason_name(d.reason),
        })),
        Some(M::Eos(_)) => Some(Routed::Event(RoomEvent::Disconnected {
            reason: "room_closed".into(),
        })),
        Some(M::DataPacketReceived(d)) => data_packet(d).map(Routed::Event),
        _ => None,
    };
    let Some(routed) = routed else { return };
    let tx = r
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&ev.room_handle)
        .cloned();
    match tx {
        Some(tx) => {
            let _ = tx.send(routed);
        }
        None if r
            .left_rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&ev.room_handle) =>
        {
            // A room we left: its handles are released with `routed`.
        }
        None => {
            let mut early = r.early_rooms.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a few rooms being joined, a few hundred events each.
            if early.len() < 64 || early.contains_key(&ev.room_handle) {
                let queue = early.entry(ev.room_handle).or_default();
                if queue.len() < 256 {
                    queue.push(routed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(identity: &str, room: u64) -> proto::RoomEvent {
        proto::RoomEvent {
            room_handle: room,
            message: Some(proto::room_event::Message::ParticipantDisconnected(
                proto::ParticipantDisconnected {
                    participant_identity: identity.into(),
                    disconnect_reason: 0,
                },
            )),
        }
    }

    #[test]
    fn early_events_wait_for_their_room_and_late_ones_of_a_left_room_are_dropped() {
        let r = Router::default();
        // Before `connect` returns: kept, then delivered on registration.
        route_room_event(&r, left("customer-1", 7));
        let (tx, mut rx) = mpsc::unbounded_channel();
        r.register_room(7, tx);
        assert!(matches!(
            rx.try_recv(),
            Ok(Routed::Event(RoomEvent::ParticipantDisconnected { identity })) if identity == "customer-1"
        ));
        // After the room is left: nothing is parked for it.
        r.unregister_room(7);
        route_room_event(&r, left("customer-1", 7));
        assert!(r.early_rooms.lock().unwrap().is_empty());
        // Another room not joined yet still gets its early events kept.
        route_room_event(&r, left("agent", 8));
        assert_eq!(r.early_rooms.lock().unwrap().get(&8).map(Vec::len), Some(1));
    }
}
