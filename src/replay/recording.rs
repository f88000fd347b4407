//! Call recordings: the customer on the left channel, what the customer heard (the
//! agent, or the supervisor during a takeover) on the right, 16 kHz, both on the
//! call's audio clock — so a line's `audio_start_ms` is its place in the file.
//!
//! During the call a [`Tape`] hands frames to a writer thread that appends raw PCM
//! to `<call>.pcm.part` (the call's task never touches the disk). When the call
//! ends, the spans where a card number or IBAN was said are blanked and the audio
//! is encoded to `<call>.flac`; the raw file is then removed. A raw file left by a
//! crash is encoded by [`recover`] at the next start, so a recording is not lost
//! either.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use flac_codec::decode::{FlacSampleReader, Metadata};
use flac_codec::encode::{FlacSampleWriter, Options};
use serde::{Deserialize, Serialize};

use crate::audio::{Frame, FRAME_SAMPLES, SAMPLE_RATE};

/// Samples per millisecond (16 kHz).
const PER_MS: u64 = SAMPLE_RATE as u64 / 1000;
/// Frames placed this far behind the newest one are final and go to disk.
const SETTLE_MS: u64 = 2_000;
/// Longest call a recording keeps (a runaway clock must not fill the disk).
const MAX_MS: u64 = 6 * 3600 * 1000;
const RAW_SUFFIX: &str = ".pcm.part";
const FLAC_SUFFIX: &str = ".flac";
/// Columns of the waveform kept beside each recording (drawn by the replay view).
pub const PEAK_COLUMNS: usize = 1200;

/// The waveform kept beside a recording.
pub fn peaks_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.peaks.json"))
}

/// The waveform of a recording (customer, heard), if it was kept.
pub fn read_peaks(dir: &Path, file: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = fs::read_to_string(peaks_path(dir, file)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether and where calls are recorded (off unless the deployment opts in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingConfig {
    pub dir: PathBuf,
    /// Blank the audio where a card number or IBAN was said.
    pub redact_audio: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot write the recording {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot read the recording {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the recording writer stopped")]
    Gone,
}

impl RecordingError {
    pub fn code(&self) -> &'static str {
        match self {
            RecordingError::Write { .. } => "recording_write_failed",
            RecordingError::Read { .. } => "recording_unreadable",
            RecordingError::Gone => "recording_lost",
        }
    }
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RecordingError {
    RecordingError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> RecordingError {
    RecordingError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Customer,
    /// What the customer heard: the agent, or a supervisor who took over.
    Heard,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// File name in the recordings folder.
    pub file: String,
    pub duration_ms: u64,
    pub bytes: u64,
    pub blanked_ms: u64,
}

// Frames are nearly every message: sent by value, not boxed (no allocation per
// frame on the call's path); the small `Finish` is sent once.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Frame {
        channel: Channel,
        at_ms: u64,
        frame: Frame,
    },
    Finish {
        blanks: Vec<(u64, u64)>,
        done: tokio::sync::oneshot::Sender<Result<Finished, RecordingError>>,
    },
}

/// The recorder of one call. Cheap to feed: a frame is a channel send.
pub struct Tape {
    tx: std_mpsc::Sender<Msg>,
}

/// A file name safe for any call id (ids are uuids; anything else is sanitized).
pub fn file_stem(call_id: &str) -> String {
    let stem: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if stem.is_empty() {
        "call".into()
    } else {
        stem
    }
}

impl Tape {
    /// Starts recording a call into `config.dir`.
    pub fn start(config: &RecordingConfig, call_id: &str) -> Result<Tape, RecordingError> {
        fs::create_dir_all(&config.dir).map_err(|e| write_err(&config.dir, e))?;
        let stem = file_stem(call_id);
        let raw = config.dir.join(format!("{stem}{RAW_SUFFIX}"));
        let file = File::create(&raw).map_err(|e| write_err(&raw, e))?;
        let (tx, rx) = std_mpsc::channel();
        let dir = config.dir.clone();
        std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || write_loop(rx, file, raw, dir, stem))
            .map_err(|e| write_err(&config.dir, e))?;
        Ok(Tape { tx })
    }

    /// Places a frame at `at_ms` of the call's audio clock.
    pub fn put(&self, channel: Channel, at_ms: u64, frame: &Frame) {
        // A writer that failed has logged why; the call goes on regardless.
        let _ = self.tx.send(Msg::Frame {
            channel,
            at_ms,
            frame: *frame,
        });
    }

    /// Ends the recording: blanks `blanks` (ms ranges, both channels) and encodes it.
    pub fn finish(
        self,
        blanks: Vec<(u64, u64)>,
    ) -> tokio::sync::oneshot::Receiver<Result<Finished, RecordingError>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let _ = self.tx.send(Msg::Finish { blanks, done });
        rx
    }
}

struct Pending {
    /// Sample index of `buf[0]`.
    base: u64,
    buf: VecDeque<[i16; 2]>,
    newest: u64,
}

fn write_loop(rx: std_mpsc::Receiver<Msg>, file: File, raw: PathBuf, dir: PathBuf, stem: String) {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut p = Pending {
        base: 0,
        buf: VecDeque::new(),
        newest: 0,
    };
    let mut failed: Option<RecordingError> = None;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Frame {
                channel,
                at_ms,
                frame,
            } => {
                if failed.is_some() || at_ms > MAX_MS {
                    continue;
                }
                place(&mut p, channel, at_ms * PER_MS, &frame.samples);
                let settled = p.newest.saturating_sub(SETTLE_MS * PER_MS);
                if let Err(e) = drain(&mut p, &mut out, settled) {
                    tracing::error!(error = %e, "recording stopped");
                    failed = Some(write_err(&raw, e));
                }
            }
            Msg::Finish { blanks, done } => {
                let result = match failed.take() {
                    Some(e) => Err(e),
                    None => drain(&mut p, &mut out, u64::MAX)
                        .and_then(|_| out.flush())
                        .and_then(|_| out.get_ref().sync_all())
                        .map_err(|e| write_err(&raw, e))
                        .and_then(|_| encode(&raw, &dir, &stem, &blanks)),
                };
                let _ = done.send(result);
                return;
            }
        }
    }
    // The call went away without finishing (its task was dropped): keep what was
    // recorded; `recover` encodes it at the next start.
    let _ = drain(&mut p, &mut out, u64::MAX).and_then(|_| out.flush());
}

