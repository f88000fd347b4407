//! Listening in on a call in a LiveKit room — one hosted by a `switchboard
//! agent` worker on another machine, say — as a hidden supervisor: the
//! supervisor's token lets them subscribe and nothing else, nobody in the room
//! sees them, and what they hear is the customer and the agent, each tagged so a
//! [`crate::transport::CallMonitor`] mixes them sample-aligned on the speakers.
//!
//! Taking over a call hosted elsewhere needs the worker to stop its agent
//! speaking (the remote hub of DESIGN.md's "Scale" section); calls the console
//! hosts itself are taken over through the local desk.

use tokio::sync::{mpsc, oneshot};

use crate::audio::SAMPLE_RATE;
use crate::call::MonitorFrame;
use crate::events::Speaker;

use super::call::RoomCallError;
use super::credentials::LiveKitCredentials;
use super::ffi::{AudioStream, Room, RoomEvent, RoomOptions};
use super::token::{mint, Role, TokenRequest};

/// A supervisor listening to one room; stops on [`stop`](Self::stop), on drop,
/// or when the room goes away.
pub struct RoomListener {
    pub room: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RoomListener {
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

/// Who a participant is to the listener: the agent, or the caller.
pub fn speaker_of(kind: &str) -> Speaker {
    if kind == "agent" {
        Speaker::Agent
    } else {
        Speaker::Customer
    }
}

/// Joins `room` as the hidden supervisor `identity` and sends everyone's audio,
/// tagged by speaker, to `tap` (frames are dropped, never waited for, when the
/// listener falls behind).
pub async fn listen_to_room(
    creds: &LiveKitCredentials,
    room: &str,
    identity: &str,
    tap: mpsc::Sender<MonitorFrame>,
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
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                ev = joined.next_event() => match ev {
                    Some(RoomEvent::ParticipantConnected { identity, kind }) => {
                        if let Some(p) = joined.participant(&identity) {
                            match p.audio(SAMPLE_RATE, 20) {
                                Ok(s) => pumps.push(tokio::spawn(pump(s, speaker_of(&kind), tap.clone()))),
                                Err(e) => tracing::warn!(code = e.code(), "a participant's audio is not heard"),
                            }
                        }
                    }
                    Some(RoomEvent::Disconnected { .. }) | None => break,
                    Some(_) => {}
                },
            }
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
        task,
    })
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
