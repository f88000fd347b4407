//! The local sound card as a call transport: the default (or a named) microphone
//! feeds `CallIo::customer_audio`, and `CallIo::agent_audio` plays through the
//! default (or a named) output device.
//!
//! ```no_run
//! # fn main() -> Result<(), switchboard::transport::DeviceError> {
//! let mut devices = switchboard::transport::LocalDevices::open(None, None)?;
//! let io = devices.call_io().expect("ends are taken once");
//! // hand `io` to the call; `devices` keeps the streams alive until dropped.
//! # Ok(()) }
//! ```
//!
//! The cpal streams live on their own thread (they are `!Send` on some
//! platforms). The capture callback only resamples into a fixed frame buffer
//! and `try_send`s `Copy` frames into a bounded channel: it never blocks or
//! allocates in steady state, and counts the frames it had to drop. The
//! playback callback pulls 16 kHz frames with `try_recv` into a small fixed
//! jitter buffer, upsamples them continuously to the device rate and channel
//! count, and plays silence whenever nothing is queued.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{ErrorKind, SampleFormat, SizedSample, StreamConfig};
use tokio::sync::mpsc;

use crate::audio::{Frame, StreamResampler, FRAME_SAMPLES, SAMPLE_RATE};
use crate::call::{CallIo, InboundFrame, OutboundFrame};

/// Captured frames queued for the call (1.28 s); more means the call is stuck.
pub const CAPTURE_QUEUE_FRAMES: usize = 64;
/// Agent frames queued towards the device (320 ms); the call paces playback.
pub const PLAYBACK_QUEUE_FRAMES: usize = 16;
/// Frames buffered before playback (re)starts after an underrun (40 ms).
pub const JITTER_PREBUFFER_FRAMES: usize = 2;
/// Most frames held in the jitter buffer (160 ms); more wait in the channel.
pub const JITTER_MAX_FRAMES: usize = 8;
/// How long `open` waits for the device thread to start its streams.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A sound-device problem, worded for the person in front of the computer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("No microphone was found{}. Connect one or pick another input in Settings.", name_suffix(.0))]
    NoInputDevice(Option<String>),
    #[error("No speaker or headset was found{}. Connect one or pick another output in Settings.", name_suffix(.0))]
    NoOutputDevice(Option<String>),
    #[error("The sound device \"{device}\" is not available ({detail}). Check that it is connected and not used by another program, or that the sound system is running.")]
    DeviceUnavailable { device: String, detail: String },
    #[error("The sound device \"{device}\" uses an audio format Switchboard cannot handle ({detail}). Pick another device in Settings.")]
    UnsupportedFormat { device: String, detail: String },
    #[error("The audio stream on \"{device}\" could not be started ({detail}). Try again or pick another device in Settings.")]
    StreamFailed { device: String, detail: String },
}

fn name_suffix(name: &Option<String>) -> String {
    match name {
        Some(n) => format!(" named \"{n}\""),
        None => String::new(),
    }
}

impl DeviceError {
    /// Stable machine-readable code (for the UI and logs).
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::NoInputDevice(_) => "no_input_device",
            DeviceError::NoOutputDevice(_) => "no_output_device",
            DeviceError::DeviceUnavailable { .. } => "device_unavailable",
            DeviceError::UnsupportedFormat { .. } => "unsupported_format",
            DeviceError::StreamFailed { .. } => "stream_failed",
        }
    }

    /// Maps a cpal error about `device` to what the user should hear about it.
    pub fn from_cpal(device: &str, e: &cpal::Error) -> DeviceError {
        let device = device.to_string();
        let detail = e.to_string();
        match e.kind() {
            ErrorKind::DeviceNotAvailable
            | ErrorKind::HostUnavailable
            | ErrorKind::DeviceBusy
            | ErrorKind::PermissionDenied
            | ErrorKind::DeviceChanged => DeviceError::DeviceUnavailable { device, detail },
            ErrorKind::UnsupportedConfig | ErrorKind::UnsupportedOperation => {
                DeviceError::UnsupportedFormat { device, detail }
            }
            _ => DeviceError::StreamFailed { device, detail },
        }
    }
}

/// The sound devices of this computer, by name (names are what `open` takes).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DeviceList {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub default_input: Option<String>,
    pub default_output: Option<String>,
}

/// Lists the input and output devices a person would pick from: ALSA plugin
/// pseudo-devices (the null device, raw `hw:`/`dmix` endpoints, surround and
/// S/PDIF variants of the same card) are left out; the defaults always stay.
pub fn list_devices() -> Result<DeviceList, DeviceError> {
    list(|d| !is_pseudo_device(d))
}

/// Every device the audio host reports, pseudo-devices included.
pub fn list_all_devices() -> Result<DeviceList, DeviceError> {
    list(|_| true)
}

