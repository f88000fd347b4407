//! Listening in: a call's audio — the customer and the agent, mixed — on the
//! supervisor's speakers or headset, played through rodio.
//!
//! ```no_run
//! # async fn demo(call: switchboard::call::CallHandle) -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard::call::CallCommand;
//! let (monitor, tap) = switchboard::transport::CallMonitor::open(None)?;
//! call.send(CallCommand::Monitor(Some(tap))).await?;
//! // … later: stop listening (dropping `monitor` stops it too).
//! call.send(CallCommand::Monitor(None)).await?;
//! # drop(monitor); Ok(()) }
//! ```
//!
//! The call copies its frames into a bounded channel with `try_send` (it never
//! waits for the listener). The rodio source keeps one small jitter queue per
//! side, so customer and agent frames that arrive at their own pace are mixed
//! sample-aligned, and it plays silence when nothing is queued.

use std::collections::VecDeque;
use std::num::NonZero;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::local_device::{find_device, DeviceError, DeviceStats, DeviceThread, StatsSnapshot};
use crate::audio::{Frame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::call::MonitorFrame;
use crate::events::Speaker;

/// Frames queued from the call to the listener (640 ms for both sides).
pub const MONITOR_QUEUE_FRAMES: usize = 32;
/// Frames buffered per side before it (re)starts playing after running dry.
const PREBUFFER: usize = 2;
/// Most frames held per side; older ones are dropped so the delay stays short.
const MAX_QUEUED: usize = 8;

/// The supervisor's speakers playing one call. Stops on [`stop`](Self::stop) or drop.
pub struct CallMonitor {
    device: String,
    stats: Arc<DeviceStats>,
    thread: DeviceThread,
}

impl std::fmt::Debug for CallMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMonitor")
            .field("device", &self.device)
            .field("running", &self.thread.is_running())
            .finish_non_exhaustive()
    }
}

impl CallMonitor {
    /// Opens the default (`None`) or named output device. Hand the returned
    /// sender to the call with `CallCommand::Monitor(Some(tx))`.
    pub fn open(
        output: Option<&str>,
    ) -> Result<(CallMonitor, mpsc::Sender<MonitorFrame>), DeviceError> {
        let (tx, rx) = mpsc::channel::<MonitorFrame>(MONITOR_QUEUE_FRAMES);
        let stats = Arc::new(DeviceStats::default());
        let source_stats = stats.clone();
        let err_stats = stats.clone();
        let output = output.map(str::to_string);
        let (thread, device) = DeviceThread::spawn(stats.clone(), move || {
            let host = cpal::default_host();
            let dev = find_device(&host, output.as_deref(), false)?;
            let name = dev.to_string();
            let unavailable = |detail: String| DeviceError::DeviceUnavailable {
                device: name.clone(),
                detail,
            };
            let mut sink = rodio::DeviceSinkBuilder::from_device(dev)
                .map_err(|e| unavailable(e.to_string()))?
                .with_error_callback(move |e: cpal::Error| {
                    err_stats.stream_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "monitor output stream error");
                })
                .open_stream()
                .map_err(|e| unavailable(e.to_string()))?;
            sink.log_on_drop(false);
            sink.mixer().add(MixSource::new(rx, source_stats));
            Ok((sink, name))
        })?;
        tracing::info!(%device, "listening in on a call");
        Ok((
            CallMonitor {
                device,
                stats,
                thread,
            },
            tx,
        ))
    }

    /// The output device playing the call.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// `frames_played` counts mixed 20 ms frames that carried call audio;
    /// `output_underruns` counts times a side ran dry while playing.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn is_running(&self) -> bool {
        self.thread.is_running()
    }

    /// Stops playing. Idempotent.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

/// One side of the call (customer, or agent) waiting to be mixed.
#[derive(Default)]
struct Lane {
    queue: VecDeque<Frame>,
    playing: bool,
}

impl Lane {
    fn push(&mut self, f: Frame) {
        if self.queue.len() == MAX_QUEUED {
            self.queue.pop_front();
        }
        self.queue.push_back(f);
    }

    /// The next frame to mix, or `None` (silence) while prebuffering or dry.
    /// Returns whether the lane ran dry while it was playing.
    fn next(&mut self) -> (Option<Frame>, bool) {
        if !self.playing && self.queue.len() >= PREBUFFER {
            self.playing = true;
        }
        if !self.playing {
            return (None, false);
        }
        match self.queue.pop_front() {
            Some(f) => (Some(f), false),
            None => {
                self.playing = false;
                (None, true)
            }
        }
    }
}

