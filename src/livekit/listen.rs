//! Listening in on a call in a LiveKit room — one hosted by a `switchboard
//! agent` worker on another machine, say — as a hidden supervisor: the
//! supervisor's token lets them subscribe and nothing else, nobody in the room
//! sees them, and what they hear is the customer and the agent, each tagged so a
//! [`crate::transport::CallMonitor`] mixes them sample-aligned on the speakers.
//!
//! Given a [`RemoteHub`], the listener also follows the room's calls: the
//! worker's events reach the wall and the supervisor's commands reach the
//! worker (DESIGN.md's "Scale"). Taking over, the supervisor speaks: the
//! server lets them publish ([`super::rooms::RoomService::set_speaking`]),
//! their microphone is published for the worker's ears only, and the worker
//! passes it on to the customer while the supervisor is in control — so the
//! customer hears one voice on one track, and never the supervisor twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::audio::SAMPLE_RATE;
use crate::call::{InboundFrame, MonitorFrame};
use crate::events::Speaker;

use super::call::RoomCallError;
use super::credentials::LiveKitCredentials;
use super::ffi::{AudioSource, AudioStream, LocalAudioTrack, Room, RoomEvent, RoomOptions};
use super::remote::RemoteHub;
use super::rooms::RoomService;
use super::token::{mint, Role, TokenRequest};

/// Name of the supervisor's published microphone track.
pub const SUPERVISOR_TRACK: &str = "supervisor-voice";

/// A supervisor listening to one room; stops on [`stop`](Self::stop), on drop,
/// or when the room goes away.
pub struct RoomListener {
    pub room: String,
    stop: Option<oneshot::Sender<()>>,
    voice: VoiceControl,
    task: tokio::task::JoinHandle<()>,
}

/// The supervisor's voice in a listened room; cheap to clone.
#[derive(Clone)]
pub struct VoiceControl {
    control: mpsc::Sender<Control>,
}

enum Control {
    Speak {
        mic: mpsc::Receiver<InboundFrame>,
        done: oneshot::Sender<Result<(), RoomCallError>>,
    },
    Quiet {
        done: oneshot::Sender<()>,
    },
}

/// The supervisor's microphone, published in the room.
struct Voice {
    _track: LocalAudioTrack,
    sid: String,
    pump: tokio::task::JoinHandle<()>,
}

impl RoomListener {
    pub fn voice(&self) -> VoiceControl {
        self.voice.clone()
    }