fn place(p: &mut Pending, channel: Channel, at: u64, samples: &[i16; FRAME_SAMPLES]) {
    if at < p.base {
        // Already on disk: too late to place (only a frame older than SETTLE_MS).
        return;
    }
    let end = at + FRAME_SAMPLES as u64;
    let need = (end - p.base) as usize;
    if p.buf.len() < need {
        p.buf.resize(need, [0, 0]);
    }
    let ch = match channel {
        Channel::Customer => 0,
        Channel::Heard => 1,
    };
    let start = (at - p.base) as usize;
    for (i, s) in samples.iter().enumerate() {
        p.buf[start + i][ch] = *s;
    }
    p.newest = p.newest.max(end);
}

/// Writes every pending sample before `upto` to disk.
fn drain(p: &mut Pending, out: &mut impl Write, upto: u64) -> std::io::Result<()> {
    let n = (upto.saturating_sub(p.base) as usize).min(p.buf.len());
    if n == 0 {
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(n * 4);
    for s in p.buf.drain(..n) {
        bytes.extend_from_slice(&s[0].to_le_bytes());
        bytes.extend_from_slice(&s[1].to_le_bytes());
    }
    p.base += n as u64;
    out.write_all(&bytes)
}

/// Encodes a raw recording to FLAC with `blanks` silenced, then removes the raw file.
fn encode(
    raw: &Path,
    dir: &Path,
    stem: &str,
    blanks: &[(u64, u64)],
) -> Result<Finished, RecordingError> {
    let len = fs::metadata(raw).map_err(|e| read_err(raw, e))?.len();
    let frames = len / 4;
    let file_name = format!("{stem}{FLAC_SUFFIX}");
    let part = dir.join(format!("{file_name}.part"));
    let fin = dir.join(&file_name);
    let mut blanked = 0u64;
    {
        let mut input =
            BufReader::with_capacity(1 << 16, File::open(raw).map_err(|e| read_err(raw, e))?);
        let mut writer = FlacSampleWriter::create(
            &part,
            Options::default(),
            SAMPLE_RATE,
            16,
            2,
            if frames == 0 { None } else { Some(frames * 2) },
        )
        .map_err(|e| write_err(&part, e))?;
        let mut chunk = vec![0u8; 4 * SAMPLE_RATE as usize];
        let mut samples: Vec<i32> = Vec::with_capacity(2 * SAMPLE_RATE as usize);
        let mut pos = 0u64;
        let mut left = frames * 4;
        let per_column = (frames / PEAK_COLUMNS as u64).max(1);
        let mut peaks: (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
        let mut column = (0u16, 0u16);
        while left > 0 {
            let take = (left as usize).min(chunk.len());
            input
                .read_exact(&mut chunk[..take])
                .map_err(|e| read_err(raw, e))?;
            left -= take as u64;
            samples.clear();
            for (i, b) in chunk[..take].chunks_exact(4).enumerate() {
                let at_ms = (pos + i as u64) / PER_MS;
                let quiet = blanks.iter().any(|&(a, z)| at_ms >= a && at_ms < z);
                if quiet {
                    blanked += 1;
                    samples.push(0);
                    samples.push(0);
                } else {
                    let (c, h) = (
                        i16::from_le_bytes([b[0], b[1]]),
                        i16::from_le_bytes([b[2], b[3]]),
                    );
                    column.0 = column.0.max(c.unsigned_abs());
                    column.1 = column.1.max(h.unsigned_abs());
                    samples.push(i32::from(c));
                    samples.push(i32::from(h));
                }
                if (pos + i as u64 + 1) % per_column == 0 {
                    peaks.0.push((u32::from(column.0) * 255 / 32768) as u8);
                    peaks.1.push((u32::from(column.1) * 255 / 32768) as u8);
                    column = (0, 0);
                }
            }
            pos += (take / 4) as u64;
            writer.write(&samples).map_err(|e| write_err(&part, e))?;
        }
        writer.finalize().map_err(|e| write_err(&part, e))?;
        // The waveform is a convenience: a recording is kept without it.
        if let Ok(json) = serde_json::to_string(&peaks) {
            let _ = fs::write(peaks_path(dir, &file_name), json);
        }
    }
    File::open(&part)
        .and_then(|f| f.sync_all())
        .map_err(|e| write_err(&part, e))?;
    fs::rename(&part, &fin).map_err(|e| write_err(&fin, e))?;
    fs::remove_file(raw).map_err(|e| write_err(raw, e))?;
    let bytes = fs::metadata(&fin).map(|m| m.len()).unwrap_or(0);
    Ok(Finished {
        file: file_name,
        duration_ms: frames / PER_MS,
        bytes,
        blanked_ms: blanked / PER_MS,
    })
}

/// A recording read back: one `Vec` per channel.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    pub customer: Vec<i16>,
    pub heard: Vec<i16>,
}

/// Reads a recording (any FLAC of 1 or 2 channels at 16 kHz).
pub fn read(path: &Path) -> Result<Decoded, RecordingError> {
    let mut reader = FlacSampleReader::open(path).map_err(|e| read_err(path, e))?;
    let channels = reader.channel_count() as usize;
    if reader.sample_rate() != SAMPLE_RATE || !(1..=2).contains(&channels) {
        return Err(read_err(
            path,
            format!(
                "expected 16 kHz mono or stereo, found {} Hz with {channels} channels",
                reader.sample_rate()
            ),
        ));
    }
    let mut out = Decoded::default();
    let mut buf = vec![0i32; 8192 * channels];
    loop {
        let n = reader.read(&mut buf).map_err(|e| read_err(path, e))?;
        if n == 0 {
            break;
        }
        for s in buf[..n].chunks_exact(channels) {
            out.customer.push(s[0] as i16);
            out.heard.push(s[channels - 1] as i16);
        }
    }
    Ok(out)
}

/// Encodes raw recordings a crash left behind (their call never finished). Returns
/// the call ids (file stems) and what was kept. Card-number spans are not known for
/// these, so `blank(stem)` supplies them (e.g. from the stored lines).
pub fn recover(
    dir: &Path,
    blanks: impl Fn(&str) -> Vec<(u64, u64)>,
) -> Vec<(String, Result<Finished, RecordingError>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(RAW_SUFFIX) else {
            continue;
        };
        let spans = blanks(stem);
        out.push((stem.to_string(), encode(&entry.path(), dir, stem, &spans)));
    }
    out
}