fn list(keep: impl Fn(&cpal::Device) -> bool) -> Result<DeviceList, DeviceError> {
    let host = cpal::default_host();
    let host_err = |e: cpal::Error| DeviceError::from_cpal("audio system", &e);
    let default_input = host.default_input_device().map(|d| d.to_string());
    let default_output = host.default_output_device().map(|d| d.to_string());
    let names = |devices: Vec<cpal::Device>, default: &Option<String>| {
        // The default first: it is what `None` opens, and some hosts do not
        // enumerate it.
        let mut out: Vec<String> = default.iter().cloned().collect();
        for d in devices {
            let name = d.to_string();
            if keep(&d) && !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    };
    let inputs = names(
        host.input_devices().map_err(host_err)?.collect(),
        &default_input,
    );
    let outputs = names(
        host.output_devices().map_err(host_err)?.collect(),
        &default_output,
    );
    Ok(DeviceList {
        inputs,
        outputs,
        default_input,
        default_output,
    })
}

/// ALSA lists plugin endpoints beside real devices; they are not something to
/// talk into. Other hosts (CoreAudio, WASAPI) list real devices only.
fn is_pseudo_device(d: &cpal::Device) -> bool {
    let Ok(desc) = cpal::traits::DeviceTrait::description(d) else {
        return true;
    };
    let id = desc.driver().unwrap_or_default();
    is_pseudo_id(id, desc.name())
}

fn is_pseudo_id(id: &str, name: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "null",
        "hw:",
        "plughw:",
        "dmix",
        "dsnoop",
        "front:",
        "rear:",
        "center_lfe:",
        "side:",
        "surround",
        "iec958",
        "hdmi:",
        "usbstream",
        "lavrate",
    ];
    let lname = name.to_ascii_lowercase();
    PREFIXES.iter().any(|p| id.starts_with(p))
        || matches!(
            id,
            "samplerate" | "speexrate" | "speex" | "upmix" | "vdownmix" | "jack" | "oss"
        )
        || lname.starts_with("discard all samples")
}

/// Opens the default (`None`) or named devices; returns them with the call's
/// audio ends. Same as [`LocalDevices::open`] followed by
/// [`LocalDevices::call_io`].
pub fn open(
    input: Option<&str>,
    output: Option<&str>,
) -> Result<(LocalDevices, CallIo), DeviceError> {
    let mut devices = LocalDevices::open(input, output)?;
    let io = devices.call_io().ok_or_else(|| DeviceError::StreamFailed {
        device: "local".into(),
        detail: "call ends missing".into(),
    })?;
    Ok((devices, io))
}

/// What was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
}

/// Counters of the running streams.
#[derive(Debug, Default)]
pub struct DeviceStats {
    pub frames_captured: AtomicU64,
    /// Captured frames dropped because the call did not keep up.
    pub frames_dropped: AtomicU64,
    pub input_callbacks: AtomicU64,
    pub input_callback_ns_total: AtomicU64,
    pub input_callback_ns_max: AtomicU64,
    pub frames_played: AtomicU64,
    /// Playback callbacks (or parts of them) that found no agent audio while
    /// playing and filled with silence.
    pub output_underruns: AtomicU64,
    pub output_callbacks: AtomicU64,
    pub output_callback_ns_total: AtomicU64,
    pub output_callback_ns_max: AtomicU64,
    pub stream_errors: AtomicU64,
    /// Captured frames replaced by silence as the agent's own echo.
    pub frames_echo_suppressed: AtomicU64,
}

/// A plain copy of [`DeviceStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub frames_captured: u64,
    pub frames_dropped: u64,
    pub input_callbacks: u64,
    pub input_callback_ns_total: u64,
    pub input_callback_ns_max: u64,
    pub frames_played: u64,
    pub output_underruns: u64,
    pub output_callbacks: u64,
    pub output_callback_ns_total: u64,
    pub output_callback_ns_max: u64,
    pub stream_errors: u64,
    pub frames_echo_suppressed: u64,
}

impl DeviceStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            frames_captured: l(&self.frames_captured),
            frames_dropped: l(&self.frames_dropped),
            input_callbacks: l(&self.input_callbacks),
            input_callback_ns_total: l(&self.input_callback_ns_total),
            input_callback_ns_max: l(&self.input_callback_ns_max),
            frames_played: l(&self.frames_played),
            output_underruns: l(&self.output_underruns),
            output_callbacks: l(&self.output_callbacks),
            output_callback_ns_total: l(&self.output_callback_ns_total),
            output_callback_ns_max: l(&self.output_callback_ns_max),
            stream_errors: l(&self.stream_errors),
            frames_echo_suppressed: l(&self.frames_echo_suppressed),
        }
    }
}

fn record_cost(total: &AtomicU64, max: &AtomicU64, started: Instant) {
    let ns = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
    total.fetch_add(ns, Ordering::Relaxed);
    max.fetch_max(ns, Ordering::Relaxed);
}

