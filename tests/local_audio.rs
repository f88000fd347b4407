//! The local sound-card transport with real audio: a PulseAudio null sink
//! (scripts/pulse.sh) gives a real-time paced output device whose monitor is
//! the default input. What `LocalDevices` plays comes back through its own
//! capture side as 16 kHz frames.
//!
//! Needs the sound server: `SWITCHBOARD_REQUIRE_AUDIO=1` (scripts/test.sh)
//! makes a missing server a failure; otherwise these tests print SKIPPED.

mod sound;

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

use sound::{audio_available, power_at, rms, tone, SOUND};
use switchboard::audio::{read_wav, Frame, FRAME_SAMPLES, SAMPLE_RATE};
use switchboard::call::{InboundFrame, OutboundFrame};
use switchboard::events::Speaker;
use switchboard::transport::local_device;
use switchboard::turn::{EndOfTurnDetector, TurnConfig, TurnEvent};
use tokio::sync::mpsc;

struct Capture {
    frames: Vec<InboundFrame>,
    /// Arrival time of each frame at the reader.
    arrived: Vec<Instant>,
}

/// Plays `signal` (paced by the playback queue) while recording for `record`.
async fn play_and_record(
    agent: mpsc::Sender<OutboundFrame>,
    customer: &mut mpsc::Receiver<InboundFrame>,
    signal: Vec<Frame>,
    record: Duration,
) -> Capture {
    // Capture starts a moment after the streams (the sound server warms up):
    // wait for the first frame, then play.
    let opened = Instant::now();
    let first = tokio::time::timeout(Duration::from_secs(10), customer.recv())
        .await
        .expect("no captured frame within 10 s of opening")
        .expect("capture channel closed");
    eprintln!("first captured frame {:?} after open", opened.elapsed());
    let player = tokio::spawn(async move {
        for frame in signal {
            let out = OutboundFrame {
                frame,
                turn: 1,
                speaker: Speaker::Agent,
            };
            if agent.send(out).await.is_err() {
                break;
            }
        }
        agent
    });
    let mut cap = Capture {
        frames: vec![first],
        arrived: vec![Instant::now()],
    };
    let end = Instant::now() + record;
    while let Ok(Some(f)) = tokio::time::timeout_at(end.into(), customer.recv()).await {
        cap.frames.push(f);
        cap.arrived.push(Instant::now());
    }
    let _agent = player.await.expect("player task");
    cap
}

fn samples(frames: &[InboundFrame]) -> Vec<i16> {
    frames.iter().flat_map(|f| f.frame.samples).collect()
}