/// A mono 16-bit WAV of a recording, both channels mixed (what the console's audio
/// player plays: half the memory of stereo in the webview).
pub fn mono_wav_bytes(d: &Decoded) -> Vec<u8> {
    crate::audio::wav_bytes(d.customer.iter().zip(&d.heard).map(|(c, h)| {
        (i32::from(*c) + i32::from(*h)).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(v: i16) -> Frame {
        Frame {
            samples: [v; FRAME_SAMPLES],
        }
    }

    #[tokio::test]
    async fn channels_land_at_their_clock_time_and_blanks_are_silent() {
        let dir = tempfile_dir("rec-place");
        let cfg = RecordingConfig {
            dir: dir.clone(),
            redact_audio: true,
        };
        let tape = Tape::start(&cfg, "call-1").unwrap();
        // 3 s of customer audio, an agent reply placed from 1000 ms.
        for i in 0..150u64 {
            tape.put(Channel::Customer, i * 20, &tone(1000));
        }
        for i in 0..25u64 {
            tape.put(Channel::Heard, 1000 + i * 20, &tone(-2000));
        }
        let done = tape.finish(vec![(2000, 2500)]).await.unwrap().unwrap();
        assert_eq!(done.file, "call-1.flac");
        assert_eq!(done.duration_ms, 3000);
        assert_eq!(done.blanked_ms, 500);
        assert!(!dir.join("call-1.pcm.part").exists());
        let d = read(&dir.join(&done.file)).unwrap();
        assert_eq!(d.customer.len(), 48_000);
        assert_eq!(d.customer[0], 1000);
        assert_eq!(d.heard[999 * 16], 0, "nothing heard before 1 s");
        assert_eq!(d.heard[1000 * 16], -2000);
        assert_eq!(d.heard[1499 * 16], -2000);
        assert_eq!(d.heard[1500 * 16], 0);
        assert_eq!(d.customer[2000 * 16], 0, "blanked");
        assert_eq!(d.customer[2499 * 16], 0, "blanked");
        assert_eq!(d.customer[2500 * 16], 1000);
        let (cust, heard) = read_peaks(&dir, &done.file).unwrap();
        assert_eq!((cust.len(), heard.len()), (PEAK_COLUMNS, PEAK_COLUMNS));
        assert_eq!(cust[0], 7, "1000/32768 of full scale");
        assert_eq!(cust[900], 0, "blanked at 2.25 s");
        assert_eq!((heard[300], heard[500]), (0, 15));
        // The player's WAV: the two channels mixed, readable by a WAV reader.
        let wav = mono_wav_bytes(&d);
        let mut r = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        assert_eq!((r.spec().channels, r.spec().sample_rate), (1, 16_000));
        let mixed: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(mixed.len(), 48_000);
        assert_eq!((mixed[0], mixed[1200 * 16]), (1000, -1000));
        // Compressed: far smaller than the 192 kB of raw PCM.
        assert!(done.bytes < 20_000, "{} bytes", done.bytes);
        let _ = fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_recording_left_by_a_crash_is_recovered() {
        let dir = tempfile_dir("rec-crash");
        let cfg = RecordingConfig {
            dir: dir.clone(),
            redact_audio: true,
        };
        let tape = Tape::start(&cfg, "crashed").unwrap();
        for i in 0..200u64 {
            tape.put(Channel::Customer, i * 20, &tone(500));
        }
        drop(tape);
        // The writer thread drains what it has once the tape is gone.
        for _ in 0..100 {
            if fs::metadata(dir.join("crashed.pcm.part"))
                .map(|m| m.len())
                .unwrap_or(0)
                == 4 * 64_000
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let got = recover(&dir, |_| vec![(0, 1000)]);
        assert_eq!(got.len(), 1);
        let (stem, r) = &got[0];
        assert_eq!(stem, "crashed");
        let f = r.as_ref().unwrap();
        assert_eq!(f.duration_ms, 4000);
        assert_eq!(f.blanked_ms, 1000);
        let d = read(&dir.join(&f.file)).unwrap();
        assert_eq!(d.customer[500 * 16], 0);
        assert_eq!(d.customer[1500 * 16], 500);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_recording_is_a_clear_error() {
        let dir = tempfile_dir("rec-corrupt");
        let p = dir.join("bad.flac");
        fs::write(&p, b"fLaC not really").unwrap();
        let e = read(&p).unwrap_err();
        assert_eq!(e.code(), "recording_unreadable");
        assert!(e.to_string().contains("bad.flac"), "{e}");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn file_names_are_safe_for_any_id() {
        assert_eq!(file_stem("../../etc/passwd"), "______etc_passwd");
        assert_eq!(file_stem(""), "call");
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-{name}-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}