/// Options for [`LocalDevices::open_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalOptions {
    /// Input device name; `None`: the system default.
    pub input: Option<String>,
    /// Output device name; `None`: the system default.
    pub output: Option<String>,
    /// Keep the agent's own voice, played through speakers and picked up by the
    /// microphone, from reaching the call (where it would cut the agent off).
    pub echo_guard: Option<EchoGuardConfig>,
}

/// The open microphone and speaker. Streams stop on [`stop`](Self::stop) or drop.
pub struct LocalDevices {
    input: StreamInfo,
    output: StreamInfo,
    stats: Arc<DeviceStats>,
    thread: DeviceThread,
    io: Option<CallIo>,
}

impl std::fmt::Debug for LocalDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDevices")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("running", &self.thread.is_running())
            .finish_non_exhaustive()
    }
}

impl LocalDevices {
    /// Opens the default (`None`) or named input and output devices and starts
    /// both streams on a device thread. No echo guard (a headset, or a test loop).
    pub fn open(input: Option<&str>, output: Option<&str>) -> Result<LocalDevices, DeviceError> {
        LocalDevices::open_with(LocalOptions {
            input: input.map(str::to_string),
            output: output.map(str::to_string),
            echo_guard: None,
        })
    }

    /// Opens the devices with options (echo guard for speakers).
    pub fn open_with(opts: LocalOptions) -> Result<LocalDevices, DeviceError> {
        let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(CAPTURE_QUEUE_FRAMES);
        let (agent_tx, agent_rx) = mpsc::channel::<OutboundFrame>(PLAYBACK_QUEUE_FRAMES);
        let stats = Arc::new(DeviceStats::default());
        let thread_stats = stats.clone();
        let (thread, (input, output)) = DeviceThread::spawn(stats.clone(), move || {
            start_streams(
                opts.input.as_deref(),
                opts.output.as_deref(),
                cust_tx,
                agent_rx,
                thread_stats,
                opts.echo_guard,
            )
        })?;
        tracing::info!(?input, ?output, "local audio devices open");
        Ok(LocalDevices {
            input,
            output,
            stats,
            thread,
            io: Some(CallIo {
                customer_audio: cust_rx,
                supervisor_audio: None,
                agent_audio: agent_tx,
                transport: "local".into(),
                room: None,
            }),
        })
    }

    /// The call's audio ends; `Some` only the first time.
    pub fn call_io(&mut self) -> Option<CallIo> {
        self.io.take()
    }

    pub fn input_info(&self) -> &StreamInfo {
        &self.input
    }

    pub fn output_info(&self) -> &StreamInfo {
        &self.output
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn is_running(&self) -> bool {
        self.thread.is_running()
    }

    /// Stops both streams and waits for the device thread. Idempotent.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

/// A microphone alone, e.g. the supervisor's during a takeover: 16 kHz frames
/// from the default or a named input device.
pub struct Microphone {
    info: StreamInfo,
    stats: Arc<DeviceStats>,
    thread: DeviceThread,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("input", &self.info)
            .field("running", &self.thread.is_running())
            .finish_non_exhaustive()
    }
}

impl Microphone {
    /// Opens the default (`None`) or named input device; its frames arrive on
    /// the returned receiver until the microphone is stopped or dropped.
    pub fn open(
        input: Option<&str>,
    ) -> Result<(Microphone, mpsc::Receiver<InboundFrame>), DeviceError> {
        let (tx, rx) = mpsc::channel::<InboundFrame>(CAPTURE_QUEUE_FRAMES);
        let stats = Arc::new(DeviceStats::default());
        let thread_stats = stats.clone();
        let input = input.map(str::to_string);
        let (thread, info) = DeviceThread::spawn(stats.clone(), move || {
            let (stream, info) = input_stream(
                &cpal::default_host(),
                input.as_deref(),
                tx,
                thread_stats,
                None,
            )?;
            stream
                .play()
                .map_err(|e| DeviceError::from_cpal(&info.device, &e))?;
            Ok((vec![stream], info))
        })?;
        tracing::info!(input = ?info, "microphone open");
        Ok((
            Microphone {
                info,
                stats,
                thread,
            },
            rx,
        ))
    }

