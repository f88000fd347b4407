//! Audio in and out of LiveKit: an [`AudioSource`] the agent's voice is pushed
//! into (published as a [`LocalAudioTrack`]), and an [`AudioStream`] that
//! delivers a track's audio — the customer's — already resampled by the library
//! to the engine's 16 kHz mono.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::audio::{Frame, StreamResampler};

use super::{ask, proto, FfiClient, FfiError, OwnedHandle, Router, ANSWER_TIMEOUT};

/// Frames buffered per stream before new ones are dropped (2 s of 10 ms frames).
const STREAM_QUEUE: usize = 200;

/// Audio the library delivered, copied out of its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAudio {
    /// Interleaved 16-bit samples.
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub channels: u32,
}

/// Where the agent's voice goes in: frames pushed here are paced out by the
/// library's own queue.
#[derive(Debug)]
pub struct AudioSource {
    handle: OwnedHandle,
    sample_rate: u32,
    channels: u32,
}

impl AudioSource {
    /// A source of `sample_rate` Hz, `channels` channels, queueing at most
    /// `queue_ms` of audio (a push waits while the queue is full). No echo
    /// cancellation, noise suppression or gain control: the agent's voice is
    /// synthetic and clean.
    pub fn new(sample_rate: u32, channels: u32, queue_ms: u32) -> Result<AudioSource, FfiError> {
        if !(8_000..=48_000).contains(&sample_rate) || !(1..=2).contains(&channels) {
            return Err(FfiError::Input(format!(
                "an audio source needs 8–48 kHz and 1–2 channels, not {sample_rate} Hz × {channels}"
            )));
        }
        let c = FfiClient::get()?;
        let resp = c.request(
            "NewAudioSource",
            proto::ffi_request::Message::NewAudioSource(proto::NewAudioSourceRequest {
                r#type: proto::AudioSourceType::AudioSourceNative as i32,
                options: Some(proto::AudioSourceOptions {
                    echo_cancellation: false,
                    noise_suppression: false,
                    auto_gain_control: false,
                    prefer_hardware: None,
                }),
                sample_rate: Some(sample_rate),
                num_channels: Some(channels),
                queue_size_ms: Some(queue_ms),
                platform_audio_handle: None,
            }),
        )?;
        let proto::ffi_response::Message::NewAudioSource(r) = resp else {
            return Err(FfiError::Protocol {
                what: "NewAudioSource",
            });
        };
        let handle = OwnedHandle::new(r.source.handle).ok_or(FfiError::Protocol {
            what: "NewAudioSource",
        })?;
        Ok(AudioSource {
            handle,
            sample_rate,
            channels,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn handle_id(&self) -> u64 {
        self.handle.id()
    }

    /// Pushes interleaved samples; returns once the library has queued them.
    pub async fn capture(&self, samples: &[i16]) -> Result<(), FfiError> {
        if samples.is_empty() {
            return Ok(());
        }
        if samples.len() % self.channels as usize != 0 {
            return Err(FfiError::Input(format!(
                "{} samples do not divide into {} channels",
                samples.len(),
                self.channels
            )));
        }
        // The library reads the samples until it answers: they are kept alive by
        // the pending request, not by this future (which may be cancelled).
        let owned = samples.to_vec();
        let data_ptr = owned.as_ptr() as u64;
        let source_handle = self.handle.id();
        let buffer = proto::AudioFrameBufferInfo {
            data_ptr,
            num_channels: self.channels,
            sample_rate: self.sample_rate,
            samples_per_channel: (samples.len() / self.channels as usize) as u32,
        };
        let answered = ask(
            "CaptureAudioFrame",
            Some(super::Keep::Samples(owned)),
            ANSWER_TIMEOUT,
            |id| {
                proto::ffi_request::Message::CaptureAudioFrame(proto::CaptureAudioFrameRequest {
                    source_handle,
                    buffer,
                    request_async_id: Some(id),
                })
            },
        );
        match answered.await? {
            proto::ffi_event::Message::CaptureAudioFrame(cb) => match cb.error {
                Some(e) => Err(FfiError::Refused {
                    what: "CaptureAudioFrame",
                    reason: e,
                }),
                None => Ok(()),
            },
            _ => Err(FfiError::Protocol {
                what: "CaptureAudioFrame",
            }),
        }
    }

    /// Drops what is queued and not yet sent (the customer barged in).
    pub fn clear(&self) -> Result<(), FfiError> {
        FfiClient::get()?.request(
            "ClearAudioBuffer",
            proto::ffi_request::Message::ClearAudioBuffer(proto::ClearAudioBufferRequest {
                source_handle: self.handle.id(),
            }),
        )?;
        Ok(())
    }
}

/// A local audio track fed by an [`AudioSource`], ready to publish.
#[derive(Debug)]
pub struct LocalAudioTrack {
    pub(crate) handle: OwnedHandle,
    pub sid: String,
    pub name: String,
}

impl LocalAudioTrack {
    pub fn new(name: &str, source: &AudioSource) -> Result<LocalAudioTrack, FfiError> {
        let resp = FfiClient::get()?.request(
            "CreateAudioTrack",
            proto::ffi_request::Message::CreateAudioTrack(proto::CreateAudioTrackRequest {
                name: name.to_string(),
                source_handle: source.handle.id(),
            }),
        )?;
        let proto::ffi_response::Message::CreateAudioTrack(r) = resp else {
            return Err(FfiError::Protocol {
                what: "CreateAudioTrack",
            });
        };
        let track = r.track;
        let info = track.info;
        let handle = OwnedHandle::new(track.handle).ok_or(FfiError::Protocol {
            what: "CreateAudioTrack",
        })?;
        Ok(LocalAudioTrack {
            handle,
            sid: info.sid,
            name: info.name,
        })
    }

    pub fn handle_id(&self) -> u64 {
        self.handle.id()
    }
}

/// A track's audio as it arrives, resampled by the library.
#[derive(Debug)]
pub struct AudioStream {
    handle: OwnedHandle,
    rx: mpsc::Receiver<ReceivedAudio>,
}

impl AudioStream {
    /// Audio of the track with handle `track_handle` at `sample_rate` Hz,
    /// `channels` channels, in frames of `frame_ms`.
    pub fn for_track(
        track_handle: u64,
        sample_rate: u32,
        channels: u32,
        frame_ms: u32,
    ) -> Result<AudioStream, FfiError> {
        let resp = FfiClient::get()?.request(
            "NewAudioStream",
            proto::ffi_request::Message::NewAudioStream(proto::NewAudioStreamRequest {
                track_handle,
                r#type: proto::AudioStreamType::AudioStreamNative as i32,
                sample_rate: Some(sample_rate),
                num_channels: Some(channels),
                frame_size_ms: Some(frame_ms),
                ..Default::default()
            }),
        )?;
        Self::from_response(resp, "NewAudioStream")
    }

    /// The audio of a participant's microphone (subscribing as it is published).
    pub fn for_participant(
        participant_handle: u64,
        sample_rate: u32,
        channels: u32,
        frame_ms: u32,
    ) -> Result<AudioStream, FfiError> {
        let resp = FfiClient::get()?.request(
            "AudioStreamFromParticipant",
            proto::ffi_request::Message::AudioStreamFromParticipant(
                proto::AudioStreamFromParticipantRequest {
                    participant_handle,
                    r#type: proto::AudioStreamType::AudioStreamNative as i32,
                    track_source: Some(proto::TrackSource::SourceMicrophone as i32),
                    sample_rate: Some(sample_rate),
                    num_channels: Some(channels),
                    frame_size_ms: Some(frame_ms),
                    ..Default::default()
                },
            ),
        )?;
        Self::from_response(resp, "AudioStreamFromParticipant")
    }

    fn from_response(
        resp: proto::ffi_response::Message,
        what: &'static str,
    ) -> Result<AudioStream, FfiError> {
        let stream = match resp {
            proto::ffi_response::Message::NewAudioStream(r) => r.stream,
            proto::ffi_response::Message::AudioStreamFromParticipant(r) => r.stream,
            _ => return Err(FfiError::Protocol { what }),
        };
        let handle = OwnedHandle::new(stream.handle).ok_or(FfiError::Protocol { what })?;
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        super::router()
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle.id(), tx);
        Ok(AudioStream { handle, rx })
    }

    /// The next frame; None when the stream ended (track gone, library shut down).
    pub async fn next(&mut self) -> Option<ReceivedAudio> {
        self.rx.recv().await
    }

    /// Delivers the stream as the engine's 20 ms frames of 16 kHz mono — through
    /// the engine's one frame assembler, [`StreamResampler`], which also copes if
    /// the library ever hands over another rate or channel count — until the
    /// stream ends or `deliver` returns false. No allocation per frame.
    pub async fn frames(mut self, mut deliver: impl FnMut(Frame) -> bool) {
        let mut assembler: Option<StreamResampler> = None;
        while let Some(audio) = self.next().await {
            let fits = assembler.as_ref().is_some_and(|a| {
                a.input_rate() == audio.sample_rate && u32::from(a.channels()) == audio.channels
            });
            if !fits {
                let channels = u16::try_from(audio.channels).unwrap_or(0);
                match StreamResampler::new(audio.sample_rate, channels) {
                    Ok(a) => assembler = Some(a),
                    Err(e) => {
                        tracing::warn!(error = %e, "unusable audio from the library");
                        continue;
                    }
                }
            }
            let mut open = true;
            if let Some(a) = assembler.as_mut() {
                a.push_i16(&audio.samples, |f| open = open && deliver(f));
            }
            if !open {
                return;
            }
        }
    }

    /// The next frame within `wait`, if any.
    pub async fn next_within(&mut self, wait: Duration) -> Option<ReceivedAudio> {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        super::router()
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.handle.id());
    }
}

/// In the library's callback: copy the frame out, release its buffer, pass it on.
pub(super) fn route_stream_event(r: &Router, ev: proto::AudioStreamEvent) {
    use proto::audio_stream_event::Message as M;
    let stream = ev.stream_handle;
    match ev.message {
        Some(M::FrameReceived(f)) => {
            let handle = OwnedHandle::new(f.frame.handle);
            let info = f.frame.info;
            let n = (info.samples_per_channel as usize).saturating_mul(info.num_channels as usize);
            let samples = if info.data_ptr == 0 || n == 0 {
                Vec::new()
            } else {
                // SAFETY: the buffer belongs to `handle`, alive until it drops
                // below; the library describes it as `n` interleaved i16 samples.
                unsafe { std::slice::from_raw_parts(info.data_ptr as *const i16, n) }.to_vec()
            };
            drop(handle);
            let tx = r
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&stream)
                .cloned();
            if let Some(tx) = tx {
                let audio = ReceivedAudio {
                    samples,
                    sample_rate: info.sample_rate,
                    channels: info.num_channels,
                };
                // A reader that is not keeping up loses the newest audio
                // rather than hold up the library's thread.
                let _ = tx.try_send(audio);
            }
        }
        Some(M::Eos(_)) => {
            r.streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&stream);
        }
        None => {}
    }
}