/// A never-ending 16 kHz mono rodio source mixing the two sides of a call.
struct MixSource {
    rx: mpsc::Receiver<MonitorFrame>,
    customer: Lane,
    agent: Lane,
    mixed: [f32; FRAME_SAMPLES],
    pos: usize,
    stats: Arc<DeviceStats>,
}

impl MixSource {
    fn new(rx: mpsc::Receiver<MonitorFrame>, stats: Arc<DeviceStats>) -> Self {
        MixSource {
            rx,
            customer: Lane::default(),
            agent: Lane::default(),
            mixed: [0.0; FRAME_SAMPLES],
            pos: FRAME_SAMPLES,
            stats,
        }
    }

    fn refill(&mut self) {
        // Disconnected (the call ended or stopped the tap): keep playing silence.
        while let Ok(m) = self.rx.try_recv() {
            match m.speaker {
                Speaker::Customer => self.customer.push(m.frame),
                _ => self.agent.push(m.frame),
            }
        }
        let (c, c_dry) = self.customer.next();
        let (a, a_dry) = self.agent.next();
        if c_dry || a_dry {
            self.stats.output_underruns.fetch_add(1, Ordering::Relaxed);
        }
        if c.is_some() || a.is_some() {
            self.stats.frames_played.fetch_add(1, Ordering::Relaxed);
        }
        let c = c.unwrap_or(Frame::SILENCE);
        let a = a.unwrap_or(Frame::SILENCE);
        for (m, (x, y)) in self
            .mixed
            .iter_mut()
            .zip(c.samples.iter().zip(a.samples.iter()))
        {
            *m = ((f32::from(*x) + f32::from(*y)) / 32768.0).clamp(-1.0, 1.0);
        }
        self.pos = 0;
    }
}

impl Iterator for MixSource {
    type Item = rodio::Sample;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos == FRAME_SAMPLES {
            self.refill();
        }
        let s = self.mixed[self.pos];
        self.pos += 1;
        Some(s)
    }
}

impl rodio::Source for MixSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::<u16>::MIN
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(SAMPLE_RATE).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(v: i16) -> Frame {
        Frame {
            samples: [v; FRAME_SAMPLES],
        }
    }

    #[test]
    fn mixes_customer_and_agent_sample_aligned_and_plays_silence_when_dry() {
        let (tx, rx) = mpsc::channel(MONITOR_QUEUE_FRAMES);
        let stats = Arc::new(DeviceStats::default());
        let mut src = MixSource::new(rx, stats.clone());
        // Nothing queued: silence, never ends.
        assert!((0..FRAME_SAMPLES * 3).all(|_| src.next() == Some(0.0)));
        for _ in 0..2 {
            tx.try_send(MonitorFrame {
                frame: level(8192),
                speaker: Speaker::Customer,
            })
            .unwrap();
            tx.try_send(MonitorFrame {
                frame: level(4096),
                speaker: Speaker::Agent,
            })
            .unwrap();
        }
        let first: Vec<f32> = (0..FRAME_SAMPLES).map(|_| src.next().unwrap()).collect();
        assert!(
            first.iter().all(|&s| (s - 0.375).abs() < 1e-6),
            "{}",
            first[0]
        );
        let second: Vec<f32> = (0..FRAME_SAMPLES).map(|_| src.next().unwrap()).collect();
        assert!(second.iter().all(|&s| (s - 0.375).abs() < 1e-6));
        // Both sides ran dry: silence again, one underrun counted per refill.
        assert!((0..FRAME_SAMPLES).all(|_| src.next() == Some(0.0)));
        let snap = stats.snapshot();
        assert_eq!(snap.frames_played, 2);
        assert_eq!(snap.output_underruns, 1);
        // Loud sides clip instead of wrapping around.
        for _ in 0..2 {
            for speaker in [Speaker::Customer, Speaker::Agent] {
                tx.try_send(MonitorFrame {
                    frame: level(30000),
                    speaker,
                })
                .unwrap();
            }
        }
        assert_eq!(src.next(), Some(1.0));
    }

    #[test]
    fn a_listener_that_falls_behind_hears_the_latest_audio() {
        let mut lane = Lane::default();
        for i in 0..20 {
            lane.push(level(i));
        }
        assert_eq!(lane.queue.len(), MAX_QUEUED);
        let (f, _) = lane.next();
        assert_eq!(f.unwrap().samples[0], 12);
    }
}