    pub fn info(&self) -> &StreamInfo {
        &self.info
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn is_running(&self) -> bool {
        self.thread.is_running()
    }

    /// Stops capturing. Idempotent.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

/// A thread that owns audio streams (they are `!Send` on some platforms) from
/// start until stop, and reports drops and stream errors once a second.
pub(crate) struct DeviceThread {
    stop_tx: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceThread {
    /// Runs `start` on a new thread; it opens the streams and returns them
    /// (kept alive on the thread until stop) with what to report to the caller.
    pub(crate) fn spawn<K, T, F>(
        stats: Arc<DeviceStats>,
        start: F,
    ) -> Result<(DeviceThread, T), DeviceError>
    where
        K: 'static,
        T: Send + 'static,
        F: FnOnce() -> Result<(K, T), DeviceError> + Send + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("switchboard-audio".into())
            .spawn(move || match start() {
                Ok((streams, info)) => {
                    if ready_tx.send(Ok(info)).is_err() {
                        return;
                    }
                    device_thread_wait(&stop_rx, &stats);
                    drop(streams);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| DeviceError::StreamFailed {
                device: "local".into(),
                detail: format!("cannot start the audio thread: {e}"),
            })?;
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(info)) => Ok((
                DeviceThread {
                    stop_tx: Some(stop_tx),
                    thread: Some(thread),
                },
                info,
            )),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                // Leave the thread behind: joining a wedged audio backend would hang us too.
                let _ = stop_tx.send(());
                Err(DeviceError::StreamFailed {
                    device: "local".into(),
                    detail: "the sound system did not answer in time".into(),
                })
            }
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the streams and waits for the thread. Idempotent.
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps the streams alive until stopped; reports new drops once a second.
fn device_thread_wait(stop_rx: &std::sync::mpsc::Receiver<()>, stats: &DeviceStats) {
    let mut reported = (0u64, 0u64);
    loop {
        match stop_rx.recv_timeout(Duration::from_secs(1)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let now = (
                    stats.frames_dropped.load(Ordering::Relaxed),
                    stats.stream_errors.load(Ordering::Relaxed),
                );
                if now != reported {
                    tracing::warn!(
                        dropped_frames = now.0,
                        stream_errors = now.1,
                        "local audio: capture frames dropped or stream errors"
                    );
                    reported = now;
                }
            }
            _ => return,
        }
    }
}

type Started = (Vec<cpal::Stream>, (StreamInfo, StreamInfo));

pub(crate) fn find_device(
    host: &cpal::Host,
    name: Option<&str>,
    is_input: bool,
) -> Result<cpal::Device, DeviceError> {
    let missing = || {
        if is_input {
            DeviceError::NoInputDevice(name.map(str::to_string))
        } else {
            DeviceError::NoOutputDevice(name.map(str::to_string))
        }
    };
    match name {
        None => if is_input {
            host.default_input_device()
        } else {
            host.default_output_device()
        }
        .ok_or_else(missing),
        Some(n) => {
            let devices = if is_input {
                host.input_devices().map(|d| d.collect::<Vec<_>>())
            } else {
                host.output_devices().map(|d| d.collect::<Vec<_>>())
            }
            .map_err(|e| DeviceError::from_cpal(n, &e))?;
            devices
                .into_iter()
                .find(|d| d.to_string() == n)
                .ok_or_else(missing)
        }
    }
}

fn supported(format: SampleFormat) -> bool {
    matches!(
        format,
        SampleFormat::I16 | SampleFormat::F32 | SampleFormat::U16
    )
}

/// The device's default config, or, if its sample format is not one we
/// convert, the supported config closest to it that is.
fn pick_config(
    device: &cpal::Device,
    name: &str,
    is_input: bool,
) -> Result<cpal::SupportedStreamConfig, DeviceError> {
    let default = if is_input {
        device.default_input_config()
    } else {
        device.default_output_config()
    }
    .map_err(|e| DeviceError::from_cpal(name, &e))?;
    if supported(default.sample_format()) {
        return Ok(default);
    }
    let ranges: Vec<_> = if is_input {
        device.supported_input_configs().map(|r| r.collect())
    } else {
        device.supported_output_configs().map(|r| r.collect())
    }
    .map_err(|e| DeviceError::from_cpal(name, &e))?;
    let want = default.sample_rate();
    ranges
        .into_iter()
        .filter(|r| supported(r.sample_format()))
        .filter_map(|r| r.try_with_sample_rate(want))
        .next()
        .ok_or_else(|| DeviceError::UnsupportedFormat {
            device: name.to_string(),
            detail: format!("sample format {} only", default.sample_format()),
        })
}

fn stream_info(name: &str, cfg: &cpal::SupportedStreamConfig) -> StreamInfo {
    StreamInfo {
        device: name.to_string(),
        sample_rate: cfg.sample_rate(),
        channels: cfg.channels(),
        sample_format: cfg.sample_format().to_string(),
    }
}

/// Finds the default (`None`) or named input device and builds (does not start)
/// its capture stream into `tx`.
fn input_stream(
    host: &cpal::Host,
    input: Option<&str>,
    tx: mpsc::Sender<InboundFrame>,
    stats: Arc<DeviceStats>,
    guard: Option<EchoGuard>,
) -> Result<(cpal::Stream, StreamInfo), DeviceError> {
    let dev = find_device(host, input, true)?;
    let name = dev.to_string();
    let cfg = pick_config(&dev, &name, true)?;
    let stream = build_input(&dev, &name, &cfg, tx, stats, guard)?;
    Ok((stream, stream_info(&name, &cfg)))
}

fn start_streams(
    input: Option<&str>,
    output: Option<&str>,
    cust_tx: mpsc::Sender<InboundFrame>,
    agent_rx: mpsc::Receiver<OutboundFrame>,
    stats: Arc<DeviceStats>,
    echo_guard: Option<EchoGuardConfig>,
) -> Result<Started, DeviceError> {
    let host = cpal::default_host();
    let far = echo_guard.map(|c| (Arc::new(FarEnd::default()), c));
    let guard = far
        .as_ref()
        .map(|(f, c)| EchoGuard::new(f.clone(), c.clone(), stats.clone()));
    let (in_stream, in_info) = input_stream(&host, input, cust_tx, stats.clone(), guard)?;
    let out_dev = find_device(&host, output, false)?;
    let out_name = out_dev.to_string();
    let out_cfg = pick_config(&out_dev, &out_name, false)?;
    let out_info = stream_info(&out_name, &out_cfg);
    let out_stream = build_output(
        &out_dev,
        &out_name,
        &out_cfg,
        agent_rx,
        stats,
        far.map(|(f, c)| (f, c.tail)),
    )?;
    in_stream
        .play()
        .map_err(|e| DeviceError::from_cpal(&in_info.device, &e))?;
    out_stream
        .play()
        .map_err(|e| DeviceError::from_cpal(&out_name, &e))?;
    Ok((vec![in_stream, out_stream], (in_info, out_info)))
}

/// Tuning of the echo guard.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoGuardConfig {
    /// How long after a frame is played its echo may still come back (device
    /// buffers on both sides plus the room).
    pub tail: Duration,
    /// Loudest expected echo relative to what was played (1.0: the echo can be
    /// as loud as the agent's own signal — laptop speakers next to the mic).
    pub coupling: f32,
    /// How much louder than the loudest expected echo the microphone must be
    /// to count as the customer speaking (6 dB = 2.0).
    pub margin: f32,
}

impl Default for EchoGuardConfig {
    fn default() -> Self {
        EchoGuardConfig {
            tail: Duration::from_millis(800),
            coupling: 1.0,
            margin: 2.0,
        }
    }
}

/// What the speaker played lately, shared lock-free from the playback callback
/// to the capture callback: the loudest frame (RMS) of the last `tail`, and
/// until when that level can still echo.
#[derive(Debug, Default)]
struct FarEnd {
    rms_bits: AtomicU32,
    until_ns: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl FarEnd {
    fn now_ns(&self) -> u64 {
        let epoch = *self.epoch.get_or_init(Instant::now);
        epoch.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
    }

    /// Called for every frame the speaker starts playing.
    fn played(&self, rms: f32, tail: Duration) {
        let now = self.now_ns();
        let tail_ns = tail.as_nanos() as u64;
        let until = self.until_ns.load(Ordering::Relaxed);
        let current = f32::from_bits(self.rms_bits.load(Ordering::Relaxed));
        // Within the tail of a louder frame, keep the louder level; a frame is
        // silence (rms 0) → nothing new to echo.
        if rms <= 0.0 {
            return;
        }
        if now >= until || rms >= current {
            self.rms_bits.store(rms.to_bits(), Ordering::Relaxed);
        }
        self.until_ns
            .store(now.saturating_add(tail_ns), Ordering::Relaxed);
    }

    /// The level that may be echoing now (0 when the speaker has been quiet
    /// for longer than the tail).
    fn level(&self) -> f32 {
        if self.now_ns() < self.until_ns.load(Ordering::Relaxed) {
            f32::from_bits(self.rms_bits.load(Ordering::Relaxed))
        } else {
            0.0
        }
    }
}

/// A half-duplex echo suppressor for speakers (the speakerphone mode of desk
/// phones): while the agent's voice may still be echoing, a captured frame
/// reaches the call only if it is clearly louder than the loudest echo that
/// what was played can produce; otherwise the call hears silence. The customer
/// can still talk over the agent by speaking up. With a headset there is no
/// echo: leave the guard off.
///
/// An adaptive echo-path estimate was tried and dropped: with an unknown delay
/// between playing and hearing, it learnt "no echo" from the gap before the
/// echo arrived (and from pauses between words), then let the echo through.
struct EchoGuard {
    far: Arc<FarEnd>,
    config: EchoGuardConfig,
    stats: Arc<DeviceStats>,
}

/// Played frames quieter than this (RMS of i16 samples, about −50 dBFS) echo
/// below the VAD's energy gate anyway.
const FAR_END_FLOOR: f32 = 100.0;

impl EchoGuard {
    fn new(far: Arc<FarEnd>, config: EchoGuardConfig, stats: Arc<DeviceStats>) -> Self {
        EchoGuard { far, config, stats }
    }

    /// Returns the frame, or silence when it is most likely the agent's echo.
    fn filter(&mut self, frame: Frame) -> Frame {
        let far = self.far.level();
        if far < FAR_END_FLOOR {
            return frame;
        }
        if frame_rms(&frame) < self.config.coupling * far * self.config.margin {
            self.stats
                .frames_echo_suppressed
                .fetch_add(1, Ordering::Relaxed);
            Frame::SILENCE
        } else {
            frame
        }
    }
}

fn frame_rms(frame: &Frame) -> f32 {
    let sum: f64 = frame
        .samples
        .iter()
        .map(|&s| {
            let v = f64::from(s);
            v * v
        })
        .sum();
    (sum / FRAME_SAMPLES as f64).sqrt() as f32
}

/// The config with a 20 ms device buffer when the device allows it: the
/// backends' defaults can be hundreds of milliseconds, too slow for a call.
fn low_latency(cfg: &cpal::SupportedStreamConfig) -> StreamConfig {
    let mut config: StreamConfig = cfg.config();
    if let cpal::SupportedBufferSize::Range { min, max } = *cfg.buffer_size() {
        let want = (config.sample_rate / 50).clamp(min, max);
        config.buffer_size = cpal::BufferSize::Fixed(want);
    }
    config
}

fn error_callback(stats: Arc<DeviceStats>, what: &'static str) -> impl FnMut(cpal::Error) + Send {
    move |e| {
        stats.stream_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "local audio {what} stream error");
    }
}

/// Capture side state owned by the input callback.
struct Capture {
    resampler: StreamResampler,
    tx: mpsc::Sender<InboundFrame>,
    stats: Arc<DeviceStats>,
    closed: bool,
    guard: Option<EchoGuard>,
}

impl Capture {
    fn deliver(
        tx: &mpsc::Sender<InboundFrame>,
        stats: &DeviceStats,
        closed: &mut bool,
        guard: &mut Option<EchoGuard>,
        due: Instant,
        frame: Frame,
    ) {
        if *closed {
            return;
        }
        let frame = match guard {
            Some(g) => g.filter(frame),
            None => frame,
        };
        match tx.try_send(InboundFrame { frame, due }) {
            Ok(()) => {
                stats.frames_captured.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => *closed = true,
        }
    }

    /// Runs one resampler push, delivering each finished frame.
    fn with_resampler(
        &mut self,
        now: Instant,
        push: impl FnOnce(&mut StreamResampler, &mut dyn FnMut(Frame)),
    ) {
        let Capture {
            resampler,
            tx,
            stats,
            closed,
            guard,
        } = self;
        push(resampler, &mut |f| {
            Self::deliver(tx, stats, closed, guard, now, f)
        });
    }

    fn push_i16(&mut self, data: &[i16]) {
        let now = Instant::now();
        self.with_resampler(now, |r, out| r.push_i16(data, out));
        self.finish_callback(now);
    }

    fn push_f32(&mut self, data: &[f32]) {
        let now = Instant::now();
        self.with_resampler(now, |r, out| r.push_f32(data, out));
        self.finish_callback(now);
    }

    fn push_u16(&mut self, data: &[u16]) {
        let now = Instant::now();
        let mut buf = [0i16; 256];
        for chunk in data.chunks(buf.len()) {
            for (d, &s) in buf.iter_mut().zip(chunk) {
                *d = (i32::from(s) - 32768) as i16;
            }
            let samples = &buf[..chunk.len()];
            self.with_resampler(now, |r, out| r.push_i16(samples, out));
        }
        self.finish_callback(now);
    }

    fn finish_callback(&self, started: Instant) {
        self.stats.input_callbacks.fetch_add(1, Ordering::Relaxed);
        record_cost(
            &self.stats.input_callback_ns_total,
            &self.stats.input_callback_ns_max,
            started,
        );
    }
}

fn build_input(
    device: &cpal::Device,
    name: &str,
    cfg: &cpal::SupportedStreamConfig,
    tx: mpsc::Sender<InboundFrame>,
    stats: Arc<DeviceStats>,
    guard: Option<EchoGuard>,
) -> Result<cpal::Stream, DeviceError> {
    let config = low_latency(cfg);
    let resampler = StreamResampler::new(config.sample_rate, config.channels).map_err(|e| {
        DeviceError::UnsupportedFormat {
            device: name.to_string(),
            detail: e.to_string(),
        }
    })?;
    let mut cap = Capture {
        resampler,
        tx,
        stats: stats.clone(),
        closed: false,
        guard,
    };
    let err = error_callback(stats, "input");
    let built = match cfg.sample_format() {
        SampleFormat::I16 => {
            device.build_input_stream(config, move |d: &[i16], _: &_| cap.push_i16(d), err, None)
        }
        SampleFormat::F32 => {
            device.build_input_stream(config, move |d: &[f32], _: &_| cap.push_f32(d), err, None)
        }
        SampleFormat::U16 => {
            device.build_input_stream(config, move |d: &[u16], _: &_| cap.push_u16(d), err, None)
        }
        other => {
            return Err(DeviceError::UnsupportedFormat {
                device: name.to_string(),
                detail: format!("sample format {other}"),
            })
        }
    };
    built.map_err(|e| DeviceError::from_cpal(name, &e))
}

/// Output samples the playback callback can write.
trait OutSample: SizedSample + Send + 'static {
    fn from_f32(s: f32) -> Self;
}
impl OutSample for f32 {
    fn from_f32(s: f32) -> Self {
        s
    }
}
impl OutSample for i16 {
    fn from_f32(s: f32) -> Self {
        (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16
    }
}
impl OutSample for u16 {
    fn from_f32(s: f32) -> Self {
        ((s * 32767.0).round().clamp(-32768.0, 32767.0) as i32 + 32768) as u16
    }
}

/// Playback side state owned by the output callback: a fixed ring of 16 kHz
/// frames (the jitter buffer) and a continuous linear upsampler, so frame
/// boundaries never click and nothing is allocated per callback.
struct Playback {
    rx: mpsc::Receiver<OutboundFrame>,
    ring: [Frame; JITTER_MAX_FRAMES],
    head: usize,
    len: usize,
    /// Playing from the ring (false: prebuffering after start or underrun).
    playing: bool,
    /// The frame being played and the read position in it (16 kHz samples).
    current: Option<Frame>,
    pos: usize,
    /// Continuous-time interpolation between the previous and next 16 kHz sample.
    prev: f32,
    next: f32,
    phase: f64,
    step: f64,
    channels: usize,
    stats: Arc<DeviceStats>,
    /// This callback already counted an underrun.
    underrun_counted: bool,
    /// Where the level of each played frame goes (for the echo guard).
    far: Option<(Arc<FarEnd>, Duration)>,
}

impl Playback {
    fn new(
        rx: mpsc::Receiver<OutboundFrame>,
        rate: u32,
        channels: u16,
        stats: Arc<DeviceStats>,
    ) -> Self {
        Playback {
            rx,
            ring: [Frame::SILENCE; JITTER_MAX_FRAMES],
            head: 0,
            len: 0,
            playing: false,
            current: None,
            pos: 0,
            prev: 0.0,
            next: 0.0,
            phase: 0.0,
            step: f64::from(SAMPLE_RATE) / f64::from(rate.max(1)),
            channels: usize::from(channels.max(1)),
            stats,
            underrun_counted: false,
            far: None,
        }
    }

    /// Moves queued agent frames into the jitter ring while it has room
    /// (non-blocking). What does not fit stays in the channel, so the call
    /// sees back-pressure instead of losing audio.
    fn pull(&mut self) {
        while self.len < JITTER_MAX_FRAMES {
            match self.rx.try_recv() {
                Ok(f) => {
                    let tail = (self.head + self.len) % JITTER_MAX_FRAMES;
                    self.ring[tail] = f.frame;
                    self.len += 1;
                }
                // Disconnected: the call ended; keep playing silence.
                Err(_) => return,
            }
        }
    }

    /// The next 16 kHz sample, or silence.
    fn next_sample(&mut self) -> f32 {
        if self.current.is_none() {
            if !self.playing && self.len >= JITTER_PREBUFFER_FRAMES {
                self.playing = true;
            }
            if self.playing && self.len > 0 {
                self.current = Some(self.ring[self.head]);
                self.head = (self.head + 1) % JITTER_MAX_FRAMES;
                self.len -= 1;
                self.pos = 0;
                self.stats.frames_played.fetch_add(1, Ordering::Relaxed);
                if let (Some((far, tail)), Some(f)) = (&self.far, &self.current) {
                    far.played(frame_rms(f), *tail);
                }
            } else {
                if self.playing {
                    self.playing = false;
                    if !self.underrun_counted {
                        self.stats.output_underruns.fetch_add(1, Ordering::Relaxed);
                        self.underrun_counted = true;
                    }
                }
                return 0.0;
            }
        }
        let Some(f) = &self.current else { return 0.0 };
        let s = f32::from(f.samples[self.pos]) / 32768.0;
        self.pos += 1;
        if self.pos == FRAME_SAMPLES {
            self.current = None;
        }
        s
    }

    fn fill<T: OutSample>(&mut self, out: &mut [T]) {
        let started = Instant::now();
        self.underrun_counted = false;
        self.pull();
        let channels = self.channels;
        for chunk in out.chunks_mut(channels) {
            while self.phase >= 1.0 {
                self.phase -= 1.0;
                self.prev = self.next;
                self.next = self.next_sample();
            }
            let y = self.prev + (self.next - self.prev) * self.phase as f32;
            self.phase += self.step;
            let v = T::from_f32(y);
            for s in chunk {
                *s = v;
            }
        }
        self.stats.output_callbacks.fetch_add(1, Ordering::Relaxed);
        record_cost(
            &self.stats.output_callback_ns_total,
            &self.stats.output_callback_ns_max,
            started,
        );
    }
}

fn build_output(
    device: &cpal::Device,
    name: &str,
    cfg: &cpal::SupportedStreamConfig,
    rx: mpsc::Receiver<OutboundFrame>,
    stats: Arc<DeviceStats>,
    far: Option<(Arc<FarEnd>, Duration)>,
) -> Result<cpal::Stream, DeviceError> {
    let config = low_latency(cfg);
    let mut pb = Playback::new(rx, config.sample_rate, config.channels, stats.clone());
    pb.far = far;
    let err = error_callback(stats, "output");
    let built = match cfg.sample_format() {
        SampleFormat::I16 => {
            device.build_output_stream(config, move |d: &mut [i16], _: &_| pb.fill(d), err, None)
        }
        SampleFormat::F32 => {
            device.build_output_stream(config, move |d: &mut [f32], _: &_| pb.fill(d), err, None)
        }
        SampleFormat::U16 => {
            device.build_output_stream(config, move |d: &mut [u16], _: &_| pb.fill(d), err, None)
        }
        other => {
            return Err(DeviceError::UnsupportedFormat {
                device: name.to_string(),
                detail: format!("sample format {other}"),
            })
        }
    };
    built.map_err(|e| DeviceError::from_cpal(name, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsa_plugin_pseudo_devices_are_not_offered() {
        for (id, name) in [
            (
                "null",
                "Discard all samples (playback) or generate zero samples (capture)",
            ),
            ("hw:CARD=PCH,DEV=0", "HDA Intel PCH, ALC3246 Analog"),
            ("dmix:CARD=PCH,DEV=0", "HDA Intel PCH, ALC3246 Analog"),
            ("surround51:CARD=PCH,DEV=0", "HDA Intel PCH, ALC3246 Analog"),
            (
                "speex",
                "Plugin using Speex DSP (resample, agc, denoise, echo, dereverb)",
            ),
            (
                "samplerate",
                "Rate Converter Plugin Using Samplerate Library",
            ),
            ("jack", "JACK Audio Connection Kit"),
        ] {
            assert!(is_pseudo_id(id, name), "{id} should be hidden");
        }
        for (id, name) in [
            ("pulse", "PulseAudio Sound Server"),
            ("pipewire", "PipeWire Sound Server"),
            ("default", "Default Audio Device"),
            ("sysdefault:CARD=USB", "Jabra EVOLVE 20, USB Audio"),
        ] {
            assert!(!is_pseudo_id(id, name), "{id} should be offered");
        }
    }

    #[test]
    fn device_not_available_is_a_clear_error() {
        let e = DeviceError::from_cpal("default", &cpal::Error::new(ErrorKind::DeviceNotAvailable));
        assert_eq!(e.code(), "device_unavailable");
        let msg = e.to_string();
        assert!(msg.contains("\"default\" is not available"), "{msg}");
        assert!(msg.contains("sound system is running"), "{msg}");
        assert_eq!(
            DeviceError::from_cpal("x", &cpal::Error::new(ErrorKind::UnsupportedConfig)).code(),
            "unsupported_format"
        );
        assert_eq!(
            DeviceError::from_cpal("x", &cpal::Error::new(ErrorKind::BackendError)).code(),
            "stream_failed"
        );
        assert_eq!(
            DeviceError::NoInputDevice(None).to_string(),
            "No microphone was found. Connect one or pick another input in Settings."
        );
        assert_eq!(
            DeviceError::NoOutputDevice(Some("USB".into())).code(),
            "no_output_device"
        );
        assert!(DeviceError::NoOutputDevice(Some("USB".into()))
            .to_string()
            .starts_with("No speaker or headset was found named \"USB\"."));
    }

    fn tone_frame(i: usize) -> Frame {
        let mut f = Frame::SILENCE;
        for (k, s) in f.samples.iter_mut().enumerate() {
            let t = (i * FRAME_SAMPLES + k) as f32 / SAMPLE_RATE as f32;
            *s = (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16;
        }
        f
    }

    #[test]
    fn playback_prebuffers_upsamples_and_plays_silence_when_empty() {
        let (tx, rx) = mpsc::channel(PLAYBACK_QUEUE_FRAMES);
        let stats = Arc::new(DeviceStats::default());
        let mut pb = Playback::new(rx, 48_000, 2, stats.clone());
        // Empty: silence, never stalls.
        let mut out = vec![1.0f32; 960 * 2];
        pb.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        for i in 0..4 {
            tx.try_send(OutboundFrame {
                frame: tone_frame(i),
                turn: 1,
                speaker: crate::events::Speaker::Agent,
            })
            .expect("queue");
        }
        // 4 frames of 16 kHz = 80 ms = 3840 stereo samples at 48 kHz.
        let mut out = vec![0i16; 3840 * 2];
        pb.fill(&mut out);
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 7000, "peak {peak}");
        assert!(out.chunks(2).all(|c| c[0] == c[1]), "stereo copies");
        let snap = stats.snapshot();
        assert_eq!(snap.frames_played, 4);
        // Running dry after playing counts one underrun, then silence.
        let mut out = vec![1.0f32; 960 * 2];
        pb.fill(&mut out);
        assert!(out[200..].iter().all(|&s| s == 0.0));
        assert_eq!(stats.snapshot().output_underruns, 1);
    }
}