    /// Leaves the room and waits until every handle is released.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// The room was left (closed, removed, or the connection lost for good).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for RoomListener {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl VoiceControl {
    /// The supervisor speaks in the room (after taking its call over): `mic`
    /// is published for the room's worker alone.
    pub async fn speak(&self, mic: mpsc::Receiver<InboundFrame>) -> Result<(), RoomCallError> {
        let (done, answer) = oneshot::channel();
        self.control
            .send(Control::Speak { mic, done })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// The supervisor listens unseen again (after handing back).
    pub async fn quiet(&self) {
        let (done, answer) = oneshot::channel();
        if self.control.send(Control::Quiet { done }).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// Who a participant is to the listener: the agent, or the caller.
pub fn speaker_of(kind: &str) -> Speaker {
    if kind == "agent" {
        Speaker::Agent
    } else {
        Speaker::Customer
    }
}

fn gone() -> RoomCallError {
    RoomCallError::Media(super::ffi::FfiError::Input(
        "the room is no longer joined".into(),
    ))
}

/// Joins `room` as the hidden supervisor `identity` and sends everyone's audio,
/// tagged by speaker, to `tap` (frames are dropped, never waited for, when the
/// listener falls behind). With `remote`, the room's calls are followed there.
pub async fn listen_to_room(
    creds: &LiveKitCredentials,
    room: &str,
    identity: &str,
    tap: mpsc::Sender<MonitorFrame>,
    remote: Option<RemoteHub>,
) -> Result<RoomListener, RoomCallError> {
    let url = creds.url()?.to_string();
    let token = mint(creds, &TokenRequest::new(room, identity, Role::Supervisor))?;
    let mut joined = Room::connect(&url, &token, &RoomOptions::default()).await?;
    let mut pumps = Vec::new();
    for p in joined.participants() {
        pumps.push(tokio::spawn(pump(
            p.audio(SAMPLE_RATE, 20)?,
            speaker_of(&p.kind),
            tap.clone(),
        )));
    }
    if let Some(hub) = &remote {
        hub.attach(room, identity, creds.clone(), Arc::new(joined.sender()));
        for p in joined.participants().filter(|p| p.kind == "agent") {
            hub.worker_seen(room, &p.identity);
        }
    }
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let (control, mut control_rx) = mpsc::channel(4);
    let (creds, room_name, me) = (creds.clone(), room.to_string(), identity.to_string());
    let task = tokio::spawn(async move {
        let mut voice: Option<Voice> = None;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                ctl = control_rx.recv() => match ctl {
                    Some(Control::Speak { mic, done }) => {
                        if let Some(v) = voice.take() {
                            quiet(&joined, &creds, &me, v).await;
                        }
                        let spoke = speak(&joined, &creds, &me, mic).await;
                        let _ = done.send(spoke.map(|v| voice = Some(v)));
                    }
                    Some(Control::Quiet { done }) => {
                        if let Some(v) = voice.take() {
                            quiet(&joined, &creds, &me, v).await;
                        }
                        let _ = done.send(());
                    }
                    None => {}
                },
                ev = joined.next_event() => match ev {
                    Some(RoomEvent::ParticipantConnected { identity, kind }) => {
                        if let Some(p) = joined.participant(&identity) {
                            match p.audio(SAMPLE_RATE, 20) {
                                Ok(s) => pumps.push(tokio::spawn(pump(s, speaker_of(&kind), tap.clone()))),
                                Err(e) => tracing::warn!(code = e.code(), "a participant's audio is not heard"),
                            }
                        }
                        if kind == "agent" {
                            if let Some(hub) = &remote {
                                hub.worker_seen(&room_name, &identity);
                            }
                        }
                    }
                    Some(RoomEvent::ParticipantDisconnected { identity }) => {
                        if let Some(hub) = &remote {
                            hub.worker_left(&room_name, &identity);
                        }
                    }
                    Some(RoomEvent::Data { identity, topic, data }) => {
                        if let Some(hub) = &remote {
                            hub.packet(&room_name, &identity, &topic, &data);
                        }
                    }
                    Some(RoomEvent::Disconnected { .. }) | None => break,
                    Some(_) => {}
                },
            }
        }
        if let Some(hub) = &remote {
            hub.detach(&room_name);
        }
        if let Some(v) = voice.take() {
            quiet(&joined, &creds, &me, v).await;
        }
        for p in &pumps {
            p.abort();
        }
        for p in pumps {
            let _ = p.await;
        }
        let _ = joined.disconnect().await;
    });
    Ok(RoomListener {
        room: room.to_string(),
        stop: Some(stop_tx),
        voice: VoiceControl { control },
        task,
    })
}

/// The supervisor's microphone into the room, for the worker's ears only.
async fn speak(
    room: &Room,
    creds: &LiveKitCredentials,
    me: &str,
    mut mic: mpsc::Receiver<InboundFrame>,
) -> Result<Voice, RoomCallError> {
    let service = RoomService::new(creds)?;
    // Who may hear the track, before there is one: the room's workers only.
    let workers: Vec<String> = room
        .participants()
        .filter(|p| p.kind == "agent")
        .map(|p| p.identity.clone())
        .collect();
    room.allow_subscribers(&workers)?;
    service.set_speaking(&room.name, me, true).await?;
    let source = Arc::new(AudioSource::new(SAMPLE_RATE, 1, 100)?);
    let track = LocalAudioTrack::new(SUPERVISOR_TRACK, &source)?;
    // The server's new permission reaches our connection a moment later.
    let mut tries = 0;
    let sid = loop {
        match room.publish_audio(&track).await {
            Ok(sid) => break sid,
            Err(_) if tries < 10 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => {
                let _ = service.set_speaking(&room.name, me, false).await;
                return Err(e.into());
            }
        }
    };
    let pump = tokio::spawn(async move {
        while let Some(f) = mic.recv().await {
            if source.capture(&f.frame.samples).await.is_err() {
                tracing::debug!("a frame of the supervisor's voice was not sent");
            }
        }
    });
    Ok(Voice {
        _track: track,
        sid,
        pump,
    })
}

/// Back to listening unseen.
async fn quiet(room: &Room, creds: &LiveKitCredentials, me: &str, v: Voice) {
    v.pump.abort();
    if let Err(e) = room.unpublish(&v.sid).await {
        tracing::debug!(
            code = e.code(),
            "the supervisor's track was not unpublished"
        );
    }
    match RoomService::new(creds) {
        Ok(s) => {
            if let Err(e) = s.set_speaking(&room.name, me, false).await {
                tracing::warn!(code = %e.code(), "the supervisor may still be visible in the room");
            }
        }
        Err(e) => {
            tracing::warn!(code = %e.code(), "the supervisor may still be visible in the room")
        }
    }
}

async fn pump(stream: AudioStream, speaker: Speaker, tap: mpsc::Sender<MonitorFrame>) {
    stream
        .frames(|frame| {
            !matches!(
                tap.try_send(MonitorFrame { frame, speaker }),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        })
        .await;
}