/// Frames per second between the 1st and last frame after skipping `skip`.
fn pacing(arrived: &[Instant], skip: usize) -> f64 {
    let a = &arrived[skip..];
    let span = a[a.len() - 1].duration_since(a[0]).as_secs_f64();
    (a.len() - 1) as f64 / span
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tone_round_trip_through_the_null_sink() {
    if !audio_available("tone_round_trip_through_the_null_sink") {
        return;
    }
    let _g = SOUND.lock().await;
    let list = local_device::list_devices().expect("list sound devices");
    eprintln!("devices: {list:?}");
    assert!(
        list.default_input.is_some() && list.default_output.is_some(),
        "{list:?}"
    );
    let (devices, mut io) = local_device::open(None, None).expect("open sound devices");
    eprintln!(
        "input {:?}\noutput {:?}",
        devices.input_info(),
        devices.output_info()
    );
    // 3 s of 440 Hz while recording 4 s.
    let cap = play_and_record(
        io.agent_audio.clone(),
        &mut io.customer_audio,
        tone(150, 440.0, 10_000.0),
        Duration::from_secs(4),
    )
    .await;
    let stats = devices.stats();
    drop(devices);

    let n = cap.frames.len();
    let fps = pacing(&cap.arrived, 25);
    let due_fps = {
        let d = &cap.frames[25..];
        (d.len() - 1) as f64 / d[d.len() - 1].due.duration_since(d[0].due).as_secs_f64()
    };
    let x = samples(&cap.frames);
    // The loudest second of the recording.
    let sec = SAMPLE_RATE as usize;
    let best = (0..x.len().saturating_sub(sec))
        .step_by(FRAME_SAMPLES)
        .max_by(|&a, &b| rms(&x[a..a + sec]).total_cmp(&rms(&x[b..b + sec])))
        .expect("at least a second captured");
    let win = &x[best..best + sec];
    let loud = rms(win);
    // The tone stopped ~1 s before the recording did: the last 300 ms are silence.
    let quiet = rms(&x[x.len() - FRAME_SAMPLES * 15..]);
    let (peak_hz, _) = (100..4000)
        .map(|hz| (hz, power_at(win, f64::from(hz))))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("spectrum");
    let (fine_hz, _) = (0..=200)
        .map(|i| {
            let hz = f64::from(peak_hz) - 10.0 + f64::from(i) * 0.1;
            (hz, power_at(win, hz))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("spectrum");
    let cb_mean_us =
        stats.input_callback_ns_total as f64 / stats.input_callbacks.max(1) as f64 / 1e3;
    eprintln!(
        "tone: {n} frames in 4 s, arrival pacing {fps:.2} fps, capture-clock pacing {due_fps:.2} fps, \
         loud rms {loud:.0} (tone rms 7071), last-300ms rms {quiet:.0}, dominant {fine_hz:.1} Hz, \
         stats {stats:?}, input callback mean {cb_mean_us:.1} µs max {:.1} µs, output callback mean {:.1} µs max {:.1} µs",
        stats.input_callback_ns_max as f64 / 1e3,
        stats.output_callback_ns_total as f64 / stats.output_callbacks.max(1) as f64 / 1e3,
        stats.output_callback_ns_max as f64 / 1e3,
    );
    assert!((180..=220).contains(&n), "{n} frames in 4 s");
    assert!((45.0..=55.0).contains(&fps), "arrival pacing {fps:.2} fps");
    assert!(
        (45.0..=55.0).contains(&due_fps),
        "capture pacing {due_fps:.2} fps"
    );
    assert!(loud > 3_000.0, "tone came back at rms {loud:.0}");
    assert!(
        loud > 20.0 * quiet.max(1.0),
        "loud {loud:.0} quiet {quiet:.0}"
    );
    assert!((fine_hz - 440.0).abs() < 3.0, "dominant {fine_hz:.1} Hz");
    assert_eq!(stats.frames_dropped, 0, "capture drops");
    assert_eq!(stats.stream_errors, 0, "stream errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arabic_speech_round_trip_and_turn_detection() {
    if !audio_available("arabic_speech_round_trip_and_turn_detection") {
        return;
    }
    let _g = SOUND.lock().await;
    let fixture =
        read_wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ar_speech_16k.wav"))
            .expect("fixture");
    let speech: Vec<Frame> = switchboard::audio::frames(&fixture).collect();
    let mut signal = vec![Frame::SILENCE; 25];
    signal.extend(speech.iter().copied());
    signal.extend(std::iter::repeat_n(Frame::SILENCE, 75));
    let record = Duration::from_millis(signal.len() as u64 * 20 + 1000);

    let (devices, mut io) = local_device::open(None, None).expect("open sound devices");
    let cap = play_and_record(
        io.agent_audio.clone(),
        &mut io.customer_audio,
        signal,
        record,
    )
    .await;
    let stats = devices.stats();
    drop(devices);

    let x = samples(&cap.frames);
    // Where the fixture is in the recording: coarse search on 20 ms energy
    // envelopes, then sample-exact normalised cross-correlation around it.
    let env = |v: &[i16]| -> Vec<f64> { v.chunks(FRAME_SAMPLES).map(rms).collect() };
    let (ex, ef) = (env(&x), env(&fixture));
    let coarse = (0..ex.len().saturating_sub(ef.len()))
        .max_by(|&a, &b| {
            let c = |l: usize| ef.iter().zip(&ex[l..]).map(|(p, q)| p * q).sum::<f64>();
            c(a).total_cmp(&c(b))
        })
        .expect("recording longer than the fixture");
    let norm_f = fixture
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum::<f64>()
        .sqrt();
    let lo = (coarse * FRAME_SAMPLES).saturating_sub(FRAME_SAMPLES);
    let hi = (coarse * FRAME_SAMPLES + FRAME_SAMPLES).min(x.len() - fixture.len());
    let (lag, ncc) = (lo..=hi)
        .map(|l| {
            let seg = &x[l..l + fixture.len()];
            let dot: f64 = fixture
                .iter()
                .zip(seg)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            let ns = seg
                .iter()
                .map(|&s| f64::from(s).powi(2))
                .sum::<f64>()
                .sqrt();
            (l, dot / (norm_f * ns).max(1.0))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("lags");

    let mut det = EndOfTurnDetector::new(TurnConfig::default());
    let mut events = Vec::new();
    for (i, f) in cap.frames.iter().enumerate() {
        if let Some(ev) = det.push(&f.frame, false) {
            events.push((i, ev));
        }
    }
    eprintln!(
        "speech: {} frames captured, fixture {} ms found at lag {} ms with normalised cross-correlation {ncc:.3}; \
         turn events {events:?}; stats {stats:?}",
        cap.frames.len(),
        fixture.len() / 16,
        lag / 16
    );
    assert!(
        ncc > 0.8,
        "captured audio does not match the fixture: ncc {ncc:.3}"
    );
    let started = events
        .iter()
        .position(|(_, e)| *e == TurnEvent::SpeechStarted);
    let ended = events
        .iter()
        .position(|(_, e)| matches!(e, TurnEvent::EndOfTurn { .. }));
    assert!(started.is_some(), "no SpeechStarted: {events:?}");
    assert!(
        ended.is_some() && ended > started,
        "no EndOfTurn after start: {events:?}"
    );
    assert_eq!(stats.frames_dropped, 0);
    assert_eq!(stats.stream_errors, 0);
}

/// With no sound server, opening the devices is a clear error, not a panic or
/// a hang. Runs in a child process of this test binary so the environment
/// (a PULSE_SERVER socket that does not exist) is its own.
#[test]
fn no_sound_server_is_a_clear_device_error() {
    if std::env::var_os("SWITCHBOARD_LOCAL_AUDIO_CHILD").is_some() {
        let started = Instant::now();
        match local_device::open(None, None) {
            Ok(_) => panic!("opened sound devices with no sound server"),
            Err(e) => {
                println!(
                    "CHILD-ERROR code={} message={e} after {:?}",
                    e.code(),
                    started.elapsed()
                );
            }
        }
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "no_sound_server_is_a_clear_device_error",
            "--nocapture",
        ])
        .env("SWITCHBOARD_LOCAL_AUDIO_CHILD", "1")
        .env(
            "PULSE_SERVER",
            format!("unix:{}/nonexistent", dir.path().display()),
        )
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("opening devices with no sound server hung for 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("CHILD-ERROR"))
        .expect("child reported an error");
    assert!(
        ["device_unavailable", "no_input_device", "no_output_device"]
            .iter()
            .any(|c| line.contains(&format!("code={c}"))),
        "{line}"
    );
}
